"""The interface every state backend offers."""

from __future__ import annotations

import itertools
import logging
import os
import socket
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NoReturn, Protocol

from skewguard.analysis import Facet
from skewguard.footprint import Evidence, FootprintBatch, VersionKey

log = logging.getLogger("skewguard.store")


#: Facet revisions: a new number each time a store's kept facets of a version change.
_revisions = itertools.count(1)


def next_revision() -> int:
    return next(_revisions)


@dataclass(slots=True)
class StoredVersion:
    key: VersionKey
    first_seen: float
    last_seen: float
    facets: dict[Facet, Evidence] = field(default_factory=dict)
    #: Equal in two reads only when ``facets`` are the same (0: not known), so a
    #: reader can keep what it worked out from them; carried by copies.
    revision: int = field(default=0, compare=False, repr=False)
    #: The same for the set of facets alone (their evidence aside).
    keys_revision: int = field(default=0, compare=False, repr=False)

    def changed(self, *, keys: bool) -> None:
        """Its kept facets changed (``keys``: some were added or went)."""
        self.revision = next_revision()
        if keys:
            self.keys_revision = next_revision()


class SharedFacets(dict[Facet, Evidence]):
    """A version's facets as read, shared by every decision while they are unchanged:
    never changed in place (what is worked out from them can be kept on them)."""

    #: What readers worked out from the facet set alone (the rules' index by kind,
    #: the screen's names), by name: shared with a later read of the same set.
    derived: dict[str, Any]

    def __init__(self, facets: Mapping[Facet, Evidence], last: SharedFacets | None = None) -> None:
        """A read-only copy of ``facets``; ``last``: a read of the same facet set."""
        super().__init__(facets)
        self.derived = last.derived if last is not None else {}

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("shared facets are read-only: copy them to change them")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = clear = pop = popitem = setdefault = _refuse


def copies(kept: Iterable[StoredVersion], with_facets: bool) -> list[StoredVersion]:
    """Copies of a store's kept versions that callers may change (without facets unless
    ``with_facets``)."""
    return [
        replace(v, facets=dict(v.facets))
        if with_facets
        else replace(v, facets={}, revision=0, keys_revision=0)
        for v in kept
    ]


def warn_trimmed(key: VersionKey, count: int, kept: int, warned: set[VersionKey]) -> None:
    """Say (in the log, once per version) that a version's footprint went past the bound."""
    if key in warned:
        return
    warned.add(key)
    log.warning(
        "%s@%s in %s: %d facets, the newest %d not kept (--max-version-facets %d); DDL is not "
        "judged while it is protected",
        key.app, key.version, key.database, count, count - kept, kept,
    )  # fmt: skip


def assemble_versions(
    rows: Iterable[Sequence[Any]], facet_rows: Iterable[Sequence[Any]]
) -> list[StoredVersion]:
    """StoredVersions from ``(database, app, version, first, last)`` rows and
    ``(database, app, version, facet, count, first, last, sample)`` rows (every backend)."""
    stored = {
        VersionKey(db, app, ver): StoredVersion(VersionKey(db, app, ver), first, last)
        for db, app, ver, first, last in rows
    }
    for version in stored.values():
        version.changed(keys=True)
    add_facet_rows(stored, facet_rows)
    return list(stored.values())


def add_facet_rows(
    stored: Mapping[VersionKey, StoredVersion], facet_rows: Iterable[Sequence[Any]]
) -> None:
    """Put ``(database, app, version, facet, count, first, last, sample)`` rows into the
    versions they belong to (replacing what those held); rows of other versions are left."""
    for db, app, ver, key, count, first, last, sample in facet_rows:
        version = stored.get(VersionKey(db, app, ver))
        if version is None:
            continue
        try:
            facet = Facet.from_key(key)
        except ValueError:  # written by a newer proxy sharing the store: not ours to judge
            continue
        version.facets[facet] = Evidence(int(count), first, last, sample)


def merge_written(kept: dict[VersionKey, StoredVersion], batch: FootprintBatch) -> bool:
    """Apply ``batch`` to ``kept`` (a full read, keyed by version) as the store's upserts
    apply it to the rows: counts add, first_seen is the earliest, last_seen the latest,
    the first sample stays, new versions and facets are added. Evidence is replaced,
    never changed in place (copies handed out share it). False, with ``kept`` left
    partly merged, when a full read would answer otherwise (facets of a version that
    has no row): the caller must read again."""
    added = False
    for key, (first, last) in batch.seen.items():
        known = kept.get(key)
        if known is None:
            kept[key] = StoredVersion(key, first, last)
            kept[key].changed(keys=True)
            added = True
        else:
            known.first_seen = min(known.first_seen, first)
            known.last_seen = max(known.last_seen, last)
    for key, owned in batch.facets.items():
        version = kept.get(key)
        if version is None:
            return False
        facets = version.facets
        version.changed(keys=not owned.keys() <= facets.keys())
        for facet, new in owned.items():
            old = facets.get(facet)
            facets[facet] = (
                Evidence(new.count, new.first_seen, new.last_seen, new.sample)
                if old is None
                else Evidence(
                    old.count + new.count,
                    min(old.first_seen, new.first_seen),
                    max(old.last_seen, new.last_seen),
                    old.sample,
                )
            )
    if added:  # in key order, as a full read lists them
        ordered = sorted(kept.items())
        kept.clear()
        kept.update(ordered)
    return True


def with_unwritten(
    stored: Iterable[StoredVersion], fresh: Iterable[StoredVersion], *, with_facets: bool
) -> list[StoredVersion]:
    """The store's versions plus what is learned but not yet written: a store that
    cannot be written (or read) must not make a version invisible."""
    by_key = {v.key: v for v in stored}
    for version in fresh:
        known = by_key.get(version.key)
        if known is None:
            by_key[version.key] = version
            continue
        known.first_seen = min(known.first_seen, version.first_seen)
        known.last_seen = max(known.last_seen, version.last_seen)
        # the stored evidence wins: facets already stored change nothing (the usual case
        # for a running version), and the stored ones are kept as they are
        if with_facets and not version.facets.keys() <= known.facets.keys():
            known.facets = {**version.facets, **known.facets}
            known.revision = known.keys_revision = 0
    return list(by_key.values())


class Lifecycle(StrEnum):
    """An operator's word on an app version, for every database it runs against."""

    PINNED = "pinned"  # protected whatever its traffic says
    RETIRED = "retired"  # never protected again (it will not run or be rolled back to)


class StateStoreError(ConnectionError):
    """The state store could not be reached or written; the call may be retried later."""


def default_proxy_id(listen_port: int) -> str:
    """``hostname:pid:port``: unique per running proxy, readable in the heartbeat table."""
    return f"{socket.gethostname()}:{os.getpid()}:{listen_port}"


class StateStore(Protocol):
    """Blocking calls; the proxy runs them in a worker thread, never on the event loop.

    A call that cannot reach the store raises (``StateStoreError`` for the shared
    backend); the next call tries again, so callers keep what they could not write.
    """

    def write(self, batch: FootprintBatch) -> None: ...

    def versions(self, *, with_facets: bool = True) -> list[StoredVersion]:
        """Every version, in key order: copies the caller may change. Called before every
        decision, so it costs what changed since the last call, not the whole footprint;
        a version's ``revision`` is the same in two answers only when its facets are."""

    def lifecycle(self) -> dict[tuple[str, str], Lifecycle]: ...

    def set_lifecycle(self, app: str, version: str, state: Lifecycle | None) -> None:
        """Pin or retire ``app@version``; None clears either."""

    def change_mark(self) -> Hashable | None:
        """A token that differs whenever what ``versions``, ``lifecycle`` or
        ``live_elsewhere`` answer may have changed (other proxies' heartbeats
        aging out aside); None when the store cannot tell at once. Called on the
        event loop: it never waits on I/O or on another thread."""

    def record_decision(self, decision: dict[str, Any]) -> None:
        """Append one audited DDL decision (JSON-ready)."""

    def record_decisions(self, decisions: Sequence[dict[str, Any]]) -> None:
        """Append audited DDL decisions in their order, in one transaction."""

    def decisions(self, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
        """The newest audited decisions first; with ``before``, those with a smaller id."""

    def decision_texts(self, limit: int = 100, before: int | None = None) -> list[tuple[int, str]]:
        """Like ``decisions``, as stored: (id, JSON text), for answers that need no parse."""

    def prune_decisions(self, older_than: float, keep: int) -> int:
        """Delete decisions audited before ``older_than`` (epoch seconds; 0: none by age)
        and all but the newest ``keep`` (0: no cap); returns how many went."""

    def heartbeat(self, proxy_id: str, live: Mapping[VersionKey, int]) -> None:
        """This proxy is alive with these live connection counts per version (replaces its last)."""

    def live_elsewhere(self, proxy_id: str, within: float) -> dict[VersionKey, int]:
        """Live counts reported by other proxies whose last heartbeat is under ``within`` s old."""

    def close(self) -> None: ...
