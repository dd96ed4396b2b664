"""bench.node_clients' reading of the Node.js suites' output and test files."""

from __future__ import annotations

from pathlib import Path

from bench.node_clients import node_postgres_files, parse_postgres_js


def test_postgres_js_failures_are_named_and_passes_counted() -> None:
    output = (
        "✅✅✅⛔️ Connect using SSL at line 120 failed \n Error: boom\n"
        "⛔️ Cancel query at line 130 never finished \n"
        "⚠️ 1 ignored test\n"
    )
    outcomes = parse_postgres_js(output)
    assert outcomes["line 120: Connect using SSL"] == "failed"
    assert outcomes["line 130: Cancel query"] == "not finished"
    assert sum(1 for outcome in outcomes.values() if outcome == "passed") == 3


def test_postgres_js_a_clean_run_has_only_passes() -> None:
    assert set(parse_postgres_js("✅✅\n🎉\n").values()) == {"passed"}


def test_node_postgres_files_are_unit_and_integration_tests_only(tmp_path: Path) -> None:
    for name in (
        "test/unit/client/a-tests.js",
        "test/integration/b/c-tests.js",
        "test/integration/test-helper.js",
        "test/native/d-tests.js",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert node_postgres_files(tmp_path) == [
        "test/integration/b/c-tests.js",
        "test/unit/client/a-tests.js",
    ]
