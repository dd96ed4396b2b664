"""What a side probe as another role pays before it runs: one round trip asking whether
the URL's user may become the role (``side_probes.may_become``, replay_roles' query),
on a catalog of 2,000 PL/pgSQL functions and 5,000 tables with two defaults each.

    .venv/bin/python scripts/probe_role_cost.py [--pg 15|18]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import psycopg

from skewguard.side_probes import may_become
from tests.support.clusters import Certificates, available_installs, start_cluster

_CATALOG = """
DO $$ BEGIN
  FOR i IN 1..2000 LOOP EXECUTE format('CREATE FUNCTION f%s(int) RETURNS int'
    ' LANGUAGE plpgsql AS $b$ BEGIN RETURN $1 + %s; END $b$', i, i); END LOOP;
  FOR i IN 1..5000 LOOP EXECUTE format('CREATE TABLE t%s (id int DEFAULT 1 + %s,'
    ' v text DEFAULT lower(''x''))', i, i); END LOOP;
END $$"""


async def _measure(port: int) -> list[float]:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user="postgres", database="postgres", ssl=False
    )
    try:
        times = []
        for _ in range(7):
            started = time.perf_counter()
            assert await may_become(conn, "probe_role", "postgres")
            times.append(time.perf_counter() - started)
        return sorted(times)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", type=int, default=15)
    install = next(i for i in available_installs() if i.major == parser.parse_args().pg)
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-probe-role-"))
    cluster = start_cluster(install, Certificates.make(workdir))
    try:
        url = f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres sslmode=disable"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE ROLE probe_role LOGIN")
            conn.execute(_CATALOG)
        times = asyncio.run(_measure(cluster.port))
        print(f"PG{install.major}: min {times[0] * 1000:.1f} ms, median {times[3] * 1000:.1f} ms")
    finally:
        cluster.stop()
        shutil.rmtree(cluster.datadir.parent, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
