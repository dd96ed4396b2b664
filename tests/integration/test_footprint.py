"""Footprints learned from live traffic, read back from /api/versions, kept across restarts."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import forked
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess

SCHEMA = """
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE users (id serial PRIMARY KEY, email text, name text, status mood);
CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users, total numeric);
INSERT INTO users (email, name, status) VALUES ('a@x', 'Ann', 'happy');
"""


@dataclass
class Shop:
    proxy: ProxyProcess
    database: str
    cluster: LocalCluster

    def url(self, app: str) -> str:
        return self.proxy.url(database=self.database, application_name=app)


@pytest.fixture(scope="module")
def shop(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    database = unique("shop")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    with direct(cluster, dbname=database) as conn:
        conn.execute(SCHEMA)
    workdir = tmp_path_factory.mktemp("footprint")
    proxy = ProxyProcess(
        upstream=cluster.url(), state=workdir / "state.db", logfile=workdir / "proxy.log"
    ).start()
    shop = Shop(proxy, database, cluster)
    _v1_traffic(shop)  # what shop@1 and shop@2 use; every test may read it, in any order
    _v2_traffic(shop)
    _settled(proxy)
    yield shop
    shop.proxy.stop()  # the restart test swaps in a new process


def _settled(proxy: ProxyProcess) -> None:
    """Until two listings agree: the proxy has learned from every session that closed
    (a client's close reaches the proxy after the client returns)."""
    deadline = time.monotonic() + 30
    last = proxy.versions()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = proxy.versions()
        if now == last:
            return
        last = now
    raise AssertionError("the proxy's footprints kept changing for 30 s")


def _v1_traffic(shop: Shop) -> None:
    """shop@1: simple protocol reads, and asyncpg's named prepared statements."""
    with psycopg.connect(shop.url("shop@1"), cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute("SELECT email FROM users WHERE id = 1").fetchall()
        conn.execute("SELECT email FROM users WHERE id = 2").fetchall()

    async def prepared() -> None:
        conn = await asyncpg.connect(shop.url("shop@1"))
        try:
            statement = await conn.prepare("SELECT u.name FROM users u WHERE u.id = $1")
            for user_id in (1, 2, 3):
                await statement.fetch(user_id)
        finally:
            await conn.close()

    asyncio.run(prepared())


def _v2_traffic(shop: Shop) -> None:
    """shop@2: extended protocol in a pipeline, an enum label written, a join."""
    with psycopg.connect(shop.url("shop@2")) as conn, conn.pipeline():
        conn.execute("INSERT INTO orders (user_id, total) VALUES (%s, %s)", (1, 10))
        conn.execute("INSERT INTO orders (user_id, total) VALUES (%s, %s)", (1, 12))
        conn.execute("UPDATE users SET status = 'sad' WHERE id = %s", (1,))
        conn.execute(
            "SELECT o.total FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email = %s",
            ("a@x",),
        )


V1 = {
    "role:postgres",
    "relation_read:public.users",
    "column_read:public.users.email",
    "column_read:public.users.id",
    "column_read:public.users.name",
    "prepared_result:public.users.name",  # asyncpg's named statement returns it
}
V2 = {
    "role:postgres",
    "relation_write:public.orders",
    "column_write:public.orders.user_id",
    "column_write:public.orders.total",
    "insert_shape:public.orders(total,user_id)",
    "sequence_default:public.orders_id_seq",
    "relation_write:public.users",
    "column_write:public.users.status",
    # the statements give these their own values (SG122: GENERATED ALWAYS refuses them)
    "value_supplied:public.orders.user_id",
    "value_supplied:public.orders.total",
    "value_supplied:public.users.status",
    "column_read:public.users.id",
    "enum_label_write:public.mood:sad",
    "relation_read:public.orders",
    "relation_read:public.users",
    "column_read:public.orders.total",
    "column_read:public.orders.user_id",
    "column_read:public.users.email",
    # how each write is made: parameters, an UPDATE, an INSERT without ON CONFLICT; the
    # constant 'sad' written to status is kept in the store and never listed
    "write_other:public.orders.user_id",
    "write_other:public.orders.total",
    "column_update:public.users.status",
    "insert_conflict:public.orders|none",
}


def test_two_versions_learn_exactly_what_they_use(shop: Shop) -> None:
    assert shop.proxy.footprint(shop.database, "shop", "1") == V1
    assert shop.proxy.footprint(shop.database, "shop", "2") == V2


def test_evidence_counts_and_samples(shop: Shop) -> None:
    row = shop.proxy.versions()[(shop.database, "shop", "1")]
    evidence = {f["facet"]: f for f in row["facets"]}
    # two simple queries that differ only in a literal, plus three executions of one
    # prepared statement (its Parse counts once too)
    assert evidence["column_read:public.users.email"]["count"] >= 2
    assert evidence["column_read:public.users.name"]["count"] >= 3
    assert "users" in evidence["column_read:public.users.name"]["sample"]
    assert row["first_seen"] <= row["last_seen"]


def test_missing_column_is_recorded_and_counted(shop: Shop) -> None:
    with (
        psycopg.connect(shop.url("shop@3")) as conn,
        pytest.raises(psycopg.errors.UndefinedColumn),
    ):
        conn.execute("SELECT nickname FROM users")
    footprint = shop.proxy.footprint(shop.database, "shop", "3")
    assert "missing_column:public.users.nickname" in footprint
    metrics = shop.proxy.metrics()
    key = ("skewguard_missing_references_total", (("app", "shop"), ("version", "3")))
    assert metrics[key] >= 1


def test_unparseable_query_is_answered_like_postgres(shop: Shop) -> None:
    bad = "SELEC 1 FROM"
    results = []
    for dsn in (
        shop.url("shop@4"),
        f"postgresql://postgres@127.0.0.1:{shop.cluster.port}/{shop.database}",
    ):
        proc = subprocess.run(
            ["psql", "-X", "-d", dsn, "-c", bad], capture_output=True, text=True, check=False
        )
        results.append((proc.returncode, proc.stdout, proc.stderr))
    assert results[0] == results[1]
    assert "syntax error" in results[0][2]
    shop.proxy.versions()  # the API flushes pending analysis first
    metrics = shop.proxy.metrics()
    assert metrics[("skewguard_analysis_failures_total", (("reason", "syntax"),))] >= 1


def test_search_path_change_resolves_to_the_new_schema(shop: Shop) -> None:
    with direct(shop.cluster, dbname=shop.database) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS billing")
        conn.execute("CREATE TABLE IF NOT EXISTS billing.users (id int, plan text)")
    with psycopg.connect(shop.url("shop@5"), autocommit=True) as conn:
        conn.execute("SET search_path TO billing, public")
        conn.execute("SELECT plan FROM users").fetchall()
    footprint = shop.proxy.footprint(shop.database, "shop", "5")
    assert "column_read:billing.users.plan" in footprint
    assert "relation_read:public.users" not in footprint


def test_footprints_survive_a_restart(shop: Shop, tmp_path: Path) -> None:
    before = shop.proxy.versions()
    assert shop.proxy.stop() == 0
    restarted = shop.proxy.restarted()
    shop.proxy = restarted
    after = restarted.versions()
    for key in [(shop.database, "shop", "1"), (shop.database, "shop", "2")]:
        assert {f["facet"]: f["count"] for f in after[key]["facets"]} == {
            f["facet"]: f["count"] for f in before[key]["facets"]
        }


def test_versions_command_reads_state_and_admin(shop: Shop) -> None:
    api = shop.proxy.versions()
    for source in (["--state", str(shop.proxy.state)], ["--admin", shop.proxy.admin_url]):
        proc = forked.run(["versions", "list", *source, "--json"])  # ready-imported
        assert proc.returncode == 0, proc.stderr
        rows = {
            (r["database"], r["app"], r["version"]): r for r in json.loads(proc.stdout)["versions"]
        }
        key = (shop.database, "shop", "2")
        assert {f["facet"] for f in rows[key]["facets"]} == V2
        assert rows[key]["facets"] == api[key]["facets"]
    table = subprocess.run(
        [sys.executable, "-m", "skewguard", "versions", "--state", str(shop.proxy.state)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert any(line.split()[:3] == [shop.database, "shop", "2"] for line in table.splitlines())


def test_a_kill_after_a_flush_loses_nothing(shop: Shop) -> None:
    with psycopg.connect(shop.url("shop@9"), autocommit=True) as conn:
        conn.execute("SELECT name FROM users WHERE id = 1").fetchall()
    before = shop.proxy.footprint(shop.database, "shop", "9")  # the API flushes first
    assert "column_read:public.users.name" in before
    assert shop.proxy.process is not None
    shop.proxy.process.kill()  # SIGKILL: no shutdown flush
    shop.proxy.process.wait()
    shop.proxy = shop.proxy.restarted()
    assert shop.proxy.footprint(shop.database, "shop", "9") == before


def test_written_constants_are_stored_but_never_listed(shop: Shop) -> None:
    marker = "marker-5f3a"
    with psycopg.connect(shop.url("shop@7"), cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute(f"UPDATE users SET name = '{marker}' WHERE id = 0")
    listed = json.dumps(shop.proxy.versions()[(shop.database, "shop", "7")])
    assert "column_update:public.users.name" in listed
    assert shop.proxy.state is not None
    with sqlite3.connect(shop.proxy.state) as db:
        stored = {row[0]: row[1] for row in db.execute(
            "SELECT facet, sample FROM facets WHERE app = 'shop' AND version = '7'"
        )}  # fmt: skip
    assert stored[f"write_value:public.users.name|s:{marker}"] == (
        "UPDATE users SET name = '?' WHERE id = 0"
    )
    assert "write_value" not in listed
    assert marker not in listed  # samples keep the statement's shape, never its values


def test_a_huge_statement_is_answered_but_not_learned(shop: Shop) -> None:
    """Past --max-analysed-statement (1 MiB): relayed untouched, counted, not analysed."""
    big = "x" * (3 << 20)
    with psycopg.connect(shop.url("shop@11"), autocommit=True) as conn:
        row = conn.execute(f"SELECT length('{big}'), name FROM users WHERE id = 1").fetchone()
        assert row is not None and row[0] == len(big)
        conn.execute("SELECT email FROM users WHERE id = 1").fetchall()
    facets = shop.proxy.footprint(shop.database, "shop", "11")
    assert "column_read:public.users.email" in facets  # the small one is learned
    assert "column_read:public.users.name" not in facets  # the huge one is not
    too_long = ("skewguard_analysis_failures_total", (("reason", "too-long"),))
    assert shop.proxy.metrics()[too_long] >= 1


def test_an_untagged_sessions_schema_changes_are_not_analysed(shop: Shop) -> None:
    """A migration (untagged) sends each statement once: the guard judges its schema
    changes, and analysing them for footprints would only take the relay's CPU (an
    untagged session protects nothing). Its queries are still learned."""
    analysed = ("skewguard_statements_analyzed_total", ())
    shop.proxy.versions()  # whatever was waiting is analysed now
    before = shop.proxy.metrics()[analysed]

    async def migrate() -> None:  # simple protocol
        conn = await asyncpg.connect(shop.url(""))
        try:
            for i in range(10):
                await conn.execute(f"CREATE TABLE mig_simple_{i} (id int)")
            await conn.execute("BEGIN; ALTER TABLE mig_simple_0 ADD COLUMN c int; COMMIT")
        finally:
            await conn.close()

    asyncio.run(migrate())
    with psycopg.connect(shop.url(""), autocommit=True) as conn:  # extended protocol
        for i in range(10):
            conn.execute(f"CREATE TABLE mig_extended_{i} (id int)")
        conn.execute("SELECT name FROM users WHERE id = 1 AND true").fetchall()
    untagged = shop.proxy.footprint(shop.database, "(untagged)", "(untagged)")
    assert "column_read:public.users.name" in untagged
    assert 1 <= shop.proxy.metrics()[analysed] - before < 10


def test_every_command_takes_format_json(shop: Shop) -> None:
    """One --format option across commands (--json is short for it)."""
    shop.proxy.versions()
    proc = subprocess.run(
        [sys.executable, "-m", "skewguard", "versions", "--admin", shop.proxy.admin_url,
         "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "versions" in json.loads(proc.stdout)
    bad = subprocess.run(
        [sys.executable, "-m", "skewguard", "versions", "--format", "yaml"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "invalid choice: 'yaml'" in bad.stderr
