"""``python -m bench.admin_load``: do heavy admin API readers slow client traffic?

Fills a fresh state file with audited decisions (a few KB each, like real ones
with findings), starts ``skewguard run`` on a throwaway cluster, and measures
``SELECT 1`` through the proxy from one client: first alone, then while reader
processes loop ``GET /api/decisions?limit=10000``. The proxy runs from the
``skewguard`` package on ``PYTHONPATH`` (set it to another checkout's ``proxy``
folder to compare).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

from bench.targets import DATABASE, HOST, start_postgres
from skewguard.pgcluster import free_port
from skewguard.store import SqliteStore


def _fill(state: Path, decisions: int) -> None:
    store = SqliteStore(str(state))
    finding = {"rule": "SG101", "message": "x" * 600, "evidence": {"sample": "y" * 400}}
    now = time.time()
    for n in range(decisions):
        store.record_decision(
            {"at": now, "decision": "block", "n": n, "findings": [finding] * 4, "statements": []}
        )
    store.close()


def _reader(url: str, stop_at: float) -> None:
    while time.time() < stop_at:
        with urllib.request.urlopen(url, timeout=60) as response:
            while response.read(1 << 20):
                pass


def _latencies(dsn: str, seconds: float) -> list[float]:
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(0.002)
    return out


def _summary(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"{name:>22}: n={len(ms)} p50={q[49]:.2f} ms p99={q[98]:.2f} ms max={max(ms):.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.admin_load", description=__doc__)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-admin-load-"))
    os.chmod(workdir, 0o711)
    cluster = start_postgres(workdir, max_connections=50)
    proxy = None
    try:
        state = workdir / "state.db"
        _fill(state, args.decisions)
        port, admin = free_port(), free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "skewguard", "run", "--upstream",
             f"postgresql://postgres@{HOST}:{cluster.port}/{DATABASE}",
             "--listen", f"{HOST}:{port}", "--admin-listen", f"127.0.0.1:{admin}",
             "--state", str(state)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", admin), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the proxy did not start") from None
                time.sleep(0.1)
        dsn = f"host={HOST} port={port} user=postgres dbname={DATABASE}"
        print(_summary("alone", _latencies(dsn, args.seconds)))
        url = f"http://127.0.0.1:{admin}/api/decisions?limit=10000"
        stop_at = time.time() + args.seconds + 2
        readers = [
            multiprocessing.Process(target=_reader, args=(url, stop_at))
            for _ in range(args.readers)
        ]
        for reader in readers:
            reader.start()
        time.sleep(1)
        loaded = _latencies(dsn, args.seconds)
        for reader in readers:
            reader.join()
        print(_summary(f"{args.readers} admin readers", loaded))
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
