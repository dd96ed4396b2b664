"""Staging -> production: an exported footprint, imported, protects a version before it connects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.proxy import ProxyProcess
from tests.support.sites import create_database

pytestmark = pytest.mark.integration


def _skewguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skewguard", *args], capture_output=True, text=True, check=False
    )


def test_export_import_protects_an_expected_version(cluster: LocalCluster, tmp_path: Path) -> None:
    schema = "CREATE TABLE users (id int PRIMARY KEY, email text, legacy text)"
    staging_db = create_database(cluster, "staging", schema)
    production_db = create_database(cluster, "prod", schema)
    staging = ProxyProcess(
        upstream=cluster.url(), state=tmp_path / "staging.db", logfile=tmp_path / "staging.log"
    ).start()
    try:
        url = staging.url(database=staging_db, application_name="shop@2")
        with psycopg.connect(url, autocommit=True) as v2:
            v2.execute("SELECT email FROM users WHERE id = %s", (7,)).fetchall()
            v2.execute("UPDATE users SET legacy = 'secret-literal-1234' WHERE id = 7")
        staging.versions()
        exported = _skewguard(
            "footprints", "export", "shop@2", "--database", staging_db, "--admin", staging.admin_url
        )
        assert exported.returncode == 0, exported.stderr
    finally:
        staging.stop()
    document = json.loads(exported.stdout)
    assert (document["format"], document["format_version"]) == ("skewguard-footprint", 1)
    assert "column_read:public.users.email" in {f["facet"] for f in document["facets"]}
    assert "secret-literal-1234" not in exported.stdout  # facets, never samples
    path = tmp_path / "shop-2.json"
    path.write_text(exported.stdout)

    production_state = tmp_path / "production.db"
    imported = _skewguard(
        "footprints", "import", str(path), "--database", production_db,
        "--state", str(production_state),
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert "pinned (expected)" in imported.stdout
    production = ProxyProcess(
        upstream=cluster.url(), state=production_state, logfile=tmp_path / "production.log"
    ).start()
    try:
        migrator = production.url(database=production_db)
        with psycopg.connect(migrator, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.ObjectInUse) as blocked:  # shop@2 never connected
                conn.execute("ALTER TABLE users DROP COLUMN email")
            assert "shop@2" in (blocked.value.diag.message_detail or "")
            retired = _skewguard("versions", "retire", "shop@2", "--admin", production.admin_url)
            assert retired.returncode == 0, retired.stderr
            conn.execute("ALTER TABLE users DROP COLUMN email")  # retire ends it
    finally:
        production.stop()


def test_a_malformed_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "skewguard-footprint", "format_version": 99}))
    result = _skewguard("footprints", "import", str(path), "--state", str(tmp_path / "s.db"))
    assert result.returncode == 2
    assert "format_version 99 is not supported" in result.stderr
