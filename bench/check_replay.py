"""What ``skewguard check --replay`` costs: ``POST /api/check`` with and without replay.

``python -m bench.check_replay`` on a throwaway cluster with a fresh ``skewguard
run`` in front of it: 10 tagged versions each send 20 INSERT statement shapes on
``ledger`` (3 bound values each, psycopg binding on the server) and one DELETE;
then the same migration (``ADD CONSTRAINT … CHECK``, which every sampled value
passes) is checked ``--rounds`` times without and with ``?replay=1`` (the
samples replayed before and after the change in a scratch transaction on the
proxy's own connection, rolled back). p50 and max of each, and the replayed
statement runs per check. Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from bench.targets import DATABASE, HOST, USER, start_postgres, start_skewguard

VERSIONS = 10
SHAPES = 20
MIGRATION = "ALTER TABLE ledger ADD CONSTRAINT positive CHECK (amount > -100)"


def _post(admin: str, replay: bool) -> tuple[float, dict[str, Any]]:
    request = urllib.request.Request(
        admin + "/api/check" + ("?replay=1" if replay else ""),
        data=json.dumps({"sql": MIGRATION, "database": DATABASE}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: dict[str, Any] = json.load(response)
    return (time.perf_counter() - started) * 1000, answer


def _sample(port: int) -> None:
    for version in range(VERSIONS):
        url = f"postgresql://{USER}@{HOST}:{port}/{DATABASE}?application_name=pay@{version}"
        with psycopg.connect(url, autocommit=True) as conn:
            for shape in range(SHAPES):
                for amount in (1, 2, 3):
                    row = conn.execute(
                        f"INSERT INTO ledger (amount, note) VALUES (%s, %s || '{shape}') "
                        "RETURNING id",
                        (amount, "n"),
                    ).fetchone()
                    assert row is not None
                    conn.execute("DELETE FROM ledger WHERE id = %s", (row[0],))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.check_replay", description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-bench-check-replay-"))
    cluster = start_postgres(workdir, max_connections=50)
    try:
        cluster.psql(
            "CREATE TABLE ledger (id serial PRIMARY KEY, amount int NOT NULL, note text)",
            database=DATABASE,
        )
        proxy = start_skewguard(cluster.port, workdir / "proxy.log")
        try:
            _sample(proxy.port)
            for replay in (False, True):
                took = []
                for _ in range(args.rounds):
                    ms, answer = _post(proxy.admin_url, replay)
                    took.append(ms)
                print(
                    f"check{' --replay' if replay else ''}: p50 {statistics.median(took):.1f} ms, "
                    f"max {max(took):.1f} ms ({args.rounds} rounds; decision "
                    f"{answer['decision']}, unjudged {answer['unjudged']})"
                )
            runs = proxy.metrics().get(("skewguard_replay_statements_total", ()), 0)
            print(f"replayed statement runs per check: {runs / args.rounds:.0f}")
        finally:
            proxy.stop()
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
