"""A long text is read statement by statement: only what the sniff cannot call plain is
parsed (pglast's Python tree of a 900 kB text held the event loop for seconds)."""

from __future__ import annotations

from typing import Any

import pytest

from skewguard import statements
from skewguard.statements import Kind, read_script

_MIXED = (
    "SELECT 1; SET application_name = 'app@2'; CREATE TABLE t (a int); "
    "select set_config('search_path', 'x', false); BEGIN; "
    "DO $$BEGIN DROP TABLE z; END$$; COMMIT; SELECT 'a;b'; "
    "SELECT 'x\\' || E'\\'';\n-- DROP TABLE y;\nSAVEPOINT s; "
)


def _parsed_lengths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    lengths: list[int] = []
    real = statements.parse_sql  # type: ignore[attr-defined]

    def counting(sql: str) -> tuple[Any, ...]:
        lengths.append(len(sql))
        return real(sql)

    monkeypatch.setattr(statements, "parse_sql", counting)
    return lengths


def test_long_plain_text_builds_no_tree_for_its_plain_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lengths = _parsed_lengths(monkeypatch)
    script = read_script("SELECT 1;" * 100_000)
    assert len(script.statements) == 100_000
    assert all(s.kind is Kind.OTHER for s in script.statements)
    assert lengths == []


def test_long_text_reads_as_its_whole_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _MIXED * 300
    whole = read_script(text)
    monkeypatch.setattr(statements, "SPLIT_ABOVE", 10**9)
    assert read_script(text) == whole
    assert whole.has_ddl and whole.application_name is not None
    assert whole.if_not_standard is not None  # read both ways, split both ways


def test_long_text_parses_only_the_statements_that_must_be_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lengths = _parsed_lengths(monkeypatch)
    script = read_script("SELECT 1;" * 5_000 + "DROP TABLE t;")
    assert script.has_ddl
    assert max(lengths) < 100


def test_long_text_that_does_not_parse_reports_the_error() -> None:
    script = read_script("SELECT 1;" * 5_000 + "DROP TABLE (;")
    assert script.error is not None and "syntax error" in script.error
    assert not script.statements
