"""Shared state in PostgreSQL (``--state postgresql://…``): the store, and proxies sharing it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors

from skewguard.analysis import Facet, FacetKind
from skewguard.footprint import Evidence, FootprintBatch, VersionKey
from skewguard.pgcluster import LocalCluster
from skewguard.store import (
    Lifecycle,
    PostgresStore,
    SqliteStore,
    StateStore,
    StateStoreError,
    StoredVersion,
    open_store,
)
from skewguard.store.postgres import MIGRATIONS, StateSchemaTooNew
from tests.support import forked
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration

V1 = VersionKey("shop", "orders", "1")
V2 = VersionKey("shop", "orders", "2")
UNTAGGED = VersionKey("shop", "", "")
OTHER_DB = VersionKey("billing", "orders", "1")
READ = Facet(FacetKind.COLUMN_READ, "public.users.email")
WRITE = Facet(FacetKind.COLUMN_WRITE, "public.users.name")
ROLE = Facet(FacetKind.ROLE, "app")


def _create_database(cluster: LocalCluster, name: str) -> None:
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {name}")


def _drop_database(cluster: LocalCluster, name: str) -> None:
    with direct(cluster) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def state_url(cluster: LocalCluster) -> Iterator[str]:
    """A fresh, empty database for shared state; its URL."""
    name = unique("state")
    _create_database(cluster, name)
    yield cluster.url(database=name, sslmode="disable")
    _drop_database(cluster, name)


@pytest.fixture
def pg(state_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(state_url)
    yield store
    store.close()


def _wait(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ------------------------------------------------------------------ the store itself


def test_schema_is_created_on_first_use_and_versioned(
    pg: PostgresStore, state_url: str, cluster: LocalCluster
) -> None:
    database = state_url.rsplit("/", 1)[1].split("?")[0]
    with direct(cluster, dbname=database) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'skewguard'"
            )
        }
        versions = [row[0] for row in conn.execute("SELECT version FROM skewguard.schema_version")]
    assert tables == {
        "schema_version",
        "versions",
        "facets",
        "lifecycle",
        "decisions",
        "proxies",
        "proxy_live",
        "generation",
    }
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    again = PostgresStore(state_url)  # a second proxy: nothing to migrate
    assert again.versions() == []
    again.close()
    with direct(cluster, dbname=database) as conn:
        assert conn.execute("SELECT count(*) FROM skewguard.schema_version").fetchone() == (
            len(MIGRATIONS),
        )
        # a later release migrated the schema further, in a way this one cannot follow
        conn.execute("INSERT INTO skewguard.schema_version (version) VALUES (999)")
    with pytest.raises(StateSchemaTooNew, match="newer than this skewguard"):
        PostgresStore(state_url)


def _applied(cluster: LocalCluster, database: str) -> list[tuple[int, int | None]]:
    with direct(cluster, dbname=database) as conn:
        rows = conn.execute(
            "SELECT version, oldest_reader FROM skewguard.schema_version ORDER BY version"
        ).fetchall()
    return [(int(str(v)), None if r is None else int(str(r))) for v, r in rows]


def test_a_store_of_the_previous_release_is_upgraded_in_place(
    state_url: str, cluster: LocalCluster
) -> None:
    database = state_url.rsplit("/", 1)[1].split("?")[0]
    previous = len(MIGRATIONS) - 1
    with direct(cluster, dbname=database) as conn:  # as the previous release left it
        conn.execute("CREATE SCHEMA skewguard")
        conn.execute(
            "CREATE TABLE skewguard.schema_version ("
            "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for number, step in enumerate(MIGRATIONS[:previous], start=1):
            conn.execute(step.sql)
            conn.execute("INSERT INTO skewguard.schema_version (version) VALUES (%s)", (number,))
        conn.execute("INSERT INTO skewguard.versions VALUES ('shop', 'orders', '1', 10.0, 20.0)")
        conn.execute(
            "INSERT INTO skewguard.facets VALUES "
            "('shop', 'orders', '1', %s, 3, 10.0, 20.0, 'select email from users')",
            (READ.key,),
        )
    store = PostgresStore(state_url)
    try:
        (kept,) = store.versions()  # what the previous release learned is still there
        assert kept.key == V1 and kept.facets[READ].count == 3
        store.write(MERGE_SCENARIO[2])
        assert store.versions()[0].facets[READ].count == 8
    finally:
        store.close()
    applied = _applied(cluster, database)
    assert [v for v, _ in applied] == list(range(1, len(MIGRATIONS) + 1))
    assert applied[-1] == (len(MIGRATIONS), MIGRATIONS[-1].oldest_reader)


def test_a_newer_release_shares_the_store_unless_a_step_forbids_it(
    pg: PostgresStore, state_url: str, cluster: LocalCluster
) -> None:
    """skewguard's own rolling upgrade: the next release migrates the shared schema while
    proxies of this release still use it."""
    database = state_url.rsplit("/", 1)[1].split("?")[0]
    pg.write(MERGE_SCENARIO[0])
    known = len(MIGRATIONS)
    with direct(cluster, dbname=database) as conn:  # the next release: an additive step
        conn.execute("CREATE TABLE skewguard.later_things (id int)")
        conn.execute(
            "INSERT INTO skewguard.schema_version (version, oldest_reader) VALUES (%s, %s)",
            (known + 1, known),
        )
    older = PostgresStore(state_url)  # a proxy of this release, (re)connecting now
    try:
        older.write(MERGE_SCENARIO[2])
        assert _as_dict(older.versions())[V1].facets[READ].count == 7
    finally:
        older.close()
    assert _applied(cluster, database)[-1] == (known + 1, known)  # nothing undone or redone
    with direct(cluster, dbname=database) as conn:  # a step this release cannot follow
        conn.execute(
            "INSERT INTO skewguard.schema_version (version, oldest_reader) VALUES (%s, %s)",
            (known + 2, known + 2),
        )
    with pytest.raises(StateSchemaTooNew) as refused:
        PostgresStore(state_url)
    assert f"it knows version {known}" in str(refused.value)
    assert f"knows version {known + 2} or later): upgrade skewguard" in str(refused.value)


def test_a_proxy_refuses_to_start_on_a_state_schema_it_does_not_know(
    cluster: LocalCluster, state_url: str, tmp_path: Path
) -> None:
    database = state_url.rsplit("/", 1)[1].split("?")[0]
    PostgresStore(state_url).close()
    with direct(cluster, dbname=database) as conn:
        conn.execute("INSERT INTO skewguard.schema_version (version) VALUES (%s)", (100,))
    proxy = ProxyProcess(
        upstream=cluster.url(),
        logfile=tmp_path / "proxy.log",
        extra_args=["--state", state_url],
    )
    with pytest.raises(RuntimeError, match="proxy exited with 2") as failed:
        proxy.start()
    assert "schema skewguard is at version 100, newer than this skewguard" in str(failed.value)
    assert "Traceback" not in str(failed.value)


def _batch(
    key_facets: list[tuple[VersionKey, frozenset[Facet], int, float, str]],
) -> FootprintBatch:
    batch = FootprintBatch()
    for key, facets, count, when, sample in key_facets:
        batch.record(key, facets, count, when, sample)
    return batch


MERGE_SCENARIO = [
    _batch(
        [
            (V1, frozenset({READ, ROLE}), 2, 100.0, "select email from users"),
            (V2, frozenset({WRITE}), 1, 105.5, "update users set name = 'x'"),
        ]
    ),
    _batch(
        [
            (V1, frozenset({READ}), 1, 50.25, "select email from users where id = 1"),
            (V1, frozenset({WRITE}), 4, 200.0, "update users set name = email"),
            (OTHER_DB, frozenset({READ}), 7, 300.0, "select email from users"),
        ]
    ),
    _batch([(V1, frozenset({READ}), 5, 150.0, "select u.email from users u")]),
    FootprintBatch(),  # an empty flush
]


def _as_dict(stored: list[StoredVersion]) -> dict[VersionKey, StoredVersion]:
    return {v.key: v for v in stored}


def test_merge_semantics_equal_sqlite(pg: PostgresStore, tmp_path: Path) -> None:
    sqlite = SqliteStore(str(tmp_path / "state.db"))
    untagged = FootprintBatch()
    untagged.saw_version(UNTAGGED, 70.0)
    for store in (sqlite, pg):
        for batch in [*MERGE_SCENARIO, untagged]:
            store.write(batch)
    expected = _as_dict(sqlite.versions())
    assert _as_dict(pg.versions()) == expected
    assert _as_dict(pg.versions(with_facets=False)) == _as_dict(sqlite.versions(with_facets=False))
    sqlite.close()
    # what both agree on is the documented merge: counts add, min first, max last, first sample
    v1 = expected[V1]
    assert (v1.first_seen, v1.last_seen) == (50.25, 200.0)
    assert v1.facets[READ] == Evidence(8, 50.25, 150.0, "select email from users")
    assert v1.facets[WRITE] == Evidence(4, 200.0, 200.0, "update users set name = email")
    assert set(expected) == {V1, V2, OTHER_DB, UNTAGGED}
    assert expected[UNTAGGED].facets == {}


def test_the_facet_bound_keeps_the_same_facets_as_sqlite(state_url: str, tmp_path: Path) -> None:
    """Past --max-version-facets both stores keep the oldest facets, the same ones."""
    pg = PostgresStore(state_url, max_facets=2)
    sqlite = SqliteStore(str(tmp_path / "state.db"), max_facets=2)
    try:
        for store in (sqlite, pg):
            for batch in MERGE_SCENARIO:
                store.write(batch)
        expected = _as_dict(sqlite.versions())
        assert _as_dict(pg.versions()) == expected
        assert set(expected[V1].facets) == {READ, ROLE}  # WRITE came last: not kept
    finally:
        pg.close()
        sqlite.close()


def test_concurrent_writers_add_up_without_deadlocks(state_url: str) -> None:
    writers, rounds = 4, 15
    keys = [VersionKey("shop", "orders", str(n)) for n in range(6)]
    failures: list[BaseException] = []

    def write(index: int) -> None:
        store = PostgresStore(state_url)
        try:
            for round_ in range(rounds):
                order = keys if (index + round_) % 2 else list(reversed(keys))
                batch = FootprintBatch()
                for key in order:
                    batch.record(key, frozenset({READ, WRITE}), 1, float(round_), "q")
                store.write(batch)
        except BaseException as exc:
            failures.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    check = PostgresStore(state_url)
    stored = _as_dict(check.versions())
    check.close()
    for key in keys:
        assert stored[key].facets[READ].count == writers * rounds
        assert (stored[key].first_seen, stored[key].last_seen) == (0.0, rounds - 1.0)


def test_lifecycle_is_shared(pg: PostgresStore, state_url: str) -> None:
    other = open_store(state_url)
    pg.set_lifecycle("orders", "1", Lifecycle.PINNED)
    pg.set_lifecycle("orders", "2", Lifecycle.RETIRED)
    assert other.lifecycle() == {
        ("orders", "1"): Lifecycle.PINNED,
        ("orders", "2"): Lifecycle.RETIRED,
    }
    other.set_lifecycle("orders", "1", Lifecycle.RETIRED)  # retire a pinned version
    other.set_lifecycle("orders", "2", None)
    other.set_lifecycle("orders", "3", None)  # clearing nothing is fine
    assert pg.lifecycle() == {("orders", "1"): Lifecycle.RETIRED}
    other.close()


def test_decisions_are_audited_newest_first(pg: PostgresStore, tmp_path: Path) -> None:
    sqlite = SqliteStore(str(tmp_path / "state.db"))
    entries: list[dict[str, Any]] = [
        {
            "at": 1000.0 + n,
            "decision": ("block", "allow", "warn")[n],
            "statements": [f"ALTER TABLE t{n} DROP COLUMN c"],
            "findings": [{"rule": "SG101", "version": "orders@1"}] if n == 0 else [],
            "override_reason": None,
            "note": "quote ' and $$ and unicode ✓",
            "when": time,  # not JSON: stored as its str(), like SQLite does
        }
        for n in range(3)
    ]
    for store in (sqlite, pg):
        for entry in entries:
            store.record_decision(entry)
    newest = pg.decisions(2)
    assert [d["decision"] for d in newest] == ["warn", "allow"]
    assert newest[0]["id"] > newest[1]["id"]
    assert pg.decisions() == sqlite.decisions()  # ids count from 1 in both
    assert pg.decisions()[2]["findings"] == [{"rule": "SG101", "version": "orders@1"}]
    sqlite.close()


def test_heartbeats_expire_after_the_window(state_url: str) -> None:
    a, b = PostgresStore(state_url), PostgresStore(state_url)
    try:
        a.heartbeat("proxy-a", {V1: 2, UNTAGGED: 1})
        b.heartbeat("proxy-b", {V1: 1, V2: 1})
        assert b.live_elsewhere("proxy-b", 10) == {V1: 2, UNTAGGED: 1}
        assert a.live_elsewhere("proxy-a", 10) == {V1: 1, V2: 1}
        assert a.live_elsewhere("", 10) == {V1: 3, V2: 1, UNTAGGED: 1}
        b.heartbeat("proxy-b", {V2: 1})  # replaces b's last heartbeat
        assert a.live_elsewhere("proxy-a", 10) == {V2: 1}
        time.sleep(1.2)
        b.heartbeat("proxy-b", {V2: 1})  # b keeps beating; a went silent
        assert b.live_elsewhere("proxy-b", 1.0) == {}
        assert a.live_elsewhere("proxy-a", 1.0) == {V2: 1}
        assert b.live_elsewhere("proxy-b", 60) == {V1: 2, UNTAGGED: 1}
        b.heartbeat("proxy-b", {})  # a graceful stop: nothing live there any more
        assert a.live_elsewhere("proxy-a", 60) == {}
    finally:
        a.close()
        b.close()


def _terminate_store_connections(cluster: LocalCluster, database: str) -> int:
    with direct(cluster) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = 'skewguard-state'",
            (database,),
        ).fetchone()
    return int(str(row[0])) if row else 0


def test_a_lost_connection_is_survived(
    pg: PostgresStore, state_url: str, cluster: LocalCluster
) -> None:
    database = state_url.rsplit("/", 1)[1].split("?")[0]
    pg.write(MERGE_SCENARIO[0])
    assert _terminate_store_connections(cluster, database) == 1
    assert V1 in _as_dict(pg.versions())  # a read notices, reconnects and answers
    assert _terminate_store_connections(cluster, database) == 1
    with pytest.raises(StateStoreError):  # a write raises: the learner keeps its batch
        pg.write(MERGE_SCENARIO[2])
    pg.write(MERGE_SCENARIO[2])  # ... and the retry reconnects
    assert _as_dict(pg.versions())[V1].facets[READ].count == 7
    assert _terminate_store_connections(cluster, database) == 1
    with pytest.raises(StateStoreError):
        pg.record_decision({"at": 1.0, "decision": "allow"})
    pg.record_decision({"at": 1.0, "decision": "allow"})
    assert len(pg.decisions()) == 1


def test_store_survives_its_database_going_away(cluster: LocalCluster) -> None:
    name = unique("state")
    _create_database(cluster, name)
    store: StateStore = open_store(cluster.url(database=name, sslmode="disable"))
    try:
        store.write(MERGE_SCENARIO[0])
        _drop_database(cluster, name)
        for _ in range(2):
            with pytest.raises(StateStoreError):
                store.write(MERGE_SCENARIO[2])
        _create_database(cluster, name)  # back, empty: the schema is created again
        store.write(MERGE_SCENARIO[2])
        assert [v.key for v in store.versions()] == [V1]
    finally:
        store.close()
        _drop_database(cluster, name)


# ------------------------------------------------------------------ proxies sharing it

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text, name text);
INSERT INTO users (email, name) VALUES ('a@x', 'Ann');
"""
DROP_EMAIL = "ALTER TABLE users DROP COLUMN email"
DROP_NAME = "ALTER TABLE users DROP COLUMN name"


@pytest.fixture
def app_database(cluster: LocalCluster) -> Iterator[str]:
    name = unique("shared")
    _create_database(cluster, name)
    with direct(cluster, dbname=name) as conn:
        conn.execute(SCHEMA)
    yield name
    _drop_database(cluster, name)


def _proxy(
    cluster: LocalCluster, database: str, state: str, logfile: Path, *extra: str
) -> ProxyProcess:
    return ProxyProcess(
        upstream=cluster.url(database=database),
        logfile=logfile,
        extra_args=["--state", state, "--heartbeat-window", "2s", *extra],
    ).start()


def _columns(cluster: LocalCluster, database: str) -> set[str]:
    with direct(cluster, dbname=database) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'"
        ).fetchall()
    return {str(r[0]) for r in rows}


def _blocked(proxy: ProxyProcess, database: str, sql: str) -> psycopg.errors.Diagnostic:
    with (
        psycopg.connect(proxy.url(database=database), autocommit=True) as conn,
        pytest.raises(errors.ObjectInUse) as blocked,
    ):
        conn.execute(sql)
    return blocked.value.diag


def _protection(proxy: ProxyProcess, database: str, app: str, version: str) -> str | None:
    row = proxy.versions().get((database, app, version))
    return None if row is None else row["protected"]


def test_two_proxies_share_live_versions_footprints_and_lifecycle(
    cluster: LocalCluster, app_database: str, state_url: str, tmp_path: Path
) -> None:
    a = _proxy(cluster, app_database, state_url, tmp_path / "a.log")
    b = _proxy(cluster, app_database, state_url, tmp_path / "b.log")
    try:
        v1 = psycopg.connect(
            a.url(database=app_database, application_name="orders@1"), autocommit=True
        )
        v1.execute("SELECT email FROM users WHERE id = 1").fetchall()
        v2 = psycopg.connect(
            b.url(database=app_database, application_name="orders@2"), autocommit=True
        )
        v2.execute("SELECT name FROM users WHERE id = 1").fetchall()
        a.versions()  # each proxy flushes its footprints and heartbeat now
        b.versions()

        # v1 runs through A only; B knows it is live and what it reads
        assert _protection(b, app_database, "orders", "1") == "live"
        assert _protection(a, app_database, "orders", "2") == "live"
        # and counts the connection that runs through A
        assert b.versions()[(app_database, "orders", "1")]["live_connections"] == 1
        diag = _blocked(b, app_database, DROP_EMAIL)
        assert diag.message_primary and diag.message_primary.startswith("skewguard:")
        assert "orders@1" in diag.message_primary and "orders@2" not in diag.message_primary
        assert diag.message_detail and "orders@1 (live)" in diag.message_detail
        # and the other way round: A protects v2, which runs through B only
        diag = _blocked(a, app_database, DROP_NAME)
        assert diag.message_detail and "orders@2 (live)" in diag.message_detail
        assert _columns(cluster, app_database) == {"id", "email", "name"}

        # the audit is shared: B lists the decision taken by A
        decisions = json.loads(b.get("/api/decisions"))["decisions"]
        assert [d["statements"] for d in decisions[:2]] == [[DROP_NAME], [DROP_EMAIL]]

        # `skewguard check --state URL` (no proxy of its own) sees the shared state too
        migration = tmp_path / "drop.sql"
        migration.write_text(DROP_EMAIL + ";\n")
        check = forked.run(
            ["check", str(migration), "--state", state_url,
             "--upstream", cluster.url(database=app_database)],
        )  # fmt: skip
        assert check.returncode == 1, check.stdout + check.stderr
        assert "orders@1" in check.stdout

        # A dies without a goodbye: its heartbeat goes stale, v1 is no longer live ...
        assert a.process is not None
        a.process.kill()
        a.process.wait()
        v1.close()
        _wait(
            "v1 to stop counting as live",
            lambda: _protection(b, app_database, "orders", "1") != "live",
        )
        # ... but it was seen within --retain: still protected
        assert _protection(b, app_database, "orders", "1") == "recent"
        diag = _blocked(b, app_database, DROP_EMAIL)
        assert diag.message_detail and "orders@1 (recent)" in diag.message_detail

        # retired through B, it protects nothing; the DROP passes through B
        retired = forked.run(["versions", "retire", "orders@1", "--admin", b.admin_url])
        assert retired.returncode == 0, retired.stderr
        with psycopg.connect(b.url(database=app_database), autocommit=True) as conn:
            conn.execute(DROP_EMAIL)
        assert _columns(cluster, app_database) == {"id", "name"}
        shared = PostgresStore(state_url)
        assert shared.lifecycle() == {("orders", "1"): Lifecycle.RETIRED}
        assert shared.decisions(1)[0]["decision"] == "allow"
        shared.close()
        v2.close()
    finally:
        for proxy in (a, b):
            if proxy.alive:
                proxy.stop()
    assert b.process is not None and b.process.returncode == 0, b.log_tail()


def test_rollback_target_is_protected_across_proxies(
    cluster: LocalCluster, app_database: str, state_url: str, tmp_path: Path
) -> None:
    # --retain 0s: only live versions and each app's rollback target are protected
    a = _proxy(cluster, app_database, state_url, tmp_path / "a.log", "--retain", "0s")
    b = _proxy(cluster, app_database, state_url, tmp_path / "b.log", "--retain", "0s")
    try:
        with psycopg.connect(
            a.url(database=app_database, application_name="orders@1"), autocommit=True
        ) as v1:
            v1.execute("SELECT email FROM users").fetchall()
            a.versions()
            assert _protection(b, app_database, "orders", "1") == "live"
        a.stop()  # a graceful stop: its last heartbeat has nothing live
        assert _protection(b, app_database, "orders", "1") == "rollback-target"
        diag = _blocked(b, app_database, DROP_EMAIL)
        assert diag.message_detail and "orders@1 (rollback-target)" in diag.message_detail
    finally:
        for proxy in (a, b):
            if proxy.alive:
                proxy.stop()


def _metric(proxy: ProxyProcess, name: str) -> float:
    return proxy.metrics().get((name, ()), -1.0)


def test_proxy_keeps_relaying_while_the_state_database_is_gone(
    cluster: LocalCluster, app_database: str, tmp_path: Path
) -> None:
    state_db = unique("state")
    _create_database(cluster, state_db)
    url = cluster.url(database=state_db, sslmode="disable")
    proxy = _proxy(cluster, app_database, url, tmp_path / "proxy.log")
    try:
        with psycopg.connect(proxy.url(database=app_database, application_name="orders@1")) as conn:
            conn.execute("SELECT email FROM users").fetchall()
        assert (app_database, "orders", "1") in proxy.versions()
        assert _metric(proxy, "skewguard_state_up") == 1

        _drop_database(cluster, state_db)
        with psycopg.connect(
            proxy.url(database=app_database, application_name="orders@2"), autocommit=True
        ) as conn:
            for _ in range(3):  # the relay does not wait for the state store
                assert conn.execute("SELECT name FROM users").fetchall() == [("Ann",)]
            _wait("state_up 0", lambda: _metric(proxy, "skewguard_state_up") == 0)
            assert _metric(proxy, "skewguard_state_write_errors_total") >= 1
            assert conn.execute("SELECT name FROM users").fetchall() == [("Ann",)]
            assert json.loads(proxy.get("/healthz"))["status"] == "ok"
            # buffered while the store is down, and listed all the same
            assert (app_database, "orders", "2") in proxy.versions()

            _create_database(cluster, state_db)  # back (empty): writes resume
            _wait("state_up 1", lambda: _metric(proxy, "skewguard_state_up") == 1)
        store = PostgresStore(url)
        learned = _as_dict(store.versions())
        store.close()
        # what was learned during the outage was kept in memory and written afterwards
        v2 = learned[VersionKey(app_database, "orders", "2")]
        assert Facet(FacetKind.COLUMN_READ, "public.users.name") in v2.facets
        assert (app_database, "orders", "2") in proxy.versions()
    finally:
        proxy.stop()
        _drop_database(cluster, state_db)
    assert proxy.process is not None and proxy.process.returncode == 0, proxy.log_tail()


def test_a_version_seen_at_a_moment_ago_is_protected_at_b(
    cluster: LocalCluster, app_database: str, state_url: str, tmp_path: Path
) -> None:
    """B's decision makes A write what it learned first (NOTIFY on the state database)."""
    a = _proxy(cluster, app_database, state_url, tmp_path / "a.log")
    b = _proxy(cluster, app_database, state_url, tmp_path / "b.log")
    try:
        time.sleep(1.5)  # both have heartbeat: each knows the other as a peer
        with psycopg.connect(
            a.url(database=app_database, application_name="orders@7"), autocommit=True
        ) as v7:
            v7.execute("SELECT email FROM users").fetchall()
            diag = _blocked(b, app_database, DROP_EMAIL)  # at once: A has not flushed yet
        assert diag.message_detail and "orders@7" in diag.message_detail
        assert "email" in _columns(cluster, app_database)
    finally:
        for proxy in (a, b):
            if proxy.alive:
                proxy.stop()
