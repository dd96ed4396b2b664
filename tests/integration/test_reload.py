"""SIGHUP reloads what can change at run time (as pgbouncer users expect), instead of killing."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess
from tests.support.sites import create_database

pytestmark = [pytest.mark.integration, one_major()]


def _wait_in_log(proxy: ProxyProcess, text: str) -> None:
    assert proxy.logfile is not None
    deadline = time.monotonic() + 10
    while text not in proxy.logfile.read_text():
        assert time.monotonic() < deadline, proxy.log_tail()
        time.sleep(0.1)


def test_sighup_switches_the_mode(cluster: LocalCluster, tmp_path: Path) -> None:
    database = create_database(
        cluster, "reload", "CREATE TABLE users (id int, email text, note text)"
    )
    config = tmp_path / "skewguard.toml"
    config.write_text('[run]\nmode = "enforce"\n')
    proxy = ProxyProcess(
        upstream=cluster.url(database=database),
        state=tmp_path / "state.db",
        logfile=tmp_path / "proxy.log",
        extra_args=["--config", str(config)],
    ).start()
    try:
        url = proxy.url(database=database)
        with psycopg.connect(url + "?application_name=shop@1", autocommit=True) as app:
            app.execute("SELECT email, note FROM users").fetchall()
            with psycopg.connect(url, autocommit=True) as migrator:
                with pytest.raises(psycopg.errors.ObjectInUse):
                    migrator.execute("ALTER TABLE users DROP COLUMN email")
                config.write_text('[run]\nmode = "warn"\ndata_dir = "elsewhere"\n')
                assert proxy.process is not None
                proxy.process.send_signal(signal.SIGHUP)
                _wait_in_log(proxy, "SIGHUP: configuration reloaded: mode")
                _wait_in_log(proxy, "change only on restart: data_dir")
                migrator.execute("ALTER TABLE users DROP COLUMN email")  # warn: let through
                config.write_text('[run]\nmode = "bogus"\n')
                proxy.process.send_signal(signal.SIGHUP)
                _wait_in_log(proxy, "SIGHUP: configuration not reloaded")
                migrator.execute("ALTER TABLE users DROP COLUMN note")  # still warn
        assert proxy.alive
    finally:
        proxy.stop()
