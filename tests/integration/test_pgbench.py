"""pgbench through the proxy in every query mode: no failed transactions, consistent data."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, run_tool, unique
from tests.support.proxy import ProxyProcess

CLIENTS, TRANSACTIONS = 4, 200


def pgbench() -> str:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    program = str(found[-1]) if found else shutil.which("pgbench")
    if program is None:
        pytest.skip("pgbench is not installed")
    return program


@pytest.fixture(scope="module")
def bench_db(cluster: LocalCluster, proxy: ProxyProcess) -> Iterator[str]:
    """A fresh database initialised by ``pgbench -i -s 1`` through the proxy."""
    name = unique("bench")
    with direct(cluster) as conn:
        conn.execute(f"create database {name}")
    done = run_tool(pgbench(), ["-i", "-s", "1", "-q", proxy.dsn(dbname=name, sslmode="disable")])
    assert done.returncode == 0, done.stderr
    assert "done in" in done.stderr
    with direct(cluster, dbname=name) as conn:
        assert conn.execute("select count(*) from pgbench_accounts").fetchone() == (100000,)
    yield name
    with direct(cluster) as conn:
        conn.execute(f"drop database {name} with (force)")


def report(stdout: str) -> dict[str, str]:
    fields = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


@pytest.mark.parametrize(
    ("mode", "sslmode"),
    [
        ("simple", "disable"),
        ("extended", "require"),
        ("prepared", "disable"),
        ("prepared", "require"),
    ],
)
def test_pgbench_modes(
    cluster: LocalCluster, proxy: ProxyProcess, bench_db: str, mode: str, sslmode: str
) -> None:
    with direct(cluster, dbname=bench_db) as conn:
        (history_before,) = conn.execute("select count(*) from pgbench_history").fetchone() or (0,)
    args = ["-n", "-M", mode, "-t", str(TRANSACTIONS), "-c", str(CLIENTS), "-j", "2"]
    done = run_tool(pgbench(), [*args, proxy.dsn(dbname=bench_db, sslmode=sslmode)])
    assert done.returncode == 0, done.stderr
    fields = report(done.stdout)
    total = CLIENTS * TRANSACTIONS
    assert fields["query mode"] == mode
    assert fields["number of transactions actually processed"] == f"{total}/{total}"
    failed = re.match(r"(\d+) ", fields.get("number of failed transactions", "0 "))
    assert failed is not None and failed.group(1) == "0", done.stdout
    tps = re.search(r"^tps = ([\d.]+)", done.stdout, re.M)
    assert tps is not None and float(tps.group(1)) > 0, done.stdout

    with direct(cluster, dbname=bench_db) as conn:
        history, deltas, balances = conn.execute(
            "select (select count(*) from pgbench_history),"
            " (select coalesce(sum(delta), 0) from pgbench_history),"
            " (select sum(abalance) from pgbench_accounts)"
        ).fetchone() or (0, 0, 0)
    assert int(str(history)) - int(str(history_before)) == total
    assert deltas == balances  # every committed transaction applied all of its updates
