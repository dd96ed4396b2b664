"""asyncpg through the proxy: prepared statements, batches, COPY, timeouts, TLS and auth."""

from __future__ import annotations

import asyncio
import io
import ssl
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import unique
from tests.support.clusters import MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER, Certificates
from tests.support.proxy import ProxyProcess

TLS_MODES = ["plain", "sslrequest", "direct"]


def client_tls(certs: Certificates, mode: str) -> dict[str, object]:
    """asyncpg connect() arguments for a client leg without TLS, or with TLS verified."""
    if mode == "plain":
        return {"ssl": False}
    context = ssl.create_default_context(cafile=str(certs.ca))
    if mode == "direct":  # PostgreSQL 17+ (and the proxy) insist on ALPN for direct TLS
        context.set_alpn_protocols(["postgresql"])
    return {"ssl": context, "direct_tls": mode == "direct"}


async def via_proxy(proxy: ProxyProcess, **kwargs: object) -> asyncpg.Connection:
    params: dict[str, Any] = {"ssl": False, "user": "postgres", **kwargs}
    return await asyncpg.connect(host="127.0.0.1", port=proxy.port, database="postgres", **params)


async def via_direct(cluster: LocalCluster, **kwargs: object) -> asyncpg.Connection:
    params: dict[str, Any] = {"ssl": False, "user": "postgres", **kwargs}
    return await asyncpg.connect(
        host=cluster.host, port=cluster.port, database="postgres", **params
    )


@pytest.fixture
async def conn(proxy: ProxyProcess) -> AsyncIterator[asyncpg.Connection]:
    connection = await via_proxy(proxy)
    yield connection
    await connection.close()


async def test_prepared_statement_reuse(conn: asyncpg.Connection) -> None:
    stmt = await conn.prepare("select $1::int * $2::int as product, $3::text as label")
    assert [t.name for t in stmt.get_parameters()] == ["int4", "int4", "text"]
    assert [a.name for a in stmt.get_attributes()] == ["product", "label"]
    for i in range(50):
        assert tuple(await stmt.fetchrow(i, 3, f"n{i}") or ()) == (i * 3, f"n{i}")
    rows = await stmt.fetch(7, 6, "x")
    assert [tuple(r) for r in rows] == [(42, "x")]
    # The statement lives server-side under asyncpg's name, once.
    names = await conn.fetch(
        "select name from pg_prepared_statements where statement like 'select $1::int * $2::int%'"
    )
    assert len(names) == 1
    assert names[0]["name"].startswith("__asyncpg_stmt_")
    # The statement cache re-uses a named statement for repeated fetches.
    for i in range(5):
        assert await conn.fetchval("select $1::int + 1", i) == i + 1
    cached = await conn.fetchval(
        "select count(*) from pg_prepared_statements where statement = 'select $1::int + 1'"
    )
    assert cached == 1


async def test_executemany_and_atomic_failure(
    conn: asyncpg.Connection, cluster: LocalCluster, table: str
) -> None:
    insert = f"insert into {table} (id, note) values ($1, $2)"
    await conn.executemany(insert, [(i, f"n{i}") for i in range(1, 3001)])
    direct = await via_direct(cluster)
    try:
        assert tuple(await direct.fetchrow(f"select count(*), sum(id) from {table}") or ()) == (
            3000,
            3000 * 3001 // 2,
        )
        # A failing row rolls back the whole batch, as it does without the proxy.
        batch = [(i, "again") for i in (5001, 5002, 17, 5003)]
        for target in (direct, conn):
            with pytest.raises(asyncpg.UniqueViolationError, match="duplicate key value"):
                await target.executemany(insert, batch)
        assert await direct.fetchval(f"select count(*) from {table}") == 3000
        assert await conn.fetchval("select 'still usable'") == "still usable"
    finally:
        await direct.close()


async def test_copy_records_and_copy_out(
    conn: asyncpg.Connection, cluster: LocalCluster, table: str
) -> None:
    records = [(i, None if i % 9 == 0 else f"copied ü {i}\n\t\\") for i in range(1, 20001)]
    status = await conn.copy_records_to_table(table, records=records, columns=["id", "note"])
    assert status == "COPY 20000"
    direct = await via_direct(cluster)
    try:
        rows = await direct.fetch(f"select id, note from {table} order by id")
        assert [tuple(r) for r in rows] == records
        outputs = []
        for target in (direct, conn):
            buffer = io.BytesIO()
            await target.copy_from_query(
                f"select * from {table} order by id", output=buffer, format="csv"
            )
            outputs.append(buffer.getvalue())
        assert outputs[1] == outputs[0]
        assert outputs[0].count(b"\n") > 20000
    finally:
        await direct.close()


@pytest.mark.parametrize("tls", TLS_MODES)
async def test_timeout_cancels_statement(
    proxy: ProxyProcess, certs: Certificates, cluster: LocalCluster, tls: str
) -> None:
    cancels = ("skewguard_cancel_requests_total", ())
    before = proxy.metrics().get(cancels, 0.0)
    conn = await via_proxy(proxy, **client_tls(certs, tls))
    try:
        pid = conn.get_server_pid()
        with pytest.raises(asyncio.TimeoutError):
            await conn.fetchval("select pg_sleep(30)", timeout=0.3)
        assert await conn.fetchval("select 'after timeout'") == "after timeout"
        direct = await via_direct(cluster)
        try:
            state = await direct.fetchval("select state from pg_stat_activity where pid = $1", pid)
        finally:
            await direct.close()
        assert state == "idle"
    finally:
        await conn.close()
    assert proxy.metrics()[cancels] == before + 1


@pytest.mark.parametrize("tls", TLS_MODES)
@pytest.mark.parametrize(
    ("user", "password"), [(MD5_USER, MD5_PASSWORD), (SCRAM_USER, SCRAM_PASSWORD)]
)
async def test_password_auth(
    proxy: ProxyProcess,
    cluster: LocalCluster,
    certs: Certificates,
    tls: str,
    user: str,
    password: str,
) -> None:
    kind = {"plain": None, "sslrequest": "sslrequest", "direct": "direct"}[tls]
    handshakes = ("skewguard_tls_handshakes_total", (("kind", kind or ""),))
    before = proxy.metrics().get(handshakes, 0.0)
    conn = await via_proxy(proxy, user=user, password=password, **client_tls(certs, tls))
    try:
        assert await conn.fetchval("select current_user") == user
        assert await conn.fetchval("select $1::text", unique("x"))
    finally:
        await conn.close()
    if kind:
        assert proxy.metrics()[handshakes] == before + 1

    errors = []
    for connect in (
        via_direct(cluster, user=user, password="wrong"),
        via_proxy(proxy, user=user, password="wrong", **client_tls(certs, tls)),
    ):
        with pytest.raises(asyncpg.InvalidPasswordError) as caught:
            await connect
        errors.append((type(caught.value), str(caught.value), caught.value.sqlstate))
    assert errors[1] == errors[0]
    assert errors[0][1] == f'password authentication failed for user "{user}"'


async def test_direct_tls_without_alpn_is_refused(proxy: ProxyProcess, certs: Certificates) -> None:
    """As PostgreSQL 17+ does: direct TLS must negotiate the ``postgresql`` ALPN protocol."""
    context = ssl.create_default_context(cafile=str(certs.ca))
    with pytest.raises(asyncpg.ProtocolViolationError, match="requires ALPN"):
        await via_proxy(proxy, ssl=context, direct_tls=True)
