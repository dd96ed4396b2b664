"""A cancel through the proxy lands before the client's next statement, as with PostgreSQL.

libpq (PQcancel, PQcancelBlocking) and asyncpg wait for the server to close the
cancel connection before they send anything else: PostgreSQL closes it only
after it has signalled the backend. A proxy that closes the client's cancel
connection before its own cancel reached PostgreSQL lets the next statement
start first, and the late cancel kills that statement instead.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

import asyncpg
import psycopg
import pytest
from psycopg import errors

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration

#: One asyncpg round; the next statement runs long enough for a late cancel to hit it.
ASYNCPG_ROUNDS = 60
PSYCOPG_ROUNDS = 60
NEXT_STATEMENT = "select pg_sleep(0.02)"


def _proxy_dsn(proxy: ProxyProcess, **params: str) -> str:
    return proxy.dsn(sslmode="disable", **params)


async def test_asyncpg_timeout_never_cancels_the_next_statement(proxy: ProxyProcess) -> None:
    """A statement that times out (asyncpg cancels it) and finishes about when the cancel lands."""
    conn = await asyncpg.connect(
        host="127.0.0.1", port=proxy.port, user="postgres", database="postgres", ssl=False
    )
    hit: list[int] = []
    try:
        for round_ in range(ASYNCPG_ROUNDS):
            # The timeout fires a few milliseconds before the sleep would end, so the cancel
            # reaches PostgreSQL sometimes during the sleep and sometimes just after it.
            sleep = 0.012 + (round_ % 6) * 0.002
            with contextlib.suppress(TimeoutError, asyncpg.QueryCanceledError):
                await conn.fetchval(f"select pg_sleep({sleep})", timeout=0.01)
            try:
                await conn.execute(NEXT_STATEMENT)
            except asyncpg.QueryCanceledError:
                hit.append(round_)
            assert await conn.fetchval("select 1") == 1
    finally:
        await conn.close()
    assert not hit, f"the cancel hit the following statement in rounds {hit}"


async def test_asyncpg_long_statement_timeout_then_select(proxy: ProxyProcess) -> None:
    """pg_sleep(1) that times out at once, then `select 1` straight away, many times."""
    conn = await asyncpg.connect(
        host="127.0.0.1", port=proxy.port, user="postgres", database="postgres", ssl=False
    )
    hit: list[int] = []
    try:
        for round_ in range(ASYNCPG_ROUNDS):
            with pytest.raises(TimeoutError):
                await conn.fetchval("select pg_sleep(1)", timeout=0.02)
            try:
                assert await conn.fetchval("select 1") == 1
            except asyncpg.QueryCanceledError:
                hit.append(round_)
    finally:
        await conn.close()
    assert not hit, f"the cancel hit the following statement in rounds {hit}"


@pytest.mark.parametrize("how", ["cancel", "cancel_safe"])
def test_psycopg_cancel_of_an_idle_session_spares_the_next_statement(
    proxy: ProxyProcess, how: str
) -> None:
    """conn.cancel() returns once PostgreSQL has the cancel; the next statement runs whole."""
    hit: list[int] = []
    with psycopg.connect(_proxy_dsn(proxy), autocommit=True) as conn:
        for round_ in range(PSYCOPG_ROUNDS // 2):
            conn.execute("select 1")
            if how == "cancel_safe":
                conn.cancel_safe(timeout=5)
            else:
                conn.cancel()
            try:
                conn.execute(NEXT_STATEMENT)
            except errors.QueryCanceled:
                hit.append(round_)
    assert not hit, f"the cancel hit the following statement in rounds {hit}"


def test_psycopg_cancel_of_a_running_statement(proxy: ProxyProcess) -> None:
    """Cancels from another thread stop the running statement, and only that one."""
    hit: list[int] = []
    with psycopg.connect(_proxy_dsn(proxy), autocommit=True) as conn:
        for round_ in range(PSYCOPG_ROUNDS // 2):
            done = threading.Event()

            def cancel_until_done(done: threading.Event = done) -> None:
                while not done.wait(0.01):  # until the statement has been seen cancelled
                    conn.cancel()

            worker = threading.Thread(target=cancel_until_done)
            worker.start()
            try:
                with pytest.raises(errors.QueryCanceled):
                    conn.execute("select pg_sleep(5)")
            finally:
                done.set()
                worker.join()
            try:
                conn.execute(NEXT_STATEMENT)
            except errors.QueryCanceled:
                hit.append(round_)
    assert not hit, f"the cancel hit the following statement in rounds {hit}"


def _read_until_closed(sock: socket.socket, timeout: float) -> float:
    """Seconds until the peer closed ``sock`` (it must send nothing)."""
    start = time.monotonic()
    sock.settimeout(timeout)
    assert sock.recv(1) == b""
    return time.monotonic() - start


@pytest.mark.parametrize("minor", [0, 2], ids=["protocol-3.0", "protocol-3.2"])
def test_cancel_keys_of_every_length(
    cluster: LocalCluster, proxy: ProxyProcess, minor: int
) -> None:
    """The key PostgreSQL handed out (4 bytes, or 32 with protocol 3.2 on 18) cancels."""
    with rc.RawClient("127.0.0.1", proxy.port) as client:
        replies = client.startup({"user": "postgres", "database": "postgres"}, minor=minor)
        assert replies[-1].type == "Z", replies
        key_data = next(r for r in replies if r.type == "K")
        pid = struct.unpack_from("!i", key_data.body)[0]
        key = key_data.body[4:]
        expected = 32 if minor == 2 and cluster.install.major >= 18 else 4
        assert len(key) == expected
        client.send(rc.query("select pg_sleep(30)"))
        time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as cancel:
            cancel.sendall(rc.cancel_request(pid, key))
            _read_until_closed(cancel, 10)
        replies = client.read_ready()
        errors_ = [r.fields() for r in replies if r.type == "E"]
        assert [e["C"] for e in errors_] == ["57014"], replies


def test_cancel_with_a_wrong_key_cancels_nothing(proxy: ProxyProcess) -> None:
    with rc.RawClient("127.0.0.1", proxy.port) as client:
        replies = client.startup({"user": "postgres", "database": "postgres"})
        key_data = next(r for r in replies if r.type == "K")
        pid = struct.unpack_from("!i", key_data.body)[0]
        wrong = bytes(b ^ 0xFF for b in key_data.body[4:])
        client.send(rc.query("select pg_sleep(0.3)"))
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as cancel:
            cancel.sendall(rc.cancel_request(pid, wrong))
            _read_until_closed(cancel, 10)
        replies = client.read_ready()
        assert [r.type for r in replies] == ["T", "D", "C", "Z"], replies
