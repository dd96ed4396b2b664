"""Work units for ``pytest -n 2 --dist loadfile`` (the Makefile's): a test file runs whole
on one worker (its module fixtures are set up once), except that each PostgreSQL major of
a file in :data:`SPREAD_MAJORS` is a unit of its own, so its two halves can run on both
workers at once.

xdist hands out units in a fixed order, each to the next worker that is nearly out of
work. Its own order is by test count, so a slow file of two long tests started near the
end and was the run's idle tail. Here the order is by expected seconds: measured ones from
``unit_seconds.json``, next to this module, and for a unit it does not list, its test count
times the measured run's mean seconds per test. Refresh the table after a full run
(``make test`` writes ``.skewguard/test-times.xml``)::

    .venv/bin/python -m tests.support.scheduling refresh .skewguard/test-times.xml
    .venv/bin/python -m tests.support.scheduling simulate .skewguard/test-times.xml

(``--dist loadgroup`` with ``xdist_group`` marks would say the same, but xdist 3.8 writes
the group into ``item._nodeid``, which pytest 9 no longer reads.)
"""

from __future__ import annotations

import heapq
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xdist.scheduler import LoadFileScheduling

#: Files whose majors may run on different workers: their per-major halves share nothing
#: (clusters and shared proxies are per major and per worker; their module fixtures take a
#: ``cluster``, so each major has its own). The slowest files, so that no single one is
#: the tail of a run.
SPREAD_MAJORS = frozenset(
    f"tests/integration/{name}.py"
    for name in (
        "test_ground_truth",
        "test_guard",
        "test_check_replay",
        "test_in_transaction_probe",
        "test_replay",
        "test_rolling_deploy",
        "test_learning_storm",
        "test_ready",
        "test_migration_runners",
    )
)

#: The ``cluster`` fixture's id leads a parametrized test's id: ``test_x[pg15-case]``.
_MAJOR = re.compile(r"\[(pg\d+)[-\]]")

TABLE_PATH = Path(__file__).with_name("unit_seconds.json")

#: xdist gives a worker its next unit once this few of its tests are left (loadscope.py).
REFILL_AT = 2


def unit_of(nodeid: str) -> str:
    """The work unit of a test: its file, and its major for a file in SPREAD_MAJORS."""
    path, _, test = nodeid.partition("::")
    major = _MAJOR.search(test) if path in SPREAD_MAJORS else None
    return f"{path}::{major.group(1)}" if major else path


@dataclass(frozen=True)
class Table:
    """Measured seconds per work unit, and the mean seconds per test of that run."""

    seconds: Mapping[str, float]
    per_test: float

    @classmethod
    def load(cls, path: Path = TABLE_PATH) -> Table:
        """The checked-in table; an empty one (count order) if it is missing or unreadable."""
        try:
            data = json.loads(path.read_text())
            return cls(dict(data["seconds"]), float(data["per_test"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls({}, 1.0)

    @classmethod
    def measure(cls, durations: Mapping[str, float]) -> Table:
        """The table of a run's per-test seconds (test id -> seconds)."""
        seconds: dict[str, float] = defaultdict(float)
        for nodeid, spent in durations.items():
            seconds[unit_of(nodeid)] += spent
        total = sum(durations.values())
        return cls(
            {unit: round(spent, 1) for unit, spent in sorted(seconds.items())},
            round(total / len(durations), 3) if durations else 1.0,
        )

    def expected(self, unit: str, tests: int) -> float:
        """The unit's measured seconds, else its test count times the mean per test."""
        return self.seconds.get(unit, tests * self.per_test)


def count_order(counts: Mapping[str, int]) -> list[str]:
    """xdist's own order: most tests first (ties keep collection order)."""
    return sorted(counts, key=lambda unit: -counts[unit])


def time_order(counts: Mapping[str, int], table: Table) -> list[str]:
    """Longest expected time first (ties: most tests, then collection order)."""
    return sorted(counts, key=lambda unit: (-table.expected(unit, counts[unit]), -counts[unit]))


def makespan(order: Sequence[str], tests: Mapping[str, Sequence[float]], workers: int) -> float:
    """When the last test ends if xdist's loadscope hands out ``order`` to ``workers``:
    each worker starts with one unit, then is given the next whenever only REFILL_AT or
    fewer of its tests are left (at the start too), and runs its tests in turn."""
    queue = list(reversed(order))
    pending: list[list[float]] = [[] for _ in range(workers)]

    def refill(worker: int) -> None:
        if queue and len(pending[worker]) <= REFILL_AT:
            pending[worker] += tests[queue.pop()]

    for worker in range(workers):
        if queue:
            pending[worker] += tests[queue.pop()]
    for worker in range(workers):
        refill(worker)
    # Each running worker's next test completion: (time it ends, worker).
    ends = [(pending[w].pop(0), w) for w in range(workers) if pending[w]]
    heapq.heapify(ends)
    last = 0.0
    while ends:
        now, worker = heapq.heappop(ends)
        last = now
        refill(worker)
        if pending[worker]:
            heapq.heappush(ends, (now + pending[worker].pop(0), worker))
    return last


def junit_durations(path: Path) -> dict[str, float]:
    """Test id -> seconds (setup, call and teardown) from a ``--junitxml`` report."""
    durations: dict[str, float] = {}
    for case in ET.parse(path).iter("testcase"):
        parts = case.get("classname", "").split(".")
        module = next((i for i, part in enumerate(parts) if part.startswith("test_")), None)
        if module is None:
            continue
        path_part = "/".join(parts[: module + 1]) + ".py"
        nodeid = "::".join([path_part, *parts[module + 1 :], case.get("name", "")])
        durations[nodeid] = float(case.get("time", "0"))
    return durations


def by_unit(durations: Mapping[str, float]) -> dict[str, list[float]]:
    """Each unit's tests' seconds, in the report's order."""
    units: dict[str, list[float]] = defaultdict(list)
    for nodeid, spent in durations.items():
        units[unit_of(nodeid)].append(spent)
    return dict(units)


class SpreadMajors(LoadFileScheduling):  # type: ignore[misc]  # xdist has no type hints
    """``loadfile``, with the files in :data:`SPREAD_MAJORS` split by major and the units
    handed out longest expected time first."""

    def __init__(self, config: object, log: object = None) -> None:
        super().__init__(config, log)
        self._table = Table.load()
        self._ordered = False

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _assign_work_unit(self, node: object) -> None:
        # xdist fills ``workqueue`` in count order just before its first assignment.
        if not self._ordered:
            self._ordered = True
            counts = {unit: len(tests) for unit, tests in self.workqueue.items()}
            for unit in time_order(counts, self._table):
                self.workqueue.move_to_end(unit)
        super()._assign_work_unit(node)


def main(argv: Sequence[str]) -> int:
    """``refresh REPORT.xml`` rewrites the table; ``simulate REPORT.xml`` compares orders."""
    if len(argv) != 2 or argv[0] not in ("refresh", "simulate"):
        print("usage: python -m tests.support.scheduling refresh|simulate JUNIT.xml")
        return 2
    durations = junit_durations(Path(argv[1]))
    if argv[0] == "refresh":
        table = Table.measure(durations)
        text = json.dumps({"per_test": table.per_test, "seconds": table.seconds}, indent=1)
        TABLE_PATH.write_text(text + "\n")
        print(f"{TABLE_PATH}: {len(table.seconds)} units from {len(durations)} tests")
        return 0
    tests = by_unit(durations)
    counts = {unit: len(times) for unit, times in tests.items()}
    table = Table.load()
    for name, order in (("count", count_order(counts)), ("time", time_order(counts, table))):
        print(f"{name} order: makespan {makespan(order, tests, 2):.0f} s on 2 workers")
    print(f"sum {sum(map(sum, tests.values())):.0f} s, {len(tests)} units")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
