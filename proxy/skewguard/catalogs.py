"""Catalog snapshots per database, kept current through bounded side connections.

Each database has one side connection, kept open, straight to the upstream
with the service credentials of the upstream URL (the client's own user when
the URL names none), never through the proxy (``side_connection.connect_side``:
lock and statement timeouts, ``jit=off``). A snapshot is reused until it is
older than ``max_age`` or a caller needs one read after a given moment; then
a cheap test (``catalog_marker``) says whether the catalog changed since it
was read, and only then is it read again. A failed load keeps the last good
snapshot. Times are wall-clock (``time.time()``), comparable with when a
statement was observed: a snapshot found unchanged counts as read at the
moment of the test.

Loads of one database run one at a time (a per-database lock) and are shared:
a caller joins the load in progress when it started late enough, else the one
queued behind it, so a burst of callers costs at most two loads. A caller with
a ``timeout`` stops waiting and gets the last good snapshot; the load goes on
for the others. A refresh that finds nothing changed returns the snapshot
itself, so ``is`` tells a consumer whether the schema changed (without
comparing two large snapshots on the event loop).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import Literal

import asyncpg

from skewguard.catalog import CatalogSnapshot
from skewguard.catalog_refresh import Current, load, refresh
from skewguard.config import Upstream
from skewguard.side_connection import SIDE_ERRORS, close_side, connect_side, ssl_option

log = logging.getLogger("skewguard.catalog")

#: A failed load is not retried for this long (callers get the last good snapshot).
RETRY_AFTER = 1.0

_Result = tuple[CatalogSnapshot | None, bool]


@dataclass(slots=True)
class _Entry:
    snapshot: CatalogSnapshot
    loaded_at: float


@dataclass(slots=True)
class _Slot:
    """One database: its last good snapshot and the loads in progress or queued."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    entry: _Entry | None = None
    running: asyncio.Task[_Result] | None = None
    running_since: float = 0.0  # wall-clock start of the running load
    queued: asyncio.Task[_Result] | None = None  # starts when the running one ends
    failed_at: float | None = None  # start of the last load that failed
    gone: bool = False  # the last load failed because the database does not exist
    conn: asyncpg.Connection | None = None  # kept open between loads
    current: Current | None = None  # the snapshot in ``entry``, its marker and book

    def last_good(self) -> _Result:
        return (self.entry.snapshot if self.entry else None), False


class CatalogCache:
    def __init__(
        self,
        upstream: Upstream,
        *,
        max_age: float = 30.0,
        lock_timeout_ms: int = 1000,
        statement_timeout_ms: int = 30_000,
        connect_timeout: float = 10.0,
    ) -> None:
        self.upstream = upstream
        self._max_age = max_age
        self._lock_timeout_ms = lock_timeout_ms
        self._statement_timeout_ms = statement_timeout_ms
        self._connect_timeout = connect_timeout
        self._slots: dict[str, _Slot] = {}

    def ssl_option(self) -> ssl.SSLContext | Literal[False, "prefer"]:
        """Kept for callers not yet on ``side_connection.connect_side``."""
        return ssl_option(self.upstream)

    async def close(self) -> None:
        """Close the kept side connections (a later load opens a new one)."""
        for slot in self._slots.values():
            async with slot.lock:
                await _drop(slot)

    def gone(self, database: str) -> bool:
        """Whether the last load of ``database`` failed because it does not exist (what
        waits to be analysed against it never will be; any other failure may pass)."""
        slot = self._slots.get(database)
        return slot is not None and slot.gone

    def cached(self, database: str) -> CatalogSnapshot | None:
        """The last good snapshot, whatever its age (no load)."""
        slot = self._slots.get(database)
        return slot.entry.snapshot if slot and slot.entry else None

    async def get(
        self,
        database: str,
        user: str,
        *,
        newer_than: float | None = None,
        timeout: float | None = None,
        retry: bool = False,
        only_newer: bool = False,
    ) -> tuple[CatalogSnapshot | None, bool]:
        """(snapshot or None, whether it changed since the previous load).

        ``newer_than``: reload unless the snapshot was read at or after that
        time. ``timeout``: seconds to wait at most, for the per-database lock
        and the load together; past it, the last good snapshot (or None) comes
        back and the load carries on for other callers. ``retry``: a load that
        failed less than ``RETRY_AFTER`` ago is tried again (joining one under
        way) rather than answered with the last good snapshot. ``only_newer``:
        None rather than a last good snapshot read before ``newer_than`` (after
        a load that failed or outlasted ``timeout``).
        """
        found = await self._get(database, user, newer_than, timeout, retry)
        if (
            only_newer
            and newer_than is not None
            and not self._read_since(database, found[0], newer_than)
        ):
            return None, False
        return found

    def _read_since(self, database: str, snapshot: CatalogSnapshot | None, moment: float) -> bool:
        """Whether ``snapshot`` is ``database``'s last good one, read (or found unchanged)
        at or after ``moment``."""
        entry = self._slots[database].entry
        return entry is not None and entry.snapshot is snapshot and entry.loaded_at >= moment

    async def _get(
        self,
        database: str,
        user: str,
        newer_than: float | None,
        timeout: float | None,
        retry: bool,
    ) -> _Result:
        slot = self._slots.setdefault(database, _Slot())
        entry = slot.entry
        now = time.time()
        if entry is not None:
            young = now - entry.loaded_at < self._max_age
            if young and (newer_than is None or entry.loaded_at >= newer_than):
                return entry.snapshot, False
        if slot.failed_at is not None and slot.running is None and not retry:
            # a load that failed recently (after the moment asked for) is the best there is
            recent = now - slot.failed_at < RETRY_AFTER
            if recent and (newer_than is None or slot.failed_at >= newer_than):
                return slot.last_good()
        task = self._join(slot, database, user, newer_than)
        if timeout is None:
            return await asyncio.shield(task)
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                return await asyncio.shield(task)
        except TimeoutError:
            if task.done() and not task.cancelled() and task.exception() is None:
                return task.result()
            log.info("catalog of %s not read within %.1fs: using the last one", database, timeout)
            return slot.last_good()

    def _join(
        self, slot: _Slot, database: str, user: str, newer_than: float | None
    ) -> asyncio.Task[_Result]:
        running = slot.running
        if running is not None and (newer_than is None or slot.running_since >= newer_than):
            return running
        if slot.queued is None:
            slot.queued = asyncio.ensure_future(self._run(slot, database, user))
            slot.queued.add_done_callback(_retrieve)
        return slot.queued

    async def _run(self, slot: _Slot, database: str, user: str) -> _Result:
        async with slot.lock:
            me = slot.queued
            slot.queued = None  # later callers queue a new load behind this one
            slot.running, slot.running_since = me, time.time()
            started = slot.running_since
            try:
                snapshot = await self._refresh(slot, database, user)
            finally:
                slot.running = None
            if snapshot is None:
                slot.failed_at = started
                return slot.last_good()
            slot.failed_at, slot.gone = None, False
            entry = slot.entry
            if entry is not None and entry.snapshot is snapshot:
                entry.loaded_at = started  # the same schema: the same object
                return entry.snapshot, False
            slot.entry = _Entry(snapshot, started)
            return snapshot, entry is not None

    async def _refresh(self, slot: _Slot, database: str, user: str) -> CatalogSnapshot | None:
        """The current snapshot: the kept one when unchanged, else a new read; None on failure.

        A kept connection the server has closed since (idle timeout, restart),
        or one it ends during the read (pg_terminate_backend, a failover), is
        replaced once.
        """
        for attempt in range(2):
            reused = slot.conn is not None
            try:
                if slot.conn is None:
                    slot.conn = await connect_side(
                        self.upstream,
                        database=database,
                        user=user,
                        application_name="skewguard-catalog",
                        lock_timeout_ms=self._lock_timeout_ms,
                        statement_timeout_ms=self._statement_timeout_ms,
                        connect_timeout=self._connect_timeout,
                    )
                # the server bounds each statement; this bounds a server that stopped answering
                limit = self._statement_timeout_ms / 1000 + self._connect_timeout
                async with asyncio.timeout(limit):
                    return await self._current(slot, slot.conn)
            except SIDE_ERRORS as exc:
                # ended under the read: the error may be the transaction's exit on a closed
                # connection ("the underlying connection is closed"), not the server's
                lost = slot.conn is not None and (reused or slot.conn.is_closed())
                await _drop(slot)
                slot.gone = isinstance(exc, asyncpg.InvalidCatalogNameError)
                if not lost or attempt:  # warned once per outage: what waits retries it
                    level = logging.WARNING if slot.failed_at is None else logging.DEBUG
                    log.log(level, "cannot read the catalog of %s: %s", database, exc)
                    return None
        return None

    async def _current(self, slot: _Slot, conn: asyncpg.Connection) -> CatalogSnapshot:
        kept = slot.current
        slot.current = await (load(conn) if kept is None else refresh(conn, kept))
        return slot.current.snapshot


async def _drop(slot: _Slot) -> None:
    """Forget the slot's connection (closed politely when it answers)."""
    conn, slot.conn = slot.conn, None
    if conn is not None:
        await close_side(conn)


def _retrieve(task: asyncio.Task[_Result]) -> None:
    """A load nobody waits for any more must not log 'exception never retrieved'."""
    if not task.cancelled() and task.exception() is not None:
        log.error("catalog load failed", exc_info=task.exception())
