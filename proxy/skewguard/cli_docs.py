"""Generate docs/cli.md from the argparse parsers: ``python -m skewguard.cli_docs``.

The reference is read off the parsers the command itself uses, so a flag cannot be
added, renamed or reworded without the reference following (a unit test compares).
Defaults are not read from the parsers (some come from the environment at start);
each help text says its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from skewguard.cli import build_parser

#: Usage lines are wrapped at this width whatever the terminal, so the output is stable.
WIDTH = 88


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _name(action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(f"`{flag}`" for flag in action.option_strings)
        takes_value = action.nargs != 0
        if takes_value and action.metavar:
            names += f" `{action.metavar}`"
        elif takes_value and action.choices:
            names += " `" + "|".join(str(c) for c in action.choices) + "`"
        return names
    if action.choices:
        return "`" + "|".join(str(c) for c in action.choices) + "`"
    return f"`{action.metavar or action.dest}`"


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    rows = [
        f"| {_cell(_name(action))} | {_cell(action.help or '')} |"
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and action.help != argparse.SUPPRESS
    ]
    if not rows:
        return []
    return ["| argument | what it does |", "|---|---|", *rows, ""]


def _commands(
    parser: argparse.ArgumentParser, summary: str
) -> Iterator[tuple[argparse.ArgumentParser, str]]:
    """The parser and every subcommand's parser below it, depth first, in declared order."""
    yield parser, summary
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield from _commands(sub, helps.get(name, ""))


def render() -> str:
    top = build_parser()
    lines = [
        "# skewguard command line",
        "",
        "Generated from the argparse parsers by `python -m skewguard.cli_docs`; do not edit "
        "by hand. Every `run` option is also read from `SKEWGUARD_<OPTION>` and from the "
        "`[run]` table of `--config FILE` (flags win, then the environment, then the file); "
        "docs/operations.md explains what they do together.",
        "",
    ]
    for parser, summary in _commands(top, top.description or ""):
        lines += [f"## {parser.prog}", ""]
        if summary:
            summary = summary[0].upper() + summary[1:]
            lines += [summary if summary.endswith((".", "?")) else summary + ".", ""]
        lines += ["```", _usage(parser), "```", ""]
        lines += _arguments(parser)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
