"""``skewguard versions``: what each app version uses, from the state file or a proxy."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
from typing import Any

from skewguard.admin_client import add_token_argument, call, fetch_versions
from skewguard.config import DEFAULT_STATE, add_client_config, parse_duration
from skewguard.output import add_format_argument
from skewguard.protection import protected_versions, version_report
from skewguard.store import Lifecycle, is_postgres_url, open_store


def add_versions_arguments(versions: argparse.ArgumentParser) -> None:
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


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _table(rows: list[dict[str, Any]], with_facets: bool) -> str:
    """One line per version; with ``with_facets`` a FACETS count column and each footprint
    after the table (without, the rows carry no facets to count: no column at all)."""
    header: tuple[str, ...] = (
        "DATABASE",
        "APP",
        "VERSION",
        "LIVE",
        "PROTECTED",
        "FIRST SEEN",
        "LAST SEEN",
        *(("FACETS",) if with_facets else ()),
    )
    lines = [header]
    for row in rows:
        lines.append(
            (
                row["database"],
                row["app"],
                row["version"],
                str(row["live_connections"]),
                row.get("protected") or _lifecycle_cell(row),
                _when(row["first_seen"]),
                _when(row["last_seen"]),
                *((str(len(row.get("facets") or ())),) if with_facets else ()),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    if with_facets:
        for row in rows:
            out.append(f"\n{row['app']}@{row['version']} on {row['database']}:")
            for facet in row.get("facets", []):
                out.append(
                    f"  {facet['facet']}  x{facet['count']}  last {_when(facet['last_seen'])}"
                )
    return "\n".join(out)


def _lifecycle_cell(row: dict[str, Any]) -> str:
    """``retired``, ``pinned`` or ``-``; a retired version that is connected says so loudly."""
    state = row.get("lifecycle") or "-"
    return f"{state} (CONNECTED: not protected)" if row.get("warning") else state


def _lifecycle(args: argparse.Namespace) -> int:
    app, sep, version = (args.name or "").partition("@")
    if not sep or not app:  # APP@ names an app tagged without a version
        print(f"skewguard versions {args.action}: give APP@VERSION", file=sys.stderr)
        return 2
    try:
        if args.admin:
            answer = call(
                args.admin,
                f"/api/versions/{urllib.parse.quote(args.name)}/{args.action}",
                token_file=args.admin_token_file,
                body={"force": True} if args.force else {},
            )
            seen = bool(answer.get("seen", True))
        else:
            store = open_store(args.state or DEFAULT_STATE)
            states = {"pin": Lifecycle.PINNED, "retire": Lifecycle.RETIRED, "unpin": None}
            try:
                store.set_lifecycle(app, version, states[args.action])
                seen = any(
                    (v.key.app, v.key.version) == (app, version)
                    for v in store.versions(with_facets=False)
                )
            finally:
                store.close()
    except (OSError, ValueError, urllib.error.URLError) as exc:
        print(f"skewguard: {exc}", file=sys.stderr)
        return 2
    print(f"{args.name}: {args.action} done")
    if not seen:
        print(
            f"skewguard: note: {args.name} has not been seen in any database yet"
            " (a typo? `skewguard versions list` shows the versions seen)",
            file=sys.stderr,
        )
    return 0


def versions_command(args: argparse.Namespace) -> int:
    if args.action != "list":
        return _lifecycle(args)
    if args.name:
        print(f"skewguard versions list: unexpected argument {args.name!r}", file=sys.stderr)
        return 2
    try:
        if args.admin:
            rows = fetch_versions(
                args.admin,
                token_file=args.admin_token_file,
                with_facets=args.facets or args.format == "json",
            )
        else:
            path = args.state or DEFAULT_STATE
            if not is_postgres_url(path) and not os.path.exists(path):
                print(
                    f"skewguard: no state file at {path} (use --state or --admin)", file=sys.stderr
                )
                return 2
            store = open_store(path)
            try:
                stored = store.versions(with_facets=args.facets or args.format == "json")
                lifecycle = store.lifecycle()
            finally:
                store.close()
            # Without a running proxy nothing is known to be live; the rest of the rule holds.
            retain = parse_duration(os.environ.get("SKEWGUARD_RETAIN", "24h"))
            protections = protected_versions(stored, (), lifecycle, retain=retain, now=time.time())
            rows = version_report(
                stored,
                (),
                with_facets=args.facets or args.format == "json",
                protections=protections,
                lifecycle=lifecycle,
            )
    except (OSError, ValueError, urllib.error.URLError) as exc:
        print(f"skewguard: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps({"versions": rows}, indent=2))
    else:
        print(_table(rows, args.facets))
    return 0
