"""`skewguard ready APP@VERSION`: the current schema against what that version really used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import forked
from tests.support.clients import direct
from tests.support.proxy import ProxyProcess
from tests.support.sites import create_database

pytestmark = pytest.mark.integration


def _ready(
    proxy: ProxyProcess,
    cluster: LocalCluster,
    database: str,
    name: str,
    *source: str,
    entry_point: bool = False,
) -> tuple[int, dict[str, Any], str]:
    """``skewguard ready``: forked (the command's behaviour), or with ``entry_point``
    from ``python -m skewguard`` as an operator runs it (~1.5 s of imports each)."""
    argv = ["ready", name, "--upstream", cluster.url(), "--database", database, *source, "--json"]
    if entry_point:
        command = [sys.executable, "-m", "skewguard", *argv]
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
    else:
        proc = forked.run(argv)
    return proc.returncode, (json.loads(proc.stdout) if proc.stdout.strip() else {}), proc.stderr


def test_ready_before_and_after_the_migration(cluster: LocalCluster, tmp_path: Path) -> None:
    database = create_database(
        cluster, "ready", "CREATE TABLE users (id serial PRIMARY KEY, email text)"
    )
    proxy = ProxyProcess(
        upstream=cluster.url(), state=tmp_path / "state.db", logfile=tmp_path / "proxy.log"
    ).start()
    try:
        url = proxy.url(database=database)
        # shop@1 inserts emails; shop@2 (a canary that ran before its migration) reads nickname
        with psycopg.connect(url + "?application_name=shop@1", autocommit=True) as v1:
            v1.execute("INSERT INTO users (email) VALUES ('a@x')")
        with (
            psycopg.connect(url + "?application_name=shop@2", autocommit=True) as v2,
            pytest.raises(psycopg.errors.UndefinedColumn),
        ):
            v2.execute("SELECT id, nickname FROM users")
        proxy.versions()  # flushed into the state

        for source in (["--admin", proxy.admin_url], ["--state", str(tmp_path / "state.db")]):
            code, report, stderr = _ready(proxy, cluster, database, "shop@2", *source)
            assert code == 1, (report, stderr)
            problems = [g["problem"] for g in report["gaps"]]
            assert problems == ["column public.users.nickname does not exist"], problems
            code, _, stderr = _ready(proxy, cluster, database, "shop@1", *source)
            assert code == 0, stderr

        with direct(cluster, dbname=database) as conn:  # expand: v2 ready; v1's inserts now fail
            conn.execute("ALTER TABLE users ADD COLUMN nickname text")
            conn.execute("ALTER TABLE users ADD COLUMN phone text NOT NULL DEFAULT ''")
            conn.execute("ALTER TABLE users ALTER COLUMN phone DROP DEFAULT")
        code, _, stderr = _ready(proxy, cluster, database, "shop@2", "--admin", proxy.admin_url)
        assert code == 0, stderr
        code, report, _ = _ready(proxy, cluster, database, "shop@1", "--admin", proxy.admin_url)
        assert code == 1
        (gap,) = report["gaps"]
        assert "omit NOT NULL column(s) without a default: phone" in gap["problem"]
        with (
            psycopg.connect(url + "?application_name=shop@1", autocommit=True) as v1,
            pytest.raises(psycopg.errors.NotNullViolation),  # PostgreSQL agrees
        ):
            v1.execute("INSERT INTO users (email) VALUES ('b@x')")

        code, _, stderr = _ready(
            proxy, cluster, database, "shop@9", "--admin", proxy.admin_url, entry_point=True
        )
        assert code == 2 and "never seen" in stderr
    finally:
        proxy.stop()
