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
    time.sleep(1.5)
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
