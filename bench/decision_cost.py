"""``python -m bench.decision_cost``: what one DDL decision costs when a protected
version's footprint is large (issue #8: "cost grows with the change, not the catalog").

On a throwaway cluster, one version (``shop@1``, connected through the proxy, so live
and protected) is given N facets in the state store before the proxy starts (written
with the store's own ``write``, as a proxy would have learned them), in a SQLite file
and in a PostgreSQL state database. Then an untagged connection sends, one at a time:

- ``CREATE TABLE scratch_N``: harmless (nothing the version uses: screened);
- ``ALTER TABLE users DROP COLUMN email``: the version reads ``users.email``, so the
  guard judges it in full and refuses it (55006, enforce), and it can be sent again.

Each kind runs in two ways: *quiet* (back to back: the store has not changed since the
last decision) and *after a write* (the version ran a query and the learner's flush,
about once a second, wrote it to the store before the DDL: the case where a proxy used
to read every facet again). Reported per decision: wall milliseconds (p50, as the
client sees it) and the proxy's CPU milliseconds (mean over the loop; CPU is steadier
than wall time on a shared machine). Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.profile import py_spy
from bench.targets import DATABASE, HOST, USER, cpu_seconds, start_postgres
from skewguard.analysis import Facet, FacetKind
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.store import PostgresStore, SqliteStore, StateStore
from tests.support.proxy import ProxyProcess

SCHEMA = "CREATE TABLE users (id serial PRIMARY KEY, email text, name text)"
USED = "SELECT id, email FROM users WHERE id = 1"
HARMLESS = "CREATE TABLE scratch_{n} (id int)"
DROP = "ALTER TABLE users DROP COLUMN email"
KINDS = (FacetKind.COLUMN_READ, FacetKind.RELATION_READ, FacetKind.MISSING_RELATION)


def facets_batch(key: VersionKey, count: int) -> FootprintBatch:
    """``count`` facets of one version: the query the bench runs, then filler that
    names tables the database does not have (as a session naming many tables would)."""
    batch = FootprintBatch()
    now = time.time()
    real = {Facet(FacetKind.COLUMN_READ, "public.users.email")}
    real |= {Facet(FacetKind.COLUMN_READ, "public.users.id")}
    real |= {Facet(FacetKind.RELATION_READ, "public.users")}
    batch.record(key, frozenset(real), 1, now, USED)
    filler = frozenset(
        Facet(KINDS[i % len(KINDS)], f"public.t{i // 30}.c{i % 30}")
        for i in range(max(0, count - len(real)))
    )
    batch.record(key, filler, 1, now, "SELECT c FROM t")
    return batch


def _decide(conn: psycopg.Connection[tuple[object, ...]], sql: str) -> float:
    """Wall ms of one statement (a refusal is an answer too)."""
    started = time.perf_counter()
    with contextlib.suppress(psycopg.errors.ObjectInUse):  # 55006: the guard refused it
        conn.execute(sql)
    return (time.perf_counter() - started) * 1000


def run(
    tag: str,
    state: str,
    store: StateStore,
    pg_port: int,
    facets: int,
    rounds: int,
    log: Path,
    *,
    profile: bool = False,
    source: Path | None = None,
) -> dict[str, tuple[float, float]]:
    """Per (kind, way): (p50 wall ms, mean proxy CPU ms) over ``rounds`` decisions."""
    key = VersionKey(DATABASE, "shop", "1")
    store.write(facets_batch(key, facets))
    store.close()
    upstream = f"postgresql://{USER}@{HOST}:{pg_port}/{DATABASE}?sslmode=disable"
    flags = ["--log-level", "warning", "--mode", "enforce", "--state", state]
    flags += ["--max-version-facets", str(facets * 2)]
    env = {"PYTHONPATH": str(source)} if source is not None else {}
    proxy = ProxyProcess(upstream=upstream, extra_args=flags, env=env, logfile=log).start()
    assert proxy.process is not None
    pid = proxy.process.pid
    out: dict[str, tuple[float, float]] = {}
    spy = _spy(pid, log.with_suffix(".spy")) if profile else None
    try:
        tagged = proxy.dsn(dbname=DATABASE, application_name="shop@1")
        app = psycopg.connect(tagged, autocommit=True)
        ddl = psycopg.connect(proxy.dsn(dbname=DATABASE), autocommit=True)
        app.execute(USED).fetchall()
        time.sleep(1.5)
        _decide(ddl, DROP)  # warm: catalog, analysis caches, the first store read
        _decide(ddl, HARMLESS.format(n=f"{tag}_warm"))
        n = 0
        for way in ("quiet", "after a write"):
            for kind, sql in (("harmless", HARMLESS), ("DROP COLUMN", DROP)):
                walls: list[float] = []
                cpu = 0.0
                for _ in range(rounds):
                    if way == "after a write":
                        app.execute(USED).fetchall()
                        time.sleep(1.2)  # the learner's flush writes it to the store
                    n += 1
                    before = cpu_seconds(pid)
                    walls.append(_decide(ddl, sql.format(n=f"{tag}_{n}")))
                    cpu += cpu_seconds(pid) - before
                out[f"{kind}, {way}"] = (statistics.median(walls), cpu * 1000 / rounds)
        app.close()
        ddl.close()
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        proxy.stop()
    return out


def _spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the proxy into ``out`` (raw collapsed stacks) until SIGINT."""
    tool = py_spy()
    if tool is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    args = [tool, "record", "--pid", str(pid), "--format", "raw", "-o", str(out), "--threads"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facets", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument(
        "--source",
        type=Path,
        help="a proxy/ directory to run skewguard from (an older revision's: before/after)",
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy the proxy; raw stacks go to DIR/proxy-STORE.spy"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-decision-cost-"))
    cluster = start_postgres(workdir, max_connections=50)
    try:
        cluster.psql(SCHEMA, database=DATABASE)
        cluster.psql("CREATE DATABASE state")
        results: dict[str, dict[str, tuple[float, float]]] = {}
        for name in args.stores.split(","):
            if name == "sqlite":
                path = str(workdir / "state.db")
                store: StateStore = SqliteStore(path, max_facets=args.facets * 2)
                state = path
            else:
                state = cluster.url(user=USER, database="state", sslmode="disable")
                store = PostgresStore(state, max_facets=args.facets * 2)
            log = Path(args.profile or workdir) / f"proxy-{name}.log"
            results[name] = run(
                name, state, store, cluster.port, args.facets, args.rounds, log,
                profile=args.profile is not None, source=args.source,
            )  # fmt: skip
        print(f"{args.facets} facets in one protected version, {args.rounds} decisions each")
        print(f"{'store':10} {'decision':28} {'p50 wall ms':>12} {'CPU ms':>8}")
        for name, rows in results.items():
            for what, (wall, cpu) in rows.items():
                print(f"{name:10} {what:28} {wall:12.1f} {cpu:8.1f}")
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
