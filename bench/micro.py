"""Micro-benchmarks of what analysis costs: hot path, learner, DDL guard, memory.

Everything is built from skewguard's own classes and functions, never a
re-implementation:

* **hot path**: the session-side work per simple Query message on a cache hit
  (a statement already counted since the last flush): the client
  ``MessageScanner`` (``skewguard.relay.session``'s interesting types) framing
  a pgbench ``-S`` Query, the decode, the ``StatementLog`` count update and
  ``needs_reading``. Then the same message through a whole
  ``ClientSession.data_received`` (upstream write replaced by a no-op), with
  and without a ``StatementLog``: the difference is all that learning adds to
  the relay.
* **learner**: per distinct text, the steps ``Learner._facets`` takes: on a
  miss ``literal_key`` and two ``analyze()`` calls (the text and its
  literal-free form) against a ``CatalogSnapshot`` loaded from the bench
  database; on an exact-text hit one dict lookup; on a literal-key hit a miss
  of the exact cache, ``literal_key`` and a second lookup. Then the real
  ``Learner.flush`` (null store) per text for the same three cases.
* **DDL decision**: ``Guard.check`` (fresh catalog read, overlay, footprints of
  50 protected versions from a ``SqliteStore``, rules, policy, audit) for a
  breaking and a safe migration.
* **memory**: the footprint state of 50 versions x 2,000 distinct statement
  shapes (``bench.corpus``): the SQLite file, the Python heap held by the
  learner's caches and an in-memory ``FootprintBatch`` (tracemalloc), and the
  RSS of a real ``skewguard run`` after 50 tagged connections each ran the
  2,000 statements through it.

Each part reports ``status`` ``ok``, or ``error`` with the reason, so an API
change breaks one figure, not the run.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import uvloop

from bench import corpus
from bench.analysis import QUERIES
from bench.targets import (
    DATABASE,
    USER,
    Endpoint,
    cpu_seconds,
    rss_kib,
    skewguard_endpoint,
    start_skewguard,
)
from skewguard import literal_keys
from skewguard.analysis import Facet, analyze
from skewguard.backlog import DEFAULT_MAX_TEXTS, MAX_CHARS, Backlog
from skewguard.catalog import CatalogSnapshot, load_catalog
from skewguard.catalogs import CatalogCache
from skewguard.config import Settings, parse_upstream
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.guard import Guard, Requester
from skewguard.identity import Identity
from skewguard.learning import MISSING_KINDS, Learner, StatementLog
from skewguard.observe.metrics import ProxyMetrics
from skewguard.observe.traffic import TrafficBook
from skewguard.relay import session as relay_session
from skewguard.search_path import startup_path
from skewguard.statements import needs_reading
from skewguard.store import SqliteStore
from skewguard.wire import messages as m
from skewguard.wire.framing import Message, MessageScanner

#: What pgbench -S sends per transaction in simple protocol (one Query message).
PGBENCH_SELECT = "SELECT abalance FROM pgbench_accounts WHERE aid = {};"
SEARCH_PATH = startup_path({})  # what a client that sets nothing gets: ("$user", "public")
VERSIONS = 50
SHAPES = 2000
BREAKING = "ALTER TABLE pgbench_accounts DROP COLUMN filler"
SAFE = "ALTER TABLE pgbench_accounts ADD COLUMN note text"


def _timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall-clock ns of ``fn()`` per repeat."""
    samples: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - started)
    return samples


def _guarded(part: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return {"status": "ok", **part()}
    except Exception as exc:  # an API change must not sink the whole run
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}


# ------------------------------------------------------------------ hot path


def _backlog() -> Backlog:
    """A learning backlog with the proxy's default bounds."""
    return Backlog(DEFAULT_MAX_TEXTS, MAX_CHARS, literal_keys.literal_key)


def hot_path(n: int = 200_000, repeats: int = 7) -> dict[str, Any]:
    """ns per simple Query message of the session-side work, for a repeated statement."""
    message = m.frame(b"Q", PGBENCH_SELECT.format(48213).encode() + b"\x00")
    interesting = relay_session._CLIENT_MESSAGES
    slog = StatementLog(VersionKey(DATABASE, "bench", "1"), USER, SEARCH_PATH, _backlog())
    scanner = MessageScanner(interesting)

    def everything() -> None:  # one message, as ClientSession does it, learning on
        add = slog.add
        for _ in range(n):
            segment = scanner.feed(message)[0]
            assert type(segment) is Message
            raw = segment.raw[5:-1]
            sql = raw.decode("utf-8", "replace")
            add(sql)
            needs_reading(raw)

    def framing() -> None:
        for _ in range(n):
            segment = scanner.feed(message)[0]
            assert type(segment) is Message
            segment.raw[5:-1].decode("utf-8", "replace")

    raw = message[5:-1]
    sql = raw.decode()

    def counting() -> None:
        add = slog.add
        for _ in range(n):
            add(sql)

    def sniffing() -> None:
        for _ in range(n):
            needs_reading(raw)

    def empty() -> None:
        for _ in range(n):
            pass

    def per_statement(fn: Callable[[], object]) -> float:  # best of the repeats: least disturbed
        return min(_timed(fn, repeats)) / n

    loop = per_statement(empty)
    result: dict[str, Any] = {
        "statement": sql,
        "iterations": n,
        "repeats": repeats,
        "ns_per_statement": per_statement(everything) - loop,
        "components_ns": {
            "scanner_feed_and_decode": per_statement(framing) - loop,
            "counts_update": per_statement(counting) - loop,
            "needs_reading": per_statement(sniffing) - loop,
        },
        "loop_overhead_ns": loop,
    }
    result["session"] = _guarded(lambda: _session_path(n, repeats))
    return result


def _session_path(n: int, repeats: int) -> dict[str, Any]:
    """The same work through ClientSession.data_received, with and without learning."""
    sent: list[int] = [0]

    def sink(data: bytes) -> None:
        sent[0] += 1

    def make(learning: bool) -> relay_session.ClientSession:
        # only the proxy's settings are read on this path
        session = relay_session.ClientSession(cast(Any, SimpleNamespace(settings=Settings())))
        session.phase = relay_session.Phase.READY
        session._send_upstream = sink
        if learning:
            session.statement_log = StatementLog(
                VersionKey(DATABASE, "bench", "1"), USER, SEARCH_PATH, _backlog()
            )
        return session

    repeated = m.frame(b"Q", PGBENCH_SELECT.format(48213).encode() + b"\x00")
    distinct = [m.frame(b"Q", PGBENCH_SELECT.format(i).encode() + b"\x00") for i in range(n)]
    out: dict[str, Any] = {}
    for label, learning in (("analysis_on", True), ("analysis_off", False)):
        session = make(learning)

        def same(receive: Callable[[bytes], None] = session.data_received) -> None:
            for _ in range(n):
                receive(repeated)

        def fresh(session: relay_session.ClientSession = session) -> None:
            if session.statement_log is not None:
                session.statement_log.swap()  # the learner takes it every second
            receive = session.data_received
            for chunk in distinct:
                receive(chunk)

        out[label] = {
            "repeated_ns": min(_timed(same, repeats)) / n,
            "distinct_ns": min(_timed(fresh, repeats)) / n,
        }
    if sent[0] == 0:
        raise RuntimeError("the session forwarded nothing")
    for case in ("repeated_ns", "distinct_ns"):
        out[f"added_by_learning_{case}"] = out["analysis_on"][case] - out["analysis_off"][case]
    return out


# ------------------------------------------------------------------ learner


class _KeepStore(SqliteStore):
    """The real SQLite store, except that footprint batches are kept in memory (or dropped)."""

    def __init__(self, path: Path, *, keep: bool) -> None:
        super().__init__(str(path))
        self.keep = keep
        self.batches: list[FootprintBatch] = []

    def write(self, batch: FootprintBatch) -> None:
        if self.keep:
            self.batches.append(batch)


def _learner_style(
    catalog: CatalogSnapshot, texts: list[str], variants: list[str]
) -> dict[str, Any]:
    """Learner._facets' steps with its own cache layout, timed per text."""
    exact: dict[tuple[tuple[str, ...], str], frozenset[Facet]] = {}
    by_literal: dict[tuple[tuple[str, ...], str], frozenset[Facet] | object] = {}
    sensitive = object()
    path = SEARCH_PATH

    def miss(sql: str) -> None:
        assert exact.get((path, sql)) is None
        lkey = (path, literal_keys.literal_key(sql))
        assert by_literal.get(lkey) is None
        result = analyze(sql, search_path=path, catalog=catalog, user=USER)
        generic = analyze(lkey[1], search_path=path, catalog=catalog, user=USER)
        by_literal[lkey] = result.facets if generic.facets == result.facets else sensitive
        exact[(path, sql)] = result.facets

    miss_us = []
    for sql in texts:
        started = time.perf_counter_ns()
        miss(sql)
        miss_us.append((time.perf_counter_ns() - started) / 1000)

    def exact_hits() -> None:
        for sql in texts:
            exact.get((path, sql))

    def literal_hits() -> None:
        for sql in variants:
            if exact.get((path, sql)) is None:
                by_literal.get((path, literal_keys.literal_key(sql)))

    shared = sum(1 for v in by_literal.values() if isinstance(v, frozenset))
    return {
        "texts": len(texts),
        "miss_us_median": statistics.median(miss_us),
        "miss_us_mean": statistics.fmean(miss_us),
        "miss_us_p99": sorted(miss_us)[int(0.99 * len(miss_us))],
        "exact_hit_ns": min(_timed(exact_hits, 5)) / len(texts),
        "literal_hit_ns": min(_timed(literal_hits, 5)) / len(variants),
        "literal_keys_shared": shared,
    }


async def _real_learner(
    upstream: str, state: Path, texts: list[str], variants: list[str]
) -> dict[str, Any]:
    """Learner.flush per text: a miss, then exact-cache hits, then literal-key hits."""
    catalogs = CatalogCache(parse_upstream(upstream))
    store = _KeepStore(state, keep=False)
    learner = Learner(store, catalogs, ProxyMetrics(TrafficBook()))
    key = VersionKey(DATABASE, "bench", "1")
    out: dict[str, Any] = {}
    for case, batch in (("miss", texts), ("exact_hit", texts), ("literal_hit", variants)):
        await catalogs.get(DATABASE, USER)  # loaded (or still fresh) before the clock starts
        slog = learner.open(key, USER, SEARCH_PATH)
        slog.counts = dict.fromkeys(batch, 1)
        learner.close(slog)
        started = time.perf_counter_ns()
        await learner.flush()
        out[f"{case}_us"] = (time.perf_counter_ns() - started) / 1000 / len(batch)
    store.close()
    return out


def learner(
    target: Endpoint, workdir: Path, texts: list[str], variants: list[str]
) -> dict[str, Any]:
    catalog = uvloop.run(_load(target))
    style = _learner_style(catalog, texts, variants)
    problems = _problems(catalog, texts)
    state = workdir / "learner-state.db"
    style["flush"] = _guarded(
        lambda: uvloop.run(_real_learner(_url(target), state, texts, variants))
    )
    style["problems"] = problems
    return style


def _problems(catalog: CatalogSnapshot, texts: list[str]) -> dict[str, str]:
    """Corpus texts that fail to analyse or reference something missing (a broken corpus)."""
    found: dict[str, str] = {}
    for sql in texts:
        result = analyze(sql, search_path=SEARCH_PATH, catalog=catalog, user=USER)
        if result.error is not None:
            found[sql] = result.error
        elif not result.facets or any(f.kind in MISSING_KINDS for f in result.facets):
            found[sql] = "missing: " + ", ".join(
                sorted(f.key for f in result.facets if f.kind in MISSING_KINDS)
            )
    return found


# ------------------------------------------------------------------ DDL decision


def _url(target: Endpoint) -> str:
    return f"postgresql://{USER}@{target.host}:{target.port}/{DATABASE}?sslmode=disable"


def _version_statements(all_pgbench: list[str], index: int) -> list[str]:
    """The queries of one protected version: the common ones plus a few of its own."""
    own = [all_pgbench[(index * 7 + k) % len(all_pgbench)] for k in range(6)]
    return [
        *QUERIES,
        "SELECT aid, bid, abalance, filler FROM pgbench_accounts WHERE aid = $1",
        *own,
    ]


async def _decisions(target: Endpoint, store: SqliteStore, repeats: int) -> dict[str, Any]:
    url = _url(target)
    settings = Settings(mode="enforce", upstream=url)
    catalogs = CatalogCache(parse_upstream(url))
    guard = Guard(settings, store, catalogs, None, ProxyMetrics(TrafficBook()))
    requester = Requester(
        database=DATABASE,
        user=USER,
        identity=Identity("migrations", "1"),
        peer="bench",
        search_path=SEARCH_PATH,
    )
    out: dict[str, Any] = {}
    reads = []
    for _ in range(repeats):  # the fresh catalog read each decision starts with
        started = time.perf_counter_ns()
        await catalogs.get(DATABASE, USER, newer_than=time.time())
        reads.append((time.perf_counter_ns() - started) / 1e6)
    out["catalog_read_ms_median"] = statistics.median(reads)
    for label, sql in (("breaking", BREAKING), ("safe", SAFE)):
        decision = (
            await guard.check(requester, sql)
        ).decision  # warm-up (imports, first connection)
        samples = []
        for _ in range(repeats):
            started = time.perf_counter_ns()
            decision = (await guard.check(requester, sql)).decision
            samples.append((time.perf_counter_ns() - started) / 1e6)
        samples.sort()
        out[label] = {
            "sql": sql,
            "decision": decision.action.value,
            "findings": len(decision.findings),
            "finding_rules": sorted({f"{f.rule} ({f.severity.value})" for f in decision.findings}),
            "versions_named": len({f.version for f in decision.findings if f.version}),
            "ms_median": statistics.median(samples),
            "ms_p90": samples[int(0.9 * (len(samples) - 1))],
            "ms_max": samples[-1],
        }
    return out


def ddl_decision(
    target: Endpoint, workdir: Path, texts: list[str], repeats: int = 20
) -> dict[str, Any]:
    catalog = uvloop.run(_load(target))
    pgbench_only = [t for t in texts if "bench_" not in t.replace("pgbench_", "")]
    store = SqliteStore(str(workdir / "guard-state.db"))
    try:
        batch = FootprintBatch()
        now = time.time()
        per_version = []
        for index in range(VERSIONS):
            key = VersionKey(DATABASE, "shop", f"1.{index}.0")
            union: set[Facet] = set()
            for sql in _version_statements(pgbench_only, index):
                facets = analyze(sql, search_path=SEARCH_PATH, catalog=catalog, user=USER).facets
                union |= facets
                batch.record(key, facets, 100, now, sql)
            per_version.append(len(union))
        store.write(batch)
        guard_log = logging.getLogger("skewguard.guard")
        level = guard_log.level
        guard_log.setLevel(logging.ERROR)  # one "DDL block" warning per decision otherwise
        try:
            decisions = uvloop.run(_decisions(target, store, repeats))
        finally:
            guard_log.setLevel(level)
    finally:
        store.close()
    return {
        "versions": VERSIONS,
        "facets_per_version_mean": statistics.fmean(per_version),
        "repeats": repeats,
        **decisions,
    }


# ------------------------------------------------------------------ memory


async def _remember(
    upstream: str, state: Path, encoded: list[bytes], versions: int
) -> dict[str, Any]:
    """Heap held by the learner's caches and by one batch of ``versions`` x the corpus."""
    catalogs = CatalogCache(parse_upstream(upstream))
    await catalogs.get(DATABASE, USER)
    store = _KeepStore(state, keep=True)
    learner_ = Learner(store, catalogs, ProxyMetrics(TrafficBook()))
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for index in range(versions):
            key = VersionKey(DATABASE, "shop", f"2.{index}.0")
            slog = learner_.open(key, USER, SEARCH_PATH)
            # decoded here, as the session does, so the texts the caches keep are counted
            slog.counts = {raw.decode(): 1 for raw in encoded}
            learner_.close(slog)
        await learner_.flush()
        gc.collect()
        with_caches = tracemalloc.get_traced_memory()[0]
        learner_._caches.clear()  # what is left is the batch the store kept
        gc.collect()
        batch_only = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        store.close()
    kept = store.batches[0] if store.batches else FootprintBatch()
    return {
        "learner_caches_kib": (with_caches - batch_only) / 1024,
        "batch_kib": (batch_only - base) / 1024,
        "batch": kept,
        "facets_per_version_mean": statistics.fmean(len(f) for f in kept.facets.values())
        if kept.facets
        else 0.0,
    }


def memory_in_process(target: Endpoint, workdir: Path, texts: list[str]) -> dict[str, Any]:
    encoded = [t.encode() for t in texts]
    found = uvloop.run(_remember(_url(target), workdir / "memory-state.db", encoded, VERSIONS))
    batch: FootprintBatch = found.pop("batch")
    path = workdir / "footprints.db"
    store = SqliteStore(str(path))
    try:
        store.write(batch)
        rows = sum(len(f) for f in batch.facets.values())
    finally:
        store.close()  # checkpoints the WAL into the main file
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return {
        "versions": VERSIONS,
        "shapes": len(texts),
        "facet_rows": rows,
        "sqlite_kib": size / 1024,
        **found,
    }


async def _drive(
    endpoint: Endpoint, texts: list[str], versions: int, failures: dict[str, str]
) -> tuple[int, float]:
    """``versions`` tagged connections, each running every text once (simple protocol).

    ``failures``: the first error of each kind, and under ``""`` how many there were.
    """

    async def one(index: int) -> int:
        conn = await asyncpg.connect(
            host=endpoint.host,
            port=endpoint.port,
            user=USER,
            database=DATABASE,
            ssl=False,
            statement_cache_size=0,
            server_settings={"application_name": f"shop@3.{index}.0"},
        )
        done = 0
        start = (index * 41) % len(texts)  # not all on the same rows at once
        try:
            for sql in texts[start:] + texts[:start]:
                try:
                    await conn.execute(sql)
                    done += 1
                except asyncpg.PostgresError as exc:  # relayed and learned all the same
                    failures.setdefault(type(exc).__name__, f"{exc} [{sql[:120]}]")
                    failures[""] = str(int(failures.get("", "0")) + 1)
        finally:
            await conn.close()
        return done

    started = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(versions)))
    return sum(results), time.perf_counter() - started


def _settle(pid: int, quiet: float = 0.02, step: float = 0.5, limit: float = 60.0) -> float:
    """Wait until the process's CPU time stops growing (the learner is done); seconds waited."""
    started = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - started < limit:
        time.sleep(step)
        now = cpu_seconds(pid)
        if now - last < quiet:
            break
        last = now
    return time.monotonic() - started


def memory_process(
    cluster_port: int, logfile: Path, texts: list[str], versions: int
) -> dict[str, Any]:
    proxy = start_skewguard(cluster_port, logfile)
    try:
        endpoint = skewguard_endpoint(proxy)
        assert endpoint.pid is not None
        failures: dict[str, str] = {}
        uvloop.run(_drive(endpoint, texts[:5], 1, {}))  # warm-up: one connection, a few texts
        _settle(endpoint.pid)
        before = rss_kib(endpoint.pid)
        ran, seconds = uvloop.run(_drive(endpoint, texts, versions, failures))
        waited = _settle(endpoint.pid)
        after = rss_kib(endpoint.pid)
        learned = {key: row for key, row in proxy.versions().items() if key[1] == "shop"}
        facets = [len(row["facets"]) for row in learned.values()]
        state = proxy.state
        state_kib = (
            sum(p.stat().st_size for p in state.parent.glob(state.name + "*")) / 1024
            if state
            else None
        )
    finally:
        proxy.stop()
        if proxy.state is not None and proxy.state.parent.name.startswith("skewguard-state-"):
            shutil.rmtree(proxy.state.parent, ignore_errors=True)
    per_version = (after - before) / versions
    return {
        "versions": versions,
        "shapes": len(texts),
        "statements_run": ran,
        "statement_errors": int(failures.pop("", "0")),
        "first_errors": failures,
        "run_seconds": seconds,
        "settle_seconds": waited,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "rss_added_kib": after - before,
        "rss_added_per_version_kib": per_version,
        "extrapolated_50_versions_added_kib": None
        if versions >= VERSIONS
        else per_version * VERSIONS,
        "versions_learned": len(learned),
        "facets_per_version_mean": statistics.fmean(facets) if facets else 0.0,
        "state_file_kib": state_kib,
    }


# ------------------------------------------------------------------ the step


async def _load(target: Endpoint) -> CatalogSnapshot:
    conn = await asyncpg.connect(
        host=target.host, port=target.port, user=USER, database=DATABASE, ssl=False
    )
    try:
        return await load_catalog(conn)
    finally:
        await conn.close()


async def _create_tables(target: Endpoint) -> None:
    conn = await asyncpg.connect(
        host=target.host, port=target.port, user=USER, database=DATABASE, ssl=False
    )
    try:
        await conn.execute(corpus.EXTRA_TABLES_SQL)
    finally:
        await conn.close()


def run(
    direct: Endpoint,
    workdir: Path,
    *,
    process_versions: int = VERSIONS,
    logfile: Path | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every micro-benchmark; each part reports its own status."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, Any] = {}
    say("  hot path ...")
    results["hot_path"] = _guarded(hot_path)
    try:
        uvloop.run(_create_tables(direct))
        texts, variants = corpus.corpus(SHAPES)
    except Exception as exc:
        reason = f"corpus: {type(exc).__name__}: {exc}"
        for part in ("learner", "ddl_decision", "memory", "memory_process"):
            results[part] = {"status": "error", "reason": reason}
        return results
    say(f"  learner ({len(texts)} distinct shapes) ...")
    results["learner"] = _guarded(lambda: learner(direct, workdir, texts, variants))
    say(f"  DDL decision ({VERSIONS} protected versions) ...")
    results["ddl_decision"] = _guarded(lambda: ddl_decision(direct, workdir, texts))
    say(f"  footprint memory ({VERSIONS} versions x {len(texts)} shapes, in process) ...")
    results["memory"] = _guarded(lambda: memory_in_process(direct, workdir, texts))
    say(f"  footprint memory ({process_versions} tagged connections through skewguard) ...")
    results["memory_process"] = _guarded(
        lambda: memory_process(
            direct.port, logfile or workdir / "skewguard-micro.log", texts, process_versions
        )
    )
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.micro``: only the micro-benchmarks, on a throwaway cluster."""
    import argparse
    import os
    import tempfile

    from bench import report
    from bench.pgbench import initialise
    from bench.targets import HOST, start_postgres, tool_path

    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__)
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (default 10)")
    parser.add_argument(
        "--versions", type=int, default=VERSIONS, help="tagged connections in the RSS test"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-micro-"))
    os.chmod(workdir, 0o711)
    cluster = start_postgres(workdir, max_connections=200)
    try:
        direct = Endpoint("direct", HOST, cluster.port)
        initialise(tool_path(cluster.install, "pgbench"), direct, args.scale)
        results = run(direct, workdir / "micro", process_versions=args.versions)
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(report.format_micro(results)))
    if args.json:
        report.write_json(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
