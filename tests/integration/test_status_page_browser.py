"""The status page as a browser draws it: headless Chromium (Debian's ``chromium``,
installed by scripts/system-deps.sh) takes a screenshot of a proxy that has blocked a
migration; the screenshot is kept for people to look at, and the test looks at it too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from skewguard.pgcluster import LocalCluster
from tests.support import png
from tests.support.clients import tool_env
from tests.support.sites import proxied_database

pytestmark = pytest.mark.integration

#: Where screenshots are kept after the run (CI uploads this folder).
ARTIFACTS = Path(
    os.environ.get(
        "SKEWGUARD_TEST_ARTIFACTS",
        Path(__file__).resolve().parents[2] / "build" / "test-artifacts",
    )
)
#: tr.block's background in status_page.py: a blocked decision's row.
BLOCK_ROW = (0xFF, 0xEB, 0xE9)
WIDTH, HEIGHT = 1280, 1000


def _chromium() -> str:
    found = shutil.which("chromium")
    assert found, "chromium missing: scripts/system-deps.sh installs Debian's chromium"
    return found


def _screenshot(url: str, target: Path, profile: Path) -> None:
    proc = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
         f"--screenshot={target}", url],
        capture_output=True, text=True, timeout=60, check=False, env=tool_env(),
    )  # fmt: skip
    assert proc.returncode == 0 and target.exists(), proc.stderr[-2000:]


def test_status_page_screenshot_shows_the_blocked_migration(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    schema = "CREATE TABLE users (id int PRIMARY KEY, email text, name text)"
    shot = ARTIFACTS / f"status-page-pg{cluster.install.major}.png"
    with (
        proxied_database(cluster, tmp_path, "statuspage", schema, "--mode", "enforce") as site,
        psycopg.connect(site[1].url(database=site[0], application_name="shop@1")) as app,
    ):
        database, proxy = site
        app.execute("SELECT id, email FROM users").fetchall()
        app.commit()
        with (
            psycopg.connect(proxy.url(database=database), autocommit=True) as migrator,
            pytest.raises(errors.ObjectInUse),
        ):
            migrator.execute("ALTER TABLE users DROP COLUMN email")
        checked = subprocess.run(
            [sys.executable, "-m", "skewguard", "check", "-", "--admin", proxy.admin_url,
             "--database", database],
            input="ALTER TABLE users DROP COLUMN name;", capture_output=True, text=True,
            check=False, env=tool_env(),
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "<tr class='block'>" in proxy.get("/")

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot.unlink(missing_ok=True)
        _screenshot(proxy.admin_url + "/", shot, tmp_path / "chromium")

    image = png.read(shot)
    print(f"status page screenshot: {shot}")
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    colours = image.colours()
    assert BLOCK_ROW in colours, "the blocked decision's row is not highlighted"
    assert len(colours) > 20, "the page looks blank"
