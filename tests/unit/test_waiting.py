"""The wait-until-safe loop shared by ``check --wait-safe`` and ``POST /api/check?wait=``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from skewguard.waiting import breaking_versions, wait_until_safe

Judge = Callable[[], Awaitable[Sequence[str] | None]]


def _judgements(*held: Sequence[str] | None) -> tuple[list[int], Judge]:
    asked: list[int] = []

    async def judge() -> Sequence[str] | None:
        asked.append(1)
        return held[min(len(asked), len(held)) - 1]

    return asked, judge


def test_returns_at_the_first_judgement_nothing_holds_back() -> None:
    asked, judge = _judgements(["shop@1"], ["shop@1"], None)
    seen: list[Sequence[str]] = []
    waited = asyncio.run(
        wait_until_safe(judge, _same, timeout=5, interval=0.01, progress=seen.append)
    )
    assert (waited.timed_out, waited.held_back_by, waited.rounds) == (False, (), 3)
    assert seen == [["shop@1"], ["shop@1"]] and len(asked) == 3


def test_gives_up_before_a_round_would_pass_the_timeout() -> None:
    _, judge = _judgements(["shop@1", "shop@2"])
    # wide margins: a loaded machine oversleeps, the bound must still hold
    waited = asyncio.run(wait_until_safe(judge, _same, timeout=1.0, interval=0.3))
    assert waited.timed_out and waited.held_back_by == ("shop@1", "shop@2")
    assert 2 <= waited.rounds <= 4 and waited.waited < 1.0
    assert waited.summary()["held_back_by"] == ["shop@1", "shop@2"]


def test_no_timeout_means_one_judgement() -> None:
    asked, judge = _judgements(["shop@1"])
    waited = asyncio.run(wait_until_safe(judge, _same, timeout=0, interval=1))
    assert waited.timed_out and len(asked) == 1


def test_cancelling_ends_the_wait() -> None:
    _, judge = _judgements(["shop@1"])

    async def scenario() -> None:
        task = asyncio.ensure_future(wait_until_safe(judge, _same, timeout=60, interval=0.01))
        await asyncio.sleep(0.05)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(scenario())


def test_breaking_versions_counts_breaks_by_version() -> None:
    findings: list[dict[str, Any]] = [
        {"severity": "break", "version": {"app": "shop", "version": "1"}},
        {"severity": "break", "version": {"app": "shop", "version": "1"}},
        {"severity": "risk", "version": {"app": "shop", "version": "2"}},
        {"severity": "break", "version": None},
        {"severity": "break", "version": {"app": "api", "version": "7"}},
    ]
    assert breaking_versions(findings) == {"api@7": 1, "shop@1": 2}


def _same(held: Sequence[str] | None) -> Sequence[str] | None:
    return held
