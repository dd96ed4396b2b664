"""SG120 and superusers: a version that connects as a superuser passes every privilege
check, so the privileges its role loses (a REVOKE, or an owner's implicit ones when its
table moves to another owner) break nothing; the catalog says who is a superuser."""

from __future__ import annotations

from dataclasses import replace

from skewguard.analysis import Facet, FacetKind, analyze
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Finding, Overlay, Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules.engine import evaluate

VERSION = VersionKey("db", "app", "1")
SCHEMA = "CREATE TABLE t (id int, v text); ALTER TABLE t OWNER TO sg_boss"


def findings(migration: str, superusers: frozenset[str] | None) -> list[Finding]:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    before = replace(overlay.catalog, superusers=superusers)
    facets = set(analyze("UPDATE t SET v = 'x' WHERE id = 1", catalog=before).facets)
    facets.add(Facet(FacetKind.ROLE, "sg_boss"))  # what the shell records: its login role
    footprint = {VERSION: {f: Evidence(1, 0.0, 0.0, "UPDATE t") for f in facets}}
    change = Overlay(before)
    change.apply(migration)
    return evaluate(
        change.net_changes(), footprint, catalog_before=before, catalog_after=change.catalog
    )


def breaks(found: list[Finding]) -> set[str]:
    return {f.rule for f in found if f.severity is Severity.BREAK}


def test_the_owner_moving_away_breaks_a_version_of_an_ordinary_role() -> None:
    assert breaks(findings("ALTER TABLE t OWNER TO sg_other", frozenset({"postgres"}))) == {"SG120"}
    assert breaks(findings("REVOKE UPDATE ON t FROM sg_boss", None)) == {"SG120"}


def test_the_owner_moving_away_from_a_superuser_breaks_nothing() -> None:
    superusers = frozenset({"postgres", "sg_boss"})
    assert findings("ALTER TABLE t OWNER TO sg_other", superusers) == []
    assert findings("REVOKE ALL ON t FROM sg_boss", superusers) == []
