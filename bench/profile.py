"""``python -m bench.profile``: where the proxy's time goes under pgbench.

Starts a throwaway PostgreSQL and skewguard, runs ``pgbench -S`` (prepared, 8
clients by default; ``--script orm``: the ORM-like workload) through the proxy
while ``py-spy`` samples the proxy process, then prints the functions with the
most samples (own time and inclusive time). ``--svg`` also records a flame graph in a second run.
Needs ``py-spy`` (``pip install py-spy``) and ptrace rights (root, or
``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from bench.pgbench import SCRIPT_LABELS, Cell, initialise, run_cell
from bench.targets import (
    HOST,
    Endpoint,
    raise_nofile_limit,
    skewguard_endpoint,
    start_postgres,
    start_skewguard,
    tool_path,
)


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _frame(text: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py:12)``."""
    name, sep, where = text.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1]}" if sep else text


def summarise(collapsed: Path, top: int) -> str:
    """Own and inclusive sample shares per function from py-spy's raw (collapsed) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame(f) for f in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "own time (leaf frames):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def record(
    spy: str,
    pid: int,
    seconds: int,
    output: Path,
    fmt: str,
    pgbench_run: threading.Thread,
    native: bool,
) -> None:
    pgbench_run.start()
    subprocess.run(
        [
            spy,
            "record",
            # --native needs the process stopped while sampling; without it, don't stop it
            *(["--native"] if native else ["--nonblocking"]),
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "250",
            "--format",
            fmt,
            "-o",
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    pgbench_run.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--duration", type=int, default=15, help="seconds to sample (default 15)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--mode", default="prepared", choices=("simple", "extended", "prepared"))
    parser.add_argument(
        "--script",
        default="select",
        choices=tuple(SCRIPT_LABELS),
        help="select (pgbench -S, default), tpcb or orm (bench/orm/)",
    )
    parser.add_argument("--svg", type=Path, default=None, help="also write a flame graph here")
    parser.add_argument("--collapsed", type=Path, default=Path("/tmp/skewguard-profile.txt"))
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--native", action="store_true", help="include C frames (uvloop, libc) in the stacks"
    )
    args = parser.parse_args(argv)
    spy = py_spy()
    if spy is None:
        print("py-spy is not installed: .venv/bin/python -m pip install py-spy", file=sys.stderr)
        return 2
    raise_nofile_limit()
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-profile-"))
    os.chmod(workdir, 0o711)
    cluster = start_postgres(workdir, max_connections=200)
    proxy = None
    try:
        pgbench = tool_path(cluster.install, "pgbench")
        initialise(pgbench, Endpoint("direct", HOST, cluster.port), 2)
        proxy = start_skewguard(cluster.port, workdir / "proxy.log")
        target = skewguard_endpoint(proxy)
        assert target.pid is not None
        cell = Cell(args.script, args.mode, args.clients)
        logdir = workdir / "logs"
        run_cell(pgbench, cell, target, 2, logdir, "warmup")
        outputs = [(args.collapsed, "raw")] + ([(args.svg, "flamegraph")] if args.svg else [])
        for output, fmt in outputs:
            result: list[float] = []

            def bench(out: list[float] = result) -> None:
                out.append(run_cell(pgbench, cell, target, args.duration + 1, logdir, "p").tps)

            thread = threading.Thread(target=bench)
            record(spy, target.pid, args.duration, output, fmt, thread, args.native)
            print(f"{cell.name} through skewguard while sampling: {result[0]:.0f} tps -> {output}")
        print(summarise(args.collapsed, args.top))
        return 0
    finally:
        if proxy is not None:
            proxy.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
