"""Facet identity and its storage form."""

from __future__ import annotations

import dataclasses

import pytest

from skewguard.analysis import Facet, FacetKind
from skewguard.analysis.facets import ident, qualified, split_value_subject, value_subject

SUBJECTS = [
    "public.users",
    "public.users.email",
    'public."Audit Log"."Id"',
    "public.users(email,name)",
    "public.users/3",
    "public.f(integer,b=>unknown)",
    "public.user_status:with:colons",
    "public.archive<public.orders",
    'public.t.qty|s:it\'s|"x": y',
    "public.t|nothing(email)",
    "",
]


@pytest.mark.parametrize("kind", list(FacetKind))
@pytest.mark.parametrize("subject", SUBJECTS)
def test_key_round_trip(kind: FacetKind, subject: str) -> None:
    facet = Facet(kind, subject)
    assert facet.key == f"{kind.value}:{subject}"
    assert Facet.from_key(facet.key) == facet
    assert str(facet) == facet.key


def test_kind_values_are_stable() -> None:
    # Stored keys depend on these strings: changing one orphans existing footprints.
    assert {k.value for k in FacetKind} == {
        "relation_read",
        "relation_write",
        "view_read",
        "column_read",
        "column_write",
        "positional_write",
        "insert_shape",
        "insert_positional",
        "insert_select_star",
        "select_star",
        "copy_in",
        "copy_out",
        "copy_write",
        "conflict_columns",
        "conflict_constraint",
        "function_call",
        "function",
        "sequence",
        "sequence_default",
        "enum_label_write",
        "enum_label_read",
        "type_named",
        "search_path",
        "missing_relation",
        "missing_column",
        "missing_function",
        "missing_enum_label",
        "prepared_result",
        "prepared_derived",
        "prepared_param",
        "role",
        "write_value",
        "write_other",
        "column_update",
        "value_supplied",
        "insert_conflict",
        "row_delete",
        "truncate",
        "refresh",
        "operator",
        "defers",
        "ts_config",
        "collation",
        "tablesample",
        "copy_shape",
    }


@pytest.mark.parametrize("key", ["no-colon", "bogus_kind:public.users", ":public.users"])
def test_from_key_rejects_garbage(key: str) -> None:
    with pytest.raises(ValueError):
        Facet.from_key(key)


def test_facet_is_frozen_hashable_slotted_and_ordered() -> None:
    a = Facet(FacetKind.COLUMN_READ, "public.users.id")
    b = Facet(FacetKind.COLUMN_READ, "public.users.id")
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert not hasattr(a, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.subject = "x"  # type: ignore[misc]
    assert sorted([Facet(FacetKind.RELATION_READ, "b"), Facet(FacetKind.RELATION_READ, "a")]) == [
        Facet(FacetKind.RELATION_READ, "a"),
        Facet(FacetKind.RELATION_READ, "b"),
    ]


@pytest.mark.parametrize(
    ("name", "rendered"),
    [
        ("users", "users"),
        ("user", "user"),  # keywords stay bare: subjects are keys, not SQL
        ("_t1$", "_t1$"),
        ("Users", '"Users"'),
        ("audit log", '"audit log"'),
        ("1st", '"1st"'),
        ('we"ird', '"we""ird"'),
        ("a.b", '"a.b"'),
    ],
)
def test_ident(name: str, rendered: str) -> None:
    assert ident(name) == rendered


def test_qualified() -> None:
    assert qualified("public", "users") == "public.users"
    assert qualified("My Schema", "t") == '"My Schema".t'


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("public.t.qty", "n:5"),
        ('public."a|b"."c|d"', "s:x|y"),
        ("public.t.note", "s:"),
        ("public.t.note", "null"),
    ],
)
def test_value_subject_round_trip(column: str, value: str) -> None:
    assert split_value_subject(value_subject(column, value)) == (column, value)
