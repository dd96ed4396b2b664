"""``python -m bench``: skewguard vs direct PostgreSQL vs pgbouncer, in one run.

Starts a throwaway PostgreSQL, pgbouncer (session pooling), skewguard, a
second skewguard with ``--analysis off`` and the bare relay (``bench.floor``,
the floor of a Python relay) on loopback, initialises pgbench data,
then runs every cell against every target, round by round (target order
rotating) so that drift hits all targets alike. Then the connection-scale test,
the analysis micro-benchmark and the micro-benchmarks of what analysis costs
(``bench.micro``), and what the guard adds to DDL (``bench.ddl``). Prints the
tables, writes ``<out>/latest.json`` and ``<out>/latest.png``. ``--only ddl``
runs the DDL benchmark alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import analysis, compiled, ddl, micro, report, scale
from bench.pgbench import Cell, RunResult, initialise, run_cell
from bench.targets import (
    HOST,
    Endpoint,
    FloorRelay,
    PgBouncer,
    baseline_source,
    pgbouncer_binary,
    raise_nofile_limit,
    server_version,
    skewguard_endpoint,
    start_postgres,
    start_skewguard,
    tool_path,
)
from tests.support.proxy import ProxyProcess

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def full_cells() -> list[Cell]:
    cells = [
        Cell("select", mode, clients)
        for clients in (1, 8, 64)
        for mode in ("simple", "extended", "prepared")
    ]
    return [*cells, Cell("tpcb", "prepared", 8), Cell("orm", "extended", 16)]


def quick_cells() -> list[Cell]:
    return [
        Cell("select", "prepared", 1),
        Cell("select", "simple", 8),
        Cell("select", "prepared", 8),
        Cell("tpcb", "prepared", 8),
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="skewguard vs skewguard --analysis off vs direct PostgreSQL vs pgbouncer "
        "(pgbench cells, connection scale, analysis micro-benchmarks)",
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per cell and target (default 8)"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds over all cells (default 2)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 3 s cells, 1 round, 4 cells, 500 scale connections",
    )
    parser.add_argument("--skip-scale", action="store_true", help="skip the connection-scale test")
    parser.add_argument(
        "--skip-micro", action="store_true", help="skip the analysis micro-benchmarks (bench.micro)"
    )
    parser.add_argument(
        "--skip-ddl", action="store_true", help="skip the DDL latency and replay benchmark"
    )
    parser.add_argument(
        "--only",
        choices=["ddl", "pgbench", "scale"],
        default=None,
        help="run only this part (ddl: DDL latency and replay, proxy vs direct; bench.ddl; "
        "pgbench: the pgbench matrix, no scale test, micro-benchmarks or DDL; "
        "scale: the connection-scale test alone)",
    )
    parser.add_argument(
        "--cells",
        default=None,
        help="comma-separated cell names to run (e.g. S-prepared-c8,tpcb-prepared-c8)",
    )
    parser.add_argument(
        "--targets",
        default=None,
        help="comma-separated targets to keep (default all: direct,pgbouncer,skewguard,"
        "skewguard-noanalysis,floor, plus skewguard-baseline with --baseline and "
        "skewguard-mypyc with --mypyc)",
    )
    parser.add_argument(
        "--unix",
        action="store_true",
        help="also pgbouncer and skewguard on Unix-domain sockets (pgbouncer-unix, skewguard-unix)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        default=None,
        help="also run skewguard as of git revision REF (target skewguard-baseline), "
        "interleaved with the others: a change measured against its parent in one run",
    )
    parser.add_argument(
        "--mypyc",
        action="store_true",
        help="also run skewguard with its hot modules compiled by mypyc (target skewguard-mypyc; "
        "bench.compiled), interleaved with the others",
    )
    parser.add_argument(
        "--micro-versions",
        type=int,
        default=None,
        help="tagged connections (versions) in the skewguard RSS test (default 50; quick 10)",
    )
    parser.add_argument(
        "--connections", type=int, default=None, help="scale-test connections (default 2000)"
    )
    parser.add_argument(
        "--scale-workers",
        type=int,
        default=1,
        help="skewguard --workers in the scale test (default 1; each worker needs two open "
        "files per client, so past half the open-file limit one process refuses clients)",
    )
    parser.add_argument(
        "--scale", type=int, default=None, help="pgbench scale factor (default 10; quick 2)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"results directory (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.duration = args.duration if args.duration is not None else (3.0 if quick else 8.0)
    args.rounds = args.rounds if args.rounds is not None else 1 if quick else 2
    args.connections = args.connections or (500 if quick else 2000)
    args.scale = args.scale or (2 if quick else 10)
    args.micro_versions = args.micro_versions or (10 if quick else micro.VERSIONS)
    if args.only == "pgbench":
        args.skip_scale = args.skip_micro = args.skip_ddl = True
    return args


def select_cells(args: argparse.Namespace) -> list[Cell]:
    cells = quick_cells() if args.quick else full_cells()
    if args.cells is None:
        return cells
    wanted = args.cells.split(",")
    every = {c.name: c for c in [*full_cells(), *quick_cells()]}
    unknown = [name for name in wanted if name not in every]
    if unknown:
        raise SystemExit(f"unknown cells {unknown}; known: {', '.join(every)}")
    return [every[name] for name in wanted]


def machine_info(pg_version: str, pgbench: str, pgbouncer: PgBouncer | None) -> dict[str, Any]:
    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    pgbench_version = subprocess.run(
        [pgbench, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "pgbench": pgbench_version,
        "pgbouncer": pgbouncer.version() if pgbouncer else None,
        "git_commit": commit or None,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def say(message: str) -> None:
    print(message, flush=True)


def run_matrix(
    pgbench: str,
    cells: list[Cell],
    endpoints: list[Endpoint],
    duration: float,
    rounds: int,
    logdir: Path,
) -> dict[str, dict[str, list[RunResult]]]:
    """Every cell on every target, round by round; the target order rotates each time."""
    runs: dict[str, dict[str, list[RunResult]]] = {
        c.name: {e.name: [] for e in endpoints} for c in cells
    }
    total = len(cells) * len(endpoints) * rounds
    done = 0
    for rnd in range(rounds):
        for index, cell in enumerate(cells):
            shift = (rnd + index) % len(endpoints)
            for target in endpoints[shift:] + endpoints[:shift]:
                result = run_cell(pgbench, cell, target, duration, logdir, f"r{rnd}")
                runs[cell.name][target.name].append(result)
                done += 1
                lat = sorted(result.latencies_us)
                p50 = lat[len(lat) // 2] if lat else 0
                note = f"  ABORTED: {result.error[-200:]}" if result.aborted else ""
                say(
                    f"  [{done:>3}/{total}] round {rnd + 1} {cell.name:<16} {target.name:<20} "
                    f"{result.tps:>9.0f} tps  p50 {p50:>6} µs  failed {result.failed}{note}"
                )
    return runs


def only_ddl(args: argparse.Namespace) -> int:
    """``--only ddl``: the DDL benchmark on its own cluster, printed and written."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-bench-"))
    os.chmod(workdir, 0o711)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    cluster = start_postgres(workdir, max_connections=200)
    try:
        say(f"PostgreSQL {server_version(cluster)} on {HOST}:{cluster.port}; DDL benchmark ...")
        results = ddl.run(cluster.port, out / "skewguard-ddl.log", quick=args.quick, say=say)
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    say("")
    say("\n".join(report.format_ddl(results)))
    say(report.format_goals(ddl.goals(results)))
    report.write_json({"ddl": results, "goals": ddl.goals(results)}, out / "latest-ddl.json")
    say(f"wrote {out / 'latest-ddl.json'}; total {time.monotonic() - started:.0f} s")
    return 0


def start_scaled(args: argparse.Namespace, upstream_port: int, out: Path) -> ProxyProcess:
    """The fresh proxy of the connection-scale test (``--scale-workers`` workers)."""
    workers = ["--workers", str(args.scale_workers)] if args.scale_workers > 1 else []
    return start_skewguard(upstream_port, out / "skewguard-scale.log", extra=workers)


def connection_scale(
    args: argparse.Namespace, proxy: ProxyProcess, direct: Endpoint
) -> list[dict[str, Any]]:
    """``--connections`` idle connections through ``proxy``, then straight to PostgreSQL."""
    say(
        f"connection scale: {args.connections} idle connections through a fresh proxy "
        f"({args.scale_workers} worker(s)) ..."
    )
    held = scale.hold_connections(skewguard_endpoint(proxy), args.connections, measure_rss=True)
    say(f"  ... and {args.connections} straight to PostgreSQL, for the open-time baseline")
    baseline = scale.hold_connections(direct, args.connections, measure_rss=False)
    return [held.to_json(), baseline.to_json()]


def only_scale(args: argparse.Namespace) -> int:
    """``--only scale``: the connection-scale test on its own cluster, printed and written."""
    started = time.monotonic()
    nofile = raise_nofile_limit()
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-bench-"))
    os.chmod(workdir, 0o711)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    cluster = start_postgres(workdir, max_connections=args.connections + 200)
    try:
        say(f"PostgreSQL {server_version(cluster)} on {HOST}:{cluster.port}; open files {nofile}")
        direct = Endpoint("direct", HOST, cluster.port)
        proxy = start_scaled(args, cluster.port, out)
        try:
            results = {"scale": connection_scale(args, proxy, direct)}
        finally:
            proxy.stop()
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    say("")
    say("\n".join(report.format_scale(results)))
    goals = report.scale_goals(results)
    say(report.format_goals(goals))
    report.write_json({**results, "goals": goals}, out / "latest-scale.json")
    say(f"wrote {out / 'latest-scale.json'}; total {time.monotonic() - started:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.only == "ddl":
        return only_ddl(args)
    if args.only == "scale":
        return only_scale(args)
    started = time.monotonic()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    cells = select_cells(args)
    nofile = raise_nofile_limit()
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-bench-"))
    os.chmod(workdir, 0o711)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    cluster = None
    bouncer: PgBouncer | None = None
    proxy = None
    proxy_off = None
    proxy_base = None
    proxy_mypyc = None
    proxy_unix = None
    floor: FloorRelay | None = None
    try:
        cluster = start_postgres(workdir, max_connections=args.connections + 200)
        pgbench = tool_path(cluster.install, "pgbench")
        direct = Endpoint("direct", HOST, cluster.port)
        pg_version = server_version(cluster)
        say(
            f"PostgreSQL {pg_version} on {HOST}:{cluster.port} "
            f"(max_connections {args.connections + 200}); open-file limit {nofile}"
        )
        say(f"initialising pgbench data (scale {args.scale}) ...")
        initialise(pgbench, direct, args.scale)

        endpoints = [direct]
        binary = pgbouncer_binary()
        if binary is None:
            skipped["pgbouncer"] = (
                "pgbouncer is not installed (apt-get install pgbouncer, or `make system-deps` "
                "as root): every pgbouncer cell and ratio is skipped"
            )
        else:
            bouncer = PgBouncer(binary, cluster.port, workdir / "pgbouncer")
            try:
                endpoints.append(bouncer.start())
                say(f"{bouncer.version()} (session pooling) on {HOST}:{bouncer.port}")
            except (RuntimeError, OSError) as exc:
                skipped["pgbouncer"] = f"pgbouncer could not start ({exc}): its cells are skipped"
                bouncer = None
        if "pgbouncer" in skipped:
            say(f"SKIPPING pgbouncer: {skipped['pgbouncer']}")

        proxy = start_skewguard(cluster.port, out / "skewguard-bench.log")
        endpoints.append(skewguard_endpoint(proxy))
        say(f"skewguard on {HOST}:{proxy.port} (pid {proxy.process.pid if proxy.process else '?'})")
        proxy_off = start_skewguard(
            cluster.port, out / "skewguard-noanalysis-bench.log", analysis=False
        )
        endpoints.append(skewguard_endpoint(proxy_off, "skewguard-noanalysis"))
        say(
            f"skewguard --analysis off on {HOST}:{proxy_off.port} "
            f"(pid {proxy_off.process.pid if proxy_off.process else '?'})"
        )
        if args.baseline is not None:
            source = baseline_source(args.baseline, workdir / "baseline")
            proxy_base = start_skewguard(
                cluster.port, out / "skewguard-baseline-bench.log", source=source
            )
            endpoints.append(skewguard_endpoint(proxy_base, "skewguard-baseline"))
            say(f"skewguard as of {args.baseline} on {HOST}:{proxy_base.port}")
        if args.mypyc:
            say("compiling the hot modules with mypyc (bench.compiled) ...")
            proxy_mypyc = start_skewguard(
                cluster.port,
                out / "skewguard-mypyc-bench.log",
                source=compiled.build(workdir / "mypyc"),
            )
            endpoints.append(skewguard_endpoint(proxy_mypyc, "skewguard-mypyc"))
            say(f"skewguard compiled by mypyc on {HOST}:{proxy_mypyc.port}")
        if args.unix:
            sockets = workdir / "sockets"
            sockets.mkdir()
            proxy_unix = start_skewguard(
                cluster.port, out / "skewguard-unix-bench.log", unix_dir=sockets
            )
            endpoints.append(skewguard_endpoint(proxy_unix, "skewguard-unix", sockets))
            say(f"skewguard on unix:{sockets}/.s.PGSQL.{proxy_unix.port}")
            if bouncer is not None:
                endpoints.append(bouncer.unix_endpoint())
        floor = FloorRelay(cluster.port)
        endpoints.append(floor.start())
        say(f"floor (bare uvloop relay, bench.floor) on {HOST}:{floor.port}")

        if args.targets is not None:
            endpoints = [e for e in endpoints if e.name in args.targets.split(",")]
        machine = machine_info(pg_version, pgbench, bouncer)
        say(
            f"machine: {machine['nproc']} CPU {machine['cpu_model']}, "
            f"{machine['memory_gib']} GiB, kernel {machine['kernel']}"
        )
        say(
            f"{len(cells)} cells x {len(endpoints)} targets x {args.rounds} rounds "
            f"x {args.duration:g} s"
        )

        logdir = workdir / "pgbench-logs"
        for target in endpoints:  # warm caches and connections once per target
            run_cell(pgbench, Cell("select", "prepared", 8), target, 2, logdir, "warmup")
        runs = run_matrix(pgbench, cells, endpoints, args.duration, args.rounds, logdir)

        for running in (proxy, proxy_off, proxy_base, proxy_mypyc, proxy_unix):
            code = running.stop() if running is not None else 0
            if code != 0 and running is not None:
                say(f"warning: a benchmark proxy exited with {code}: {running.log_tail()}")
        proxy = proxy_off = proxy_base = proxy_mypyc = proxy_unix = None
        floor.stop()
        if bouncer is not None:
            bouncer.stop()

        results: dict[str, Any] = {
            "machine": machine,
            "config": {
                "duration_s": args.duration,
                "rounds": args.rounds,
                "quick": args.quick,
                "baseline": args.baseline,
                "mypyc": args.mypyc,
                "unix": args.unix,
                "pgbench_scale": args.scale,
                "scale_connections": None if args.skip_scale else args.connections,
                "micro_versions": None if args.skip_micro else args.micro_versions,
            },
            "targets": [e.name for e in endpoints],
            "skipped": skipped,
            # other work on the machine (a test suite, a build) skews every figure
            "load_average_at_start": load_at_start,
            "cells": [report.summarize_cell(c, runs[c.name]) for c in cells],
            "scale": [],
        }

        if args.skip_scale:
            say("skipping the connection-scale test (--skip-scale)")
        else:
            proxy = start_scaled(args, cluster.port, out)
            results["scale"] = connection_scale(args, proxy, direct)
            proxy.stop()
            proxy = None

        if args.only == "pgbench":
            say("skipping the analysis micro-benchmark (--only pgbench)")
        else:
            say("analysis micro-benchmark ...")
            results["analysis"] = analysis.run(direct)
        if args.skip_micro:
            say("skipping the analysis micro-benchmarks (--skip-micro)")
        else:
            say("analysis micro-benchmarks (hot path, learner, DDL decision, memory) ...")
            results["micro"] = micro.run(
                direct,
                workdir / "micro",
                process_versions=args.micro_versions,
                logfile=out / "skewguard-micro.log",
                say=say,
            )

        if args.skip_ddl:
            say("skipping the DDL benchmark (--skip-ddl)")
        else:
            say("DDL through the guard vs direct (latency per statement, replay) ...")
            results["ddl"] = ddl.run(
                cluster.port, out / "skewguard-ddl.log", quick=args.quick, say=say
            )

        results["goals"] = report.check_goals(results)
        if "ddl" in results:
            results["goals"].extend(ddl.goals(results["ddl"]))
        results["elapsed_s"] = round(time.monotonic() - started, 1)
        say("")
        say(report.format_table(results))
        report.write_json(results, out / "latest.json")
        png_problem = report.write_png(results, out / "latest.png")
        say("")
        say(f"wrote {out / 'latest.json'}")
        say(f"chart not written: {png_problem}" if png_problem else f"wrote {out / 'latest.png'}")
        say(f"total {results['elapsed_s']:.0f} s")
        return 0
    finally:
        if proxy is not None:
            proxy.stop()
        if proxy_off is not None:
            proxy_off.stop()
        if proxy_base is not None:
            proxy_base.stop()
        if proxy_mypyc is not None:
            proxy_mypyc.stop()
        if proxy_unix is not None:
            proxy_unix.stop()
        if floor is not None:
            floor.stop()
        if bouncer is not None:
            bouncer.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
