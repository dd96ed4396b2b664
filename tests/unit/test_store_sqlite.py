"""The SQLite store's heartbeats: live versions shared by proxies on one host."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from skewguard.analysis.facets import Facet, FacetKind
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.store import SqliteStore, StateStore, default_proxy_id, open_store
from skewguard.store import sqlite as sqlite_store
from skewguard.store.base import Lifecycle, StoredVersion

V1 = VersionKey("shop", "orders", "1")
V2 = VersionKey("shop", "orders", "2")


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(str(tmp_path / "state.db"))


def test_sqlite_store_is_a_state_store(store: SqliteStore) -> None:
    typed: StateStore = store  # mypy checks the protocol; this checks it at runtime too
    assert callable(typed.heartbeat) and callable(typed.live_elsewhere)


def test_live_elsewhere_sums_other_proxies_and_skips_its_own(store: SqliteStore) -> None:
    store.heartbeat("a", {V1: 2})
    store.heartbeat("b", {V1: 1, V2: 3})
    store.heartbeat("c", {V2: 0})  # nothing live there
    assert store.live_elsewhere("c", 10) == {V1: 3, V2: 3}
    assert store.live_elsewhere("a", 10) == {V1: 1, V2: 3}
    assert store.live_elsewhere("", 10) == {V1: 3, V2: 3}  # e.g. `skewguard check`


def test_a_heartbeat_replaces_the_last_one(store: SqliteStore) -> None:
    store.heartbeat("a", {V1: 2, V2: 1})
    store.heartbeat("a", {V2: 1})
    assert store.live_elsewhere("b", 10) == {V2: 1}
    store.heartbeat("a", {})  # a proxy shutting down: nothing live any more
    assert store.live_elsewhere("b", 10) == {}


def test_a_silent_proxy_stops_counting_after_the_window(store: SqliteStore) -> None:
    store.heartbeat("a", {V1: 1})
    assert store.live_elsewhere("b", 0.5) == {V1: 1}
    time.sleep(0.6)
    assert store.live_elsewhere("b", 0.5) == {}
    assert store.live_elsewhere("b", 60) == {V1: 1}  # a wider window still sees it


def test_two_stores_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    a, b = open_store(path), open_store(path)
    try:
        a.heartbeat("a", {V1: 1})
        b.heartbeat("b", {V2: 1})
        assert b.live_elsewhere("b", 10) == {V1: 1}
        assert a.live_elsewhere("a", 10) == {V2: 1}
    finally:
        a.close()
        b.close()


def test_heartbeat_tables_are_added_to_an_existing_state_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE versions (database TEXT NOT NULL, app TEXT NOT NULL, version TEXT NOT NULL,"
        " first_seen REAL NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (database, app, version))"
    )
    old.execute("INSERT INTO versions VALUES ('shop', 'orders', '1', 1.0, 2.0)")
    old.commit()
    old.close()
    store = SqliteStore(str(path))
    store.heartbeat("a", {V1: 1})
    assert [v.key for v in store.versions()] == [V1]
    assert store.live_elsewhere("b", 10) == {V1: 1}
    store.close()


def test_default_proxy_id_names_host_pid_and_port() -> None:
    host, pid, port = default_proxy_id(6432).rsplit(":", 2)
    assert host and pid.isdigit() and port == "6432"


def test_decisions_page_by_id_and_prune_by_age_and_count(store: SqliteStore) -> None:
    now = time.time()
    for n in range(10):  # two old, eight recent
        store.record_decision({"at": now - (100 if n < 2 else 0), "decision": "allow", "n": n})
    newest = store.decisions(3)
    assert [d["n"] for d in newest] == [9, 8, 7]
    assert [d["n"] for d in store.decisions(3, before=newest[-1]["id"])] == [6, 5, 4]
    assert store.prune_decisions(now - 50, keep=0) == 2  # by age
    assert store.prune_decisions(0, keep=5) == 3  # by count: the newest five stay
    assert [d["n"] for d in store.decisions(100)] == [9, 8, 7, 6, 5]
    assert store.prune_decisions(0, keep=0) == 0  # no bound: nothing goes


def _batch(key: VersionKey, subject: str) -> FootprintBatch:
    batch = FootprintBatch()
    batch.record(key, frozenset({Facet(FacetKind.RELATION_READ, subject)}), 1, time.time(), "q")
    return batch


def test_versions_are_read_again_after_any_write_here_or_elsewhere(
    store: SqliteStore, tmp_path: Path
) -> None:
    """Versions are kept between reads, so a write from this store or from another
    process (``skewguard footprints import`` on the same file) must show at once."""
    store.write(_batch(V1, "public.a"))
    first = store.versions()
    assert [v.key for v in first] == [V1]
    first[0].facets.clear()  # callers merge into what they get: never into the kept copy
    assert len(store.versions()[0].facets) == 1
    other = SqliteStore(str(tmp_path / "state.db"))
    other.write(_batch(V2, "public.b"))
    assert [v.key for v in store.versions()] == [V1, V2]
    store.write(_batch(V1, "public.c"))
    facets = {f.subject for f in store.versions()[0].facets}
    assert {"public.a", "public.c"} <= facets
    assert store.versions(with_facets=False)[0].facets == {}


def test_the_change_mark_moves_with_every_change_a_decision_reads(
    store: SqliteStore, tmp_path: Path
) -> None:
    first = store.change_mark()
    assert first is not None and store.change_mark() == first  # a read changes nothing
    store.record_decisions([{"at": 1.0, "decision": "allow"}])
    store.heartbeat("me", {V1: 1})  # this proxy's own beat: not what live_elsewhere reads
    assert store.change_mark() == first
    batch = FootprintBatch()
    batch.record(V1, frozenset({Facet(FacetKind.RELATION_READ, "public.t")}), 1, time.time(), "s")
    store.write(batch)
    second = store.change_mark()
    assert second != first
    store.set_lifecycle("orders", "1", Lifecycle.PINNED)
    third = store.change_mark()
    assert third != second
    other = SqliteStore(str(store.path))  # another process's connection: a CLI, a proxy
    try:
        other.heartbeat("b", {V2: 1})
        assert store.change_mark() != third
    finally:
        other.close()


def test_the_change_mark_never_waits_for_a_busy_connection(store: SqliteStore) -> None:
    with store._lock:  # a worker thread is writing
        assert store.change_mark() is None


def test_decisions_are_recorded_in_order_in_one_call(store: SqliteStore) -> None:
    store.record_decisions([{"at": 1.0, "decision": "allow", "n": n} for n in range(3)])
    assert [d["n"] for d in store.decisions()] == [2, 1, 0]  # newest first


def _hold_exclusively(path: Path) -> sqlite3.Connection:
    """Another process in the middle of preparing the file: nothing else may read it."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE IF NOT EXISTS first (x int)")
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_a_state_file_held_by_another_process_opens_once_it_is_let_go(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    holder = _hold_exclusively(path)
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        store = SqliteStore(str(path))
    finally:
        release.join()
        holder.close()
    store.write(FootprintBatch(seen={V1: (1.0, 2.0)}, facets={}))
    assert [v.key for v in store.versions()] == [V1]
    (mode,) = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_a_state_file_held_too_long_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "OPEN_TIMEOUT", 0.2)
    path = tmp_path / "state.db"
    holder = _hold_exclusively(path)
    try:
        with pytest.raises(ValueError, match=f"cannot open state file {path}: database is locked"):
            SqliteStore(str(path))
    finally:
        holder.close()


def _full_reads(store: SqliteStore) -> list[str]:
    """Every full read of the facets the store's connection runs from now on."""
    seen: list[str] = []
    full = "SELECT database, app, version, facet"
    store._db.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith(full) else None)
    return seen


def test_own_writes_are_applied_to_the_kept_read_others_and_trims_read_again(
    tmp_path: Path,
) -> None:
    """A decision follows every flush of the learner: the flush must not cost a read of
    every facet ever learned. Another process's commit or a trim still reads them all."""
    path = str(tmp_path / "state.db")
    store = SqliteStore(path, max_facets=3)
    store.write(_batch(V1, "public.a"))
    store.versions()
    reads = _full_reads(store)
    store.write(_batch(V1, "public.b"))
    assert {f.subject for f in store.versions()[0].facets} == {"public.a", "public.b"}
    assert not reads  # written through
    other = SqliteStore(path, max_facets=3)
    other.write(_batch(V2, "public.c"))
    assert [v.key for v in store.versions()] == [V1, V2]
    assert len(reads) == 1  # read again
    reads.clear()
    for subject in ("public.d", "public.e"):  # past max_facets: the newest go
        store.write(_batch(V1, subject))
    assert {f.subject for f in store.versions()[0].facets} == {"public.a", "public.b", "public.d"}
    assert len(reads) == 1  # the trim read again
    store.close()
    other.close()


def _random_batch(rng: random.Random, keys: list[VersionKey]) -> FootprintBatch:
    batch = FootprintBatch()
    for key in rng.sample(keys, rng.randint(1, len(keys))):
        when = rng.uniform(0, 100)
        if rng.random() < 0.2:  # seen, nothing learned
            batch.saw_version(key, when)
            continue
        subjects = rng.sample(range(12), rng.randint(1, 4))
        facets = frozenset(Facet(FacetKind.RELATION_READ, f"public.t{n}") for n in subjects)
        batch.record(key, facets, rng.randint(1, 5), when, f"SELECT {rng.random()}")
    return batch


def _as_rows(versions: list[StoredVersion]) -> list[tuple[object, ...]]:
    return [(v.key, v.first_seen, v.last_seen, v.facets) for v in versions]


@pytest.mark.parametrize("seed", range(12))
def test_a_read_after_many_writes_equals_a_fresh_full_read(tmp_path: Path, seed: int) -> None:
    """Whatever mix of own writes, trims and another connection's writes: what the kept
    read says is what a new store reads from the file."""
    rng = random.Random(seed)
    path = str(tmp_path / "state.db")
    keys = [VersionKey("shop", "orders", str(n)) for n in range(3)]
    store, other = SqliteStore(path, max_facets=8), SqliteStore(path, max_facets=8)
    try:
        for _ in range(40):
            writer = other if rng.random() < 0.15 else store
            writer.write(_random_batch(rng, keys))
            if rng.random() < 0.4:
                got = store.versions()
                fresh = SqliteStore(path)
                assert _as_rows(got) == _as_rows(fresh.versions())
                fresh.close()
                for version in got:  # callers merge into the copies they get
                    version.facets.clear()
                    version.last_seen = -1.0
        fresh = SqliteStore(path)
        assert _as_rows(store.versions()) == _as_rows(fresh.versions())
        fresh.close()
    finally:
        store.close()
        other.close()
