"""Audited decisions, written in their order and in batches, off the decision path.

Writing one audit entry costs a worker-thread hop and a transaction of the state
store, and shaping its statements (no literal values leave the proxy) costs a
regex pass: together more than a screened decision itself. A decision hands over
how to build its entry and goes on; one writer at a time takes everything
queued, builds and writes it in one worker-thread call, so the order of the
entries is the order of the decisions. The writer lingers a moment for more
(a migration's statements come one at a time), unless a caller waits for its
entry to be written (a decision whose client may read the audit back). An entry the store refuses
is logged with its content (the decision stands; the audit failure is loud).
Shutdown waits for the queue (``settle``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from skewguard.observe.metrics import ProxyMetrics
from skewguard.store import StateStore

log = logging.getLogger("skewguard.guard")

#: Entries written in one store call at most (a burst is written in several).
BATCH_LIMIT = 500
#: How long the writer waits for more entries before it writes (nobody waiting).
LINGER = 0.05

#: Builds one audit entry (JSON-ready); called in a worker thread.
Entry = Callable[[], dict[str, Any]]


class AuditQueue:
    def __init__(self, store: StateStore, metrics: ProxyMetrics) -> None:
        self._store = store
        self._metrics = metrics
        self._queued: list[tuple[Entry, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._now = asyncio.Event()  # someone waits: write without lingering

    def add(self, entry: Entry, *, wait: bool = False) -> asyncio.Future[None]:
        """Queue ``entry`` (built in a worker thread, in order); the future is done once it
        is written (or its failure logged). ``wait``: the caller awaits it, write now."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        self._queued.append((entry, written))
        if wait:
            self._now.set()
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write())
        return written

    async def settle(self, timeout: float) -> None:
        """Let what is queued be written (before the store closes)."""
        writer = self._writer
        if writer is not None and not writer.done():
            self._now.set()
            await asyncio.wait({writer}, timeout=timeout)

    async def _write(self) -> None:
        while self._queued:
            if not self._now.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._now.wait(), LINGER)
            self._now.clear()
            batch = self._queued[:BATCH_LIMIT]
            del self._queued[:BATCH_LIMIT]
            entries, failure = await asyncio.to_thread(self._record, [e for e, _ in batch])
            if failure is not None:  # the decisions stand; the audit failure is loud
                self._metrics.state_errors.inc()
                for entry in entries:
                    log.error("could not audit a DDL decision: %s", failure, extra={"entry": entry})
            for _, written in batch:
                if not written.done():
                    written.set_result(None)

    def _record(self, built: list[Entry]) -> tuple[list[dict[str, Any]], Exception | None]:
        """Build and write ``built`` (in a worker thread): the entries, and why they could
        not be written."""
        entries = [build() for build in built]
        try:
            self._store.record_decisions(entries)
        except Exception as exc:
            return entries, exc
        return entries, None
