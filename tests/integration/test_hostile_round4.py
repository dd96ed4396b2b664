"""Hostile clients, round 4: each test is an attack that once got past the guard and
must not any more. PostgreSQL is the judge: after each attempt the column a live
version reads must still exist (or the version's own statement must still work)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration

DROP = "ALTER TABLE users DROP COLUMN email"
SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text, name text);
INSERT INTO users (email, name) VALUES ('a@x', 'Ann');
CREATE TABLE scratch (a int);
"""


@dataclass
class Target:
    cluster: LocalCluster
    database: str
    proxy: ProxyProcess

    def client(self, **extra: str) -> rc.RawClient:
        client = rc.RawClient("127.0.0.1", self.proxy.port, timeout=15)
        params = {"user": "postgres", "database": self.database, "application_name": "migrate"}
        replies = client.startup(params | extra)
        assert replies[-1].type == "Z", replies
        return client

    def direct(self) -> psycopg.Connection[tuple[object, ...]]:
        return direct(self.cluster, dbname=self.database)

    def live(self, app: str, *texts: str) -> psycopg.Connection[tuple[object, ...]]:
        """A protected version (live while the connection is open) that ran ``texts``."""
        conn = psycopg.connect(
            self.proxy.url(database=self.database, application_name=app), autocommit=True
        )
        for text in texts:
            conn.execute(text)
        return conn

    def email_exists(self) -> bool:
        with self.direct() as conn:
            row = conn.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = 'users' AND column_name = 'email'"
            ).fetchone()
        return bool(row and row[0])


@pytest.fixture(scope="module")
def target(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    database = unique("hostile4")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    with direct(cluster, dbname=database) as conn:
        conn.execute(SCHEMA)
    workdir: Path = tmp_path_factory.mktemp("hostile4")
    proxy = ProxyProcess(
        upstream=cluster.url(database=database),
        state=workdir / "state.db",
        logfile=workdir / "proxy.log",
    ).start()
    t = Target(cluster, database, proxy)
    with t.live("shop@1", "SELECT email FROM users WHERE id = 1"):
        proxy.versions()  # learned (the admin read flushes the learner): the rollback
        # target (N-1) stays protected once it left
        yield t
    proxy.stop()


def _codes(client: rc.RawClient, count: int = 1) -> list[str]:
    """SQLSTATEs of the next ``count`` replies up to ReadyForQuery ('ok' when none)."""
    out = []
    for _ in range(count):
        codes = [r.fields()["C"] for r in client.read_ready() if r.type == "E"]
        out.append(codes[0] if codes else "ok")
    return out


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(rc.query("EXECUTE x1"), id="simple"),
        pytest.param(rc.query("SELECT 1; EXECUTE/**/x1"), id="multi"),
        pytest.param(rc.parse("EXECUTE x1") + rc.bind() + rc.execute() + rc.sync(), id="parse"),
    ],
)
def test_sql_execute_of_a_protocol_level_ddl_statement_is_judged(
    target: Target, run: bytes
) -> None:
    """SQL EXECUTE runs a statement a protocol-level Parse prepared, DDL included; the
    first word ``execute`` read as plain, and the drop went through."""
    with target.client() as client:
        client.send(rc.parse(DROP, "x1") + rc.sync(), run)
        assert _codes(client, 2) == ["ok", "55006"]
    assert target.email_exists()


def test_a_statement_kept_by_a_refused_discard_all_is_judged_at_execute(target: Target) -> None:
    """DISCARD ALL fails inside a block (25001) and PostgreSQL keeps every statement; the
    proxy forgot them, and a Bind of the DROP's name ran unread."""
    with target.client() as client:
        client.send(
            rc.query("BEGIN"),
            rc.parse(DROP, "d") + rc.sync(),
            rc.query("DISCARD ALL"),
            rc.query("ROLLBACK"),
            rc.bind(statement="d") + rc.execute() + rc.sync(),
        )
        assert _codes(client, 5) == ["ok", "ok", "25001", "ok", "55006"]
    assert target.email_exists()


def test_an_event_trigger_running_queued_commands_is_refused(target: Target) -> None:
    """An installed event-trigger function runs queued commands: CREATE EVENT TRIGGER was
    harmless to the guard, and the next CREATE TABLE dropped the column shop@1 reads."""
    f, et, t = unique("run_cmds"), unique("et"), unique("t")
    with target.direct() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS cmds (sql text)")
        conn.execute(
            f"CREATE FUNCTION {f}() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
            "DECLARE c text; BEGIN FOR c IN DELETE FROM cmds RETURNING sql LOOP "
            "EXECUTE c; END LOOP; END $$"
        )
        conn.execute(f"INSERT INTO cmds VALUES ('{DROP}')")
        conn.execute(f"CREATE EVENT TRIGGER {et} ON ddl_command_end EXECUTE FUNCTION {f}()")
        conn.execute(f"ALTER EVENT TRIGGER {et} DISABLE")
    try:
        with target.client() as client:
            client.send(
                rc.query(f"CREATE EVENT TRIGGER {et}_2 ON ddl_command_end EXECUTE FUNCTION {f}()"),
                rc.query(f"ALTER EVENT TRIGGER {et} ENABLE ALWAYS"),
                rc.query(f"CREATE TABLE {t} (a int)"),
            )
            assert _codes(client, 3) == ["55006", "55006", "ok"]
        assert target.email_exists()
    finally:
        with target.direct() as conn:
            conn.execute(f"DROP EVENT TRIGGER {et}; DROP TABLE cmds")


@pytest.mark.parametrize(
    "text",
    [
        "ALTER EVENT TRIGGER skewguard_backstop_sql_drop DISABLE",
        "DROP EVENT TRIGGER skewguard_backstop_ddl_command_end",
        "DROP SCHEMA skewguard_backstop CASCADE",
    ],
)
def test_the_backstop_is_not_weakened_through_the_proxy(target: Target, text: str) -> None:
    """The backstop refuses DDL from any path; disabling or dropping it through the
    proxy was harmless (no version uses it) and left every other path unguarded."""
    import asyncio

    import asyncpg

    from skewguard import backstop

    async def install() -> None:
        conn = await asyncpg.connect(target.cluster.url(database=target.database))
        try:
            await backstop.install(conn, "enforce")
        finally:
            await conn.close()

    asyncio.run(install())
    try:
        with target.client() as client:
            client.send(rc.query(text))
            assert _codes(client) == ["55006"]
        with target.direct() as conn:
            rows = conn.execute(
                "SELECT evtenabled FROM pg_event_trigger WHERE evtname LIKE 'skewguard%'"
            ).fetchall()
        assert [r[0] for r in rows] == ["A", "A"]
    finally:
        with target.direct() as conn:
            conn.execute("DROP SCHEMA IF EXISTS skewguard_backstop CASCADE")
            conn.execute("DROP EVENT TRIGGER IF EXISTS skewguard_backstop_ddl_command_end")
            conn.execute("DROP EVENT TRIGGER IF EXISTS skewguard_backstop_sql_drop")


def test_enabling_a_trigger_whose_function_may_run_ddl_is_refused(target: Target) -> None:
    """A disabled trigger of an installed ``EXECUTE TG_ARGV[0]`` function held the DROP
    as its argument; ENABLE TRIGGER reached only the table's writers (none), and the next
    INSERT dropped the column. A trigger that only fills NEW's fields still passes."""
    runner, filler = unique("run_arg"), unique("fill")
    with target.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION {runner}() RETURNS trigger LANGUAGE plpgsql AS "
            "'BEGIN EXECUTE TG_ARGV[0]; RETURN NEW; END'"
        )
        conn.execute(
            f"CREATE FUNCTION {filler}() RETURNS trigger LANGUAGE plpgsql AS "
            "'BEGIN NEW.a := coalesce(NEW.a, 0); RETURN NEW; END'"
        )
        conn.execute(
            f"CREATE TRIGGER {runner} BEFORE INSERT ON scratch FOR EACH ROW "
            f"EXECUTE FUNCTION {runner}('{DROP}')"
        )
        conn.execute(
            f"CREATE TRIGGER {filler} BEFORE INSERT ON scratch FOR EACH ROW "
            f"EXECUTE FUNCTION {filler}()"
        )
        conn.execute("ALTER TABLE scratch DISABLE TRIGGER USER")
    try:
        with target.client() as client:
            client.send(
                rc.query(f"ALTER TABLE scratch ENABLE TRIGGER {runner}"),
                rc.query("ALTER TABLE scratch ENABLE TRIGGER USER"),
                rc.query(f"ALTER TABLE scratch ENABLE TRIGGER {filler}"),
                rc.query("INSERT INTO scratch VALUES (1)"),
            )
            assert _codes(client, 4) == ["55006", "55006", "ok", "ok"]
        assert target.email_exists()
    finally:
        with target.direct() as conn:
            conn.execute(f"DROP TRIGGER {runner} ON scratch; DROP TRIGGER {filler} ON scratch")


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("SJIS", b"SELECT E'\x95\\'; " + DROP.encode() + b"; -- '"),
        ("LATIN1", b'ALTER TABLE users DROP COLUMN "n\xe4me"; ' + DROP.encode()),
    ],
)
def test_a_text_pipelined_after_a_function_that_sets_client_encoding_is_not_misread(
    target: Target, encoding: str, text: bytes
) -> None:
    """A function may call set_config('client_encoding', ...): the proxy read the next,
    pipelined text in the encoding last reported (UTF-8), PostgreSQL in the new one; the
    SJIS trail byte 0x5C ended the string early and the DROP ran."""
    f = unique("enc")
    with target.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION {f}() RETURNS text LANGUAGE sql AS "
            f"$$ SELECT set_config('client_encoding', '{encoding}', false) $$"
        )
    with target.client() as client:
        client.send(rc.query(f"SELECT {f}()") + rc.message(b"Q", text + b"\x00"))
        assert _codes(client, 2) == ["ok", "55006"]
    assert target.email_exists()


def test_pipelined_non_ascii_texts_after_a_plain_one_still_pass(target: Target) -> None:
    """The doubt costs nothing to an ordinary pipeline: a plain text, even one that reads
    otherwise in another encoding's characters, still runs."""
    with target.client() as client:
        client.send(
            rc.query("SELECT 1"),
            rc.message(b"Q", "SELECT 'prénom' AS x; SELECT 2".encode() + b"\x00"),
        )
        assert _codes(client, 2) == ["ok", "ok"]


def test_create_schema_authorization_current_user_shadowing_users_is_refused(
    target: Target,
) -> None:
    """The schema of CURRENT_USER is ``"$user"`` on shop@1's default path: its ``users``
    view shadows public.users. The overlay took the unnamed schema for a statement
    PostgreSQL rejects and let it through; shop@1's next read failed."""
    with target.client() as client:
        client.send(
            rc.query("CREATE SCHEMA AUTHORIZATION CURRENT_USER CREATE VIEW users AS SELECT 1 AS id")
        )
        assert _codes(client) == ["55006"]
    with target.direct() as conn:
        row = conn.execute("SELECT to_regnamespace('postgres') IS NULL").fetchone()
    assert row == (True,)


def test_a_function_shadowing_one_a_version_calls_is_refused(target: Target) -> None:
    """A function of the same name in the role's own schema (``"$user"``, first on the
    default path) takes over shop@2's bare call: no rule looked past the called
    function's own schema, and the call then divided by zero."""
    f = unique("user_name")
    with target.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION public.{f}(int) RETURNS text LANGUAGE sql AS "
            "'SELECT name FROM users WHERE id = $1'"
        )
    with target.live("shop@2", f"SELECT {f}(1)") as live:
        with target.client() as client:
            client.send(
                rc.query("CREATE SCHEMA IF NOT EXISTS postgres"),
                rc.query(f"CREATE FUNCTION {f}(int) RETURNS int LANGUAGE sql AS 'SELECT 1/0'"),
                rc.query(f"CREATE FUNCTION {f}(int, int) RETURNS int LANGUAGE sql AS 'SELECT 1'"),
            )
            assert _codes(client, 3) == ["ok", "55006", "ok"]
        assert live.execute(f"SELECT {f}(1)").fetchone() == ("Ann",)


@pytest.mark.parametrize(
    "stored",
    [
        "CREATE RULE {name} AS ON INSERT TO scratch DO ALSO SELECT {f}('{ddl}')",
        "ALTER TABLE scratch ADD COLUMN {name} int DEFAULT {f}('{ddl}')",
    ],
)
def test_stored_code_handing_an_installed_function_ddl_is_refused(
    target: Target, stored: str
) -> None:
    """An administrator's generic ``EXECUTE sql`` function, called from a rule's action
    or a default with the DROP as its argument: the rule (or default) was harmless to
    the guard, and the next INSERT into an unused table dropped the column."""
    f, name = unique("exec_sql"), unique("stored")
    with target.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION public.{f}(sql text) RETURNS int LANGUAGE plpgsql AS "
            "'BEGIN EXECUTE sql; RETURN 1; END'"
        )
    with target.client() as client:
        client.send(
            rc.query(stored.format(name=name, f=f, ddl=DROP)),
            rc.query("INSERT INTO scratch (a) VALUES (1)"),
        )
        assert _codes(client, 2) == ["55006", "ok"]
    assert target.email_exists()
