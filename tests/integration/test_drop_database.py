"""A database the proxy has read can still be dropped through it (its side connections go).

Client test suites and test runners (asyncpg's, Django's) create a database,
use it through the proxy and drop it. The proxy's own side connections to it
(the catalog cache) must not make PostgreSQL refuse with "database is being
accessed by other users": they end themselves when idle, within the 5 s
DROP DATABASE waits.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psycopg

from skewguard.pgcluster import LocalCluster
from tests.support import forked
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
        proxy.url(database=database),
        sslmode="require",  # untagged: no version to protect
    ) as conn:
        conn.execute("create table t (id int primary key, note text)")
        conn.execute("insert into t values (1, 'x')")
        conn.execute("alter table t add column extra int")  # DDL: the guard reads the catalog
        conn.commit()
    deadline = time.monotonic() + 10
    while _side_sessions(cluster, database) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _side_sessions(cluster, database) > 0, "the proxy opened no side connection"
    with psycopg.connect(proxy.url(), sslmode="require", autocommit=True) as conn:
        conn.execute(f"drop database {database}")  # no "being accessed by other users"
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,))
        assert exists.fetchone() is None


def _database(cluster: LocalCluster, prefix: str) -> str:
    name = unique(prefix)
    with direct(cluster) as conn:
        conn.execute(f"create database {name}")
        conn.execute(f"grant all on database {name} to public")
    return name


def _run(proxy: ProxyProcess, session_db: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", "-X", "-v", "VERBOSITY=verbose", "-d", proxy.url(database=session_db),
         "-c", sql],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def _drop(proxy: ProxyProcess, session_db: str, target: str) -> subprocess.CompletedProcess[str]:
    return _run(proxy, session_db, f"drop database {target} with (force)")


def _exists(cluster: LocalCluster, name: str) -> bool:
    with direct(cluster) as conn:
        return (
            conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            is not None
        )


def test_drop_database_judged_by_the_dropped_databases_versions(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """X's protected version refuses its drop from another database (which has its own
    protected version, not named); once retired the drop passes; a database no version
    uses drops from a database that has protected versions (no false "cannot judge")."""
    target, home, spare = (_database(cluster, p) for p in ("dropx", "drophome", "dropspare"))
    proxy = ProxyProcess(
        upstream=cluster.url(),
        state=tmp_path / "state.db",
        logfile=tmp_path / "proxy.log",
    ).start()
    try:
        user_x = psycopg.connect(
            proxy.url(database=target, application_name="billing@3"), autocommit=True
        )
        user_x.execute("select 1").fetchall()
        with psycopg.connect(
            proxy.url(database=home, application_name="shop@7"), autocommit=True
        ) as user_home:
            user_home.execute("select 1").fetchall()
            refused = _drop(proxy, home, target)
            assert refused.returncode != 0, refused.stdout
            assert "55006" in refused.stderr
            assert f"dropping database {target} would break billing@3" in refused.stderr
            assert "shop@7" not in refused.stderr
            assert _exists(cluster, target)
            renamed = _run(proxy, home, f"alter database {target} rename to {target}_old")
            assert "55006" in renamed.stderr, renamed.stderr
            assert f"renaming database {target} would break billing@3" in renamed.stderr

            passed = _drop(proxy, home, spare)  # used by no protected version
            assert passed.returncode == 0, passed.stderr
            assert not _exists(cluster, spare)

            user_x.close()
            retired = forked.run(["versions", "retire", "billing@3", "--admin", proxy.admin_url])
            assert retired.returncode == 0, retired.stderr
            passed = _drop(proxy, home, target)
            assert passed.returncode == 0, passed.stderr
            assert not _exists(cluster, target)
        decisions = json.loads(proxy.get("/api/decisions"))["decisions"]
        assert [d["decision"] for d in decisions[:4]] == ["allow", "allow", "block", "block"]
    finally:
        proxy.stop()
        with direct(cluster) as conn:
            conn.execute(f"drop database if exists {home} with (force)")
