"""Summaries of the runs: per-cell figures, the goal check, a table, JSON and a chart."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from bench.pgbench import Cell, RunResult, percentile

TARGET_ORDER = (
    "direct",
    "pgbouncer",
    "skewguard",
    "skewguard-noanalysis",
    "skewguard-baseline",
    "skewguard-mypyc",
    "floor",
    "pgbouncer-unix",
    "skewguard-unix",
)
#: Column labels of each target in the printed tables.
SHORT = {
    "direct": "dir",
    "pgbouncer": "pgb",
    "skewguard": "sg",
    "skewguard-noanalysis": "sg0",
    "skewguard-baseline": "sgB",
    "skewguard-mypyc": "sgC",
    "floor": "flr",
    "pgbouncer-unix": "pgbU",
    "skewguard-unix": "sgU",
}
#: The issue's first target: skewguard's CPU per transaction <= this x the bare relay's.
FLOOR_CPU_TARGET = 1.1
#: The issue's target for what analysis may cost: TPS with it >= this x TPS without it.
ANALYSIS_TPS_TARGET = 0.97
#: ... and per simple Query on the relay, for a statement already counted (ns).
HOT_PATH_TARGET_NS = 2000
#: Issue #11's targets: latency added at 1 client, connection scale.
P50_ADDED_TARGET_US = 20
SCALE_CONNECTIONS_TARGET = 10_000
RSS_PER_CONNECTION_TARGET_KIB = 16


def summarize_cell(cell: Cell, runs: dict[str, list[RunResult]]) -> dict[str, Any]:
    """Pool the rounds of one cell: mean TPS, percentiles over every logged transaction."""
    targets: dict[str, Any] = {}
    for name, results in runs.items():
        latencies = sorted(v for r in results for v in r.latencies_us)
        cpu = [r.server_cpu_s for r in results if r.server_cpu_s is not None]
        user = [r.server_user_s for r in results if r.server_user_s is not None]
        txns = sum(r.transactions for r in results)
        targets[name] = {
            "tps": statistics.fmean(r.tps for r in results) if results else 0.0,
            "tps_rounds": [round(r.tps, 1) for r in results],
            "p50_us": percentile(latencies, 0.50),
            "p99_us": percentile(latencies, 0.99),
            "transactions": sum(r.transactions for r in results),
            "failed": sum(r.failed for r in results),
            "aborted_runs": sum(1 for r in results if r.aborted),
            "errors": [r.error for r in results if r.error],
            # CPU time of the pooler/proxy process per transaction (None for direct)
            "process_cpu_us_per_txn": sum(cpu) * 1e6 / txns if cpu and txns else None,
            # ... of which in user space (the rest is the kernel's: sockets, epoll)
            "process_user_us_per_txn": sum(user) * 1e6 / txns if user and txns else None,
            # ... per round: how far one round strays from the pooled figure
            "process_cpu_us_rounds": [
                round(r.server_cpu_s * 1e6 / r.transactions, 1)
                for r in results
                if r.server_cpu_s is not None and r.transactions
            ],
        }
    ratios: dict[str, float | None] = {}
    sg = targets.get("skewguard")
    for base, label in (
        ("direct", "direct"),
        ("pgbouncer", "pgbouncer"),
        ("skewguard-noanalysis", "noanalysis"),  # what analysis costs: on / off
    ):
        other = targets.get(base)
        ratios[f"tps_vs_{label}"] = (
            sg["tps"] / other["tps"] if sg and other and other["tps"] else None
        )
        ratios[f"p50_added_us_vs_{label}"] = (
            sg["p50_us"] - other["p50_us"] if sg and other else None
        )
        ratios[f"p99_added_us_vs_{label}"] = (
            sg["p99_us"] - other["p99_us"] if sg and other else None
        )
    off = targets.get("skewguard-noanalysis")
    sg_cpu = sg["process_cpu_us_per_txn"] if sg else None
    off_cpu = off["process_cpu_us_per_txn"] if off else None
    ratios["cpu_added_us_vs_noanalysis"] = (
        sg_cpu - off_cpu if sg_cpu is not None and off_cpu is not None else None
    )
    for base, label in (("floor", "floor"), ("pgbouncer", "pgbouncer")):
        other = targets.get(base)
        other_cpu = other["process_cpu_us_per_txn"] if other else None
        ratios[f"cpu_vs_{label}"] = sg_cpu / other_cpu if sg_cpu and other_cpu else None
    return {
        "cell": cell.name,
        "script": cell.script,
        "mode": cell.mode,
        "clients": cell.clients,
        "targets": targets,
        "ratios": ratios,
    }


def _finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def check_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, reported (never asserted): met True/False, or None if not measured."""
    goals: list[dict[str, Any]] = []
    cells = results["cells"]

    vs_pgb = [(c["cell"], c["ratios"]["tps_vs_pgbouncer"]) for c in cells]
    measured = [(n, r) for n, r in vs_pgb if r is not None]
    worst = min(measured, key=lambda x: x[1]) if measured else None
    goals.append(
        {
            "goal": "TPS >= 1.0x pgbouncer in every cell",
            "met": all(r >= 1.0 for _, r in measured) if measured else None,
            "detail": f"worst {worst[0]} {worst[1]:.2f}x" if worst else "pgbouncer not measured",
        }
    )

    direct = [
        (c["cell"], c["ratios"]["tps_vs_direct"])
        for c in cells
        if c["clients"] in (8, 64) and c["ratios"]["tps_vs_direct"] is not None
    ]
    worst = min(direct, key=lambda x: x[1]) if direct else None
    goals.append(
        {
            "goal": "TPS >= 0.9x direct at 8 and 64 clients",
            "met": all(r >= 0.9 for _, r in direct) if direct else None,
            "detail": f"worst {worst[0]} {worst[1]:.2f}x" if worst else "not measured",
        }
    )

    added = next(
        (
            c["ratios"]["p50_added_us_vs_direct"]
            for c in cells
            if c["script"] == "select" and c["mode"] == "prepared" and c["clients"] == 1
        ),
        None,
    )
    goals.append(
        {
            "goal": f"p50 latency added at 1 client <= {P50_ADDED_TARGET_US} us (prepared)",
            "met": bool(added <= P50_ADDED_TARGET_US)
            if added is not None and _finite(added)
            else None,
            "detail": f"+{added:.0f} us" if _finite(added) else "not measured",
        }
    )

    vs_off = [
        (c["cell"], c["ratios"].get("tps_vs_noanalysis"))
        for c in cells
        if c["ratios"].get("tps_vs_noanalysis") is not None
    ]
    worst = min(vs_off, key=lambda x: x[1]) if vs_off else None
    goals.append(
        {
            "goal": f"TPS analysis on >= {ANALYSIS_TPS_TARGET}x analysis off in every cell",
            "met": all(r >= ANALYSIS_TPS_TARGET for _, r in vs_off) if vs_off else None,
            "detail": (
                f"{min(r for _, r in vs_off):.2f}-{max(r for _, r in vs_off):.2f}x, "
                f"worst {worst[0]}"
                if worst
                else "skewguard-noanalysis not measured"
            ),
        }
    )

    for label, key, target in (
        ("the bare relay's (floor)", "cpu_vs_floor", FLOOR_CPU_TARGET),
        ("pgbouncer's", "cpu_vs_pgbouncer", 1.0),
    ):
        cpu = [(c["cell"], c["ratios"].get(key)) for c in cells]
        cpu = [(n, r) for n, r in cpu if r is not None]
        worst = max(cpu, key=lambda x: x[1]) if cpu else None
        goals.append(
            {
                "goal": f"CPU per transaction <= {target:g}x {label} in every cell",
                "met": all(r <= target for _, r in cpu) if cpu else None,
                "detail": f"worst {worst[0]} {worst[1]:.2f}x" if worst else "not measured",
            }
        )

    hot = results.get("micro", {}).get("hot_path", {})
    hot_ns = hot.get("ns_per_statement") if hot.get("status") == "ok" else None
    goals.append(
        {
            "goal": f"hot-path cost <= {HOT_PATH_TARGET_NS / 1000:g} us per statement (cache hit)",
            "met": hot_ns <= HOT_PATH_TARGET_NS if hot_ns is not None else None,
            "detail": f"{hot_ns:.0f} ns" if hot_ns is not None else "not measured",
        }
    )

    goals.extend(scale_goals(results))
    return goals


def scale_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The connection-scale goals: memory per idle connection, 10,000 held with no error."""
    held = next((s for s in results.get("scale", []) if s["target"] == "skewguard"), None)
    per_conn = held["rss_per_connection_kib"] if held else None
    goals = [
        {
            "goal": f"<= {RSS_PER_CONNECTION_TARGET_KIB} KiB RSS per idle client connection",
            "met": per_conn <= RSS_PER_CONNECTION_TARGET_KIB if per_conn is not None else None,
            "detail": f"{per_conn:.1f} KiB" if per_conn is not None else "not measured",
        }
    ]
    if held is None:
        met, detail = None, "not measured"
    else:
        detail = (
            f"{held['queried']}/{held['connections']} queried, "
            f"{held['errors']} errors, opened in {held['open_seconds']:.1f} s"
        )
        full = held["connections"] >= SCALE_CONNECTIONS_TARGET
        met = (held["errors"] == 0 and held["queried"] == held["connections"]) if full else None
        if not full:
            detail += " (run with --connections 10000 for the full test)"
    goals.append(
        {
            "goal": f"{SCALE_CONNECTIONS_TARGET:,} idle connections with no errors",
            "met": met,
            "detail": detail,
        }
    )
    return goals


def _num(value: float | None, fmt: str) -> str:
    return format(value, fmt) if value is not None and not math.isnan(value) else "-"


def format_table(results: dict[str, Any]) -> str:
    """The per-cell tables, the scale and micro-benchmark figures and the goal check."""
    names = [t for t in TARGET_ORDER if t in results["targets"]]
    proxies = [n for n in names if n != "direct"]
    head = (
        f"{'cell':<18}"
        + "".join(f"{'TPS ' + SHORT[t]:>10}" for t in names)
        + f"{'sg/dir':>8}{'sg/pgb':>8}{'sg/sg0':>8}"
        + "".join(f"{'cpu ' + SHORT[t]:>9}" for t in proxies)
        + f"{'cpu sg/flr':>11}"
        + f"{'failed':>8}"
    )
    lines = [head, "-" * len(head)]
    for cell in results["cells"]:
        t = cell["targets"]
        ratios = cell["ratios"]
        failed = sum(t[n]["failed"] for n in names if n in t)
        aborted = sum(t[n]["aborted_runs"] for n in names if n in t)
        lines.append(
            f"{cell['cell']:<18}"
            + "".join(f"{_num(t[n]['tps'] if n in t else None, '.0f'):>10}" for n in names)
            + f"{_num(ratios['tps_vs_direct'], '.2f'):>8}"
            + f"{_num(ratios['tps_vs_pgbouncer'], '.2f'):>8}"
            + f"{_num(ratios.get('tps_vs_noanalysis'), '.2f'):>8}"
            + "".join(
                f"{_num(t[n]['process_cpu_us_per_txn'] if n in t else None, '.1f'):>9}"
                for n in proxies
            )
            + f"{_num(ratios.get('cpu_vs_floor'), '.2f'):>11}"
            + f"{failed:>8}"
            + (f"  ({aborted} aborted runs)" if aborted else "")
        )
    head = f"{'cell':<18}" + "".join(f"{'usr ' + SHORT[t]:>9}" for t in proxies)
    lines += ["", head, "-" * len(head)]
    for cell in results["cells"]:
        t = cell["targets"]
        lines.append(
            f"{cell['cell']:<18}"
            + "".join(
                f"{_num(t[n].get('process_user_us_per_txn') if n in t else None, '.1f'):>9}"
                for n in proxies
            )
        )
    head = (
        f"{'cell':<18}"
        + "".join(f"{'p50 ' + SHORT[t]:>9}" for t in names)
        + "".join(f"{'p99 ' + SHORT[t]:>9}" for t in names)
    )
    lines += ["", head, "-" * len(head)]
    for cell in results["cells"]:
        t = cell["targets"]
        lines.append(
            f"{cell['cell']:<18}"
            + "".join(f"{_num(t[n]['p50_us'] if n in t else None, '.0f'):>9}" for n in names)
            + "".join(f"{_num(t[n]['p99_us'] if n in t else None, '.0f'):>9}" for n in names)
        )
    lines.append(
        "sg = skewguard, sg0 = skewguard --analysis off, sgB = skewguard at --baseline, "
        "flr = bare uvloop relay (bench.floor), U = on a Unix-domain socket; "
        "TPS mean over rounds; latencies in µs "
        "(pgbench per-transaction log); cpu = CPU µs the proxy process spent per transaction, "
        "usr = the user-space part of it"
    )
    load = (results.get("load_average_at_start") or [0.0])[0]
    nproc = results.get("machine", {}).get("nproc") or 1
    if load > 0.5 * nproc:
        lines.append(
            f"WARNING: the 1-minute load average was {load:.1f} on {nproc} CPUs before the "
            "benchmark started: other work was competing, figures are noisy"
        )
    if results.get("skipped"):
        for what, why in results["skipped"].items():
            lines.append(f"SKIPPED {what}: {why}")
    lines.extend(format_scale(results))
    analysis = results.get("analysis", {})
    if analysis.get("status") in ("ok", "suspect"):
        median, mean = analysis["us_per_query_median"], analysis["us_per_query_mean"]
        lines.append(
            f"analysis: cache-miss analyze() median {median:.0f} µs/query"
            f" (mean {mean:.0f}, max {analysis['us_per_query_max']:.0f} µs;"
            f" {analysis['queries']} queries, pgbench schema)"
            + (f" SUSPECT: {analysis['reason']}" if analysis["status"] == "suspect" else "")
        )
    elif analysis:
        lines.append(f"analysis: {analysis.get('status')}: {analysis.get('reason')}")
    if results.get("micro"):
        lines.append("")
        lines += format_micro(results["micro"])
    if results.get("ddl"):
        lines.append("")
        lines += format_ddl(results["ddl"])
    lines.append("")
    lines.append(format_goals(results.get("goals", [])))
    return "\n".join(lines)


def format_scale(results: dict[str, Any]) -> list[str]:
    """One line per connection-scale run: opened, queried, errors, RSS per connection."""
    lines = []
    for scale in results.get("scale", []):
        per = scale["rss_per_connection_kib"]
        lines.append(
            f"scale {scale['target']}: {scale['opened']}/{scale['connections']} opened in "
            f"{scale['open_seconds']:.2f} s, {scale['queried']} queried in "
            f"{scale['query_seconds']:.2f} s, {scale['errors']} errors"
            + (
                f", RSS {scale['rss_before_kib']} -> {scale['rss_after_kib']} KiB"
                f" = {per:.1f} KiB/connection"
                if per is not None
                else ""
            )
        )
    return lines


def format_goals(goals: list[dict[str, Any]]) -> str:
    lines = ["goals (reported, not asserted):"]
    for goal in goals:
        mark = {True: "MET", False: "NOT MET", None: "n/a"}[goal["met"]]
        lines.append(f"  [{mark:>7}] {goal['goal']}: {goal['detail']}")
    return "\n".join(lines)


def _ran(results: dict[str, Any], name: str, lines: list[str]) -> dict[str, Any] | None:
    """A part's figures; when it did not run, None and a line saying why."""
    part: dict[str, Any] = results.get(name, {})
    if part.get("status") == "ok":
        return part
    lines.append(f"  {name}: {part.get('reason', 'not run')}")
    return None


def format_ddl(results: dict[str, Any]) -> list[str]:
    """The DDL figures, proxy and direct side by side."""
    lines = ["DDL through skewguard (enforce, 10 protected versions) vs direct:"]
    for name in ("small", "large"):
        part = _ran(results, name, lines)
        if part is None:
            continue
        d, s = part["direct"], part["skewguard"]
        lines.append(
            f"  per statement, {part['relations']:>6} relations: "
            f"p50 {d['p50_ms']:>7.2f} -> {s['p50_ms']:>7.2f} ms (+{part['added_p50_ms']:.2f}), "
            f"p95 {d['p95_ms']:>7.2f} -> {s['p95_ms']:>7.2f} ms (+{part['added_p95_ms']:.2f}) "
            f"[{s['statements']} statements each]; CPU per statement: proxy "
            f"{s.get('proxy_cpu_ms', float('nan')):.2f} ms, its catalog backend "
            f"{s.get('catalog_cpu_ms', float('nan')):.2f} ms"
        )
    part = _ran(results, "replay", lines)
    if part is not None:
        lines.append(
            f"  replay, {part['tables']} tables, {part['statements']} statements: "
            f"direct {part['direct_s']:.2f} s, skewguard {part['skewguard_s']:.2f} s "
            f"= {part['ratio']:.2f}x; proxy CPU per statement "
            f"{part.get('skewguard_proxy_cpu_ms', float('nan')):.3f} ms"
        )
    part = _ran(results, "reads", lines)
    if part is not None:
        a, d = part["alone"], part["during"]
        lines.append(
            f"  pgbench -S through the proxy ({part['clients']} clients, {part['seconds']} s): "
            f"p50 {a['p50_ms']:.2f} -> {d['p50_ms']:.2f} ms, p99 {a['p99_ms']:.2f} -> "
            f"{d['p99_ms']:.2f} ms during the replay = {part['p99_ratio']:.2f}x"
        )
    for name in ("samples", "samples_4"):
        part = _ran(results, name, lines)
        if part is None:
            continue
        d, s = part["direct"], part["skewguard"]
        lines.append(
            f"  value replay, {part['versions']} versions x {part['shapes']} shapes x "
            f"{part['values']} values: decision p50 {d['decision_p50_ms']:.2f} -> "
            f"{s['decision_p50_ms']:.2f} ms (p95 {s['decision_p95_ms']:.2f}); COMMIT touching "
            f"nothing used p50 {d['commit_p50_ms']:.2f} -> {s['commit_p50_ms']:.2f} ms "
            f"(+{part['added_commit_p50_ms']:.2f})"
        )
    return lines


def format_micro(micro: dict[str, Any]) -> list[str]:
    """The analysis micro-benchmarks (bench.micro), a few lines each."""
    lines = ["micro-benchmarks (bench.micro):"]

    def failed(part: str, label: str) -> bool:
        got = micro.get(part)
        if got is None:
            return True
        if got.get("status") != "ok":
            lines.append(f"  {label}: {got.get('status')}: {got.get('reason')}")
            return True
        return False

    if not failed("hot_path", "hot path"):
        hot = micro["hot_path"]
        parts = hot["components_ns"]
        lines.append(
            f"  hot path, repeated pgbench -S Query: {hot['ns_per_statement']:.0f} ns/statement"
            f" (scanner+decode {parts['scanner_feed_and_decode']:.0f},"
            f" count {parts['counts_update']:.0f}, needs_reading {parts['needs_reading']:.0f})"
        )
        session = hot.get("session", {})
        if session.get("status") == "ok":
            on, off = session["analysis_on"], session["analysis_off"]
            lines.append(
                f"  ClientSession.data_received per Query: repeated {on['repeated_ns']:.0f} ns"
                f" (off {off['repeated_ns']:.0f}, learning adds"
                f" {session['added_by_learning_repeated_ns']:+.0f}); distinct aid"
                f" {on['distinct_ns']:.0f} ns (off {off['distinct_ns']:.0f}, learning adds"
                f" {session['added_by_learning_distinct_ns']:+.0f})"
            )
        elif session:
            lines.append(f"  ClientSession: {session.get('status')}: {session.get('reason')}")
    if not failed("learner", "learner"):
        lrn = micro["learner"]
        lines.append(
            f"  learner per distinct text ({lrn['texts']} shapes): miss"
            f" {lrn['miss_us_median']:.0f} µs median (mean {lrn['miss_us_mean']:.0f},"
            f" p99 {lrn['miss_us_p99']:.0f}; literal_key + 2 x analyze), exact hit"
            f" {lrn['exact_hit_ns']:.0f} ns, literal-key hit {lrn['literal_hit_ns']:.0f} ns"
            + (f"; {len(lrn['problems'])} texts with problems" if lrn["problems"] else "")
        )
        flush = lrn.get("flush", {})
        if flush.get("status") == "ok":
            lines.append(
                f"  Learner.flush per text: miss {flush['miss_us']:.0f} µs, exact hit"
                f" {flush['exact_hit_us']:.1f} µs, literal-key hit {flush['literal_hit_us']:.1f} µs"
            )
        elif flush:
            lines.append(f"  Learner.flush: {flush.get('status')}: {flush.get('reason')}")
    if not failed("ddl_decision", "DDL decision"):
        ddl = micro["ddl_decision"]
        for label in ("breaking", "safe"):
            d = ddl[label]
            lines.append(
                f"  DDL decision, {ddl['versions']} protected versions"
                f" (~{ddl['facets_per_version_mean']:.0f} facets each), {label}: {d['decision']}"
                f" in {d['ms_median']:.1f} ms median (p90 {d['ms_p90']:.1f}, max"
                f" {d['ms_max']:.1f}; {d['findings']} findings:"
                f" {', '.join(d.get('finding_rules', [])) or 'none'}) [{d['sql']}]"
            )
        lines.append(
            f"  (each decision starts with a fresh catalog read:"
            f" {ddl['catalog_read_ms_median']:.1f} ms median)"
        )
    if not failed("memory", "footprint memory"):
        mem = micro["memory"]
        lines.append(
            f"  footprint state, {mem['versions']} versions x {mem['shapes']} shapes"
            f" (~{mem['facets_per_version_mean']:.0f} facets/version, {mem['facet_rows']} rows):"
            f" SQLite {mem['sqlite_kib'] / 1024:.1f} MiB; heap: learner caches"
            f" {mem['learner_caches_kib'] / 1024:.1f} MiB + one batch"
            f" {mem['batch_kib'] / 1024:.1f} MiB"
        )
    if not failed("memory_process", "skewguard RSS"):
        proc = micro["memory_process"]
        extra = proc.get("extrapolated_50_versions_added_kib")
        lines.append(
            f"  skewguard RSS, {proc['versions']} tagged connections x {proc['shapes']} statements"
            f" ({proc['statements_run']} ran, {proc['statement_errors']} errors,"
            f" {proc['run_seconds']:.0f} s; {proc['versions_learned']} versions learned):"
            f" {proc['rss_before_kib'] / 1024:.1f} -> {proc['rss_after_kib'] / 1024:.1f} MiB"
            f" (+{proc['rss_added_kib'] / 1024:.1f} MiB)"
            + (
                f", linear extrapolation to 50 versions +{extra / 1024:.1f} MiB (an upper bound:"
                " the analysis caches are shared by all versions)"
                if extra
                else ""
            )
            + (
                f"; state file {proc['state_file_kib'] / 1024:.1f} MiB"
                if proc.get("state_file_kib") is not None
                else ""
            )
        )
    return lines


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    path.write_text(json.dumps(clean(results), indent=2, ensure_ascii=False) + "\n")


def write_png(results: dict[str, Any], path: Path) -> str | None:
    """TPS and p99 per cell, one bar per target; returns why not when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]')"
    names = [t for t in TARGET_ORDER if t in results["targets"]]
    cells = results["cells"]
    labels = [c["cell"] for c in cells]
    colors = {
        "direct": "#4c72b0",
        "pgbouncer": "#dd8452",
        "skewguard": "#55a868",
        "skewguard-noanalysis": "#8172b3",
        "skewguard-baseline": "#937860",
        "skewguard-mypyc": "#da8bc3",
        "floor": "#8c8c8c",
        "pgbouncer-unix": "#c44e52",
        "skewguard-unix": "#64b5cd",
    }
    width = 0.8 / max(1, len(names))
    fig, (ax_tps, ax_p99) = plt.subplots(2, 1, figsize=(max(8, 1.1 * len(cells)), 8))
    for i, name in enumerate(names):
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(cells))]
        tps = [c["targets"].get(name, {}).get("tps", 0.0) for c in cells]
        p99 = [c["targets"].get(name, {}).get("p99_us", math.nan) / 1000 for c in cells]
        ax_tps.bar(xs, tps, width, label=name, color=colors.get(name))
        ax_p99.bar(xs, p99, width, label=name, color=colors.get(name))
    machine = results.get("machine", {})
    pg_version = str(machine.get("postgresql") or "?").split()[0]
    fig.suptitle(
        f"skewguard vs direct vs pgbouncer — {machine.get('nproc', '?')} CPU "
        f"{machine.get('cpu_model', '')}, PostgreSQL {pg_version}",
        fontsize=11,
    )
    ax_tps.set_ylabel("TPS (higher is better)")
    ax_p99.set_ylabel("p99 latency, ms (lower is better)")
    ax_p99.set_yscale("log")
    for ax in (ax_tps, ax_p99):
        ax.set_xticks(range(len(cells)))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
