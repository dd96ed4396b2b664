"""Connection scale: many idle client connections held open at once.

One asyncio (uvloop) process opens N asyncpg connections, runs one query on
each, and holds them all while the server's resident memory (with its workers')
is read from /proc/PID/status; the growth divided by N is the memory an idle
connection costs.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
import uvloop

from bench.targets import DATABASE, USER, Endpoint, raise_nofile_limit, tree_rss_kib

#: Connections being opened at once (PostgreSQL forks a backend for each).
OPEN_CONCURRENCY = 64


@dataclass(slots=True)
class ScaleResult:
    target: str
    connections: int
    opened: int
    queried: int
    errors: int
    first_error: str
    open_seconds: float
    query_seconds: float
    rss_before_kib: int | None = None
    rss_after_kib: int | None = None

    @property
    def rss_per_connection_kib(self) -> float | None:
        if self.rss_before_kib is None or self.rss_after_kib is None or not self.opened:
            return None
        return (self.rss_after_kib - self.rss_before_kib) / self.opened

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rss_per_connection_kib"] = self.rss_per_connection_kib
        data["connections_per_second"] = (
            self.opened / self.open_seconds if self.open_seconds else None
        )
        return data


async def _connect(target: Endpoint, gate: asyncio.Semaphore) -> asyncpg.Connection:
    async with gate:
        return await asyncpg.connect(
            host=target.host,
            port=target.port,
            user=USER,
            database=DATABASE,
            ssl=False,
            timeout=60,
            statement_cache_size=0,
        )


async def _hold(target: Endpoint, count: int, measure_pid: int | None) -> ScaleResult:
    # Warm-up: a few connections so one-time costs (imports, caches) are not counted.
    warm = [await _connect(target, asyncio.Semaphore(1)) for _ in range(4)]
    for conn in warm:
        await conn.fetchval("SELECT 1")
        await conn.close()
    await asyncio.sleep(0.5)
    before = tree_rss_kib(measure_pid) if measure_pid else None

    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(_connect(target, gate) for _ in range(count)), return_exceptions=True
    )
    open_seconds = time.perf_counter() - started
    connections = [c for c in outcomes if isinstance(c, asyncpg.Connection)]
    errors = [e for e in outcomes if isinstance(e, BaseException)]

    started = time.perf_counter()
    answers = await asyncio.gather(
        *(c.fetchval("SELECT 1") for c in connections), return_exceptions=True
    )
    query_seconds = time.perf_counter() - started
    queried = sum(1 for a in answers if a == 1)
    errors += [a for a in answers if isinstance(a, BaseException)]

    await asyncio.sleep(0.5)
    after = tree_rss_kib(measure_pid) if measure_pid else None
    await asyncio.gather(*(c.close(timeout=10) for c in connections), return_exceptions=True)
    return ScaleResult(
        target=target.name,
        connections=count,
        opened=len(connections),
        queried=queried,
        errors=len(errors),
        first_error=repr(errors[0])[:300] if errors else "",
        open_seconds=open_seconds,
        query_seconds=query_seconds,
        rss_before_kib=before,
        rss_after_kib=after,
    )


def hold_connections(target: Endpoint, count: int, *, measure_rss: bool) -> ScaleResult:
    """Open ``count`` connections to ``target``, query each once, hold them, close them."""
    raise_nofile_limit()
    gc.collect()
    pid = target.pid if measure_rss else None
    return uvloop.run(_hold(target, count, pid))
