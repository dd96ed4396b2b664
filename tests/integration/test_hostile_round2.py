"""Hostile clients, round 2: each test is an attack that once got past the guard (or
hurt the proxy) and must not any more. PostgreSQL is the judge: after each attempt the
column a live version reads must still exist."""

from __future__ import annotations

import socket
import struct
import time
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

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text, "prénom" text);
INSERT INTO users (email, "prénom") VALUES ('a@x', 'Ann');
"""


@dataclass
class Target:
    cluster: LocalCluster
    database: str
    proxy: ProxyProcess
    live: psycopg.Connection[tuple[object, ...]]

    def startup(self, **extra: str) -> dict[str, str]:
        base = {"user": "postgres", "database": self.database, "application_name": "migrate"}
        return base | extra

    def client(self, **extra: str) -> rc.RawClient:
        client = rc.RawClient("127.0.0.1", self.proxy.port, timeout=15)
        replies = client.startup(self.startup(**extra))
        assert replies[-1].type == "Z", replies
        return client

    def columns(self) -> set[str]:
        with direct(self.cluster, dbname=self.database) as conn:
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = 'users'"
            ).fetchall()
        return {str(row[0]) for row in rows}


@pytest.fixture(scope="module")
def target(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    database = unique("hostile2")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    with direct(cluster, dbname=database) as conn:
        conn.execute(SCHEMA)
    workdir: Path = tmp_path_factory.mktemp("hostile2")
    proxy = ProxyProcess(
        upstream=cluster.url(database=database),
        state=workdir / "state.db",
        logfile=workdir / "proxy.log",
    ).start()
    live = psycopg.connect(proxy.url(database=database, application_name="shop@1"), autocommit=True)
    live.execute('SELECT email, "prénom" FROM users WHERE id = 1').fetchall()
    proxy.versions()  # the admin read flushes the learner: shop@1 is learned
    yield Target(cluster, database, proxy, live)
    live.close()
    proxy.stop()


def _codes(client: rc.RawClient) -> list[str]:
    """SQLSTATEs of the next reply up to ReadyForQuery ('ok' when none)."""
    codes = [r.fields()["C"] for r in client.read_ready() if r.type == "E"]
    return codes or ["ok"]


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("LATIN1", b'"pr\xe9nom"'), ("WIN1252", b'"pr\xe9nom"'), ("iso-8859-15", b'"pr\xe9nom"')],
)
def test_a_non_ascii_name_in_a_single_byte_encoding_is_the_name_postgresql_stores(
    target: Target, encoding: str, name: bytes
) -> None:
    """LATIN1 0xE9 is é: read as UTF-8 it was a replacement character, a column no
    version uses, and the drop went through."""
    with target.client(client_encoding=encoding) as client:
        client.send(rc.message(b"Q", b"ALTER TABLE users DROP COLUMN " + name + b"\x00"))
        assert _codes(client) == ["55006"]
    assert "prénom" in target.columns()
    with target.client(client_encoding=encoding) as client:
        client.send(rc.message(b"Q", b'SELECT "pr\xe9nom" FROM users\x00'))
        assert _codes(client) == ["ok"]


def _backend_key(replies: list[rc.Reply]) -> tuple[int, bytes]:
    key_data = next(r for r in replies if r.type == "K")
    return struct.unpack_from("!i", key_data.body)[0], bytes(key_data.body[4:])


def test_a_cancel_reaches_only_sessions_of_the_proxy(target: Target) -> None:
    """A backend key the proxy never handed out (here a direct connection's, the real
    one) is dropped without an upstream connection; its session's own key still works."""
    before = target.proxy.metrics()
    with rc.RawClient("127.0.0.1", target.cluster.port, timeout=15) as outsider:
        pid, key = _backend_key(outsider.startup({"user": "postgres", "database": "postgres"}))
        outsider.send(rc.query("SELECT pg_sleep(1.5)"))
        with socket.create_connection(("127.0.0.1", target.proxy.port), timeout=10) as cancel:
            cancel.sendall(rc.cancel_request(pid, key))
            assert cancel.recv(1) == b""
        assert _codes(outsider) == ["ok"]  # not cancelled
    with rc.RawClient("127.0.0.1", target.proxy.port, timeout=15) as client:
        pid, key = _backend_key(client.startup(target.startup()))
        client.send(rc.query("SELECT pg_sleep(30)"))
        time.sleep(0.3)
        for _ in range(5):  # one at a time reaches PostgreSQL; all are answered
            with socket.create_connection(("127.0.0.1", target.proxy.port), timeout=10) as cancel:
                cancel.sendall(rc.cancel_request(pid, key))
                assert cancel.recv(1) == b""
        assert _codes(client) == ["57014"]
    after = target.proxy.metrics()
    unmatched = ("skewguard_cancel_requests_unmatched_total", ())
    relayed = ("skewguard_cancel_requests_total", ())
    assert after[unmatched] - before.get(unmatched, 0) == 1
    assert 1 <= after[relayed] - before.get(relayed, 0) <= 5


@pytest.fixture
def role(target: Target) -> Iterator[str]:
    """A login role with a schema of its own name holding an unused ``users``: the
    default ``"$user", public`` would resolve ``users`` there."""
    name = unique("mig")
    with direct(target.cluster, dbname=target.database) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN SUPERUSER")
        conn.execute(f"CREATE SCHEMA {name} AUTHORIZATION {name}")
        conn.execute(f"CREATE TABLE {name}.users (id int, email text)")
    yield name
    with direct(target.cluster, dbname=target.database) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")
        conn.execute(f"ALTER DATABASE {target.database} RESET ALL")
        conn.execute(f"DROP ROLE {name}")


@pytest.mark.parametrize(
    "setting",
    [
        "ALTER ROLE {role} SET search_path = public",
        "ALTER ROLE {role} IN DATABASE {database} SET search_path = public",
        "ALTER DATABASE {database} SET search_path = public",
    ],
)
def test_a_per_role_or_per_database_search_path_is_the_one_names_resolve_in(
    target: Target, role: str, setting: str
) -> None:
    """The role's ``users`` schema is skipped by its default path: ``users`` is
    public.users, which shop@1 reads. Assuming ``"$user", public`` the proxy judged an
    unused table and let the drop through."""
    with direct(target.cluster, dbname=target.database) as conn:
        conn.execute(setting.format(role=role, database=target.database))
    with target.client(user=role) as client:
        client.send(rc.query("ALTER TABLE users DROP COLUMN email"))
        assert _codes(client) == ["55006"]
    assert "email" in target.columns()
    with target.client(user=role) as client:  # its own schema's table is no one's
        client.send(rc.query(f"ALTER TABLE {role}.users DROP COLUMN email"))
        assert _codes(client) == ["ok"]


def test_an_app_role_default_search_path_is_learned(target: Target, role: str) -> None:
    """shop@2 logs in as a role whose default path starts with another schema: it reads
    that schema's ``users``, and dropping that column breaks it (the proxy recorded
    public.users and let the drop through)."""
    data = f"{role}_data"
    with target.client() as client:  # through the proxy: its catalog knows them at once
        client.send(
            rc.query(f"CREATE SCHEMA {data}"),
            rc.query(f"CREATE TABLE {data}.users (id int, email text)"),
            rc.query(f"ALTER ROLE {role} SET search_path = {data}, public"),
        )
        assert [_codes(client) for _ in range(3)] == [["ok"]] * 3
    app = target.proxy.url(database=target.database, application_name="shop@2", user=role)
    try:
        with psycopg.connect(app, autocommit=True) as conn:
            conn.execute("SELECT email FROM users").fetchall()
            target.proxy.versions()  # learned (the admin read flushes the learner)
            with target.client() as client:
                client.send(rc.query(f"ALTER TABLE {data}.users DROP COLUMN email"))
                assert _codes(client) == ["55006"]
            conn.execute("SELECT email FROM users").fetchall()
    finally:
        with direct(target.cluster, dbname=target.database) as conn:
            conn.execute(f"DROP SCHEMA {data} CASCADE")


def _extension(target: Target, name: str) -> None:
    """Create ``name`` in the database straight away, or skip where it is not installed."""
    with direct(target.cluster, dbname=target.database) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = %s", (name,)
        ).fetchone()
        if not row or not row[0]:
            pytest.skip(f"{name} is not installed with this PostgreSQL")
        conn.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT dblink_exec('{conninfo}', 'ALTER TABLE users DROP COLUMN email')",
        "SELECT public.dblink_exec('{conninfo}', 'ALTER TABLE users ' || 'DROP COLUMN email')",
        "DO $$ BEGIN PERFORM dblink_exec('{conninfo}', 'ALTER TABLE users DROP COLUMN email');"
        " END $$",
        "CREATE VIEW {name} AS SELECT dblink_exec('{conninfo}', 'ALTER TABLE users DROP email')",
        "CREATE FUNCTION {name}(c text, q text) RETURNS text LANGUAGE sql"
        " AS $$ SELECT dblink_exec(c, q) $$",
        "ALTER FUNCTION dblink_exec(text, text) RENAME TO {name}",
    ],
)
def test_sql_sent_back_into_the_database_through_dblink_is_opaque(target: Target, sql: str) -> None:
    """dblink opens a connection of its own: the DDL it sends never passes the proxy."""
    _extension(target, "dblink")
    conninfo = f"host=127.0.0.1 port={target.cluster.port} dbname={target.database} user=postgres"
    with target.client() as client:
        client.send(rc.query(sql.format(conninfo=conninfo, name=unique("x"))))
        assert _codes(client) == ["55006"]
        client.send(rc.query(f"SELECT * FROM dblink('{conninfo}', 'SELECT 1') AS t(a int)"))
        assert _codes(client) == ["ok"]  # a query sent that way is no DDL
    assert "email" in target.columns()


STAND_INS = """
CREATE SCHEMA IF NOT EXISTS cron;
CREATE OR REPLACE FUNCTION cron.schedule(job text, at text, command text) RETURNS bigint
    LANGUAGE sql AS 'SELECT 1::bigint';
CREATE OR REPLACE FUNCTION pg_background_launch(sql text, queue_size int DEFAULT 65536)
    RETURNS int LANGUAGE sql AS 'SELECT 1';
"""


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT cron.schedule('j', '* * * * *', 'ALTER TABLE users DROP COLUMN email')", "55006"),
        ("SELECT cron.schedule('j', '* * * * *', 'ALTER TABLE users ' || 'DROP email')", "55006"),
        ("SELECT pg_background_launch('ALTER TABLE users DROP COLUMN email')", "55006"),
        ("SELECT cron.schedule('nightly', '0 3 * * *', 'VACUUM users')", "ok"),
        ("SELECT pg_background_launch('DELETE FROM users WHERE false')", "ok"),
    ],
)
def test_sql_run_later_by_pg_cron_or_pg_background_is_judged_like_dblink(
    target: Target, sql: str, code: str
) -> None:
    """A cron job's command or a background worker's SQL runs in a session of its own,
    past the proxy: DDL text there is deferred DDL the guard cannot judge. Stand-ins
    with the extensions' signatures (neither is installed here) take the calls."""
    with direct(target.cluster, dbname=target.database) as conn:
        conn.execute(STAND_INS)
    with target.client() as client:
        client.send(rc.query(sql))
        assert _codes(client) == [code]
    assert "email" in target.columns()


def test_a_trigger_argument_that_reads_as_ddl_is_deferred_ddl(target: Target) -> None:
    """A generic trigger function installed earlier runs ``EXECUTE TG_ARGV[0]``: the
    CREATE TRIGGER handing it DDL text was waved through, and the next INSERT dropped
    the column a live version reads."""
    scratch = unique("scratch")
    with direct(target.cluster, dbname=target.database) as conn:
        conn.execute(f"CREATE TABLE {scratch} (a int)")
        conn.execute(
            "CREATE OR REPLACE FUNCTION run_arg() RETURNS trigger LANGUAGE plpgsql"
            " AS 'BEGIN EXECUTE TG_ARGV[0]; RETURN NEW; END'"
        )
    trigger = f"CREATE TRIGGER {unique('t')} BEFORE INSERT ON {scratch} FOR EACH ROW "
    with target.client() as client:
        client.send(rc.query(trigger + "EXECUTE FUNCTION run_arg('ALTER TABLE users DROP email')"))
        assert _codes(client) == ["55006"]
        client.send(rc.query(f"INSERT INTO {scratch} VALUES (1)"))
        assert _codes(client) == ["ok"]
        client.send(rc.query(trigger + "EXECUTE FUNCTION run_arg('SELECT 1')"))
        assert _codes(client) == ["ok"]
    assert "email" in target.columns()


def test_a_transaction_may_hold_more_open_portals_than_the_proxy_must_read(
    target: Target,
) -> None:
    """PostgreSQL keeps named portals until the transaction ends, without a bound: a
    client binding 25,000 of a plain query in one transaction is served; the proxy
    counts only portals of texts it must read at Execute."""
    count = 25_000
    with target.client() as client:
        binds = b"".join(rc.bind(portal=f"p{n}", statement="plain") for n in range(count))
        client.send(rc.query("BEGIN"), rc.parse("SELECT 1", "plain"), binds, rc.sync())
        assert _codes(client) == ["ok"]
        assert _codes(client) == ["ok"]
        client.send(rc.execute(f"p{count - 1}"), rc.sync(), rc.query("COMMIT"))
        replies = client.read_ready()
        assert [r.type for r in replies] == ["D", "C", "Z"]
        assert _codes(client) == ["ok"]


def test_imported_foreign_tables_that_may_shadow_a_used_one_are_not_waved_through(
    target: Target,
) -> None:
    _extension(target, "postgres_fdw")
    server, schema = unique("srv"), unique("imported")
    with target.client() as client:
        client.send(
            rc.query(f"CREATE SCHEMA {schema}"),
            rc.query(
                f"CREATE SERVER {server} FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host "
                f"'127.0.0.1', port '{target.cluster.port}', dbname '{target.database}')"
            ),
            rc.query(f"CREATE USER MAPPING FOR postgres SERVER {server}"),
        )
        assert [_codes(client) for _ in range(3)] == [["ok"]] * 3
        client.send(rc.query(f"IMPORT FOREIGN SCHEMA public FROM SERVER {server} INTO {schema}"))
        assert _codes(client) == ["55006"]  # every table of public, users too
        client.send(
            rc.query(
                f"IMPORT FOREIGN SCHEMA public LIMIT TO (users) FROM SERVER {server} INTO {schema}"
            )
        )
        assert _codes(client) == ["55006"]
        fresh = unique("fresh")
        client.send(
            rc.query(
                f"IMPORT FOREIGN SCHEMA public LIMIT TO ({fresh}) FROM SERVER {server} "
                f"INTO {schema}"
            )
        )
        assert _codes(client) == ["ok"]  # a name no relation has: nothing to shadow


def test_a_name_in_a_client_encoding_the_proxy_cannot_read_is_not_waved_through(
    target: Target,
) -> None:
    """EUC_TW has no Python codec: its characters were read as U+FFFD, a column no
    version uses, and the drop went through."""
    column = "中文"
    with direct(target.cluster, dbname=target.database) as conn:
        conn.execute(f'ALTER TABLE users ADD COLUMN IF NOT EXISTS "{column}" text')
        row = conn.execute("SELECT convert_to(%s, 'EUC_TW')", (column,)).fetchone()
    assert row is not None and isinstance(row[0], bytes)
    name = row[0]
    app = target.proxy.url(database=target.database, application_name="shop@3")
    with psycopg.connect(app, autocommit=True) as conn:
        conn.execute(f'SELECT "{column}" FROM users').fetchall()
        target.proxy.versions()  # learned (the admin read flushes the learner)
        with target.client(client_encoding="EUC_TW") as client:
            client.send(rc.message(b"Q", b'ALTER TABLE users DROP COLUMN "' + name + b'"\x00'))
            assert _codes(client) == ["55006"]
            client.send(rc.message(b"Q", b'SELECT "' + name + b'" FROM users; SELECT 1\x00'))
            assert _codes(client) == ["ok"]  # no DDL: not refused
    assert column in target.columns()


def test_a_role_that_logs_in_as_another_moves_the_user_schema(target: Target, role: str) -> None:
    """``ALTER ROLE r SET role = postgres``: "$user" is postgres, not the login role, so
    ``users`` is public.users (there is no postgres schema), which shop@1 reads."""
    with direct(target.cluster, dbname=target.database) as conn:
        conn.execute(f"ALTER ROLE {role} SET role = postgres")
    with target.client(user=role) as client:
        client.send(rc.query("ALTER TABLE users DROP COLUMN email"))
        assert _codes(client) == ["55006"]
    assert "email" in target.columns()
