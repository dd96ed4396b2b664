"""No literal value from application queries leaves the proxy by default.

A tagged version runs queries carrying a marker literal; then every surface is
searched for it: /api/versions, /api/decisions, the status page, /metrics, the
proxy's log, the stored samples, and the 55006 DETAIL an ordinary role gets
after a blocked DROP. With --keep-literals the API shows it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess

MARKER = "zz-marker-8812"
NUMBER = 88128812
QUERIES = (
    f"SELECT email FROM users WHERE note = '{MARKER}' AND id <> {NUMBER}",
    f"SELECT note FROM users WHERE email = E'{MARKER}\\'s' /* {MARKER} */",
)
SHAPE = "SELECT email FROM users WHERE note = '?' AND id <> 0"
DROP_EMAIL = "ALTER TABLE users DROP COLUMN email"


@pytest.fixture
def database(cluster: LocalCluster) -> Iterator[str]:
    name = unique("literals")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    with direct(cluster, dbname=name) as conn:
        conn.execute("CREATE TABLE users (id int PRIMARY KEY, email text, note text)")
        conn.execute(  # a role with no privileges at all on the table
            "DO $$ BEGIN CREATE ROLE ordinary LOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    yield name
    with direct(cluster) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _run(cluster: LocalCluster, database: str, tmp_path: Path, *args: str) -> ProxyProcess:
    return ProxyProcess(
        upstream=cluster.url(database=database),
        extra_args=["--log-level", "debug", *args],
        logfile=tmp_path / "proxy.log",
        state=tmp_path / "state.db",
    ).start()


def _learn(proxy: ProxyProcess, database: str) -> psycopg.Connection[tuple[object, ...]]:
    """shop@1 runs the marked queries (simple and extended protocol) and stays connected."""
    conn = psycopg.connect(proxy.dsn(dbname=database, application_name="shop@1"), autocommit=True)
    for sql in QUERIES:
        conn.execute(sql.encode(), prepare=False).fetchall()
        conn.execute(sql.encode(), prepare=True).fetchall()
    return conn


def _blocked_drop(proxy: ProxyProcess, database: str, user: str) -> str:
    """The DETAIL ``user`` gets when the DROP is refused."""
    with (
        psycopg.connect(proxy.dsn(dbname=database, user=user), autocommit=True) as conn,
        pytest.raises(errors.ObjectInUse) as blocked,
    ):
        conn.execute(DROP_EMAIL)
    diag = blocked.value.diag
    return "\n".join(str(x) for x in (diag.message_primary, diag.message_detail, diag.message_hint))


def _surfaces(proxy: ProxyProcess) -> dict[str, str]:
    return {
        "/api/versions": proxy.get("/api/versions"),
        "/api/decisions": proxy.get("/api/decisions"),
        "status page": proxy.get("/"),
        "/metrics": proxy.get("/metrics"),
    }


def test_no_surface_shows_a_literal(cluster: LocalCluster, database: str, tmp_path: Path) -> None:
    proxy = _run(cluster, database, tmp_path)
    try:
        app = _learn(proxy, database)
        detail = _blocked_drop(proxy, database, "ordinary")
        assert "shop@1" in detail and "drop-column-in-use" in detail
        assert MARKER not in detail and "e.g." not in detail  # no sample for an ordinary role
        with psycopg.connect(proxy.dsn(dbname=database), autocommit=True) as conn:  # audited
            conn.execute(f"ALTER TABLE users ALTER COLUMN note SET DEFAULT '{MARKER}'")
            # changes whose stored form holds the migration's expressions
            conn.execute("ALTER TABLE users ALTER COLUMN note DROP DEFAULT")
            conn.execute(f"ALTER TABLE users ADD CONSTRAINT ck CHECK (note <> '{MARKER}')")
            conn.execute(f"CREATE INDEX ix ON users ((note || '{MARKER}')) WHERE id <> {NUMBER}")
        surfaces = _surfaces(proxy)
        for name, text in surfaces.items():
            assert MARKER not in text and str(NUMBER) not in text, name
        assert SHAPE in surfaces["/api/versions"]  # the evidence is there, as a shape
        decisions = json.loads(surfaces["/api/decisions"])["decisions"]
        assert any(SHAPE in json.dumps(d["findings"]) for d in decisions)
        assert any("SET DEFAULT '?'" in json.dumps(d["statements"]) for d in decisions)
        changes = json.dumps([d["changes"] for d in decisions])
        assert "CHECK (note <> '?'" in changes, changes  # the change is there, as a shape
        app.close()
    finally:
        proxy.stop()
    log = (tmp_path / "proxy.log").read_text()
    assert "DDL block" in log and MARKER not in log
    with sqlite3.connect(tmp_path / "state.db") as db:
        samples = [row[0] for row in db.execute("SELECT sample FROM facets")]
    assert SHAPE in samples and not any(MARKER in s for s in samples)


def test_override_roles_read_the_shape_in_the_detail(
    cluster: LocalCluster, database: str, tmp_path: Path
) -> None:
    proxy = _run(cluster, database, tmp_path, "--override-roles", "postgres")
    try:
        app = _learn(proxy, database)
        assert "e.g." not in _blocked_drop(proxy, database, "ordinary")
        detail = _blocked_drop(proxy, database, "postgres")
        assert f"e.g. {SHAPE}" in detail and MARKER not in detail
        app.close()
    finally:
        proxy.stop()


def test_keep_literals_opts_in(cluster: LocalCluster, database: str, tmp_path: Path) -> None:
    proxy = _run(cluster, database, tmp_path, "--keep-literals", "--override-roles", "postgres")
    try:
        app = _learn(proxy, database)
        assert MARKER in proxy.get("/api/versions")
        assert MARKER in _blocked_drop(proxy, database, "postgres")
        assert MARKER not in _blocked_drop(proxy, database, "ordinary")
        app.close()
    finally:
        proxy.stop()
