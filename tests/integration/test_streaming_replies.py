"""A server's reply reaches a client that is still sending (TLS on both legs, enforce).

asyncpg's ``executemany`` streams Bind/Execute pairs and stops generating rows
once it reads the server's error; its own suite checks that with 128 rows of
32 KiB, which the loopback socket buffers can swallow whole even without a
proxy (it fails directly too on this machine). Here the stream has no
practical end: only an error relayed while the client writes stops it.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import asyncpg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import unique
from tests.support.clusters import Certificates
from tests.support.proxy import ProxyProcess

ROW = "a" * 32768
#: 256 MiB of rows: far more than every socket buffer on the way can hold.
LIMIT = 8192


@pytest.fixture(scope="module")
def tls_proxy(
    cluster: LocalCluster, certs: Certificates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    """Enforce mode, client TLS and upstream sslmode=require (the TLS paths in Python)."""
    running = ProxyProcess(
        upstream=cluster.url(sslmode="require"),
        extra_args=["--tls-cert", str(certs.cert), "--tls-key", str(certs.key)],
        logfile=tmp_path_factory.mktemp("proxy-streaming") / "proxy.log",
    ).start()
    yield running
    assert running.stop() == 0, running.log_tail()


async def test_server_error_stops_a_streaming_executemany(
    cluster: LocalCluster, certs: Certificates, tls_proxy: ProxyProcess
) -> None:
    if not cluster.install.supports_ssl:
        pytest.skip("this PostgreSQL is built without SSL")
    table = unique("exmany")
    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=tls_proxy.port,
        user="postgres",
        database="postgres",
        ssl=ssl.create_default_context(cafile=str(certs.ca)),
        server_settings={"application_name": "streaming@1.0"},  # tagged: learning is on
    )
    try:
        await conn.execute(f"create table {table} (a text, b int primary key)")
        sent = 0

        def rows() -> Iterator[tuple[str, int]]:
            nonlocal sent
            while sent < LIMIT:
                sent += 1
                yield ("a", 0) if sent < 3 else (ROW, sent)  # the second row violates the key

        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.executemany(f"insert into {table} values ($1, $2)", rows())
        assert sent < LIMIT, "the server's error did not reach the client while it was sending"
        assert await conn.fetchval(f"select count(*) from {table}") == 0
    finally:
        await conn.close()
        # straight to PostgreSQL: through the proxy the guard protects the live version's table
        direct = await asyncpg.connect(
            host=cluster.host, port=cluster.port, user="postgres", database="postgres", ssl=False
        )
        await direct.execute(f"drop table if exists {table}")
        await direct.close()
