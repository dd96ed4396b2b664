"""``skewguard backstop install|status|uninstall``: the event triggers, from the command line.

Kept apart from :mod:`skewguard.backstop` so that ``skewguard --help`` and the
other commands do not import asyncpg, prometheus-client and the analysis that
the backstop itself needs.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from skewguard.config import BACKSTOP_MODES, ConfigError, Upstream, parse_upstream
from skewguard.output import add_format_argument


def add_backstop_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=["install", "status", "uninstall"],
        help="install (or update) the event triggers, show their status, or remove them",
    )
    parser.add_argument(
        "--upstream",
        metavar="URL",
        default=os.environ.get("SKEWGUARD_UPSTREAM"),
        help="the PostgreSQL server, as a role that may create event triggers "
        "(default: $SKEWGUARD_UPSTREAM)",
    )
    parser.add_argument(
        "--database",
        action="append",
        metavar="DB",
        help="a guarded database (repeatable; default: the URL's database)",
    )
    parser.add_argument(
        "--mode",
        choices=BACKSTOP_MODES,
        default="enforce",
        help="install: enforce refuses unpassed DDL on protected objects, audit records it",
    )
    parser.add_argument(
        "--grant-to",
        action="append",
        default=[],
        metavar="ROLE",
        help="install: also let this role (the proxy's upstream user) grant passes and sync",
    )
    add_format_argument(parser)


def _describe(report: Mapping[str, Any]) -> str:
    from skewguard.backstop import EVENT_TRIGGERS

    name = report["database"]
    if not report["installed"]:
        stray = ", ".join(report["event_triggers"]) or "none"
        return f"{name}: backstop not installed (stray event triggers: {stray})"
    lines = [
        f"{name}: backstop installed, mode {report['mode']}, "
        f"{'healthy' if report['healthy'] else 'NOT HEALTHY'} (owner {report['owner']})"
    ]
    for trigger in EVENT_TRIGGERS:
        info = report["event_triggers"].get(trigger)
        state = f"{info['event']}, enabled {info['enabled']}" if info else "MISSING"
        lines.append(f"  event trigger {trigger}: {state}")
    lines.append(
        f"  protected objects: {report['protected_objects']} "
        f"(last synced {report['last_sync'] or 'never'})"
    )
    lines.append(
        f"  refusals: {report['refusals']} (last {report['last_refusal'] or 'never'}); "
        f"audited: {report['audited']}"
    )
    if report["last_audit"]:
        audit = report["last_audit"]
        lines.append(
            f"  last audited: {audit['at']} {audit['command']} on {audit['object']} "
            f"({', '.join(audit['versions'])})"
        )
    return "\n".join(lines)


async def _backstop(args: argparse.Namespace, upstream: Upstream, databases: list[str]) -> int:
    from skewguard.backstop import BackstopError, install, status, uninstall
    from skewguard.side_connection import SIDE_ERRORS, close_side, connect_side

    code = 0
    reports: list[dict[str, Any]] = []
    for database in databases:
        try:
            conn = await connect_side(
                upstream,
                database=database,
                user=upstream.user or getpass.getuser(),
                application_name="skewguard-backstop",
                lock_timeout_ms=5000,
                statement_timeout_ms=60000,
                connect_timeout=10,
            )
        except SIDE_ERRORS as exc:
            print(f"skewguard backstop: {database}: cannot connect: {exc}", file=sys.stderr)
            code = 2
            continue
        try:
            if args.action == "install":
                await install(conn, args.mode, grant_to=args.grant_to)
                grants = f"; passes may be granted by {', '.join(args.grant_to)}"
                print(
                    f"{database}: backstop installed (mode {args.mode})"
                    + (grants if args.grant_to else "")
                )
            elif args.action == "uninstall":
                removed = await uninstall(conn)
                print(f"{database}: " + ("backstop removed" if removed else "nothing installed"))
            else:
                report = await status(conn)
                reports.append(report)
                if args.format != "json":
                    print(_describe(report))
        except BackstopError as exc:
            print(f"skewguard backstop {args.action}: {database}: {exc}", file=sys.stderr)
            code = 2
        except SIDE_ERRORS as exc:
            print(f"skewguard backstop {args.action}: {database}: {exc}", file=sys.stderr)
            code = 2
        finally:
            await close_side(conn)
    if args.action == "status" and args.format == "json":
        print(json.dumps({"databases": reports}, indent=2, default=str))
    return code


def backstop_command(args: argparse.Namespace) -> int:
    if not args.upstream:
        print("skewguard backstop: give --upstream URL (or SKEWGUARD_UPSTREAM)", file=sys.stderr)
        return 2
    if args.action != "install" and args.grant_to:
        print("skewguard backstop: --grant-to is for install", file=sys.stderr)
        return 2
    try:
        upstream = parse_upstream(args.upstream)
    except ConfigError as exc:
        print(f"skewguard backstop: {exc}", file=sys.stderr)
        return 2
    databases = args.database or [upstream.database or upstream.user or getpass.getuser()]
    return asyncio.run(_backstop(args, upstream, databases))
