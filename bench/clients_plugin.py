"""A pytest plugin loaded into third-party client test suites by ``bench.clients``.

It runs inside the client suite's own virtualenv, so it imports nothing from
skewguard. It writes one JSON line per test (node id, outcome, whether it failed
on an error skewguard raised) to the file named by ``SKEWGUARD_CLIENTS_RESULTS``;
with ``SKEWGUARD_CLIENTS_TAG`` set it also tags asyncpg connections, which do not
read ``PGAPPNAME`` as libpq clients do.
"""

from __future__ import annotations

import json
import os
from typing import Any

RESULTS = os.environ.get("SKEWGUARD_CLIENTS_RESULTS")
TAG = os.environ.get("SKEWGUARD_CLIENTS_TAG")

#: The outcome that wins when one test reports several phases (setup, call, teardown).
RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}

#: What skewguard's own refusals start with (``skewguard: dropping table ... would break``).
GUARD_WORDS = "skewguard: "

_outcomes: dict[str, str] = {}
_refused: set[str] = set()  # tests that failed on an error skewguard raised


def _tag_asyncpg(tag: str) -> None:
    """Give every asyncpg connection ``application_name=tag`` unless the test sets one."""
    try:
        from asyncpg import connect_utils
    except ImportError:
        return
    parse = connect_utils._parse_connect_arguments  # type: ignore[attr-defined]

    def tagged(**kwargs: Any) -> Any:
        settings = dict(kwargs.get("server_settings") or {})
        settings.setdefault("application_name", tag)
        kwargs["server_settings"] = settings
        return parse(**kwargs)

    connect_utils._parse_connect_arguments = tagged  # type: ignore[attr-defined]


if TAG:
    _tag_asyncpg(TAG)


def pytest_runtest_logreport(report: Any) -> None:
    """Keep the worst phase's outcome; write the test's line once its teardown is done.

    Written as the run goes, so a suite killed on a hang still leaves what it ran.
    """
    if report.when == "call" or report.failed or report.skipped:
        outcome = "error" if report.failed and report.when != "call" else report.outcome
        previous = _outcomes.get(report.nodeid)
        if previous is None or RANK[outcome] > RANK[previous]:
            _outcomes[report.nodeid] = outcome
        if report.failed and GUARD_WORDS in str(report.longrepr):
            _refused.add(report.nodeid)
    if report.when == "teardown" and RESULTS:
        line = {
            "test": report.nodeid,
            "outcome": _outcomes.pop(report.nodeid, "passed"),
            "guard": report.nodeid in _refused,
        }
        _refused.discard(report.nodeid)
        with open(RESULTS, "a") as out:
            out.write(json.dumps(line) + "\n")
