"""Versions and their footprints as users see them: stored evidence plus live connections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from skewguard.footprint import VersionKey
from skewguard.identity import UNTAGGED_LABEL
from skewguard.store import StoredVersion


def version_report(
    stored: Iterable[StoredVersion], live: Iterable[VersionKey], *, with_facets: bool = True
) -> list[dict[str, Any]]:
    """JSON-ready rows, one per (database, app, version), untagged clients included."""
    live_counts = Counter(live)
    rows: list[dict[str, Any]] = []
    seen: set[VersionKey] = set()
    for version in stored:
        seen.add(version.key)
        row = _row(version.key, live_counts[version.key], version.first_seen, version.last_seen)
        if with_facets:
            row["facets"] = [
                {
                    "facet": facet.key,
                    "kind": facet.kind.value,
                    "subject": facet.subject,
                    "count": e.count,
                    "first_seen": e.first_seen,
                    "last_seen": e.last_seen,
                    "sample": e.sample,
                }
                for facet, e in sorted(version.facets.items())
            ]
        rows.append(row)
    for key, count in sorted(live_counts.items()):
        if key not in seen:  # connected since the last flush
            row = _row(key, count, None, None)
            if with_facets:
                row["facets"] = []
            rows.append(row)
    return rows


def _row(key: VersionKey, live: int, first: float | None, last: float | None) -> dict[str, Any]:
    return {
        "database": key.database,
        "app": key.app or UNTAGGED_LABEL,
        "version": key.version or UNTAGGED_LABEL,
        "tagged": bool(key.app),
        "live_connections": live,
        "first_seen": first,
        "last_seen": last,
    }
