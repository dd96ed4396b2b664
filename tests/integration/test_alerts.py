"""The shipped Prometheus alert rules are valid, behave as their unit tests say, and
refer to metrics the proxy really exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.proxy import ProxyProcess
from tests.support.sites import create_database

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/system-deps.sh installs Debian's prometheus"
    return subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True, check=False)


def test_rules_are_valid() -> None:
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_unit_tests_pass() -> None:
    result = _promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_use_exported_metrics(proxy: ProxyProcess) -> None:
    used = set(re.findall(r"\b(skewguard_[a-z_]+)", (RULES / "alerts.yml").read_text()))
    exported = {name for name, _ in proxy.metrics()}
    # families with no sample yet (e.g. no DDL decided) still appear in HELP lines
    exported |= set(re.findall(r"^# HELP (skewguard_[a-z_]+)", proxy.get("/metrics"), re.M))
    exported |= {name + "_total" for name in exported}
    assert used <= exported, f"alerts refer to metrics the proxy does not export: {used - exported}"


def test_the_first_block_after_a_start_is_an_increase(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """Every rule's block series exists at 0 before any DDL, so increase() sees the first one."""
    from skewguard.rules import RULES as GUARD_RULES

    database = create_database(cluster, "firstblock", "CREATE TABLE users (id int, email text)")
    proxy = ProxyProcess(upstream=cluster.url(), logfile=tmp_path / "proxy.log").start()
    try:
        blocks = ("skewguard_ddl_decisions_total", "block")
        before = {
            dict(labels)["rule"]: value
            for (name, labels), value in proxy.metrics().items()
            if (name, dict(labels).get("decision")) == blocks
        }
        assert before == {rule.id: 0.0 for rule in GUARD_RULES}
        url = proxy.url(database=database)
        with psycopg.connect(url + "?application_name=shop@1", autocommit=True) as app:
            app.execute("SELECT email FROM users").fetchall()
            with (
                psycopg.connect(url, autocommit=True) as migrator,
                pytest.raises(psycopg.errors.ObjectInUse),
            ):
                migrator.execute("ALTER TABLE users DROP COLUMN email")
        after = proxy.metrics()
        key = ("skewguard_ddl_decisions_total", (("decision", "block"), ("rule", "SG102")))
        assert after[key] == 1.0
    finally:
        proxy.stop()
