"""The interface every state backend offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from skewguard.analysis import Facet
from skewguard.footprint import Evidence, FootprintBatch, VersionKey


@dataclass(slots=True)
class StoredVersion:
    key: VersionKey
    first_seen: float
    last_seen: float
    facets: dict[Facet, Evidence] = field(default_factory=dict)


class StateStore(Protocol):
    """Blocking calls; the proxy runs them in a worker thread, never on the event loop."""

    def write(self, batch: FootprintBatch) -> None: ...

    def versions(self, *, with_facets: bool = True) -> list[StoredVersion]: ...

    def close(self) -> None: ...
