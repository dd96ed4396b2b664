"""Revisions and shared facets: what a decision works out from a version's facets is
kept while the store reports them unchanged (issue #8: a decision's cost does not grow
with every facet ever learned)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from skewguard.analysis.facets import Facet, FacetKind
from skewguard.footprint import Evidence, FootprintBatch, VersionKey
from skewguard.guard import _shared, _StateRead
from skewguard.rules.base import Context
from skewguard.store import SqliteStore
from skewguard.store.base import SharedFacets, StoredVersion, with_unwritten

V1 = VersionKey("shop", "orders", "1")
V2 = VersionKey("shop", "orders", "2")
A = Facet(FacetKind.COLUMN_READ, "public.users.email")
B = Facet(FacetKind.COLUMN_READ, "public.users.name")
T = Facet(FacetKind.RELATION_READ, "public.users")


def _batch(key: VersionKey, *facets: Facet, seen_only: bool = False) -> FootprintBatch:
    batch = FootprintBatch()
    if seen_only:
        batch.saw_version(key, time.time())
    else:
        batch.record(key, frozenset(facets), 1, time.time(), "SELECT 1")
    return batch


def _revisions(store: SqliteStore) -> dict[VersionKey, tuple[int, int]]:
    return {v.key: (v.revision, v.keys_revision) for v in store.versions()}


def test_a_revision_changes_with_the_facets_and_only_then(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    store.write(_batch(V1, A))
    store.write(_batch(V2, A))
    first = _revisions(store)
    assert all(first[V1]) and first == _revisions(store)  # a read changes nothing
    store.write(_batch(V1, seen_only=True))  # seen again, nothing learned
    assert _revisions(store) == first
    store.write(_batch(V1, A))  # evidence only
    second = _revisions(store)
    assert second[V1][0] != first[V1][0] and second[V1][1] == first[V1][1]
    assert second[V2] == first[V2]
    store.write(_batch(V1, B))  # a new facet
    third = _revisions(store)
    assert third[V1][0] != second[V1][0] and third[V1][1] != second[V1][1]
    assert {v.revision for v in store.versions(with_facets=False)} == {0}  # no facets: unknown
    store.close()


def test_shared_facets_cannot_be_changed_in_place() -> None:
    shared = SharedFacets({A: Evidence(1, 1.0, 1.0, "q")})
    changes: list[Callable[[], object]] = [
        lambda: shared.__setitem__(B, Evidence(1, 1.0, 1.0, "q")),
        lambda: shared.pop(A),
        lambda: shared.update({}),
        shared.clear,
    ]
    for change in changes:
        with pytest.raises(TypeError):
            change()
    assert dict(shared) == {A: Evidence(1, 1.0, 1.0, "q")}  # a copy can


def _uses(footprints: dict[VersionKey, dict[Facet, Evidence]]) -> list[tuple[object, ...]]:
    ctx = Context(footprints, None, None, {}, None)  # type: ignore[arg-type]
    return list(ctx.uses((FacetKind.COLUMN_READ, FacetKind.RELATION_READ), lambda s: True))


def test_the_rules_index_is_kept_for_a_facet_set_and_sees_new_evidence() -> None:
    old = SharedFacets({A: Evidence(1, 1.0, 1.0, "q"), T: Evidence(1, 1.0, 1.0, "q")})
    plain = dict(old)
    assert _uses({V1: old}) == _uses({V1: plain}) == [(V1, A, old[A]), (V1, T, old[T])]
    index = old.derived["kinds"]
    newer = SharedFacets({A: Evidence(5, 1.0, 9.0, "q"), T: Evidence(1, 1.0, 1.0, "q")}, old)
    assert _uses({V1: newer}) == [(V1, A, Evidence(5, 1.0, 9.0, "q")), (V1, T, old[T])]
    assert newer.derived["kinds"] is index  # not worked out again


def test_the_guard_shares_unchanged_facets_and_keeps_what_the_set_allows(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    store.write(_batch(V1, A))
    store.write(_batch(V2, A))
    first = _shared(store.versions(), None)
    assert all(isinstance(v.facets, SharedFacets) for v in first)
    last = _StateRead(None, 0.0, first, {}, {})
    again = _shared(store.versions(), last)
    assert [v.facets for v in again] == [v.facets for v in first]
    assert all(a.facets is b.facets for a, b in zip(again, first, strict=True))  # unchanged
    _derived(first[0])["kinds"] = "kept"
    store.write(_batch(V1, A))  # V1's evidence changed, its set did not
    third = _shared(store.versions(), _StateRead(None, 0.0, again, {}, {}))
    assert third[0].facets is not first[0].facets and _derived(third[0]) == {"kinds": "kept"}
    assert third[1].facets is first[1].facets
    store.write(_batch(V1, B))  # a new facet: nothing kept
    fourth = _shared(store.versions(), _StateRead(None, 0.0, third, {}, {}))
    assert _derived(fourth[0]) == {} and B in fourth[0].facets
    store.close()


def _derived(version: StoredVersion) -> dict[str, object]:
    assert isinstance(version.facets, SharedFacets)
    return version.facets.derived


def test_unwritten_facets_already_stored_leave_the_stored_ones_as_they_are() -> None:
    stored = SharedFacets({A: Evidence(3, 1.0, 2.0, "q")})
    version = StoredVersion(V1, 1.0, 2.0, stored, revision=7, keys_revision=7)
    fresh = StoredVersion(V1, 3.0, 3.0, {A: Evidence(1, 3.0, 3.0, "q")})
    (merged,) = with_unwritten([version], [fresh], with_facets=True)
    assert merged.facets is stored and merged.revision == 7 and merged.last_seen == 3.0
    fresh.facets[B] = Evidence(1, 3.0, 3.0, "q")  # something new: a merged copy
    (merged,) = with_unwritten([version], [fresh], with_facets=True)
    assert merged.facets == {A: stored[A], B: fresh.facets[B]} and merged.revision == 0
