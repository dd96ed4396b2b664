"""docs/cli.md is generated from the argparse parsers and must not go stale."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from skewguard.cli import build_parser
from skewguard.cli_docs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_md_is_up_to_date() -> None:
    assert DOC.read_text() == render(), (
        "docs/cli.md is stale: run `python -m skewguard.cli_docs > docs/cli.md` (or `make docs`)"
    )


def test_every_command_and_flag_is_documented() -> None:
    text = render()
    commands = [build_parser()]
    while commands:
        parser = commands.pop()
        assert f"## {parser.prog}\n" in text
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                commands.extend(action.choices.values())
                continue
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                assert f"`{flag}`" in text, flag
            assert action.help, f"{parser.prog} {action.dest}: no help text"


def test_the_reference_does_not_depend_on_the_terminal_or_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = render()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("SKEWGUARD_UPSTREAM", "postgresql://elsewhere/db")
    assert render() == before
