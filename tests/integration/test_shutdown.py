"""SIGTERM: the proxy stops accepting, lets open connections finish, then exits 0."""

from __future__ import annotations

import re
import signal
import socket
import time
from pathlib import Path

import psycopg
import pytest

from skewguard.app import FINAL_WRITE_TIMEOUT
from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, wait_for
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess

pytestmark = one_major()


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


#: Enough statements in one text that analysing it takes far longer than the bound below.
LONG_TEXT_STATEMENTS = 50_000


def test_a_long_analysis_does_not_hold_the_exit(
    cluster: LocalCluster, table: str, tmp_path: Path
) -> None:
    """SIGTERM while a tagged session's long text is still being analysed: the proxy exits
    0 within its grace period and the bounded final write (FINAL_WRITE_TIMEOUT), not when
    the analysis would end (an orchestrator's SIGKILL would lose every unwritten
    footprint), and what another version ran before it is written. (A hang test: the
    bound is generous.)"""
    running = start(cluster, tmp_path, "1s")
    try:
        with psycopg.connect(running.dsn(application_name="shop@1"), autocommit=True) as conn:
            conn.execute(f"select note from {table}")
        with psycopg.connect(running.dsn(application_name="bulk@1"), autocommit=True) as conn:
            conn.execute("SELECT 1;" * LONG_TEXT_STATEMENTS)
        assert running.process is not None
        began = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(timeout=90)
        took = time.monotonic() - began
    finally:
        running.stop()
    assert code == 0, running.log_tail()
    assert took < 1 + FINAL_WRITE_TIMEOUT + 5, (took, running.log_tail())
    again = running.restarted()
    try:
        assert f"public.{table}.note" in " ".join(again.footprint("postgres", "shop", "1"))
    finally:
        again.stop()
