"""From observed statements to stored footprints, off the hot path.

Each session appends to its own ``StatementLog`` (a dict of text → count: the
only work per statement on the relay). Once a second the learner swaps every
log's counts out, turns each distinct text into facets — through an exact-text
cache, then a literal-insensitive cache, then pglast — and writes the evidence
to the state store in a worker thread. Distinct texts, not raw queries, wait
here, so nothing is dropped under load; a store outage keeps batches in memory
and retries them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from skewguard.analysis import Facet, FacetKind, analyze, result_facets
from skewguard.catalog import CatalogSnapshot
from skewguard.catalogs import CatalogCache
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.observe.metrics import ProxyMetrics
from skewguard.shapes import literal_key
from skewguard.store import StateStore

log = logging.getLogger("skewguard.learning")

MISSING_KINDS = frozenset(
    {
        FacetKind.MISSING_RELATION,
        FacetKind.MISSING_COLUMN,
        FacetKind.MISSING_FUNCTION,
        FacetKind.MISSING_ENUM_LABEL,
    }
)
#: Exact-text cache entries kept per database before the cache is reset.
EXACT_CACHE_LIMIT = 50_000
#: Unwritten batches kept while the store is down (one per flush interval).
PENDING_BATCH_LIMIT = 3_600

_SENSITIVE = object()
_PREPARE = re.compile(
    r"\s*(?:/\*.*?\*/\s*)*prepare\s", re.I | re.S
)  # literal key whose facets depend on the literals' values


class StatementLog:
    """What one session ran since the last flush, under one identity and search_path."""

    __slots__ = ("counts", "key", "named", "search_path", "user")

    def __init__(self, key: VersionKey, user: str, search_path: tuple[str, ...]) -> None:
        self.key = key
        self.user = user
        self.search_path = search_path
        self.counts: dict[str, int] = {}
        self.named: set[str] = set()  # texts prepared as named statements (their result matters)


class _DatabaseCache:
    """Analysis results for one database; reset whenever its catalog changes."""

    def __init__(self) -> None:
        self.exact: dict[tuple[tuple[str, ...], str], frozenset[Facet]] = {}
        self.by_literal: dict[tuple[tuple[str, ...], str], frozenset[Facet] | object] = {}
        self.results: dict[tuple[tuple[str, ...], str], frozenset[Facet]] = {}

    def clear(self) -> None:
        self.exact.clear()
        self.by_literal.clear()
        self.results.clear()


class Learner:
    def __init__(
        self,
        store: StateStore,
        catalogs: CatalogCache,
        metrics: ProxyMetrics,
        *,
        interval: float = 1.0,
        proxy_id: str = "",
    ) -> None:
        self._store = store
        self.proxy_id = proxy_id  # the name of this proxy's heartbeats (none when empty)
        self._catalogs = catalogs
        self._metrics = metrics
        self._interval = interval
        self._live: set[StatementLog] = set()
        self._done: list[tuple[StatementLog, float]] = []
        self._caches: dict[str, _DatabaseCache] = {}
        self._unwritten: list[FootprintBatch] = []
        self._flush_lock = asyncio.Lock()

    # ------------------------------------------------------------ called by sessions

    def open(self, key: VersionKey, user: str, search_path: tuple[str, ...]) -> StatementLog:
        statement_log = StatementLog(key, user, search_path)
        self._live.add(statement_log)
        return statement_log

    def rotate(
        self, old: StatementLog, key: VersionKey, search_path: tuple[str, ...]
    ) -> StatementLog:
        """The session changed identity or search_path: later statements go to a new log."""
        self.close(old)
        return self.open(key, old.user, search_path)

    def close(self, statement_log: StatementLog) -> None:
        if statement_log in self._live:
            self._live.discard(statement_log)
            self._done.append((statement_log, time.time()))

    # ------------------------------------------------------------ the background side

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:  # the learner must outlive any single bad batch
                log.exception("footprint flush failed")

    async def flush(self) -> None:
        """Analyse everything observed so far and write it to the store."""
        async with self._flush_lock:
            now = time.time()
            work: list[tuple[StatementLog, dict[str, int], set[str], float]] = []
            batch = FootprintBatch()
            for live in list(self._live):
                counts, live.counts = live.counts, {}
                named, live.named = live.named, set()
                work.append((live, counts, named, now))
            done, self._done = self._done, []
            for closed, when in done:
                work.append((closed, closed.counts, closed.named, when))
            for statement_log, counts, named, when in work:
                await self._learn(batch, statement_log, counts, named, when)
            if batch:
                self._unwritten.append(batch)
            if await self._write():
                await self._heartbeat()

    async def _learn(
        self,
        batch: FootprintBatch,
        slog: StatementLog,
        counts: dict[str, int],
        named: set[str],
        when: float,
    ) -> None:
        key = slog.key
        # The role a version connects as: REVOKE and row-level security are judged by it.
        role = frozenset({Facet(FacetKind.ROLE, slog.user)})
        batch.record(key, role, sum(counts.values()), when, f"connected as {slog.user}")
        for sql in named:  # named prepared statements break when their result type changes
            result = await self._result_facets(key.database, slog, sql, prepared_only=False)
            if result:
                batch.record(key, result, counts.get(sql, 1), when, sql)
        cache = self._caches.setdefault(key.database, _DatabaseCache())
        path = slog.search_path
        # Texts that share one analysis (the same cached facet set) are recorded once,
        # with their counts summed: inlined literals cost a cache lookup each, no more.
        groups: dict[int, list[Any]] = {}
        for sql, count in counts.items():
            facets = cache.exact.get((path, sql))
            if facets is None:
                shared = cache.by_literal.get((path, literal_key(sql)))
                if isinstance(shared, frozenset):
                    facets = shared
                else:
                    facets = await self._facets(key.database, slog, sql, count, when)
                    if facets is None:
                        continue
            group = groups.get(id(facets))
            if group is None:
                groups[id(facets)] = [facets, count, sql]
            else:
                group[1] += count
            if _PREPARE.match(sql):  # SQL-level PREPARE: a named statement too
                result = await self._result_facets(key.database, slog, sql, prepared_only=True)
                if result:
                    batch.record(key, result, count, when, sql)
        for facets, count, sample in groups.values():
            batch.record(key, facets, count, when, sample)
            if _has_missing(facets):
                self._metrics.missing_references.labels(*key.identity.labels).inc(count)

    async def _result_facets(
        self, database: str, slog: StatementLog, sql: str, *, prepared_only: bool
    ) -> frozenset[Facet]:
        cache = self._caches.setdefault(database, _DatabaseCache())
        found = cache.results.get((slog.search_path, sql))
        if found is not None:
            return found
        catalog = await self._catalog(database, slog.user)
        if catalog is None:
            return frozenset()
        found = result_facets(
            sql,
            search_path=slog.search_path,
            catalog=catalog,
            user=slog.user,
            prepared_only=prepared_only,
        )
        if len(cache.results) >= EXACT_CACHE_LIMIT:
            cache.results.clear()
        cache.results[(slog.search_path, sql)] = found
        return found

    async def _facets(
        self, database: str, slog: StatementLog, sql: str, count: int, when: float
    ) -> frozenset[Facet] | None:
        """Analyse one text the caches do not answer (the caller tried them first)."""
        user, path = slog.user, slog.search_path
        cache = self._caches.setdefault(database, _DatabaseCache())
        lkey = (path, literal_key(sql))
        shared = cache.by_literal.get(lkey)
        catalog = await self._catalog(database, user)
        if catalog is None:
            self._metrics.analysis_failures.labels("catalog").inc(count)
            return None
        result = analyze(sql, search_path=path, catalog=catalog, user=user)
        self._metrics.statements_analyzed.inc()
        if result.error is not None:
            self._metrics.analysis_failures.labels(result.error).inc(count)
        elif _has_missing(result.facets):
            # New code, or a catalog read before the schema changed: decide on a
            # snapshot read after the statement ran.
            fresh = await self._catalog(database, user, read_after=when)
            if fresh is not None and fresh is not catalog:
                result = analyze(sql, search_path=path, catalog=fresh, user=user)
                catalog = fresh
        facets = result.facets
        if shared is None and result.error is None:
            generic = analyze(lkey[1], search_path=path, catalog=catalog, user=user)
            cache.by_literal[lkey] = facets if generic.facets == facets else _SENSITIVE
        if len(cache.exact) >= EXACT_CACHE_LIMIT:
            cache.exact.clear()
        cache.exact[(path, sql)] = facets
        await asyncio.sleep(0)  # let the relay run between analyses
        return facets

    async def _catalog(
        self, database: str, user: str, *, read_after: float | None = None
    ) -> CatalogSnapshot | None:
        snapshot, changed = await self._catalogs.get(database, user, newer_than=read_after)
        if changed:
            self._caches.setdefault(database, _DatabaseCache()).clear()
        return snapshot

    async def _write(self) -> bool:
        """Write pending batches in order; False (and the rest kept) when the store fails."""
        while self._unwritten:
            batch = self._unwritten[0]
            try:
                await asyncio.to_thread(self._store.write, batch)
            except Exception as exc:
                self._metrics.state_up.set(0)
                self._metrics.state_errors.inc()
                log.warning("state store write failed (will retry): %s", exc)
                if len(self._unwritten) > PENDING_BATCH_LIMIT:
                    self._unwritten.pop(0)
                    log.error("state store down too long: dropped the oldest footprint batch")
                return False
            self._unwritten.pop(0)
            self._metrics.state_up.set(1)
        return True

    async def _heartbeat(self) -> None:
        """Tell proxies sharing the store which versions are live here; failures only count."""
        if not self.proxy_id:
            return
        live = Counter(self.live_keys())
        try:
            await asyncio.to_thread(self._store.heartbeat, self.proxy_id, live)
        except Exception as exc:
            self._metrics.state_up.set(0)
            self._metrics.state_errors.inc()
            log.warning("state store heartbeat failed (will retry): %s", exc)
            return
        self._metrics.state_up.set(1)

    def live_keys(self) -> Iterable[VersionKey]:
        return (slog.key for slog in self._live)


def _has_missing(facets: frozenset[Facet]) -> bool:
    return any(f.kind in MISSING_KINDS for f in facets)
