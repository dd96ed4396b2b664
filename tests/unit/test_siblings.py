"""The workers' datagram channel (siblings.py), two ends in one event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

from skewguard.siblings import Siblings


def no_held(pid: int, key: bytes) -> Callable[[], object] | None:
    return None


def none_known(pid: int, key: bytes) -> bool:
    return False


async def test_a_decision_waits_for_the_other_workers_flush(tmp_path: Path) -> None:
    flushed: list[str] = []

    async def flush(database: str, deadline: float) -> bool:
        await asyncio.sleep(0.05)
        flushed.append(database)
        return True

    asker = Siblings(str(tmp_path), "0", flush, no_held, known=none_known)
    other = Siblings(str(tmp_path), "1", flush, no_held, known=none_known)
    await asker.start()
    await other.start()
    try:
        assert await asker.ask("shop", within=10, budget=5) == set()
        assert flushed == ["shop"]  # the other's flush, before the answer
    finally:
        await asker.close()
        await other.close()


async def test_a_slow_worker_is_named_and_a_dead_one_skipped(tmp_path: Path) -> None:
    async def stuck(database: str, deadline: float) -> bool:
        await asyncio.sleep(10)
        return True

    asker = Siblings(str(tmp_path), "0", None, no_held, known=none_known)
    slow = Siblings(str(tmp_path), "1", stuck, no_held, known=none_known)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(tmp_path / "peer-2.sock"))
    dead.close()  # its file stays, as a killed worker's does
    await asker.start()
    await slow.start()
    try:
        assert await asker.ask("shop", within=10, budget=0.2) == {"1"}
    finally:
        await asker.close()
        await slow.close()


async def test_a_cancel_fails_the_held_statement_only_when_fired(tmp_path: Path) -> None:
    failed: list[tuple[int, bytes]] = []

    def held(pid: int, key: bytes) -> Callable[[], object] | None:
        if pid != 42:
            return None
        return lambda: failed.append((pid, key))

    accepting = Siblings(str(tmp_path), "0", None, no_held, known=none_known)
    holding = Siblings(str(tmp_path), "1", None, held, known=lambda pid, key: pid in (7, 42))
    await accepting.start()
    await holding.start()
    try:
        request = await accepting.mark_cancel(42, b"\x01\x02", budget=5)
        other = await accepting.mark_cancel(7, b"\x03", budget=5)
        assert request is not None and other is not None
        await asyncio.sleep(0.05)
        assert failed == []  # PostgreSQL has not taken the cancel yet
        accepting.fire_cancel(other)
        accepting.fire_cancel(request)
        await asyncio.sleep(0.05)
        assert failed == [(42, b"\x01\x02")]
    finally:
        await accepting.close()
        await holding.close()


async def test_a_cancel_key_no_worker_holds_is_answered_at_once(tmp_path: Path) -> None:
    """Every other worker says the key is not one of its sessions': no wait for the budget."""
    accepting = Siblings(str(tmp_path), "0", None, no_held, known=none_known)
    others = [Siblings(str(tmp_path), str(i), None, no_held, known=none_known) for i in (1, 2)]
    for end in (accepting, *others):
        await end.start()
    try:
        started = asyncio.get_running_loop().time()
        assert await accepting.mark_cancel(42, b"\x01\x02\x03\x04", budget=30) is None
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        for end in (accepting, *others):
            await end.close()
