"""The screen: DDL let through on names alone only when it reaches nothing a version uses."""

from __future__ import annotations

import dataclasses

import pglast
import pytest

from skewguard.analysis.facets import Facet, FacetKind
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import CannotModel, Overlay
from skewguard.ddl.screen import Links, Passed, change_names, mentions, reach, used_names

SCHEMA = """
CREATE TABLE users (id int PRIMARY KEY, email text);
CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id));
CREATE TABLE base (id int);
CREATE TABLE child (extra int) INHERITS (base);
CREATE TABLE plain (id int, note text);
CREATE VIEW recent AS SELECT id FROM plain;
CREATE FUNCTION mine() RETURNS int LANGUAGE sql AS 'SELECT 1';
"""


@pytest.fixture(scope="module")
def snapshot() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return dataclasses.replace(
        overlay.catalog, builtin_functions=frozenset({"now", "length", "lower"})
    )


def facets(*subjects: tuple[FacetKind, str]) -> list[list[Facet]]:
    return [[Facet(kind, subject) for kind, subject in subjects]]


USERS_READER = used_names(facets((FacetKind.COLUMN_READ, "public.users.email")))


def run(
    sql: str,
    snapshot: CatalogSnapshot,
    used: frozenset[str] = USERS_READER,
    links: Links | None = None,
) -> Passed | None:
    reached = reach(pglast.parse_sql(sql)[0].stmt, snapshot, links or Links(snapshot))
    return reached.passed if reached is not None and reached.clear_of(used) else None


def test_used_names_are_every_part_of_every_subject() -> None:
    names = used_names(
        facets(
            (FacetKind.COLUMN_READ, "public.users.email"),
            (FacetKind.FUNCTION, "billing.total(integer)"),
            (FacetKind.INSERT_SHAPE, 'public."Orders"(id,qty)'),
        )
    )
    assert {"users", "email", "total", "billing", "Orders", "qty"} <= names


def test_value_copy_and_conflict_subjects_yield_their_column_and_constraint() -> None:
    names = used_names(
        facets(
            (FacetKind.WRITE_VALUE, "public.t.qty|42"),
            (FacetKind.COPY_WRITE, "public.t.tags|csv"),
            (FacetKind.INSERT_CONFLICT, "public.orders|nothing@orders_ref_key"),
        )
    )
    assert {"qty", "tags", "orders", "orders_ref_key"} <= names


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE r1 (id bigint PRIMARY KEY, name text NOT NULL, qty int CHECK (qty >= 0),"
        " created timestamptz DEFAULT now())",
        "CREATE TABLE r2 (id int, parent int REFERENCES plain (id))",
        "CREATE INDEX plain_note ON plain (lower(note))",
        "ALTER TABLE plain ADD COLUMN extra text DEFAULT 'x'",
        "ALTER TABLE plain ADD CONSTRAINT note_len CHECK (length(note) < 200)",
        "ALTER TABLE plain ALTER COLUMN note SET NOT NULL",
        "CREATE VIEW v2 AS SELECT email FROM users",  # reading users changes nothing for it
        "CREATE SEQUENCE counter",
        "CREATE TYPE mood AS ENUM ('ok')",
        "CREATE FUNCTION brand_new() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA extra",
        "COMMENT ON TABLE users IS 'people'",
        "GRANT SELECT ON users TO PUBLIC",
    ],
)
def test_what_reaches_nothing_used_passes(sql: str, snapshot: CatalogSnapshot) -> None:
    assert run(sql, snapshot) is not None


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("CREATE TABLE other.users (id int)", "shadows a used name in another schema"),
        ("CREATE TABLE r3 (id int REFERENCES users (id))", "names a used table"),
        ("ALTER TABLE users ADD COLUMN age int", "alters a used table"),
        ("ALTER TABLE base ADD COLUMN age int", "reaches the used child"),
        ("ALTER TABLE plain DROP COLUMN id CASCADE", "reaches the used view"),
        ("CREATE INDEX ON missing (id)", "a table the snapshot does not know"),
        ("ALTER TABLE plain ADD COLUMN n int DEFAULT mine()", "runs a user function"),
        ("CREATE INDEX ON plain (mine())", "runs a user function"),
        ('CREATE TABLE "odd name" (id int)', "a name facets would quote"),
        ("ALTER TABLE plain RENAME COLUMN note TO body", "RENAME goes the full way"),
        ("ALTER TABLE plain OWNER TO someone", "not a local subcommand"),
        ("DROP TABLE plain", "DROP goes the full way"),
        ("CREATE OR REPLACE FUNCTION mine() RETURNS int LANGUAGE sql AS 'SELECT 2'", "replace"),
        ("REVOKE SELECT ON plain FROM PUBLIC", "REVOKE narrows"),
        (
            "CREATE FUNCTION lower(varchar) RETURNS text LANGUAGE sql AS 'SELECT 1'",
            "an overload of a built-in can take over its calls",
        ),
        ("CREATE TABLE p1 PARTITION OF base FOR VALUES IN (1)", "changes the parent"),
        ("CREATE TABLE ct AS SELECT 1", "runs a query"),
    ],
)
def test_what_may_reach_a_used_name_goes_the_full_way(
    sql: str, why: str, snapshot: CatalogSnapshot
) -> None:
    used = USERS_READER | used_names(
        facets((FacetKind.RELATION_READ, "public.child"), (FacetKind.VIEW_READ, "public.recent"))
    )
    assert run(sql, snapshot, used) is None, why


def test_no_snapshot_means_the_full_way() -> None:
    assert reach(pglast.parse_sql("CREATE TABLE x (id int)")[0].stmt, None, Links()) is None


def test_links_carry_what_the_proxy_created_since_the_snapshot(snapshot: CatalogSnapshot) -> None:
    links = Links(snapshot)
    for sql in (
        "CREATE TABLE fresh (id int PRIMARY KEY, c text)",
        "CREATE VIEW fresh_view AS SELECT id FROM fresh",
        "CREATE TABLE fresh_ref (id int, f int REFERENCES fresh (id))",
    ):
        passed = run(sql, snapshot, links=links)
        assert passed is not None, sql
        links.add(passed)
    # a table the snapshot does not hold, known from the links
    assert run("CREATE INDEX ON fresh (c)", snapshot, links=links) is not None
    # once a version reads the view (or the referencing table), the table's ALTER is not screened
    for used in ("fresh_view", "fresh_ref"):
        names = USERS_READER | {used}
        assert run("ALTER TABLE fresh DROP COLUMN c CASCADE", snapshot, names, links) is None
    # a new snapshot holds them: the links start afresh
    assert links.since(snapshot) is links
    assert links.since(dataclasses.replace(snapshot)) is not links


def test_a_reach_found_clear_is_walked_again_once_a_link_or_the_used_names_change(
    snapshot: CatalogSnapshot,
) -> None:
    links = Links(snapshot)
    used = used_names(facets((FacetKind.RELATION_READ, "public.child")))
    alter = "ALTER TABLE plain ADD COLUMN n int"
    assert run(alter, snapshot, used, links) is not None  # plain's reach: plain, recent
    # (PostgreSQL refuses it: base exists) a link from plain to base, from which child hangs
    passed = run("CREATE TABLE base (id int REFERENCES plain (id))", snapshot, used, links)
    assert passed is not None
    links.add(passed)
    assert run(alter, snapshot, used, links) is None, "plain now reaches the used child"
    assert run(alter, snapshot, USERS_READER, links) is not None
    assert run(alter, snapshot, USERS_READER | {"recent"}, links) is None


def test_mentions_finds_names_as_words_in_any_case() -> None:
    texts = ['SELECT "Note" FROM public.events WHERE id = 1', "SELECT valid FROM t"]
    assert mentions(texts, frozenset({"events"}))
    assert mentions(texts, frozenset({"note"}))  # quoted or not, any case: a superset
    assert not mentions(texts, frozenset({"id_x", "vali", "even"}))
    assert not mentions(texts, frozenset())


def test_change_names_cover_cascades_and_unknown_reach(snapshot: CatalogSnapshot) -> None:
    overlay = Overlay(snapshot)
    overlay.apply("ALTER TABLE plain DROP COLUMN id CASCADE")
    names = change_names(overlay.net_changes(), [])
    assert names is not None and {"plain", "id", "recent"} <= names
    assert change_names([], [CannotModel("DO block")]) is None


def test_a_function_whose_body_names_the_table_hangs_from_it(snapshot: CatalogSnapshot) -> None:
    """A string body is planned at each call: a version calling the function reaches
    the table the body names, though no facet of the version names the table."""
    overlay = Overlay(snapshot)
    overlay.apply(
        "CREATE FUNCTION note_of(int) RETURNS text LANGUAGE sql"
        " AS 'SELECT note FROM plain WHERE id = $1'"
    )
    caller = used_names(facets((FacetKind.FUNCTION, "public.note_of(integer)")))
    assert (
        run("ALTER TABLE plain ALTER COLUMN note TYPE varchar(10)", overlay.catalog, caller) is None
    )
    assert run("ALTER TABLE users ADD COLUMN age int", overlay.catalog, caller) is not None
