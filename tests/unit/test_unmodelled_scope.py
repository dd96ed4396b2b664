"""What an unmodelled statement can affect, and which footprints that touches.

A statement the overlay cannot model carries its reach (``CannotModel.affects``);
only versions whose footprint uses what it affects, in the affected way, can be
broken by it. Unknown reach (``DROP OWNED``, ``DO``) stays "every version".
"""

from __future__ import annotations

import dataclasses

import pytest

from skewguard.analysis.facets import Facet, FacetKind
from skewguard.catalog import CatalogSnapshot, Dependency
from skewguard.checking import apply_in_sequence
from skewguard.ddl import CannotModel, Overlay
from skewguard.ddl.affects import Affects, Use, touching
from skewguard.ddl.triggers import row_filler
from skewguard.footprint import Evidence, VersionKey
from skewguard.policy import Action, Mode, unjudged_decision

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email varchar(50) NOT NULL, name varchar(50),
                    full_name text, code int, nick text NOT NULL DEFAULT '', qty int,
                    CONSTRAINT code_positive CHECK (code > 0));
CREATE UNIQUE INDEX users_email_idx ON users (email);
CREATE VIEW active AS SELECT id, email FROM users;
CREATE TABLE orders (id int, user_id int REFERENCES users (id));
CREATE TABLE audit (id int, at text);
CREATE FUNCTION old_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('c', 'x'); RETURN NEW; END $$;
CREATE FUNCTION old_filler() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION score(a int) RETURNS int LANGUAGE sql AS 'SELECT a';
CREATE TABLE m (day date, v int) PARTITION BY RANGE (day);
CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TYPE mood AS ENUM ('ok');
CREATE TABLE moods (id int, m mood);
"""

SYNC = """
CREATE FUNCTION sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
    NEW.full_name := NEW.name;
  END IF;
  RETURN NEW;
END $$;
"""


@pytest.fixture(scope="module")
def base() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return overlay.catalog


def unmodelled(base: CatalogSnapshot, sql: str) -> CannotModel:
    with pytest.raises(CannotModel) as caught:
        Overlay(base).apply(sql)
    return caught.value


def trigger_on(table: str, body: str, when: str = "BEFORE INSERT OR UPDATE") -> str:
    return (
        "CREATE FUNCTION fill() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{body} RETURN NEW; END $$;\n"
        f"CREATE TRIGGER fill {when} ON {table} FOR EACH ROW EXECUTE FUNCTION fill()"
    )


def fp(*keys: str) -> dict[Facet, Evidence]:
    return {Facet.from_key(k): Evidence(1, 0.0, 0.0, "") for k in keys}


V1, V2, V3 = (VersionKey("db", "app", v) for v in ("1", "2", "3"))


# --- trigger functions that only fill NEW's fields ------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "NEW.full_name := NEW.name; RETURN NEW;",
        "NEW.full_name = coalesce(NEW.full_name, NEW.name); RETURN NEW;",
        "IF NEW.full_name IS NULL THEN NEW.full_name := NEW.name; END IF; RETURN NEW;",
        "IF TG_OP = 'UPDATE' AND NEW.a IS DISTINCT FROM OLD.a THEN NEW.b := NULL;"
        " ELSIF NOT (NEW.c IS NULL) THEN NEW.d := 'x'; ELSE NEW.e := OLD.e; END IF; RETURN NEW;",
        "BEGIN NEW.a := NEW.b; END; RETURN NEW;",
    ],
)
def test_a_body_that_only_fills_new_is_read(body: str) -> None:
    assert row_filler("plpgsql", f"BEGIN {body} END") is not None


@pytest.mark.parametrize(
    "body",
    [
        "INSERT INTO audit VALUES (1); RETURN NEW;",
        "RAISE EXCEPTION 'no'; RETURN NEW;",
        "NEW.code := NEW.code + 1; RETURN NEW;",
        "NEW.full_name := lower(NEW.name); RETURN NEW;",
        "NEW.full_name := NEW.name::text; RETURN NEW;",
        "NEW.full_name := NEW.name; RETURN NULL;",
        "NEW.full_name := NEW.name; RETURN OLD;",
        "OLD.full_name := NEW.name; RETURN NEW;",
        "EXECUTE 'SELECT 1'; RETURN NEW;",
        "PERFORM pg_sleep(1); RETURN NEW;",
        "IF NEW.code > 0 THEN NEW.full_name := NEW.name; END IF; RETURN NEW;",
        "NEW.full_name := (SELECT email FROM users LIMIT 1); RETURN NEW;",
        "BEGIN NEW.a := NEW.b; EXCEPTION WHEN others THEN NULL; END; RETURN NEW;",
    ],
)
def test_anything_else_in_the_body_is_not(body: str) -> None:
    assert row_filler("plpgsql", f"BEGIN {body} END") is None


@pytest.mark.parametrize(
    "declare", ["n int := pg_sleep(1);", "n int NOT NULL;", "n int DEFAULT 1 / 0;"]
)
def test_a_variable_initialised_on_entry_is_code(declare: str) -> None:
    assert row_filler("plpgsql", f"DECLARE {declare} BEGIN RETURN NEW; END") is None
    assert row_filler("plpgsql", "DECLARE n int; BEGIN RETURN NEW; END") is not None


def test_a_body_that_only_returns_new_fills_nothing() -> None:
    filler = row_filler("plpgsql", "BEGIN RETURN NEW; END")
    assert filler is not None and filler.assignments == ()


def test_only_plpgsql_is_read() -> None:
    assert row_filler("sql", "SELECT 1") is None
    assert row_filler("plpgsql", "not plpgsql at all") is None


def test_a_dual_write_trigger_is_harmless(base: CatalogSnapshot) -> None:
    overlay = Overlay(base)
    overlay.apply(SYNC)
    overlay.apply(
        "CREATE TRIGGER sync BEFORE INSERT OR UPDATE ON users "
        "FOR EACH ROW WHEN (NEW.full_name IS NULL) EXECUTE FUNCTION sync()"
    )
    assert [str(c) for c in overlay.net_changes()] == ["CreateFunction(public.sync())"]


def with_trigger(base: CatalogSnapshot, body: str, table: str = "users") -> CatalogSnapshot:
    """``base`` where ``table`` already has trigger ``fill`` running a function with ``body``
    (as a snapshot read from PostgreSQL has it: the body, and the pg_depend edge)."""
    overlay = Overlay(base)
    overlay.apply(
        "CREATE FUNCTION fill() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{body} RETURN NEW; END $$"
    )
    edge = Dependency("trigger", f"public.{table}", "fill", "function", "public.fill()")
    return dataclasses.replace(overlay.catalog, dependencies=(*overlay.catalog.dependencies, edge))


def test_dropping_an_existing_filler_of_unchecked_columns_is_modelled(
    base: CatalogSnapshot,
) -> None:
    overlay = Overlay(with_trigger(base, "NEW.full_name := NEW.name;"))
    overlay.apply("DROP TRIGGER fill ON users; DROP FUNCTION fill()")
    assert [str(c) for c in overlay.net_changes()] == ["DropFunction(public.fill())"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("NEW.nick := NEW.name;", "fills nick, which is NOT NULL"),
        ("NEW.code := NEW.qty;", "fills code, which a constraint or unique index checks"),
        ("RAISE EXCEPTION 'no';", "what the trigger did is not modelled"),
    ],
)
def test_dropping_an_existing_trigger_writes_may_need_is_not_modelled(
    base: CatalogSnapshot, body: str, why: str
) -> None:
    exc = unmodelled(with_trigger(base, body), "DROP TRIGGER fill ON users")
    assert why in exc.reason
    assert exc.affects is not None and exc.affects.relations


def test_dropping_a_trigger_next_to_another_is_not_modelled(base: CatalogSnapshot) -> None:
    snapshot = with_trigger(base, "NEW.full_name := NEW.name;")
    other = Dependency("trigger", "public.users", "other", "function", "public.fill()")
    snapshot = dataclasses.replace(snapshot, dependencies=(*snapshot.dependencies, other))
    exc = unmodelled(snapshot, "DROP TRIGGER fill ON users")
    assert "other triggers, rules or policies" in exc.reason


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE users DROP COLUMN name",
        "ALTER TABLE users RENAME COLUMN name TO label",
        "ALTER TABLE users DROP COLUMN full_name",
    ],
)
def test_a_column_an_existing_trigger_function_names_is_not_dropped_silently(
    base: CatalogSnapshot, sql: str
) -> None:
    exc = unmodelled(with_trigger(base, "NEW.full_name := NEW.name;"), sql)
    assert "the function of trigger fill names it" in exc.reason


def test_other_columns_and_a_dropped_trigger_leave_column_drops_alone(
    base: CatalogSnapshot,
) -> None:
    snapshot = with_trigger(base, "NEW.full_name := NEW.name;")
    Overlay(snapshot).apply("ALTER TABLE users DROP COLUMN qty")
    Overlay(snapshot).apply(
        "DROP TRIGGER fill ON users; DROP FUNCTION fill(); ALTER TABLE users DROP COLUMN name"
    )


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("NEW.qty := NEW.name;", "copies name (character varying(50)) into integer"),
        ("NEW.name := NEW.full_name;", "copies full_name (text) into character varying(50)"),
        ("NEW.email := NEW.full_name;", "a constraint or unique index checks"),
        ("NEW.code := NULL;", "a constraint or unique index checks"),  # CHECK (code > 0)
        ("NEW.nick := NEW.name;", "may be NULL and the column is NOT NULL"),
        ("NEW.id := NULL;", "assigns id, which a constraint or unique index checks"),
        ("NEW.missing := NEW.name;", "which public.users does not have"),
        ("IF NEW.missing IS NULL THEN NEW.full_name := NULL; END IF;", "does not have"),
        ("IF NEW.name = NEW.code THEN NEW.full_name := NULL; END IF;", "of different types"),
    ],
)
def test_a_filler_that_may_fail_a_write_is_not_harmless(
    base: CatalogSnapshot, body: str, why: str
) -> None:
    exc = unmodelled(base, trigger_on("users", body))
    assert why in exc.reason
    assert exc.affects is not None and exc.affects.use is Use.WRITES
    assert exc.affects.target == "public.users"


@pytest.mark.parametrize(
    "when",
    [
        "AFTER INSERT",
        "BEFORE DELETE",
        "BEFORE INSERT OR TRUNCATE",
        "BEFORE INSERT OR UPDATE",  # FOR EACH STATEMENT below
    ],
)
def test_only_before_row_insert_update_triggers_are_read(base: CatalogSnapshot, when: str) -> None:
    sql = trigger_on("users", "NEW.full_name := NEW.name;", when)
    if when == "BEFORE INSERT OR UPDATE":
        sql = sql.replace("FOR EACH ROW", "FOR EACH STATEMENT")
    exc = unmodelled(base, sql)
    assert "what its function does to writes is not modelled" in exc.reason


def test_a_function_made_before_this_transaction_is_read_from_the_catalog(
    base: CatalogSnapshot,
) -> None:
    overlay = Overlay(base)  # old_filler only returns NEW: harmless
    overlay.apply(
        "CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION old_filler()"
    )
    assert overlay.net_changes() == []
    exc = unmodelled(
        with_trigger(base, "RAISE EXCEPTION 'no';"),
        "CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION fill()",
    )
    assert "only PL/pgSQL functions that just fill NEW's fields are read" in exc.reason


def test_a_rolled_back_filler_is_forgotten(base: CatalogSnapshot) -> None:
    overlay = Overlay(base)
    overlay.apply(SYNC)
    overlay.savepoint("a")
    overlay.apply(
        SYNC.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
            "NEW.full_name := NEW.name;", "NEW.code := NEW.name;"
        )
    )
    overlay.rollback_to("a")
    overlay.apply("CREATE TRIGGER s BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION sync()")
    overlay.savepoint("b")
    overlay.apply(
        SYNC.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
            "NEW.full_name := NEW.name;", "NEW.code := NEW.name;"
        )
    )
    with pytest.raises(CannotModel):
        overlay.apply(
            "CREATE TRIGGER s2 BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION sync()"
        )


# --- the reach of each kind of statement -----------------------------------------------


def test_a_trigger_reaches_the_writers_of_its_table_and_what_writes_through_it(
    base: CatalogSnapshot,
) -> None:
    exc = unmodelled(
        base, "CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION old_trigger()"
    )
    assert exc.affects is not None
    assert exc.affects.use is Use.WRITES
    # orders' foreign key: deleting users may cascade into orders; active is a view over users
    assert exc.affects.relations == {"public.orders", "public.users", "public.active"}
    assert "public.score(integer)" in exc.affects.functions  # a function body may write it
    audit = unmodelled(
        base, "CREATE TRIGGER t BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION old_trigger()"
    )
    assert audit.affects is not None and audit.affects.relations == {"public.audit"}


@pytest.mark.parametrize(
    ("sql", "use", "relations"),
    [
        ("DROP TRIGGER t ON audit", Use.WRITES, {"public.audit"}),
        ("ALTER TABLE audit DISABLE TRIGGER ALL", Use.WRITES, {"public.audit"}),
        ("ALTER TABLE audit REPLICA IDENTITY NOTHING", Use.WRITES, {"public.audit"}),
        (
            "ALTER SEQUENCE users_id_seq RESTART WITH 1",
            Use.WRITES,
            {"public.users_id_seq", "public.users", "public.active"},
        ),
        ("REVOKE SELECT (at) ON audit FROM PUBLIC", Use.READS, {"public.audit"}),
        ("REVOKE UPDATE (at) ON audit FROM PUBLIC", Use.WRITES, {"public.audit"}),
        ("ALTER VIEW active SET (check_option = local)", Use.WRITES, {"public.active"}),
        ("ALTER VIEW active SET (security_invoker = true)", Use.ANY, {"public.active"}),
        ("REVOKE USAGE ON TYPE mood FROM PUBLIC", Use.ANY, {"public.moods"}),
        # rows reach a partition through its parent, and a parent's trigger is cloned
        ("DROP TRIGGER t ON m_1", Use.WRITES, {"public.m", "public.m_1"}),
        ("DROP TRIGGER t ON m", Use.WRITES, {"public.m", "public.m_1"}),
    ],
)
def test_statements_on_one_relation_reach_it(
    base: CatalogSnapshot, sql: str, use: Use, relations: set[str]
) -> None:
    exc = unmodelled(base, sql)
    assert exc.affects is not None, exc.reason
    assert exc.affects.use is use
    assert exc.affects.relations == relations


def test_function_changes_reach_their_callers(base: CatalogSnapshot) -> None:
    for sql in (
        "ALTER FUNCTION score(int) SET search_path = ''",
        "ALTER FUNCTION score(int) STRICT",
        "ALTER FUNCTION score OWNER TO someone",
        "REVOKE EXECUTE ON FUNCTION score(int) FROM PUBLIC",
    ):
        exc = unmodelled(base, sql)
        assert exc.affects is not None, sql
        assert exc.affects.target == "public.score(integer)"
        assert "public.score(integer)" in exc.affects.functions
    for harmless in ("ALTER FUNCTION score(int) COST 5", "ALTER FUNCTION score(int) STABLE"):
        assert Overlay(base).apply(harmless) == []


def test_role_settings_reach_the_sessions_of_that_role(base: CatalogSnapshot) -> None:
    exc = unmodelled(base, "ALTER ROLE app_rw SET statement_timeout = '1s'")
    assert exc.affects == Affects(Use.ANY, "role app_rw", roles=frozenset({"app_rw"}))
    assert unmodelled(base, "ALTER ROLE app_rw NOLOGIN").affects == exc.affects
    assert Overlay(base).apply("ALTER ROLE app_rw SET work_mem = '64MB'") == []


@pytest.mark.parametrize(
    "sql",
    [
        "DROP OWNED BY app",
        "REASSIGN OWNED BY app TO other",
        "DO $$ BEGIN END $$",
        "ALTER ROLE ALL SET statement_timeout = '1s'",
        "ALTER ROLE app_rw IN DATABASE other SET statement_timeout = '1s'",
        "ALTER DATABASE db SET statement_timeout = '1s'",
        "REVOKE app_rw FROM app",
        "DROP ROLE app",
        "ALTER EXTENSION citext UPDATE",
        "ALTER SYSTEM SET statement_timeout = '1s'",
        # a second subcommand's effect would be lost with it: unknown
        "ALTER TABLE audit DISABLE TRIGGER ALL, ADD COLUMN z int",
    ],
)
def test_statements_whose_reach_is_unknown(base: CatalogSnapshot, sql: str) -> None:
    assert unmodelled(base, sql).affects is None


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER SEQUENCE users_id_seq OWNED BY users.id",
        "ALTER SEQUENCE users_id_seq CACHE 10",
        "ALTER TABLE users REPLICA IDENTITY FULL",
        "ALTER TABLE users REPLICA IDENTITY DEFAULT",  # it has a primary key
        "ALTER TABLE users SET (fillfactor = 70)",
        "ALTER TABLE users SET UNLOGGED",
        "ALTER SYSTEM SET work_mem = '64MB'",
        "COMMENT ON TABLE users IS 'x'",
        "CREATE STATISTICS s ON email, name FROM users",
        "GRANT SELECT ON users TO PUBLIC",
        "SECURITY LABEL ON TABLE users IS 'x'",
        "CLUSTER users USING users_pkey",
        "VACUUM ANALYZE users",
        "REINDEX TABLE users",
        "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (id) REFERENCES users (id) NOT VALID",
    ],
)
def test_common_migration_steps_are_modelled_or_harmless(base: CatalogSnapshot, sql: str) -> None:
    Overlay(base).apply(sql)  # no CannotModel


# --- applying past a statement with a known reach --------------------------------------


def test_apply_goes_on_past_a_statement_with_a_known_reach(base: CatalogSnapshot) -> None:
    overlay = Overlay(base)
    seen: list[CannotModel] = []
    overlay.apply(
        "CREATE TRIGGER t BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION old_trigger();"
        "ALTER TABLE users DROP COLUMN code",
        on_unmodelled=seen.append,
    )
    assert [e.reason.split(":")[0] for e in seen] == ["CREATE TRIGGER t on public.audit"]
    assert [str(c) for c in overlay.net_changes()] == [
        "DropColumn(public.users.code)",
        "DropConstraint(public.users.code_positive)",
    ]
    with pytest.raises(CannotModel):  # unknown reach: still raised
        overlay.apply("DROP OWNED BY app", on_unmodelled=seen.append)


def test_check_applies_in_sequence_past_a_statement_with_a_known_reach(
    base: CatalogSnapshot,
) -> None:
    overlay = Overlay(base)
    seen: list[CannotModel] = []
    applied = apply_in_sequence(
        overlay,
        "DROP TRIGGER t ON audit;\nALTER TABLE users DROP COLUMN qty;",
        on_unmodelled=seen.append,
    )
    assert len(seen) == 1 and applied.rejected == []
    assert [str(c) for c in applied.origins] == ["DropColumn(public.users.qty)"]


# --- footprints touched ----------------------------------------------------------------


def test_touching_follows_the_use() -> None:
    writers_of_users = Affects(
        Use.WRITES, "public.users", frozenset({"public.users", "public.active"})
    )
    footprints = {
        V1: fp("relation_read:public.users", "column_read:public.users.email"),
        V2: fp("relation_write:public.active", "insert_shape:public.active(email)"),
        V3: fp("relation_read:public.orders", "copy_in:public.users(email)"),
    }
    hits = touching(writers_of_users, footprints)
    assert set(hits) == {V2, V3}
    assert hits[V3] == Facet(FacetKind.COPY_IN, "public.users(email)")
    readers = Affects(Use.READS, "public.users", frozenset({"public.users"}))
    assert set(touching(readers, footprints)) == {V1}
    assert set(touching(None, footprints)) == {V1, V2, V3}


def test_touching_through_functions_insert_select_and_roles() -> None:
    footprints = {
        V1: fp("function:public.score(integer)", "role:app_rw"),
        V2: fp("insert_select_star:public.archive<public.users", "role:other"),
        V3: fp("relation_read:public.audit"),  # no role recorded: it may be any role
    }
    by_function = Affects(Use.WRITES, "t", frozenset(), frozenset({"public.score(integer)"}))
    assert set(touching(by_function, footprints)) == {V1}
    archive_writers = Affects(Use.WRITES, "a", frozenset({"public.archive"}))
    users_readers = Affects(Use.READS, "u", frozenset({"public.users"}))
    users_writers = Affects(Use.WRITES, "u", frozenset({"public.users"}))
    assert set(touching(archive_writers, footprints)) == {V2}
    assert set(touching(users_readers, footprints)) == {V2}
    assert touching(users_writers, footprints) == {}
    role = Affects(Use.ANY, "role app_rw", roles=frozenset({"app_rw"}))
    assert set(touching(role, footprints)) == {V1, V3}
    schema = Affects(Use.ANY, "schema public", schemas=frozenset({"public"}))
    assert set(touching(schema, footprints)) == {V1, V2, V3}


def test_a_scoped_refusal_names_the_versions_and_says_when_it_can_run() -> None:
    decision = unjudged_decision(
        "unmodelled",
        "CREATE TRIGGER t on public.users: not modelled (it can affect writers of public.users)",
        mode=Mode.ENFORCE,
        on_error="block",
        users=["app@2 (relation_write:public.users)"],
    )
    assert decision.action is Action.BLOCK and decision.error is not None
    message, detail, hint = decision.error
    assert message.startswith("skewguard: cannot judge this statement: CREATE TRIGGER t")
    assert detail.endswith("using what it affects: app@2 (relation_write:public.users).")
    assert "once they are retired" in hint
    unscoped = unjudged_decision("unmodelled", "DO block", mode=Mode.ENFORCE, on_error="block")
    assert unscoped.error is not None and "Protected versions" not in unscoped.error[1]
