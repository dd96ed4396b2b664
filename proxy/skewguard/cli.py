"""The ``skewguard`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvloop

from skewguard import __version__, logs
from skewguard.app import serve, start_embedded
from skewguard.config import ConfigError, add_arguments, load_settings
from skewguard.pgcluster import ClusterError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skewguard",
        description="PostgreSQL proxy that keeps every running app version working.",
    )
    parser.add_argument("--version", action="version", version=f"skewguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the proxy")
    add_arguments(run)
    return parser


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args)
    except ConfigError as exc:
        print(f"skewguard: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    cluster = None
    try:
        upstream = settings.upstream
        if upstream is None:
            cluster = start_embedded(settings.data_dir)
            upstream = cluster.url()
        uvloop.run(serve(settings, upstream))
    except (ClusterError, ConfigError, OSError, ValueError) as exc:
        print(f"skewguard: {exc}", file=sys.stderr)
        return 2
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    return 2
