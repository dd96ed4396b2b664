"""``run --workers 2``: two proxy processes behind one address and one admin endpoint.

Which worker a connection lands on is the kernel's choice; the tests find out
from /healthz (each worker's open connections) and keep opening connections
until both workers hold some, so every check below really crosses workers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors

from skewguard.pgcluster import LocalCluster, free_port
from tests.support import rawclient as rc
from tests.support.clients import direct, unique, wait_for
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess

pytestmark = [pytest.mark.integration, one_major()]

Conn = psycopg.Connection[tuple[Any, ...]]


def start(cluster: LocalCluster, log: Path, *extra: str, state: str | None = None) -> ProxyProcess:
    args = ["--workers", "2", *extra]
    if state is not None:
        args += ["--state", state]  # the last --state wins over the helper's SQLite file
    return ProxyProcess(
        upstream=cluster.url(sslmode="disable"), extra_args=args, logfile=log
    ).start(timeout=60)


@pytest.fixture(scope="module")
def workers(
    cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    running = start(cluster, tmp_path_factory.mktemp("workers") / "proxy.log")
    yield running
    assert running.stop(timeout=30) == 0, running.log_tail()


def health(proxy: ProxyProcess) -> list[dict[str, Any]]:
    workers: list[dict[str, Any]] = json.loads(proxy.get("/healthz"))["workers"]
    return workers


def counts(proxy: ProxyProcess) -> list[int]:
    return [int(w.get("connections", -1)) for w in health(proxy)]


def one_on_each(proxy: ProxyProcess, stack: ExitStack, dsn: dict[str, str]) -> list[Conn]:
    """A connection served by worker 0 and one served by worker 1 (others kept open
    until ``stack`` closes, so the kernel's choice cannot move back)."""
    found: dict[int, Conn] = {}
    for _ in range(64):
        before = counts(proxy)
        conn = stack.enter_context(psycopg.connect(proxy.dsn(**dsn), autocommit=True))
        after = counts(proxy)
        grew = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if b == a + 1]
        if len(grew) == 1:
            found.setdefault(grew[0], conn)
        if len(found) == 2:
            return [found[0], found[1]]
    raise AssertionError(f"64 connections did not reach both workers: {counts(proxy)}")


def learn_then_drop(cluster: LocalCluster, learner: Conn, dropper: Conn) -> None:
    """A read through ``learner`` protects its column at once against a DROP through
    ``dropper`` (no periodic flush waited for)."""
    table = unique("w")
    with direct(cluster) as admin:
        admin.execute(f"create table {table} (id int, email text, note text)")
    learner.execute(f"select email from {table}")
    with pytest.raises(errors.ObjectInUse) as blocked:
        dropper.execute(f"alter table {table} drop column email")
    assert "skewguard" in str(blocked.value)
    dropper.execute(f"alter table {table} drop column note")  # unused: not refused


def test_connections_reach_both_workers(workers: ProxyProcess) -> None:
    with ExitStack() as stack:
        first, second = one_on_each(workers, stack, {})
        assert first.execute("select 1").fetchone() == (1,)
        assert second.execute("select 1").fetchone() == (1,)
    assert json.loads(workers.get("/readyz")) == {"status": "ready", "workers": 2}


@pytest.mark.parametrize("order", ["0-then-1", "1-then-0"])
def test_learned_in_one_worker_protects_in_the_other(
    workers: ProxyProcess, cluster: LocalCluster, order: str
) -> None:
    with ExitStack() as stack:
        apps = one_on_each(workers, stack, {"application_name": f"{unique('shop')}@1"})
        migrations = one_on_each(workers, stack, {})
        if order == "0-then-1":
            learn_then_drop(cluster, apps[0], migrations[1])
        else:
            learn_then_drop(cluster, apps[1], migrations[0])


def test_consistent_with_a_postgresql_store(cluster: LocalCluster, tmp_path: Path) -> None:
    """Workers sharing a PostgreSQL store are peers like sidecars (NOTIFY)."""
    name = unique("state")
    with direct(cluster) as admin:
        admin.execute(f"create database {name}")
    running = start(cluster, tmp_path / "proxy.log", state=cluster.url(database=name))
    try:
        with ExitStack() as stack:
            apps = one_on_each(running, stack, {"application_name": f"{unique('shop')}@1"})
            migrations = one_on_each(running, stack, {})
            learn_then_drop(cluster, apps[1], migrations[0])
            learn_then_drop(cluster, apps[0], migrations[1])
    finally:
        assert running.stop(timeout=30) == 0, running.log_tail()
        with direct(cluster) as admin:
            admin.execute(f"drop database {name} with (force)")


def test_metrics_add_up_every_worker(workers: ProxyProcess) -> None:
    app = unique("counted")
    with ExitStack() as stack:
        conns = one_on_each(workers, stack, {"application_name": f"{app}@1"})
        for conn in conns:
            conn.execute("select 1")
        opened = sum(counts(workers))
        metrics = workers.metrics()
        labels = (("app", app), ("version", "1"))
        assert metrics[("skewguard_client_connections_total", labels)] == opened
        assert metrics[("skewguard_client_connections_active", labels)] == opened
        assert metrics[("skewguard_queries_total", labels)] >= len(conns)
    assert metrics[("skewguard_workers", (("state", "answering"),))] == 2
    assert metrics[("skewguard_workers", (("state", "configured"),))] == 2
    assert metrics[("skewguard_state_up", ())] == 1
    assert metrics[("process_open_fds", ())] > 0


def test_a_dead_worker_is_restarted(cluster: LocalCluster, tmp_path: Path) -> None:
    running = start(cluster, tmp_path / "proxy.log")
    try:
        victim = health(running)[1]["pid"]
        os.kill(victim, signal.SIGKILL)
        with psycopg.connect(running.dsn()) as conn:  # the other worker (or the queue) serves
            assert conn.execute("select 1").fetchone() == (1,)
        wait_for(lambda: health(running)[1].get("status") == "ok", timeout=30)
        assert health(running)[1]["pid"] != victim
        metrics = running.metrics()
        assert metrics[("skewguard_worker_restarts_total", ())] == 1
        assert metrics[("skewguard_workers", (("state", "answering"),))] == 2
        assert f"worker 1 (pid {victim}) exited with status -9" in running.log_tail()
        with ExitStack() as stack:  # the new worker serves and stays consistent
            apps = one_on_each(running, stack, {"application_name": f"{unique('shop')}@1"})
            migrations = one_on_each(running, stack, {})
            learn_then_drop(cluster, apps[1], migrations[0])
    finally:
        assert running.stop(timeout=30) == 0, running.log_tail()


def test_sigterm_drains_every_worker(cluster: LocalCluster, tmp_path: Path) -> None:
    table = unique("drain")
    with direct(cluster) as admin:
        admin.execute(f"create table {table} (id int)")
    running = start(cluster, tmp_path / "proxy.log", "--shutdown-grace", "30s")
    assert running.process is not None
    with ExitStack() as stack:
        conns = one_on_each(running, stack, {"application_name": "drain@1"})
        for n, conn in enumerate(conns):
            conn.execute("begin")
            conn.execute(f"insert into {table} values ({n})")
        running.process.send_signal(signal.SIGTERM)
        wait_for(lambda: refuses(running.port), timeout=10)
        for conn in conns:  # both workers let their open transactions finish
            conn.execute("commit")
        assert running.alive
    assert running.process.wait(timeout=30) == 0
    with direct(cluster) as check:
        assert check.execute(f"select count(*) from {table}").fetchone() == (2,)


def refuses(port: int) -> bool:
    try:
        psycopg.connect(f"host=127.0.0.1 port={port} user=postgres connect_timeout=1").close()
    except psycopg.OperationalError as exc:
        return "refused" in str(exc)
    return False


def test_sighup_reaches_every_worker(cluster: LocalCluster, tmp_path: Path) -> None:
    config = tmp_path / "skewguard.toml"
    config.write_text('[run]\nmode = "enforce"\n')
    running = start(cluster, tmp_path / "proxy.log", "--config", str(config))
    assert running.process is not None
    try:
        config.write_text('[run]\nmode = "observe"\n')
        running.process.send_signal(signal.SIGHUP)
        wait_for(lambda: running.log_tail().count("SIGHUP: configuration reloaded: mode") == 2)
    finally:
        assert running.stop(timeout=30) == 0, running.log_tail()


def test_workers_that_cannot_start_stop_the_supervisor(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "skewguard", "run", "--workers", "2",
         "--upstream", cluster.url(sslmode="disable"),
         "--listen", f"127.0.0.1:{free_port()}", "--admin-listen", f"127.0.0.1:{free_port()}",
         "--state", str(tmp_path / "s.db"),
         "--admin-token-file", str(tmp_path / "missing-token")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "could not start" in proc.stderr
    assert "missing-token" in proc.stderr  # each worker's own reason
    assert "Traceback" not in proc.stderr


def test_one_worker_is_todays_proxy(cluster: LocalCluster, tmp_path: Path) -> None:
    """--workers 1 (the default) starts no supervisor: the proxy is the process itself."""
    running = ProxyProcess(
        upstream=cluster.url(sslmode="disable"),
        extra_args=["--workers", "1"],
        logfile=tmp_path / "proxy.log",
    ).start()
    try:
        assert json.loads(running.get("/readyz")) == {"status": "ready"}
        assert "workers" not in json.loads(running.get("/healthz"))
    finally:
        assert running.stop() == 0
    assert "worker 0 started" not in running.log_tail()


def test_admin_refusals_come_back_as_they_are(cluster: LocalCluster, tmp_path: Path) -> None:
    token = tmp_path / "read-token"
    token.write_text("s3cret-read-token-0123\n")
    running = start(cluster, tmp_path / "proxy.log", "--admin-read-token-file", str(token))
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            running.get("/metrics")
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"] == "Bearer"
        request = urllib.request.Request(
            running.admin_url + "/api/versions",
            headers={"Authorization": "Bearer s3cret-read-token-0123"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert "versions" in json.loads(answer.read())
        assert json.loads(running.get("/readyz"))["status"] == "ready"  # probes stay open
    finally:
        assert running.stop(timeout=30) == 0, running.log_tail()


def test_a_cancel_reaches_a_statement_held_by_another_worker(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """The cancel connection lands on either worker: rounds until one crossed (1/2 each)."""
    database = unique("held")
    with direct(cluster) as admin:
        admin.execute(f"create database {database}")
    with direct(cluster, dbname=database) as conn:
        conn.execute("create table t (id int primary key)")
    url = cluster.url(database=database, sslmode="disable")
    running = start(cluster, tmp_path / "proxy.log", "--decision-timeout", "60s", state=url)
    try:
        for _ in range(12):
            assert cancelled_while_held(running, database, cluster)
            if "is for a statement held here" in running.log_tail():
                break
        else:
            raise AssertionError("12 cancels all landed on their session's worker")
    finally:
        assert running.stop(timeout=30) == 0, running.log_tail()
        with direct(cluster) as admin:
            admin.execute(f"drop database {database} with (force)")


def cancelled_while_held(running: ProxyProcess, database: str, cluster: LocalCluster) -> bool:
    """A COMMIT held (the store's table locked) fails with 57014 on a CancelRequest."""
    with rc.RawClient("127.0.0.1", running.port) as client:
        replies = client.startup({"user": "postgres", "database": database})
        key_data = next(r for r in replies if r.type == "K")
        pid, key = struct.unpack_from("!i", key_data.body)[0], key_data.body[4:]
        client.send(rc.query("BEGIN"), rc.query("ALTER TABLE t ADD COLUMN extra int"))
        assert rc.error_code(client.read_ready(2)) is None
        with direct(cluster, dbname=database) as locker:
            locker.execute("BEGIN")
            locker.execute("LOCK TABLE skewguard.versions IN ACCESS EXCLUSIVE MODE")
            client.send(rc.query("COMMIT"))
            wait_for(lambda: waiting_on_store(cluster, database) or None)
            with socket.create_connection(("127.0.0.1", running.port), timeout=10) as cancel:
                cancel.sendall(rc.cancel_request(pid, key))
                cancel.settimeout(10)
                assert cancel.recv(1) == b""
            replies = client.read_ready()
            locker.execute("ROLLBACK")
        client.send(rc.query("ROLLBACK"))
        client.read_ready()
    return rc.error_code(replies) == "57014"


def waiting_on_store(cluster: LocalCluster, database: str) -> bool:
    with direct(cluster, dbname=database) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'skewguard-state'"
            " AND wait_event_type = 'Lock' AND query ILIKE '%versions%'"
        ).fetchone()
    return row is not None and row != (0,)


def test_workers_on_a_unix_socket(cluster: LocalCluster, tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="sg-") as directory:  # short: ~107-byte paths
        path = Path(directory) / ".s.PGSQL.6544"
        running = start(cluster, tmp_path / "proxy.log", "--listen", f"unix:{path}")
        try:
            dsn = f"host={directory} port=6544 user=postgres dbname=postgres"
            conns = [psycopg.connect(dsn) for _ in range(16)]
            assert all(conn.execute("select 1").fetchone() == (1,) for conn in conns)
            assert sum(counts(running)) == 16
            for conn in conns:
                conn.close()
        finally:
            assert running.stop(timeout=30) == 0, running.log_tail()
        assert not path.exists()  # removed once the proxy stopped


def test_max_client_conn_is_shared_by_the_workers(cluster: LocalCluster, tmp_path: Path) -> None:
    running = start(cluster, tmp_path / "proxy.log", "--max-client-conn", "4")
    try:
        with ExitStack() as stack:
            served = refused = 0
            for _ in range(8):
                try:
                    stack.enter_context(psycopg.connect(running.dsn(), autocommit=True))
                    served += 1
                except psycopg.OperationalError as exc:
                    assert "too many clients" in str(exc)
                    refused += 1
            assert sum(counts(running)) == served <= 4  # two per worker at most
            assert refused >= 4
    finally:
        assert running.stop(timeout=30) == 0, running.log_tail()
