"""``make soak`` / ``python -m bench.soak``: hours of traffic in minutes, watching memory.

Starts a throwaway cluster and ``skewguard run`` in front of it, then for
``SOAK_MINUTES`` (default 10; ``--minutes``) runs at once:

- mixed reads and writes from several tagged versions (``shop@1``, ``shop@2``,
  ``api@7``), two connections each;
- a migrator (untagged) that every few seconds adds and drops a column nobody
  uses (allowed) and tries to drop one ``shop@1`` reads (blocked: intended);
- a storm of distinct statement shapes from ``storm@1``, as fast as it goes;
- once, a third into the run, one 50 MB statement.

Prints what was served, the errors (every one other than the intended blocks
is a failure), the DDL decisions and their latency, the learning backlog and
what it shed, and the proxy's RSS at start, middle and end. Tests never run it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import errors

from bench.targets import DATABASE, HOST, USER, rss_kib, start_postgres
from tests.support.proxy import ProxyProcess

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, name text, visits int DEFAULT 0);
CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users, total numeric(10, 2));
INSERT INTO users (email, name)
  SELECT 'u' || g || '@x', 'user ' || g FROM generate_series(1, 1000) g;
INSERT INTO orders (user_id, total)
  SELECT 1 + g % 1000, g % 97 FROM generate_series(1, 5000) g;
"""
#: What each tagged version runs, in turn (``{n}`` is a counter: literals vary).
VERSIONS = {
    "shop@1": [
        "SELECT id, email, name FROM users WHERE id = {k}",
        "UPDATE users SET visits = visits + 1 WHERE id = {k}",
        "INSERT INTO orders (user_id, total) VALUES ({k}, 9.99)",
    ],
    "shop@2": [
        "SELECT u.name, sum(o.total) FROM users u JOIN orders o ON o.user_id = u.id "
        "WHERE u.id = {k} GROUP BY u.name",
        "INSERT INTO users (email, name) VALUES ('n{n}@x', 'new') RETURNING id",
    ],
    "api@7": [
        "SELECT count(*) FROM orders WHERE user_id = {k}",
        "SELECT id, total FROM orders WHERE id = {k}",
    ],
}
CONNECTIONS_PER_VERSION = 2
BIG_STATEMENT = 50 * 1024 * 1024


@dataclass
class Tally:
    """What the workers did; one lock for all of it (the counts are cheap)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    served: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    unjudged: Counter[str] = field(default_factory=Counter)  # refusals by reason
    decisions: Counter[str] = field(default_factory=Counter)
    decision_ms: list[float] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def error(self, where: str, exc: BaseException) -> None:
        with self.lock:
            self.errors[f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"] += 1


def _app(proxy: ProxyProcess, tag: str, statements: list[str], stop: float, tally: Tally) -> None:
    n = 0
    try:
        dsn = proxy.dsn(dbname=DATABASE, application_name=tag)
        with psycopg.connect(dsn, autocommit=True) as c:
            while time.monotonic() < stop:
                for text in statements:
                    n += 1
                    started = time.perf_counter()
                    cursor = c.execute(text.format(k=1 + n % 1000, n=f"{tag}-{n}"))
                    if cursor.description is not None:
                        cursor.fetchall()
                    elapsed = (time.perf_counter() - started) * 1000
                    with tally.lock:
                        tally.served[tag] += 1
                        if n % 10 == 0:
                            tally.query_ms.append(elapsed)
    except Exception as exc:
        tally.error(tag, exc)


def _migrator(proxy: ProxyProcess, stop: float, tally: Tally) -> None:
    """Allowed expand/contract of an unused column, and a blocked drop of a used one.

    A refusal because the guard could not judge in time (55006 "cannot judge") is
    counted apart: it is the guard saying so, not a wrong decision.
    """
    n = 0
    with psycopg.connect(proxy.dsn(dbname=DATABASE), autocommit=True) as c:
        c.execute("SET lock_timeout = '2s'")
        while time.monotonic() < stop:
            n += 1
            steps = [
                (f"ALTER TABLE users ADD COLUMN scratch_{n} text", "allow"),
                (f"ALTER TABLE users DROP COLUMN scratch_{n}", "allow"),
                ("ALTER TABLE users DROP COLUMN email", "block"),
            ]
            for sql, expected in steps:
                outcome, why = _decide(c, sql, tally)
                if outcome is None:
                    break
                if outcome == "unjudged":
                    with tally.lock:
                        tally.unjudged[why] += 1
                    break  # its column may not exist: start again
                if outcome != expected:
                    with tally.lock:
                        tally.errors[f"migrator: {sql!r}: {outcome} ({why}), not {expected}"] += 1
            time.sleep(3)


def _decide(
    conn: psycopg.Connection[tuple[object, ...]], sql: str, tally: Tally
) -> tuple[str | None, str]:
    """Run one DDL statement: its outcome (None: another error) and the refusal's message."""
    started = time.perf_counter()
    try:
        conn.execute(sql)
        outcome, why = "allow", ""
    except errors.ObjectInUse as exc:
        why = str(exc).splitlines()[0][:160]
        outcome = "unjudged" if "cannot judge" in why else "block"
    except Exception as exc:
        tally.error("migrator", exc)
        return None, ""
    with tally.lock:
        tally.decisions[outcome] += 1
        tally.decision_ms.append((time.perf_counter() - started) * 1000)
    return outcome, why


def _storm(proxy: ProxyProcess, stop: float, tally: Tally) -> None:
    n = 0
    try:
        dsn = proxy.dsn(dbname=DATABASE, application_name="storm@1")
        with psycopg.connect(dsn, autocommit=True) as c:
            while time.monotonic() < stop:
                n += 1
                c.execute(f"SELECT id AS c{n} FROM users WHERE id = {1 + n % 1000}").fetchall()
    except Exception as exc:
        tally.error("storm", exc)
    with tally.lock:
        tally.served["storm@1 (distinct shapes)"] += n


def _big(proxy: ProxyProcess, at: float, tally: Tally) -> None:
    time.sleep(max(0.0, at - time.monotonic()))
    sql = "SELECT length('" + "x" * BIG_STATEMENT + "')"
    try:
        dsn = proxy.dsn(dbname=DATABASE, application_name="shop@1")
        with psycopg.connect(dsn, autocommit=True) as c:
            started = time.perf_counter()
            row = c.execute(sql).fetchone()
            elapsed = time.perf_counter() - started
        ok = row == (BIG_STATEMENT,)
        with tally.lock:
            tally.served["50 MB statement"] += 1
            tally.notes.append(f"50 MB statement answered in {elapsed:.2f} s (correct: {ok})")
            if not ok:
                tally.errors[f"50 MB statement answered {row!r}"] += 1
    except Exception as exc:
        tally.error("50 MB statement", exc)


def _metric(proxy: ProxyProcess, name: str, **labels: str) -> float:
    return proxy.metrics().get((name, tuple(sorted(labels.items()))), float("nan"))


def _quantiles(ms: list[float]) -> str:
    if len(ms) < 2:
        return "n/a"
    q = statistics.quantiles(ms, n=100)
    return f"n={len(ms)} p50={q[49]:.1f} ms p99={q[98]:.1f} ms max={max(ms):.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument(
        "--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "10"))
    )
    args = parser.parse_args(argv)
    seconds = args.minutes * 60
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-soak-"))
    os.chmod(workdir, 0o711)
    cluster = start_postgres(workdir, max_connections=60)
    proxy: ProxyProcess | None = None
    try:
        cluster.psql(SCHEMA, database=DATABASE)
        proxy = ProxyProcess(
            upstream=f"postgresql://{USER}@{HOST}:{cluster.port}/{DATABASE}?sslmode=disable",
            extra_args=["--log-level", "warning"],
            state=workdir / "state.db",
            logfile=workdir / "proxy.log",
        ).start()
        assert proxy.process is not None
        pid = proxy.process.pid
        tally = Tally()
        begin = time.monotonic()
        stop = begin + seconds
        workers = [
            threading.Thread(target=_app, args=(proxy, tag, statements, stop, tally))
            for tag, statements in VERSIONS.items()
            for _ in range(CONNECTIONS_PER_VERSION)
        ]
        workers.append(threading.Thread(target=_migrator, args=(proxy, stop, tally)))
        workers.append(threading.Thread(target=_storm, args=(proxy, stop, tally)))
        workers.append(threading.Thread(target=_big, args=(proxy, begin + seconds / 3, tally)))
        for worker in workers:
            worker.start()
        rss: list[tuple[float, int]] = []
        peak_backlog = 0.0
        while any(w.is_alive() for w in workers):
            rss.append((time.monotonic() - begin, rss_kib(pid)))
            peak_backlog = max(peak_backlog, _metric(proxy, "skewguard_learning_backlog_texts"))
            time.sleep(5)
        for worker in workers:
            worker.join()
        rss.append((time.monotonic() - begin, rss_kib(pid)))
        backlog = _metric(proxy, "skewguard_learning_backlog_texts")
        shed = {
            r: _metric(proxy, "skewguard_learning_shed_texts_total", reason=r)
            for r in ("duplicate", "distinct")
        }
        versions = json.loads(proxy.get("/api/versions?facets=0"))["versions"]
        tally.notes.append(f"learning backlog: peak {peak_backlog:g} texts (5 s samples)")
        _report(args.minutes, tally, rss, backlog, shed, len(versions))
        return 1 if tally.errors else 0
    finally:
        if proxy is not None:
            proxy.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _report(
    minutes: float,
    tally: Tally,
    rss: list[tuple[float, int]],
    backlog: float,
    shed: dict[str, float],
    versions: int,
) -> None:
    warm = next((kib for at, kib in rss if at >= 30), rss[0][1])  # after the first 30 s
    middle = rss[len(rss) // 2][1]
    print(f"skewguard soak: {minutes:g} min")
    print(f"  served: {sum(tally.served.values())} statements")
    for tag, count in sorted(tally.served.items()):
        print(f"    {tag:<28} {count}")
    print(f"  tagged reads/writes latency: {_quantiles(tally.query_ms)} (1 in 10 sampled)")
    decided = ", ".join(f"{k} {v}" for k, v in sorted(tally.decisions.items()))
    print(f"  DDL decisions: {decided}; round trip {_quantiles(tally.decision_ms)}")
    for why, count in tally.unjudged.most_common(3):
        print(f"    unjudged {count} x {why}")
    print(f"  learning backlog at the end: {backlog:g} texts; shed: {shed}")
    print(f"  versions known: {versions}")
    for note in tally.notes:
        print(f"  {note}")
    print(
        f"  RSS: start {rss[0][1] / 1024:.0f} MiB, after warm-up {warm / 1024:.0f} MiB, "
        f"middle {middle / 1024:.0f} MiB, end {rss[-1][1] / 1024:.0f} MiB, "
        f"max {max(k for _, k in rss) / 1024:.0f} MiB"
    )
    print(f"  errors (other than the intended blocks): {sum(tally.errors.values())}")
    for what, count in tally.errors.most_common(10):
        print(f"    {count} x {what}")


if __name__ == "__main__":
    raise SystemExit(main())
