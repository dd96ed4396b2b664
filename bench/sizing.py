"""``python -m bench.sizing``: the proxy's memory per connection, per distinct statement
shape and per version (the figures of docs/operations.md, "Sizing").

Each step grows one thing through a fresh ``skewguard run`` in front of a throwaway
cluster and divides the growth of the proxy's RSS by how many were added: idle
tagged connections; distinct statement shapes from one connection, learned
(flushed) before measuring; versions that each ran the same few statements and
left. RSS moves in pages and the allocator keeps freed memory, so the figures are
upper bounds, good to a few tenths.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from bench.targets import DATABASE, HOST, USER, raise_nofile_limit, rss_kib, start_postgres
from tests.support.proxy import ProxyProcess

SCHEMA = "CREATE TABLE users (id serial PRIMARY KEY, email text, name text, visits int)"


def _settled_rss(proxy: ProxyProcess) -> int:
    """RSS once the learner has flushed what was sent (``/api/versions`` flushes)."""
    proxy.get("/api/versions?facets=0")
    time.sleep(1.5)
    assert proxy.process is not None
    return rss_kib(proxy.process.pid)


def _measure(proxy: ProxyProcess, count: int, grow: Callable[[ProxyProcess, int], object]) -> float:
    """KiB of RSS per unit added by ``grow(proxy, count)`` (after a warm-up of a tenth)."""
    grow(proxy, max(1, count // 10))
    before = _settled_rss(proxy)
    kept = grow(proxy, count)
    after = _settled_rss(proxy)
    del kept
    return (after - before) / count


def _connections(proxy: ProxyProcess, count: int) -> list[psycopg.Connection[tuple[object, ...]]]:
    out = []
    for n in range(count):
        conn = psycopg.connect(proxy.dsn(dbname=DATABASE, application_name="shop@1"))
        conn.execute("SELECT id, email FROM users WHERE id = %s", (n,)).fetchall()
        conn.commit()
        out.append(conn)
    return out


def _shapes(proxy: ProxyProcess, count: int) -> None:
    start = int(time.monotonic() * 1000)  # new shapes on every call
    dsn = proxy.dsn(dbname=DATABASE, application_name="shop@1")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in range(start, start + count):
            conn.execute(f"SELECT id AS c{n}, email FROM users WHERE id = 1").fetchall()


def _versions(proxy: ProxyProcess, count: int) -> None:
    start = int(time.monotonic() * 1000)
    for n in range(start, start + count):
        dsn = proxy.dsn(dbname=DATABASE, application_name=f"shop@{n}")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT id, email, name FROM users WHERE id = 1").fetchall()
            conn.execute("UPDATE users SET visits = 1 WHERE id = 1")
            conn.execute("INSERT INTO users (email, name) VALUES ('a', 'b')")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sizing", description=__doc__)
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--shapes", type=int, default=20_000)
    parser.add_argument("--versions", type=int, default=300)
    args = parser.parse_args(argv)
    raise_nofile_limit()
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-sizing-"))
    os.chmod(workdir, 0o711)
    cluster = start_postgres(workdir, max_connections=args.connections + 100)
    try:
        cluster.psql(SCHEMA, database=DATABASE)
        upstream = f"postgresql://{USER}@{HOST}:{cluster.port}/{DATABASE}?sslmode=disable"
        steps: list[tuple[str, int, Callable[[ProxyProcess, int], object]]] = [
            ("idle tagged connection", args.connections, _connections),
            ("distinct statement shape (learned)", args.shapes, _shapes),
            ("version (3 statements, then gone)", args.versions, _versions),
        ]
        for what, count, grow in steps:
            proxy = ProxyProcess(
                upstream=upstream,
                extra_args=["--log-level", "warning"],
                state=workdir / f"{grow.__name__}.db",
            ).start()
            try:
                per = _measure(proxy, count, grow)
            finally:
                proxy.stop()
            print(f"{what:>36}: {per:6.1f} KiB each ({count} added)")
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
