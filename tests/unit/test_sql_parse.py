"""Parsing a text cannot take the process down, however deep its tree nests.

A regression here is not a failed assertion but a segfault of the test process
(pglast's tree conversion overflowing the C stack), which pytest reports as a crash.
"""

from __future__ import annotations

import pytest
from pglast import ast
from pglast.parser import ParseError

from skewguard.sql_parse import parse_sql
from skewguard.statements import Kind, read_script

#: Far past the ~24,000 levels that overflowed an 8 MiB stack.
DEEP = 60_000


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1" + "+1" * DEEP,
        " UNION ALL ".join(["SELECT 1"] * (DEEP // 2)),
        "SELECT 1" + "::int" * DEEP,
    ],
    ids=["operators", "union", "casts"],
)
def test_left_deep_chains_parse(sql: str) -> None:
    (raw,) = parse_sql(sql)
    assert isinstance(raw.stmt, ast.SelectStmt)


def test_short_and_long_texts_parse_alike() -> None:
    short = "SELECT a FROM t WHERE b = 1"
    long = short + " AND c IN (" + ", ".join(map(str, range(3000))) + ")"
    assert parse_sql(short)[0].stmt.whereClause is not None
    assert len(parse_sql(long)[0].stmt.whereClause.args) == 2


@pytest.mark.parametrize("padding", [0, 10_000])
def test_errors_are_pglasts(padding: int) -> None:
    with pytest.raises(ParseError):
        parse_sql("SELECT " + "1, " * padding + "FROM FROM")


def test_deep_ddl_is_ddl() -> None:
    """The DROP beside a deep CHECK is still seen (the guard then judges or refuses it)."""
    sql = "ALTER TABLE users DROP COLUMN email, ADD CONSTRAINT c CHECK (1" + "+1" * DEEP + " > 0)"
    script = read_script(sql)
    assert script.error is None
    assert [s.kind for s in script.statements] == [Kind.DDL]
