"""``skewguard check FILE…``: the guard's verdict on migrations, before they run.

Against a running proxy (``--admin URL``, which knows the live versions), or
straight from a state file and the database (``--state PATH --upstream URL``).
Exit 0: safe; 1: would break a protected version; 2: usage or connection error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from skewguard.catalogs import CatalogCache
from skewguard.config import ConfigError, Settings, parse_upstream
from skewguard.guard import Guard, Requester
from skewguard.identity import Identity
from skewguard.observe.metrics import ProxyMetrics
from skewguard.observe.traffic import TrafficBook
from skewguard.search_path import DEFAULT
from skewguard.store import open_store

SAFE, BREAKING, ERROR = 0, 1, 2


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="migration SQL files ('-': stdin)")
    parser.add_argument("--admin", metavar="URL", help="a running proxy's admin URL")
    parser.add_argument("--state", metavar="PATH", help="state file (with --upstream)")
    parser.add_argument("--upstream", metavar="URL", help="the database (with --state)")
    parser.add_argument("--database", help="database the migration runs in")
    parser.add_argument("--format", choices=["text", "json"], default="text")


def _post(admin: str, sql: str, database: str | None) -> dict[str, Any]:
    body = json.dumps({"sql": sql, "database": database}).encode()
    request = urllib.request.Request(
        admin.rstrip("/") + "/api/check",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        result: dict[str, Any] = json.load(response)
    return result


async def _local(args: argparse.Namespace, texts: list[tuple[str, str]]) -> list[dict[str, Any]]:
    upstream = parse_upstream(args.upstream)
    settings = Settings(state=args.state, upstream=args.upstream, mode="enforce")
    store = open_store(args.state)
    guard = Guard(settings, store, CatalogCache(upstream), None, ProxyMetrics(TrafficBook()))
    user = upstream.user or "postgres"
    requester = Requester(
        database=args.database or upstream.database or user,
        user=user,
        identity=Identity(),
        peer="skewguard check",
        search_path=DEFAULT,
    )
    try:
        return [(await guard.check(requester, sql)).to_dict() for _, sql in texts]
    finally:
        store.close()


def _render(name: str, result: dict[str, Any]) -> str:
    verdict = "BREAKS protected versions" if result["breaking"] else "safe"
    lines = [f"{name}: {verdict}"]
    for finding in result["findings"]:
        owner = finding.get("version")
        version = f"{owner['app']}@{owner['version']}" if owner else "-"
        lines.append(
            f"  [{finding['severity']}] {finding['rule']} {finding['name']} {version}: "
            f"{finding['message']}"
        )
        if finding.get("hint"):
            lines.append(f"      hint: {finding['hint']}")
    return "\n".join(lines)


def check_command(args: argparse.Namespace) -> int:
    if bool(args.admin) == bool(args.state and args.upstream):
        print(
            "skewguard check: give --admin URL, or --state PATH with --upstream URL",
            file=sys.stderr,
        )
        return ERROR
    try:
        texts = [
            (name, sys.stdin.read() if name == "-" else Path(name).read_text())
            for name in args.files
        ]
        if args.admin:
            results = [_post(args.admin, sql, args.database) for _, sql in texts]
        else:
            results = asyncio.run(_local(args, texts))
    except (OSError, ValueError, ConfigError, ConnectionError, urllib.error.URLError) as exc:
        print(f"skewguard check: {exc}", file=sys.stderr)
        return ERROR
    if args.format == "json":
        print(json.dumps({name: r for (name, _), r in zip(texts, results, strict=True)}, indent=2))
    else:
        print("\n".join(_render(name, r) for (name, _), r in zip(texts, results, strict=True)))
    return BREAKING if any(r["breaking"] for r in results) else SAFE
