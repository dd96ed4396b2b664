"""Footprint evidence: what a (database, app, version) uses, with counts and times.

Pure data. The learner accumulates a ``FootprintBatch`` from the statements it
analysed since the last flush; a store merges batches into what it keeps
(counts add, first is the earliest, last the latest, the first sample stays).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from skewguard.analysis import Facet
from skewguard.analysis.facets import FacetKind
from skewguard.identity import Identity
from skewguard.samples import sample_shape


@dataclass(frozen=True, slots=True, order=True)
class VersionKey:
    """One footprint owner; an untagged client has empty app and version."""

    database: str
    app: str
    version: str

    @classmethod
    def of(cls, database: str, identity: Identity) -> VersionKey:
        return cls(database, identity.app, identity.version)

    @property
    def identity(self) -> Identity:
        return Identity(self.app, self.version)

    def __str__(self) -> str:
        return f"{self.identity}/{self.database}"


@dataclass(slots=True)
class Evidence:
    """How often and when a facet was seen, and one statement that used it."""

    count: int
    first_seen: float
    last_seen: float
    sample: str


#: What a version holds only on an open connection: the result columns, derived result
#: types and parameter types of its named prepared statements. A new connection
#: prepares them anew against the schema of the day.
SESSION_HELD = frozenset(
    {FacetKind.PREPARED_RESULT, FacetKind.PREPARED_DERIVED, FacetKind.PREPARED_PARAM}
)


def at_rest(facets: Mapping[Facet, Evidence]) -> dict[Facet, Evidence]:
    """What a version with no open connection can still be broken through: its
    footprint without :data:`SESSION_HELD` (a rollback target reconnects and prepares
    its statements anew, so a change only a held plan notices cannot break it)."""
    return {f: e for f, e in facets.items() if f.kind not in SESSION_HELD}


#: Samples longer than this are cut: evidence, not an archive of queries.
SAMPLE_LIMIT = 2000


@dataclass(slots=True)
class FootprintBatch:
    """Evidence gathered since the last flush, plus when each version was last seen.

    Samples keep only the statement's shape unless ``keep_literals`` (--keep-literals).
    """

    keep_literals: bool = False
    facets: dict[VersionKey, dict[Facet, Evidence]] = field(default_factory=dict)
    seen: dict[VersionKey, tuple[float, float]] = field(default_factory=dict)  # first, last

    def __bool__(self) -> bool:
        return bool(self.facets or self.seen)

    def saw_version(self, key: VersionKey, when: float) -> None:
        first, last = self.seen.get(key, (when, when))
        self.seen[key] = (min(first, when), max(last, when))

    def record(
        self, key: VersionKey, facets: frozenset[Facet], count: int, when: float, sample: str
    ) -> None:
        """``count`` uses of a statement with these facets, last at ``when``."""
        self.saw_version(key, when)
        owned = self.facets.setdefault(key, {})
        shown: str | None = None
        for facet in facets:
            evidence = owned.get(facet)
            if evidence is None:
                if shown is None:
                    shown = (sample if self.keep_literals else sample_shape(sample))[:SAMPLE_LIMIT]
                owned[facet] = Evidence(count, when, when, shown)
            else:
                evidence.count += count
                evidence.last_seen = max(evidence.last_seen, when)
