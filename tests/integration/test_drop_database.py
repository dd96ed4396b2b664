"""A database the proxy has read can still be dropped through it (its side connections go).

Client test suites and test runners (asyncpg's, Django's) create a database,
use it through the proxy and drop it. The proxy's own side connections to it
(the catalog cache) must not make PostgreSQL refuse with "database is being
accessed by other users": they end themselves when idle, within the 5 s
DROP DATABASE waits.
"""

from __future__ import annotations

import time

import psycopg

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess


def _side_sessions(cluster: LocalCluster, database: str) -> int:
    with direct(cluster) as conn:
        row = conn.execute(
            "select count(*)::int from pg_stat_activity "
            "where datname = %s and application_name like 'skewguard-%%'",
            (database,),
        ).fetchone()
    assert row is not None and isinstance(row[0], int)
    return row[0]


def test_drop_database_after_use_through_proxy(cluster: LocalCluster, proxy: ProxyProcess) -> None:
    database = unique("dropme")
    with direct(cluster) as conn:
        conn.execute(f"create database {database}")
    with psycopg.connect(
        proxy.url(database=database), sslmode="require", application_name="dropper@1.0.0"
    ) as conn:
        conn.execute("create table t (id int primary key, note text)")
        conn.execute("insert into t values (1, 'x')")
        conn.execute("alter table t add column extra int")  # DDL: the guard reads the catalog
        conn.commit()
    deadline = time.monotonic() + 10
    while _side_sessions(cluster, database) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _side_sessions(cluster, database) > 0, "the proxy opened no side connection"
    # Issued from a database no version is protected in: the proxy is shared, and other
    # tests' versions protected in "postgres" make an unmodelled DROP DATABASE unjudged.
    elsewhere = unique("dropfrom")
    with direct(cluster) as conn:
        conn.execute(f"create database {elsewhere}")
    with psycopg.connect(proxy.url(database=elsewhere), sslmode="require", autocommit=True) as conn:
        conn.execute(f"drop database {database}")  # no "being accessed by other users"
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,))
        assert exists.fetchone() is None
    with direct(cluster) as conn:
        conn.execute(f"drop database {elsewhere} with (force)")
