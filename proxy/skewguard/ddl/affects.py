"""What a statement the overlay cannot model can affect, and which versions that touches.

A trigger on ``orders`` changes what happens when someone writes ``orders``; it
cannot break a version that never writes it (nor writes through a view over it,
a foreign key cascading into it, a trigger or rule that may write it, or a
function that may). :class:`Affects` names those objects and the kind of use;
:func:`touching` finds the protected versions whose footprint uses one of them
that way. A statement whose reach is unknown (``DROP OWNED``, a ``DO`` block)
carries no :class:`Affects` at all and touches every version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from skewguard.analysis.facets import Facet, FacetKind
from skewguard.analysis.query import split_qualified_name
from skewguard.analysis.subjects import table_of_subject
from skewguard.footprint import Evidence, VersionKey

_F = FacetKind


class Use(StrEnum):
    """Which uses of the affected objects can notice the statement."""

    READS = "reads"
    WRITES = "writes"
    ANY = "any"


# Facets whose subject names a relation (through table_of_subject's shapes), by use.
_READS = frozenset(
    {
        _F.RELATION_READ,
        _F.VIEW_READ,
        _F.COLUMN_READ,
        _F.SELECT_STAR,
        _F.COPY_OUT,
        _F.PREPARED_RESULT,
        _F.COPY_SHAPE,  # a staging table made LIKE it takes its columns
        _F.TABLESAMPLE,
    }
)
_WRITES = frozenset(
    {
        _F.RELATION_WRITE,
        _F.COLUMN_WRITE,
        _F.INSERT_SHAPE,
        _F.INSERT_POSITIONAL,
        _F.COPY_IN,
        _F.CONFLICT_COLUMNS,
        _F.CONFLICT_CONSTRAINT,
        _F.SEQUENCE,  # nextval writes the sequence
        _F.SEQUENCE_DEFAULT,
        _F.ROW_DELETE,
    }
)
# Preferred as evidence: they say the version uses the relation as a whole.
_WHOLE = frozenset({_F.RELATION_READ, _F.RELATION_WRITE, _F.VIEW_READ})


@dataclass(frozen=True)
class Affects:
    """The objects an unmodelled statement can change the behaviour of, and how.

    ``target`` names the object the statement acts on (for messages);
    ``relations`` are qualified names of every relation through which that
    object is reached (views over it, tables whose writes cascade or trigger into
    it...), under both their committed and their current names; ``functions``
    are signatures whose callers may reach it; ``schemas`` affect everything in
    them; ``roles``: versions connecting as one of them (or whose role is not
    known) are affected whatever they use; ``databases``: every version of one of
    them is affected (it loses its database): those databases' versions judge it;
    ``types``: qualified user types whose naming in a text (a cast, ``ROW(...)::t``)
    can notice it.
    """

    use: Use
    target: str
    relations: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    schemas: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    databases: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()

    def merge(self, other: Affects) -> Affects:
        """What either statement part affects."""
        return Affects(
            self.use if self.use is other.use else Use.ANY,
            f"{self.target}, {other.target}",
            self.relations | other.relations,
            self.functions | other.functions,
            self.schemas | other.schemas,
            self.roles | other.roles,
            self.databases | other.databases,
            self.types | other.types,
        )

    @property
    def empty(self) -> bool:
        """It names nothing: no version can notice it."""
        return not (
            self.relations
            or self.functions
            or self.schemas
            or self.roles
            or self.databases
            or self.types
        )

    def describe(self) -> str:
        """``writers of public.users``: the use that can notice it, for messages."""
        who = {Use.READS: "readers", Use.WRITES: "writers", Use.ANY: "users"}[self.use]
        return f"{who} of {self.target}"


def touching(
    affects: Affects | None, footprints: Mapping[VersionKey, Mapping[Facet, Evidence]]
) -> dict[VersionKey, Facet | None]:
    """The versions whose footprint uses what ``affects`` names in the affected way,
    each with one facet as evidence (None: every version is touched, or the version
    touches it through its unknown role). ``affects`` None: every version."""
    out: dict[VersionKey, Facet | None] = {}
    for version, facets in footprints.items():
        if affects is None:
            out[version] = None
            continue
        hit = _first_hit(affects, facets)
        if hit is not None or _role_touched(affects, facets):
            out[version] = hit
    return out


@dataclass(frozen=True)
class Usage:
    """What statements use, by the kind of use: many reach tests at the speed of sets.

    ``reads``/``writes``: relations (qualified names); ``functions``: signatures;
    ``types``: user types named in the texts.
    """

    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()

    @classmethod
    def of(cls, facets: Iterable[Facet]) -> Usage:
        reads: set[str] = set()
        writes: set[str] = set()
        functions: set[str] = set()
        types: set[str] = set()
        for facet in facets:
            kind = facet.kind
            if kind in _READS:
                reads.add(_relation_of(facet))
            elif kind in _WRITES:
                writes.add(_relation_of(facet))
            elif kind is _F.INSERT_SELECT_STAR:
                target, _, source = facet.subject.partition("<")
                writes.add(target)
                reads.add(source)
            elif kind is _F.FUNCTION:
                functions.add(facet.subject)
            elif kind is _F.TYPE_NAMED:
                types.add(facet.subject)
        return cls(frozenset(reads), frozenset(writes), frozenset(functions), frozenset(types))

    def reached_by(self, affects: Affects | None) -> bool:
        """Whether this use can notice what ``affects`` names (None: anything)."""
        if affects is None:
            return True
        relations = {
            Use.READS: self.reads,
            Use.WRITES: self.writes,
            Use.ANY: self.reads | self.writes,
        }[affects.use]
        if relations & affects.relations or self.functions & affects.functions:
            return True
        if self.types & affects.types:
            return True
        return bool(affects.schemas) and any(
            _schema_of(name) in affects.schemas for name in (*relations, *self.functions)
        )


def _role_touched(affects: Affects, facets: Iterable[Facet]) -> bool:
    if not affects.roles:
        return False
    roles = {f.subject for f in facets if f.kind is _F.ROLE}
    return not roles or bool(roles & affects.roles)


def _first_hit(affects: Affects, facets: Iterable[Facet]) -> Facet | None:
    for facet in sorted(facets, key=lambda f: (f.kind not in _WHOLE, f)):
        if Usage.of((facet,)).reached_by(affects):
            return facet
    return None


def _relation_of(facet: Facet) -> str:
    return table_of_subject(facet.subject)


def _schema_of(subject: str) -> str:
    parts = split_qualified_name(subject.split("(", 1)[0])
    return parts[0] if len(parts) > 1 else ""


__all__ = ["Affects", "Usage", "Use", "touching"]
