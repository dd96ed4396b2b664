"""Every rule's examples, through Overlay + analyze + evaluate (no server).

The example schema is applied with the Overlay onto an empty snapshot (which
tests the overlay too); the version's footprint is what analyze() records for
the example's query against it, plus what the shell adds: the role it runs as
(here: ``SET ROLE x`` in the usage), the prepared_result facets of what it
keeps prepared (here: its SQL PREPAREs; the usage runs on the simple protocol)
and the constants it writes.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from skewguard.analysis import Facet, FacetKind, analyze, result_facets
from skewguard.analysis.values import value_facets
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Finding, Overlay, SessionFacts, Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules import RULES
from skewguard.rules.base import Example, Rule
from skewguard.rules.engine import evaluate, probes_needed

BUILTINS = frozenset(
    {
        "count",
        "sum",
        "max",
        "min",
        "nextval",
        "currval",
        "setval",
        "left",
        "lower",
        "upper",
        "now",
        "coalesce",
        "length",
    }
)
VERSION = VersionKey("db", "app", "1.0")
LOCK_TIMEOUT = re.compile(r"(?i)\bSET\s+lock_timeout\b")


def empty_catalog() -> CatalogSnapshot:
    return CatalogSnapshot(schemas=frozenset({"public"}), builtin_functions=BUILTINS)


def run_example(ex: Example) -> list[Finding]:
    schema = Overlay(empty_catalog())
    schema.apply(ex.schema_sql)
    before = schema.catalog
    session = None
    if ex.fires is not None:  # a lint's example: its tables hold rows, as in production
        full = tuple(replace(r, rows=100.0, pages=1) for r in before.relations)
        before = replace(before, relations=full)
        session = SessionFacts(lock_timeout_set=bool(LOCK_TIMEOUT.search(ex.migration_sql)))
    analysis = analyze(ex.usage_sql, catalog=before)
    facets = set(analysis.facets | value_facets(analysis.values))
    facets |= result_facets(ex.usage_sql, catalog=before, prepared_only=True)
    facets |= {Facet(FacetKind.ROLE, r) for r in re.findall(r"(?i)\bSET ROLE (\w+)", ex.usage_sql)}
    footprint = {VERSION: {f: Evidence(1, 0.0, 0.0, ex.usage_sql) for f in facets}}
    overlay = Overlay(before)
    overlay.apply(ex.migration_sql)
    changes = overlay.net_changes()
    probes = {sql: ex.probe for sql in probes_needed(changes, footprint, overlay.catalog)}
    return evaluate(
        changes,
        footprint,
        catalog_before=before,
        catalog_after=overlay.catalog,
        probes=probes,
        session=session,
    )


CASES = [
    pytest.param(rule, ex, id=f"{rule.id}-{i}-{'breaks' if ex.breaks else 'safe'}")
    for rule in RULES
    for i, ex in enumerate(rule.examples)
]


@pytest.mark.parametrize(("rule", "ex"), CASES)
def test_example(rule: Rule[Any], ex: Example) -> None:
    findings = run_example(ex)
    breaking = [f for f in findings if f.severity is Severity.BREAK]
    assert bool(breaking) == ex.breaks, [f.message for f in findings]
    if ex.fires is not None:
        assert any(f.rule == rule.id for f in findings) == ex.fires, [f.message for f in findings]
    if ex.breaks:
        assert any(f.rule == rule.id for f in breaking), [f.message for f in breaking]
        for f in breaking:
            assert f.version == VERSION and f.facet is not None and f.evidence is not None
            assert f.hint and f.message
            assert f.to_dict()["rule"] == f.rule


def test_every_rule_has_a_check_and_unique_id() -> None:
    ids = [r.id for r in RULES]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert len({r.name for r in RULES}) == len(RULES)
    for rule in RULES:
        assert callable(rule.check) and rule.covers, rule.id
    for rule in RULES:
        if rule.id.startswith("SG1") and rule.id != "SG199" and rule.severity is Severity.BREAK:
            assert any(e.breaks for e in rule.examples), rule.id
            assert any(not e.breaks for e in rule.examples), rule.id
        if rule.id.startswith("SG2"):  # lints: one example it reports, one it does not
            assert {e.fires for e in rule.examples} == {True, False}, rule.id
