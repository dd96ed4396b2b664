"""Type expressions of held outputs (analysis.derived) against what PostgreSQL resolves.

Each expected type was read on PostgreSQL 15 and 18 (a view's column over ``t(a, b, n)``,
format_type with its collation); a held prepared statement fails with 0A000 exactly when
it differs before and after a retype.
"""

from __future__ import annotations

from typing import Any

import pglast
import pytest
from pglast import ast

from skewguard.analysis.derived import (
    TypeExpr,
    decode,
    derived,
    encode,
    result_type,
    result_type_changes,
)


def trees(expr: str) -> list[TypeExpr]:
    stmt: Any = pglast.parse_sql(f"SELECT {expr} FROM t")[0].stmt
    node = stmt.targetList[0].val

    def leaf(n: Any) -> list[TypeExpr]:
        if not isinstance(n, ast.ColumnRef):
            return []
        fields: Any = n.fields
        return [f"public.t.{fields[-1].sval}"]

    return derived(node, leaf)


def typed(expr: str, a: str, b: str = "integer") -> str | None:
    (tree,) = trees(expr)
    types = {"public.t.a": a, "public.t.b": b}
    return result_type(tree, types.get)


VC40, VC10 = "character varying(40)", "character varying(10)"

RESOLVED = [
    # arithmetic of two columns: the wider integer, numeric over integers, floats win
    ("a + b", "integer", "bigint", "bigint"),
    ("a + b", "bigint", "bigint", "bigint"),
    ("a * b", "smallint", "smallint", "smallint"),
    ("a - b", "numeric(10,2)", "integer", "numeric"),
    ("a / b", "real", "real", "real"),
    ("a + b", "real", "integer", "double precision"),
    ("a + b", "real", "numeric", "double precision"),
    ("a % b", "real", "integer", None),  # no such operator: unknown
    ("a + b + 1", "smallint", "smallint", "integer"),
    ("sum(a) + b", "integer", "integer", "bigint"),
    ("sum(a * b)", "integer", "bigint", "numeric"),
    ("avg(a + b)", "real", "real", "double precision"),
    ("abs(a - b)", "smallint", "smallint", "smallint"),
    ("max(a) - min(b)", "numeric(10,2)", "numeric(10,2)", "numeric"),
    # the common type: the later in the implicit-cast order, real over numeric
    ("coalesce(a, b)", "integer", "bigint", "bigint"),
    ("coalesce(a, b)", "numeric", "real", "real"),
    ("greatest(a, b)", "bigint", "double precision", "double precision"),
    ("least(a, b, 0)", "smallint", "smallint", "integer"),
    ("coalesce(sum(a), b)", "integer", "integer", "bigint"),
    # with a numeric constant, or one too long for int4
    ("coalesce(a, 0.5)", "integer", "integer", "numeric"),
    ("coalesce(a, 0.5)", "real", "integer", "real"),
    ("coalesce(a, 10000000000)", "integer", "integer", "bigint"),
    ("case when n > 0 then a else 0.5 end", "bigint", "integer", "numeric"),
    ("coalesce(a, 1::bigint)", "smallint", "integer", "bigint"),
    ("coalesce(a, b::bigint)", "smallint", "text", "bigint"),
    ("a + count(*)", "numeric", "integer", "numeric"),
    ("a + count(b) over ()", "integer", "integer", "bigint"),
    ("a * 2.5", "real", "integer", "double precision"),
    # typmods survive only when every input has the same type and typmod
    ("coalesce(a, b)", VC40, VC40, VC40),
    ("coalesce(a, b)", VC40, VC10, "character varying"),
    ("coalesce(a, b, 'x')", VC40, VC40, "character varying"),
    ("coalesce(a, b)", "numeric(10,2)", "numeric(10,2)", "numeric(10,2)"),
    # strings: order decides between types that cast both ways; text is preferred
    ("coalesce(a, b)", VC10, "text", "character varying"),
    ("coalesce(b, a)", VC10, "text", "text"),
    ("case when n > 0 then a else b end", VC10, "text", "text"),  # the ELSE first
    ("case when n > 0 then a else b end", "text", VC10, "character varying"),
    ("coalesce(a, b)", "character(5)", VC10, "character"),
    ("coalesce(a, b)", 'text COLLATE "C"', "text", 'text COLLATE "C"'),
    ("coalesce(a, b)", "text", "name", None),  # name's own collation: not modelled
    # NULLIF: the left side as its = operator takes it
    ("nullif(a, 'x')", VC40, "integer", "text"),
    ("nullif(a, 'x')", "character(5)", "integer", "character(5)"),
    ("nullif(a, 0)", "numeric(10,2)", "integer", "numeric(10,2)"),
    ("nullif(a, b)", "smallint", "bigint", "smallint"),
    ("nullif(a, 1.5)", "integer", "integer", "numeric"),
    ("nullif(a, 1.5)", "real", "integer", None),
    # outside the categories: the same type passes, mixes are unknown
    ("coalesce(a, b)", "date", "date", "date"),
    ("coalesce(a, b)", "date", "timestamp without time zone", "timestamp without time zone"),
    (
        "greatest(a, b)",
        "timestamp with time zone",
        "timestamp without time zone",
        "timestamp with time zone",
    ),
    ("coalesce(a, b)", "date", "interval", None),
    ("a - b", "date", "date", None),
]


@pytest.mark.parametrize(("expr", "a", "b", "expected"), RESOLVED)
def test_result_type_as_postgres_resolves_it(
    expr: str, a: str, b: str, expected: str | None
) -> None:
    assert typed(expr, a, b) == expected


@pytest.mark.parametrize(
    "expr",
    [
        "count(*)",
        "a::text",
        "a > b",
        "a || b",
        "lower(a)",
        "1 + 2",
        "coalesce(a, f(b))",
        "a",
        "a::int + b::int",
        "coalesce(a, b::varchar(3))",
    ],
)
def test_outputs_with_a_type_of_their_own_have_no_expression(expr: str) -> None:
    assert trees(expr) == []


CHANGES = [
    # (expression, a before, a after, b, result type changes)
    ("a + b", "integer", "bigint", "bigint", False),
    ("a + b", "integer", "bigint", "integer", True),
    ("coalesce(a, b)", "bigint", "integer", "bigint", False),
    ("coalesce(a, b)", "bigint", "numeric", "bigint", True),
    ("coalesce(a, b)", VC40, VC10, VC40, True),
    ("coalesce(a, b, 'x')", VC40, VC10, VC40, False),
    ("greatest(a, b)", "smallint", "integer", "double precision", False),
    ("coalesce(a, 0.5)", "numeric(10,2)", "integer", "integer", False),
    ("coalesce(a, 0.5)", "real", "integer", "integer", True),
    ("case when n > 0 then a else b end", "text", VC10, "text", False),
    ("case when n > 0 then b else a end", "text", VC10, "text", True),
    ("a - b", "timestamp without time zone", "timestamp with time zone", "date", True),
    ("nullif(a, 0)", "numeric(10,2)", "numeric(12,2)", "integer", True),
]


@pytest.mark.parametrize(("expr", "old", "new", "b", "changes"), CHANGES)
def test_result_type_changes_with_the_other_columns(
    expr: str, old: str, new: str, b: str, changes: bool
) -> None:
    (tree,) = trees(expr)
    others = {"public.t.b": b}
    got = result_type_changes(tree, "public.t.a", old, new, lambda c, _after: others.get(c))
    assert got is changes


def test_both_columns_changed_together_are_judged_together() -> None:
    """int8 + int8 stays an int8 when either goes to int4 alone, not when both do."""
    (tree,) = trees("a + b")
    after = {False: "bigint", True: "integer"}
    assert result_type_changes(tree, "public.t.a", "bigint", "integer", lambda c, x: after[x])
    assert not result_type_changes(tree, "public.t.a", "bigint", "integer", lambda c, x: "bigint")


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("coalesce(sum(a), 0)", "sum,mix_int"),
        ("a * 2.5", "op_num"),
        ("-a + 1", "same,op_int"),
        ("coalesce(a, '')", "same"),
        ("a + b", "=add(public.t.a;public.t.b)"),
        ("case when n > 0 then a else 0.5 end", "=common(numeric;public.t.a)"),
        ("nullif(a, 'x')", "=nullif(public.t.a;unknown)"),
    ],
)
def test_subject_text_round_trips(expr: str, text: str) -> None:
    (tree,) = trees(expr)
    assert encode(tree) == text
    back = decode("public.t.a", text)
    assert back is not None and encode(back) == text


def test_huge_expressions_are_not_kept() -> None:
    """A COALESCE of hundreds of columns would put its text in a subject per column."""
    wide = ", ".join(f"c{i}" for i in range(300))
    assert trees(f"coalesce({wide})") == []
    assert len(trees("coalesce(a, b, c, d)")) == 1


@pytest.mark.parametrize("text", ["=add(public.t.a", "=add(public.t.a;)x", "bogus", "=add(a;b))"])
def test_unreadable_subjects_decode_to_nothing(text: str) -> None:
    assert decode("public.t.a", text) is None
