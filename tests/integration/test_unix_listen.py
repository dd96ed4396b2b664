"""``--listen unix:/dir/.s.PGSQL.PORT``: libpq's host=/dir port=PORT reaches the proxy.

A sidecar's clients connect over a Unix-domain socket as they would to a local
PostgreSQL: queries, identity and cancels work; a live socket is never taken
over by a second proxy; the socket file is gone once the proxy stops.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from skewguard.pgcluster import LocalCluster, free_port
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess

pytestmark = one_major()

PORT = 6543


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # short: a Unix socket path is limited to ~107 bytes
    with tempfile.TemporaryDirectory(prefix="sg-") as name:
        yield Path(name)


def _unix_proxy(cluster: LocalCluster, directory: Path, logfile: Path) -> ProxyProcess:
    return ProxyProcess(
        upstream=cluster.url(sslmode="disable"),
        extra_args=["--listen", f"unix:{directory}/.s.PGSQL.{PORT}"],
        logfile=logfile,
    ).start()


def test_libpq_and_asyncpg_through_a_unix_socket(
    cluster: LocalCluster, socket_dir: Path, tmp_path: Path
) -> None:
    proxy = _unix_proxy(cluster, socket_dir, tmp_path / "proxy.log")
    try:
        dsn = f"host={socket_dir} port={PORT} user=postgres dbname=postgres"
        with psycopg.connect(dsn, application_name="sidecar@2.0") as conn:
            row = conn.execute("select current_setting('application_name'), 40 + 2").fetchone()
            assert row == ("sidecar@2.0", 42)

            def cancel_soon() -> None:
                time.sleep(0.5)
                conn.cancel()

            threading.Thread(target=cancel_soon).start()
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute("select pg_sleep(30)")

        async def with_asyncpg() -> int:
            conn = await asyncpg.connect(host=str(socket_dir), port=PORT, user="postgres")
            try:
                return int(await conn.fetchval("select $1::int + 1", 41))
            finally:
                await conn.close()

        assert asyncio.run(with_asyncpg()) == 42
    finally:
        assert proxy.stop() == 0, proxy.log_tail()
    assert not (socket_dir / f".s.PGSQL.{PORT}").exists()


def test_a_live_socket_is_not_taken_over(
    cluster: LocalCluster, socket_dir: Path, tmp_path: Path
) -> None:
    path = socket_dir / f".s.PGSQL.{PORT}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as live:
        live.bind(str(path))
        live.listen()
        second = ProxyProcess(
            upstream=cluster.url(sslmode="disable"),
            extra_args=["--listen", f"unix:{path}"],
            admin_port=free_port(),
            logfile=tmp_path / "second.log",
        )
        with pytest.raises(RuntimeError, match="another process listens there"):
            second.start(timeout=10)
        assert path.exists()


def test_a_stale_socket_file_is_replaced(
    cluster: LocalCluster, socket_dir: Path, tmp_path: Path
) -> None:
    path = socket_dir / f".s.PGSQL.{PORT}"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody serves it
    proxy = _unix_proxy(cluster, socket_dir, tmp_path / "proxy.log")
    try:
        with psycopg.connect(f"host={socket_dir} port={PORT} user=postgres") as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        assert proxy.stop() == 0, proxy.log_tail()
