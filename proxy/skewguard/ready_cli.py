"""``skewguard ready APP@VERSION``: does the current schema have everything that version uses?

The footprint comes from a running proxy (``--admin URL``) or the state
(``--state PATH|URL``); the schema from the database itself (``--upstream URL``,
``--database``). Exit 0: ready; 1: something it uses is missing or would be
refused (listed, with how often the version used it); 2: cannot tell (the
version was never seen, the proxy or database cannot be reached).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from skewguard.admin_client import AdminError, add_token_argument, fetch_versions
from skewguard.analysis import Facet
from skewguard.catalog import CatalogSnapshot
from skewguard.catalogs import CatalogCache
from skewguard.config import DEFAULT_STATE, ConfigError, add_client_config, parse_upstream
from skewguard.footprint import Evidence
from skewguard.output import add_format_argument
from skewguard.readiness import Gap, gaps
from skewguard.store import open_store

READY, NOT_READY, CANNOT_TELL = 0, 1, 2


def add_ready_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="APP@VERSION", help="the version to check")
    parser.add_argument(
        "--upstream",
        metavar="URL",
        help="the database whose schema is checked (default: $SKEWGUARD_UPSTREAM)",
    )
    parser.add_argument("--database", help="database the version uses (default: the URL's)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--admin", metavar="URL", help="read the footprint from a running proxy")
    source.add_argument(
        "--state",
        metavar="PATH|URL",
        help="read the footprint from the state (default: $SKEWGUARD_STATE or skewguard.db)",
    )
    add_format_argument(parser)
    add_token_argument(parser)
    add_client_config(parser)


class CannotTell(Exception):
    """Why readiness cannot be decided (exit 2)."""


def _from_admin(
    args: argparse.Namespace, database: str, app: str, version: str
) -> dict[Facet, Evidence]:
    try:
        rows = fetch_versions(args.admin, token_file=args.admin_token_file)
    except AdminError as exc:
        raise CannotTell(str(exc)) from None
    for row in rows:
        if (row["database"], row["app"], row["version"]) == (database, app, version):
            return {
                Facet.from_key(f["facet"]): Evidence(
                    f["count"], f["first_seen"], f["last_seen"], ""
                )
                for f in row.get("facets", [])
            }
    raise CannotTell(f"{app}@{version} was never seen in database {database}")


def _from_state(path: str, database: str, app: str, version: str) -> dict[Facet, Evidence]:
    store = open_store(path)
    try:
        for stored in store.versions(with_facets=True):
            key = stored.key
            if (key.database, key.app, key.version) == (database, app, version):
                return dict(stored.facets)
    finally:
        store.close()
    raise CannotTell(f"{app}@{version} was never seen in database {database} (state {path})")


async def _catalog(url: str, database: str) -> CatalogSnapshot:
    upstream = parse_upstream(url)
    catalogs = CatalogCache(upstream)
    try:
        snapshot, _ = await catalogs.get(database, upstream.user or "postgres")
    finally:
        await catalogs.close()  # the cache keeps its side connection open otherwise
    if snapshot is None:
        raise CannotTell(f"cannot read the schema of database {database} at {upstream.host}")
    return snapshot


def ready_command(args: argparse.Namespace) -> int:
    app, sep, version = args.name.partition("@")
    if not sep or not app:
        print("skewguard ready: give APP@VERSION", file=sys.stderr)
        return CANNOT_TELL
    if not args.upstream:
        print("skewguard ready: give --upstream URL (the database to check)", file=sys.stderr)
        return CANNOT_TELL
    try:
        upstream = parse_upstream(args.upstream)
        database = args.database or upstream.database or upstream.user or "postgres"
        if args.admin:
            facets = _from_admin(args, database, app, version)
        else:
            state = args.state or DEFAULT_STATE
            facets = _from_state(state, database, app, version)
        missing: list[Gap] = gaps(facets, asyncio.run(_catalog(args.upstream, database)))
    except (CannotTell, ConfigError, OSError, ValueError) as exc:
        print(f"skewguard ready: {exc}", file=sys.stderr)
        return CANNOT_TELL
    if args.format == "json":
        print(
            json.dumps(
                {
                    "version": args.name,
                    "database": database,
                    "ready": not missing,
                    "facets": len(facets),
                    "gaps": [g.to_dict() for g in missing],
                },
                indent=2,
            )
        )
    elif missing:
        print(f"{args.name} is NOT ready for database {database}:")
        for gap in missing:
            used = f" (used {gap.evidence.count}x)" if gap.evidence else ""
            print(f"  {gap.problem}{used}   [{gap.facet.key}]")
    else:
        print(f"{args.name} is ready for database {database}: all {len(facets)} facets present")
    return NOT_READY if missing else READY
