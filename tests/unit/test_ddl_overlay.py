"""Overlay + diff: typed net changes of DDL texts (savepoints, renames, CASCADE)."""

from __future__ import annotations

import pytest

from skewguard.catalog import CatalogSnapshot, RelKind
from skewguard.ddl import CannotModel, DdlParseError, Overlay, SessionFacts
from skewguard.ddl.changes import (
    AddConstraint,
    Change,
    ConstraintType,
    DropColumn,
    DropView,
    ReorderColumns,
)
from skewguard.ddl.types import assigns_every_value, classify_type_change
from skewguard.rules.engine import evaluate

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email varchar(50) NOT NULL, name text,
                    n int DEFAULT 0);
CREATE UNIQUE INDEX users_email_idx ON users (email);
CREATE VIEW active AS SELECT id, email FROM users WHERE n > 0;
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TABLE orders (id int, user_id int REFERENCES users (id));
"""


@pytest.fixture(scope="module")
def base() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return overlay.catalog


def net(base: CatalogSnapshot, sql: str) -> list[str]:
    overlay = Overlay(base)
    overlay.apply(sql)
    return [str(c) for c in overlay.net_changes()]


def test_a_collation_change_is_a_type_change_that_fits_every_value(base: CatalogSnapshot) -> None:
    overlay = Overlay(base)
    overlay.apply('ALTER TABLE users ALTER name TYPE text COLLATE "C"')
    (change,) = overlay.net_changes()
    assert str(change) == "AlterColumnType(public.users.name)"
    assert (change.old_type, change.new_type) == ("text", 'text COLLATE "C"')  # type: ignore[attr-defined]
    assert change.widening and change.binary_coercible  # type: ignore[attr-defined]


def test_schema_built_by_the_overlay(base: CatalogSnapshot) -> None:
    users = base.relation("public", "users")
    assert users is not None
    assert [(c.name, c.type_name, c.not_null, c.has_default) for c in users.columns] == [
        ("id", "integer", True, True),
        ("email", "character varying(50)", True, False),
        ("name", "text", False, False),
        ("n", "integer", False, True),
    ]
    assert users.column("id").default_sequences == ("public.users_id_seq",)  # type: ignore[union-attr]
    active = base.relation("public", "active")
    assert active is not None and active.column_names == ("id", "email")
    assert active.column("email").type_name == "character varying(50)"  # type: ignore[union-attr]
    assert "column_read:public.users.n" in active.depends
    assert {c.name for c in base.constraints} == {"users_pkey", "orders_user_id_fkey"}
    assert {i.name for i in base.indexes} == {"users_pkey", "users_email_idx"}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("ALTER TABLE users DROP COLUMN name", ["DropColumn(public.users.name)"]),
        # RESTRICT with a dependent view: PostgreSQL refuses, nothing changes.
        ("ALTER TABLE users DROP COLUMN email", []),
        (
            "ALTER TABLE users DROP COLUMN email CASCADE",
            [
                "DropView(public.active)",
                "DropColumn(public.users.email)",
                "DropIndex(public.users_email_idx)",
            ],
        ),
        (
            "DROP TABLE users CASCADE",
            [
                "DropView(public.active)",
                "DropTable(public.users)",
                "DropSequence(public.users_id_seq)",
                "DropConstraint(public.orders.orders_user_id_fkey)",
                "DropIndex(public.users_email_idx)",
                "DropIndex(public.users_pkey)",
            ],
        ),
        ("DROP TABLE users", []),
        (
            "DROP SEQUENCE users_id_seq CASCADE",
            ["DropDefault(public.users.id)", "DropSequence(public.users_id_seq)"],
        ),
        # rename + a view with the old name: net-safe except that it is a view now
        (
            "ALTER TABLE users RENAME TO people; CREATE VIEW users AS SELECT * FROM people",
            ["ReplaceRelation(public.users)"],
        ),
        ("ALTER TABLE users RENAME TO people", ["RenameRelation(public.users)"]),
        ("ALTER TABLE users RENAME COLUMN name TO full_name", ["RenameColumn(public.users.name)"]),
        ("ALTER TABLE users RENAME name TO x; ALTER TABLE users RENAME x TO name", []),
        ("ALTER TABLE users ALTER name TYPE varchar(20)", ["AlterColumnType(public.users.name)"]),
        # the same type in another collation: a new result type for prepared statements
        (
            'ALTER TABLE users ALTER name TYPE text COLLATE "C"',
            ["AlterColumnType(public.users.name)"],
        ),
        ('ALTER TABLE users ALTER name TYPE text COLLATE "default"', []),
        (
            'ALTER TABLE users ALTER name TYPE text COLLATE "C";'
            " ALTER TABLE users ALTER name TYPE text",
            [],
        ),
        # a column under a view cannot change type
        ("ALTER TABLE users ALTER email TYPE varchar(120)", []),
        (
            "ALTER TABLE users ADD COLUMN x int NOT NULL DEFAULT 0;"
            " ALTER TABLE users ALTER x DROP DEFAULT",
            ["AddColumn(public.users.x)"],
        ),
        ("ALTER TABLE users ALTER n DROP DEFAULT", ["DropDefault(public.users.n)"]),
        ("ALTER TABLE users ALTER n SET DEFAULT 5", ["ChangeDefault(public.users.n)"]),
        ("ALTER TABLE users ALTER n SET DEFAULT 5; ALTER TABLE users ALTER n SET DEFAULT 0", []),
        ("ALTER TABLE users ALTER name SET NOT NULL", ["SetNotNull(public.users.name)"]),
        (
            "ALTER TYPE mood RENAME VALUE 'ok' TO 'fine'; ALTER TYPE mood ADD VALUE 'happy'",
            ["EnumRenameValue(public.mood:ok)", "EnumAddValue(public.mood:happy)"],
        ),
        ("ALTER INDEX users_email_idx RENAME TO e", ["RenameIndex(public.users_email_idx)"]),
        (
            "CREATE FUNCTION f(a bigint) RETURNS int LANGUAGE sql AS 'SELECT 2';"
            " DROP FUNCTION f(int)",
            ["DropFunction(public.f(integer))", "CreateFunction(public.f(bigint))"],
        ),
        ("CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT 1'", []),
        (
            "CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT 2'",
            ["ReplaceFunction(public.f(integer))"],
        ),
        (
            "CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql STRICT AS 'SELECT 1'",
            ["ReplaceFunction(public.f(integer))"],
        ),
        (
            "CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql SECURITY DEFINER"
            " AS 'SELECT 1'",
            ["ReplaceFunction(public.f(integer))"],
        ),
        ("CREATE SCHEMA s; ALTER TABLE orders SET SCHEMA s", ["SetSchema(public.orders)"]),
        ("ALTER SCHEMA public RENAME TO p2", ["RenameSchema(public)"]),
        ("ALTER TABLE users ENABLE ROW LEVEL SECURITY", ["EnableRowLevelSecurity(public.users)"]),
        ("GRANT SELECT ON users TO app; REVOKE SELECT ON users FROM app", []),
        (
            "CREATE TABLE tally (id int, n serial); ALTER TABLE tally DROP COLUMN n",
            ["CreateRelation(public.tally)"],
        ),
        ("CREATE TEMP TABLE scratch (id int); DROP TABLE scratch", []),
        (
            "CREATE TABLE fresh (id int); ALTER TABLE fresh DROP COLUMN id",
            ["CreateRelation(public.fresh)"],
        ),
        ("SELECT 1; INSERT INTO users (email) VALUES ('x')", []),
        # a table created by running a query, as CREATE TABLE AS creates it
        ("CREATE SCHEMA s; SELECT id INTO s.users FROM users", ["CreateRelation(s.users)"]),
        (
            "CREATE SCHEMA s; EXPLAIN ANALYZE CREATE TABLE s.users AS SELECT id FROM users",
            ["CreateRelation(s.users)"],
        ),
        ("EXPLAIN CREATE TABLE fresh AS SELECT 1", []),  # only planned
    ],
)
def test_net_changes(base: CatalogSnapshot, sql: str, expected: list[str]) -> None:
    assert net(base, sql) == expected


def test_dropping_a_serial_column_drops_its_sequence() -> None:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply("CREATE TABLE tally (id int, n serial)")
    assert net(overlay.catalog, "ALTER TABLE tally DROP COLUMN n") == [
        "DropColumn(public.tally.n)",
        "DropSequence(public.tally_n_seq)",
    ]


def test_column_grants_are_kept_on_the_columns(base: CatalogSnapshot) -> None:
    overlay = Overlay(base)
    overlay.apply("GRANT UPDATE (name, n) ON users TO app; GRANT SELECT (name) ON users TO PUBLIC")
    users = overlay.catalog.relation("public", "users")
    assert users is not None
    acls = {c.name: c.acl for c in users.columns}
    assert acls == {
        "id": None,
        "email": None,
        "name": ("app=w/owner", "=r/owner"),
        "n": ("app=w/owner",),
    }


def test_savepoints(base: CatalogSnapshot) -> None:
    o = Overlay(base)
    o.apply("ALTER TABLE users DROP COLUMN name")
    o.savepoint("a")
    o.apply("ALTER TABLE users RENAME COLUMN n TO m")
    o.savepoint("b")
    o.apply("DROP VIEW active")
    o.rollback_to("a")
    assert [str(c) for c in o.net_changes()] == ["DropColumn(public.users.name)"]
    o.apply("DROP VIEW active")
    o.rollback_to("a")  # the savepoint survives a rollback to it
    assert [str(c) for c in o.net_changes()] == ["DropColumn(public.users.name)"]
    o.release("a")
    with pytest.raises(KeyError):
        o.rollback_to("a")
    with pytest.raises(KeyError):
        o.release("b")


def test_apply_returns_the_text_own_changes(base: CatalogSnapshot) -> None:
    o = Overlay(base)
    assert [str(c) for c in o.apply("ALTER TABLE users DROP COLUMN name")] == [
        "DropColumn(public.users.name)"
    ]
    assert [str(c) for c in o.apply("ALTER TABLE orders DROP COLUMN user_id")] == [
        "DropColumn(public.orders.user_id)",
        "DropConstraint(public.orders.orders_user_id_fkey)",
    ]
    assert len(o.net_changes()) == 3
    assert o.catalog.relation("public", "users").column_names == ("id", "email", "n")  # type: ignore[union-attr]


def test_search_path_in_text(base: CatalogSnapshot) -> None:
    o = Overlay(base, search_path=("nowhere",))
    assert o.apply("DROP TABLE IF EXISTS orders") == []
    assert [str(c) for c in o.apply("SET search_path = public; DROP TABLE orders")] == [
        "DropTable(public.orders)"
    ]


def test_cannot_model_leaves_the_overlay_unchanged(base: CatalogSnapshot) -> None:
    o = Overlay(base)
    with pytest.raises(CannotModel) as caught:
        o.apply("ALTER TABLE users DROP COLUMN name; DO $$ BEGIN END $$; DROP TABLE orders")
    assert caught.value.reason == "DO block: what the code does is not modelled"
    assert caught.value.statement.startswith("DO ")
    assert not caught.value.internal
    # the statement before it stays applied; it and the rest do not
    assert [str(c) for c in o.net_changes()] == ["DropColumn(public.users.name)"]


def test_parse_error(base: CatalogSnapshot) -> None:
    with pytest.raises(DdlParseError):
        Overlay(base).apply("ALTER TABLE users DROP COLUMN")


def test_change_is_hashable_and_serializable() -> None:
    c = DropColumn("public.users.email", "text", relation="public.users")
    assert str(c) == "DropColumn(public.users.email)"
    assert hash(c) == hash(DropColumn("public.users.email", "text", relation="public.users"))
    assert c.to_dict() == {
        "kind": "DropColumn",
        "subject": "public.users.email",
        "relation": "public.users",
        "old": "text",
    }


def test_typed_changes_keep_the_stored_json_shape() -> None:
    """Audits, the API and the state store keep the shape one Change class wrote."""
    view = DropView("public.v", RelKind.VIEW, relation="public.v", via="public.t")
    assert view.to_dict() == {
        "kind": "DropView",
        "subject": "public.v",
        "detail": "view",
        "relation": "public.v",
        "via": "public.t",
        "flags": ["cascade"],
    }
    check = AddConstraint(
        "public.t.t_n_check",
        ConstraintType.CHECK,
        ("n",),
        "CHECK (n > 0)",
        validated=False,
        relation="public.t",
    )
    assert check.to_dict() == {
        "kind": "AddConstraint",
        "subject": "public.t.t_n_check",
        "detail": "c",
        "relation": "public.t",
        "new": "CHECK (n > 0)",
        "columns": ["n"],
    }
    assert check.describe() == "adding constraint public.t.t_n_check"
    # one kind is never equal to another with the same subject (hashable, deduplicated)
    other: Change = DropColumn("public.v", "", relation="public.v", via="public.t")
    assert len({view, other}) == 2


@pytest.mark.parametrize(
    ("old", "new", "coercible", "widening"),
    [
        ("character varying(50)", "character varying(120)", True, True),
        ("character varying(120)", "character varying(50)", False, False),
        ("character varying(50)", "text", True, True),
        ("text", "character varying(10)", False, False),
        ("numeric(10,2)", "numeric(12,2)", True, True),
        ("numeric(10,2)", "numeric(10,4)", False, False),
        ("integer", "bigint", False, True),
        ("text", "integer", False, False),
    ],
)
def test_type_change_classes(old: str, new: str, coercible: bool, widening: bool) -> None:
    tc = classify_type_change(old, new)
    assert (tc.binary_coercible, tc.widening) == (coercible, widening)


@pytest.mark.parametrize(
    ("source", "target", "fits"),
    [
        ("integer", "integer", True),
        ("integer", "bigint", True),
        ("integer", "numeric", True),
        ("bigint", "integer", False),  # 22003 for large values
        ("integer", "text", True),  # through int4out, by assignment
        ("integer[]", "character varying", True),
        ("text", "character varying(5)", False),  # 22001 for long values
        ("integer", "date", False),  # no assignment cast: 42804
        ("integer[]", "bigint", False),
    ],
)
def test_assignment_that_cannot_fail(source: str, target: str, fits: bool) -> None:
    assert assigns_every_value(source, target) is fits


def test_lock_lints_on_non_empty_table() -> None:
    import dataclasses

    base = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    base.apply("CREATE TABLE big (id int, v text)")
    cat = base.catalog
    big = dataclasses.replace(cat.relations[0], rows=1e6, pages=1000)
    cat = dataclasses.replace(cat, relations=(big,))
    o = Overlay(cat)
    o.apply(
        "CREATE INDEX ON big (v); ALTER TABLE big ALTER v TYPE integer USING 0;"
        " ALTER TABLE big ADD CONSTRAINT c CHECK (id > 0)"
    )
    findings = evaluate(
        o.net_changes(),
        {},
        catalog_before=cat,
        catalog_after=o.catalog,
        session=SessionFacts(lock_timeout_set=False),
    )
    rules = sorted({f.rule for f in findings})
    assert rules == ["SG201", "SG202", "SG203", "SG204"]
    assert all(f.version is None and f.severity == "risk" for f in findings)
    o2 = Overlay(cat)
    o2.apply("CREATE INDEX CONCURRENTLY ON big (v)")
    assert (
        evaluate(
            o2.net_changes(),
            {},
            catalog_before=cat,
            catalog_after=o2.catalog,
            session=SessionFacts(lock_timeout_set=True),
        )
        == []
    )


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER EVENT TRIGGER skewguard_backstop_sql_drop DISABLE",
        "ALTER EVENT TRIGGER skewguard_backstop_sql_drop ENABLE REPLICA",
        "DROP EVENT TRIGGER IF EXISTS skewguard_backstop_ddl_command_end",
        "ALTER EVENT TRIGGER skewguard_backstop_sql_drop RENAME TO x",
        "DROP SCHEMA IF EXISTS skewguard_backstop CASCADE",
        "ALTER SCHEMA skewguard_backstop RENAME TO x",
        "CREATE OR REPLACE FUNCTION skewguard_backstop.f() RETURNS event_trigger "
        "LANGUAGE plpgsql AS 'BEGIN END'",
        "DROP FUNCTION IF EXISTS skewguard_backstop.f()",
    ],
)
def test_the_backstops_own_objects_are_not_changed_through_the_proxy(
    base: CatalogSnapshot, sql: str
) -> None:
    """Disabling, dropping or replacing the backstop through the proxy left every other
    path unguarded (the statements were harmless: nothing a version uses)."""
    with pytest.raises(CannotModel) as caught:
        Overlay(base).apply(sql)
    assert "backstop" in caught.value.reason


@pytest.mark.parametrize(
    ("sql", "harmless"),
    [
        ("CREATE EVENT TRIGGER et ON ddl_command_end EXECUTE FUNCTION f()", False),
        ("ALTER EVENT TRIGGER et ENABLE", False),
        ("ALTER EVENT TRIGGER et ENABLE ALWAYS", False),
        ("ALTER EVENT TRIGGER et DISABLE", True),
        ("DROP EVENT TRIGGER IF EXISTS et", True),
        ("COMMENT ON TABLE users IS 'skewguard_backstop'", True),
    ],
)
def test_an_event_trigger_that_starts_running_is_code_at_every_later_ddl(
    base: CatalogSnapshot, sql: str, harmless: bool
) -> None:
    """An event trigger runs its function at any later DDL of any session (an installed
    function running queued commands dropped a used column at the next CREATE TABLE)."""
    if harmless:
        Overlay(base).apply(sql)
        return
    with pytest.raises(CannotModel, match="EVENT TRIGGER"):
        Overlay(base).apply(sql)


def test_create_schema_authorization_current_user_is_the_users_schema(
    base: CatalogSnapshot,
) -> None:
    """The schema takes the role's name: CURRENT_USER's is the session's user (a table
    there shadows public's for ``"$user", public``); read as a statement PostgreSQL
    rejects, the shadowing CREATE VIEW users went through."""
    elements = " CREATE TABLE users (id int) CREATE VIEW v AS SELECT 1 AS x"
    path = ("$user", "public")
    named = Overlay(base, search_path=path, user="mig")
    named.apply("CREATE SCHEMA AUTHORIZATION mig" + elements)
    current = Overlay(base, search_path=path, user="mig")
    current.apply("CREATE SCHEMA AUTHORIZATION CURRENT_USER" + elements)
    assert current.catalog.relation("mig", "users") is not None
    assert [str(c) for c in current.net_changes()] == [str(c) for c in named.net_changes()]
    with pytest.raises(CannotModel):
        Overlay(base, search_path=path).apply("CREATE SCHEMA AUTHORIZATION CURRENT_USER")
    with pytest.raises(CannotModel):
        Overlay(base, search_path=path, user="mig").apply(
            "CREATE SCHEMA AUTHORIZATION SESSION_USER" + elements
        )


ROUND10_SCHEMA = """
CREATE TABLE t (id serial PRIMARY KEY, kind text, qty int);
CREATE FUNCTION t_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER t_guard BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION t_guard();
CREATE VIEW v AS SELECT id, kind, qty FROM t WHERE qty > 0;
ALTER TABLE t ENABLE ROW LEVEL SECURITY;
CREATE POLICY p_all ON t USING (true) WITH CHECK (true);
"""


@pytest.mark.parametrize(
    ("migration", "reason", "reached"),
    [
        (
            "CREATE OR REPLACE FUNCTION t_guard() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF NEW.qty < 0 THEN RAISE EXCEPTION 'no'; END IF; RETURN NEW; END $$",
            "CREATE OR REPLACE FUNCTION public.t_guard(): what the new trigger code does",
            "public.t_guard()",  # the relations come from pg_depend in a loaded catalog
        ),
        (
            "CREATE OR REPLACE VIEW v AS SELECT id, kind, qty FROM t WHERE qty > 0"
            " WITH CHECK OPTION",
            "CREATE OR REPLACE VIEW public.v WITH CHECK OPTION",
            "public.v",
        ),
        (
            "DROP POLICY p_all ON t; CREATE POLICY p_all ON t USING (true) WITH CHECK (qty > 0)",
            "CREATE POLICY p_all ON public.t replacing p_all",
            "public.t",
        ),
        (
            "CREATE SEQUENCE s2; ALTER TABLE t ALTER COLUMN id SET DEFAULT nextval('s2')",
            "ALTER COLUMN public.t.id SET DEFAULT from public.s2",
            "public.t",
        ),
    ],
)
def test_round10_changes_judged_by_their_reach(migration: str, reason: str, reached: str) -> None:
    """What these do to a version's rows is not modelled: their reach judges them."""
    schema = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    schema.apply(ROUND10_SCHEMA)
    with pytest.raises(CannotModel) as caught:
        Overlay(schema.catalog).apply(migration)
    assert caught.value.reason.startswith(reason)
    assert caught.value.affects is not None
    assert reached in caught.value.affects.relations | caught.value.affects.functions


@pytest.mark.parametrize(
    "migration",
    [
        "CREATE OR REPLACE FUNCTION t_guard() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN NEW.kind := NEW.kind; RETURN NEW; END $$",
        "CREATE OR REPLACE VIEW v AS SELECT id, kind, qty FROM t WHERE qty > 1",
        "CREATE POLICY p_more ON t USING (true)",
        "ALTER TABLE t ALTER COLUMN qty SET DEFAULT 0",
    ],
)
def test_round10_changes_still_modelled(migration: str) -> None:
    schema = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    schema.apply(ROUND10_SCHEMA)
    Overlay(schema.catalog).apply(migration)


@pytest.mark.parametrize(
    ("migration", "order"),
    [
        ("DROP VIEW v; CREATE VIEW v AS SELECT id, price, sku FROM t", ("id", "price", "sku")),
        ("CREATE OR REPLACE VIEW v AS SELECT id, sku, price, id + 1 AS n FROM t", None),
        ("DROP VIEW v; CREATE VIEW v AS SELECT id, sku FROM t", None),
    ],
    ids=["recreated-reordered", "appended", "column-dropped"],
)
def test_a_view_recreated_with_its_columns_in_another_order_is_a_reorder(
    migration: str, order: tuple[str, ...] | None
) -> None:
    schema = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    schema.apply(
        "CREATE TABLE t (id int, sku text, price numeric);"
        " CREATE VIEW v AS SELECT id, sku, price FROM t"
    )
    changed = Overlay(schema.catalog)
    changed.apply(migration)
    found = [c.order for c in changed.net_changes() if isinstance(c, ReorderColumns)]
    assert found == ([order] if order else [])
