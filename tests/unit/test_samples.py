"""Samples keep the statement's shape: every literal PostgreSQL's lexer sees is replaced."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from skewguard.analysis import Facet, FacetKind
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.samples import SCAN_LIMIT, UNREADABLE, change_shape, sample_shape

SECRET = "zz-secret-4711"


@pytest.mark.parametrize(
    ("sql", "shape"),
    [
        (
            f"SELECT id FROM users WHERE email = '{SECRET}'",
            "SELECT id FROM users WHERE email = '?'",
        ),
        ("SELECT 42, 4.2, 1e9, -7", "SELECT 0, 0.0, 0.0, -0"),
        (f"SELECT E'{SECRET}\\'s'", "SELECT '?'"),  # an escaped quote does not end the string
        (f"SELECT $${SECRET}$$, $t${SECRET}$t$", "SELECT '?', '?'"),
        (f"SELECT U&'{SECRET}', N'{SECRET}'", "SELECT '?', N'?'"),
        ("SELECT B'1010', X'1F'", "SELECT B'0', X'0'"),
        (f"SELECT '{SECRET}'::date, interval '1 day'", "SELECT '?'::date, interval '?'"),
        (f"SELECT 1 /* {SECRET} */ -- {SECRET}\n FROM t", "SELECT 0 FROM t"),
        ('SELECT "Mixed Case" FROM t WHERE a = $1', 'SELECT "Mixed Case" FROM t WHERE a = $1'),
        (f"INSERT INTO t (a, b) VALUES ('{SECRET}', 3)", "INSERT INTO t (a, b) VALUES ('?', 0)"),
        ("connected as app_rw", "connected as app_rw"),
    ],
)
def test_literals_become_placeholders(sql: str, shape: str) -> None:
    assert sample_shape(sql) == shape
    assert SECRET not in sample_shape(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT price(3), price('x'), now() - interval '2 days' FROM t"
        " WHERE d > '2020-01-01'::date",
        "INSERT INTO t SELECT * FROM s WHERE x IN (1, 2.5, 'a') RETURNING *",
    ],
)
def test_a_shape_still_parses(sql: str) -> None:
    parse_sql(sample_shape(sql))  # rules analyse samples again


def test_a_text_cut_inside_a_literal_keeps_what_came_before() -> None:
    assert sample_shape(f"SELECT a FROM t WHERE b = '{SECRET}") == "SELECT a FROM t WHERE b = ..."
    long = f"SELECT '{'x' * SCAN_LIMIT}{SECRET}'"
    assert sample_shape(long) == "SELECT ..."
    assert sample_shape(f'SELECT "{SECRET}') == "SELECT ..."


def test_unreadable_text_is_not_shown() -> None:
    assert sample_shape(f"'{SECRET}") == UNREADABLE


def test_batches_keep_shapes_unless_told_to_keep_literals() -> None:
    key = VersionKey("db", "shop", "1")
    facet = frozenset({Facet(FacetKind.RELATION_READ, "public.users")})
    sql = f"SELECT * FROM users WHERE email = '{SECRET}'"
    shaped, kept = FootprintBatch(), FootprintBatch(keep_literals=True)
    for batch in (shaped, kept):
        batch.record(key, facet, 1, 1.0, sql)
    assert [e.sample for e in shaped.facets[key].values()] == [sample_shape(sql)]
    assert [e.sample for e in kept.facets[key].values()] == [sql]


def test_a_changes_expressions_are_shown_as_shapes() -> None:
    """A constraint's definition, a dropped default, an index's predicate and keys are the
    migration's SQL: their literals are placeholders too; names and types stay."""
    assert change_shape(
        {"kind": "AddConstraint", "subject": "public.t.ck", "new": "CHECK (a <> 'secret')"}
    ) == {"kind": "AddConstraint", "subject": "public.t.ck", "new": "CHECK (a <> '?')"}
    assert change_shape({"kind": "DropDefault", "old": "'secret'::text"})["old"] == "'?'::text"
    index = {"kind": "CreateIndex", "detail": "(a > 42)", "columns": ["a", "(b || 'x')"]}
    assert change_shape(index) == {
        "kind": "CreateIndex",
        "detail": "(a > 0)",
        "columns": ["a", "(b || '?')"],
    }
    kept = {"kind": "AlterColumnType", "old": "character varying(120)", "new": "text"}
    assert change_shape(kept) == kept
