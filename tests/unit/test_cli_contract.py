"""The command line of DESIGN.md §6 (a contract): its commands, flags and defaults exist
as written there, whatever else the parsers grow."""

from __future__ import annotations

import re

import pytest

from skewguard.cli import main


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines by terminal width


RUN_FLAGS = ["--listen", "--upstream", "--state", "--mode", "--retain", "--admin-listen",
             "--identity-pattern", "--override-roles", "--decision-timeout",
             "--on-guard-error", "--opaque-ddl", "--admin-token-file", "--config"]  # fmt: skip
RUN_DEFAULTS = {
    "--listen": "127.0.0.1:6432",
    "--mode": "enforce",
    "--retain": "24h",
    "--admin-listen": "127.0.0.1:9632",
}


def test_run(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "run").split("options:", 1)[1]  # not the usage line
    for flag in RUN_FLAGS:
        assert f"{flag} " in text, flag
    for flag, default in RUN_DEFAULTS.items():
        shown = re.search(rf"{flag} \S+ .*?\(default: ([^)]+)\); env SKEWGUARD_", text)
        assert shown is not None and shown.group(1) == default, flag
        assert f"env SKEWGUARD_{flag[2:].upper().replace('-', '_')}" in text


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        (["check"], ["--admin", "--state", "--upstream", "--format", "--wait-safe", "--timeout"]),
        (["versions"], ["{list,pin,unpin,retire}", "--admin", "--state"]),
        (["ready"], ["--admin", "--state", "--upstream"]),
        (["footprints", "export"], ["--database", "--admin", "--state"]),
        (["footprints", "import"], ["--database", "--state"]),
        (["backstop"], ["{install,status,uninstall}"]),
        (["demo"], []),
    ],
)
def test_commands(capsys: pytest.CaptureFixture[str], argv: list[str], flags: list[str]) -> None:
    text = _help(capsys, *argv)
    for flag in flags:
        assert flag in text, flag
