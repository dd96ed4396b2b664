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
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import forked
from tests.support.ledger import bound_writes, prepared_writes
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


def _writes(site: Site, client: str, app: str, amounts: list[int]) -> None:
    if client == "asyncpg":
        asyncio.run(prepared_writes(site, app, amounts, MARKER))
    else:
        bound_writes(site, app, amounts, MARKER)


def _check(site: Site, tmp_path: Path, sql: str, *args: str) -> tuple[int, dict[str, Any], str]:
    migration = tmp_path / "migration.sql"
    migration.write_text(sql)
    proc = forked.run(  # the command forked ready-imported; its arguments: test below
        ["check", str(migration), *args,
         "--admin", site.proxy.admin_url, "--database", site.database, "--json"],
        timeout=60,
    )  # fmt: skip
    report = json.loads(proc.stdout) if proc.stdout.strip() else {}
    return proc.returncode, report, proc.stdout + proc.stderr


def _post_check(site: Site, sql: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        site.proxy.admin_url + "/api/check" + query,
        data=json.dumps({"sql": sql, "database": site.database}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


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
    asyncio.run(prepared_writes(site, "pay@3", [9], MARKER))
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
        assert "could not take its locks" in message
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


def test_replays_past_the_deadline_cannot_be_judged(cluster: LocalCluster, tmp_path: Path) -> None:
    """A new trigger (which the rules cannot model: replay must judge it) slows every
    replayed INSERT: the check answers within its --decision-timeout that it cannot
    judge, and its scratch backend goes."""
    with proxied_site(cluster, tmp_path, "checkreplay", SCHEMA, "--decision-timeout", "1s") as site:
        with site.direct() as conn:
            conn.execute(
                "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "PERFORM pg_sleep(0.3); RETURN NEW; END $$"
            )
        _writes(site, "psycopg", "pay@1", list(range(1, 17)))
        before = _trace(site)
        trigger = "CREATE TRIGGER slow BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION slow()"
        started = time.monotonic()
        answer = _post_check(site, trigger, "?replay=1")  # the API: no CLI start-up to time
        took = time.monotonic() - started
        assert answer["unjudged"] and "cannot judge" in answer["note"], answer
        assert took < 2, took
        deadline = time.monotonic() + 10
        while _trace(site) != before:  # a dropped backend ends once its statement does
            assert time.monotonic() < deadline, _trace(site)
            time.sleep(0.1)
        with site.direct() as conn:
            assert conn.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'slow'"
            ).fetchone() == (0,)


def test_a_trigger_every_version_survives_is_judged_by_replay(site: Site) -> None:
    """The rules cannot read what a new trigger does: plain check cannot judge it,
    check --replay asks PostgreSQL and allows it (pay@1's values all pass it)."""
    with site.direct() as conn:
        conn.execute(
            "CREATE FUNCTION no_big() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.amount > 1000 THEN RAISE EXCEPTION 'amount too big'; END IF; "
            "RETURN NEW; END $$"
        )
    _writes(site, "asyncpg", "pay@1", [5, 7])
    trigger = "CREATE TRIGGER no_big BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION no_big()"
    assert _post_check(site, trigger, "")["unjudged"] == "unmodelled"
    answer = _post_check(site, trigger, "?replay=1")
    assert answer["decision"] == "allow" and not answer["unjudged"], answer
    _writes(site, "psycopg", "pay@2", [5000])
    answer = _post_check(site, trigger, "?replay=1")
    assert answer["decision"] == "block", answer
    (found,) = [f for f in answer["findings"] if f["rule"] == "replay"]
    assert found["version"]["app"] == "pay" and found["version"]["version"] == "2"
    assert "P0001" in found["message"] and "amount too big" in found["message"]


def test_replay_off_in_the_proxy_is_said(cluster: LocalCluster, tmp_path: Path) -> None:
    with proxied_site(cluster, tmp_path, "checkreplay", SCHEMA, "--replay", "none") as site:
        with pytest.raises(urllib.error.HTTPError) as refused:
            _post_check(site, POSITIVE, "?replay=1")
        assert refused.value.code == 400
        assert "--replay none" in refused.value.read().decode()
