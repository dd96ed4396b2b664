"""``python -m bench.workers``: what ``run --workers N`` buys, interleaved in one run.

pgbench -S (prepared) at 8 and 64 clients against pgbouncer, the floor
(bench.floor) and skewguard with 1 and 2 workers, each also pinned to one CPU
(``sched_setaffinity`` on every thread of the process tree, as ``taskset -a``):
pinned, the proxy is CPU-bound, which is where a second worker on a second core
must pay off; unpinned with 2 workers it must at least not lose. Reports TPS
and the CPU µs per transaction of each target's whole process tree (a
supervisor and its workers), with the load average before and after: other
work on the machine moves every figure.

``--splice`` compares the floor's three ways of moving the server→client leg
instead (bench.floor ``--mode transport|raw|splice``) beside skewguard and
pgbouncer, at 1, 8 and 64 clients.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable
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

WORKER_CELLS = [Cell("select", "prepared", 8), Cell("select", "prepared", 64)]
SPLICE_CELLS = [Cell("select", "prepared", c) for c in (1, 8, 64)]
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


class Targets:
    """What one run starts, so that everything is stopped whatever happens."""

    def __init__(self, upstream_port: int, workdir: Path) -> None:
        self.upstream_port = upstream_port
        self.workdir = workdir
        self.proxies: list[ProxyProcess] = []
        self.floors: list[FloorRelay] = []
        self.bouncer: PgBouncer | None = None

    def pgbouncer(self) -> list[Endpoint]:
        binary = pgbouncer_binary()
        if binary is None:
            say("SKIPPING pgbouncer: not installed")
            return []
        self.bouncer = PgBouncer(binary, self.upstream_port, self.workdir / "pgbouncer")
        return [self.bouncer.start()]

    def floor(self, mode: str = "transport") -> Endpoint:
        relay = FloorRelay(self.upstream_port, mode)
        self.floors.append(relay)
        return relay.start()

    def skewguard(self, workers: int, cpus: set[int] | None = None) -> Endpoint:
        name = f"skewguard-w{workers}" + ("-1cpu" if cpus else "")
        proxy = start_skewguard(
            self.upstream_port, self.workdir / f"{name}.log", extra=["--workers", str(workers)]
        )
        self.proxies.append(proxy)
        endpoint = skewguard_endpoint(proxy, name)
        if cpus is not None:
            assert endpoint.pid is not None
            pin(endpoint.pid, cpus)
        return endpoint

    def stop(self) -> None:
        for proxy in self.proxies:
            proxy.stop()
        for relay in self.floors:
            relay.stop()
        if self.bouncer is not None:
            self.bouncer.stop()


def worker_targets(targets: Targets) -> list[Endpoint]:
    return [
        *targets.pgbouncer(),
        targets.floor(),
        targets.skewguard(1),
        targets.skewguard(1, ONE_CPU),
        targets.skewguard(2),
        targets.skewguard(2, ONE_CPU),
    ]


def splice_targets(targets: Targets) -> list[Endpoint]:
    return [
        *targets.pgbouncer(),
        targets.floor(),
        targets.floor("raw"),
        targets.floor("splice"),
        targets.skewguard(1),
    ]


def compare(
    cells: list[Cell], build: Callable[[Targets], list[Endpoint]], duration: float, rounds: int
) -> str:
    """Every cell on every target ``build`` starts, interleaved; the table."""
    raise_nofile_limit()
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-bench-workers-"))
    os.chmod(workdir, 0o711)
    cluster = start_postgres(workdir, max_connections=300)
    targets = Targets(cluster.port, workdir)
    try:
        pgbench = tool_path(cluster.install, "pgbench")
        initialise(pgbench, Endpoint("direct", HOST, cluster.port), 2)
        endpoints = build(targets)
        say(f"{os.cpu_count()} CPUs; load average at start {load()}")
        logdir = workdir / "logs"
        for target in endpoints:
            run_cell(pgbench, cells[0], target, 2, logdir, "warmup")
        runs = run_matrix(pgbench, cells, endpoints, duration, rounds, logdir)
        say(f"load average at the end {load()}")
        return table(cells, [e.name for e in endpoints], runs)
    finally:
        targets.stop()
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved passes")
    parser.add_argument("--splice", action="store_true", help="the floor's splice experiment")
    args = parser.parse_args()
    if args.splice:
        say(compare(SPLICE_CELLS, splice_targets, args.duration, args.rounds))
    else:
        say(compare(WORKER_CELLS, worker_targets, args.duration, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
