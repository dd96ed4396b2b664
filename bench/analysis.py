"""Analysis micro-benchmark: cost of one cache-miss ``analyze()`` call.

``skewguard.analysis.analyze(sql, catalog=..., search_path=..., user=...)`` is
pure (parse with pglast, walk, resolve against a catalog snapshot) and keeps no
cache of its own: any cache sits in front of it, so every call timed here is a
miss. The catalog is loaded once from the benchmark database (the pgbench
tables) with ``skewguard.catalog.load_catalog``. Each result is checked (no
``error``, some facets) so a failing analysis cannot pass for a fast one.

If ``skewguard.analysis`` stops exporting ``analyze`` (or its signature moves
on), this step reports itself as skipped or errored instead of failing the run.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import statistics
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from bench.targets import DATABASE, USER, Endpoint

#: Realistic statements against the pgbench schema: OLTP reads and writes, joins,
#: CTEs, upserts, DDL-free. Each is analysed as its own text.
QUERIES: tuple[str, ...] = (
    "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
    "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
    "VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
    "SELECT a.aid, a.abalance, b.bbalance FROM pgbench_accounts a "
    "JOIN pgbench_branches b ON b.bid = a.bid WHERE a.aid = ANY($1::int[]) ORDER BY a.aid",
    "WITH recent AS (SELECT aid, sum(delta) AS total FROM pgbench_history "
    "WHERE mtime > now() - interval '1 hour' GROUP BY aid) "
    "SELECT a.aid, a.abalance, r.total FROM pgbench_accounts a JOIN recent r USING (aid) "
    "WHERE r.total > $1 LIMIT 50",
    "INSERT INTO pgbench_branches (bid, bbalance, filler) VALUES ($1, 0, '') "
    "ON CONFLICT (bid) DO UPDATE SET bbalance = pgbench_branches.bbalance + EXCLUDED.bbalance "
    "RETURNING bid, bbalance",
    "SELECT t.tid, count(*) AS n, max(h.mtime) FROM pgbench_tellers t "
    "LEFT JOIN pgbench_history h ON h.tid = t.tid GROUP BY t.tid HAVING count(*) > 10",
    "DELETE FROM pgbench_history WHERE mtime < $1 RETURNING *",
    "SELECT * FROM pgbench_accounts WHERE bid = $1 AND aid BETWEEN $2 AND $3 FOR UPDATE",
    "UPDATE pgbench_tellers t SET tbalance = t.tbalance + s.delta FROM "
    "(SELECT tid, sum(delta) AS delta FROM pgbench_history GROUP BY tid) s WHERE s.tid = t.tid",
)


def _load_analyze() -> tuple[Callable[..., Any] | None, str]:
    try:
        module = importlib.import_module("skewguard.analysis")
        analyze = module.analyze
    except (ImportError, AttributeError) as exc:
        return None, f"skewguard.analysis.analyze is not importable yet ({exc})"
    return analyze, ""


async def _catalog(target: Endpoint) -> Any:
    from skewguard import catalog

    conn = await asyncpg.connect(
        host=target.host, port=target.port, user=USER, database=DATABASE, ssl=False
    )
    try:
        return await catalog.load_catalog(conn)
    finally:
        await conn.close()


def _adapter(analyze: Callable[..., Any], target: Endpoint) -> Callable[[str], Any]:
    """Call analyze(sql) with whatever context its signature asks for."""
    params = inspect.signature(analyze).parameters
    kwargs: dict[str, Any] = {}
    if "catalog" in params:
        kwargs["catalog"] = asyncio.run(_catalog(target))
    if "search_path" in params:
        kwargs["search_path"] = ("$user", "public")
    if "user" in params:
        kwargs["user"] = USER
    return lambda sql: analyze(sql, **kwargs)


def _cache_clearer(analyze: Callable[..., Any]) -> Callable[[], None]:
    clear = getattr(analyze, "cache_clear", None)
    if clear is None:
        module = importlib.import_module("skewguard.analysis")
        clear = getattr(module, "clear_cache", None)
    return clear if callable(clear) else (lambda: None)


def run(target: Endpoint, repeats: int = 200) -> dict[str, Any]:
    """µs per cache-miss analyze() call on each query (median of ``repeats``), or why not."""
    analyze, reason = _load_analyze()
    if analyze is None:
        return {"status": "skipped", "reason": reason}
    try:
        call = _adapter(analyze, target)
        clear = _cache_clearer(analyze)
        per_query: dict[str, float] = {}
        facets: dict[str, int] = {}
        problems: dict[str, str] = {}
        for sql in QUERIES:
            result = call(sql)  # warm the interpreter paths once
            error = getattr(result, "error", None)
            facets[sql] = len(getattr(result, "facets", ()))
            if error or not facets[sql]:
                problems[sql] = str(error or "no facets")
            samples: list[float] = []
            for _ in range(repeats):
                clear()
                started = time.perf_counter_ns()
                call(sql)
                samples.append((time.perf_counter_ns() - started) / 1000)
            per_query[sql] = statistics.median(samples)
    except Exception as exc:  # the API may have moved on: report, don't crash the run
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    values = list(per_query.values())
    return {
        "status": "ok" if not problems else "suspect",
        "reason": f"{len(problems)} queries came back with errors" if problems else "",
        "repeats": repeats,
        "queries": len(values),
        "us_per_query_median": statistics.median(values),
        "us_per_query_mean": statistics.fmean(values),
        "us_per_query_max": max(values),
        "per_query_us": per_query,
        "facets_per_query": facets,
        "problems": problems,
    }
