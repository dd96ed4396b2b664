"""Findings: rule x change x protected version, with a severity and the evidence."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from skewguard.analysis.facets import Facet
from skewguard.ddl.changes import Change
from skewguard.footprint import Evidence, VersionKey


class Severity(StrEnum):
    BREAK = "break"
    RISK = "risk"
    INFO = "info"


@dataclass(frozen=True)
class SessionFacts:
    """What the shell knows about the session that sends the DDL."""

    lock_timeout_set: bool = False  # a non-zero lock_timeout is in effect
    in_transaction: bool = False


@dataclass(frozen=True)
class Finding:
    """One rule firing for one change (and one version, unless it is a lint)."""

    rule: str
    name: str
    severity: Severity
    change: Change
    version: VersionKey | None
    facet: Facet | None
    evidence: Evidence | None
    message: str
    hint: str

    def __hash__(self) -> int:  # Evidence is mutable: identity of a finding excludes it
        return hash((self.rule, self.severity, self.change, self.version, self.facet, self.message))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity.value,
            "change": self.change.to_dict(),
            "version": None,
            "facet": self.facet.key if self.facet is not None else None,
            "evidence": None,
            "message": self.message,
            "hint": self.hint,
        }
        if self.version is not None:
            out["version"] = {
                "database": self.version.database,
                "app": self.version.app,
                "version": self.version.version,
            }
        if self.evidence is not None:
            out["evidence"] = {
                "count": self.evidence.count,
                "first_seen": self.evidence.first_seen,
                "last_seen": self.evidence.last_seen,
                "sample": self.evidence.sample,
            }
        return out


__all__ = ["Finding", "SessionFacts", "Severity"]
