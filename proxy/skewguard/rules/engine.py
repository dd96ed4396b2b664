"""The rule engine: every rule of :data:`skewguard.rules.RULES` on the changes of a
DDL text against the protected versions' footprints (changes -> findings), and the
probes the shell runs for the rules that need rows or values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from skewguard.analysis.facets import Facet, FacetKind
from skewguard.catalog import CatalogSnapshot, ident
from skewguard.ddl.changes import AddConstraint, AlterSequence, Change, CreateIndex
from skewguard.ddl.findings import Finding, SessionFacts, Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules import RULES
from skewguard.rules.base import Context, Probe
from skewguard.rules.columns import default_probes
from skewguard.rules.constraints import probe_sql, value_probes
from skewguard.rules.sequences import sequence_probe


def evaluate(
    changes: Sequence[Change],
    footprints: Mapping[VersionKey, Mapping[Facet, Evidence]],
    *,
    catalog_before: CatalogSnapshot,
    catalog_after: CatalogSnapshot,
    probes: Mapping[Probe, bool | None] = {},
    severities: Mapping[str, Severity] = {},
    session: SessionFacts | None = None,
) -> list[Finding]:
    """Every finding of every rule for ``changes``; ``severities`` overrides by id or name."""
    ctx = Context(footprints, catalog_before, catalog_after, probes, session)
    findings: list[Finding] = []
    seen: set[tuple[str, Change, VersionKey | None, str]] = set()
    for rule in RULES:
        override = severities.get(rule.id) or severities.get(rule.name)
        once = rule.lint
        for change in changes:
            fired = False
            for hit in rule.hits(ctx, change):
                key = (rule.id, change, hit.version, hit.message)
                if key in seen:
                    continue
                seen.add(key)
                fired = True
                severity = override if override is not None else hit.severity
                if override is not None and hit.severity is not rule.severity:
                    # a rule that graded this hit below its default keeps the grade
                    severity = max(override, hit.severity, key=_rank)
                findings.append(
                    Finding(
                        rule.id,
                        rule.name,
                        Severity(severity),
                        change,
                        hit.version,
                        hit.facet,
                        hit.evidence,
                        hit.message,
                        rule.recipe,
                    )
                )
            if once and fired:
                break
    findings.sort(key=lambda f: (_rank(f.severity), f.rule, str(f.change), f.version or _NONE))
    return findings


_NONE = VersionKey("", "", "")


def _rank(severity: Severity) -> int:
    return {Severity.BREAK: 0, Severity.RISK: 1, Severity.INFO: 2}[Severity(severity)]


def probes_needed(
    changes: Sequence[Change],
    footprints: Mapping[VersionKey, Mapping[Facet, Evidence]] = {},
    catalog_after: CatalogSnapshot | None = None,
) -> list[Probe]:
    """Queries the shell runs (bounded time); True = violations exist.

    Probes of existing rows for new constraints; given the protected versions'
    ``footprints`` and the catalog after the change, also of the constants each
    version writes: against a new CHECK (no table read) or a new UNIQUE; and of a
    sequence's next numbers after ALTER SEQUENCE, when a version takes numbers from it;
    and of a NOT NULL column's default a change makes matter, for each version
    inserting into its table.
    """
    # only a protected version writing a constrained column can be broken by the rows
    # or by its values: no such writer, no probe (and no connection for one)
    written = {
        facet.subject
        for facets in footprints.values()
        for facet in facets
        if facet.kind is FacetKind.COLUMN_WRITE
    }
    out: list[Probe] = []
    numbered = {  # sequences a protected version takes numbers from
        facet.subject
        for facets in footprints.values()
        for facet in facets
        if facet.kind in (FacetKind.SEQUENCE, FacetKind.SEQUENCE_DEFAULT)
    }
    for change in changes:
        own_defaults = default_probes(change, footprints, catalog_after).values()
        defaults = [p for ps in own_defaults for p in ps]
        out.extend(p for p in dict.fromkeys(defaults) if p not in out)
        if isinstance(change, AlterSequence) and change.subject in numbered:
            out.append(Probe(sequence_probe(change), every_row=True))
        if isinstance(change, AddConstraint | CreateIndex):
            if not {f"{change.relation}.{ident(c)}" for c in change.columns} & written:
                continue
            rows = probe_sql(change)
            probes = [Probe(rows)] if rows is not None else []
            for own in value_probes(change, footprints, catalog_after).values():
                probes.extend(own)
            out.extend(p for p in dict.fromkeys(probes) if p not in out)
    return out


__all__ = ["evaluate", "probes_needed"]
