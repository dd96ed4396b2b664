"""Versions and their footprints as users see them: stored evidence plus live connections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from math import inf
from typing import Any

from skewguard.analysis.facets import Facet
from skewguard.footprint import Evidence, VersionKey, at_rest
from skewguard.identity import UNTAGGED_LABEL
from skewguard.store import Lifecycle, StoredVersion


def version_report(
    stored: Iterable[StoredVersion],
    live: Iterable[VersionKey],
    *,
    with_facets: bool = True,
    protections: Mapping[VersionKey, Protection] | None = None,
    lifecycle: Mapping[tuple[str, str], Lifecycle] | None = None,
) -> list[dict[str, Any]]:
    """JSON-ready rows, one per (database, app, version), untagged clients included."""
    protections = protections or {}
    lifecycle = lifecycle or {}
    live_counts = Counter(live)
    rows: list[dict[str, Any]] = []
    seen: set[VersionKey] = set()
    for version in stored:
        seen.add(version.key)
        row = _row(version.key, live_counts[version.key], version.first_seen, version.last_seen)
        _judge_row(row, version.key, protections, lifecycle)
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
                if not facet.holds_literal
            ]
        rows.append(row)
    for key, count in sorted(live_counts.items()):
        if key not in seen:  # connected since the last flush
            row = _row(key, count, None, None)
            _judge_row(row, key, protections, lifecycle)
            if with_facets:
                row["facets"] = []
            rows.append(row)
    return rows


#: What a row says of a version an operator retired that is connected again.
RETIRED_YET_LIVE = "retired, yet connected: not protected, so DDL may break it"


def _judge_row(
    row: dict[str, Any],
    key: VersionKey,
    protections: Mapping[VersionKey, Protection],
    lifecycle: Mapping[tuple[str, str], Lifecycle],
) -> None:
    """A row's ``protected``, ``lifecycle`` and ``warning`` (null unless something is off)."""
    row["protected"] = protections.get(key)
    row["lifecycle"] = state = lifecycle.get((key.app, key.version))
    revived = state is Lifecycle.RETIRED and row["live_connections"] > 0
    row["warning"] = RETIRED_YET_LIVE if revived else None


def retired_yet_live(
    live: Iterable[VersionKey], lifecycle: Mapping[tuple[str, str], Lifecycle]
) -> list[VersionKey]:
    """Tagged versions connected now that an operator retired. Retired means "never
    protected again" (DESIGN.md), so the guard lets DDL break them: an operator who
    retired a version that still runs, or that came back, needs to hear of it."""
    return sorted(
        {k for k in live if k.app and lifecycle.get((k.app, k.version)) is Lifecycle.RETIRED},
        key=lambda k: (k.database, k.app, k.version),
    )


def _row(key: VersionKey, live: int, first: float | None, last: float | None) -> dict[str, Any]:
    return {
        "database": key.database,
        "app": key.app or UNTAGGED_LABEL,
        "version": key.version if key.app else UNTAGGED_LABEL,  # APP@: a tag without one
        "tagged": bool(key.app),
        "live_connections": live,
        "first_seen": first,
        "last_seen": last,
    }


class Protection(StrEnum):
    """Why a version is protected (the first that applies, in this order)."""

    PINNED = "pinned"
    LIVE = "live"
    RECENT = "recent"  # seen within --retain
    ROLLBACK_TARGET = "rollback-target"  # the newest non-live version of its app


def protected_versions(
    stored: Iterable[StoredVersion],
    live: Iterable[VersionKey],
    lifecycle: Mapping[tuple[str, str], Lifecycle],
    *,
    retain: float,
    now: float,
) -> dict[VersionKey, Protection]:
    """live + seen within ``retain`` + each app's rollback target + pinned, minus retired.

    Per database; untagged clients protect nothing. The rollback target of an
    app ("N-1") is its most recently seen version with no live connection that
    appeared *before* every live version of the app: a newcomer that connects
    once and leaves (anyone who can log in can claim ``shop@999``) is newer than
    what runs, so it can never displace the real rollback target. With nothing
    of the app live, the most recently seen version is the target.
    """
    live_set = {key for key in live if key.app}
    last_seen: dict[VersionKey, float] = {v.key: v.last_seen for v in stored if v.key.app}
    first_seen: dict[VersionKey, float] = {v.key: v.first_seen for v in stored if v.key.app}
    for key in live_set:
        last_seen.setdefault(key, now)
        first_seen.setdefault(key, now)
    oldest_live: dict[tuple[str, str], float] = {}
    for key in live_set:
        app = (key.database, key.app)
        oldest_live[app] = min(oldest_live.get(app, first_seen[key]), first_seen[key])
    protected: dict[VersionKey, Protection] = {}
    newest_idle: dict[tuple[str, str], VersionKey] = {}
    for key, seen in last_seen.items():
        state = lifecycle.get((key.app, key.version))
        if state is Lifecycle.RETIRED:
            continue
        if state is Lifecycle.PINNED:
            protected[key] = Protection.PINNED
        elif key in live_set:
            protected[key] = Protection.LIVE
        elif now - seen <= retain:
            protected[key] = Protection.RECENT
        app = (key.database, key.app)
        if key not in live_set and first_seen[key] < oldest_live.get(app, float("inf")):
            best = newest_idle.get(app)
            if best is None or last_seen[best] < seen:
                newest_idle[app] = key
    for key in newest_idle.values():
        protected.setdefault(key, Protection.ROLLBACK_TARGET)
    return protected


def reachable_footprints(
    stored: Iterable[StoredVersion],
    protections: Mapping[VersionKey, Protection],
    live: frozenset[VersionKey] | None,
    rest: Callable[[dict[Facet, Evidence]], dict[Facet, Evidence]] = at_rest,
) -> dict[VersionKey, dict[Facet, Evidence]]:
    """The protected versions' footprints as a change can reach them. A version with no
    open connection (a rollback target, one seen within --retain, one pinned) holds no
    prepared statement: its next connection prepares them anew, so only
    :func:`~skewguard.footprint.at_rest` of it counts. ``live`` None: who is connected
    is not known, so every facet counts. ``rest``: ``at_rest``, or one that hands out
    the same dict again for the same facets (the guard's used-names cache keys on them)."""
    return {
        v.key: v.facets if live is None or v.key in live else rest(v.facets)
        for v in stored
        if v.key in protections
    }


def settled_until(
    stored: Iterable[StoredVersion], live: Iterable[VersionKey], *, retain: float, now: float
) -> float:
    """Until when ``protected_versions`` gives the same answer for these inputs as the
    clock moves on: the moment the first version seen within ``retain`` ages out of
    it. A live version not stored yet takes ``now`` as its times: no later moment."""
    seen = {v.key: v.last_seen for v in stored if v.key.app}
    if any(key.app and key not in seen for key in live):
        return now
    return min((last + retain for last in seen.values() if now - last <= retain), default=inf)
