"""Wait until a contract migration is safe: ``check --wait-safe`` and ``POST /api/check?wait=``.

One loop for both: judge, and while protected versions still hold the migration
back, judge again every ``interval`` until ``timeout``. The caller says how to
judge and who holds a judgement back; the loop owns the timing, so the CLI and
the admin API time out, report and give up alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Waited(Generic[R]):
    """The last judgement, and how the wait for it ended."""

    result: R
    held_back_by: tuple[str, ...]  # versions still holding it back (empty: not held back)
    timed_out: bool
    waited: float  # seconds
    rounds: int

    def summary(self) -> dict[str, Any]:
        return {
            "timed_out": self.timed_out,
            "held_back_by": list(self.held_back_by),
            "waited_seconds": round(self.waited, 3),
            "rounds": self.rounds,
        }


async def wait_until_safe(
    judge: Callable[[], Awaitable[R]],
    holders: Callable[[R], Sequence[str] | None],
    *,
    timeout: float,
    interval: float,
    progress: Callable[[Sequence[str]], None] | None = None,
) -> Waited[R]:
    """Judge until ``holders`` of the judgement is None (safe, or nothing to wait for).

    ``holders`` names the versions a judgement is held back by, or None when
    waiting longer cannot change it. Gives up once another round would pass
    ``timeout``: the judgement is then the last one, with ``timed_out`` set.
    Cancelling the awaiting task ends the wait at once.
    """
    start = time.monotonic()
    deadline = start + timeout
    rounds = 0
    while True:
        result = await judge()
        rounds += 1
        held = holders(result)
        if held is None:
            return Waited(result, (), False, time.monotonic() - start, rounds)
        if time.monotonic() + interval > deadline:
            return Waited(result, tuple(held), True, time.monotonic() - start, rounds)
        if progress is not None:
            progress(held)
        await asyncio.sleep(interval)


def breaking_versions(findings: Sequence[dict[str, Any]]) -> dict[str, int]:
    """``app@version`` → number of breaking findings, from a decision's JSON findings."""
    counts: dict[str, int] = {}
    for finding in findings:
        owner = finding.get("version")
        if finding.get("severity") == "break" and owner:
            name = f"{owner['app']}@{owner['version']}"
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))
