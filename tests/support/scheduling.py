"""Work units for ``pytest -n 2 --dist loadfile`` (the Makefile's): a test file runs whole
on one worker (its module fixtures are set up once), except that each PostgreSQL major of
a file in :data:`SPREAD_MAJORS` is a unit of its own, so its two halves can run on both
workers at once. xdist hands out the biggest units first: ground truth's two halves, each
most of a worker's run, start together instead of one file being the run's tail.

(``--dist loadgroup`` with ``xdist_group`` marks would say the same, but xdist 3.8 writes
the group into ``item._nodeid``, which pytest 9 no longer reads.)
"""

from __future__ import annotations

import re

from xdist.scheduler import LoadFileScheduling

#: Files whose majors may run on different workers: their per-major halves share nothing
#: (each has its own module fixtures, clusters and proxies are per major).
SPREAD_MAJORS = frozenset({"tests/integration/test_ground_truth.py"})

#: The ``cluster`` fixture's id leads a parametrized test's id: ``test_x[pg15-case]``.
_MAJOR = re.compile(r"\[(pg\d+)[-\]]")


def unit_of(nodeid: str) -> str:
    """The work unit of a test: its file, and its major for a file in SPREAD_MAJORS."""
    path, _, test = nodeid.partition("::")
    major = _MAJOR.search(test) if path in SPREAD_MAJORS else None
    return f"{path}::{major.group(1)}" if major else path


class SpreadMajors(LoadFileScheduling):  # type: ignore[misc]  # xdist has no type hints
    """``loadfile``, with the files in :data:`SPREAD_MAJORS` split by major."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)
