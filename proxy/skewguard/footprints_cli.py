"""``skewguard footprints export|import``: carry a version's footprint between environments.

A new version runs its test traffic in staging, where skewguard learns what it
uses; exported from there and imported into production's state, it is
*expected*: pinned, so it is protected like a live version — a DROP that would
break it is blocked before it ever connects — until it is retired. The file
format is stable and versioned (``FORMAT`` / ``FORMAT_VERSION``); it carries
facets and their counts, never query samples (no literal values leave).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from skewguard.admin_client import add_token_argument, fetch_versions
from skewguard.analysis import Facet
from skewguard.config import DEFAULT_STATE, add_client_config
from skewguard.footprint import Evidence, FootprintBatch, VersionKey
from skewguard.store import Lifecycle, open_store

FORMAT = "skewguard-footprint"
FORMAT_VERSION = 1


def add_footprints_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="print one version's footprint as JSON")
    export.add_argument("name", metavar="APP@VERSION", help="the version whose footprint to print")
    export.add_argument("--database", required=True, help="the database it was learned in")
    source = export.add_mutually_exclusive_group()
    source.add_argument("--admin", metavar="URL", help="read it from a running proxy")
    source.add_argument("--state", metavar="PATH|URL", help="read it from the state")
    add_token_argument(export)
    add_client_config(export)
    load = actions.add_parser(
        "import", help="add an exported footprint to the state, pinned (expected)"
    )
    load.add_argument("file", help="a file written by `footprints export` ('-': stdin)")
    load.add_argument("--database", help="the database it is expected in (default: the file's)")
    load.add_argument("--state", metavar="PATH|URL", help="the state to write into")
    add_client_config(load)


def _state(args: argparse.Namespace) -> str:
    return str(args.state or DEFAULT_STATE)


def _facets_from_admin(admin: str, key: VersionKey, token_file: str | None) -> list[dict[str, Any]]:
    for row in fetch_versions(admin, token_file=token_file):
        if (row["database"], row["app"], row["version"]) == (key.database, key.app, key.version):
            return [
                {k: f[k] for k in ("facet", "count", "first_seen", "last_seen")}
                for f in row.get("facets", [])
            ]
    raise ValueError(f"{key.app}@{key.version} was never seen in database {key.database}")


def _facets_from_state(path: str, key: VersionKey) -> list[dict[str, Any]]:
    store = open_store(path)
    try:
        for stored in store.versions(with_facets=True):
            if stored.key == key:
                return [
                    {
                        "facet": facet.key,
                        "count": e.count,
                        "first_seen": e.first_seen,
                        "last_seen": e.last_seen,
                    }
                    for facet, e in sorted(stored.facets.items())
                    if not facet.holds_literal
                ]
    finally:
        store.close()
    raise ValueError(f"{key.app}@{key.version} was never seen in database {key.database}")


def export_document(key: VersionKey, facets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": time.time(),
        "database": key.database,
        "app": key.app,
        "version": key.version,
        "facets": facets,
    }


def batch_of(document: dict[str, Any], database: str | None) -> tuple[VersionKey, FootprintBatch]:
    """The footprint a document holds, as a batch the store merges; ValueError if malformed."""
    if document.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if document.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"format_version {document.get('format_version')!r} is not supported "
            f"(this skewguard reads {FORMAT_VERSION})"
        )
    try:
        key = VersionKey(
            str(database or document["database"]), str(document["app"]), str(document["version"])
        )
        if not key.app:
            raise ValueError("the file names no app")
        batch = FootprintBatch()
        now = time.time()
        batch.saw_version(key, now)
        owned = batch.facets.setdefault(key, {})
        for entry in document["facets"]:
            facet = Facet.from_key(str(entry["facet"]))
            owned[facet] = Evidence(
                int(entry["count"]), float(entry["first_seen"]), float(entry["last_seen"]), ""
            )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed footprint file: {exc!r}") from None
    return key, batch


def footprints_command(args: argparse.Namespace) -> int:
    try:
        if args.action == "export":
            app, sep, version = args.name.partition("@")
            if not sep or not app:
                raise ValueError("give APP@VERSION")
            key = VersionKey(args.database, app, version)
            if args.admin:
                facets = _facets_from_admin(args.admin, key, args.admin_token_file)
            else:
                facets = _facets_from_state(_state(args), key)
            print(json.dumps(export_document(key, facets), indent=2))
            return 0
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        key, batch = batch_of(json.loads(text), args.database)
        store = open_store(_state(args))
        try:
            store.write(batch)
            store.set_lifecycle(key.app, key.version, Lifecycle.PINNED)
        finally:
            store.close()
    except (OSError, ValueError) as exc:
        print(f"skewguard footprints {args.action}: {exc}", file=sys.stderr)
        return 2
    name = f"{key.app}@{key.version}"
    print(
        f"{name}: {len(batch.facets[key])} facets imported into database {key.database}; "
        f"pinned (expected) until `skewguard versions retire {name}`"
    )
    return 0
