"""Pure work that grows with the catalog or with a statement's text: on the event
loop while it is small, in a worker thread once it is not.

A worker-thread hop costs two wake-ups (the thread's, then the loop's), each
waiting for a core on a busy host: on a small schema that is more than the
work itself, and a decision makes several. On a large one the work could hold
the loop (every session's traffic) for milliseconds, so it leaves the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Below this many relations, the work stays on the loop (well under a millisecond).
INLINE_BELOW = 200
#: A text longer than this is read, modelled and searched in a worker thread: one
#: 900 kB DDL statement took 1.5 s to read and 3 s to model, every session waiting.
LONG_TEXT = 8192


async def sized(relations: int, work: Callable[[], T]) -> T:
    """``work()``, run where it costs least for a catalog of ``relations`` relations."""
    if relations < INLINE_BELOW:
        return work()
    return await asyncio.to_thread(work)


async def for_text(chars: int, work: Callable[[], T]) -> T:
    """``work()`` on a text of ``chars`` characters, where it costs least."""
    if chars <= LONG_TEXT:
        return work()
    return await asyncio.to_thread(work)
