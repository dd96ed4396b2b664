"""docs/rolling-deploy.md, step by step, as one test: two sidecar proxies sharing their state
in PostgreSQL, a version learned in staging and expected in production, expand, ready,
roll out pod by pod, a contract held back until the old version is gone, and rollback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from skewguard.pgcluster import LocalCluster
from tests.support import forked
from tests.support.clients import direct
from tests.support.proxy import ProxyProcess
from tests.support.sites import create_database

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text, name text);
INSERT INTO users (email, name) VALUES ('a@x', 'Ann');
"""
# 2. expand: the new column, kept in step with the old one by a trigger, then a backfill
EXPAND = """
BEGIN;
ALTER TABLE users ADD COLUMN contact text;
CREATE FUNCTION users_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.contact := coalesce(NEW.contact, NEW.email);
  NEW.email := coalesce(NEW.email, NEW.contact);
  RETURN NEW;
END $$;
CREATE TRIGGER users_sync BEFORE INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION users_sync();
COMMIT;
UPDATE users SET contact = email WHERE contact IS NULL;
"""
CONTRACT = """
BEGIN;
DROP TRIGGER users_sync ON users;
DROP FUNCTION users_sync();
ALTER TABLE users DROP COLUMN email;
COMMIT;
"""


def _v1(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A shop@1 pod's connection: it reads and writes users.email."""
    conn = psycopg.connect(url + "?application_name=shop@1", autocommit=True)
    conn.execute("SELECT id, email FROM users WHERE id = 1").fetchall()
    conn.execute("INSERT INTO users (email, name) VALUES ('b@x', 'Bob')")
    return conn


def _v2(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A shop@2 pod's connection: it reads and writes users.contact instead."""
    conn = psycopg.connect(url + "?application_name=shop@2", autocommit=True)
    conn.execute("SELECT id, contact FROM users WHERE id = 1").fetchall()
    conn.execute("INSERT INTO users (contact, name) VALUES ('c@x', 'Cy')")
    return conn


def _skewguard(*args: str) -> subprocess.CompletedProcess[str]:
    """A pipeline step's command, forked ready-imported (the waiting step below is a
    real ``python -m skewguard``)."""
    return forked.run(args)


def _columns(cluster: LocalCluster, database: str) -> set[str]:
    with direct(cluster, dbname=database) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'"
        ).fetchall()
    return {str(r[0]) for r in rows}


@pytest.fixture
def databases(cluster: LocalCluster) -> Iterator[tuple[str, str, str]]:
    """(staging, production, state): three throwaway databases."""
    staging = create_database(cluster, "staging", SCHEMA + "ALTER TABLE users ADD contact text;")
    production = create_database(cluster, "production", SCHEMA)
    state = create_database(cluster, "state", "SELECT 1")
    yield staging, production, state
    with direct(cluster) as conn:
        for name in (staging, production, state):
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_rolling_deploy_end_to_end(
    cluster: LocalCluster, databases: tuple[str, str, str], tmp_path: Path
) -> None:
    staging_db, db, state_db = databases
    state = cluster.url(database=state_db, sslmode="disable")
    upstream = cluster.url(database=db)
    staging = ProxyProcess(
        upstream=cluster.url(database=staging_db), logfile=tmp_path / "staging.log"
    )
    sidecars = [
        ProxyProcess(
            upstream=upstream,
            logfile=tmp_path / f"pod-{pod}.log",
            extra_args=["--state", state, "--heartbeat-window", "2s"],
        )
        for pod in "ab"
    ]
    a, b = sidecars
    opened: list[psycopg.Connection[tuple[object, ...]]] = []
    try:
        for proxy in (staging, a, b):
            proxy.start()
        # 0. v1 runs in production, one pod behind each sidecar
        pods = {"a": _v1(a.url(database=db)), "b": _v1(b.url(database=db))}
        opened.extend(pods.values())

        # 1. v2 ran its test traffic in staging; carried to production, it is expected
        _v2(staging.url(database=staging_db)).close()
        exported = _skewguard(
            "footprints", "export", "shop@2", "--database", staging_db, "--admin", staging.admin_url
        )
        assert exported.returncode == 0, exported.stderr
        (tmp_path / "shop-2.json").write_text(exported.stdout)
        imported = _skewguard(
            "footprints", "import", str(tmp_path / "shop-2.json"), "--database", db,
            "--state", state,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        ready = _skewguard("ready", "shop@2", "--upstream", upstream, "--admin", a.admin_url)
        assert ready.returncode == 1 and "users.contact" in ready.stdout, ready.stdout

        # 2. expand, through a sidecar as a migration: allowed
        with psycopg.connect(a.url(database=db), autocommit=True) as migrator:
            migrator.execute(EXPAND)
        assert "contact" in _columns(cluster, db)

        # 3. the schema is ready for v2; rolling back to v1 is still possible
        for name in ("shop@2", "shop@1"):
            ready = _skewguard("ready", name, "--upstream", upstream, "--admin", a.admin_url)
            assert ready.returncode == 0, (name, ready.stdout, ready.stderr)

        # 4. v2 rolls out pod by pod: pod a first. The contract is refused while v1 is live
        pods["a"].close()
        pods["a"] = _v2(a.url(database=db))
        opened.append(pods["a"])
        contract = tmp_path / "contract.sql"
        contract.write_text(CONTRACT)
        check = _skewguard("check", str(contract), "--database", db, "--admin", b.admin_url)
        assert check.returncode == 1, check.stdout + check.stderr
        assert "shop@1" in check.stdout and "shop@2" not in check.stdout
        with (
            psycopg.connect(a.url(database=db), autocommit=True) as migrator,
            pytest.raises(errors.ObjectInUse) as blocked,
        ):
            migrator.execute(CONTRACT)
        assert blocked.value.diag.message_detail
        assert "shop@1 (live)" in blocked.value.diag.message_detail

        # 5. the pipeline waits for the contract to be safe ...
        waiting = subprocess.Popen(
            [sys.executable, "-m", "skewguard", "check", str(contract), "--database", db,
             "--admin", a.admin_url, "--wait-safe", "--timeout", "60s", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # ... while the last v1 pod drains (v1 stays protected: the rollback target) ...
        pods["b"].close()
        pods["b"] = _v2(b.url(database=db))
        opened.append(pods["b"])
        time.sleep(2)
        assert waiting.poll() is None
        versions = {(r["app"], r["version"]): r for r in a.versions().values()}
        assert versions[("shop", "1")]["protected"] in ("recent", "rollback-target")
        assert versions[("shop", "1")]["live_connections"] == 0
        # (it has asked once and is waiting: under load its start alone can take 2 s)
        assert waiting.stderr is not None
        held = waiting.stderr.readline()
        # ... and returns once rolling back to v1 is off the table
        retired = _skewguard("versions", "retire", "shop@1", "--admin", b.admin_url)
        assert retired.returncode == 0, retired.stderr
        retired_at = time.monotonic()
        out, err = waiting.communicate(timeout=30)
        assert waiting.returncode == 0, out + err
        assert time.monotonic() - retired_at < 5
        assert "waiting; held back by shop@1" in held + err
        report = json.loads(out)
        assert report["verdict"] == "safe" and report["wait"]["timed_out"] is False

        # the contract runs, through the other sidecar, while v2 keeps working
        with psycopg.connect(b.url(database=db), autocommit=True) as migrator:
            migrator.execute(CONTRACT)
        assert _columns(cluster, db) == {"id", "name", "contact"}
        pods["a"].execute("SELECT id, contact FROM users").fetchall()

        # the rollback branch: v1 would now break, and ready says why
        ready = _skewguard("ready", "shop@1", "--upstream", upstream, "--admin", a.admin_url)
        assert ready.returncode == 1, ready.stdout + ready.stderr
        assert "column public.users.email does not exist" in ready.stdout
    finally:
        for conn in opened:
            conn.close()
        for proxy in (staging, a, b):
            if proxy.alive:
                proxy.stop()
