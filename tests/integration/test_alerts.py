"""The shipped Prometheus alert rules are valid, behave as their unit tests say, and
refer to metrics the proxy really exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.support.proxy import ProxyProcess

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
