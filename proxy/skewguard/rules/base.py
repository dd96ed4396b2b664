"""Rule metadata and the context rule checks run in.

A rule's check is a function ``(ctx, change) -> Iterable[Hit]`` over the change
types the rule covers; a hit names the version, facet and evidence (or none, for
lints) and its severity.
:func:`skewguard.rules.engine.evaluate` turns hits into findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from skewguard.analysis import analyze
from skewguard.analysis.facets import Facet, FacetKind
from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import CatalogSnapshot, Relation
from skewguard.ddl.bodies import body_names
from skewguard.ddl.changes import Change
from skewguard.ddl.findings import SessionFacts, Severity
from skewguard.ddl.types import assigns_every_value
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules.same_everywhere import Asks, asks
from skewguard.store.base import SharedFacets


@dataclass(frozen=True)
class Example:
    """A scenario that doubles as a test and as documentation.

    ``usage_sql`` is the version's traffic (run before and after the
    migration, simple protocol); ``breaks`` is what PostgreSQL does to it.
    ``fires`` (lints, which nothing breaks): whether the rule reports the
    migration when its tables hold rows and the session set no lock_timeout
    unless the migration does.
    """

    schema_sql: str
    usage_sql: str
    migration_sql: str
    breaks: bool
    note: str = ""
    probe: bool | None = None  # what the shell's probe answers here (after the usage ran)
    fires: bool | None = None


@dataclass(frozen=True)
class Hit:
    severity: Severity
    message: str
    version: VersionKey | None = None
    facet: Facet | None = None
    evidence: Evidence | None = None


C = TypeVar("C", bound=Change)


@dataclass(frozen=True)
class Rule(Generic[C]):
    """One rule: what it is for people (docs, recipe, examples that run as tests) and
    its check, which sees only the change types it ``covers``."""

    id: str
    name: str
    severity: Severity
    summary: str
    doc: str
    breaks: str
    recipe: str
    covers: tuple[type[C], ...]
    check: Callable[[Context, C], Iterable[Hit]]
    examples: tuple[Example, ...] = ()

    @property
    def lint(self) -> bool:
        """It covers every change and speaks once per DDL (the first change it fires on)."""
        return self.covers == (Change,)

    def hits(self, ctx: Context, change: Change) -> Iterable[Hit]:
        """The check's hits for ``change``; none for a change of a type it does not cover."""
        if isinstance(change, self.covers):
            return self.check(ctx, change)
        return ()


ROLE = FacetKind.ROLE  # subject: the role a version connects as (recorded by the shell)
# subject: schema.table.column | schema.table.* returned by a named prepared statement
PREPARED_RESULT = FacetKind.PREPARED_RESULT
PREPARED_DERIVED = FacetKind.PREPARED_DERIVED


def roles_of(facets: Iterable[Facet]) -> set[str]:
    """The roles a version with these facets was seen running as (empty: unknown)."""
    return {f.subject for f in facets if f.kind is ROLE}


def writer_probes(sql: str, expression: str, facets: Iterable[Facet]) -> tuple[Probe, ...]:
    """``sql``, evaluating a writer's ``expression``, as whom it runs: the migrating
    session where the expression asks nothing of the session (no role switch to refuse),
    else each role the version connects as (the migrating session where they are
    unknown); one whose answer is the role's only (it asks nothing else) needs it."""
    asked = asks(expression)
    if asked is Asks.NOTHING:
        return (Probe(sql),)
    roles = sorted(roles_of(facets))
    needs = asked is Asks.ROLE
    return tuple(Probe(sql, role, needs_role=needs) for role in roles) or (Probe(sql),)


class Probe(NamedTuple):
    """A query the shell runs for the rules (bounded time; True: violations exist).

    ``role``: run it as this role, a version's own, where its answer depends on who
    evaluates it (PostgreSQL evaluates a CHECK as the writer: ``current_user``,
    ``pg_has_role``...); None: as the migrating session. ``every_row``: its False clears
    (no finding), so it must not be answered from the rows a row-level security policy
    leaves the role: it runs with ``row_security = off`` (no answer where one would)."""

    sql: str
    role: str | None = None
    every_row: bool = False
    #: its answer is the role's only: where the role cannot be used the guard cannot judge
    needs_role: bool = False


@dataclass
class Context:
    footprints: Mapping[VersionKey, Mapping[Facet, Evidence]]
    before: CatalogSnapshot
    after: CatalogSnapshot
    probes: Mapping[Probe, bool | None]
    session: SessionFacts | None
    #: per kind, each version's facets of that kind (in footprint order) and evidence
    _by_kind: dict[FacetKind, list[tuple[VersionKey, list[Facet], Mapping[Facet, Evidence]]]] = (
        field(default_factory=dict)
    )
    _reanalysis: dict[tuple[str, int, tuple[str, ...] | None], frozenset[Facet]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        for version, facets in self.footprints.items():
            for kind, owned in _kinds(facets).items():
                self._by_kind.setdefault(kind, []).append((version, owned, facets))

    def uses(
        self, kinds: Iterable[FacetKind], match: Callable[[str], bool]
    ) -> Iterator[tuple[VersionKey, Facet, Evidence]]:
        for kind in kinds:
            for version, owned, evidence in self._by_kind.get(kind, ()):
                for facet in owned:
                    if match(facet.subject):
                        yield version, facet, evidence[facet]

    def exact(
        self, kinds: Iterable[FacetKind], subject: str
    ) -> Iterator[tuple[VersionKey, Facet, Evidence]]:
        return self.uses(kinds, lambda s: s == subject)

    def roles(self, version: VersionKey) -> set[str]:
        """The roles ``version`` was seen running as (empty: unknown)."""
        return roles_of(self.footprints.get(version, {}))

    def reanalyze(
        self, sample: str, after: bool, search_path: tuple[str, ...] | None = None
    ) -> frozenset[Facet]:
        """The facets of ``sample`` resolved against the catalog before or after, through
        ``search_path`` (None: public, then every schema)."""
        key = (sample, int(after), search_path)
        if key not in self._reanalysis:
            cat = self.after if after else self.before
            path = search_path or ("public", *sorted(cat.schemas - {"public"}))
            self._reanalysis[key] = analyze(sample, search_path=path, catalog=cat).facets
        return self._reanalysis[key]

    def search_paths(self, version: VersionKey) -> list[tuple[str, ...]]:
        """The search paths ``version`` resolves names through, as schema lists: those it
        set (``SET search_path``) and, unless it always set one, the server default
        ``"$user", public``; ``"$user"`` is each role the version runs as (PostgreSQL
        skips the schema while it does not exist, so a new one can take over a name)."""
        facets = self.footprints.get(version, {})
        paths = [
            tuple(split_qualified_name(part)[0] for part in f.subject.split(","))
            for f in facets
            if f.kind is FacetKind.SEARCH_PATH and f.subject != "default"
        ]
        if not paths or any(
            f.kind is FacetKind.SEARCH_PATH and f.subject == "default" for f in facets
        ):
            paths.append(("$user", "public"))
        roles = sorted(self.roles(version))
        expanded: list[tuple[str, ...]] = []
        for path in paths:
            if "$user" not in path:
                expanded.append(path)
                continue
            for role in roles:
                expanded.append(tuple(role if s == "$user" else s for s in path))
        return expanded


def found_through_paths(ctx: Context, version: VersionKey, sample: str, facet: Facet) -> bool:
    """Whether ``sample``, resolved again after the change through each search path of
    ``version``, still records ``facet`` (a moved object its bare name finds there)."""
    paths = ctx.search_paths(version)
    return bool(paths) and all(
        facet in ctx.reanalyze(sample, after=True, search_path=path) for path in paths
    )


def _kinds(facets: Mapping[Facet, Evidence]) -> dict[FacetKind, list[Facet]]:
    """One version's facets by kind. Worked out once for shared (read-only) facets,
    which every decision judges on while the store reports the same facet set."""
    derived = facets.derived if isinstance(facets, SharedFacets) else {}
    kinds: dict[FacetKind, list[Facet]] | None = derived.get("kinds")
    if kinds is None:
        kinds = {}
        for facet in facets:
            kinds.setdefault(facet.kind, []).append(facet)
        derived["kinds"] = kinds
    return kinds


def routine_callers(
    ctx: Context, relation: str, column: str = ""
) -> Iterator[tuple[VersionKey, Facet, Evidence]]:
    """Versions calling a function or procedure whose body names ``relation`` (and
    ``column``)."""
    for v, f, ev in ctx.uses((FacetKind.FUNCTION,), lambda s: "(" in s):
        name = split_qualified_name(f.subject.split("(", 1)[0])
        if len(name) != 2:
            continue
        for fn in ctx.before.functions_named(name[0], name[1]):
            if fn.signature == f.subject and body_names(fn, relation, column):
                yield v, f, ev


def first_per_version(
    hits: Iterable[tuple[VersionKey, Facet, Evidence]],
) -> Iterator[tuple[VersionKey, Facet, Evidence]]:
    """One (the most used) facet per version: one finding per version is enough."""
    best: dict[VersionKey, tuple[VersionKey, Facet, Evidence]] = {}
    for hit in hits:
        cur = best.get(hit[0])
        if cur is None or (hit[2].count, hit[1]) > (cur[2].count, cur[1]):
            best[hit[0]] = hit
    return iter(sorted(best.values(), key=lambda h: h[0]))


def relation_of(cat: CatalogSnapshot, qname: str) -> Relation | None:
    parts = split_qualified_name(qname)
    return cat.relation(parts[0], parts[1]) if len(parts) == 2 else None


def star_insert_lines_up(cat: CatalogSnapshot, subject: str) -> bool:
    """Whether ``INSERT INTO x SELECT * FROM t`` (subject ``x<t``) still lines up in
    ``cat``: t has no more columns than x, each of x's columns it fills by position
    takes every value of t's column (the same type, a wider one, or text: an
    assignment that cannot fail) and takes a value at all (not generated, not identity
    ALWAYS). PostgreSQL
    matches by position only, so a column dropped from, or added to, both tables alike
    (or to the one table of ``INSERT INTO t SELECT * FROM t``) breaks nothing."""
    target_name, _, source_name = subject.partition("<")
    target, source = relation_of(cat, target_name), relation_of(cat, source_name)
    if target is None or source is None or len(source.columns) > len(target.columns):
        return False
    return all(
        assigns_every_value(s.type_name, t.type_name) and not t.generated and t.identity != "a"
        for s, t in zip(source.columns, target.columns, strict=False)
    )


__all__ = [
    "PREPARED_DERIVED",
    "PREPARED_RESULT",
    "ROLE",
    "Context",
    "Example",
    "Hit",
    "Probe",
    "Rule",
    "first_per_version",
    "found_through_paths",
    "relation_of",
    "roles_of",
    "routine_callers",
    "star_insert_lines_up",
    "writer_probes",
]
