"""From observed statements to stored footprints, off the hot path.

Each session appends to its own ``StatementLog`` (a dict of text → count: the
only work per statement on the relay). Once a second the learner swaps every
log's counts out, turns each distinct text into facets — through an exact-text
cache, then a literal-insensitive cache, then pglast — and writes the evidence
to the state store in a worker thread. Distinct texts, not raw queries, wait
here, so repeats cost nothing; the texts waiting are bounded (backlog.py: past
the bound, older texts of a shape are folded into a newer one, then the oldest
dropped, counted). A store outage keeps batches in memory and retries them.

Analysis runs per database under that database's lock, so a DDL decision can
drain its own database before a deadline (``flush_for_decision``) without
waiting for another database's work, and judge on what is stored plus what is
learned but not yet written (``unwritten_footprints``).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from skewguard.analysis import Analysis, Facet, FacetKind, analyze, result_facets
from skewguard.analysis.facets import VALUE_LIMIT, ident
from skewguard.analysis.values import Slot, Written, slots_of, value_facets, values_of
from skewguard.backlog import DEFAULT_MAX_TEXTS, MAX_CHARS, Backlog
from skewguard.catalog import CatalogSnapshot
from skewguard.catalogs import CatalogCache
from skewguard.footprint import Evidence, FootprintBatch, VersionKey
from skewguard.literal_keys import literal_key, marked_key
from skewguard.observe.metrics import ProxyMetrics
from skewguard.offload import for_text, in_thread
from skewguard.search_path import DEFAULT
from skewguard.store import StateStore, StoredVersion
from skewguard.temporary import Shape

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
#: Analysis results kept per database and kind (exact text, literal shape, result
#: columns): each entry is about 1 KB, so ~50 MB per database at most.
CACHE_LIMIT = 50_000

_SENSITIVE = object()
_OTHER = "other"  # the key of a column's WRITE_OTHER facet among its kept constants
_PREPARE = re.compile(
    r"\s*(?:/\*.*?\*/\s*)*prepare\s", re.I | re.S
)  # literal key whose facets depend on the literals' values


#: What a session's names resolve against: its search_path and temporary relations (and
#: those of them made LIKE another relation).
Names = tuple[tuple[str, ...], frozenset[str], frozenset[Shape]]


class StatementLog:
    """What one session ran since the last flush, under one identity and search_path."""

    __slots__ = (
        "backlog",
        "chars",
        "counts",
        "key",
        "named",
        "search_path",
        "shapes",
        "temporary",
        "user",
    )

    def __init__(
        self,
        key: VersionKey,
        user: str,
        search_path: tuple[str, ...],
        backlog: Backlog,
        temporary: frozenset[str] = frozenset(),
        shapes: frozenset[Shape] = frozenset(),
    ) -> None:
        self.key = key
        self.user = user
        self.search_path = search_path
        self.temporary = temporary  # the session's temporary relations (skewguard.temporary)
        self.shapes = shapes  # those made LIKE another relation, and which
        self.backlog = backlog  # shared by every log: the bound on what waits
        self.counts: dict[str, int] = {}
        self.chars = 0  # characters of the texts in counts
        self.named: set[str] = set()  # texts prepared as named statements (their result matters)

    @property
    def names(self) -> Names:
        """What its texts' names resolve against: the search_path, temporary relations."""
        return self.search_path, self.temporary, self.shapes

    def add(self, sql: str) -> None:
        """Count one run of ``sql``; a new text past the backlog's bound sheds (never waits)."""
        counts = self.counts
        seen = counts.get(sql)
        if seen is not None:
            counts[sql] = seen + 1
            return
        counts[sql] = 1
        self.chars += len(sql)
        if self.backlog.added(len(sql)):
            self.chars -= self.backlog.shed(counts)

    def swap(self) -> tuple[dict[str, int], set[str]]:
        """Hand over what was counted (the learner takes it), starting afresh."""
        counts, named = self.counts, self.named
        self.backlog.taken(len(counts), self.chars)
        self.counts, self.named, self.chars = {}, set(), 0
        return counts, named

    def give_back(self, counts: dict[str, int], named: set[str]) -> None:
        """Texts the learner did not analyse, to be taken again (counts add)."""
        mine = self.counts
        for sql, count in counts.items():
            seen = mine.get(sql)
            if seen is None:
                self.chars += len(sql)
                self.backlog.taken(-1, -len(sql))
                mine[sql] = count
            else:
                mine[sql] = seen + count
        self.named |= named


@dataclass(slots=True)
class _Work:
    """Texts taken from one log for analysis, observed last at ``when``."""

    slog: StatementLog
    counts: dict[str, int]
    named: set[str]
    when: float
    live: bool  # taken from a live log (else from a closed one)


class _Postponed(Exception):
    """Analysis cannot go on now: the deadline passed, or no catalog can be read yet
    (the texts left wait for the next flush; a decision meanwhile counts them as not
    analysed, rather than judging as if they had never run)."""


@dataclass(frozen=True, slots=True)
class _Learned:
    """One text's facets, and where the constants it writes come from (values.py)."""

    facets: frozenset[Facet]
    slots: tuple[Slot, ...] = ()


K = TypeVar("K")
V = TypeVar("V")


class _Bounded(dict[K, V]):
    """A dict of at most ``limit`` entries: past it, the oldest eighth goes (insertion order).

    Distinct statement shapes are the attacker's to choose; the analysis they save is
    redone at worst, so forgetting the oldest is safe.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        if key not in self and len(self) >= self.limit:
            for old in list(itertools.islice(iter(self), max(1, self.limit // 8))):
                del self[old]
        super().__setitem__(key, value)


class _DatabaseCache:
    """Analysis results for one database; reset whenever its catalog changes."""

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        self.exact: dict[tuple[Names, str], _Learned] = _Bounded(limit)
        self.by_literal: dict[tuple[Names, str], _Learned | object] = _Bounded(limit)
        self.results: dict[tuple[Names, str], frozenset[Facet]] = _Bounded(limit)

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
        keep_literals: bool = False,
        max_backlog: int = DEFAULT_MAX_TEXTS,
    ) -> None:
        self._store = store
        # what waits in the sessions' logs: bounded, shed oldest duplicates first (backlog.py)
        self.backlog = Backlog(max_backlog, MAX_CHARS, literal_key)
        metrics.watch_backlog(self.backlog)
        self.proxy_id = proxy_id  # the name of this proxy's heartbeats (none when empty)
        self._catalogs = catalogs
        self._metrics = metrics
        self._interval = interval
        self._keep_literals = keep_literals  # samples with their literal values (--keep-literals)
        self._live: set[StatementLog] = set()
        self._done: list[tuple[StatementLog, float]] = []
        self._caches: dict[str, _DatabaseCache] = {}
        self._unwritten: list[FootprintBatch] = []
        self._flush_lock = asyncio.Lock()  # one full flush at a time
        self._db_locks: dict[str, asyncio.Lock] = {}  # analysis of one database at a time
        self._write_lock = asyncio.Lock()
        self._writer: asyncio.Task[bool] | None = None  # a write a decision stopped waiting for
        self._building: dict[int, FootprintBatch] = {}  # being analysed into, not yet queued
        self._in_flight: dict[int, tuple[str, list[_Work]]] = {}  # taken, not analysed yet
        self._seen: dict[str, CatalogSnapshot] = {}  # the snapshot each database's caches hold
        # constants kept per version and column (VALUE_LIMIT each; the rest is WRITE_OTHER)
        self._values: dict[VersionKey, dict[str, dict[str, Facet]]] = {}

    # ------------------------------------------------------------ called by sessions

    def open(
        self,
        key: VersionKey,
        user: str,
        search_path: tuple[str, ...],
        temporary: frozenset[str] = frozenset(),
        shapes: frozenset[Shape] = frozenset(),
    ) -> StatementLog:
        statement_log = StatementLog(key, user, search_path, self.backlog, temporary, shapes)
        self._live.add(statement_log)
        return statement_log

    def rotate(
        self,
        old: StatementLog,
        key: VersionKey,
        search_path: tuple[str, ...],
        temporary: frozenset[str] | None = None,
        shapes: frozenset[Shape] | None = None,
    ) -> StatementLog:
        """The session changed identity, search_path or temporary relations: later
        statements go to a new log."""
        self.close(old)
        names = old.temporary if temporary is None else temporary
        made_like = old.shapes if shapes is None else shapes
        return self.open(key, old.user, search_path, names, made_like)

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
            for database in self._pending_databases():
                async with self._db_lock(database):
                    await self._flush_database(database, None)
            if await self._write():
                await self.heartbeat()

    async def flush_before(self, deadline: float) -> None:
        """Shutdown's last flush: analyse what is waiting for a share of the time left
        (FINAL_ANALYSIS_SHARE), then write what was analysed until ``deadline``. The
        text being analysed when its time is up is given up with the ones after it (its
        thread does not hold the exit): an orchestrator's SIGKILL would lose them all."""
        async with self._flush_lock:
            try:
                async with asyncio.timeout(_remaining(deadline) * FINAL_ANALYSIS_SHARE):
                    for database in self._pending_databases():
                        async with self._db_lock(database):
                            await self._flush_database(database, None)
            except TimeoutError:  # what was analysed is queued (_flush_database)
                log.error("shutdown: the last texts were not analysed in time, not learned")
        try:
            async with asyncio.timeout(_remaining(deadline)):
                await self._write()
                await self.heartbeat()  # nothing live here any more: peers must know at once
        except TimeoutError:
            log.error("shutdown: the state store did not take the last learned footprints")

    async def flush_for_decision(
        self, database: str, deadline: float, *, write: bool = True
    ) -> bool:
        """Analyse what ``database``'s sessions ran so far, before ``deadline``.

        ``deadline`` is a ``time.monotonic()`` moment. True when every statement
        observed for the database before the call is in the footprints a
        decision can see: the store plus :meth:`unwritten_footprints`. ``write``
        (for a peer, which reads the store, not this memory): what is queued is
        written too, waiting until the deadline at most (the write carries on
        after it). False when the deadline came first: what was analysed is
        kept, the rest waits for the next flush. Never waits on another
        database's analysis.
        """
        if not self._waiting(database):  # nothing to analyse: no lock, no await
            if write:
                await self._publish_before(deadline)
            return True
        lock = self._db_lock(database)
        try:
            async with asyncio.timeout(_remaining(deadline)):
                await lock.acquire()
        except TimeoutError:
            return False
        try:  # a long text's analysis must not carry the decision past its deadline
            async with asyncio.timeout(_remaining(deadline)):
                complete = await self._flush_database(database, deadline, texts_only=True)
        except TimeoutError:  # what was not analysed went back to the logs
            complete = False
        finally:
            lock.release()
        if write:
            await self._publish_before(deadline)
        return complete

    def _waiting(self, database: str) -> bool:
        """Whether a tagged session's text for ``database`` waits for analysis (in its log,
        or taken by an analysis under way)."""
        if any(slog.key.database == database and _wanted(slog) for slog in self._live):
            return True
        if any(slog.key.database == database and _wanted(slog) for slog, _ in self._done):
            return True
        return any(
            owner == database and any(item.slog.key.app for item in work)
            for owner, work in self._in_flight.values()
        )

    def unanalysed(self, database: str) -> Iterator[str]:
        """Texts ``database``'s tagged sessions ran that are not in its footprints yet:
        still in their logs, or taken by an analysis under way (untagged sessions, the
        migration's own among them, protect nothing)."""
        logs = [*self._live, *(closed for closed, _ in self._done)]
        for slog in logs:
            if slog.key.database == database and slog.key.app:
                yield from slog.counts
                yield from slog.named
        for owner, work in list(self._in_flight.values()):
            if owner == database:
                for item in work:
                    if item.slog.key.app:
                        yield from item.counts
                        yield from item.named

    def unwritten_footprints(self, database: str | None = None) -> list[StoredVersion]:
        """Footprints learned but not yet in the store, shaped like ``StateStore.versions()``.

        Batches waiting for the store (down, read-only, full) and those being
        analysed into right now, merged per version as a store would (counts
        add, first/last widen, the first sample stays); copies, safe to keep.
        Only ``database``'s versions when given. Read this before the store:
        a batch leaves this list only after the store has it.
        """
        merged: dict[VersionKey, StoredVersion] = {}
        for batch in [*self._unwritten, *self._building.values()]:
            for key, (first, last) in batch.seen.items():
                if database is not None and key.database != database:
                    continue
                version = merged.get(key)
                if version is None:
                    merged[key] = StoredVersion(key, first, last)
                else:
                    version.first_seen = min(version.first_seen, first)
                    version.last_seen = max(version.last_seen, last)
            for key, facets in batch.facets.items():
                if database is not None and key.database != database:
                    continue
                if key not in merged:  # facets without a sighting: only hand-made batches
                    times = [e.first_seen for e in facets.values()] or [0.0]
                    merged[key] = StoredVersion(key, min(times), max(times))
                owned = merged[key].facets
                for facet, ev in facets.items():
                    have = owned.get(facet)
                    if have is None:
                        owned[facet] = Evidence(ev.count, ev.first_seen, ev.last_seen, ev.sample)
                    else:
                        have.count += ev.count
                        have.first_seen = min(have.first_seen, ev.first_seen)
                        have.last_seen = max(have.last_seen, ev.last_seen)
        return sorted(merged.values(), key=lambda v: v.key)

    def _db_lock(self, database: str) -> asyncio.Lock:
        return self._db_locks.setdefault(database, asyncio.Lock())

    def _pending_databases(self) -> list[str]:
        found = {slog.key.database for slog in self._live}
        found.update(slog.key.database for slog, _ in self._done)
        return sorted(found)

    def _take(self, database: str, *, texts_only: bool = False) -> list[_Work]:
        """Swap out what ``database``'s logs hold (every live log: its version is seen).

        ``texts_only`` (for a decision): only tagged logs with texts to analyse;
        that a version was seen, and what untagged sessions (which protect nothing,
        the migration itself among them) ran, is the periodic flush's to record.
        """
        now = time.time()
        work: list[_Work] = []
        for live in list(self._live):
            if texts_only and not _wanted(live):
                continue
            if live.key.database == database:
                counts, named = live.swap()
                work.append(_Work(live, counts, named, now, True))
        kept: list[tuple[StatementLog, float]] = []
        for closed, when in self._done:
            if closed.key.database == database and (not texts_only or _wanted(closed)):
                counts, named = closed.swap()
                work.append(_Work(closed, counts, named, when, False))
            else:
                kept.append((closed, when))
        self._done = kept
        # the cheapest logs first: one session's huge script must not leave every other
        # version's few statements unanalysed when a decision's or the exit's time runs out
        work.sort(key=lambda item: sum(map(len, item.counts)) + sum(map(len, item.named)))
        return work

    def _put_back(self, work: _Work) -> None:
        """Texts not analysed go back where the next flush takes them."""
        slog = work.slog
        slog.give_back(work.counts, work.named)
        if slog not in self._live and all(slog is not s for s, _ in self._done):
            self._done.append((slog, work.when))  # closed meanwhile, or taken from _done

    async def _flush_database(
        self, database: str, deadline: float | None, *, texts_only: bool = False
    ) -> bool:
        """Analyse ``database``'s logs into a queued batch (caller holds its lock).

        False when the deadline passed first or no catalog of the database can
        be read now: the texts not analysed are put back for the next flush.
        Only a database that no longer exists loses its texts (counted as
        analysis failures).
        """
        work = self._take(database, texts_only=texts_only)
        batch = FootprintBatch(keep_literals=self._keep_literals)
        self._building[id(batch)] = batch
        self._in_flight[id(work)] = (database, work)
        complete = True
        try:
            while work:
                item = work[0]
                if not complete:
                    self._put_back(work.pop(0))
                    continue
                left = await self._learn(batch, item, deadline)
                work.pop(0)
                if left is not None:
                    complete = False
                    self._put_back(left)
        except asyncio.CancelledError:
            for item in work:
                self._put_back(item)
            raise
        finally:
            del self._building[id(batch)]
            del self._in_flight[id(work)]
            if batch:
                self._unwritten.append(batch)
        return complete

    async def _learn(
        self, batch: FootprintBatch, work: _Work, deadline: float | None
    ) -> _Work | None:
        """Analyse one log's texts into ``batch``; what the deadline left, or None."""
        slog, counts, when = work.slog, work.counts, work.when
        key = slog.key
        cache = self._caches.setdefault(key.database, _DatabaseCache())
        names = slog.names
        named = sorted(work.named)
        items = list(counts.items())
        named_done = items_done = analysed = 0
        # Texts that share one analysis (the same cached facet set) are recorded once,
        # with their counts summed: inlined literals cost a cache lookup each, no more.
        groups: dict[int, list[Any]] = {}
        valued: dict[frozenset[Facet], list[Any]] = {}  # value facets: [count, sample]
        try:
            if items or named:
                # what the caches hold was analysed against the snapshot they were reset
                # for: a text run again after a schema change may use something else now
                # (a relation created earlier on its search_path), so they must be known
                # to match a snapshot read after these texts ran
                await self._catalog(key.database, slog.user, read_after=when, deadline=deadline)
            for sql in named:  # named prepared statements break when their result type changes
                _check(deadline)
                result = await self._result_facets(
                    key.database, slog, sql, when, prepared_only=False, deadline=deadline
                )
                if result:
                    batch.record(key, result, counts.get(sql, 1), when, sql)
                named_done += 1
            for sql, count in items:
                _check(deadline)
                lkey: str | None = None  # computed once, when needed
                learned = cache.exact.get((names, sql))
                if learned is None:
                    lkey = await for_text(len(sql), functools.partial(literal_key, sql))
                    shared = cache.by_literal.get((names, lkey))
                    if isinstance(shared, _Learned):
                        learned = shared
                    else:
                        learned = await self._facets(
                            key.database, slog, sql, lkey, count, when, deadline
                        )
                prepared: frozenset[Facet] = frozenset()
                if learned is not None and _PREPARE.match(sql):  # SQL-level PREPARE: named too
                    prepared = await self._result_facets(
                        key.database, slog, sql, when, prepared_only=True, deadline=deadline
                    )
                items_done += 1
                analysed += count
                if learned is None:
                    continue
                if learned.slots:
                    self._note_values(valued, key, sql, learned.slots, count, lkey)
                facets = learned.facets
                group = groups.get(id(facets))
                if group is None:
                    groups[id(facets)] = [facets, count, sql]
                else:
                    group[1] += count
                if prepared:
                    batch.record(key, prepared, count, when, sql)
        except _Postponed:
            pass
        finally:
            # The role a version connects as: REVOKE and row-level security are judged by it.
            role = frozenset({Facet(FacetKind.ROLE, slog.user)})
            batch.record(key, role, analysed, when, f"connected as {slog.user}")
            # A search_path PostgreSQL gave the session (ALTER DATABASE/ROLE ... SET): the
            # version's bare names resolve through it, as through one it SETs itself.
            if slog.search_path != DEFAULT:
                given_path = ",".join(ident(s) for s in slog.search_path)
                given = frozenset({Facet(FacetKind.SEARCH_PATH, given_path)})
                batch.record(key, given, analysed, when, f"search_path {given_path}")
            for values, (count, sample) in valued.items():
                batch.record(key, values, count, when, sample)
            for facets, count, sample in groups.values():
                batch.record(key, facets, count, when, sample)
                if _has_missing(facets):
                    self._metrics.missing_references.labels(
                        *self._metrics.identity_labels(key.identity)
                    ).inc(count)
        if named_done == len(named) and items_done == len(items):
            return None
        return _Work(slog, dict(items[items_done:]), set(named[named_done:]), when, work.live)

    def _note_values(
        self,
        valued: dict[frozenset[Facet], list[Any]],
        key: VersionKey,
        sql: str,
        slots: tuple[Slot, ...],
        count: int,
        lkey: str | None,
    ) -> None:
        """Add the value facets of one text to ``valued`` (summed per distinct set)."""
        if self._settled(key, slots):
            return
        values = self._bounded(key, values_of(sql, slots))
        entry = valued.get(values)
        if entry is None:  # its sample is the text without its literals
            valued[values] = [count, lkey if lkey is not None else literal_key(sql)]
        else:
            entry[0] += count

    def _settled(self, key: VersionKey, slots: tuple[Slot, ...]) -> bool:
        """Every column the slots write already counts as "writes other values" here.

        Such a column's constants no longer change a decision (it is not
        complete, and its kept constants are all there are), so the text's
        values need not be read.
        """
        kept = self._values.get(key)
        return kept is not None and all(_OTHER in kept.get(s.column, ()) for s in slots)

    def _bounded(self, key: VersionKey, values: list[Written]) -> frozenset[Facet]:
        """The value facets of ``values``, past VALUE_LIMIT constants per column as OTHER."""
        kept = self._values.setdefault(key, {})
        out: set[Facet] = set()
        for column, value in values:
            known = kept.setdefault(column, {})
            facet = known.get(value) if value is not None else None
            if facet is None:
                if value is not None and len(known) - (_OTHER in known) < VALUE_LIMIT:
                    [facet] = value_facets([(column, value)])
                    if facet.kind is FacetKind.WRITE_VALUE:
                        known[value] = facet
                else:
                    facet = known[_OTHER] = Facet(FacetKind.WRITE_OTHER, column)
            out.add(facet)
        return frozenset(out)

    async def _result_facets(
        self,
        database: str,
        slog: StatementLog,
        sql: str,
        when: float,
        *,
        prepared_only: bool,
        deadline: float | None = None,
    ) -> frozenset[Facet]:
        cache = self._caches.setdefault(database, _DatabaseCache())
        found = cache.results.get((slog.names, sql))
        if found is not None:
            return found
        catalog = await self._catalog(database, slog.user, read_after=when, deadline=deadline)
        if catalog is None:
            return frozenset()
        read = functools.partial(
            result_facets,
            sql,
            search_path=slog.search_path,
            catalog=catalog,
            user=slog.user,
            prepared_only=prepared_only,
            temporary=slog.temporary,
        )
        found = await for_text(len(sql), read)
        if len(cache.results) >= EXACT_CACHE_LIMIT:
            cache.results.clear()
        cache.results[(slog.names, sql)] = found
        return found

    async def _facets(
        self,
        database: str,
        slog: StatementLog,
        sql: str,
        literal: str,
        count: int,
        when: float,
        deadline: float | None = None,
    ) -> _Learned | None:
        """Analyse one text the caches do not answer (the caller tried them first);
        ``literal``: its ``literal_key``."""
        user, names = slog.user, slog.names
        cache = self._caches.setdefault(database, _DatabaseCache())
        lkey = (names, literal)
        shared = cache.by_literal.get(lkey)
        # read after the text ran: a snapshot from before a schema change it relies on
        # leaves out what it names that the snapshot does not know (a new type cast to
        # names nothing missing) -- the refresh costs one query while nothing changed
        catalog = await self._catalog(database, user, read_after=when, deadline=deadline)
        if catalog is None:  # the database was dropped: its texts will never run again
            self._metrics.analysis_failures.labels("catalog").inc(count)
            return None
        result = await _analysed(sql, names, catalog, user)
        self._metrics.statements_analyzed.inc()
        if result.error is not None:
            self._metrics.analysis_failures.labels(result.error).inc(count)
        # Constants written: fixed in this text, unless the marked shape says where they are.
        learned = _Learned(result.facets, tuple(Slot(c, static=v) for c, v in result.values))
        if shared is None and result.error is None:
            marked = await for_text(len(sql), functools.partial(marked_key, sql))
            generic = await _analysed(marked, names, catalog, user)
            slots = slots_of(generic.values)
            values = await for_text(len(sql), functools.partial(values_of, sql, slots))
            if generic.facets == result.facets and values == list(result.values):
                learned = _Learned(result.facets, slots)
                cache.by_literal[lkey] = learned
            else:
                cache.by_literal[lkey] = _SENSITIVE
        if len(cache.exact) >= EXACT_CACHE_LIMIT:
            cache.exact.clear()
        cache.exact[(names, sql)] = learned
        await asyncio.sleep(0)  # let the relay run between analyses
        return learned

    async def _catalog(
        self,
        database: str,
        user: str,
        *,
        read_after: float | None = None,
        deadline: float | None = None,
    ) -> CatalogSnapshot | None:
        """A snapshot, read at or after ``read_after`` when given.

        None when the database no longer exists. Raises ``_Postponed`` when there
        is no such snapshot now (the deadline came first, or the server refused
        the read: a restart, a connection limit, connections not allowed): an
        older one may lack what a text ran after it relies on (a type or table
        created just before), and would record the text as using nothing of it.
        """
        timeout = None if deadline is None else _remaining(deadline)
        # for a decision, a load that failed recently is worth another try (its own read
        # of the catalog may be under way); a periodic flush leaves it to a later one
        snapshot, _ = await self._catalogs.get(
            database,
            user,
            newer_than=read_after,
            timeout=timeout,
            retry=deadline is not None,
            only_newer=True,
        )
        if snapshot is None:
            if self._catalogs.gone(database):
                return None
            raise _Postponed
        if snapshot is not self._seen.get(database):
            # the cache keeps an unchanged schema's snapshot object: a new one is a new schema
            self._seen[database] = snapshot
            self._caches.setdefault(database, _DatabaseCache()).clear()
        return snapshot

    async def _publish_before(self, deadline: float) -> None:
        """For another proxy or worker about to decide: what is queued written, then the
        heartbeat (which versions are live here now), until ``deadline`` at most. It
        judges a version with no open connection without the statements it keeps
        prepared, so one that connected here since the last beat must show as live."""
        await self._write_before(deadline)
        try:
            async with asyncio.timeout(_remaining(deadline)):
                await self.heartbeat()
        except TimeoutError:
            log.info("heartbeat not written before the decision's deadline")

    async def _write_before(self, deadline: float) -> None:
        """Write what is queued, waiting until ``deadline`` at most (the write goes on)."""
        if not self._unwritten:
            return
        writer = self._writer
        if writer is None or writer.done():
            writer = self._writer = asyncio.ensure_future(self._write())
        try:
            async with asyncio.timeout(_remaining(deadline)):
                await asyncio.shield(writer)
        except TimeoutError:
            log.info("footprints not written before the decision's deadline (kept queued)")

    async def _write(self) -> bool:
        """Write pending batches in order; False (and the rest kept) when the store fails."""
        async with self._write_lock:
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

    async def heartbeat(self) -> None:
        """Tell proxies sharing the store which versions are live here; failures only count.

        Also how they know this proxy is a peer to ask before a decision (peers.py),
        so it runs once before the proxy accepts its first client."""
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


#: Of the time shutdown gives the last flush, the part analysis may take (the rest writes).
FINAL_ANALYSIS_SHARE = 0.5

#: Texts longer than this are analysed in a worker thread: a long text (a script of a
#: hundred statements) would otherwise hold the event loop, and every session and
#: decision with it, for tens of milliseconds.
ANALYSE_IN_THREAD_CHARS = 1000


async def _analysed(sql: str, names: Names, catalog: CatalogSnapshot, user: str) -> Analysis:
    path, temporary, shapes = names
    run = functools.partial(
        analyze,
        sql,
        search_path=path,
        catalog=catalog,
        user=user,
        temporary=temporary,
        temporary_like=shapes,
    )
    if len(sql) <= ANALYSE_IN_THREAD_CHARS:
        return run()
    return await in_thread(run)


def _wanted(slog: StatementLog) -> bool:
    """A log a decision needs analysed: a tagged session's, with texts in it."""
    return bool(slog.key.app) and bool(slog.counts or slog.named)


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise _Postponed


def _has_missing(facets: frozenset[Facet]) -> bool:
    return any(f.kind in MISSING_KINDS for f in facets)
