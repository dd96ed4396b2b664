"""Summaries of the runs: per-cell figures, the goal check, a table, JSON and a chart."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from bench.pgbench import Cell, RunResult, percentile

TARGET_ORDER = ("direct", "pgbouncer", "skewguard")


def summarize_cell(cell: Cell, runs: dict[str, list[RunResult]]) -> dict[str, Any]:
    """Pool the rounds of one cell: mean TPS, percentiles over every logged transaction."""
    targets: dict[str, Any] = {}
    for name, results in runs.items():
        latencies = sorted(v for r in results for v in r.latencies_us)
        cpu = [r.server_cpu_s for r in results if r.server_cpu_s is not None]
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
        }
    ratios: dict[str, float | None] = {}
    sg = targets.get("skewguard")
    for base in ("direct", "pgbouncer"):
        other = targets.get(base)
        ratios[f"tps_vs_{base}"] = (
            sg["tps"] / other["tps"] if sg and other and other["tps"] else None
        )
        ratios[f"p50_added_us_vs_{base}"] = sg["p50_us"] - other["p50_us"] if sg and other else None
        ratios[f"p99_added_us_vs_{base}"] = sg["p99_us"] - other["p99_us"] if sg and other else None
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
            "goal": "p50 latency added at 1 client <= 30 us (prepared)",
            "met": bool(added <= 30) if added is not None and _finite(added) else None,
            "detail": f"+{added:.0f} us" if _finite(added) else "not measured",
        }
    )

    proxy_scale = next((s for s in results.get("scale", []) if s["target"] == "skewguard"), None)
    per_conn = proxy_scale["rss_per_connection_kib"] if proxy_scale else None
    goals.append(
        {
            "goal": "<= 64 KiB RSS per idle client connection",
            "met": per_conn <= 64 if per_conn is not None else None,
            "detail": f"{per_conn:.1f} KiB" if per_conn is not None else "not measured",
        }
    )
    if proxy_scale:
        ok = (
            proxy_scale["errors"] == 0
            and proxy_scale["queried"] == proxy_scale["connections"]
            and proxy_scale["connections"] >= 2000
        )
        detail = (
            f"{proxy_scale['queried']}/{proxy_scale['connections']} queried, "
            f"{proxy_scale['errors']} errors, opened in {proxy_scale['open_seconds']:.1f} s"
        )
        if proxy_scale["connections"] < 2000:
            detail += " (fewer than 2,000: not the full test)"
    else:
        ok, detail = None, "not measured"
    goals.append(
        {
            "goal": "2,000 connections with no errors",
            "met": ok if proxy_scale and proxy_scale["connections"] >= 2000 else None,
            "detail": detail,
        }
    )
    return goals


def _num(value: float | None, fmt: str) -> str:
    return format(value, fmt) if value is not None and not math.isnan(value) else "-"


def format_table(results: dict[str, Any]) -> str:
    """The per-cell table and the goal check, as plain text."""
    names = [t for t in TARGET_ORDER if t in results["targets"]]
    short = {"direct": "dir", "pgbouncer": "pgb", "skewguard": "sg"}
    head = (
        f"{'cell':<18}"
        + "".join(f"{'TPS ' + short[t]:>10}" for t in names)
        + f"{'sg/dir':>8}{'sg/pgb':>8}"
        + "".join(f"{'p50 ' + short[t]:>9}" for t in names)
        + "".join(f"{'p99 ' + short[t]:>9}" for t in names)
        + f"{'cpu pgb':>8}{'cpu sg':>8}"
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
            + "".join(f"{_num(t[n]['p50_us'] if n in t else None, '.0f'):>9}" for n in names)
            + "".join(f"{_num(t[n]['p99_us'] if n in t else None, '.0f'):>9}" for n in names)
            + "".join(
                f"{_num(t[n]['process_cpu_us_per_txn'] if n in t else None, '.1f'):>8}"
                for n in ("pgbouncer", "skewguard")
            )
            + f"{failed:>8}"
            + (f"  ({aborted} aborted runs)" if aborted else "")
        )
    lines.append(
        "latencies in µs (pgbench per-transaction log); TPS mean over rounds; "
        "cpu = CPU µs the pgbouncer / skewguard process spent per transaction"
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
    lines.append("")
    lines.append("goals (reported, not asserted):")
    for goal in results.get("goals", []):
        mark = {True: "MET", False: "NOT MET", None: "n/a"}[goal["met"]]
        lines.append(f"  [{mark:>7}] {goal['goal']}: {goal['detail']}")
    return "\n".join(lines)


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
    colors = {"direct": "#4c72b0", "pgbouncer": "#dd8452", "skewguard": "#55a868"}
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
