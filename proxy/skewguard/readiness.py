"""Is the schema ready for a version? Its footprint, held against the current catalog.

A deploy pipeline asks before rolling out version N+1 (new code that runs
before its migration fails on a missing column) and before rolling back to
N-1 (would it still work after the expand/contract steps already run?). The
answer comes from what the version really used: every facet of its footprint
names something the schema must have — a relation, a column, a function
overload, an enum label, a sequence, an arbiter index — and every INSERT shape
must still be accepted (no NOT NULL column without a default left out). Pure:
no I/O; the shell reads the footprint and the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from skewguard.analysis import Facet, FacetKind
from skewguard.catalog import CatalogSnapshot, Relation, RelKind, ident, qualified
from skewguard.footprint import Evidence

_F = FacetKind


@dataclass(frozen=True)
class Gap:
    """One thing a version uses that the schema lacks, or one of its writes it would refuse."""

    facet: Facet
    problem: str
    evidence: Evidence | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"facet": self.facet.key, "problem": self.problem}
        if self.evidence is not None:
            out["count"] = self.evidence.count
            out["last_seen"] = self.evidence.last_seen
        return out


class _Schema:
    """The catalog's objects under the names facets use."""

    def __init__(self, catalog: CatalogSnapshot) -> None:
        self.relations: dict[str, Relation] = {
            qualified(r.schema, r.name): r for r in catalog.relations
        }
        self.columns = {
            f"{name}.{ident(c.name)}" for name, r in self.relations.items() for c in r.columns
        }
        self.signatures = {f.signature for f in catalog.functions}
        self.labels = {f"{e.type_name}:{label}" for e in catalog.enums for label in e.labels}
        self.types = {e.type_name for e in catalog.enums} | {
            qualified(s, n) for s, n in catalog.types
        }
        self.constraints = {
            f"{qualified(c.schema, c.table)}.{ident(c.name)}" for c in catalog.constraints
        }
        self.unique_keys: dict[str, set[frozenset[str]]] = {}
        for index in catalog.indexes:
            if index.unique and index.valid and index.predicate is None:
                self.unique_keys.setdefault(index.qtable, set()).add(
                    frozenset(ident(k) for k in index.keys)
                )
        # an operator by name (its argument types are not learned)
        self.operators = {o.partition("(")[0] for o in catalog.operators}
        self.catalog = catalog

    def callable(self, call: str) -> bool:
        """A call site ``public.f(integer,unknown)``: some overload takes that many arguments."""
        name, _, args = call.partition("(")
        arity = len([a for a in args.rstrip(")").split(",") if a])
        return any(f.accepts_arity(arity) for f in self.catalog.functions if f.qname == name)


def gaps(facets: Mapping[Facet, Evidence], catalog: CatalogSnapshot) -> list[Gap]:
    """What the schema lacks, or would refuse, of what this footprint used; [] when ready."""
    schema = _Schema(catalog)
    found: dict[str, Gap] = {}  # one per problem (a column is read *and* was missing...)
    for facet, evidence in sorted(facets.items()):
        problem = _problem(facet, schema)
        if problem is not None and problem not in found:
            found[problem] = Gap(facet, problem, evidence)
    return list(found.values())


def _problem(facet: Facet, schema: _Schema) -> str | None:
    kind, subject = facet.kind, facet.subject
    if kind in (
        _F.RELATION_READ,
        _F.RELATION_WRITE,
        _F.VIEW_READ,
        _F.SELECT_STAR,
        _F.MISSING_RELATION,
        _F.SEQUENCE,
        _F.SEQUENCE_DEFAULT,
    ):
        rel = schema.relations.get(subject)
        if rel is None:
            return f"relation {subject} does not exist"
        if kind is _F.RELATION_WRITE and rel.kind is RelKind.VIEW and not rel.updatable:
            return f"view {subject} is not updatable"
        return None
    if kind in (_F.COLUMN_READ, _F.COLUMN_WRITE, _F.MISSING_COLUMN):
        if subject in schema.columns:
            return None
        table = subject.rpartition(".")[0]
        if table not in schema.relations:
            return f"relation {table} does not exist"
        return f"column {subject} does not exist"
    if kind is _F.INSERT_SHAPE:
        return _insert_problem(subject, schema)
    if kind is _F.INSERT_POSITIONAL:
        table, _, arity = subject.rpartition("/")
        rel = schema.relations.get(table)
        if rel is None:
            return f"relation {table} does not exist"
        if int(arity or 0) > len(rel.columns):
            columns = len(rel.columns)
            return f"INSERT of {arity} values without a column list: {table} has {columns} columns"
        return None
    if kind in (_F.COPY_IN, _F.COPY_OUT):
        table = subject.partition("(")[0]
        return None if table in schema.relations else f"relation {table} does not exist"
    if kind is _F.CONFLICT_COLUMNS:
        table, _, cols = subject.partition("(")
        wanted = frozenset(c for c in cols.rstrip(")").split(",") if c)
        if wanted in schema.unique_keys.get(table, set()):
            return None
        return f"no unique index on {subject} for ON CONFLICT to use (42P10)"
    if kind is _F.CONFLICT_CONSTRAINT:
        return None if subject in schema.constraints else f"constraint {subject} does not exist"
    if kind is _F.FUNCTION:
        return None if subject in schema.signatures else f"function {subject} does not exist"
    if kind is _F.MISSING_FUNCTION:
        return None if schema.callable(subject) else f"function {subject} does not exist"
    if kind in (_F.ENUM_LABEL_WRITE, _F.ENUM_LABEL_READ, _F.MISSING_ENUM_LABEL):
        if subject in schema.labels:
            return None
        return f"enum label {subject.replace(':', ' ', 1)} does not exist"
    if kind is _F.TYPE_NAMED:
        return None if subject in schema.types else f"type {subject} does not exist"
    if kind is _F.OPERATOR:
        return None if subject in schema.operators else f"operator {subject} does not exist"
    return None  # call-site types, search_path, roles, prepared result types: not checked here


def _insert_problem(subject: str, schema: _Schema) -> str | None:
    table, _, cols = subject.partition("(")
    rel = schema.relations.get(table)
    if rel is None:
        return f"relation {table} does not exist"
    given = {c for c in cols.rstrip(")").split(",") if c}
    omitted = [
        c.name
        for c in rel.columns
        if c.not_null
        and not c.has_default
        and not c.generated
        and not c.identity
        and ident(c.name) not in given
    ]
    if omitted:
        names = ", ".join(omitted)
        return f"its INSERTs into {table} omit NOT NULL column(s) without a default: {names}"
    return None


__all__ = ["Gap", "gaps"]
