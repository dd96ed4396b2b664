"""Wording shared by the rule modules."""

from __future__ import annotations

from skewguard.analysis.facets import Facet, FacetKind
from skewguard.footprint import VersionKey

_VERBS = {
    FacetKind.RELATION_READ: "reads",
    FacetKind.RELATION_WRITE: "writes",
    FacetKind.VIEW_READ: "reads the view",
    FacetKind.COLUMN_READ: "reads",
    FacetKind.COLUMN_WRITE: "writes",
    FacetKind.VALUE_SUPPLIED: "writes a value of its own (not DEFAULT, no OVERRIDING) to",
    FacetKind.INSERT_SHAPE: "inserts",
    FacetKind.INSERT_POSITIONAL: "inserts without a column list into",
    FacetKind.INSERT_SELECT_STAR: "runs INSERT ... SELECT * for",
    FacetKind.SELECT_STAR: "selects * from",
    FacetKind.COPY_IN: "runs COPY FROM into",
    FacetKind.COPY_OUT: "runs COPY TO from",
    FacetKind.CONFLICT_COLUMNS: "uses ON CONFLICT",
    FacetKind.CONFLICT_CONSTRAINT: "uses ON CONFLICT ON CONSTRAINT",
    FacetKind.FUNCTION_CALL: "calls",
    FacetKind.FUNCTION: "calls",
    FacetKind.SEQUENCE: "uses the sequence",
    FacetKind.SEQUENCE_DEFAULT: "uses the sequence through a column default",
    FacetKind.TYPE_NAMED: "names the type",
    FacetKind.ENUM_LABEL_WRITE: "writes the label",
    FacetKind.ENUM_LABEL_READ: "compares with the label",
    FacetKind.PREPARED_RESULT: "keeps prepared a statement returning",
    FacetKind.PREPARED_DERIVED: "keeps prepared a statement returning an expression of",
    FacetKind.PREPARED_PARAM: "keeps prepared a statement with a parameter of type",
    FacetKind.TABLESAMPLE: "samples (TABLESAMPLE)",
    FacetKind.COPY_SHAPE: "runs COPY FROM into a temporary table made LIKE",
}


def who(version: VersionKey) -> str:
    return f"{version.app}@{version.version}" if version.app else f"untagged/{version.database}"


def uses(facet: Facet) -> str:
    return f"{_VERBS.get(facet.kind, facet.kind.value)} {facet.subject}"


def breaks(what: str, version: VersionKey, facet: Facet) -> str:
    return f"{what} breaks {who(version)}: it {uses(facet)}"


def risks(what: str, version: VersionKey, facet: Facet, why: str) -> str:
    return f"{what} may break {who(version)}: it {uses(facet)} ({why})"
