"""Table-driven tests of result_facets: each statement with its EXACT prepared_result set.

A named prepared statement fails with 0A000 ("cached plan must not change result
type") when a DDL changes the type of a column it returns or the column list of a
relation it returns ``*`` of. The cases below encode what was checked on
PostgreSQL 15 and 18 (asyncpg protocol-level statements and SQL PREPARE): bare
column references count, also through derived tables, CTEs, scalar subqueries and
both sides of a set operation; computed expressions, whole-row references and
columns used only in WHERE / JOIN / ORDER BY do not.
"""

from __future__ import annotations

import pytest

from skewguard.analysis import Facet, FacetKind, analyze, result_facets
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay, Severity
from skewguard.rules.base import Example
from tests.unit.test_analysis_extract import CATALOG
from tests.unit.test_rules_examples import run_example


def subjects(
    sql: str, search_path: tuple[str, ...] = ("public",), *, prepared_only: bool = False
) -> set[str]:
    facets = result_facets(
        sql, search_path=search_path, catalog=CATALOG, prepared_only=prepared_only
    )
    return {f.subject for f in facets if f.kind is FacetKind.PREPARED_RESULT}


def derived_subjects(sql: str) -> set[str]:
    facets = result_facets(sql, search_path=("public",), catalog=CATALOG)
    return {f.subject for f in facets if f.kind is FacetKind.PREPARED_DERIVED}


def u(*cols: str) -> set[str]:
    """Result subjects of public.users."""
    return {f"public.users.{c}" for c in cols}


def o(*cols: str) -> set[str]:
    """Result subjects of public.orders."""
    return {f"public.orders.{c}" for c in cols}


Case = tuple[str, str, set[str]]

CASES: list[Case] = [
    # --- plain SELECT ------------------------------------------------------
    ("constant", "select 1, $1::int", set()),
    ("bare columns", "select id, email from users", u("id", "email")),
    (
        "where / order by / join only do not count",
        "select u.id from users u join orders o on o.user_id = u.id "
        "where o.total > 0 and u.email = $1 order by u.name",
        u("id"),
    ),
    ("aliases and qualified", "select email as e, u.name from users u", u("email", "name")),
    ("schema qualified", "select public.users.email from public.users", u("email")),
    ("parenthesized", "select (email) from users", u("email")),
    ("distinct", "select distinct email from users", u("email")),
    ("group by position", "select status, count(*) from orders group by 1", o("status")),
    (
        "computed expressions are not bare results",
        "select lower(email), email::text, count(*), id + 1, coalesce(name, ''), "
        'case when id > 0 then name end, email collate "C" from users group by id',
        set(),
    ),
    ("whole-row reference", "select u from users u", set()),
    ("composite field access is not bare", "select (u).email from users u", set()),
    (
        "quoted names",
        'select "Id", note from "Audit Log"',
        {'public."Audit Log"."Id"', 'public."Audit Log".note'},
    ),
    # --- stars -------------------------------------------------------------
    ("star", "select * from users", {"public.users.*"}),
    (
        "qualified star plus column",
        "select u.*, o.total from users u join orders o on o.user_id = u.id",
        {"public.users.*", *o("total")},
    ),
    (
        "star over a join",
        "select * from users u join orders o on o.user_id = u.id",
        {"public.users.*", "public.orders.*"},
    ),
    ("count(*) is not a star", "select count(*) from users", set()),
    ("star over a function", "select * from generate_series(1, 3) g", set()),
    (
        "a bare call of a user function returns its result type",
        "select normalize_email(email), lower(email) from users",
        {"public.normalize_email(text)"},
    ),
    (
        "through a derived table",
        "select n from (select normalize_email($1) as n) s",
        {"public.normalize_email(text)"},
    ),
    ("an operator over a call has its own type", "select user_score(1) + 1", set()),
    # --- derived tables and CTEs -------------------------------------------
    ("subquery alias", "select x from (select email as x from users) s", u("email")),
    ("subquery star, bare outside", "select email from (select * from users) s", u("email")),
    ("subquery star, star outside", "select s.* from (select * from users) s", {"public.users.*"}),
    ("subquery expression", "select n from (select length(email) as n from users) s", set()),
    (
        "subquery column alias list",
        "select a, b from (select id, email from users) s(a, b)",
        u("id", "email"),
    ),
    (
        "lateral",
        "select l.total from users u, lateral (select total from orders where user_id = u.id) l",
        o("total"),
    ),
    ("cte", "with c as (select email from users) select email from c", u("email")),
    ("cte star", "with c as (select * from orders) select c.* from c", {"public.orders.*"}),
    ("cte alias list", "with c(k) as (select id from orders) select k from c", o("id")),
    (
        "cte read only in where",
        "with c as (select id from users) select total from orders where user_id in "
        "(select id from c)",
        o("total"),
    ),
    (
        "recursive cte",
        "with recursive r(n) as (select id from orders union all "
        "select n + 1 from r where n < 10) select n from r",
        set(),  # the common type of both terms: a derived result
    ),
    (
        "cte with DML",
        "with d as (delete from orders where id = $1 returning *) select * from d",
        {"public.orders.*"},
    ),
    (
        "join using alias",
        "select j.id from users join orders using (id) as j",
        u("id") | o("id"),
    ),
    (
        "merged using column: both sides",
        "select id from users u join billing.users b using (id)",
        u("id") | {"billing.users.id"},
    ),
    # --- subqueries in expressions ---------------------------------------
    (
        "scalar subquery",
        "select (select email from users where id = o.user_id) from orders o",
        u("email"),
    ),
    ("correlated scalar subquery", "select (select u.email) from users u", u("email")),
    ("exists", "select exists (select email from users)", set()),
    (
        "in-subquery filter",
        "select id from users where id in (select user_id from orders)",
        u("id"),
    ),
    # --- set operations ----------------------------------------------------
    (
        "union: both sides",
        "select email from users union select 'x'",
        u("email"),  # the literal's side is no column's: any change counts
    ),
    (
        "except with order by",
        "select id from users except select user_id, 1 from orders order by 1",
        u("id") | o("user_id"),  # sides of other widths: any change counts
    ),
    ("values", "values (1, 'a'), (2, 'b')", set()),
    # --- views ---------------------------------------------------------------
    ("view column", "select email from active_users", {"public.active_users.email"}),
    ("view star", "select * from active_users", {"public.active_users.*"}),
    # --- DML ---------------------------------------------------------------
    ("insert returning", "insert into users (email) values ($1) returning id", u("id")),
    ("insert without returning", "insert into users (email) values ($1)", set()),
    (
        "update returning star",
        "update orders set total = 0 where id = $1 returning *",
        {"public.orders.*"},
    ),
    (
        "update from returning both",
        "update orders o set total = 0 from users u where u.id = o.user_id returning o.id, u.email",
        o("id") | u("email"),
    ),
    ("delete returning expression", "delete from orders where id = $1 returning total * 2", set()),
    (
        "returning old and new",
        "update orders set total = 0 returning old.total, new.*",
        o("total") | {"public.orders.*"},
    ),
    (
        "merge returning",
        "merge into orders o using users u on o.user_id = u.id "
        "when matched then update set total = 0 returning o.id, u.email, merge_action()",
        o("id") | u("email"),
    ),
    (
        "upsert returning",
        "insert into users (id, email) values ($1, $2) on conflict (id) do update "
        "set email = excluded.email returning id",
        u("id"),
    ),
    # --- statements with no result ----------------------------------------
    ("prepare", "prepare p(bigint) as select email from users where id = $1", u("email")),
    ("select into", "select email into tmp from users", set()),
    ("explain", "explain select email from users", set()),
    ("create table as", "create table tmp as select email from users", set()),
    ("copy out", "copy (select email from users) to stdout", set()),
    ("set and execute", "set search_path = public; execute p(1)", set()),
    ("system catalog", "select relname from pg_class", set()),
    ("missing relation", "select x from nope", set()),
    ("missing column", "select nope from users", set()),
    ("created by the text", "create temp table x (a int); select * from x", set()),
    ("syntax error", "selec email from users", set()),
    (
        "several statements",
        "select name from users; select * from orders",
        u("name") | {"public.orders.*"},
    ),
    (
        "set search_path applies to later statements",
        "select id from users; set search_path = billing; select * from users",
        u("id") | {"billing.users.*"},
    ),
]


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("sql", "expected"), [pytest.param(s, e, id=i) for i, s, e in CASES])
def test_result_facets(sql: str, expected: set[str]) -> None:
    assert subjects(sql) == expected


def test_search_path_and_user() -> None:
    assert subjects("select * from users", ("billing", "public")) == {"billing.users.*"}
    facets = result_facets(
        "select account from users",
        search_path=("$user", "public"),
        catalog=CATALOG,
        user="billing",
    )
    assert facets == {Facet(FacetKind.PREPARED_RESULT, "billing.users.account")}


def test_prepared_only_counts_only_prepare_statements() -> None:
    sql = "select name from users; prepare p as select * from orders; execute p"
    assert subjects(sql, prepared_only=True) == {"public.orders.*"}
    assert subjects(sql) == u("name") | {"public.orders.*"}
    assert subjects("select email from users", prepared_only=True) == set()


def test_result_facets_are_not_part_of_analyze() -> None:
    facets = analyze("prepare p as select * from users", catalog=CATALOG).facets
    assert not any(f.kind is FacetKind.PREPARED_RESULT for f in facets)


def test_too_deep_or_internal_errors_give_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert subjects("select " + "1+" * 3000 + "1") == set()
    from skewguard.analysis import extract

    def boom(self: object, node: object, scope: object = None) -> None:
        raise KeyError("x")

    monkeypatch.setattr(extract.Extractor, "statement", boom)
    assert subjects("select email from users") == set()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select sum(total), avg(total) from orders", {"o.total|sum", "o.total|avg"}),
        ("select max(email), pg_catalog.min(name) from users", {"u.email|min", "u.name|min"}),
        ("select coalesce(sum(total), 0) from orders", {"o.total|sum,mix_int"}),
        ("select -total, abs(total), total * 2.5 from orders", {"o.total|same", "o.total|op_num"}),
        (
            "select id + 1, greatest(id, 1), nullif(name, 'x') from users",
            {"u.id|op_int", "u.id|mix_int", "u.name|=nullif(public.users.name;unknown)"},
        ),
        ("select case when id > 0 then name end, coalesce(name, '') from users", {"u.name|same"}),
        ("select s from (select sum(total) as s from orders) x", {"o.total|sum"}),
        (
            "select coalesce(s, 0) from (select sum(total) as s from orders) x",
            {"o.total|sum,mix_int"},
        ),
        # their type is their own, or not one column's
        ("select count(total), count(*), total::text, total > 0 from orders", set()),
        ("select name || 'x', lower(name), count(*), coalesce(f(id), id) from users", set()),
        # not modelled over the columns' types now (timestamptz - timestamptz): nothing
        ("select created_at - created_at from users", set()),
        (
            "select count(*) + id, coalesce(id, name::bigint) from users",
            {"u.id|=add(bigint;public.users.id)", "u.id|=common(public.users.id;bigint)"},
        ),
        # set operations: the common type of the sides (as COALESCE's)
        (
            "select email from users union select account from billing.users",
            {
                "u.email|=common(public.users.email;billing.users.account)",
                "billing.users.account|=common(public.users.email;billing.users.account)",
            },
        ),
        (
            "with recursive r(n) as (select id from orders union all "
            "select n + 1 from r where n < 10) select n from r",
            {"o.id|=common(public.orders.id;add(public.orders.id;integer))"},
        ),
        (
            "select x from (select id as x from users except select user_id from orders) s",
            {
                "u.id|=common(public.users.id;public.orders.user_id)",
                "o.user_id|=common(public.users.id;public.orders.user_id)",
            },
        ),
        # several columns, numeric constants, scalar subqueries: one facet per column
        (
            "select coalesce(name, email), id + id from users",
            {
                "u.name|=common(public.users.name;public.users.email)",
                "u.email|=common(public.users.name;public.users.email)",
                "u.id|=add(public.users.id;public.users.id)",
            },
        ),
        (
            "select coalesce(total, 0.5), sum(total) filter (where id > 0) from orders",
            {"o.total|sum", "o.total|=common(public.orders.total;numeric)"},
        ),
        (
            "select coalesce((select max(total) from orders), 0) from users",
            {"o.total|min,mix_int"},
        ),
        (
            "select case when id > 0 then s else id end"
            " from (select sum(total) s, id from orders) x",
            {
                "o.total|=common(public.orders.id;sum(public.orders.total))",
                "o.id|=common(public.orders.id;sum(public.orders.total))",
            },
        ),
    ],
)
def test_derived_results_name_the_column_and_how_the_type_follows(
    sql: str, expected: set[str]
) -> None:
    short = {"o.": "public.orders.", "u.": "public.users."}
    assert derived_subjects(sql) == {short.get(e[:2], e[:2]) + e[2:] for e in expected}


# The rules consuming the facets: a version that keeps the statement prepared breaks.
RULE_CASES = [
    pytest.param(
        Example(
            "CREATE TABLE t (id int, code varchar(20))",
            "PREPARE p AS SELECT code FROM t",
            "ALTER TABLE t ALTER COLUMN code TYPE varchar(50)",
            True,
        ),
        "SG110",
        id="SG110-prepared-column",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, code varchar(20))",
            "PREPARE p AS SELECT * FROM t",
            "ALTER TABLE t ALTER COLUMN code TYPE varchar(50)",
            True,
        ),
        "SG110",
        id="SG110-prepared-star",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, code varchar(20))",
            "PREPARE p AS SELECT id FROM t WHERE code = 'x'",
            "ALTER TABLE t ALTER COLUMN code TYPE varchar(50)",
            False,
        ),
        "SG110",
        id="SG110-prepared-where-only",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, code varchar(20))",
            "PREPARE p AS SELECT lower(code) FROM t",
            "ALTER TABLE t ALTER COLUMN code TYPE varchar(50)",
            False,
        ),
        "SG110",
        id="SG110-prepared-expression",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, n int)",
            "PREPARE p AS SELECT coalesce(sum(n), 0) AS total FROM t",
            "ALTER TABLE t ALTER COLUMN n TYPE bigint",
            True,
        ),
        "SG110",
        id="SG110-prepared-coalesced-sum",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, code varchar(20), n smallint)",
            "PREPARE p AS SELECT max(code), sum(n), n + 1 FROM t",
            "ALTER TABLE t ALTER COLUMN code TYPE text, ALTER COLUMN n TYPE integer",
            False,
        ),
        "SG110",
        id="SG110-prepared-expressions-keep-their-type",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, a int, b bigint)",
            "PREPARE p AS SELECT a + b, coalesce(a, b) FROM t",
            "ALTER TABLE t ALTER COLUMN a TYPE bigint",
            False,
        ),
        "SG110",
        id="SG110-prepared-two-columns-keep-the-wider-type",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, a int, b bigint)",
            "PREPARE p AS SELECT a + b FROM t",
            "ALTER TABLE t ALTER COLUMN a TYPE numeric",
            True,
        ),
        "SG110",
        id="SG110-prepared-two-columns-widened-past-the-other",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, a bigint, b bigint)",
            "PREPARE p AS SELECT a * b FROM t",
            "ALTER TABLE t ALTER COLUMN a TYPE int, ALTER COLUMN b TYPE int",
            True,
        ),
        "SG110",
        id="SG110-prepared-two-columns-narrowed-together",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, a varchar(40), b varchar(40))",
            "PREPARE p AS SELECT coalesce(a, b) FROM t",
            "ALTER TABLE t ALTER COLUMN b TYPE varchar(60)",
            True,
        ),
        "SG110",
        id="SG110-prepared-coalesce-of-two-keeps-their-typmod",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, a int, b bigint)",
            "PREPARE p AS SELECT a FROM t UNION SELECT b FROM t",
            "ALTER TABLE t ALTER COLUMN a TYPE bigint",
            False,
        ),
        "SG110",
        id="SG110-prepared-union-keeps-the-wider-side",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, created_at timestamp, updated_at timestamp)",
            "PREPARE p AS SELECT updated_at - created_at FROM t",
            "ALTER TABLE t ALTER COLUMN created_at TYPE timestamptz",
            False,
        ),
        "SG110",
        id="SG110-prepared-interval-of-two-timestamps-not-modelled",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, a int, b bigint)",
            "PREPARE p AS SELECT a FROM t UNION SELECT b FROM t",
            "ALTER TABLE t ALTER COLUMN a TYPE numeric",
            True,
        ),
        "SG110",
        id="SG110-prepared-union-side-widened-past-the-other",
    ),
    pytest.param(
        Example(
            "CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE TABLE p (id int, m mood, n mood)",
            "PREPARE q AS SELECT m FROM p UNION SELECT n FROM p",
            "CREATE TYPE mood_new AS ENUM ('happy', 'sad', 'meh');"
            " ALTER TABLE p ALTER COLUMN m TYPE mood_new USING m::text::mood_new,"
            " ALTER COLUMN n TYPE mood_new USING n::text::mood_new;"
            " DROP TYPE mood; ALTER TYPE mood_new RENAME TO mood",
            True,
        ),
        "SG126",
        id="SG126-prepared-union-of-the-enum",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, note text)",
            "PREPARE p AS UPDATE t SET note = 'x' RETURNING *",
            "ALTER TABLE t ADD COLUMN extra int",
            True,
        ),
        "SG112",
        id="SG112-prepared-returning-star",
    ),
    pytest.param(
        Example(
            "CREATE TABLE t (id int, note text)",
            "PREPARE p AS SELECT id, note FROM t",
            "ALTER TABLE t ADD COLUMN extra int",
            False,
        ),
        "SG112",
        id="SG112-prepared-columns",
    ),
]


@pytest.mark.parametrize(("ex", "rule"), RULE_CASES)
def test_rules_break_prepared_versions(ex: Example, rule: str) -> None:
    findings = run_example(ex)
    breaking = [f for f in findings if f.severity is Severity.BREAK]
    assert bool(breaking) == ex.breaks, [f.message for f in findings]
    if ex.breaks:
        assert {f.rule for f in breaking} == {rule}
        held = (FacetKind.PREPARED_RESULT, FacetKind.PREPARED_DERIVED)
        assert all(f.facet is not None and f.facet.kind in held for f in breaking)
        phrase = "old type's oid" if rule == "SG126" else "named prepared statement"
        assert all(phrase in f.message for f in breaking)


ENUMS = """
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE p (id int, m mood, ms mood[], note text);
"""


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("select id from p where m = $1::mood", {"public.mood"}),
        ("select id from p where m = $1", {"public.mood"}),
        ("select id from p where $1 = m", {"public.mood"}),
        ("select id from p where m in ($1, $2)", {"public.mood"}),
        ("insert into p (id, m) values ($1, $2)", {"public.mood"}),
        ("update p set m = $1 where id = $2", {"public.mood"}),
        ("prepare q (mood) as select 1 where $1 is null", {"public.mood"}),
        ("select id from p where m = 'happy'", set()),
        ("select id from p where note = $1", set()),
        ("select m::text from p where id = $1", set()),
    ],
)
def test_prepared_params_name_the_enums_a_parameter_takes(sql: str, params: set[str]) -> None:
    """A statement kept prepared holds its parameter types by oid: an enum dropped and
    created again under its name fails it (XX000), so its enum parameters are facets."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(ENUMS)
    facets = result_facets(sql, catalog=overlay.catalog)
    assert {f.subject for f in facets if f.kind is FacetKind.PREPARED_PARAM} == params
