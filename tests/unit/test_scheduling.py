"""The suite's xdist work units and the order they are handed out in."""

from __future__ import annotations

from pathlib import Path

from tests.support.scheduling import (
    Table,
    by_unit,
    count_order,
    junit_durations,
    makespan,
    time_order,
    unit_of,
)

GT = "tests/integration/test_ground_truth.py"
GUARD = "tests/integration/test_guard.py"
SMOKE = "tests/integration/test_smoke.py"
STORM = "tests/integration/test_learning_storm.py"


def test_a_file_is_one_unit_and_a_spread_file_one_per_major() -> None:
    assert unit_of(f"{SMOKE}::test_x[pg15]") == SMOKE
    assert unit_of(f"{SMOKE}::test_x[pg18-a]") == SMOKE
    assert unit_of(f"{SMOKE}::TestY::test_z") == SMOKE
    assert unit_of(f"{GUARD}::test_x[pg18-a]") == f"{GUARD}::pg18"
    assert unit_of(f"{STORM}::test_backlog[pg15]") == f"{STORM}::pg15"
    assert unit_of(f"{GT}::test_the_proxy_agrees_with_postgres[pg15-safe-x]") == f"{GT}::pg15"
    assert unit_of(f"{GT}::test_postgres_breaks_what[pg18-break-pg15-y]") == f"{GT}::pg18"
    assert unit_of(f"{GT}::test_the_cases_are_well_formed") == GT


# Six quick units of 5 tests and one slow unit of 3 long tests.
QUICK = {f"s{i}": [1.0] * 5 for i in range(1, 7)}
TESTS = {**QUICK, "slow": [10.0] * 3}
COUNTS = {unit: len(times) for unit, times in TESTS.items()}


def test_by_count_the_slow_unit_is_the_tail() -> None:
    """xdist's order: the quick units first (15 s a worker), then the slow one on
    whichever worker asked first, 30 s alone: 45 s."""
    assert count_order(COUNTS)[-1] == "slow"
    assert makespan(count_order(COUNTS), TESTS, workers=2) == 45.0


def test_by_time_the_slow_unit_starts_first() -> None:
    """The slow unit measured, the quick ones estimated by count: the slow one starts
    first and the quick ones fill the other worker (and the slow one's end): 35 s."""
    table = Table({"slow": 30.0}, per_test=1.0)
    order = time_order(COUNTS, table)
    assert order[0] == "slow"
    assert makespan(order, TESTS, workers=2) == 35.0


def test_a_worker_nearly_out_of_work_is_given_the_next_unit() -> None:
    """As xdist does: a unit of two tests leaves its worker with two pending, so it takes
    a quick unit as well, in any order: 45 s, never the 40 s of the pair alone."""
    tests = {"pair": [20.0, 20.0], "a": [1.0] * 5, "b": [1.0] * 5}
    for order in (["pair", "a", "b"], ["a", "b", "pair"], ["a", "pair", "b"]):
        assert makespan(order, tests, workers=2) == 45.0, order


def test_a_unit_not_in_the_table_counts_its_tests() -> None:
    table = Table({"measured": 7.0}, per_test=2.0)
    assert table.expected("measured", 100) == 7.0
    assert table.expected("new", 3) == 6.0


def test_the_table_is_measured_from_a_junit_report(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    gt = 'classname="tests.integration.test_ground_truth" name="test_x'
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        f'<testcase {gt}[pg15-a]" time="3.0"/>'
        f'<testcase {gt}[pg15-b]" time="1.0"/>'
        f'<testcase {gt}[pg18-a]" time="2.0"/>'
        '<testcase classname="tests.integration.test_smoke.TestY" name="test_z[pg15]" time="2.0"/>'
        "</testsuite></testsuites>"
    )
    durations = junit_durations(report)
    assert f"{SMOKE}::TestY::test_z[pg15]" in durations
    table = Table.measure(durations)
    assert table.seconds == {f"{GT}::pg15": 4.0, f"{GT}::pg18": 2.0, SMOKE: 2.0}
    assert table.per_test == 2.0
    assert by_unit(durations)[f"{GT}::pg15"] == [3.0, 1.0]


def test_the_checked_in_table_loads() -> None:
    table = Table.load()
    assert table.per_test > 0
    assert table.seconds[f"{GUARD}::pg15"] > 0
