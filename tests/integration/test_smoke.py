"""The proxy answers like PostgreSQL for the simplest client and shuts down cleanly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster, free_port, system_installs
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess


def test_query_through_proxy(proxy: ProxyProcess) -> None:
    with psycopg.connect(proxy.url(application_name="smoke@1")) as conn:
        row = conn.execute("select current_setting('application_name'), 40 + 2").fetchone()
    assert row == ("smoke@1", 42)


def test_a_second_run_on_the_same_data_dir_says_why_it_cannot_start(tmp_path: Path) -> None:
    """Two `skewguard run` on one embedded data directory: the second explains, in one line."""
    install = next(iter(system_installs()))
    cluster = LocalCluster(install, tmp_path / "pgdata")
    cluster.init()
    cluster.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "skewguard", "run", "--data-dir", str(tmp_path / "pgdata"),
             "--state", str(tmp_path / "s.db"), "--listen", "127.0.0.1:0",
             "--admin-listen", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    finally:
        cluster.stop()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is already running (pid" in proc.stderr
    assert "--data-dir" in proc.stderr and "Traceback" not in proc.stderr


@one_major()  # the banner's ports are the proxy's own, whatever the major behind it
def test_the_banner_names_the_ports_the_system_chose(cluster: LocalCluster, tmp_path: Path) -> None:
    """`--listen` and `--admin-listen` on port 0: the banner's psql line and admin URL are
    the ones that answer (a first run with port 0 printed "admin on http://…:0")."""
    with subprocess.Popen(
        [sys.executable, "-m", "skewguard", "run", "--upstream", cluster.url(),
         "--state", str(tmp_path / "s.db"), "--listen", "127.0.0.1:0",
         "--admin-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline() + proc.stdout.readline()
            admin = re.search(r"admin on (http://127\.0\.0\.1:(\d+))\n", banner)
            psql = re.search(r"psql '(postgresql://\S+)'", banner)
            assert admin and psql and admin.group(2) != "0", banner
            health = urllib.request.urlopen(admin.group(1) + "/healthz", timeout=10).read()
            assert json.loads(health)["status"] == "ok"
            with psycopg.connect(psql.group(1), connect_timeout=10) as conn:
                assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
        finally:
            proc.terminate()
    assert proc.returncode == 0


def test_build_and_process_metrics(proxy: ProxyProcess) -> None:
    from skewguard import __version__

    metrics = proxy.metrics()
    build = [labels for name, labels in metrics if name == "skewguard_build_info"]
    assert build and ("version", __version__) in build[0]
    assert metrics[("process_resident_memory_bytes", ())] > 0
    assert metrics[("process_open_fds", ())] > 0


def test_readyz_follows_the_upstream(proxy: ProxyProcess, tmp_path: Path) -> None:
    assert json.loads(proxy.get("/readyz")) == {"status": "ready"}
    orphan = ProxyProcess(
        upstream=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres",
        logfile=tmp_path / "orphan.log",
    ).start()
    try:
        assert json.loads(orphan.get("/healthz"))["status"] == "ok"  # alive ...
        with pytest.raises(urllib.error.HTTPError) as unready:  # ... but not ready
            urllib.request.urlopen(orphan.admin_url + "/readyz", timeout=10)
        assert unready.value.code == 503
        body = json.loads(unready.value.read())
        assert body["status"] == "unavailable" and "upstream" in body["problems"]
        deadline = time.monotonic() + 10
        while "cannot be reached" not in orphan.log_tail() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "cannot be reached (Connection refused)" in orphan.log_tail()  # said at start
        assert "check --upstream" in orphan.log_tail()
    finally:
        orphan.stop()


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [("GET", "/api/nothing", 404, None), ("GET", "/api/check", 405, "POST")],
)
def test_unknown_paths_and_methods_answer_json(
    proxy: ProxyProcess, method: str, path: str, status: int, allow: str | None
) -> None:
    """Every admin error is `{"error": ...}` (docs/http-api.md), aiohttp's own 404/405 too."""
    request = urllib.request.Request(proxy.admin_url + path, method=method)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == status
    assert refused.value.headers["Content-Type"].startswith("application/json")
    assert refused.value.headers.get("Allow") == allow
    error = json.loads(refused.value.read())["error"]
    assert path in error and (allow is None or allow in error)


def test_every_metric_is_in_the_operations_guide(proxy: ProxyProcess) -> None:
    """docs/operations.md, "Metrics and health", names every skewguard_ family /metrics has."""
    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    families = {
        line.split()[2]
        for line in proxy.get("/metrics").splitlines()
        if line.startswith("# TYPE skewguard_") and not line.split()[2].endswith("_created")
    }
    assert len(families) > 20
    named = set(re.findall(r"`(skewguard_\w+)[`{]", guide))  # `name` or `name{label=...}`
    assert sorted(families - named) == []


def test_an_app_tagged_without_a_version_can_be_retired(proxy: ProxyProcess) -> None:
    """`-c skewguard.app=solo` alone is protected like any version, so `versions retire solo@`
    (what the block's HINT names) must end that protection."""
    with psycopg.connect(proxy.dsn(options="-c skewguard.app=solo")) as conn:
        conn.execute("SELECT 1").fetchall()
    key = ("postgres", "solo", "")  # not "(untagged)": it is tagged, and protected
    deadline = time.monotonic() + 30
    while key not in (rows := proxy.versions(facets=False)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rows[key]["protected"] is not None
    retire = subprocess.run(
        [sys.executable, "-m", "skewguard", "versions", "retire", "solo@",
         "--admin", proxy.admin_url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert retire.returncode == 0, retire.stderr
    row = proxy.versions(facets=False)[key]
    assert row["lifecycle"] == "retired" and row["protected"] is None
