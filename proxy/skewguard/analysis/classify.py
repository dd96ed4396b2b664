"""Which statements are DDL, so the caller can route them to the DDL engine.

An allowlist, not a denylist: anything not known to leave the schema alone
(DML, transaction control, SET/SHOW, cursors, maintenance) counts as DDL, so a
new kind of statement is checked rather than waved through.
"""

from __future__ import annotations

import re
from typing import Any

from pglast import ast

from skewguard.sql_start import first_word

_NOT_DDL: tuple[type, ...] = (
    ast.InsertStmt,
    ast.UpdateStmt,
    ast.DeleteStmt,
    ast.MergeStmt,
    ast.CopyStmt,
    ast.TruncateStmt,
    ast.ExecuteStmt,
    ast.DeallocateStmt,
    ast.FetchStmt,
    ast.ClosePortalStmt,
    ast.TransactionStmt,
    ast.VariableSetStmt,
    ast.VariableShowStmt,
    ast.DiscardStmt,
    ast.ListenStmt,
    ast.UnlistenStmt,
    ast.NotifyStmt,
    ast.LockStmt,
    ast.CallStmt,
    ast.ConstraintsSetStmt,
    ast.CheckPointStmt,
    ast.VacuumStmt,
    ast.RefreshMatViewStmt,
    ast.ClusterStmt,
    ast.ReindexStmt,
    ast.LoadStmt,
)

_REPLICATION = re.compile(
    r"\s*(IDENTIFY_SYSTEM|START_REPLICATION|BASE_BACKUP|CREATE_REPLICATION_SLOT"
    r"|DROP_REPLICATION_SLOT|ALTER_REPLICATION_SLOT|READ_REPLICATION_SLOT"
    r"|TIMELINE_HISTORY|UPLOAD_MANIFEST)\b",
    re.IGNORECASE,
)

# First words that start DDL (or code that may run DDL); a text the parser cannot read
# is held for the guard when it starts with one, or with anything the scanner would
# not read as a plain word.
_DDL_WORDS = frozenset(
    {"create", "alter", "drop", "rename", "comment", "grant", "revoke", "do", "call",
     "security", "import", "reassign", "refresh", "cluster", "reindex"}
)  # fmt: skip


def is_ddl(stmt: Any) -> bool:
    """True unless the statement is known not to change the schema."""
    if isinstance(stmt, ast.SelectStmt):
        return stmt.intoClause is not None
    if isinstance(stmt, ast.ExplainStmt):
        return _analyzes(stmt) and is_ddl(stmt.query)  # only EXPLAIN ANALYZE runs it
    if isinstance(stmt, ast.PrepareStmt | ast.DeclareCursorStmt):
        return is_ddl(stmt.query)
    return not isinstance(stmt, _NOT_DDL)


def _analyzes(stmt: Any) -> bool:
    """EXPLAIN ANALYZE (or ``(ANALYZE [true|on|1])``): the statement runs."""
    for option in stmt.options or ():
        if option.defname == "analyze":
            arg = option.arg
            if arg is None:
                return True
            value = getattr(arg, "boolval", None)
            if value is None:
                value = getattr(arg, "sval", None) or getattr(arg, "ival", None)
            return str(value).lower() not in ("false", "off", "0", "no")
    return False


def is_replication_command(sql: str) -> bool:
    """A walsender command (only valid on a replication connection)."""
    return _REPLICATION.match(sql) is not None


def looks_like_ddl(sql: str) -> bool:
    """For text that does not parse: could it be DDL, judging by its first word?"""
    word = first_word(sql.encode("utf-8", "replace"))
    return word is None or word.decode() in _DDL_WORDS
