"""evaluate(): messages, severity overrides, probes, multi-version footprints."""

from __future__ import annotations

import json

from skewguard.analysis import analyze
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay, Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules.base import Probe
from skewguard.rules.engine import evaluate, probes_needed

SCHEMA = "CREATE TABLE users (id int, email text, price int)"
OLD = VersionKey("db", "orders", "1.4.2")
NEW = VersionKey("db", "orders", "1.5.0")


def setup(migration: str) -> tuple[CatalogSnapshot, Overlay]:
    o = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    o.apply(SCHEMA)
    before = o.catalog
    after = Overlay(before)
    after.apply(migration)
    return before, after


def footprint(cat: CatalogSnapshot, **queries: str) -> dict[VersionKey, dict]:  # type: ignore[type-arg]
    out = {}
    for version, sql in ((OLD, queries.get("old")), (NEW, queries.get("new"))):
        if sql:
            facets = analyze(sql, catalog=cat).facets
            out[version] = {f: Evidence(3, 1.0, 2.0, sql) for f in facets}
    return out


def test_message_names_version_and_facet() -> None:
    before, after = setup("ALTER TABLE users DROP COLUMN email")
    fps = footprint(before, old="SELECT email FROM users", new="SELECT id FROM users")
    findings = evaluate(
        after.net_changes(), fps, catalog_before=before, catalog_after=after.catalog
    )
    assert len(findings) == 1
    (f,) = findings
    assert (f.rule, f.name, f.severity, f.version) == (
        "SG102",
        "drop-column-in-use",
        Severity.BREAK,
        OLD,
    )
    assert f.message == (
        "DROP COLUMN public.users.email breaks orders@1.4.2: it reads public.users.email"
    )
    d = f.to_dict()
    json.dumps(d)
    assert d["evidence"]["count"] == 3 and d["facet"] == "column_read:public.users.email"


def test_severity_override() -> None:
    before, after = setup("ALTER TABLE users DROP COLUMN email")
    fps = footprint(before, old="SELECT email FROM users")
    for key in ("SG102", "drop-column-in-use"):
        (f,) = evaluate(
            after.net_changes(),
            fps,
            catalog_before=before,
            catalog_after=after.catalog,
            severities={key: Severity.RISK},
        )
        assert f.severity is Severity.RISK


def test_probe_decides_between_break_and_risk() -> None:
    before, after = setup("ALTER TABLE users ADD CONSTRAINT p CHECK (price > 0) NOT VALID")
    changes = after.net_changes()
    fps = footprint(before, old="INSERT INTO users (id, price) VALUES ($1, $2)")
    (probe,) = probes_needed(changes, fps)
    assert probe == Probe('SELECT EXISTS (SELECT 1 FROM "public"."users" WHERE NOT (price > 0))')
    assert probes_needed(changes, footprint(before, old="SELECT price FROM users")) == []
    grades = []
    for answer in (True, False, None):
        (f,) = evaluate(
            changes,
            fps,
            catalog_before=before,
            catalog_after=after.catalog,
            probes={probe: answer},
        )
        grades.append(f.severity)
    assert grades == [Severity.BREAK, Severity.RISK, Severity.RISK]


def test_unique_and_fk_probes() -> None:
    before, after = setup(
        "CREATE TABLE acct (id int PRIMARY KEY);"
        " ALTER TABLE users ADD CONSTRAINT u UNIQUE (email),"
        " ADD CONSTRAINT fk FOREIGN KEY (id) REFERENCES acct (id) NOT VALID"
    )
    writer = footprint(before, old="INSERT INTO users (id, email) VALUES ($1, $2)")
    probes = probes_needed(after.net_changes(), writer)
    assert any("HAVING count(*) > 1" in p.sql for p in probes)
    assert any(
        'NOT EXISTS (SELECT 1 FROM "public"."acct" p WHERE p."id" = c."id")' in p.sql
        for p in probes
    )


def test_fk_probe_reads_the_referenced_columns_before_trailing_clauses() -> None:
    before, after = setup(
        "CREATE TABLE acct (id int PRIMARY KEY); ALTER TABLE users ADD CONSTRAINT fk"
        " FOREIGN KEY (id) REFERENCES acct (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
    )
    writer = footprint(before, old="INSERT INTO users (id, email) VALUES ($1, $2)")
    probes = probes_needed(after.net_changes(), writer)
    assert any(
        'NOT EXISTS (SELECT 1 FROM "public"."acct" p WHERE p."id" = c."id")' in p.sql
        for p in probes
    )


def test_no_footprint_no_findings() -> None:
    before, after = setup("DROP TABLE users")
    assert (
        evaluate(after.net_changes(), {}, catalog_before=before, catalog_after=after.catalog) == []
    )
