"""One pgbench run against one target, and what it measured.

Throughput and failures come from pgbench's summary; latency percentiles come
from its per-transaction log (``-l``): one line per transaction, the third
field being the transaction's latency in microseconds (or ``failed`` /
``skipped``).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.targets import DATABASE, USER, Endpoint, cpu_times

MODES = ("simple", "extended", "prepared")

#: The ORM-like workload: pgbench scripts (``bench/orm/``) and how often each runs:
#: 20 distinct statements over the pgbench tables, reads and writes, as an ORM
#: writes them (quoted names, column lists, LIMIT, a transaction around a transfer).
ORM_SCRIPTS = {
    "account_page": 4,
    "listing": 3,
    "transfer": 2,
    "report": 1,
    "touch": 1,
}
ORM_DIR = Path(__file__).resolve().parent / "orm"
#: How a script's cells are named.
SCRIPT_LABELS = {"select": "S", "tpcb": "tpcb", "orm": "orm"}


@dataclass(frozen=True, slots=True)
class Cell:
    """One benchmark configuration, run against every target."""

    script: str  # "select" (pgbench -S), "tpcb" (the default TPC-B-like script) or "orm"
    mode: str  # pgbench --protocol
    clients: int

    @property
    def name(self) -> str:
        return f"{SCRIPT_LABELS[self.script]}-{self.mode}-c{self.clients}"

    @property
    def threads(self) -> int:
        return min(self.clients, 2)


@dataclass(slots=True)
class RunResult:
    """What one pgbench invocation reported."""

    tps: float
    transactions: int
    failed: int
    latencies_us: list[int] = field(default_factory=list)
    aborted: bool = False
    error: str = ""
    server_cpu_s: float | None = None  # CPU used by the target's own process (pooler/proxy)
    server_user_s: float | None = None  # the user-space part of it (the rest is the kernel's)


_TPS = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.M)
_PROCESSED = re.compile(r"number of transactions actually processed: (\d+)")
_FAILED = re.compile(r"number of failed transactions: (\d+)")


def pgbench_command(
    pgbench: str, cell: Cell, target: Endpoint, duration: float, log_prefix: Path | None
) -> list[str]:
    args = [
        pgbench,
        "-n",  # no vacuum before each run: the interleaving keeps drift fair
        "-M",
        cell.mode,
        "-c",
        str(cell.clients),
        "-j",
        str(cell.threads),
        "-T",
        str(max(1, round(duration))),
        "-h",
        target.host,
        "-p",
        str(target.port),
        "-U",
        USER,
    ]
    if cell.script == "select":
        args.append("-S")
    elif cell.script == "orm":
        args += [f"--file={ORM_DIR / name}.sql@{weight}" for name, weight in ORM_SCRIPTS.items()]
    if log_prefix is not None:
        args += ["-l", f"--log-prefix={log_prefix}"]
    return [*args, DATABASE]


def run_cell(
    pgbench: str, cell: Cell, target: Endpoint, duration: float, logdir: Path, tag: str
) -> RunResult:
    """Run pgbench once; read its summary and per-transaction log, then delete the log."""
    logdir.mkdir(parents=True, exist_ok=True)
    prefix = logdir / f"{tag}-{cell.name}-{target.name}"
    command = pgbench_command(pgbench, cell, target, duration, prefix)
    cpu_before = cpu_times(target.pid) if target.pid else None
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=duration + 120
    )
    cpu_used = user_used = None
    if target.pid and cpu_before is not None:
        user, system = cpu_times(target.pid)
        user_used = user - cpu_before[0]
        cpu_used = user_used + system - cpu_before[1]
    out = done.stdout + done.stderr
    tps = _TPS.search(out)
    processed = _PROCESSED.search(out)
    failed = _FAILED.search(out)
    latencies, log_failed = _read_logs(prefix)
    aborted = done.returncode != 0 or "aborted" in done.stderr.lower()
    return RunResult(
        tps=float(tps.group(1)) if tps else 0.0,
        transactions=int(processed.group(1)) if processed else len(latencies),
        failed=int(failed.group(1)) if failed else log_failed,
        latencies_us=latencies,
        aborted=aborted,
        error=done.stderr.strip()[-600:] if aborted else "",
        server_cpu_s=cpu_used,
        server_user_s=user_used,
    )


def _read_logs(prefix: Path) -> tuple[list[int], int]:
    """Latencies (µs) and failed-transaction count from every thread's log file."""
    latencies: list[int] = []
    failed = 0
    for path in sorted(prefix.parent.glob(prefix.name + ".*")):
        with path.open() as log:
            for line in log:
                fields = line.split(maxsplit=3)
                if len(fields) < 3:
                    continue
                value = fields[2]
                if value.isdigit():
                    latencies.append(int(value))
                elif value == "failed":
                    failed += 1
        path.unlink()
    return latencies, failed


def initialise(pgbench: str, target: Endpoint, scale: int) -> None:
    """``pgbench -i`` (tables, data, vacuum, primary keys) straight into PostgreSQL."""
    done = subprocess.run(
        [
            pgbench,
            "-i",
            "-q",
            "-s",
            str(scale),
            "-h",
            target.host,
            "-p",
            str(target.port),
            "-U",
            USER,
            DATABASE,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench -i failed:\n{done.stderr[-2000:]}")


def percentile(sorted_values: list[int], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, int(fraction * len(sorted_values) + 0.5) - 1))
    return float(sorted_values[rank])
