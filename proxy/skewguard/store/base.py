"""The interface every state backend offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from skewguard.analysis import Facet
from skewguard.footprint import Evidence, FootprintBatch, VersionKey


@dataclass(slots=True)
class StoredVersion:
    key: VersionKey
    first_seen: float
    last_seen: float
    facets: dict[Facet, Evidence] = field(default_factory=dict)


class Lifecycle(StrEnum):
    """An operator's word on an app version, for every database it runs against."""

    PINNED = "pinned"  # protected whatever its traffic says
    RETIRED = "retired"  # never protected again (it will not run or be rolled back to)


class StateStore(Protocol):
    """Blocking calls; the proxy runs them in a worker thread, never on the event loop."""

    def write(self, batch: FootprintBatch) -> None: ...

    def versions(self, *, with_facets: bool = True) -> list[StoredVersion]: ...

    def lifecycle(self) -> dict[tuple[str, str], Lifecycle]: ...

    def set_lifecycle(self, app: str, version: str, state: Lifecycle | None) -> None:
        """Pin or retire ``app@version``; None clears either."""

    def record_decision(self, decision: dict[str, Any]) -> None:
        """Append one audited DDL decision (JSON-ready)."""

    def decisions(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audited decisions first."""

    def close(self) -> None: ...
