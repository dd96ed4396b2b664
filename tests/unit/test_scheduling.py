"""The suite's xdist work units: a file is one unit, ground truth one per major."""

from __future__ import annotations

from tests.support.scheduling import unit_of

GT = "tests/integration/test_ground_truth.py"
GUARD = "tests/integration/test_guard.py"


def test_a_file_is_one_unit_and_ground_truth_one_per_major() -> None:
    assert unit_of(f"{GUARD}::test_x[pg15]") == GUARD
    assert unit_of(f"{GUARD}::test_x[pg18-a]") == GUARD
    assert unit_of(f"{GUARD}::TestY::test_z") == GUARD
    assert unit_of(f"{GT}::test_the_proxy_agrees_with_postgres[pg15-safe-x]") == f"{GT}::pg15"
    assert unit_of(f"{GT}::test_postgres_breaks_what[pg18-break-pg15-y]") == f"{GT}::pg18"
    assert unit_of(f"{GT}::test_the_cases_are_well_formed") == GT
