"""A migration judged ahead of time, statement by statement, with where each finding comes from.

``skewguard check`` (and ``POST /api/check``) apply a whole migration — several
files, in order — to one overlay. Each statement is applied on its own so that
a finding can point at the statement whose change it is about, and so that a
statement PostgreSQL would reject (it names a relation that does not exist in
this database, or creates one that exists) is reported instead of silently
changing nothing. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pglast.ast import TransactionStmt

from skewguard.ddl import CannotModel, DdlParseError
from skewguard.ddl.changes import Change
from skewguard.ddl.overlay import Overlay
from skewguard.policy import Decision
from skewguard.sql_parse import parse_sql


@dataclass
class AppliedMigration:
    """Where each statement starts, which ones PostgreSQL would reject, and what each changed."""

    rejected: list[int] = field(default_factory=list)  # character offsets of statements
    origins: dict[Change, int] = field(default_factory=dict)  # change -> its statement's offset


def apply_in_sequence(
    overlay: Overlay, sql: str, on_unmodelled: Callable[[CannotModel], None] | None = None
) -> AppliedMigration:
    """Apply ``sql`` one statement at a time; raises DdlParseError and CannotModel like
    :meth:`Overlay.apply` (``on_unmodelled`` too: it gets the unmodelled statements whose
    reach is known, and the rest is applied)."""
    try:
        raw = parse_sql(sql)
    except Exception as exc:
        raise DdlParseError(str(exc)) from exc
    applied = AppliedMigration()
    seen = set(overlay.net_changes())
    for statement in raw or ():
        offset = int(statement.stmt_location or 0)
        if not overlay.apply_statement(statement.stmt, on_unmodelled):
            applied.rejected.append(offset)
            continue
        now = overlay.net_changes()
        for change in now:
            if change not in seen:
                applied.origins[change] = offset
        seen = set(now)
    return applied


def trial_statements(sql: str) -> list[str]:
    """The statements of ``sql`` as ``check --replay`` runs them in its scratch
    transaction: one text each, without transaction control (a COMMIT there would
    commit the trial; BEGIN and SAVEPOINTs change nothing it judges). Raises
    DdlParseError."""
    try:
        raw = parse_sql(sql)
    except Exception as exc:
        raise DdlParseError(str(exc)) from exc
    out: list[str] = []
    for statement in raw or ():
        if isinstance(statement.stmt, TransactionStmt):
            continue
        start = int(statement.stmt_location or 0)
        length = int(statement.stmt_len or 0)
        out.append(sql[start : start + length] if length else sql[start:])
    return out


@dataclass(frozen=True)
class CheckReport:
    """The decision on a checked migration, with each finding's statement offset."""

    decision: Decision
    applied: AppliedMigration
    database: str

    @property
    def breaking(self) -> bool:
        return bool(self.decision.breaking)

    def to_dict(self) -> dict[str, Any]:
        out = self.decision.to_dict()
        for finding, entry in zip(self.decision.findings, out["findings"], strict=True):
            entry["offset"] = self.applied.origins.get(finding.change)
        out["database"] = self.database
        out["rejected"] = [
            {
                "offset": offset,
                "message": "PostgreSQL would reject this statement in database "
                f"{self.database}: an object it names does not exist there (or one it "
                "creates exists already)",
            }
            for offset in self.applied.rejected
        ]
        return out


__all__ = ["AppliedMigration", "CheckReport", "apply_in_sequence", "trial_statements"]
