"""Pieces of footprint learning: literal keys, search_path, batches, the SQLite store,
bounded catalog reads and decision-time flushing (the last against the suite's clusters)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from skewguard.analysis import Facet, FacetKind
from skewguard.analysis.facets import VALUE_LIMIT, split_value_subject
from skewguard.catalogs import CatalogCache
from skewguard.config import Upstream, parse_upstream
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.identity import Identity
from skewguard.learning import Learner, StatementLog
from skewguard.literal_keys import literal_key
from skewguard.observe.metrics import ProxyMetrics
from skewguard.observe.traffic import TrafficBook
from skewguard.pgcluster import LocalCluster, free_port
from skewguard.protection import version_report
from skewguard.search_path import DEFAULT, parse_path, startup_path
from skewguard.statements import read_script
from skewguard.store import SqliteStore, StateStore, open_store


@pytest.mark.parametrize(
    ("sql", "key"),
    [
        ("SELECT a FROM t WHERE id = 42", "SELECT a FROM t WHERE id = 0"),
        ("SELECT a FROM t WHERE x = 1.5 AND y = 2e10", "SELECT a FROM t WHERE x = 0.0 AND y = 0.0"),
        ("SELECT 'it''s' || E'\\n' FROM t2", "SELECT '' || '' FROM t2"),
        ("SELECT $1, $12 FROM t3 WHERE c4 = 7", "SELECT $1, $12 FROM t3 WHERE c4 = 0"),
        ("SELECT $$a 1$$, $tag$b$tag$", "SELECT '', ''"),
        ('SELECT "col1" FROM "t1"', 'SELECT "col1" FROM "t1"'),
        ("SELECT x::varchar(20) FROM t", "SELECT x::varchar(0) FROM t"),
        ("SELECT 1.5, 2e10, x1, t2.c3, 4.5e-3, b = 1.", "SELECT 0.0, 0.0, x1, t2.c3, 0.0, b = 0.0"),
        ("SELECT 1.5, 2e10, x1 FROM t WHERE s = 'x1'", "SELECT 0.0, 0.0, x1 FROM t WHERE s = ''"),
        ("select x.1, 1e5x", "select x.1, 1e5x"),
    ],
)
def test_literal_key(sql: str, key: str) -> None:
    assert literal_key(sql) == key


def test_literal_key_is_shared_by_texts_differing_in_literals() -> None:
    assert literal_key("UPDATE t SET a = 'x' WHERE id = 1") == literal_key(
        "UPDATE t SET a = 'yy' WHERE id = 2000"
    )


@pytest.mark.parametrize(
    ("sql", "path"),
    [
        ("SET search_path TO app, public", ("app", "public")),
        ('SET search_path = "App", public', ("App", "public")),
        ("SET SESSION search_path TO billing", ("billing",)),
        ("RESET search_path", ("startup",)),
        ("SET search_path TO DEFAULT", ("startup",)),
        ("RESET ALL", ("startup",)),
        ("DISCARD ALL", ("startup",)),
        ("SET LOCAL search_path TO tx_only", None),
        ("SET application_name = 'x@1'", None),
        ("SELECT 1", None),
        ("SET search_path TO a; SET search_path TO b", ("b",)),
        ("not sql at all", None),
    ],
)
def test_search_path_change(sql: str, path: tuple[str, ...] | None) -> None:
    assert read_script(sql).search_path(("startup",)) == path


def test_startup_search_path() -> None:
    assert startup_path({}) == DEFAULT
    assert startup_path({"options": "-c search_path=app,public"}) == ("app", "public")
    assert parse_path('"$user", public, "Mixed"') == ("$user", "public", "Mixed")


KEY = VersionKey("db", "shop", "1")
READ = Facet(FacetKind.COLUMN_READ, "public.users.email")
WRITE = Facet(FacetKind.COLUMN_WRITE, "public.users.name")


def test_batch_accumulates_counts_and_times() -> None:
    batch = FootprintBatch()
    batch.record(KEY, frozenset({READ}), 3, 10.0, "select email from users")
    batch.record(KEY, frozenset({READ, WRITE}), 2, 12.0, "update users set name = email")
    evidence = batch.facets[KEY]
    assert (evidence[READ].count, evidence[READ].first_seen, evidence[READ].last_seen) == (
        5,
        10,
        12,
    )
    assert evidence[READ].sample == "select email from users"
    assert evidence[WRITE].count == 2
    assert batch.seen[KEY] == (10.0, 12.0)


def test_sqlite_store_merges_batches_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(str(path))
    first = FootprintBatch()
    first.record(KEY, frozenset({READ}), 2, 100.0, "q1")
    store.write(first)
    second = FootprintBatch()
    second.record(KEY, frozenset({READ, WRITE}), 1, 50.0, "q2")
    second.saw_version(VersionKey("db", "", ""), 70.0)
    store.write(second)
    store.close()

    reopened = SqliteStore(str(path))
    versions = {v.key: v for v in reopened.versions()}
    reopened.close()
    assert set(versions) == {KEY, VersionKey("db", "", "")}
    shop = versions[KEY]
    assert (shop.first_seen, shop.last_seen) == (50.0, 100.0)
    read = shop.facets[READ]
    assert (read.count, read.first_seen, read.last_seen, read.sample) == (3, 50.0, 100.0, "q1")
    assert shop.facets[WRITE].count == 1


def test_version_report_adds_live_connections_and_untagged(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    batch = FootprintBatch()
    batch.record(KEY, frozenset({READ}), 1, 1.0, "q")
    store.write(batch)
    live = [KEY, KEY, VersionKey.of("db", Identity())]
    rows = version_report(store.versions(), live)
    store.close()
    by_app = {(r["app"], r["version"]): r for r in rows}
    assert by_app[("shop", "1")]["live_connections"] == 2
    assert by_app[("shop", "1")]["facets"][0]["facet"] == READ.key
    untagged = by_app[("(untagged)", "(untagged)")]
    assert (untagged["live_connections"], untagged["tagged"], untagged["facets"]) == (1, False, [])


# --- bounded catalog reads and decision-time flushing (issue #8) ---------------------
#
# Real servers only: the PostgreSQL cluster of the suite, and a TCP listener that
# accepts and never answers (a server that hangs), standing in for a slow load.


class SilentServer:
    """Accepts connections and never answers; closing it resets them."""

    def __init__(self) -> None:
        self.accepted = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> SilentServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)

    def upstream(self) -> Upstream:
        return parse_upstream(f"postgresql://nobody@127.0.0.1:{self.port}/x?sslmode=disable")

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()


SCHEMA = "sglearn"


@pytest.fixture
async def real_upstream(cluster: LocalCluster) -> AsyncIterator[Upstream]:
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(
            f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};"
            f"CREATE TABLE {SCHEMA}.t (id int, email text)"
        )
        yield parse_upstream(cluster.url(sslmode="disable"))
        await conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    finally:
        await conn.close()


def _learner(catalogs: CatalogCache, store: StateStore) -> Learner:
    return Learner(store, catalogs, ProxyMetrics(TrafficBook()))


def _stopped_store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(str(tmp_path / "stopped.db"))
    store.close()  # every write now fails, as a stopped/read-only/full store's would
    return store


def _observe(learner: Learner, key: VersionKey, user: str, *texts: str) -> StatementLog:
    slog = learner.open(key, user, (SCHEMA,))
    for sql in texts:
        slog.add(sql)
    return slog


EMAIL = Facet(FacetKind.COLUMN_READ, f"{SCHEMA}.t.email")


async def test_catalog_get_stops_waiting_and_shares_the_load(real_upstream: Upstream) -> None:
    cache = CatalogCache(real_upstream, connect_timeout=30)
    user = real_upstream.user or ""
    first, _ = await cache.get("postgres", user)
    assert first is not None and first.relation(SCHEMA, "t") is not None
    async with SilentServer() as silent:
        cache.upstream = silent.upstream()
        await cache.close()  # the kept connection goes: every load from now on hangs
        started, wall = time.monotonic(), time.time()
        got, changed = await cache.get("postgres", user, newer_than=wall, timeout=0.3)
        assert got is first and not changed  # the last good snapshot, not a wait
        assert time.monotonic() - started < 10
        # a patient caller joins the load in progress instead of starting another
        patient = asyncio.ensure_future(cache.get("postgres", user, newer_than=wall))
        await asyncio.sleep(0.3)
        assert not patient.done() and silent.accepted == 1
        # another database has its own lock: it does not wait behind this load
        other, _ = await cache.get("template1", user, timeout=0.3)
        assert other is None
    # the server went away: the shared load fails and everybody gets the last good one
    got, _ = await asyncio.wait_for(patient, 10)
    assert got is first


async def test_catalog_get_without_a_server_returns_none_fast() -> None:
    upstream = parse_upstream(f"postgresql://nobody@127.0.0.1:{free_port()}/x?sslmode=disable")
    cache = CatalogCache(upstream)
    got, changed = await asyncio.wait_for(cache.get("x", "nobody", timeout=5), 10)
    assert got is None and not changed


async def test_flush_for_decision_keeps_what_a_stopped_store_refused(
    real_upstream: Upstream, tmp_path: Path
) -> None:
    learner = _learner(CatalogCache(real_upstream), _stopped_store(tmp_path))
    user = real_upstream.user or ""
    key = VersionKey("postgres", "shop", "1")
    other = VersionKey("elsewhere", "shop", "1")
    _observe(learner, key, user, "SELECT email FROM t WHERE id = 1", "SELECT email FROM t")
    waiting = _observe(learner, other, user, "SELECT 1")

    done = await learner.flush_for_decision("postgres", time.monotonic() + 20)

    assert done
    unwritten = learner.unwritten_footprints("postgres")
    assert [v.key for v in unwritten] == [key]
    facets = unwritten[0].facets
    assert facets[EMAIL].count == 2
    assert Facet(FacetKind.ROLE, user) in facets
    assert waiting.counts == {"SELECT 1": 1}  # another database's texts are not touched
    assert learner.unwritten_footprints("elsewhere") == []
    # a copy: the caller may keep it while the learner goes on
    facets[EMAIL].count = 1000
    assert learner.unwritten_footprints("postgres")[0].facets[EMAIL].count == 2


async def test_unwritten_footprints_merge_like_the_store(
    real_upstream: Upstream, tmp_path: Path
) -> None:
    learner = _learner(CatalogCache(real_upstream), _stopped_store(tmp_path))
    user = real_upstream.user or ""
    key = VersionKey("postgres", "shop", "1")
    slog = _observe(learner, key, user, "SELECT email FROM t")
    assert await learner.flush_for_decision("postgres", time.monotonic() + 20)
    slog.counts["SELECT email, id FROM t"] = 3
    assert await learner.flush_for_decision("postgres", time.monotonic() + 20)

    [version] = learner.unwritten_footprints()
    reference = SqliteStore(str(tmp_path / "reference.db"))
    try:
        for batch in learner._unwritten:  # what the store would hold once it is back
            reference.write(batch)
        [stored] = reference.versions()
    finally:
        reference.close()
    assert version.key == stored.key
    assert (version.first_seen, version.last_seen) == (stored.first_seen, stored.last_seen)
    assert {
        f: (e.count, e.first_seen, e.last_seen, e.sample) for f, e in version.facets.items()
    } == {f: (e.count, e.first_seen, e.last_seen, e.sample) for f, e in stored.facets.items()}
    assert version.facets[EMAIL].count == 4


async def test_flush_for_decision_writes_to_a_working_store(
    real_upstream: Upstream, tmp_path: Path
) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    try:
        learner = _learner(CatalogCache(real_upstream), store)
        key = VersionKey("postgres", "shop", "2")
        _observe(learner, key, real_upstream.user or "", "SELECT email FROM t")
        assert await learner.flush_for_decision("postgres", time.monotonic() + 20)
        assert learner.unwritten_footprints() == []
        [stored] = store.versions()
        assert stored.key == key and EMAIL in stored.facets
    finally:
        store.close()


async def test_a_flush_a_peer_asked_for_also_says_who_is_live_here(
    real_upstream: Upstream, tmp_path: Path
) -> None:
    """The asking proxy judges a version with no open connection without the statements
    it keeps prepared: one that connected here since the last heartbeat must be live
    in the store once the flush it asked for is done, not a beat later."""
    store = SqliteStore(str(tmp_path / "state.db"))
    try:
        learner = Learner(
            store, CatalogCache(real_upstream), ProxyMetrics(TrafficBook()), proxy_id="b"
        )
        key = VersionKey("postgres", "shop", "3")
        _observe(learner, key, real_upstream.user or "", "SELECT email FROM t")
        assert store.live_elsewhere("a", 10.0) == {}
        assert await learner.flush_for_decision("postgres", time.monotonic() + 20)
        assert store.live_elsewhere("a", 10.0) == {key: 1}
    finally:
        store.close()


async def test_a_passed_deadline_puts_the_texts_back(
    real_upstream: Upstream, tmp_path: Path
) -> None:
    learner = _learner(CatalogCache(real_upstream), _stopped_store(tmp_path))
    key = VersionKey("postgres", "shop", "1")
    slog = _observe(learner, key, real_upstream.user or "", "SELECT email FROM t")
    slog.named.add("SELECT email FROM t")

    assert not await learner.flush_for_decision("postgres", time.monotonic() - 1)
    assert slog.counts == {"SELECT email FROM t": 1} and slog.named == {"SELECT email FROM t"}

    learner.close(slog)  # a closed session's texts are kept for the next flush too
    assert not await learner.flush_for_decision("postgres", time.monotonic() - 1)
    assert await learner.flush_for_decision("postgres", time.monotonic() + 20)
    assert learner.unwritten_footprints("postgres")[0].facets[EMAIL].count == 1
    assert slog.counts == {}


async def test_no_catalog_before_the_deadline_is_not_a_finished_flush(tmp_path: Path) -> None:
    async with SilentServer() as silent:
        learner = _learner(
            CatalogCache(silent.upstream(), connect_timeout=30), _stopped_store(tmp_path)
        )
        slog = _observe(learner, VersionKey("x", "shop", "1"), "nobody", "SELECT email FROM t")
        started = time.monotonic()
        assert not await learner.flush_for_decision("x", started + 0.5)
        assert time.monotonic() - started < 10
        assert slog.counts == {"SELECT email FROM t": 1}  # kept for the next flush


async def test_a_decision_does_not_wait_for_another_databases_flush(
    real_upstream: Upstream, tmp_path: Path
) -> None:
    cache = CatalogCache(real_upstream, connect_timeout=30)
    user = real_upstream.user or ""
    assert (await cache.get("postgres", user))[0] is not None  # read while the server answers
    learner = _learner(cache, _stopped_store(tmp_path))
    _observe(learner, VersionKey("a_slow", "shop", "1"), user, "SELECT 1 FROM t")
    _observe(learner, VersionKey("postgres", "shop", "1"), user, "SELECT email FROM t")
    async with SilentServer() as silent:
        cache.upstream = (
            silent.upstream()
        )  # a_slow's catalog now hangs (postgres' connection is kept)
        background = asyncio.ensure_future(learner.flush())
        await asyncio.sleep(0.3)
        assert not background.done()  # stuck on a_slow, before it reached postgres
        started = time.monotonic()
        assert await learner.flush_for_decision("postgres", started + 8)
        assert time.monotonic() - started < 10
        assert not background.done()
        assert EMAIL in learner.unwritten_footprints("postgres")[0].facets
    await asyncio.wait_for(background, 10)  # the silent server went away: the flush ends


async def test_constants_are_read_per_text_and_kept_bounded(
    real_upstream: Upstream, tmp_path: Path
) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    try:
        learner = _learner(CatalogCache(real_upstream), store)
        key = VersionKey("postgres", "shop", "3")
        # 40 texts of one literal shape: one analysis, each text's own constants
        texts = [f"INSERT INTO t (id, email) VALUES ({i}, 'mail-{i % 20}')" for i in range(40)]
        _observe(learner, key, real_upstream.user or "", *texts)
        assert await learner.flush_for_decision("postgres", time.monotonic() + 20)
        [stored] = store.versions()
        values = [f for f in stored.facets if f.kind is FacetKind.WRITE_VALUE]
        by_column: dict[str, set[str]] = {}
        for facet in values:
            column, value = split_value_subject(facet.subject)
            by_column.setdefault(column, set()).add(value)
        assert {len(v) for v in by_column.values()} == {VALUE_LIMIT}
        assert by_column[f"{SCHEMA}.t.id"] <= {f"n:{i}" for i in range(40)}
        assert by_column[f"{SCHEMA}.t.email"] <= {f"s:mail-{i}" for i in range(20)}
        for column in ("id", "email"):  # past the limit: "writes other values"
            assert Facet(FacetKind.WRITE_OTHER, f"{SCHEMA}.t.{column}") in stored.facets
        assert all("mail-" not in stored.facets[f].sample for f in values)
        [row] = version_report(store.versions(), ())
        assert not [f for f in row["facets"] if f["kind"] == FacetKind.WRITE_VALUE.value]
    finally:
        store.close()


async def test_a_search_path_postgresql_gave_the_session_is_learned(
    real_upstream: Upstream, tmp_path: Path
) -> None:
    """ALTER DATABASE/ROLE ... SET search_path: the version resolves bare names through the
    path its sessions start with, as through one it SETs; the default path is not noted."""
    store = SqliteStore(str(tmp_path / "state.db"))
    try:
        learner = _learner(CatalogCache(real_upstream), store)
        user = real_upstream.user or ""
        given, default = VersionKey("postgres", "shop", "4"), VersionKey("postgres", "shop", "5")
        _observe(learner, given, user, "SELECT email FROM t")
        learner.open(default, user, DEFAULT).add(f"SELECT email FROM {SCHEMA}.t")
        assert await learner.flush_for_decision("postgres", time.monotonic() + 20)
        paths = {
            v.key: {f.subject for f in v.facets if f.kind is FacetKind.SEARCH_PATH}
            for v in store.versions()
        }
        assert paths == {given: {SCHEMA}, default: set()}
    finally:
        store.close()


def test_written_constants_are_never_exported(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(str(path))
    key = VersionKey("shop", "shop", "2")
    batch = FootprintBatch()
    written = {
        Facet(FacetKind.COLUMN_WRITE, "public.t.note"),
        Facet(FacetKind.WRITE_VALUE, "public.t.note|s:marker-77"),
    }
    batch.record(key, frozenset(written), 1, 100.0, "UPDATE t SET note = ''")
    store.write(batch)
    store.close()
    proc = subprocess.run(
        [sys.executable, "-m", "skewguard", "footprints", "export", "shop@2",
         "--database", "shop", "--state", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    exported = {f["facet"] for f in json.loads(proc.stdout)["facets"]}
    assert exported == {"column_write:public.t.note"}


def test_analysis_caches_are_bounded() -> None:
    from skewguard.learning import _Bounded

    cache: _Bounded[int, int] = _Bounded(16)
    for i in range(1000):
        cache[i] = i
    assert len(cache) <= 16
    assert 999 in cache and 0 not in cache  # the newest stay, the oldest went
    cache[999] = -1  # replacing a key evicts nothing
    assert cache[999] == -1 and len(cache) <= 16


async def test_a_decision_with_no_tagged_text_waiting_neither_locks_nor_writes(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    try:
        upstream = parse_upstream(f"postgresql://nobody@127.0.0.1:{free_port()}/x?sslmode=disable")
        learner = _learner(CatalogCache(upstream), store)
        untagged = _observe(learner, VersionKey("x", "", ""), "nobody", "CREATE TABLE n (id int)")
        batch = FootprintBatch()
        batch.record(VersionKey("x", "shop", "1"), frozenset({EMAIL}), 1, time.time(), "s")
        learner._unwritten.append(batch)  # queued by the periodic flush, not written yet
        lock = learner._db_lock("x")
        await lock.acquire()  # a periodic flush of x's untagged texts holds the lock
        try:
            assert await asyncio.wait_for(
                learner.flush_for_decision("x", time.monotonic() + 5, write=False), 0.5
            )
        finally:
            lock.release()
        assert untagged.counts == {"CREATE TABLE n (id int)": 1}  # left to the periodic flush
        assert store.versions() == []  # the decision judged on the queued batch, unwritten
        assert EMAIL in learner.unwritten_footprints("x")[0].facets
        # a tagged text waiting: the decision takes the lock (here: waits past its deadline)
        _observe(learner, VersionKey("x", "shop", "1"), "nobody", "SELECT email FROM t")
        await lock.acquire()
        try:
            assert not await learner.flush_for_decision("x", time.monotonic() + 0.2, write=False)
        finally:
            lock.release()
    finally:
        store.close()


def _tables(*names: str) -> frozenset[Facet]:
    return frozenset(Facet(FacetKind.RELATION_READ, f"public.{name}") for name in names)


def test_a_footprint_keeps_at_most_max_facets_the_oldest(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "state.db"), max_facets=3)
    other = VersionKey("db", "shop", "2")
    first = FootprintBatch()
    first.record(KEY, _tables("a", "b"), 1, 10.0, "q")
    first.record(other, _tables("a"), 1, 10.0, "q")
    store.write(first)
    later = FootprintBatch()
    later.record(KEY, _tables("a", "c", "d", "e"), 1, 20.0, "q")  # a is known: counted
    store.write(later)
    versions = {v.key: v.facets for v in store.versions()}
    store.close()
    kept = {f.subject for f in versions[KEY]}
    assert len(kept) == 3 and {"public.a", "public.b"} <= kept, kept
    assert versions[KEY][Facet(FacetKind.RELATION_READ, "public.a")].count == 2
    assert set(versions[other]) == _tables("a")  # another version's bound is its own
