"""Pure work that grows with the catalog or with a statement's text: on the event
loop while it is small, in a worker thread once it is not.

A worker-thread hop costs two wake-ups (the thread's, then the loop's), each
waiting for a core on a busy host: on a small schema that is more than the
work itself, and a decision makes several. On a large one the work could hold
the loop (every session's traffic) for milliseconds, so it leaves the loop.

The threads are daemon threads of their own pool, not asyncio's default executor:
pure work (reading, modelling, analysing a text) changes nothing outside it, so the
process need not wait for it to end. A tagged session's text of tens of thousands of
statements took longer to analyse than an orchestrator's grace period, and the exit
joined the thread: SIGKILL, and every footprint not yet written was lost.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")

#: Below this many relations, the work stays on the loop (well under a millisecond).
INLINE_BELOW = 200
#: A text longer than this is read, modelled and searched in a worker thread: one
#: 900 kB DDL statement took 1.5 s to read and 3 s to model, every session waiting.
LONG_TEXT = 8192
#: Threads of the pool, at most (as many as asyncio's default executor has).
POOL_THREADS = min(32, (os.cpu_count() or 1) + 4)


class DaemonPool(Executor):
    """Up to ``threads`` daemon threads, started as work comes, that never hold the exit."""

    def __init__(self, threads: int) -> None:
        self._limit = threads
        self._threads = 0
        self._idle = 0
        self._lock = threading.Lock()
        self._work: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]]] = queue.SimpleQueue()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self._work.put((future, lambda: fn(*args, **kwargs)))
        with self._lock:  # an idle thread takes it, else a new one while under the limit
            start = self._idle == 0 and self._threads < self._limit
            self._threads += start
        if start:
            threading.Thread(target=self._serve, name="skewguard-offload", daemon=True).start()
        return future

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            future, work = self._work.get()
            with self._lock:
                self._idle -= 1
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(work())
                except BaseException as exc:  # the awaiting coroutine re-raises it
                    future.set_exception(exc)


_POOL = DaemonPool(POOL_THREADS)


async def in_thread(work: Callable[[], T]) -> T:
    """``work()`` in one of the pool's threads; the exit does not wait for it."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, work)


async def sized(relations: int, work: Callable[[], T]) -> T:
    """``work()``, run where it costs least for a catalog of ``relations`` relations."""
    if relations < INLINE_BELOW:
        return work()
    return await in_thread(work)


async def for_text(chars: int, work: Callable[[], T]) -> T:
    """``work()`` on a text of ``chars`` characters, where it costs least."""
    if chars <= LONG_TEXT:
        return work()
    return await in_thread(work)
