"""SIGTERM: the proxy stops accepting, lets open connections finish, then exits 0."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, wait_for
from tests.support.proxy import ProxyProcess


def start(cluster: LocalCluster, tmp_path: Path, grace: str) -> ProxyProcess:
    return ProxyProcess(
        upstream=cluster.url(sslmode="disable"),
        extra_args=["--shutdown-grace", grace],  # the last flag wins over the helper's 2s
        logfile=tmp_path / "proxy.log",
    ).start()


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def terminate(running: ProxyProcess) -> None:
    assert running.process is not None
    running.process.send_signal(signal.SIGTERM)
    wait_for(lambda: refuses_connections(running.port))


def test_open_transaction_finishes_during_grace(
    cluster: LocalCluster, table: str, tmp_path: Path
) -> None:
    running = start(cluster, tmp_path, "30s")
    try:
        with psycopg.connect(running.dsn(application_name="drain@1")) as conn:
            conn.execute(f"insert into {table} values (1, 'before sigterm')")
            terminate(running)
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(running.dsn(connect_timeout="2"))
            assert running.alive
            conn.execute(f"insert into {table} values (2, 'during grace')")
            assert conn.execute(f"select count(*) from {table}").fetchone() == (2,)
            conn.commit()
            assert running.alive  # still draining: this connection is open
        assert running.process is not None
        assert running.process.wait(timeout=10) == 0
    finally:
        running.stop()
    with direct(cluster) as check:
        rows = check.execute(f"select id, note from {table} order by id").fetchall()
    assert rows == [(1, "before sigterm"), (2, "during grace")]
    # (the count may include a refused-connection probe that raced the SIGTERM)
    assert re.search(r"waiting for \d+ connection\(s\) to finish", running.log_tail())


def test_connections_closed_when_grace_expires(
    cluster: LocalCluster, table: str, tmp_path: Path
) -> None:
    running = start(cluster, tmp_path, "0.5s")
    try:
        with psycopg.connect(running.dsn()) as conn:
            conn.execute(f"insert into {table} values (1, 'never committed')")
            terminate(running)
            assert running.process is not None
            assert running.process.wait(timeout=10) == 0
            with pytest.raises(psycopg.OperationalError):
                conn.execute("select 1")
    finally:
        running.stop()
    with direct(cluster) as check:
        assert check.execute(f"select count(*) from {table}").fetchone() == (0,)
