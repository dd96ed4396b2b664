"""``skewguard check --replay`` (#14): the running proxy replays the protected versions'
sampled statements before and after the migration in a scratch transaction it
always rolls back; PostgreSQL is the judge, as on the live path (test_replay.py).

Real clients send real values through the proxy (asyncpg prepared statements,
psycopg binding on the server); the migration is a file given to the CLI.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.sites import Site, proxied_site

pytestmark = pytest.mark.integration

SCHEMA = "CREATE TABLE ledger (id serial PRIMARY KEY, amount int NOT NULL, note varchar(100));"
#: A value no placeholder or name looks like: it must never leave the proxy.
MARKER = "zq-marker-5519"
POSITIVE = "ALTER TABLE ledger ADD CONSTRAINT positive CHECK (amount > 0);\n"


@pytest.fixture
def site(cluster: LocalCluster, tmp_path: Path) -> Iterator[Site]:
    with proxied_site(cluster, tmp_path, "checkreplay", SCHEMA) as found:
        yield found


def _psycopg_writes(site: Site, app: str, amounts: list[int]) -> None:
    """``app`` inserts and deletes rows with values bound on the server (psycopg)."""
    with site.via_proxy(app) as conn:
        for amount in amounts:
            row = conn.execute(
                "INSERT INTO ledger (amount, note) VALUES (%s, %s) RETURNING id", (amount, MARKER)
            ).fetchone()
            assert row is not None
            conn.execute("DELETE FROM ledger WHERE id = %s", (row[0],))


async def _asyncpg_writes(site: Site, app: str, amounts: list[int]) -> None:
    """The same through asyncpg prepared statements (binary parameters)."""
    conn = await asyncpg.connect(
        site.proxy.url(database=site.database), server_settings={"application_name": app}
    )
    try:
        insert = await conn.prepare(
            "INSERT INTO ledger (amount, note) VALUES ($1, $2) RETURNING id"
        )
        delete = await conn.prepare("DELETE FROM ledger WHERE id = $1")
        for amount in amounts:
            await delete.fetch(await insert.fetchval(amount, MARKER))
    finally:
        await conn.close()


def _writes(site: Site, client: str, app: str, amounts: list[int]) -> None:
    if client == "asyncpg":
        asyncio.run(_asyncpg_writes(site, app, amounts))
    else:
        _psycopg_writes(site, app, amounts)


def _check(site: Site, tmp_path: Path, sql: str, *args: str) -> tuple[int, dict[str, Any], str]:
    migration = tmp_path / "migration.sql"
    migration.write_text(sql)
    proc = subprocess.run(
        [sys.executable, "-m", "skewguard", "check", str(migration), *args,
         "--admin", site.proxy.admin_url, "--database", site.database, "--json"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    report = json.loads(proc.stdout) if proc.stdout.strip() else {}
    return proc.returncode, report, proc.stdout + proc.stderr


def _trace(site: Site) -> tuple[Any, ...]:
    """What a check must leave as it found it: rows, constraints, locks on ledger, the
    sequence, and backends of the proxy's scratch connections."""
    with site.direct() as conn:
        return (
            conn.execute("SELECT count(*) FROM ledger").fetchone(),
            conn.execute(
                "SELECT count(*) FROM pg_constraint WHERE conrelid = 'ledger'::regclass"
            ).fetchone(),
            conn.execute(
                "SELECT count(*) FROM pg_locks WHERE relation = 'ledger'::regclass"
            ).fetchone(),
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                "'skewguard-check-replay'"
            ).fetchone(),
        )


def _replay_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report.get("findings", []) if f["rule"] == "replay"]


@pytest.mark.parametrize("client", ["asyncpg", "psycopg"])
def test_a_bound_value_a_new_check_rejects_is_named_with_its_sqlstate(
    site: Site, tmp_path: Path, client: str
) -> None:
    _writes(site, client, "pay@1", [0, 5])
    _writes(site, client, "pay@2", [5, 7])
    before = _trace(site)
    code, report, output = _check(site, tmp_path, POSITIVE, "--replay")
    assert code == 1, output
    assert report["verdict"] == "breaking"
    found = _replay_findings(report)
    assert [f["version"]["app"] + "@" + f["version"]["version"] for f in found] == ["pay@1"]
    assert found[0]["severity"] == "break"
    assert "23514" in found[0]["message"] and "fails after it" in found[0]["message"]
    assert found[0]["where"].endswith("migration.sql:1:1")
    assert MARKER not in output
    assert MARKER not in site.proxy.get("/api/decisions")
    assert _trace(site) == before  # rolled back: no constraint, no row, no lock, no backend
    # without --replay nothing runs in the database, and nothing is replayed
    code, report, output = _check(site, tmp_path, POSITIVE)
    assert not _replay_findings(report), output


def test_a_look_alike_every_sampled_value_fits_is_allowed(site: Site, tmp_path: Path) -> None:
    _writes(site, "psycopg", "pay@2", [5, 7])
    asyncio.run(_asyncpg_writes(site, "pay@3", [9]))
    before = _trace(site)
    code, report, output = _check(site, tmp_path, POSITIVE, "--replay")
    assert code == 0, output
    assert report["verdict"] == "safe" and not _replay_findings(report)
    assert _trace(site) == before


def test_transaction_control_in_the_migration_never_commits_the_trial(
    site: Site, tmp_path: Path
) -> None:
    _writes(site, "psycopg", "pay@1", [0])
    before = _trace(site)
    sql = "BEGIN;\n" + POSITIVE + "COMMIT;\n" + "ALTER TABLE ledger ADD COLUMN extra int;\n"
    code, report, output = _check(site, tmp_path, sql, "--replay")
    assert code == 1, output
    assert [f["version"]["app"] for f in _replay_findings(report)] == ["pay"]
    assert _trace(site) == before
    with site.direct() as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'ledger'::regclass "
            "AND attname = 'extra'"
        ).fetchone() == (0,)


def test_a_lock_held_elsewhere_cannot_be_judged_in_time(site: Site, tmp_path: Path) -> None:
    _writes(site, "psycopg", "pay@1", [0])
    with site.direct() as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT count(*) FROM ledger")  # ACCESS SHARE until it ends
        started = time.monotonic()
        code, report, output = _check(site, tmp_path, POSITIVE, "--replay")
        took = time.monotonic() - started
        assert code == 2, output
        message = " ".join(e["message"] for e in report["errors"])
        assert "cannot judge" in message and "55P03" in message, message
        assert took < 8, took  # the default --decision-timeout is 5 s; the CLI starts too
        with site.direct() as conn:
            others = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE relation = 'ledger'::regclass AND pid <> %s",
                (holder.info.backend_pid,),
            ).fetchone()
        assert others == (0,)
        holder.execute("ROLLBACK")


def test_a_migration_postgresql_refuses_there_is_reported(site: Site, tmp_path: Path) -> None:
    _writes(site, "psycopg", "pay@1", [5])
    with site.direct() as conn:
        conn.execute("INSERT INTO ledger (amount) VALUES (-1)")  # an existing row fails it
    before = _trace(site)
    code, report, output = _check(site, tmp_path, POSITIVE, "--replay")
    assert code == 2, output
    message = " ".join(e["message"] for e in report["errors"])
    assert "scratch transaction" in message and "23514" in message, message
    assert "violated by some row" in message
    assert _trace(site) == before


def test_replay_needs_the_running_proxy(tmp_path: Path) -> None:
    migration = tmp_path / "m.sql"
    migration.write_text(POSITIVE)
    proc = subprocess.run(
        [sys.executable, "-m", "skewguard", "check", str(migration), "--replay",
         "--state", str(tmp_path / "s.db"), "--upstream", "postgresql://localhost/x"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--replay needs --admin" in proc.stderr
