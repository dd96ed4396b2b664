"""The ``skewguard`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from skewguard import __version__, logs
from skewguard.admin_client import add_token_argument
from skewguard.backstop import add_backstop_arguments, backstop_command
from skewguard.check_cli import add_check_arguments, check_command
from skewguard.config import (
    ConfigError,
    add_arguments,
    add_client_config,
    fill_client_sources,
    load_settings,
    worker_slot,
)
from skewguard.demo import add_demo_arguments, demo_command
from skewguard.footprints_cli import add_footprints_arguments, footprints_command
from skewguard.output import add_format_argument
from skewguard.ready_cli import add_ready_arguments, ready_command
from skewguard.versions_cli import versions_command


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; docs/cli.md is generated from it (skewguard.cli_docs)."""
    parser = argparse.ArgumentParser(
        prog="skewguard",
        description="PostgreSQL proxy that keeps every running app version working.",
    )
    parser.add_argument("--version", action="version", version=f"skewguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the proxy")
    add_arguments(run)
    versions = commands.add_parser("versions", help="app versions seen and their footprints")
    versions.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=["list", "pin", "unpin", "retire"],
        help="list (the default); pin keeps a version protected, unpin undoes it, retire "
        "ends its protection",
    )
    versions.add_argument("name", nargs="?", metavar="APP@VERSION", help="for pin/unpin/retire")
    source = versions.add_mutually_exclusive_group()
    source.add_argument(
        "--state", help="read this SQLite state file (default: $SKEWGUARD_STATE or skewguard.db)"
    )
    source.add_argument(
        "--admin", metavar="URL", help="ask a running proxy, e.g. http://127.0.0.1:9632"
    )
    versions.add_argument(
        "--force", action="store_true", help="retire even a version that is live right now"
    )
    add_token_argument(versions)
    add_client_config(versions)
    add_format_argument(versions)
    versions.add_argument("--facets", action="store_true", help="list each version's footprint")
    check = commands.add_parser("check", help="would these migrations break a protected version?")
    add_check_arguments(check)
    ready = commands.add_parser(
        "ready", help="does the current schema have everything APP@VERSION uses?"
    )
    add_ready_arguments(ready)
    footprints = commands.add_parser(
        "footprints", help="export a version's footprint, or import one as an expected version"
    )
    add_footprints_arguments(footprints)
    demo = commands.add_parser(
        "demo", help="a narrated walkthrough on a throwaway embedded PostgreSQL"
    )
    add_demo_arguments(demo)
    backstop = commands.add_parser(
        "backstop",
        help="event triggers in each guarded database refusing DDL the proxy did not pass",
    )
    add_backstop_arguments(backstop)
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
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args, argv)
    if args.command in _CLIENT_COMMANDS:
        try:
            fill_client_sources(args)
        except ConfigError as exc:
            print(f"skewguard: {exc}", file=sys.stderr)
            return 2
    if args.command == "versions":
        return versions_command(args)
    if args.command == "check":
        return check_command(args)
    if args.command == "ready":
        return ready_command(args)
    if args.command == "footprints":
        return footprints_command(args)
    if args.command == "demo":
        return demo_command(args)
    if args.command == "backstop":
        return backstop_command(args)
    return 2
