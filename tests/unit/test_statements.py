"""What statements do to the session: the hot-path sniff and the parsed effects."""

from __future__ import annotations

import pytest

from skewguard.catalog import CatalogSnapshot, FuncKind, Function
from skewguard.guard import plain_procedure
from skewguard.statements import (
    ApplicationNameChange,
    Kind,
    called_procedure,
    needs_reading,
    read_script,
    runs_only_plain_sql,
)


@pytest.mark.parametrize(
    ("sql", "hit"),
    [
        (b"SELECT abalance FROM pgbench_accounts WHERE aid = 1;", False),
        (b"  /* app */ INSERT INTO t VALUES (1)", False),
        (b"-- note\nupdate t set a = 1", False),
        (b"WITH x AS (SELECT 1) SELECT * FROM x", False),
        (b"select comment from posts", False),
        (b"SELECT case when a then 1 end FROM t", False),
        (b"ALTER TABLE users DROP COLUMN email", True),
        (b'/* skewguard:allow reason="x" */ DROP TABLE t', True),
        (b"create index on t (a)", True),
        (b"BEGIN", True),
        (b"commit", True),
        (b"SELECT 1; DROP TABLE t", True),
        (b"SET application_name = 'a@1'", True),
        (b"select set_config('application_name', 'a@1', false)", True),
        (b"SELECT * FROM t WHERE search_path = 1", False),
        (b"SELECT SET_CONFIG('search_path', 'app', false)", True),
        (b"SELECT id INTO shadow.users FROM users", True),  # creates a table
        (b"with x as (select 1) select * into t from x", True),
        (b"EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1", True),  # runs what it explains
        (b"COPY t FROM PROGRAM 'psql -c ...'", True),
        (b"COPY t FROM STDIN", False),
        (b"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", True),  # one parse, harmless
        (b"", True),
    ],
)
def test_needs_reading(sql: bytes, hit: bool) -> None:
    assert needs_reading(sql) is hit


def test_kinds_and_texts_in_order() -> None:
    script = read_script(
        "BEGIN; ALTER TABLE t ADD COLUMN x int; SAVEPOINT s1; DROP TABLE u; "
        "ROLLBACK TO SAVEPOINT s1; RELEASE s1; COMMIT"
    )
    assert [(s.kind, s.savepoint) for s in script.statements] == [
        (Kind.BEGIN, ""),
        (Kind.DDL, ""),
        (Kind.SAVEPOINT, "s1"),
        (Kind.DDL, ""),
        (Kind.ROLLBACK_TO, "s1"),
        (Kind.RELEASE, "s1"),
        (Kind.COMMIT, ""),
    ]
    assert script.statements[1].text == "ALTER TABLE t ADD COLUMN x int"
    assert script.has_ddl and script.has_transaction_control


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", Kind.BEGIN),
        ("END", Kind.COMMIT),
        ("PREPARE TRANSACTION 'x'", Kind.COMMIT),
        ("ABORT", Kind.ROLLBACK),
        ("SELECT 1", Kind.OTHER),
        ("TRUNCATE t", Kind.OTHER),
        ("GRANT SELECT ON t TO r", Kind.DDL),
        ("CREATE TABLE t AS SELECT 1", Kind.DDL),
        ("DO $$ BEGIN EXECUTE $q$DROP TABLE t$q$; END $$", Kind.DDL),
        ("DO $$ BEGIN EXECUTE format('DROP TABLE %I', current_user); END $$", Kind.OPAQUE),
        ("DO $$ DECLARE t text := 't'; BEGIN EXECUTE 'DROP TABLE ' || t; END $$", Kind.OPAQUE),
        ("DO $$ BEGIN EXECUTE format('DROP TABLE %I', 't'); END $$", Kind.DDL),  # constants
        ("DO $$ DECLARE q text := 'DROP TABLE t'; BEGIN EXECUTE q; END $$", Kind.OPAQUE),
        ("DO $$ BEGIN EXECUTE 'COMMIT'; END $$", Kind.OPAQUE),
        ("DO $$ BEGIN END $$", Kind.OTHER),
        ("SELECT 1 AS a INTO t", Kind.DDL),
        ("EXPLAIN ANALYZE SELECT 1 AS a INTO t", Kind.DDL),
        ("EXPLAIN (ANALYZE on) CREATE TABLE t AS SELECT 1", Kind.DDL),
        ("EXPLAIN CREATE TABLE t AS SELECT 1", Kind.OTHER),  # planned, not run
        ("EXPLAIN (ANALYZE false) SELECT 1 AS a INTO t", Kind.OTHER),
        ("COPY t FROM PROGRAM 'cat /tmp/x'", Kind.OPAQUE),  # a shell command may do anything
        ("COPY (SELECT 1) TO PROGRAM 'cat'", Kind.OPAQUE),
        ("COPY t FROM STDIN", Kind.OTHER),
    ],
)
def test_statement_kind(sql: str, kind: Kind) -> None:
    assert [s.kind for s in read_script(sql).statements] == [kind]


@pytest.mark.parametrize(
    ("sql", "texts"),
    [
        (
            "DO $$ BEGIN EXECUTE 'ALTER TABLE t DROP COLUMN c'; END $$",
            ["ALTER TABLE t DROP COLUMN c"],
        ),
        ("DO $$ BEGIN EXECUTE 'DROP TABLE'; END $$", None),  # not SQL: opaque
        (
            "DO $$ BEGIN IF true THEN EXECUTE 'SELECT 1; DROP VIEW v'; END IF;"
            " CREATE INDEX i ON t (c); END $$",
            ["DROP VIEW v", "CREATE INDEX i ON t (c)"],
        ),
    ],
)
def test_execute_of_a_constant_string_is_read_as_sql(sql: str, texts: list[str] | None) -> None:
    """EXECUTE 'literal' in a DO block: the literal as PostgreSQL reads it, one by one."""
    statements = read_script(sql).statements
    if texts is None:
        assert [s.kind for s in statements] == [Kind.OPAQUE]
    else:
        assert [(s.kind, s.text) for s in statements] == [(Kind.DDL, t) for t in texts]
        assert all(s.node is not None for s in statements)


@pytest.mark.parametrize(
    ("sql", "change"),
    [
        ("SET application_name = 'shop@2'", ApplicationNameChange("shop@2")),
        ("SET SESSION application_name TO 'shop@3'", ApplicationNameChange("shop@3")),
        ("RESET application_name", ApplicationNameChange(reset=True)),
        ("SET application_name TO DEFAULT", ApplicationNameChange(reset=True)),
        ("RESET ALL", ApplicationNameChange(reset=True)),
        ("DISCARD ALL", ApplicationNameChange(reset=True)),
        ("SET LOCAL application_name = 'tx@1'", None),
        ("SELECT set_config('application_name', 'f@1', false)", ApplicationNameChange("f@1")),
        ("SELECT set_config('application_name', 'f@1', true)", None),
        (
            "SET application_name = 'a@1'; SET application_name = 'b@2'",
            ApplicationNameChange("b@2"),
        ),
        ("SELECT 1", None),
    ],
)
def test_application_name_change(sql: str, change: ApplicationNameChange | None) -> None:
    assert read_script(sql).application_name == change


@pytest.mark.parametrize(
    ("sql", "override", "lock_timeout"),
    [
        ("SET skewguard.allow = 'hotfix INC-1'", "hotfix INC-1", None),
        ("RESET skewguard.allow", "", None),
        ("SET lock_timeout = '2s'", None, True),
        ("SET lock_timeout = 0", None, False),
        ("RESET lock_timeout", None, False),
        ("SET LOCAL lock_timeout = '1s'", None, True),
    ],
)
def test_override_and_lock_timeout(
    sql: str, override: str | None, lock_timeout: bool | None
) -> None:
    (statement,) = read_script(sql).statements
    assert (statement.override, statement.lock_timeout) == (override, lock_timeout)


def test_unparseable_text_keeps_a_guess() -> None:
    script = read_script("ALTER TABEL users DROP COLUMN email")
    assert script.error is not None and script.looks_like_ddl
    assert not read_script("SELEC 1").looks_like_ddl


@pytest.mark.parametrize(
    ("sql", "moves"),
    [
        ("SET ROLE app", True),
        ("SET LOCAL ROLE app", True),
        ("RESET ROLE", True),
        ("SET SESSION AUTHORIZATION app", True),
        ("RESET ALL", True),
        ("DISCARD ALL", True),
        ("SELECT set_config('role', 'app', false)", True),
        ("SELECT set_config(lower('ROLE'), 'app', false)", True),  # may be role
        ("SELECT set_config('work_mem', '1MB', false)", False),
        ("SET work_mem = '1MB'", False),
    ],
)
def test_role_changes_are_followed(sql: str, moves: bool) -> None:
    """current_user names the "$user" schema of search_path: the relay must know it moved."""
    assert read_script(sql).moves_role is moves


DROP_IN = "ALTER TABLE users DROP COLUMN email"


@pytest.mark.parametrize(
    ("sql", "runs_code"),
    [
        (f"CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN {DROP_IN}; END $$", True),
        (f"CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ {DROP_IN} $$", True),
        (f"CREATE FUNCTION f() RETURNS void AS '{DROP_IN}' LANGUAGE SQL", True),
        (
            "CREATE FUNCTION f(t text) RETURNS void LANGUAGE plpgsql AS "
            "$$ BEGIN EXECUTE format('SELECT 1 FROM %I', t); END $$",
            True,  # a computed EXECUTE: what it runs is unknown
        ),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE c AS 'lib', 'sym'", True),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS $$ return 1 $$", True),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", False),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1", False),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END", False),
        (
            "CREATE FUNCTION fill() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN NEW.b := NEW.a; RETURN NEW; END $$",
            False,  # a dual-write trigger: no DDL
        ),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS "
            "$$ BEGIN EXECUTE 'SELECT 1'; END $$",
            False,  # a constant EXECUTE is read
        ),
        (f"CREATE PROCEDURE p() LANGUAGE sql AS $$ {DROP_IN} $$", False),  # CALL is opaque
    ],
)
def test_a_function_that_may_run_ddl_when_called_is_opaque(sql: str, runs_code: bool) -> None:
    """The proxy sees only the call (a SELECT, a trigger, a rule, a view) of such code."""
    (statement,) = read_script(sql).statements
    assert statement.kind is Kind.DDL and statement.runs_code is runs_code


@pytest.mark.parametrize(
    ("language", "source", "plain"),
    [
        ("sql", "UPDATE users SET legacy = 't' WHERE id = i", True),
        ("sql", "", True),  # BEGIN ATOMIC: its source is empty, and it cannot hold DDL
        ("sql", "ALTER TABLE users ADD COLUMN c int", False),
        ("plpgsql", "BEGIN UPDATE t SET a = 1; PERFORM pg_sleep(0); END", True),
        ("plpgsql", "BEGIN ALTER TABLE t ADD COLUMN c int; END", False),
        ("plpgsql", "BEGIN EXECUTE 'DROP ' || t; END", False),
        ("plpgsql", "BEGIN EXECUTE 'DROP TABLE ' || 't'; END", False),
        ("plpgsql", "BEGIN COMMIT; END", False),
        ("plpgsql", "BEGIN CALL other(); END", False),
        ("plpgsql", "BEGIN RAISE NOTICE '$skewguard$'; END", True),
        ("plpython3u", "pass", False),
    ],
)
def test_a_procedure_body_runs_only_plain_sql(language: str, source: str, plain: bool) -> None:
    assert runs_only_plain_sql(language, source) is plain


def test_called_procedure_reads_a_lone_call() -> None:
    assert called_procedure("CALL app.touch(1, 'a')") == ("app", "touch")
    assert called_procedure("call touch()") == ("touch",)
    assert called_procedure("CALL a(); CALL b()") is None
    assert called_procedure("SELECT 1") is None


def _procedure(name: str, source: str, kind: FuncKind = FuncKind.PROCEDURE) -> Function:
    body = ("sql", source) if kind is FuncKind.PROCEDURE else None
    return Function("public", name, ("integer",), "void", kind, body=body)


def test_a_call_is_plain_only_when_every_overload_it_may_reach_is() -> None:
    catalog = CatalogSnapshot(
        functions=(
            _procedure("touch", "UPDATE t SET a = i"),
            _procedure("grow", "UPDATE t SET a = i"),
            _procedure("grow", "ALTER TABLE t ADD COLUMN b int"),
            _procedure("f", "", FuncKind.FUNCTION),
        )
    )
    path = ("public",)
    assert plain_procedure(catalog, ("touch",), path)
    assert plain_procedure(catalog, ("public", "touch"), ())
    assert not plain_procedure(catalog, ("grow",), path)
    assert not plain_procedure(catalog, ("missing",), path)
    assert not plain_procedure(catalog, ("touch",), ("app",))
    assert not plain_procedure(catalog, ("f",), path)


@pytest.mark.parametrize(
    ("sql", "kind", "runs_code"),
    [
        ("SELECT dblink_exec('c', 'DROP TABLE users')", Kind.OPAQUE, False),
        ("SELECT DBLINK_EXEC('c', 'ALTER TABLE users ' || 'DROP email')", Kind.OPAQUE, False),
        ("SELECT dblink_send_query('c', $$CREATE INDEX i ON t (a)$$)", Kind.OPAQUE, False),
        ("SELECT * FROM dblink('c', 'SELECT 1', true) AS t(a int)", Kind.OTHER, False),
        ("DO $$ BEGIN PERFORM dblink('c', 'SELECT 1'); END $$", Kind.OPAQUE, False),
        ("CREATE VIEW v AS SELECT dblink_exec('c', 'DROP TABLE u')", Kind.DDL, True),
        ("ALTER TABLE t ADD z text DEFAULT dblink_exec('c', 'DROP TABLE u')", Kind.DDL, True),
        ("ALTER FUNCTION dblink_exec(text, text) RENAME TO harmless", Kind.DDL, True),
        ("ALTER FUNCTION f() RENAME TO g", Kind.DDL, False),
        # pg_cron runs a job's command later in a session of its own, pg_background in
        # a background worker: both past the proxy, judged like dblink's SQL
        ("SELECT cron.schedule('j', '* * * * *', 'DROP TABLE users')", Kind.OPAQUE, False),
        ("SELECT cron.schedule('*/5 * * * *', $$ALTER TABLE u DROP e$$)", Kind.OPAQUE, False),
        ("SELECT schedule_in_database('j', '1 0 * * *', 'DROP TABLE u', 'db')", Kind.OPAQUE, False),
        ("SELECT cron.alter_job(7, command := 'DROP TABLE users')", Kind.OPAQUE, False),
        ("SELECT cron.alter_job(7, NULL, NULL, NULL, NULL, active := false)", Kind.OTHER, False),
        ("SELECT cron.schedule('nightly', '0 3 * * *', 'VACUUM users')", Kind.OTHER, False),
        ("SELECT cron.schedule('j', '* * * * *', 'DROP ' || 'TABLE users')", Kind.OPAQUE, False),
        ("SELECT pg_background_launch('ALTER TABLE users DROP email')", Kind.OPAQUE, False),
        ("SELECT pg_background_launch('DELETE FROM users WHERE false')", Kind.OTHER, False),
        ("SELECT pg_background_launch_v2('CREATE INDEX ON t (a)')", Kind.OPAQUE, False),
        ("DO $$ BEGIN PERFORM cron.schedule('j', '* * * * *', 'x'); END $$", Kind.OPAQUE, False),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
            " PERFORM pg_background_launch('SELECT 1'); END $$",
            Kind.DDL,
            True,
        ),
        ("ALTER FUNCTION cron.schedule(text, text) RENAME TO harmless", Kind.DDL, True),
        # a trigger argument an installed function may EXECUTE (TG_ARGV) at the next write
        (
            "CREATE TRIGGER t BEFORE INSERT ON s FOR EACH ROW EXECUTE FUNCTION run('DROP TABLE u')",
            Kind.DDL,
            True,
        ),
        (
            "CREATE TRIGGER t BEFORE INSERT ON s FOR EACH ROW EXECUTE FUNCTION log('users', 3)",
            Kind.DDL,
            False,
        ),
        # stored code handing an installed generic function a DDL text (EXECUTE sql)
        ("CREATE RULE r AS ON INSERT TO s DO ALSO SELECT run('DROP TABLE u')", Kind.DDL, True),
        ("ALTER TABLE s ADD c int DEFAULT run(sql => 'ALTER TABLE u DROP e')", Kind.DDL, True),
        ("CREATE VIEW v AS SELECT run($$DROP TABLE u$$)", Kind.DDL, True),
        ("ALTER TABLE s ADD c text DEFAULT lower('drop it')", Kind.DDL, False),
        ("CREATE RULE r AS ON INSERT TO s DO ALSO SELECT log('users', 3)", Kind.DDL, False),
    ],
)
def test_sql_sent_through_dblink_is_read_as_what_it_may_run(
    sql: str, kind: Kind, runs_code: bool
) -> None:
    assert needs_reading(sql.encode())
    (statement,) = read_script(sql).statements
    assert (statement.kind, statement.runs_code) == (kind, runs_code)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; ALTER TABLE users DROP COLUMN email; -- " + "x" * 200,
        "/* " + "x" * 200 + " */ ALTER TABLE users DROP COLUMN email",
        "SELECT 1; SELECT 2; -- " + "x" * 200,
    ],
    ids=["select-then-drop", "comment-then-drop", "two-selects"],
)
def test_a_text_too_large_to_read_may_be_ddl(sql: str) -> None:
    """Past the limit nothing is parsed; the first word ('select') once made such a text
    harmless, and the DROP after it ran unjudged."""
    script = read_script(sql, limit=100)
    assert script.too_large
    assert script.looks_like_ddl
