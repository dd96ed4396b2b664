"""The ``skewguard`` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from skewguard import __version__, logs
from skewguard.config import ConfigError, fill_client_sources, load_settings, worker_slot


@dataclass(frozen=True)
class Command:
    """A subcommand: its one-line help, and the module holding its arguments and its work.

    The module is imported only for the command that runs (or for the generated
    docs), so ``skewguard --help`` and each command load what they use and no more.
    """

    help: str
    module: str
    arguments: str
    function: str


COMMANDS: dict[str, Command] = {
    "run": Command("run the proxy", "skewguard.config", "add_arguments", ""),
    "versions": Command(
        "app versions seen and their footprints",
        "skewguard.versions_cli",
        "add_versions_arguments",
        "versions_command",
    ),
    "check": Command(
        "would these migrations break a protected version?",
        "skewguard.check_cli",
        "add_check_arguments",
        "check_command",
    ),
    "ready": Command(
        "does the current schema have everything APP@VERSION uses?",
        "skewguard.ready_cli",
        "add_ready_arguments",
        "ready_command",
    ),
    "footprints": Command(
        "export a version's footprint, or import one as an expected version",
        "skewguard.footprints_cli",
        "add_footprints_arguments",
        "footprints_command",
    ),
    "demo": Command(
        "a narrated walkthrough on a throwaway embedded PostgreSQL",
        "skewguard.demo",
        "add_demo_arguments",
        "demo_command",
    ),
    "backstop": Command(
        "event triggers in each guarded database refusing DDL the proxy did not pass",
        "skewguard.backstop_cli",
        "add_backstop_arguments",
        "backstop_command",
    ),
}


def build_parser(detailed: Collection[str] = COMMANDS.keys()) -> argparse.ArgumentParser:
    """The command line; subcommands in ``detailed`` get their arguments (all of them by
    default: docs/cli.md is generated from that, by skewguard.cli_docs)."""
    parser = argparse.ArgumentParser(
        prog="skewguard",
        description="PostgreSQL proxy that keeps every running app version working.",
    )
    parser.add_argument("--version", action="version", version=f"skewguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help)
        if name in detailed:
            getattr(importlib.import_module(command.module), command.arguments)(sub)
    return parser


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    # the proxy's modules load here, not for every command (a client command starts faster)
    import uvloop

    from skewguard.app import serve, start_embedded
    from skewguard.pgcluster import ClusterError
    from skewguard.workers import Supervisor

    try:
        settings = load_settings(args)
    except ConfigError as exc:
        print(f"skewguard: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    slot = worker_slot()
    cluster = None
    status = 0
    try:
        upstream = settings.upstream
        if upstream is None:
            cluster = start_embedded(settings.data_dir)
            upstream = cluster.url()
        if slot is None and settings.workers > 1:
            status = uvloop.run(Supervisor(settings, upstream, argv).run())
        else:
            uvloop.run(serve(settings, upstream, lambda: load_settings(args), slot))
    except (ClusterError, ConfigError, OSError, ValueError) as exc:
        print(f"skewguard: {exc}", file=sys.stderr)
        return 2
    finally:
        if cluster is not None:
            cluster.stop()
    return status


#: Commands that talk to a proxy or its state: flags, then SKEWGUARD_* variables, then --config.
_CLIENT_COMMANDS = frozenset({"versions", "check", "ready", "footprints"})


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(detailed=set(argv[:1]) & COMMANDS.keys()).parse_args(argv)
    if args.command == "run":
        return _run(args, argv)
    if args.command in _CLIENT_COMMANDS:
        try:
            fill_client_sources(args)
        except ConfigError as exc:
            print(f"skewguard: {exc}", file=sys.stderr)
            return 2
    command = COMMANDS[args.command]
    status: int = getattr(importlib.import_module(command.module), command.function)(args)
    return status
