"""Which versions are protected, and why: the rollback target cannot be displaced by a newcomer."""

from __future__ import annotations

from skewguard.analysis import analyze
from skewguard.analysis.facets import Facet, FacetKind
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay, Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.protection import (
    RETIRED_YET_LIVE,
    Protection,
    protected_versions,
    reachable_footprints,
    retired_yet_live,
    settled_until,
    version_report,
)
from skewguard.rules.engine import evaluate
from skewguard.store import Lifecycle, StoredVersion

DAY = 24 * 3600.0
NOW = 100 * DAY


def _stored(version: str, first: float, last: float, app: str = "shop") -> StoredVersion:
    return StoredVersion(VersionKey("db", app, version), first, last)


def _protect(
    stored: list[StoredVersion],
    live: list[str],
    lifecycle: dict[tuple[str, str], Lifecycle] | None = None,
) -> dict[str, Protection]:
    keys = [VersionKey("db", "shop", v) for v in live]
    got = protected_versions(stored, keys, lifecycle or {}, retain=DAY, now=NOW)
    return {key.version: why for key, why in got.items()}


def test_the_previous_deploy_is_the_rollback_target() -> None:
    stored = [_stored("1", NOW - 30 * DAY, NOW - 5 * DAY), _stored("2", NOW - 5 * DAY, NOW)]
    assert _protect(stored, ["2"]) == {"1": Protection.ROLLBACK_TARGET, "2": Protection.LIVE}


def test_a_newcomer_that_connected_once_does_not_displace_it() -> None:
    stored = [
        _stored("1", NOW - 30 * DAY, NOW - 5 * DAY),
        _stored("2", NOW - 5 * DAY, NOW),
        _stored("999", NOW - 2 * DAY, NOW - 2 * DAY + 1),  # after 2 went live, then gone
    ]
    got = _protect(stored, ["2"])
    assert got["1"] is Protection.ROLLBACK_TARGET
    assert "999" not in got  # older than --retain, never ran before the live version


def test_an_abandoned_canary_stays_recent_but_is_no_rollback_target() -> None:
    stored = [_stored("1", NOW - 30 * DAY, NOW), _stored("2", NOW - 3600, NOW - 60)]
    assert _protect(stored, ["1"]) == {"1": Protection.LIVE, "2": Protection.RECENT}


def test_with_nothing_live_the_most_recently_seen_is_the_target() -> None:
    stored = [
        _stored("1", NOW - 30 * DAY, NOW - 20 * DAY),
        _stored("2", NOW - 20 * DAY, NOW - 9 * DAY),
    ]
    assert _protect(stored, []) == {"2": Protection.ROLLBACK_TARGET}


def test_pinned_and_retired_win() -> None:
    stored = [_stored("1", NOW - 30 * DAY, NOW - 20 * DAY), _stored("2", NOW - 20 * DAY, NOW)]
    lifecycle = {("shop", "1"): Lifecycle.RETIRED, ("shop", "3"): Lifecycle.PINNED}
    stored.append(_stored("3", NOW - 40 * DAY, NOW - 39 * DAY))
    got = _protect(stored, ["2"], lifecycle)
    assert got == {"2": Protection.LIVE, "3": Protection.PINNED}


def test_a_retired_version_that_is_connected_is_unprotected_and_reported() -> None:
    """Retired stays retired (DESIGN.md), but the rows and the guard's warning say that
    something an operator called gone is running: DDL may break it."""
    stored = [_stored("1", NOW - 30 * DAY, NOW - 20 * DAY), _stored("2", NOW - 20 * DAY, NOW)]
    lifecycle = {("shop", "1"): Lifecycle.RETIRED}
    live = [VersionKey("db", "shop", "1"), VersionKey("db", "shop", "2"), VersionKey("db", "", "")]
    assert "1" not in _protect(stored, ["1", "2"], lifecycle)
    assert retired_yet_live(live, lifecycle) == [VersionKey("db", "shop", "1")]
    assert retired_yet_live(live[1:], lifecycle) == []  # retired and gone: nothing to say
    rows = version_report(stored, live[:1], with_facets=False, lifecycle=lifecycle)
    warnings = {(r["version"], r["lifecycle"]): r["warning"] for r in rows}
    assert warnings == {("1", "retired"): RETIRED_YET_LIVE, ("2", None): None}
    rows = version_report(stored, (), with_facets=False, lifecycle=lifecycle)
    assert all(r["warning"] is None for r in rows)


def test_untagged_clients_protect_nothing() -> None:
    stored = [_stored("", NOW - DAY, NOW, app="")]
    assert protected_versions(stored, [], {}, retain=DAY, now=NOW) == {}


def test_the_answer_holds_until_the_first_recent_version_ages_out() -> None:
    stored = [
        _stored("1", NOW - 30 * DAY, NOW - 5 * DAY),
        _stored("2", NOW - 3600, NOW - 600),  # ages out of --retain first
        _stored("3", NOW - 60, NOW - 30),
    ]
    live = [VersionKey("db", "shop", "3")]
    until = settled_until(stored, live, retain=DAY, now=NOW)
    assert until == NOW - 600 + DAY

    def at(moment: float) -> dict[VersionKey, Protection]:
        return protected_versions(stored, live, {}, retain=DAY, now=moment)

    assert at(NOW) == at(until) != at(until + 1)
    # a live version not stored yet takes the clock's time: nothing can be kept
    fresh = [*live, VersionKey("db", "shop", "4")]
    assert settled_until(stored, fresh, retain=DAY, now=NOW) == NOW


def _widen_findings(live: frozenset[VersionKey] | None) -> list[str]:
    """The break findings of widening a column that a version's named prepared
    statement returns, for that version protected as live, or not connected."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply("CREATE TABLE items (id int PRIMARY KEY, qty int)")
    before = overlay.catalog
    after = Overlay(before)
    after.apply("ALTER TABLE items ALTER COLUMN qty TYPE bigint")
    sql = "SELECT id, qty FROM items WHERE id = $1"
    facets = {f: Evidence(2, 1.0, 2.0, sql) for f in analyze(sql, catalog=before).facets}
    facets[Facet(FacetKind.PREPARED_RESULT, "public.items.qty")] = Evidence(2, 1.0, 2.0, sql)
    key = VersionKey("db", "shop", "1")
    stored = [StoredVersion(key, NOW - 3600, NOW - 60, facets)]
    protections = {key: Protection.LIVE if live else Protection.ROLLBACK_TARGET}
    footprints = reachable_footprints(stored, protections, live)
    findings = evaluate(
        after.net_changes(), footprints, catalog_before=before, catalog_after=after.catalog
    )
    return [f.rule for f in findings if f.severity is Severity.BREAK]


def test_a_version_with_no_open_connection_holds_no_prepared_statement() -> None:
    """PostgreSQL: widening breaks the next EXECUTE of a statement prepared before it
    (cached plan must not change result type), but a rollback target's next connection
    prepares it anew and works (ground truth: safe-lifecycle-widen-column-...)."""
    key = VersionKey("db", "shop", "1")
    assert _widen_findings(frozenset({key})) == ["SG110"]  # live: it holds the plan
    assert _widen_findings(frozenset()) == []  # connected nowhere: nothing held
    assert _widen_findings(None) == ["SG110"]  # who is connected is not known
