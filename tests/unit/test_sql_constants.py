"""Strings an EXECUTE builds from constants: computed exactly, or not at all."""

from __future__ import annotations

import pytest

from skewguard.sql_constants import constant_value
from skewguard.statements import Kind, read_script

#: (expression, what it computes to); PostgreSQL's own answers are checked in
#: tests/integration/test_sql_constants.py
COMPUTED = [
    ("'DROP VIEW v'", "DROP VIEW v"),
    ("'DROP VIEW ' || 'v'", "DROP VIEW v"),
    ("format('ALTER TABLE %I DROP COLUMN %I', 'orders', 'note')",
     'ALTER TABLE "orders" DROP COLUMN "note"'),
    ("format('%2$s %1$I %s', 'a', 'b')", 'b "a" b'),
    ("format('100%% of %s', 1)", "100% of 1"),
    ("pg_catalog.format('%L', 'it''s')", "E'it''s'"),
    ("quote_ident('Or\"d') || '.' || quote_literal('x\\y')", "\"Or\"\"d\".E'x\\\\y'"),
]  # fmt: skip

NOT_CONSTANT = [
    "format('%s', tbl)",  # a PL/pgSQL variable
    "format('%-5s', 'x')",  # a width: not computed here
    "format('%s %s', 'a')",  # too few arguments: PostgreSQL raises
    "format('%s', NULL)",
    "'x'::text",
    "upper('drop view v')",
    "my.format('%s', 'a')",  # someone else's format
    "'a' || b",
    "'a' AS label",
    "",
    "1; DROP TABLE t",
]


@pytest.mark.parametrize(("expression", "value"), COMPUTED)
def test_a_string_built_of_constants_is_computed(expression: str, value: str) -> None:
    assert constant_value(expression) == value


@pytest.mark.parametrize("expression", NOT_CONSTANT)
def test_anything_computed_at_run_time_is_not_a_constant(expression: str) -> None:
    assert constant_value(expression) is None


def test_a_deep_expression_is_not_computed() -> None:
    assert constant_value(" || ".join(["'a'"] * 200)) is None
    assert constant_value(" || ".join(["'a'"] * 20)) == "a" * 20


@pytest.mark.parametrize(
    ("block", "texts"),
    [
        (
            "DO $$ BEGIN EXECUTE format('ALTER TABLE %I DROP COLUMN %I', 'orders', 'note'); END $$",
            ['ALTER TABLE "orders" DROP COLUMN "note"'],
        ),
        ("DO $$ BEGIN EXECUTE 'DROP VIEW ' || quote_ident('v'); END $$", ['DROP VIEW "v"']),
        (
            "DO $$ DECLARE t text := 'orders'; BEGIN EXECUTE format('DROP TABLE %I', t); END $$",
            None,
        ),
        ("DO $$ BEGIN EXECUTE format('DROP %s', 'TABLE'); END $$", None),  # not SQL
    ],
)
def test_a_do_block_executing_a_built_string_is_read(block: str, texts: list[str] | None) -> None:
    statements = read_script(block).statements
    if texts is None:
        assert [s.kind for s in statements] == [Kind.OPAQUE]
    else:
        assert [(s.kind, s.text) for s in statements] == [(Kind.DDL, t) for t in texts]
