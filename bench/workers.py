"""``python -m bench.workers``: what ``run --workers N`` buys, interleaved in one run.

pgbench -S (prepared) at 8 and 64 clients against pgbouncer, the floor
(bench.floor) and skewguard with 1 and 2 workers, each also pinned to one CPU
(``sched_setaffinity`` on every thread of the process tree, as ``taskset -a``):
pinned, the proxy is CPU-bound, which is where a second worker on a second core
must pay off; unpinned with 2 workers it must at least not lose. Reports TPS
and the CPU µs per transaction of each target's whole process tree (a
supervisor and its workers), with the load average before and after: other
work on the machine moves every figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from bench.__main__ import run_matrix
from bench.pgbench import Cell, RunResult, initialise, run_cell
from bench.targets import (
    HOST,
    Endpoint,
    FloorRelay,
    PgBouncer,
    pgbouncer_binary,
    pin,
    raise_nofile_limit,
    skewguard_endpoint,
    start_postgres,
    start_skewguard,
    tool_path,
)
from tests.support.proxy import ProxyProcess

CELLS = [Cell("select", "prepared", 8), Cell("select", "prepared", 64)]
ONE_CPU = {0}


def say(text: str) -> None:
    print(text, flush=True)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def per_txn_us(results: list[RunResult]) -> float:
    used = [
        r.server_cpu_s / r.transactions * 1e6 for r in results if r.server_cpu_s and r.transactions
    ]
    return statistics.mean(used) if used else float("nan")


def table(cells: list[Cell], names: list[str], runs: dict[str, dict[str, list[RunResult]]]) -> str:
    lines = [
        "| target | " + " | ".join(f"{c.name} TPS | cpu µs/txn" for c in cells) + " |",
        "|---" * (1 + 2 * len(cells)) + "|",
    ]
    for name in names:
        row = [name]
        for cell in cells:
            results = runs[cell.name][name]
            row.append(f"{statistics.mean(r.tps for r in results):,.0f}")
            row.append(f"{per_txn_us(results):.1f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved passes")
    parser.add_argument("--scale", type=int, default=2, help="pgbench scale factor")
    args = parser.parse_args()
    raise_nofile_limit()
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-bench-workers-"))
    os.chmod(workdir, 0o711)
    proxies: list[ProxyProcess] = []
    bouncer: PgBouncer | None = None
    floor = None
    cluster = start_postgres(workdir, max_connections=300)
    try:
        pgbench = tool_path(cluster.install, "pgbench")
        initialise(pgbench, Endpoint("direct", HOST, cluster.port), args.scale)
        endpoints: list[Endpoint] = []
        binary = pgbouncer_binary()
        if binary is not None:
            bouncer = PgBouncer(binary, cluster.port, workdir / "pgbouncer")
            endpoints.append(bouncer.start())
        floor = FloorRelay(cluster.port)
        endpoints.append(floor.start())
        for workers in (1, 2):
            for pinned in (False, True):
                proxy = start_skewguard(
                    cluster.port,
                    workdir / f"skewguard-w{workers}-{pinned}.log",
                    extra=["--workers", str(workers)],
                )
                proxies.append(proxy)
                name = f"skewguard-w{workers}" + ("-1cpu" if pinned else "")
                endpoint = skewguard_endpoint(proxy, name)
                if pinned:
                    assert endpoint.pid is not None
                    pin(endpoint.pid, ONE_CPU)
                endpoints.append(endpoint)
        say(f"{os.cpu_count()} CPUs; load average at start {load()}")
        logdir = workdir / "logs"
        for target in endpoints:
            run_cell(pgbench, CELLS[0], target, 2, logdir, "warmup")
        runs = run_matrix(pgbench, CELLS, endpoints, args.duration, args.rounds, logdir)
        say(f"load average at the end {load()}")
        say(table(CELLS, [e.name for e in endpoints], runs))
    finally:
        for proxy in proxies:
            proxy.stop()
        if floor is not None:
            floor.stop()
        if bouncer is not None:
            bouncer.stop()
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
