"""`skewguard demo` runs clean end to end (it is a smoke test of its own), and the
shipped Grafana dashboard is a well-formed JSON model that only uses metrics the
proxy really exports."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from skewguard import demo
from tests.support.proxy import ProxyProcess

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "skewguard.json"


def test_demo_runs_and_narrates_what_happened() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skewguard", "demo", "--no-pace"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    # the DROP while shop@1 runs: 55006, DETAIL naming shop@1 (not shop@2) and a HINT
    blocked = out[out.index("ALTER TABLE users DROP COLUMN email;") :]
    assert re.search(r"ERROR:  skewguard: .*\(SQLSTATE 55006\)", blocked)
    detail = next(line for line in blocked.splitlines() if "DETAIL:" in line)
    assert "shop@1" in detail and "shop@2" not in detail and "users.email" in detail
    assert "HINT:  Expand/contract" in blocked
    # after retiring shop@1 the same DROP passes
    retired = out[out.index("$ skewguard versions retire shop@1") :]
    assert "shop@1: retire done" in retired
    assert re.search(r"DROP COLUMN email;\n  ALTER TABLE\n", retired)
    assert "the DROP is allowed now" in retired
    # check's exit codes and the safe rename
    assert "(exit code 1)" in out and "(exit code 2)" in out
    assert "shop=> COMMIT;" in out and "(through the view)" in out
    assert "Demo complete: all 9 steps behaved as narrated." in out
    # nothing left behind
    workdir = re.search(r"Working directory: (\S+)", out)
    assert workdir and not Path(workdir.group(1)).exists()


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows hold their panels
    return panels


def test_dashboard_is_a_well_formed_grafana_model() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = _panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    graphs = [p for p in panels if p["type"] != "row"]
    assert len(graphs) >= 8
    for panel in graphs:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert "skewguard_" in target["expr"], panel["title"]
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]


def test_dashboard_uses_exported_metrics(proxy: ProxyProcess) -> None:
    dashboard = DASHBOARD.read_text()
    used = set(re.findall(r"\b(skewguard_[a-z_]+)", dashboard))
    text = proxy.get("/metrics")
    exported = {name for name, _ in proxy.metrics()}
    # families with no sample yet (e.g. no DDL decided) still appear in HELP lines
    exported |= set(re.findall(r"^# HELP (skewguard_[a-z_]+)", text, re.M))
    exported |= {name + "_total" for name in exported}
    assert used, "the dashboard queries no skewguard metric"
    assert used <= exported, f"dashboard uses metrics the proxy does not export: {used - exported}"
    wanted = {
        "skewguard_client_connections_active",
        "skewguard_queries_total",
        "skewguard_ddl_decisions_total",
        "skewguard_protected_versions",
        "skewguard_missing_references_total",
        "skewguard_state_up",
        "skewguard_client_errors_total",
        "skewguard_upstream_errors_total",
    }
    assert wanted <= used, f"dashboard lacks panels for {wanted - used}"


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Every query, with Grafana's variables filled in, passes `promtool check rules`."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/system-deps.sh installs Debian's prometheus"
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])]
    exprs += [a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a]
    filled = {"$__rate_interval": "1m", "$__range": "1h", "$instance": ".*", "$app": ".*"}
    rules = []
    for i, expr in enumerate(exprs):
        for variable, value in filled.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"unknown variable in {expr}"
        rules.append(f"      - record: dashboard:query{i}\n        expr: {json.dumps(expr)}")
    path = tmp_path / "dashboard-rules.yml"
    path.write_text("groups:\n  - name: dashboard\n    rules:\n" + "\n".join(rules) + "\n")
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_fails_loudly_when_a_step_misbehaves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A migration that breaks nobody is not blocked: the demo says which step failed,
    exits 1 and still removes everything it started."""
    monkeypatch.setenv("SKEWGUARD_MODE", "observe")  # ignored: the demo runs hermetically
    monkeypatch.setattr(demo, "DROP_EMAIL", "ALTER TABLE users ADD COLUMN note text")
    code = demo.demo_command(argparse.Namespace(pace=0.0, no_pace=True, keep=False))
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "skewguard demo FAILED at step 5" in err and "was NOT blocked" in err
    assert "Step 6." not in out
    workdir = re.search(r"Working directory: (\S+)", out)
    assert workdir and not Path(workdir.group(1)).exists()
