"""Limits a demanding operator expects: silent clients time out, half-closed clients get
their answer, and rule severities follow the configuration."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import forked
from tests.support.clients import direct, unique
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess
from tests.support.rawclient import RawClient, query
from tests.support.sites import proxied_database

pytestmark = one_major()


@pytest.fixture
def strict_proxy(cluster: LocalCluster, tmp_path: Path) -> Iterator[ProxyProcess]:
    proxy = ProxyProcess(
        upstream=cluster.url(),
        extra_args=["--startup-timeout", "1s", "--rule-severity", "drop-column-in-use=risk"],
        logfile=tmp_path / "proxy.log",
    ).start()
    yield proxy
    proxy.stop()


def test_silent_client_is_dropped_after_the_startup_timeout(strict_proxy: ProxyProcess) -> None:
    with RawClient("127.0.0.1", strict_proxy.port) as client:
        started = time.monotonic()
        assert client.read_to_eof() == b""  # closed without a word, as PostgreSQL does
        waited = time.monotonic() - started
        assert 0.8 < waited < 8, waited
    assert strict_proxy.alive


def test_half_closed_client_still_gets_its_reply(strict_proxy: ProxyProcess) -> None:
    with RawClient("127.0.0.1", strict_proxy.port) as client:
        assert client.startup({"user": "postgres", "database": "postgres"})[-1].type == "Z"
        client.send(query("SELECT 40 + 2"))
        client.sock.shutdown(socket.SHUT_WR)
        replies = client.read_ready()
    row = next(r for r in replies if r.type == "D")
    assert row.body.endswith(b"42")


def test_rule_severity_configuration_turns_a_block_into_a_risk(
    strict_proxy: ProxyProcess, cluster: LocalCluster
) -> None:
    database = unique("sev")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    with direct(cluster, dbname=database) as conn:
        conn.execute("CREATE TABLE t (id int, note text)")
    url = strict_proxy.url(database=database)
    with psycopg.connect(url + "?application_name=app@1", autocommit=True) as v1:
        v1.execute("SELECT note FROM t").fetchall()
        with psycopg.connect(url, autocommit=True) as migrator:
            migrator.execute("ALTER TABLE t DROP COLUMN note")  # a risk now: not blocked
    with direct(cluster, dbname=database) as conn:
        columns = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 "
            "AND NOT attisdropped"
        ).fetchall()
    assert columns == [("id",)]


def test_unknown_rule_in_configuration_is_refused(cluster: LocalCluster, tmp_path: Path) -> None:
    proxy = ProxyProcess(
        upstream=cluster.url(), extra_args=["--rule-severity", "SG999=risk"],
        logfile=tmp_path / "proxy.log",
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="unknown rules: SG999"):
        proxy.start()


def test_max_client_conn_answers_like_postgres(cluster: LocalCluster, tmp_path: Path) -> None:
    """Past the cap: PostgreSQL's 53300 at once; the connections already open keep working."""
    proxy = ProxyProcess(
        upstream=cluster.url(),
        extra_args=["--max-client-conn", "3"],
        logfile=tmp_path / "proxy.log",
    ).start()
    try:
        open_ = [psycopg.connect(proxy.url(), autocommit=True) for _ in range(3)]
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(proxy.url(), connect_timeout=10)
        assert "sorry, too many clients already" in str(refused.value)
        for conn in open_:
            assert conn.execute("select 1").fetchone() == (1,)
        open_.pop().close()
        deadline = time.monotonic() + 10
        while True:  # the closed one is counted out as soon as the proxy sees it go
            try:
                with psycopg.connect(proxy.url(), autocommit=True) as again:
                    assert again.execute("select 2").fetchone() == (2,)
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        for conn in open_:
            conn.close()
        refusals = proxy.metrics()[
            ("skewguard_client_errors_total", (("reason", "too_many_clients"),))
        ]
        assert refusals >= 1
    finally:
        proxy.stop()


def test_a_connection_claiming_too_many_versions_stops_learning(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """SET application_name in a loop would claim a version each time (and every decision
    weighs every version): past --max-session-versions the connection is no longer
    learned; it keeps working, and its DDL is still judged."""
    schema, bound = "CREATE TABLE t (id int, note text)", ("--max-session-versions", "4")
    with proxied_database(cluster, tmp_path, "claims", schema, *bound) as (database, proxy):
        url = proxy.url(database=database, application_name="loop@0")
        with psycopg.connect(url, autocommit=True) as conn:
            for n in range(1, 10):
                conn.execute(f"SET application_name = 'loop@{n}'")
                assert conn.execute("SELECT note FROM t").fetchall() == []
            learned = {v for (db, app, v) in proxy.versions() if db == database and app == "loop"}
            assert learned == {"0", "1", "2", "3"}, learned
            stopped = proxy.metrics()[
                ("skewguard_learning_stopped_sessions_total", (("reason", "versions"),))
            ]
            assert stopped == 1
            # the versions it did learn under still protect what they read
            with pytest.raises(psycopg.errors.ObjectInUse):
                conn.execute("ALTER TABLE t DROP COLUMN note")


def test_a_footprint_past_the_facet_bound_is_not_judged_on(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """A version whose footprint reached --max-version-facets keeps only its oldest
    facets: what else it uses is unknown, so DDL is refused as not judged (not passed
    on a footprint known to be incomplete) until the version is retired."""
    with proxied_database(
        cluster, tmp_path, "facets", "SELECT 1", "--max-version-facets", "20"
    ) as (database, proxy):
        url = proxy.url(database=database, application_name="wide@1")
        with psycopg.connect(url, autocommit=True) as conn:
            for n in range(30):  # each names a table the schema lacks: three facets
                with pytest.raises(psycopg.errors.UndefinedTable):
                    conn.execute(f"SELECT x FROM missing_{n}")
        facets = proxy.versions()[(database, "wide", "1")]["facets"]
        assert len(facets) == 20, len(facets)
        migrate = proxy.url(database=database, application_name="migrate")
        with psycopg.connect(migrate, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.ObjectInUse) as refused:
                conn.execute("CREATE TABLE fresh (id int)")
            assert "--max-version-facets" in str(refused.value), refused.value
            assert "versions retire" in (refused.value.diag.message_hint or "")
            retired = forked.run(["versions", "retire", "wide@1", "--admin", proxy.admin_url])
            assert retired.returncode == 0, retired.stderr
            conn.execute("CREATE TABLE fresh (id int)")
