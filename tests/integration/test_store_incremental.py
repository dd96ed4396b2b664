"""The PostgreSQL store reads only what changed since its last read (issue #8): rows
written by any proxy since then, including a transaction that was still running at
that read and commits later; a delete anywhere makes it read everything again."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from skewguard.analysis import Facet, FacetKind
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.pgcluster import LocalCluster
from skewguard.store import PostgresStore, StoredVersion
from tests.support.clients import direct, unique

pytestmark = pytest.mark.integration

V1 = VersionKey("shop", "orders", "1")
V2 = VersionKey("shop", "orders", "2")
KEYS = [VersionKey("shop", "orders", str(n)) for n in range(3)]


@pytest.fixture
def state_url(cluster: LocalCluster) -> Iterator[str]:
    name = unique("state")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield cluster.url(database=name, sslmode="disable")
    with direct(cluster) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _batch(
    key: VersionKey, subjects: list[str], count: int = 1, when: float = 1.0
) -> FootprintBatch:
    batch = FootprintBatch()
    facets = frozenset(Facet(FacetKind.RELATION_READ, s) for s in subjects)
    batch.record(key, facets, count, when, "SELECT 1")
    return batch


def _rows(versions: list[StoredVersion]) -> list[tuple[object, ...]]:
    return [(v.key, v.first_seen, v.last_seen, v.facets) for v in versions]


def _fresh(url: str) -> list[tuple[object, ...]]:
    """What a store that has never read answers: the full read."""
    store = PostgresStore(url)
    try:
        return _rows(store.versions())
    finally:
        store.close()


class _Counting(psycopg.Cursor[Any]):
    """Counts the facet rows a store's reads fetch."""

    fetched: list[int] = []

    def fetchall(self) -> list[Any]:
        rows = super().fetchall()
        query = self._query.query if self._query is not None else b""
        if b"FROM skewguard.facets" in bytes(query) and b"count(*)" not in bytes(query):
            _Counting.fetched.append(len(rows))
        return rows


def _counted(store: PostgresStore) -> list[int]:
    store.versions()  # connected
    assert store._conn is not None
    store._conn.cursor_factory = _Counting
    _Counting.fetched = []
    return _Counting.fetched


def test_a_read_fetches_only_the_rows_written_since_the_last(state_url: str) -> None:
    """60 facets learned: a later write of 2 costs a read of 2, not of 62; a delete
    (an operator forgetting a facet) reads everything again."""
    a, b = PostgresStore(state_url), PostgresStore(state_url)
    try:
        a.write(_batch(V1, [f"public.t{n}" for n in range(60)]))
        fetched = _counted(a)
        (before,) = a.versions()
        b.write(_batch(V1, ["public.t0", "public.new"], count=3, when=5.0))
        (v1,) = a.versions()
        assert fetched == [0, 2]
        assert v1.revision != before.revision and v1.keys_revision != before.keys_revision
        assert v1.facets[Facet(FacetKind.RELATION_READ, "public.t0")].count == 4
        assert v1.last_seen == 5.0 and len(v1.facets) == 61
        (same,) = a.versions()  # nothing new
        assert fetched == [0, 2, 0] and same.revision == v1.revision
        b.write(_batch(V1, ["public.t0"]))  # evidence only: the facet set is the same
        (again,) = a.versions()
        assert again.revision != v1.revision and again.keys_revision == v1.keys_revision
        with psycopg.connect(state_url, autocommit=True) as operator:
            operator.execute("DELETE FROM skewguard.facets WHERE facet = 'relation_read:public.t1'")
        (v1,) = a.versions()
        assert fetched[-1] == 60 and len(v1.facets) == 60
        assert _rows(a.versions()) == _fresh(state_url)
    finally:
        a.close()
        b.close()


def test_a_transaction_running_at_a_read_is_read_once_it_commits(state_url: str) -> None:
    """Ids are not commit order: a writer that began before another's read (and wrote
    before it) but commits after must still be seen by the next read."""
    a, b = PostgresStore(state_url), PostgresStore(state_url)
    try:
        a.write(_batch(V1, ["public.a"]))
        a.versions()
        late = psycopg.connect(state_url)  # not autocommit: holds its transaction open
        late.execute(
            "INSERT INTO skewguard.facets (database, app, version, facet, count, first_seen,"
            " last_seen, sample) VALUES ('shop', 'orders', '1', 'relation_read:public.late',"
            " 1, 2.0, 2.0, 'SELECT late')"
        )
        b.write(_batch(V1, ["public.b"], when=3.0))  # a later transaction id, committed first
        seen = {f.subject for f in a.versions()[0].facets}
        assert seen == {"public.a", "public.b"}  # the late one is not committed yet
        late.commit()
        late.close()
        b.write(_batch(V1, ["public.c"]))  # and the world moves on before the next read
        seen = {f.subject for f in a.versions()[0].facets}
        assert seen == {"public.a", "public.b", "public.c", "public.late"}
        assert _rows(a.versions()) == _fresh(state_url)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("seed", range(4))
def test_two_proxies_interleaving_writes_read_what_a_fresh_store_reads(
    state_url: str, seed: int
) -> None:
    """Random writes from two stores (with trims past a small bound), each store reading
    between them: every read equals a full read by a store that has never read."""
    rng = random.Random(seed)
    stores = [PostgresStore(state_url, max_facets=6), PostgresStore(state_url, max_facets=6)]
    try:
        for _ in range(25):
            writer = rng.choice(stores)
            subjects = [f"public.t{n}" for n in rng.sample(range(10), rng.randint(1, 3))]
            key = rng.choice(KEYS)
            writer.write(_batch(key, subjects, rng.randint(1, 4), rng.uniform(0, 100)))
            reader = rng.choice(stores)
            if rng.random() < 0.6:
                got = reader.versions()
                assert _rows(got) == _fresh(state_url)
                for version in got:  # callers merge into their copies
                    version.facets.clear()
        for store in stores:
            assert _rows(store.versions()) == _fresh(state_url)
    finally:
        for store in stores:
            store.close()


def test_an_existing_store_gets_the_columns_and_is_read_in_full_first(
    state_url: str, cluster: LocalCluster
) -> None:
    """Rows written before the step (no transaction id) are in the first read; the step
    can run again (a proxy that died half-way) without harm."""
    from skewguard.store.postgres import MIGRATIONS

    a = PostgresStore(state_url)
    a.write(_batch(V1, ["public.a"]))
    a.close()
    database = state_url.rsplit("/", 1)[1].split("?")[0]
    with direct(cluster, dbname=database) as conn:
        conn.execute("UPDATE skewguard.facets SET xid = NULL")  # as written before step 4
        conn.execute(MIGRATIONS[3].sql)  # again: idempotent
    b = PostgresStore(state_url)
    try:
        assert {f.subject for f in b.versions()[0].facets} == {"public.a"}
        b.write(_batch(V1, ["public.b"]))
        assert {f.subject for f in b.versions()[0].facets} == {"public.a", "public.b"}
    finally:
        b.close()
