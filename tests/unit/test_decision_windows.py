"""Moments in a decision where a statement a version ran could be in none of the places
the guard looks (against the suite's cluster): each must still count.

A text is analysed against a catalog snapshot read after it ran: one read before a
schema change the text relies on (kept for up to ``max_age``) does not know a type
created since, and a cast to it names nothing missing that would have asked for a
newer one.

Under load the learner's analysis of a database can outlast a decision's share of its
deadline; the decision then reads the footprints without the texts not analysed yet, and
goes on only when none of those texts names what the change touches. The learner keeps
working meanwhile: a text it analyses between that read and that check is in neither.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from skewguard.catalogs import CatalogCache
from skewguard.config import Settings, Upstream, parse_upstream
from skewguard.footprint import VersionKey
from skewguard.guard import Gathered, Guard, Requester
from skewguard.identity import Identity
from skewguard.learning import Learner
from skewguard.observe.metrics import ProxyMetrics
from skewguard.observe.traffic import TrafficBook
from skewguard.pgcluster import LocalCluster
from skewguard.store import PostgresStore, SqliteStore

SCHEMA = "sgwindow"
APP_READ = f"SELECT email::{SCHEMA}.short_text FROM {SCHEMA}.users"
RENAME = f"ALTER DOMAIN {SCHEMA}.short_text RENAME TO short_txt"


@pytest.fixture
async def upstream(cluster: LocalCluster) -> AsyncIterator[Upstream]:
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(
            f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};"
            f"CREATE TABLE {SCHEMA}.users (id int, email text);"
            f"CREATE DOMAIN {SCHEMA}.short_text AS text"
        )
        yield parse_upstream(cluster.url(sslmode="disable"))
        await conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    finally:
        await conn.close()


def _guarded(
    upstream: Upstream, tmp_path: Path, *, decision_timeout: float
) -> tuple[SqliteStore, CatalogCache, Learner, Guard]:
    """A learner and a guard (enforce mode) on a state file in ``tmp_path``."""
    store = SqliteStore(str(tmp_path / "state.db"))
    catalogs = CatalogCache(upstream)
    metrics = ProxyMetrics(TrafficBook())
    learner = Learner(store, catalogs, metrics)
    settings = Settings(mode="enforce", decision_timeout=decision_timeout)
    return store, catalogs, learner, Guard(settings, store, catalogs, learner, metrics)


async def test_a_text_analysed_after_a_partial_read_still_counts(
    upstream: Upstream, tmp_path: Path
) -> None:
    # a 0.2 s share of the deadline for the analysis of recent queries
    store, catalogs, learner, guard = _guarded(upstream, tmp_path, decision_timeout=0.4)
    database = upstream.database or "postgres"
    app = learner.open(VersionKey(database, "shop", "1"), "postgres", ('"$user"', "public"))
    app.add(APP_READ)  # shop@1 ran it and stays connected
    requester = Requester(database, "postgres", Identity(), "test", ('"$user"', "public"))
    busy = learner._db_lock(database)
    try:
        await busy.acquire()  # the database's analysis is busy (a periodic flush, under load)
        pending = await guard.begin(requester, prefetch=True)
        assert pending is not None and pending.prefetched is not None
        await asyncio.wait({pending.prefetched})
        gathered = pending.prefetched.result()
        assert isinstance(gathered, Gathered) and gathered.partial
    finally:
        busy.release()
    await learner.flush()  # that flush goes on: the text is analysed and written
    assert not list(learner.unanalysed(database))
    pending.apply(RENAME)
    decision = await guard.judge(requester, pending, source="proxy")
    # the footprints are read again now that the learner caught up: a plain block
    assert decision.action.value == "block", decision
    assert decision.unjudged is None, decision
    blocked = {f.version for f in decision.findings if f.severity.value == "break"}
    assert blocked == {VersionKey(database, "shop", "1")}, decision
    await catalogs.close()
    await guard.settle(5)
    store.close()


async def test_a_type_created_after_the_last_catalog_read_is_learned(
    upstream: Upstream, cluster: LocalCluster, tmp_path: Path
) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    catalogs = CatalogCache(upstream)
    learner = Learner(store, catalogs, ProxyMetrics(TrafficBook()))
    database = upstream.database or "postgres"
    app = learner.open(VersionKey(database, "shop", "2"), "postgres", ('"$user"', "public"))
    app.add(f"SELECT email FROM {SCHEMA}.users")
    await learner.flush()  # the snapshot read now stays young for max_age
    conn = await asyncpg.connect(cluster.url())
    try:  # a migration adds a type; the next release casts to it
        await conn.execute(f"CREATE DOMAIN {SCHEMA}.email_text AS text")
    finally:
        await conn.close()
    app.add(f"SELECT email::{SCHEMA}.email_text FROM {SCHEMA}.users")
    await learner.flush()
    [version] = store.versions()
    await catalogs.close()
    store.close()
    assert f"type_named:{SCHEMA}.email_text" in {f.key for f in version.facets}


async def test_a_text_is_not_analysed_against_a_snapshot_read_before_it_ran(
    upstream: Upstream, cluster: LocalCluster, tmp_path: Path
) -> None:
    """The catalog read a decision asks for fails (its lock timeout, under a migration's
    lock): the last good snapshot predates the type the text casts to, so judged against
    it the version would use no such type, and the decision would count the text as
    analysed."""
    store = SqliteStore(str(tmp_path / "state.db"))
    catalogs = CatalogCache(upstream, lock_timeout_ms=100)
    learner = Learner(store, catalogs, ProxyMetrics(TrafficBook()))
    database = upstream.database or "postgres"
    app = learner.open(VersionKey(database, "shop", "3"), "postgres", ('"$user"', "public"))
    app.add(f"SELECT email FROM {SCHEMA}.users")
    await learner.flush()  # the last good snapshot
    migration = await asyncpg.connect(cluster.url())
    blocker = await asyncpg.connect(cluster.url())
    try:
        await migration.execute(f"CREATE DOMAIN {SCHEMA}.email_text AS text")
        cast = f"SELECT email::{SCHEMA}.email_text FROM {SCHEMA}.users"
        app.add(cast)
        # another session's lock on a catalog: the next read gives up waiting for it
        await blocker.execute("BEGIN; LOCK TABLE pg_catalog.pg_type IN ACCESS EXCLUSIVE MODE")
        complete = await learner.flush_for_decision(database, time.monotonic() + 5, write=False)
        assert not complete
        assert cast in set(learner.unanalysed(database))
        await blocker.execute("ROLLBACK")
        assert await learner.flush_for_decision(database, time.monotonic() + 30, write=False)
        facets = {f.key for v in learner.unwritten_footprints(database) for f in v.facets}
        assert f"type_named:{SCHEMA}.email_text" in facets
    finally:
        await blocker.close()
        await migration.execute(f"DROP DOMAIN IF EXISTS {SCHEMA}.email_text")
        await migration.close()
        await catalogs.close()
        store.close()


async def test_a_text_run_again_after_a_schema_change_is_judged_on_the_new_schema(
    upstream: Upstream, cluster: LocalCluster, tmp_path: Path
) -> None:
    """A text the learner's caches know, run again after a table is created earlier on
    its search_path, reads that table now: learned from the caches as it was, the
    version would use only the old one, and a column dropped from the new one would
    pass."""
    store, catalogs, learner, guard = _guarded(upstream, tmp_path, decision_timeout=5)
    database = upstream.database or "postgres"
    front = f"{SCHEMA}_front"
    path = (front, SCHEMA)
    migration = await asyncpg.connect(cluster.url())
    try:
        await migration.execute(f"DROP SCHEMA IF EXISTS {front} CASCADE; CREATE SCHEMA {front}")
        app = learner.open(VersionKey(database, "shop", "5"), "postgres", path)
        app.add("SELECT email FROM users")  # the schema's users: nothing on the path before it
        await learner.flush()
        await migration.execute(f"CREATE TABLE {front}.users (id int, email text)")
        app.add("SELECT email FROM users")  # the same text reads the new table now
        await learner.flush()
        requester = Requester(database, "postgres", Identity(), "test", path)
        pending = await guard.begin(requester)
        assert pending is not None
        pending.apply(f"ALTER TABLE {front}.users DROP COLUMN email")
        decision = await guard.judge(requester, pending, source="proxy")
        assert decision.action.value == "block", decision
        blocked = {f.version for f in decision.findings if f.severity.value == "break"}
        assert blocked == {VersionKey(database, "shop", "5")}, decision
    finally:
        await migration.execute(f"DROP SCHEMA IF EXISTS {front} CASCADE")
        await migration.close()
        await catalogs.close()
        await guard.settle(5)
        store.close()


async def test_an_unjudged_answer_does_not_wait_on_a_stalled_store_past_the_deadline(
    upstream: Upstream, cluster: LocalCluster, tmp_path: Path
) -> None:
    """An unmodelled statement is refused only where some version is protected, which the
    store tells; a store stalled on a lock must not hold that answer past the deadline
    (its own lock_timeout is 5 s)."""
    name = f"sgstall_{os.getpid()}"
    admin = await asyncpg.connect(cluster.url())
    await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute(f"CREATE DATABASE {name}")
    state_url = cluster.url(database=name, sslmode="disable")
    store = PostgresStore(state_url)
    store.versions()  # the store's schema exists
    catalogs = CatalogCache(upstream)
    metrics = ProxyMetrics(TrafficBook())
    guard = Guard(Settings(mode="enforce"), store, catalogs, None, metrics)
    locker = await asyncpg.connect(state_url)
    try:
        await locker.execute("BEGIN; LOCK TABLE skewguard.versions IN ACCESS EXCLUSIVE MODE")
        database = upstream.database or "postgres"
        path = ('"$user"', "public")
        requester = Requester(
            database, "postgres", Identity(), "test", path, decide_by=time.monotonic() + 0.5
        )
        started = time.monotonic()
        decision = await guard.unjudged(
            requester, ["DO $$ BEGIN END $$"], "unmodelled", "a DO block"
        )
        took = time.monotonic() - started
        assert decision.action.value == "block", decision
        assert "within the deadline" in (decision.note or ""), decision
        assert took < 4, took
    finally:
        await locker.close()
        await catalogs.close()
        await guard.settle(5)
        store.close()
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
