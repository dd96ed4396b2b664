"""What the guard adds to DDL: latency per statement and a migration replay, proxy vs direct.

``python -m bench.ddl`` (or ``python -m bench --only ddl``) on a throwaway
cluster, with a fresh ``skewguard run`` in enforce mode in front of it:

- **latency per DDL statement**: in a database with a small schema (20 tables)
  and in one with 10,000 relations (5,000 tables, each with its primary key
  index), 10 tagged versions (``shop@1.N``) stay connected through the proxy
  and read some of the tables, so they are protected. Then an untagged
  connection sends a cycle of allowed statements (CREATE TABLE, ADD COLUMN to a
  table the versions read, CREATE INDEX, DROP of the added column), one at a
  time in autocommit, first straight to PostgreSQL and then through the proxy
  (distinct object names); p50/p95 of each.
- **replay**: a migration tool's session, one statement at a time: create ~500
  tables (primary key, foreign key to the previous one, CHECK, default, an
  index; a view on every fifth), then alter each (ADD COLUMN, ADD CHECK, a
  unique index, SET DEFAULT, a replaced view). Run in a fresh database
  directly and in another through the proxy (where 10 versions read a table of
  their own); total wall time of each, and the proxy's CPU per statement.
- **reads during the replay**: ``pgbench -S`` (prepared, 4 clients) through the
  proxy on other connections (the ``bench`` database), alone and while the
  replay runs through the proxy in a third database: p99 of each.
- **samples** (value replay, #14): 10 versions each send 20 distinct prepared
  statements touching ``ledger`` (1, then 4 values each); an untagged
  connection adds and drops a CHECK on ``ledger`` in autocommit (each sample
  replayed before and after, in the proxy's trial transaction): p50 of the
  ADD. And the COMMIT of ``BEGIN; ALTER TABLE unused ...; COMMIT``, which
  nothing sampled touches: p50, proxy vs direct.

Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from bench import report
from bench.pgbench import Cell, initialise, percentile, run_cell
from bench.targets import (
    HOST,
    USER,
    Endpoint,
    cpu_seconds,
    pick_install,
    start_postgres,
    start_skewguard,
    tool_path,
)

VERSIONS = 10
SMALL_TABLES = 20
LARGE_TABLES = 5000  # with their primary key indexes: 10,000 relations
REPLAY_TABLES = 500
STATEMENTS = 200  # per target and database in the latency test
_BATCH = 200  # tables created per transaction (locks per transaction are bounded)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _connect(port: int, database: str, app: str | None = None) -> asyncpg.Connection:
    settings = {"application_name": app} if app else {}
    return await asyncpg.connect(
        host=HOST, port=port, user=USER, database=database, server_settings=settings
    )


async def _create_databases(pg_port: int, *names: str) -> None:
    setup = await _connect(pg_port, "postgres")
    try:
        for name in names:
            await setup.execute(f"CREATE DATABASE {name}")
    finally:
        await setup.close()


async def _tables(conn: asyncpg.Connection, count: int) -> None:
    for start in range(0, count, _BATCH):
        async with conn.transaction():
            await conn.execute(
                "\n".join(
                    f"CREATE TABLE t{i} (id int PRIMARY KEY, a int, b text);"
                    for i in range(start, min(count, start + _BATCH))
                )
            )


async def _protect(
    proxy_port: int, admin: str, database: str, tables: list[str]
) -> list[asyncpg.Connection]:
    """VERSIONS tagged connections through the proxy, each reading columns of ``tables``."""
    held = []
    for n in range(VERSIONS):
        conn = await _connect(proxy_port, database, f"shop@1.{n}")
        for table in tables:
            await conn.fetch(f"SELECT id, a FROM {table} WHERE id = {n}")
        held.append(conn)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the proxy has learned them all
        with urllib.request.urlopen(admin + "/api/versions", timeout=5) as response:
            rows = json.load(response)["versions"]
        learned = {r["version"] for r in rows if r["database"] == database and r["facets"]}
        if len(learned) >= VERSIONS:
            break
        await asyncio.sleep(0.2)
    return held


def _cycle(tag: str, i: int) -> list[str]:
    """Four allowed statements: what a migration does to new and to used tables."""
    used = f"t{i % VERSIONS}"
    return [
        f"CREATE TABLE ddl_{tag}_{i} (id int PRIMARY KEY, v text)",
        f"ALTER TABLE {used} ADD COLUMN x_{tag}_{i} int",
        f"CREATE INDEX ix_{tag}_{i} ON ddl_{tag}_{i} (v)",
        f"ALTER TABLE {used} DROP COLUMN x_{tag}_{i}",
    ]


async def _timed(conn: asyncpg.Connection, statements: list[str]) -> list[float]:
    out = []
    for sql in statements:
        started = time.perf_counter()
        await conn.execute(sql)
        out.append((time.perf_counter() - started) * 1000)
    return out


async def _catalog_backends(pg_port: int, database: str) -> list[int]:
    """The server processes of the proxy's catalog side connections to ``database``."""
    conn = await _connect(pg_port, "postgres")
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = 'skewguard-catalog' AND datname = $1",
            database,
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


async def latency(
    pg_port: int,
    proxy_port: int,
    admin: str,
    database: str,
    tables: int,
    statements: int,
    proxy_pid: int,
) -> dict[str, Any]:
    """p50/p95 of allowed DDL statements, straight and through the proxy; and the CPU
    per statement of the proxy and of its catalog connection's server process (what
    the load on the machine cannot stretch)."""
    await _create_databases(pg_port, database)
    conn = await _connect(pg_port, database)
    try:
        await _tables(conn, tables)
        relations = await conn.fetchval(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        )
    finally:
        await conn.close()
    held = await _protect(proxy_port, admin, database, [f"t{n}" for n in range(VERSIONS)])
    try:
        results: dict[str, Any] = {"relations": relations, "versions": VERSIONS}
        for target, port in (("direct", pg_port), ("skewguard", proxy_port)):
            texts = [s for i in range(statements // 4) for s in _cycle(target[:3], i)]
            migration = await _connect(port, database)
            try:
                await _timed(migration, _cycle(target[:3] + "w", 0))  # warm-up
                backends = await _catalog_backends(pg_port, database)
                proxy_cpu, catalog_cpu = cpu_seconds(proxy_pid), _cpu(backends)
                times = await _timed(migration, texts)
                proxy_cpu = cpu_seconds(proxy_pid) - proxy_cpu
                catalog_cpu = _cpu(backends) - catalog_cpu
            finally:
                await migration.close()
            results[target] = {
                "statements": len(times),
                "p50_ms": round(_percentile(times, 0.5), 2),
                "p95_ms": round(_percentile(times, 0.95), 2),
                "mean_ms": round(statistics.fmean(times), 2),
            }
            if target == "skewguard":
                results[target]["proxy_cpu_ms"] = round(proxy_cpu * 1000 / len(times), 3)
                results[target]["catalog_cpu_ms"] = round(catalog_cpu * 1000 / len(times), 3)
    finally:
        for conn in held:
            await conn.close()
    results["added_p50_ms"] = round(results["skewguard"]["p50_ms"] - results["direct"]["p50_ms"], 2)
    results["added_p95_ms"] = round(results["skewguard"]["p95_ms"] - results["direct"]["p95_ms"], 2)
    return results


def replay_script(tables: int) -> list[str]:
    """A migration history: build ~``tables`` tables with their objects, then alter them."""
    out: list[str] = []
    for i in range(tables):
        parent = f", parent bigint REFERENCES r{i - 1} (id)" if i else ""
        out.append(
            f"CREATE TABLE r{i} (id bigint PRIMARY KEY{parent}, name text NOT NULL,"
            f" qty int CHECK (qty >= 0), created timestamptz DEFAULT now())"
        )
        out.append(f"CREATE INDEX r{i}_name ON r{i} (name)")
        if i % 5 == 0:
            out.append(f"CREATE VIEW v{i} AS SELECT id, name FROM r{i} WHERE qty > 0")
    for i in range(tables):
        out.append(f"ALTER TABLE r{i} ADD COLUMN note text")
        out.append(f"ALTER TABLE r{i} ADD CONSTRAINT r{i}_name_len CHECK (length(name) < 200)")
        out.append(f"CREATE UNIQUE INDEX r{i}_name_created ON r{i} (name, created)")
        out.append(f"ALTER TABLE r{i} ALTER COLUMN note SET DEFAULT ''")
        if i % 5 == 0:
            out.append(
                f"CREATE OR REPLACE VIEW v{i} AS SELECT id, name, note FROM r{i} WHERE qty > 0"
            )
    return out


async def replay(
    pg_port: int, proxy_port: int, admin: str, tables: int, proxy_pid: int
) -> dict[str, Any]:
    """The replay's wall time straight to PostgreSQL and through the proxy (fresh databases),
    and the proxy's CPU time per statement (user and system, what the load cannot stretch)."""
    script = replay_script(tables)
    results: dict[str, Any] = {"tables": tables, "statements": len(script)}
    await _create_databases(pg_port, "replay_direct", "replay_skewguard")
    for target, port in (("direct", pg_port), ("skewguard", proxy_port)):
        database = f"replay_{target}"
        base = await _connect(pg_port, database)
        try:
            await base.execute("CREATE TABLE app_users (id int PRIMARY KEY, a int, email text)")
        finally:
            await base.close()
        held = await _protect(proxy_port, admin, database, ["app_users"])
        try:
            migration = await _connect(port, database)
            try:
                started, cpu = time.perf_counter(), cpu_seconds(proxy_pid)
                await _timed(migration, script)
                results[f"{target}_s"] = round(time.perf_counter() - started, 2)
                spent = (cpu_seconds(proxy_pid) - cpu) * 1000 / len(script)
                results[f"{target}_proxy_cpu_ms"] = round(spent, 3)
            finally:
                await migration.close()
        finally:
            for conn in held:
                await conn.close()
    results["ratio"] = round(results["skewguard_s"] / results["direct_s"], 2)
    return results


READERS = Cell("select", "prepared", 4)  # other connections' reads during the replay


async def reads_during_replay(
    pg_port: int, proxy_port: int, admin: str, tables: int, proxy_pid: int, logdir: Path
) -> dict[str, Any]:
    """pgbench -S p99 through the proxy alone, then while the replay runs through it.

    Both runs last as long as one replay takes through the proxy (timed first).
    """
    pgbench = tool_path(pick_install(), "pgbench")
    initialise(pgbench, Endpoint("direct", HOST, pg_port), 1)
    proxied = Endpoint("skewguard", HOST, proxy_port, proxy_pid)
    script = replay_script(tables)
    names = ("replay_reads_time", "replay_reads")
    await _create_databases(pg_port, *names)
    held = []
    for database in names:
        base = await _connect(pg_port, database)
        try:
            await base.execute("CREATE TABLE app_users (id int PRIMARY KEY, a int, email text)")
        finally:
            await base.close()
        held += await _protect(proxy_port, admin, database, ["app_users"])
    try:
        migration = await _connect(proxy_port, names[0])
        try:
            started = time.perf_counter()
            await _timed(migration, script)
            seconds = max(2.0, time.perf_counter() - started)
        finally:
            await migration.close()
        alone = await asyncio.to_thread(run_cell, pgbench, READERS, proxied, seconds, logdir, "a")
        migration = await _connect(proxy_port, names[1])
        try:
            reads = asyncio.create_task(
                asyncio.to_thread(run_cell, pgbench, READERS, proxied, seconds, logdir, "r")
            )
            await _timed(migration, script)
            during = await reads
        finally:
            await migration.close()
    finally:
        for conn in held:
            await conn.close()
    results: dict[str, Any] = {"clients": READERS.clients, "seconds": round(seconds, 2)}
    for name, run in (("alone", alone), ("during", during)):
        if run.aborted:
            raise RuntimeError(f"pgbench -S {name}: {run.error}")
        ordered = sorted(run.latencies_us)
        results[name] = {
            "transactions": run.transactions,
            "p50_ms": round(percentile(ordered, 0.5) / 1000, 3),
            "p99_ms": round(percentile(ordered, 0.99) / 1000, 3),
        }
    results["p99_ratio"] = round(results["during"]["p99_ms"] / results["alone"]["p99_ms"], 2)
    return results


SAMPLED_SHAPES = 20  # per version, in the value-replay benchmark
DECISIONS = 40


def _shapes(n: int) -> list[str]:
    """SAMPLED_SHAPES distinct statements a version sends, each touching ``ledger``."""
    out = []
    for j in range(SAMPLED_SHAPES):
        if j % 2 == 0:
            out.append(
                f"INSERT INTO ledger (amount, note) VALUES ($1, $2) RETURNING id AS v{n}_{j}"
            )
        else:
            out.append(
                f"UPDATE ledger SET amount = $1, note = $2 WHERE id = -1 RETURNING id AS v{n}_{j}"
            )
    return out


async def value_replay(pg_port: int, proxy_port: int, admin: str, values: int) -> dict[str, Any]:
    """Decision latency when 10 versions x 20 sampled shapes touch the changed table (each
    statement replayed before and after the change), and what COMMIT costs when a
    migration touches nothing they use (no replay)."""
    database = f"ddl_samples_{values}"
    await _create_databases(pg_port, database)
    base = await _connect(pg_port, database)
    try:
        await base.execute(
            "CREATE TABLE ledger (id serial PRIMARY KEY, amount int, note text);"
            "CREATE TABLE unused (id int PRIMARY KEY)"
        )
    finally:
        await base.close()
    held = []
    for n in range(VERSIONS):
        conn = await _connect(proxy_port, database, f"pay@1.{n}")
        for sql in _shapes(n):
            statement = await conn.prepare(sql)
            for value in range(values):
                await statement.fetch(value + 1, f"note {n} {value}")
        held.append(conn)
    await asyncio.sleep(1.5)  # learned and flushed
    results: dict[str, Any] = {"versions": VERSIONS, "shapes": SAMPLED_SHAPES, "values": values}
    try:
        for target, port in (("direct", pg_port), ("skewguard", proxy_port)):
            migration = await _connect(port, database)
            try:
                checks = []
                for i in range(DECISIONS):
                    checks += [
                        f"ALTER TABLE ledger ADD CONSTRAINT c{i} CHECK (amount > -1) NOT VALID",
                        f"ALTER TABLE ledger DROP CONSTRAINT c{i}",
                    ]
                times = (await _timed(migration, checks))[0::2]
                commits = []
                for i in range(DECISIONS):
                    await migration.execute("BEGIN")
                    await migration.execute(f"ALTER TABLE unused ADD COLUMN {target[:3]}{i} int")
                    commits += await _timed(migration, ["COMMIT"])
            finally:
                await migration.close()
            results[target] = {
                "decision_p50_ms": round(_percentile(times, 0.5), 2),
                "decision_p95_ms": round(_percentile(times, 0.95), 2),
                "commit_p50_ms": round(_percentile(commits, 0.5), 2),
            }
    finally:
        for conn in held:
            await conn.close()
    d, s = results["direct"], results["skewguard"]
    results["added_decision_p50_ms"] = round(s["decision_p50_ms"] - d["decision_p50_ms"], 2)
    results["added_commit_p50_ms"] = round(s["commit_p50_ms"] - d["commit_p50_ms"], 2)
    return results


def run(
    pg_port: int,
    logfile: Path,
    *,
    quick: bool = False,
    say: Callable[[str], None] = print,
    source: Path | None = None,
    only: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Every DDL benchmark (``only``: those named) against a fresh proxy; each part
    reports its own status.

    ``source``: a ``proxy/`` directory to run skewguard from (another checkout: before/after).
    """
    proxy = start_skewguard(pg_port, logfile, source=source)
    assert proxy.process is not None
    admin, pid = proxy.admin_url, proxy.process.pid
    results: dict[str, Any] = {}
    large = 1000 if quick else LARGE_TABLES
    replayed = 100 if quick else REPLAY_TABLES
    parts: list[tuple[str, Callable[[], Any]]] = [
        (
            "small",
            lambda: latency(pg_port, proxy.port, admin, "ddl_small", SMALL_TABLES, STATEMENTS, pid),
        ),
        (
            "large",
            lambda: latency(
                pg_port,
                proxy.port,
                admin,
                "ddl_large",
                large,
                40 if quick else STATEMENTS,
                pid,
            ),
        ),
        ("replay", lambda: replay(pg_port, proxy.port, admin, replayed, pid)),
        (
            "reads",
            lambda: reads_during_replay(pg_port, proxy.port, admin, replayed, pid, logfile.parent),
        ),
        ("samples", lambda: value_replay(pg_port, proxy.port, admin, 1)),
        ("samples_4", lambda: value_replay(pg_port, proxy.port, admin, 4)),
    ]
    try:
        for name, part in parts:
            if only is not None and name not in only:
                continue
            say(f"  DDL {name} ...")
            try:
                results[name] = {"status": "ok", **asyncio.run(part())}
            except Exception as exc:  # one part failing must not hide the others
                results[name] = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    finally:
        code = proxy.stop()
        if code != 0:
            say(f"warning: the DDL benchmark's proxy exited with {code}: {proxy.log_tail()}")
    return results


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's DDL targets (#8), reported, not asserted."""
    out = []
    for name, limit in (("small", 5.0), ("large", 20.0)):
        part = results.get(name, {})
        ok = part.get("status") == "ok"
        out.append(
            {
                "goal": f"added p50 per DDL <= {limit:g} ms ({name} schema)",
                "met": part["added_p50_ms"] <= limit if ok else None,
                "detail": f"+{part['added_p50_ms']:.2f} ms" if ok else "not measured",
            }
        )
    part = results.get("replay", {})
    ok = part.get("status") == "ok"
    out.append(
        {
            "goal": "DDL replay through the proxy <= 1.3x direct",
            "met": part["ratio"] <= 1.3 if ok else None,
            "detail": f"{part['ratio']:.2f}x" if ok else "not measured",
        }
    )
    part = results.get("reads", {})
    ok = part.get("status") == "ok"
    out.append(
        {
            "goal": "pgbench -S p99 on other connections during the replay <= 1.2x without",
            "met": part["p99_ratio"] <= 1.2 if ok else None,
            "detail": f"{part['p99_ratio']:.2f}x" if ok else "not measured",
        }
    )
    part = results.get("samples", {})
    ok = part.get("status") == "ok"
    out.append(
        {
            "goal": "decision with value replay (10 versions x 20 shapes) p50 <= 50 ms (#14)",
            "met": part["skewguard"]["decision_p50_ms"] <= 50 if ok else None,
            "detail": f"{part['skewguard']['decision_p50_ms']:.2f} ms" if ok else "not measured",
        }
    )
    out.append(
        {
            "goal": "COMMIT touching nothing used adds <= 5 ms (#14)",
            "met": part["added_commit_p50_ms"] <= 5 if ok else None,
            "detail": f"+{part['added_commit_p50_ms']:.2f} ms" if ok else "not measured",
        }
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ddl", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 tables, 100-table replay")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help="run skewguard from this proxy/ directory (another checkout, for before/after)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated parts: small, large, replay, reads, samples, samples_4",
    )
    args = parser.parse_args(argv)
    only = frozenset(args.only.split(",")) if args.only else None
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-ddl-"))
    os.chmod(workdir, 0o711)
    cluster = start_postgres(workdir, max_connections=200)
    try:
        results = run(
            cluster.port,
            workdir / "skewguard-ddl.log",
            quick=args.quick,
            source=args.source,
            only=only,
        )
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(report.format_ddl(results)))
    print(report.format_goals(goals(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
