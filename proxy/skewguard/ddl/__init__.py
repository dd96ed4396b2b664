"""The DDL model (pure): DDL text -> typed changes, as other sessions see them.

``Overlay`` applies DDL to a transaction-local model of a catalog snapshot
(savepoints included) and reports the net changes other sessions would see at
COMMIT; the rule engine (:mod:`skewguard.rules.engine`) judges them.
``Overlay.apply`` raises ``CannotModel`` for a statement whose effect on
existing objects the model cannot follow, ``DdlParseError`` for text that does
not parse; nothing else escapes it.
"""

from __future__ import annotations

from skewguard.ddl.changes import Change
from skewguard.ddl.errors import CannotModel, DdlParseError
from skewguard.ddl.findings import Finding, SessionFacts, Severity
from skewguard.ddl.overlay import Overlay

__all__ = [
    "CannotModel",
    "Change",
    "DdlParseError",
    "Finding",
    "Overlay",
    "SessionFacts",
    "Severity",
]
