"""Readiness: each facet kind held against a catalog snapshot."""

from __future__ import annotations

import pytest

from skewguard.analysis import Facet, FacetKind
from skewguard.catalog import (
    CatalogSnapshot,
    Column,
    Constraint,
    EnumType,
    Function,
    Index,
    Relation,
    RelKind,
)
from skewguard.footprint import Evidence
from skewguard.readiness import gaps

F = FacetKind
CATALOG = CatalogSnapshot(
    schemas=frozenset({"public"}),
    relations=(
        Relation(
            "public",
            "users",
            RelKind.TABLE,
            (
                Column("id", "integer", "integer", not_null=True, has_default=True),
                Column("email", "text", "text", not_null=True),
                Column("note", "text", "text"),
            ),
        ),
        Relation(
            "public", "v", RelKind.VIEW, (Column("id", "integer", "integer"),), updatable=False
        ),
    ),
    functions=(Function("public", "f", ("integer", "text"), "integer", n_defaults=1),),
    enums=(EnumType("public", "mood", "public.mood", ("happy", "sad")),),
    constraints=(Constraint("public", "users", "users_email_key", "u", ("email",)),),
    indexes=(Index("public", "users_email_key", "users", ("email",), unique=True),),
    operators=frozenset({"public.===(text,text)"}),
)


@pytest.mark.parametrize(
    ("kind", "subject", "problem"),
    [
        (F.RELATION_READ, "public.users", None),
        (F.OPERATOR, "public.===", None),
        (F.OPERATOR, "app.===", "operator app.=== does not exist"),
        (F.RELATION_READ, "public.gone", "relation public.gone does not exist"),
        (F.RELATION_WRITE, "public.v", "view public.v is not updatable"),
        (F.COLUMN_READ, "public.users.email", None),
        (F.COLUMN_WRITE, "public.users.phone", "column public.users.phone does not exist"),
        (F.COLUMN_READ, "public.gone.x", "relation public.gone does not exist"),
        (F.INSERT_SHAPE, "public.users(email)", None),
        (
            F.INSERT_SHAPE,
            "public.users(note)",
            "its INSERTs into public.users omit NOT NULL column(s) without a default: email",
        ),
        (F.INSERT_POSITIONAL, "public.users/3", None),
        (
            F.INSERT_POSITIONAL,
            "public.users/4",
            "INSERT of 4 values without a column list: public.users has 3 columns",
        ),
        (F.CONFLICT_COLUMNS, "public.users(email)", None),
        (
            F.CONFLICT_COLUMNS,
            "public.users(note)",
            "no unique index on public.users(note) for ON CONFLICT to use (42P10)",
        ),
        (F.CONFLICT_CONSTRAINT, "public.users.users_email_key", None),
        (F.FUNCTION, "public.f(integer,text)", None),
        (F.FUNCTION, "public.f(integer)", "function public.f(integer) does not exist"),
        (F.MISSING_FUNCTION, "public.f(integer)", None),  # a default fills the second argument
        (F.MISSING_FUNCTION, "public.f()", "function public.f() does not exist"),
        (F.ENUM_LABEL_WRITE, "public.mood:happy", None),
        (F.ENUM_LABEL_READ, "public.mood:meh", "enum label public.mood meh does not exist"),
        (F.MISSING_RELATION, "public.users", None),  # created since the version saw it missing
        (F.SEARCH_PATH, "app,public", None),
    ],
)
def test_gap(kind: FacetKind, subject: str, problem: str | None) -> None:
    found = gaps({Facet(kind, subject): Evidence(3, 1.0, 2.0, "")}, CATALOG)
    assert [g.problem for g in found] == ([problem] if problem else [])


def test_one_gap_per_problem() -> None:
    facets = {
        Facet(F.COLUMN_READ, "public.users.phone"): Evidence(5, 1.0, 2.0, ""),
        Facet(F.MISSING_COLUMN, "public.users.phone"): Evidence(5, 1.0, 2.0, ""),
    }
    assert len(gaps(facets, CATALOG)) == 1
