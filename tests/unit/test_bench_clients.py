"""bench.clients' verdict on a test whose outcome through the proxy differed."""

from __future__ import annotations

import pytest

from bench.clients import NOT_RUN, NOT_RUN_AGAIN, verdict


@pytest.mark.parametrize(
    ("direct", "floor", "proxy", "expected"),
    [
        ("passed", "passed", "passed", "flaky"),  # alone it agrees: timing or order
        ("passed", "failed", "failed", "hop"),  # the bare relay differs too
        ("passed", "passed", "failed", None),  # only skewguard differs: try again
        # a side that did not run the test says nothing, however the others came out
        (NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN_AGAIN),
        ("passed", "passed", NOT_RUN, NOT_RUN_AGAIN),
        (NOT_RUN, "failed", "failed", NOT_RUN_AGAIN),
        ("passed", NOT_RUN, "passed", NOT_RUN_AGAIN),
    ],
)
def test_verdict(direct: str, floor: str, proxy: str, expected: str | None) -> None:
    assert verdict({"direct": direct, "floor": floor, "proxy": proxy}) == expected


def test_a_refusal_alone_is_the_guard() -> None:
    """Alone through the proxy the test failed on skewguard's refusal: the guard's
    doing, unless the direct run failed the same way."""
    failed = {"direct": "passed", "floor": "passed", "proxy": "failed"}
    assert verdict(failed, refused=True) == "guard"
    assert verdict({**failed, "direct": "failed"}, refused=True) == "flaky"
    assert verdict({**failed, "proxy": NOT_RUN}, refused=True) == NOT_RUN_AGAIN
