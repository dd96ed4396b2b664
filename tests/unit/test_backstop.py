"""Footprints -> the backstop's protected objects (pure)."""

from __future__ import annotations

import pytest

from skewguard.analysis import Facet, FacetKind
from skewguard.backstop import protected_objects, split_name
from skewguard.footprint import VersionKey

V1 = VersionKey("app", "orders", "1.0")
V2 = VersionKey("app", "orders", "2.0")
UNTAGGED = VersionKey("app", "", "")


def facet(kind: FacetKind, subject: str) -> Facet:
    return Facet(kind, subject)


@pytest.mark.parametrize(
    ("kind", "subject", "expected"),
    [
        (FacetKind.RELATION_READ, "public.users", {("table", "public.users")}),
        (FacetKind.RELATION_WRITE, "app.orders", {("table", "app.orders")}),
        (
            FacetKind.COLUMN_READ,
            "public.users.email",
            {("table column", "public.users.email")},
        ),
        (
            FacetKind.COLUMN_WRITE,
            'public."Users"."E.mail"',
            {("table column", 'public."Users"."E.mail"')},
        ),
        (
            FacetKind.INSERT_SHAPE,
            "public.users(email,name)",
            {
                ("table", "public.users"),
                ("table column", "public.users.email"),
                ("table column", "public.users.name"),
            },
        ),
        (FacetKind.INSERT_POSITIONAL, "public.users/3", {("table", "public.users")}),
        (
            FacetKind.INSERT_SELECT_STAR,
            "public.archive<public.orders",
            {("table", "public.archive"), ("table", "public.orders")},
        ),
        (FacetKind.SELECT_STAR, "public.users", {("table", "public.users")}),
        (FacetKind.COPY_IN, "public.users", {("table", "public.users")}),
        (
            FacetKind.COPY_OUT,
            "public.users(email,id)",
            {
                ("table", "public.users"),
                ("table column", "public.users.email"),
                ("table column", "public.users.id"),
            },
        ),
        (
            FacetKind.CONFLICT_COLUMNS,
            "public.users(email)",
            {("table", "public.users"), ("table column", "public.users.email")},
        ),
        (
            FacetKind.CONFLICT_CONSTRAINT,
            "public.users.users_email_key",
            {("table constraint", "public.users.users_email_key")},
        ),
        (
            FacetKind.FUNCTION,
            "public.f(integer,character varying)",
            {("function", "public.f(integer,character varying)")},
        ),
        (FacetKind.SEQUENCE, "public.users_id_seq", {("sequence", "public.users_id_seq")}),
        (FacetKind.ENUM_LABEL_WRITE, "public.mood:happy", {("type", "public.mood")}),
        (FacetKind.ENUM_LABEL_READ, 'public."a:b":x:y', {("type", 'public."a:b"')}),
        (
            FacetKind.PREPARED_RESULT,
            "public.users.email",
            {("table column", "public.users.email")},
        ),
        (FacetKind.PREPARED_RESULT, "public.users.*", {("table", "public.users")}),
        # nothing to protect in the database for these
        (FacetKind.FUNCTION_CALL, "public.f(integer,unknown)", set()),
        (FacetKind.SEARCH_PATH, "app,public", set()),
        (FacetKind.MISSING_RELATION, "public.later", set()),
        (FacetKind.MISSING_COLUMN, "public.users.later", set()),
        (FacetKind.ROLE, "app_rw", set()),
    ],
)
def test_each_facet_kind(kind: FacetKind, subject: str, expected: set[tuple[str, str]]) -> None:
    found = protected_objects({V1: [facet(kind, subject)]})
    objects = {key for key in found if key[0] != "schema"}
    assert objects == expected
    assert all(versions == ["orders@1.0"] for versions in found.values())
    schemas = {identity for kind_, identity in found if kind_ == "schema"}
    expected_schemas = {split_name(identity)[0] for kind_, identity in expected}
    if kind is FacetKind.CONFLICT_CONSTRAINT:
        expected_schemas = set()
    assert schemas == expected_schemas


def test_versions_are_merged_and_sorted() -> None:
    found = protected_objects(
        {
            V2: [facet(FacetKind.COLUMN_READ, "public.users.email")],
            V1: [
                facet(FacetKind.COLUMN_READ, "public.users.email"),
                facet(FacetKind.RELATION_READ, "public.users"),
            ],
        }
    )
    assert found[("table column", "public.users.email")] == ["orders@1.0", "orders@2.0"]
    assert found[("table", "public.users")] == ["orders@1.0"]
    assert found[("schema", "public")] == ["orders@1.0", "orders@2.0"]


def test_views_are_named_as_views() -> None:
    found = protected_objects(
        {
            V1: [
                facet(FacetKind.RELATION_READ, "public.active_users"),
                facet(FacetKind.VIEW_READ, "public.active_users"),
                facet(FacetKind.COLUMN_READ, "public.active_users.email"),
            ]
        }
    )
    assert ("view", "public.active_users") in found
    assert ("table", "public.active_users") not in found
    assert ("view column", "public.active_users.email") in found


def test_untagged_clients_protect_nothing() -> None:
    assert protected_objects({UNTAGGED: [facet(FacetKind.COLUMN_READ, "public.t.c")]}) == {}


def test_facets_mapping_from_the_store_is_accepted() -> None:
    # StoredVersion.facets is a dict Facet -> Evidence: iterating it gives the facets
    evidence: dict[Facet, object] = {facet(FacetKind.SEQUENCE, "public.s"): object()}
    assert ("sequence", "public.s") in protected_objects({V1: evidence})


@pytest.mark.parametrize(
    ("text", "separators", "parts"),
    [
        ("public.users", ".", ["public", "users"]),
        ('public."a.b".c', ".", ["public", '"a.b"', "c"]),
        ('public."a""b".c', ".", ["public", '"a""b"', "c"]),
        ("a,b", ",", ["a", "b"]),
        ('"x:y":label', ":", ['"x:y"', "label"]),
    ],
)
def test_split_name(text: str, separators: str, parts: list[str]) -> None:
    assert split_name(text, separators) == parts
