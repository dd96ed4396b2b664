"""What versions ran while the catalog could not be read is learned once it can be: an
outage of the side connection must not make a version's statements count as never run
(the guard then let a rename through that broke the version)."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct
from tests.support.proxy import ProxyProcess
from tests.support.sites import create_database, proxied_database

pytestmark = pytest.mark.integration

SCHEMA = "CREATE TABLE users (id int PRIMARY KEY, email text); CREATE DOMAIN short_text AS text"
APP_READ = "SELECT email::short_text FROM users"


def _allow_connections(cluster: LocalCluster, database: str, allowed: bool) -> None:
    """Refuse every new connection to ``database``, superusers' included (the proxy's
    catalog reads among them); sessions already open go on."""
    with direct(cluster) as conn:
        conn.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS {str(allowed).lower()}")


def _wait_logged(proxy: ProxyProcess, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in proxy.log_tail():
        assert time.monotonic() < deadline, f"never logged {text!r}:\n{proxy.log_tail()}"
        time.sleep(0.05)


def _metric(proxy: ProxyProcess, name: str, *labels: tuple[str, str]) -> float:
    return proxy.metrics().get((name, tuple(labels)), 0.0)


def test_statements_run_while_the_catalog_is_unreadable_are_judged_later(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    with proxied_database(cluster, tmp_path, "outage", SCHEMA, "--mode", "enforce") as (
        database,
        proxy,
    ):
        url = proxy.url(database=database, application_name="shop@1")
        with psycopg.connect(url, autocommit=True) as app:  # connected, nothing read yet
            _allow_connections(cluster, database, False)
            try:
                app.execute(APP_READ).fetchall()  # its session is open: it runs
                _wait_logged(proxy, f"cannot read the catalog of {database}")
                time.sleep(1.5)  # a flush or two more, each failing to read the catalog
                assert _metric(proxy, "skewguard_learning_backlog_texts") >= 1
            finally:
                _allow_connections(cluster, database, True)
            migration = psycopg.connect(proxy.url(database=database), autocommit=True)
            with migration, pytest.raises(psycopg.Error) as refused:
                migration.execute("ALTER DOMAIN short_text RENAME TO short_txt")
            assert refused.value.sqlstate == "55006", refused.value
            assert "shop@1" in (refused.value.diag.message_detail or ""), refused.value
            app.execute(APP_READ).fetchall()  # the rename never ran
        dropped = ("reason", "catalog")
        assert _metric(proxy, "skewguard_analysis_failures_total", dropped) == 0


def test_the_statements_of_a_database_dropped_meanwhile_are_let_go(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    with proxied_database(cluster, tmp_path, "outage_main", "SELECT 1") as (_, proxy):
        gone = create_database(cluster, "outage_gone", SCHEMA)
        app = psycopg.connect(proxy.url(database=gone, application_name="shop@1"), autocommit=True)
        try:
            _allow_connections(cluster, gone, False)
            app.execute(APP_READ).fetchall()
            _wait_logged(proxy, f"cannot read the catalog of {gone}")
        finally:
            app.close()
            with direct(cluster) as conn:
                conn.execute(f"DROP DATABASE {gone} WITH (FORCE)")
        deadline = time.monotonic() + 20
        while _metric(proxy, "skewguard_learning_backlog_texts") > 0:  # not kept forever
            assert time.monotonic() < deadline, proxy.log_tail()
            time.sleep(0.1)
        dropped = ("reason", "catalog")
        assert _metric(proxy, "skewguard_analysis_failures_total", dropped) >= 1


def _cut_catalog_reads(cluster: LocalCluster, database: str) -> None:
    """Refuse new connections to ``database`` and end the proxy's kept catalog connection:
    every catalog read fails from now on, and the last snapshot read stays the last good one."""
    _allow_connections(cluster, database, False)
    with direct(cluster) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'skewguard-catalog'",
            (database,),
        )


def test_a_statement_is_not_analysed_against_a_snapshot_read_before_it_ran(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """The domain the version casts to is created after the last snapshot the proxy could
    read: judged against that snapshot, the version would use no domain, and its rename
    would pass."""
    schema = "CREATE TABLE users (id int PRIMARY KEY, email text)"
    with proxied_database(cluster, tmp_path, "stale", schema, "--mode", "enforce") as (
        database,
        proxy,
    ):
        app = psycopg.connect(proxy.url(database=database, application_name="shop@1"))
        migration = psycopg.connect(proxy.url(database=database), autocommit=True)
        with app, migration:
            app.execute("SELECT id FROM users").fetchall()
            deadline = time.monotonic() + 20
            while not proxy.footprint(database, "shop", "1"):  # a snapshot was read
                assert time.monotonic() < deadline, proxy.log_tail()
                time.sleep(0.1)
            with direct(cluster, dbname=database) as conn:
                conn.execute("CREATE DOMAIN short_text AS text")
            _cut_catalog_reads(cluster, database)
            try:
                app.execute(APP_READ).fetchall()
                _wait_logged(proxy, f"cannot read the catalog of {database}")
                time.sleep(1.5)  # a flush or two more, each failing to read the catalog
            finally:
                _allow_connections(cluster, database, True)
            with pytest.raises(psycopg.Error) as refused:
                migration.execute("ALTER DOMAIN short_text RENAME TO short_txt")
            assert refused.value.sqlstate == "55006", refused.value
            assert "shop@1" in (refused.value.diag.message_detail or ""), refused.value
            app.execute(APP_READ).fetchall()  # the rename never ran
