"""`skewguard check` in CI: a migration (files and directories, in order) judged as one
sequence, with file:line:column, and exit 2 for anything it cannot read or judge."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess
from tests.support.sites import create_database

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Shop:
    proxy: ProxyProcess
    database: str

    @property
    def admin_url(self) -> str:
        return self.proxy.admin_url


@pytest.fixture(scope="module")
def shop(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A proxy whose state knows shop@1, which reads users.email; the database is not postgres."""
    database = create_database(
        cluster, "checkcli", "CREATE TABLE users (id int PRIMARY KEY, email text, name text)"
    )
    workdir = tmp_path_factory.mktemp("checkcli")
    proxy = ProxyProcess(
        upstream=cluster.url(),  # the URL's database is postgres: --database matters
        state=workdir / "state.db",
        logfile=workdir / "proxy.log",
    ).start()
    with psycopg.connect(
        proxy.url(database=database, application_name="shop@1"), autocommit=True
    ) as app:
        app.execute("SELECT email FROM users").fetchall()
    proxy.versions()  # flushed into the state
    yield Shop(proxy, database)
    proxy.stop()


def _check(shop: Shop, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "skewguard", "check", *args, "--admin", shop.admin_url,
         "--database", shop.database, "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    report = json.loads(proc.stdout) if proc.stdout.strip() else {}
    return proc.returncode, report, proc.stderr


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_directory_is_one_migration_in_order(shop: Shop, tmp_path: Path) -> None:
    # 001 renames email to contact; 002 drops contact: only the sequence reaches shop@1's column
    _write(tmp_path / "m" / "001_add.sql", "ALTER TABLE users ADD COLUMN nickname text;\n")
    _write(
        tmp_path / "m" / "002_drop.sql",
        "-- contract step\n\nALTER TABLE users\n  DROP COLUMN email;\n",
    )
    code, report, stderr = _check(shop, str(tmp_path / "m"))
    assert code == 1, (report, stderr)
    assert report["verdict"] == "breaking"
    assert report["files"] == [
        str(tmp_path / "m" / "001_add.sql"),
        str(tmp_path / "m" / "002_drop.sql"),
    ]
    findings = report["findings"]
    assert isinstance(findings, list) and findings
    assert {f["where"] for f in findings if f["severity"] == "break"} == {
        f"{tmp_path / 'm' / '002_drop.sql'}:3:1"
    }


def test_a_later_file_sees_what_an_earlier_one_created(shop: Shop, tmp_path: Path) -> None:
    first = _write(tmp_path / "a.sql", "CREATE TABLE audit (id int, note text);\n")
    second = _write(tmp_path / "b.sql", "ALTER TABLE audit DROP COLUMN note;\n")
    code, report, stderr = _check(shop, str(first), str(second))
    assert code == 0, (report, stderr)
    assert report["verdict"] == "safe" and report["errors"] == []


def test_a_typo_is_an_error_with_its_position(shop: Shop, tmp_path: Path) -> None:
    path = _write(tmp_path / "typo.sql", "SELECT 1;\nALTER TABLE users DROP COLUMNN email;\n")
    code, report, _ = _check(shop, str(path))
    assert code == 2
    assert report["verdict"] == "error"
    (error,) = report["errors"]
    assert error["where"] == f"{path}:2:32"
    assert 'syntax error at or near "email"' in error["message"]


def test_psql_meta_commands(shop: Shop, tmp_path: Path) -> None:
    harmless = _write(
        tmp_path / "set.sql", "\\set ON_ERROR_STOP on\nALTER TABLE users DROP COLUMN email;\n"
    )
    code, report, _ = _check(shop, str(harmless))
    assert code == 1, report  # the meta-command is skipped, the DROP still judged
    assert report["warnings"] == [
        {"where": f"{harmless}:1:1", "message": "psql meta-command \\set skipped"}
    ]
    include = _write(tmp_path / "inc.sql", "\\i other.sql\nSELECT 1;\n")
    code, report, _ = _check(shop, str(include))
    assert code == 2
    assert "\\i cannot be followed" in json.dumps(report["errors"])


def test_a_statement_postgres_would_reject_is_an_error(shop: Shop, tmp_path: Path) -> None:
    path = _write(tmp_path / "wrongdb.sql", "ALTER TABLE users DROP COLUMN email;\n")
    proc = subprocess.run(
        [sys.executable, "-m", "skewguard", "check", str(path), "--admin", shop.admin_url,
         "--database", "postgres"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{path}:1:1: error: PostgreSQL would reject this statement" in proc.stdout
    assert "--database" in proc.stdout


def test_github_annotations(shop: Shop, tmp_path: Path) -> None:
    path = _write(tmp_path / "drop.sql", "ALTER TABLE users DROP COLUMN email;\n")
    proc = subprocess.run(
        [sys.executable, "-m", "skewguard", "check", str(path), "--admin", shop.admin_url,
         "--database", shop.database, "--format", "github"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"::error file={path},line=1,col=1::SG102" in proc.stdout
    assert "shop@1" in proc.stdout


def test_an_unreachable_proxy_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.sql", "SELECT 1;\n")
    proc = subprocess.run(
        [sys.executable, "-m", "skewguard", "check", str(path), "--admin", "http://127.0.0.1:9"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "cannot reach the proxy's admin API at http://127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr


@one_major()  # --wait-safe's asking again is the CLI's own, whatever the major
def test_wait_safe_returns_once_the_last_holder_is_retired(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    import time

    database = create_database(
        cluster, "waitsafe", "CREATE TABLE users (id int PRIMARY KEY, email text)"
    )
    proxy = ProxyProcess(
        upstream=cluster.url(database=database),
        state=tmp_path / "state.db",
        logfile=tmp_path / "proxy.log",
    ).start()
    try:
        with psycopg.connect(
            proxy.url(database=database, application_name="shop@1"), autocommit=True
        ) as app:
            app.execute("SELECT email FROM users").fetchall()
        proxy.versions()
        path = _write(tmp_path / "contract.sql", "ALTER TABLE users DROP COLUMN email;\n")
        command = [sys.executable, "-m", "skewguard", "check", str(path), "--admin",
                   proxy.admin_url, "--wait-safe"]  # fmt: skip
        timed_out = subprocess.run(
            [*command, "--timeout", "2s"], capture_output=True, text=True, check=False
        )
        assert timed_out.returncode == 1
        assert "still unsafe after 2s; held back by shop@1" in timed_out.stderr

        waiting = subprocess.Popen(
            [*command, "--timeout", "60s"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2)
        assert waiting.poll() is None  # still waiting for shop@1
        subprocess.run(
            [sys.executable, "-m", "skewguard", "versions", "retire", "shop@1",
             "--admin", proxy.admin_url],
            check=True, capture_output=True,
        )  # fmt: skip
        retired_at = time.monotonic()
        out, err = waiting.communicate(timeout=30)
        assert waiting.returncode == 0, out + err
        assert time.monotonic() - retired_at < 10
        # asked every second for 2 s or more; one line, as the holders never changed
        assert err.count("waiting; held back by shop@1") == 1, err
        assert ": safe" in out
    finally:
        proxy.stop()
