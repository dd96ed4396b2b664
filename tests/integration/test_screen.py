"""DDL that reaches nothing a protected version uses passes without a catalog read; the
rest is still judged the full way, also when the two share one implicit transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from skewguard.pgcluster import LocalCluster
from skewguard.store import SqliteStore
from skewguard.store.base import Lifecycle
from tests.support.proxy import ProxyProcess
from tests.support.sites import proxied_database

SCHEMA = "CREATE TABLE users (id int PRIMARY KEY, email text, name text);"


@pytest.fixture
def site(cluster: LocalCluster, tmp_path: Path) -> Iterator[tuple[str, ProxyProcess]]:
    with proxied_database(cluster, tmp_path, "screen", SCHEMA) as found:
        yield found


def _notes(proxy: ProxyProcess, count: int) -> list[str]:
    """The notes of the newest ``count`` decisions, oldest first (audits are written
    in the background: wait for them)."""
    deadline = time.monotonic() + 10
    while True:
        found = json.loads(proxy.get(f"/api/decisions?limit={count}"))["decisions"]
        if len(found) >= count or time.monotonic() > deadline:
            return [d["note"] for d in reversed(found)]
        time.sleep(0.1)


def _version(proxy: ProxyProcess, database: str, sql: str) -> psycopg.Connection:
    """shop@1, connected and having run ``sql``: a live, protected version."""
    conn = psycopg.connect(proxy.url(database=database, application_name="shop@1"), autocommit=True)
    conn.execute(sql).fetchall()
    return conn


def test_new_objects_pass_on_names_alone(site: tuple[str, ProxyProcess]) -> None:
    database, proxy = site
    with (
        _version(proxy, database, "SELECT email FROM users"),
        psycopg.connect(proxy.url(database=database), autocommit=True) as migrator,
    ):
        migrator.execute("ALTER TABLE users ADD COLUMN nick text")  # judged, loads the catalog
        for sql in (
            "CREATE TABLE r1 (id bigint PRIMARY KEY, name text NOT NULL, qty int CHECK (qty >= 0))",
            "CREATE INDEX r1_name ON r1 (name)",
            "CREATE VIEW v1 AS SELECT id, name FROM r1 WHERE qty > 0",
            "ALTER TABLE r1 ADD COLUMN note text DEFAULT ''",
        ):
            migrator.execute(sql)
        notes = _notes(proxy, 5)
    assert "screened" not in notes[0]
    assert all("screened" in note for note in notes[1:]), notes


def test_a_screened_statement_and_a_judged_one_share_the_overlay(
    site: tuple[str, ProxyProcess],
) -> None:
    """One Query: a new table, then a column of a used table referencing it; the judged
    statement sees the new table (no "cannot judge"), and a break in such a text is found."""
    database, proxy = site
    with (
        _version(proxy, database, "SELECT email FROM users"),
        psycopg.connect(proxy.url(database=database), autocommit=True) as migrator,
    ):
        migrator.execute(
            "CREATE TABLE teams (id int PRIMARY KEY);"
            " ALTER TABLE users ADD COLUMN team_id int REFERENCES teams (id)"
        )
        with pytest.raises(errors.ObjectInUse, match="shop@1"):
            migrator.execute("CREATE TABLE t2 (id int); ALTER TABLE users DROP COLUMN email")
        with migrator.cursor() as cur:
            cur.execute("SELECT to_regclass('t2') IS NULL, to_regclass('teams') IS NOT NULL")
            assert cur.fetchone() == (True, True)  # the refused text ran nothing


def test_what_hangs_from_a_table_created_through_the_proxy_is_followed(
    site: tuple[str, ProxyProcess],
) -> None:
    """A table and a view over it created (screened); once a version reads the view,
    dropping the table's column with CASCADE (which drops the view) is blocked."""
    database, proxy = site
    with psycopg.connect(proxy.url(database=database), autocommit=True) as migrator:
        with _version(proxy, database, "SELECT email FROM users"):
            migrator.execute("CREATE TABLE fresh (id int PRIMARY KEY, c text)")
            migrator.execute("CREATE VIEW fresh_view AS SELECT id, c FROM fresh")
            with _version(proxy, database, "SELECT c FROM fresh_view"):
                with pytest.raises(errors.ObjectInUse, match="shop@1"):
                    migrator.execute("ALTER TABLE fresh DROP COLUMN c CASCADE")
                migrator.execute("CREATE INDEX fresh_c ON fresh (c)")  # still fine
        with migrator.cursor() as cur:
            cur.execute("SELECT to_regclass('fresh_view') IS NOT NULL")
            assert cur.fetchone() == (True,)


def test_a_pipeline_before_its_sync_is_one_transaction(site: tuple[str, ProxyProcess]) -> None:
    """Extended protocol, no Sync between them: the ALTER's overlay holds the new table
    (a side connection cannot see it yet), and a break later in the pipeline is found."""
    database, proxy = site
    with (
        _version(proxy, database, "SELECT email FROM users"),
        psycopg.connect(proxy.url(database=database), autocommit=True) as migrator,
    ):
        with migrator.pipeline():
            migrator.execute("CREATE TABLE pa (id int PRIMARY KEY)")
            migrator.execute("ALTER TABLE users ADD COLUMN pa_id int REFERENCES pa (id)")
        with pytest.raises(errors.ObjectInUse, match="shop@1"), migrator.pipeline():
            migrator.execute("CREATE TABLE pb (id int PRIMARY KEY)")
            migrator.execute("ALTER TABLE users DROP COLUMN email")
        with migrator.cursor() as cur:
            cur.execute("SELECT to_regclass('pb') IS NULL, to_regclass('pa') IS NOT NULL")
            assert cur.fetchone() == (True, True)


def test_a_lifecycle_change_by_another_process_is_seen_at_once(
    site: tuple[str, ProxyProcess],
) -> None:
    """Decisions reuse the proxy's read of the state file while it reports no change; a
    pin written by another process (``skewguard versions pin --state``) is a change."""
    database, proxy = site
    assert proxy.state is not None
    _version(proxy, database, "SELECT email FROM users").close()  # seen, then gone
    other = SqliteStore(str(proxy.state))  # another process's connection to the file
    try:
        other.set_lifecycle("shop", "1", Lifecycle.RETIRED)
        with psycopg.connect(proxy.url(database=database), autocommit=True) as migrator:
            migrator.execute("CREATE INDEX users_email ON users (email)")  # nothing protected
            migrator.execute("ALTER TABLE users ADD COLUMN nick text")
            other.set_lifecycle("shop", "1", Lifecycle.PINNED)
            with pytest.raises(errors.ObjectInUse, match="shop@1"):
                migrator.execute("ALTER TABLE users DROP COLUMN email")
    finally:
        other.close()
