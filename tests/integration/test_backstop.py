"""The database-side backstop on a real PostgreSQL: event triggers refusing unpassed DDL.

Each test gets a database of its own (event triggers are per database), so the
backstop never touches what other tests do on the shared cluster.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import asyncpg
import psycopg
import pytest
from prometheus_client import CollectorRegistry

from skewguard import backstop
from skewguard.backstop import PassBook
from skewguard.config import parse_upstream
from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, unique, wait_for
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration

APP_ROLE = "backstop_app"
PROXY_ROLE = "backstop_proxy"
EMAIL = {("table column", "public.users.email"): ["orders@1.0"]}
SCHEMA_OBJECTS = ("schema", "function", "event trigger")


@pytest.fixture(scope="module")
def roles(cluster: LocalCluster) -> str:
    """An ordinary login role for clients, and one for a non-owner proxy (cluster-wide)."""
    with direct(cluster) as conn:
        for role in (APP_ROLE, PROXY_ROLE):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if not exists:
                conn.execute(f"CREATE ROLE {role} LOGIN")
    return APP_ROLE


@pytest.fixture
def database(cluster: LocalCluster, roles: str) -> Iterator[str]:
    """A fresh database with ``public.users (id, email, note)`` owned by the app role."""
    name = unique("backstop")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {name}")
        conn.execute(f"GRANT CREATE ON DATABASE {name} TO {APP_ROLE}")
    with direct(cluster, dbname=name) as conn:
        conn.execute(f"GRANT ALL ON SCHEMA public TO {APP_ROLE}")
        conn.execute("CREATE TABLE users (id int PRIMARY KEY, email text, note text)")
        conn.execute(f"ALTER TABLE users OWNER TO {APP_ROLE}")
    yield name
    with direct(cluster) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def superuser(cluster: LocalCluster, database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(cluster.url(database=database, sslmode="disable"))
    yield conn
    await conn.close()


@pytest.fixture
async def book(cluster: LocalCluster, database: str) -> AsyncIterator[PassBook]:
    """The proxy's pass book, connecting as the cluster's superuser (the installer)."""
    upstream = parse_upstream(cluster.url(database=database, sslmode="disable"))
    passes = PassBook(upstream, registry=CollectorRegistry())
    yield passes
    await passes.close()


@pytest.fixture
async def guarded(
    superuser: asyncpg.Connection, book: PassBook, database: str
) -> asyncpg.Connection:
    """The backstop installed (enforce) with ``public.users.email`` protected."""
    await backstop.install(superuser, "enforce")
    await book.sync_protected(database, EMAIL)
    assert await superuser.fetchval(
        "SELECT versions FROM skewguard_backstop.protected WHERE identity = 'public.users.email'"
    ) == ["orders@1.0"]
    return superuser


def metric(book: PassBook, name: str) -> float | None:
    return book.registry.get_sample_value(name)


def app(cluster: LocalCluster, database: str) -> psycopg.Connection[tuple[object, ...]]:
    """A direct connection as the ordinary app role: it never touched a proxy."""
    return direct(cluster, dbname=database, user=APP_ROLE)


def columns(cluster: LocalCluster, database: str) -> list[str]:
    with direct(cluster, dbname=database) as conn:
        rows = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'public.users'::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ).fetchall()
    return [str(name) for (name,) in rows]


def refused(conn: psycopg.Connection[tuple[object, ...]], sql: str) -> psycopg.errors.Error:
    with pytest.raises(psycopg.errors.ObjectInUse) as info:
        conn.execute(sql)
    error = info.value
    assert error.diag.message_primary is not None
    assert error.diag.message_primary.startswith("skewguard backstop:"), error
    assert error.diag.message_hint and "skewguard proxy" in error.diag.message_hint
    return error


# -- install, status, uninstall -------------------------------------------------------


async def test_install_status_uninstall_leaves_nothing(
    superuser: asyncpg.Connection, database: str
) -> None:
    before = await _backstop_objects(superuser)
    assert before == {}
    await backstop.install(superuser, "enforce")
    await backstop.install(superuser, "enforce")  # again: idempotent
    report = await backstop.status(superuser)
    assert report["installed"] and report["healthy"]
    assert report["mode"] == "enforce"
    assert report["protected_objects"] == 0 and report["refusals"] == 0
    assert {t["enabled"] for t in report["event_triggers"].values()} == {"always"}
    installed = await _backstop_objects(superuser)
    assert installed["schema"] == 1 and installed["event trigger"] == 2
    assert installed["function"] >= 8
    assert await backstop.uninstall(superuser) is True
    assert await _backstop_objects(superuser) == {}
    assert await backstop.uninstall(superuser) is False
    assert (await backstop.status(superuser))["installed"] is False
    # and the shared-state schema's name is not the backstop's
    assert backstop.SCHEMA != "skewguard"


async def _backstop_objects(conn: asyncpg.Connection) -> dict[str, int]:
    counts = {
        "schema": await conn.fetchval(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'skewguard_backstop%'"
        ),
        "function": await conn.fetchval(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'skewguard_backstop' OR p.proname IN "
            "('on_sql_drop', 'on_ddl_command_end', 'grant_pass', 'set_protected', 'judge')"
        ),
        "event trigger": await conn.fetchval(
            "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'skewguard%'"
        ),
    }
    return {k: v for k, v in counts.items() if v}


def test_cli_install_status_uninstall(cluster: LocalCluster, database: str) -> None:
    url = cluster.url(sslmode="disable")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "skewguard", "backstop", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = cli("install", "--upstream", url, "--database", database, "--mode", "audit")
    assert done.returncode == 0, done.stderr
    assert f"{database}: backstop installed (mode audit)" in done.stdout
    shown = cli("status", "--upstream", url, "--database", database)
    assert shown.returncode == 0, shown.stderr
    assert "mode audit, healthy" in shown.stdout
    assert cli("status", "--upstream", url, "--database", "no_such_db").returncode == 2
    assert cli("install", "--database", database).returncode == 2  # no --upstream
    app_url = cluster.url(user=APP_ROLE, sslmode="disable")
    denied = cli("install", "--upstream", app_url, "--database", database)
    assert denied.returncode == 2 and "superuser" in denied.stderr
    gone = cli("uninstall", "--upstream", url, "--database", database)
    assert gone.returncode == 0 and "backstop removed" in gone.stdout


# -- refusals from every path ---------------------------------------------------------

PATHS = {
    "direct": ("ALTER TABLE users DROP COLUMN email", ""),
    "do-block": ("DO $$ BEGIN ALTER TABLE users DROP COLUMN email; END $$", ""),
    "function": (
        "SELECT drop_email()",
        "CREATE FUNCTION drop_email() RETURNS void LANGUAGE plpgsql AS "
        "$$ BEGIN EXECUTE 'ALTER TABLE users DROP COLUMN email'; END $$",
    ),
    "trigger": (
        "INSERT INTO events VALUES (1)",
        "CREATE TABLE events (id int);"
        "CREATE FUNCTION on_event() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN ALTER TABLE users DROP COLUMN email; RETURN NEW; END $$;"
        "CREATE TRIGGER on_event AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION on_event()",
    ),
    "drop-table": ("DROP TABLE users", ""),
    "rename-column": ("ALTER TABLE users RENAME COLUMN email TO mail", ""),
    "type-change": ("ALTER TABLE users ALTER COLUMN email TYPE varchar(20)", ""),
    "set-not-null": ("ALTER TABLE users ALTER COLUMN email SET NOT NULL", ""),
    "rename-table": ("ALTER TABLE users RENAME TO people", ""),
    "set-schema": ("CREATE SCHEMA archive; ALTER TABLE users SET SCHEMA archive", ""),
}


@pytest.mark.parametrize("path", sorted(PATHS))
async def test_protected_column_is_refused_from_every_path(
    cluster: LocalCluster, database: str, guarded: asyncpg.Connection, path: str
) -> None:
    statement, setup = PATHS[path]
    with app(cluster, database) as conn:
        if setup:
            conn.execute(setup)
        error = refused(conn, statement)
    assert "public.users.email" in str(error) and "orders@1.0" in str(error)
    assert columns(cluster, database) == ["id", "email", "note"]
    assert (await backstop.status(guarded))["refusals"] >= 1


async def test_refused_inside_a_transaction_undoes_it_all(
    cluster: LocalCluster, database: str, guarded: asyncpg.Connection
) -> None:
    with app(cluster, database) as conn:
        conn.execute("BEGIN")
        conn.execute("ALTER TABLE users ADD COLUMN extra int")
        refused(conn, "ALTER TABLE users DROP COLUMN email")
        conn.execute("ROLLBACK")
    assert columns(cluster, database) == ["id", "email", "note"]


async def test_superuser_in_replica_role_is_refused_too(
    cluster: LocalCluster, database: str, guarded: asyncpg.Connection
) -> None:
    with direct(cluster, dbname=database) as conn:
        conn.execute("SET session_replication_role = replica")
        refused(conn, "ALTER TABLE users DROP COLUMN email")
    assert "email" in columns(cluster, database)


async def test_unprotected_changes_pass(
    cluster: LocalCluster, database: str, guarded: asyncpg.Connection
) -> None:
    with app(cluster, database) as conn:
        conn.execute("ALTER TABLE users DROP COLUMN note")
        conn.execute("ALTER TABLE users ADD COLUMN nickname text")
        conn.execute("ALTER TABLE users ALTER COLUMN email SET DEFAULT 'x'")  # only adds
        conn.execute("CREATE INDEX ON users (email)")
        conn.execute("CREATE TABLE other (id int); DROP TABLE other")
    assert columns(cluster, database) == ["id", "email", "nickname"]
    assert (await backstop.status(guarded))["refusals"] == 0


# -- passes -------------------------------------------------------------------------


async def test_a_pass_lets_exactly_that_text_through_on_that_backend(
    cluster: LocalCluster, database: str, guarded: asyncpg.Connection, book: PassBook
) -> None:
    drop = "ALTER TABLE users DROP COLUMN email"
    with app(cluster, database) as other, app(cluster, database) as conn:
        await book.grant(database, other.info.backend_pid, drop)
        refused(conn, drop)  # a pass for another backend does not count
        await book.grant(database, conn.info.backend_pid, drop)
        refused(conn, drop + " ")  # nor for another text
        refused(conn, f"DO $$ BEGIN {drop}; END $$")
        conn.execute(drop)
    assert columns(cluster, database) == ["id", "note"]
    assert metric(book, "skewguard_backstop_passes_total") == 2


async def test_clients_cannot_forge_passes_or_protections(
    cluster: LocalCluster, database: str, guarded: asyncpg.Connection
) -> None:
    drop = "ALTER TABLE users DROP COLUMN email"
    with app(cluster, database) as conn:
        pid = conn.info.backend_pid
        attempts = [
            "INSERT INTO skewguard_backstop.passes (pid, backend_start, query_hash) "
            f"SELECT {pid}, backend_start, 'x' FROM pg_stat_activity WHERE pid = {pid}",
            f"SELECT skewguard_backstop.grant_pass({pid}, '{drop}')",
            "SELECT skewguard_backstop.set_protected('[]')",
            "DELETE FROM skewguard_backstop.protected",
            "UPDATE skewguard_backstop.settings SET mode = 'audit'",
        ]
        for sql in attempts:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        refused(conn, drop)
    assert "email" in columns(cluster, database)


async def test_a_granted_role_can_run_the_proxy_side(
    cluster: LocalCluster, database: str, superuser: asyncpg.Connection
) -> None:
    await backstop.install(superuser, "enforce", grant_to=[PROXY_ROLE])
    url = cluster.url(user=PROXY_ROLE, database=database, sslmode="disable")
    book = PassBook(parse_upstream(url), registry=CollectorRegistry())
    try:
        await book.sync_protected(database, EMAIL)
        assert (await backstop.status(superuser))["protected_objects"] == 1
        drop = "ALTER TABLE users DROP COLUMN email"
        with app(cluster, database) as conn:
            refused(conn, drop)
            await book.grant(database, conn.info.backend_pid, drop)
            conn.execute(drop)
        assert metric(book, "skewguard_backstop_passes_total") == 1
        assert metric(book, "skewguard_backstop_syncs_total") == 1
    finally:
        await book.close()


async def test_without_the_backstop_the_book_does_nothing(
    cluster: LocalCluster, database: str, book: PassBook
) -> None:
    assert await book.installed(database) is False
    assert book.absent(database)
    with app(cluster, database) as conn:
        await book.grant(database, conn.info.backend_pid, "ALTER TABLE users DROP COLUMN email")
        await book.sync_protected(database, EMAIL)
        conn.execute("ALTER TABLE users DROP COLUMN email")
    assert metric(book, "skewguard_backstop_passes_total") == 0
    with direct(cluster) as conn:  # no idle side connection is kept to such a database
        (idle,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND application_name LIKE 'skewguard-backstop%%'",
            (database,),
        ).fetchone() or (None,)
    assert idle == 0


async def test_a_database_that_does_not_exist_is_left_alone_a_while(book: PassBook) -> None:
    """A dropped database whose versions are still stored: the periodic sync asked it
    again every few seconds, and hundreds of them kept the event loop busy."""
    gone = "skewguard_no_such_database"
    assert await book.installed(gone) is False
    assert book.absent(gone)  # remembered: the next syncs make no connection attempt
    await book.sync_protected(gone, EMAIL)
    await book.grant(gone, 1, "DROP TABLE users")
    errors = book.registry.get_sample_value(
        "skewguard_backstop_errors_total", {"operation": "sync"}
    )
    assert not errors  # not a failure: nothing to sync there


# -- audit mode, other object kinds ----------------------------------------------------


async def test_audit_mode_records_and_lets_through(
    cluster: LocalCluster, database: str, guarded: asyncpg.Connection
) -> None:
    await backstop.install(guarded, "audit")
    with app(cluster, database) as conn:
        conn.execute("DO $$ BEGIN ALTER TABLE users DROP COLUMN email; END $$")
    assert "email" not in columns(cluster, database)
    report = await backstop.status(guarded)
    assert report["mode"] == "audit" and report["refusals"] == 0
    assert report["audited"] == 1
    assert report["last_audit"]["object"] == "table column public.users.email"
    assert report["last_audit"]["versions"] == ["orders@1.0"]
    row = await guarded.fetchrow("SELECT * FROM skewguard_backstop.audit")
    assert row is not None
    assert row["refused"] is False and row["role"] == APP_ROLE
    assert "DROP COLUMN email" in row["query"]


async def test_functions_types_views_sequences_and_schemas(
    cluster: LocalCluster, database: str, superuser: asyncpg.Connection, book: PassBook
) -> None:
    with app(cluster, database) as conn:
        conn.execute(
            "CREATE TYPE mood AS ENUM ('sad', 'happy');"
            "CREATE FUNCTION f(a integer) RETURNS integer LANGUAGE sql AS 'SELECT a';"
            "CREATE VIEW active AS SELECT id, email FROM users;"
            "CREATE SEQUENCE counter;"
        )
    await backstop.install(superuser, "enforce")
    await book.sync_protected(
        database,
        {
            ("type", "public.mood"): ["orders@1.0"],
            ("function", "public.f(integer)"): ["orders@1.0"],
            ("view", "public.active"): ["orders@1.0"],
            ("sequence", "public.counter"): ["orders@1.0"],
            ("schema", "public"): ["orders@1.0"],
            ("table", "public.does_not_exist"): ["orders@1.0"],
        },
    )
    names = {
        (r["object_type"], r["identity"])
        for r in await superuser.fetch("SELECT * FROM skewguard_backstop.protected")
    }
    assert names == {
        ("type", "public.mood"),
        ("function", "public.f(integer)"),
        ("view", "public.active"),
        ("sequence", "public.counter"),
        ("schema", "public"),
    }
    with app(cluster, database) as conn:
        conn.execute("ALTER TYPE mood ADD VALUE 'meh'")  # additions pass
        for sql in [
            "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
            "DROP TYPE mood",
            "ALTER FUNCTION f(integer) RENAME TO g",
            "DROP FUNCTION f(integer)",
            "DROP VIEW active",
            "ALTER VIEW active RENAME TO inactive",
            "DROP SEQUENCE counter",
        ]:
            refused(conn, sql)
    with direct(cluster, dbname=database) as conn:
        refused(conn, "ALTER SCHEMA public RENAME TO old_public")


# -- end to end: a real proxy learns, syncs, and the backstop refuses --------------------


def test_a_proxy_syncs_what_a_tagged_version_reads(
    cluster: LocalCluster, database: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with direct(cluster, dbname=database) as conn:
        conn.execute(backstop.INSTALL_SQL)
        conn.execute(backstop.SET_MODE_SQL.replace("$1", "'enforce'").replace("$2", "1"))
    logdir = tmp_path_factory.mktemp("backstop-proxy")
    running = ProxyProcess(
        upstream=cluster.url(sslmode="disable"),
        logfile=logdir / "proxy.log",
        extra_args=["--backstop-sync-interval", "0.2"],
    ).start()
    try:
        dsn = (
            f"host=127.0.0.1 port={running.port} user={APP_ROLE} dbname={database} "
            "sslmode=disable application_name=orders@1.0"
        )
        with psycopg.connect(dsn, autocommit=True) as client:
            client.execute("SELECT email FROM users WHERE id = 1").fetchall()

            def synced() -> list[str] | None:
                with direct(cluster, dbname=database) as conn:
                    row = conn.execute(
                        "SELECT versions FROM skewguard_backstop.protected "
                        "WHERE object_type = 'table column' AND identity = 'public.users.email'"
                    ).fetchone()
                return [str(v) for v in row[0]] if row else None  # type: ignore[attr-defined]

            assert wait_for(synced, timeout=30, interval=0.1) == ["orders@1.0"]
            with app(cluster, database) as conn:
                refused(conn, "ALTER TABLE users DROP COLUMN email")
                conn.execute("ALTER TABLE users DROP COLUMN note")  # nobody reads it
        assert columns(cluster, database) == ["id", "email"]
    finally:
        code = running.stop()
    assert code == 0, running.log_tail()
