"""Hostile clients, round 5: inputs that once took the whole proxy down. PostgreSQL is
the judge: the column a live version reads must still exist, and the proxy must still
serve a new connection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clients import direct
from tests.support.proxy import ProxyProcess
from tests.support.sites import create_database

pytestmark = pytest.mark.integration

DROP = "ALTER TABLE users DROP COLUMN email"
#: 40,000 levels: pglast's tree conversion overflowed an 8 MiB stack at ~24,000.
DEEP = "1" + "+1" * 40_000
#: --max-analysed-statement of the proxy under test (the default is 1 MiB).
READ_LIMIT = 100_000


@pytest.fixture(scope="module")
def proxy(
    cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    database = create_database(cluster, "hostile5", "CREATE TABLE users (id int, email text)")
    with direct(cluster) as conn:  # the same schema, with no version protected there
        conn.execute(f"CREATE DATABASE {database}_free TEMPLATE {database}")
    workdir: Path = tmp_path_factory.mktemp("hostile5")
    started = ProxyProcess(
        upstream=cluster.url(database=database),
        state=workdir / "state.db",
        logfile=workdir / "proxy.log",
        extra_args=["--max-analysed-statement", str(READ_LIMIT)],
    ).start()
    url = started.url(database=database, application_name="shop@1")
    with psycopg.connect(url, autocommit=True) as live:
        live.execute("SELECT email FROM users")
        started.versions()  # learned (the admin read flushes the learner)
        yield started
    started.stop()


def _database(proxy: ProxyProcess) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(proxy.upstream)["dbname"])


def _client(proxy: ProxyProcess, app: str = "migrate", database: str = "") -> rc.RawClient:
    client = rc.RawClient("127.0.0.1", proxy.port, timeout=60)
    params = {
        "user": "postgres",
        "database": database or _database(proxy),
        "application_name": app,
    }
    assert client.startup(params)[-1].type == "Z"
    return client


def _codes(client: rc.RawClient) -> list[str]:
    return [r.fields()["C"] for r in client.read_ready() if r.type == "E"]


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(rc.query(f"{DROP}, ADD CONSTRAINT deep CHECK ({DEEP} > 0)"), id="query"),
        pytest.param(
            rc.parse(f"{DROP}, ADD CONSTRAINT deep CHECK ({DEEP} > 0)")
            + rc.bind()
            + rc.execute()
            + rc.sync(),
            id="parse",
        ),
    ],
)
def test_a_deeply_nested_ddl_is_refused_and_the_proxy_lives(
    proxy: ProxyProcess, message: bytes
) -> None:
    """A DROP beside a CHECK nesting 40,000 operators deep: pglast's C recursion ended the
    whole proxy with SIGSEGV (every client's connection with it)."""
    with _client(proxy) as client:
        client.send(message)
        assert _codes(client) == ["55006"]
    assert proxy.alive
    with _client(proxy) as client:
        client.send(rc.query("SELECT email FROM users"))
        assert _codes(client) == []


def test_a_deeply_nested_query_is_learned_without_harm(proxy: ProxyProcess) -> None:
    """The same depth in a tagged SELECT: relayed (PostgreSQL refuses it: 54001), and
    learning parses it in the background without ending the process."""
    with _client(proxy, "shop@1") as client:
        client.send(rc.query(f"SELECT {DEEP}"))
        assert _codes(client) == ["54001"]
    time.sleep(1.5)
    assert proxy.alive


def _columns(proxy: ProxyProcess, database: str) -> list[str]:
    with _client(proxy, database=database) as client:
        client.send(
            rc.query(
                "SELECT string_agg(attname, ',') FROM pg_attribute "
                "WHERE attrelid = 'users'::regclass AND attnum > 0 "
                "AND NOT attisdropped"
            )
        )
        rows = [r for r in client.read_ready() if r.type == "D"]
    return rows[0].body[6:].decode().split(",")


def test_ddl_after_a_plain_first_statement_past_the_read_limit_is_refused(
    proxy: ProxyProcess,
) -> None:
    """A text longer than --max-analysed-statement is not parsed; its first word
    (SELECT) made it harmless, and the DROP behind it ran unjudged."""
    padded = f"SELECT 1; {DROP}; -- " + "x" * READ_LIMIT
    with _client(proxy) as client:
        client.send(rc.query(padded))
        assert _codes(client) == ["55006"]
    assert "email" in _columns(proxy, _database(proxy))


def test_a_text_past_the_read_limit_runs_where_nothing_is_protected(
    proxy: ProxyProcess,
) -> None:
    """Refused only where a version is protected: elsewhere nothing can break."""
    free = f"{_database(proxy)}_free"
    with _client(proxy, database=free) as client:
        client.send(rc.query(f"SELECT 1; {DROP}; -- " + "x" * READ_LIMIT))
        assert _codes(client) == []
    assert "email" not in _columns(proxy, free)


def test_one_plain_statement_past_the_read_limit_is_relayed(proxy: ProxyProcess) -> None:
    with _client(proxy, "shop@1") as client:
        client.send(rc.query("SELECT length('" + "x" * READ_LIMIT + "')"))
        assert _codes(client) == []
