"""Held statements at shutdown and when their client leaves (#15).

A statement the guard holds has not reached PostgreSQL. On SIGTERM its client
is told 57P01 at once (as PostgreSQL tells it at a fast shutdown) and the
proxy exits without waiting for the decision or the grace; when its client
goes away, the upstream connection is closed so PostgreSQL rolls the
transaction back and releases its locks.

A decision is parked here by locking the shared state store's table: the
guard's read of the protected versions waits on that lock.
"""

from __future__ import annotations

import signal
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
from tests.support.clients import direct, unique, wait_for
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess

pytestmark = [pytest.mark.integration, one_major()]


class Client(rc.RawClient):
    backend_key: tuple[int, bytes] = (0, b"")


@dataclass
class Site:
    cluster: LocalCluster
    database: str
    proxy: ProxyProcess
    logfile: Path

    def client(self) -> Client:
        client = Client("127.0.0.1", self.proxy.port)
        replies = client.startup({"user": "postgres", "database": self.database})
        assert replies[-1].type == "Z", replies
        key_data = next(r for r in replies if r.type == "K")
        client.backend_key = struct.unpack_from("!i", key_data.body)[0], key_data.body[4:]
        return client

    def backends(self, application_name: str) -> int:
        with direct(self.cluster, dbname=self.database) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (application_name,),
            ).fetchone()
        assert row is not None
        return int(str(row[0]))


@pytest.fixture
def site(cluster: LocalCluster, tmp_path: Path) -> Iterator[Site]:
    database = unique("held")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    with direct(cluster, dbname=database) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
    logfile = tmp_path / "proxy.log"
    proxy = ProxyProcess(
        upstream=cluster.url(database=database, sslmode="disable"),
        logfile=logfile,
        extra_args=[
            "--state", cluster.url(database=database, sslmode="disable"),
            "--decision-timeout", "60s",
            "--shutdown-grace", "30s",
        ],
    ).start()  # fmt: skip
    try:
        yield Site(cluster, database, proxy, logfile)
    finally:
        proxy.stop()
        with direct(cluster) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _park(site: Site, client: rc.RawClient, app: str) -> psycopg.Connection[tuple[object, ...]]:
    """Open a migration and send its COMMIT while the state store is locked: it stays held.

    Returns the connection holding the store's lock (closing it lets decisions go on).
    """
    client.send(rc.query(f"SET application_name = '{app}'"))
    client.read_ready()
    client.send(rc.query("BEGIN"), rc.query("ALTER TABLE t ADD COLUMN extra int"))
    assert rc.error_code(client.read_ready(2)) is None
    locker = direct(site.cluster, dbname=site.database)
    locker.execute("BEGIN")
    locker.execute("LOCK TABLE skewguard.versions IN ACCESS EXCLUSIVE MODE")
    client.send(rc.query("COMMIT"))
    # the decision waits on the store: the COMMIT has not reached PostgreSQL
    wait_for(lambda: _waiting_on_store(site) or None)
    return locker


def _waiting_on_store(site: Site) -> bool:
    with direct(site.cluster, dbname=site.database) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'skewguard-state'"
            " AND wait_event_type = 'Lock'"
        ).fetchone()
    return row is not None and int(str(row[0])) > 0


def test_sigterm_with_a_held_decision_exits_at_once_with_57p01(site: Site) -> None:
    app = unique("parked")
    client = site.client()
    locker = _park(site, client, app)
    try:
        assert site.proxy.process is not None
        started = time.monotonic()
        site.proxy.process.send_signal(signal.SIGTERM)
        replies = rc.messages_of(client.read_to_eof(timeout=5))
        assert rc.error_code(replies) == "57P01"
        locker.close()  # the store answers again (the final flush writes to it)
        assert site.proxy.process.wait(timeout=25) == 0
        took = time.monotonic() - started
    finally:
        locker.close()
        client.close()
    # neither the 60 s decision nor the 30 s grace was waited for (margin: a loaded CI)
    assert took < 20.0, f"the proxy took {took:.2f} s to exit"
    log = site.logfile.read_text(errors="replace")
    assert "Traceback" not in log and "ProgrammingError" not in log, log[-3000:]
    # the migration never committed
    with direct(site.cluster, dbname=site.database) as conn:
        columns = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0"
        ).fetchall()
    assert ("extra",) not in columns


def test_a_client_killed_while_held_takes_its_backend_and_locks_with_it(site: Site) -> None:
    app = unique("killed")
    client = site.client()
    locker = _park(site, client, app)
    try:
        assert site.backends(app) == 1
        client.sock.close()  # killed: no Terminate
        # gone long before the 60 s decision would end (margin: a loaded CI)
        wait_for(lambda: site.backends(app) == 0 or None, timeout=15)
    finally:
        locker.close()
    with direct(site.cluster, dbname=site.database) as conn:
        conn.execute("SET lock_timeout = '1s'")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)  # no lock left


def test_a_cancel_fails_the_held_statement_itself(site: Site) -> None:
    app = unique("cancelled")
    client = site.client()
    locker = _park(site, client, app)
    try:
        pid, key = client.backend_key
        with socket.create_connection(("127.0.0.1", site.proxy.port), timeout=10) as cancel:
            cancel.sendall(rc.cancel_request(pid, key))
            cancel.settimeout(10)
            assert cancel.recv(1) == b""
        replies = client.read_ready()
        assert rc.error_code(replies) == "57014"
        assert replies[-1].body == b"E"  # as a statement cancelled in a block leaves it
        client.send(rc.query("ROLLBACK"))
        assert rc.error_code(client.read_ready()) is None
    finally:
        locker.close()
        client.close()
    with direct(site.cluster, dbname=site.database) as conn:
        columns = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0"
        ).fetchall()
    assert ("extra",) not in columns
