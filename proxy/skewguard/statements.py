"""What a statement text does to the session, read once with pglast.

The relay sniffs every Query and Parse cheaply (``needs_reading``); only a hit
is parsed here, into the facts the session acts on: transaction control (for
the net effect of a transaction), DDL (for the guard), and the settings that
change who the client is and how its names resolve (application_name,
search_path), whether it set lock_timeout, and an operator's
``SET skewguard.allow`` override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

import pglast
from pglast import ast, enums, visitors

from skewguard.analysis.classify import is_ddl, looks_like_ddl

# First word of a statement that is never DDL or transaction control.
_PLAIN_STARTS = frozenset(
    b"select insert update delete with values table fetch move execute copy show listen "
    b"notify unlisten lock call merge explain declare close checkpoint vacuum analyze "
    b"analyse".split()
)
_FIRST_WORD = re.compile(rb"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*([A-Za-z]+)", re.S)


def needs_reading(sql: bytes) -> bool:
    """The hot-path test: False for a plain single DML/query statement."""
    match = _FIRST_WORD.match(sql)
    if match is None or match.group(1).lower() not in _PLAIN_STARTS:
        return True
    if b";" in sql.rstrip(b" \t\r\n;"):
        return True  # perhaps several statements
    # Settings change through SET/RESET/DISCARD (caught by the first word) or, inside a
    # query, through set_config(); mixed-case spellings of set_config are not looked for.
    return b"_config" in sql or b"_CONFIG" in sql


class Kind(Enum):
    BEGIN = auto()
    COMMIT = auto()  # COMMIT, END, PREPARE TRANSACTION: the transaction's changes become visible
    ROLLBACK = auto()
    SAVEPOINT = auto()
    ROLLBACK_TO = auto()
    RELEASE = auto()
    DDL = auto()
    OTHER = auto()


#: ``Statement.search_path`` / ``override`` value meaning "back to the session default".
RESET = ("<reset>",)


@dataclass(frozen=True, slots=True)
class ApplicationNameChange:
    """The session's application_name after a statement: a new value, or back to startup's."""

    value: str = ""
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Statement:
    kind: Kind
    text: str
    savepoint: str = ""
    application_name: ApplicationNameChange | None = None
    search_path: tuple[str, ...] | None = None  # RESET for back to the startup value
    override: str | None = None  # SET skewguard.allow = '…'; "" for RESET
    lock_timeout: bool | None = None  # True: set to non-zero; False: set to 0 or reset


@dataclass(frozen=True, slots=True)
class Script:
    statements: tuple[Statement, ...] = ()
    error: str | None = None  # set when pglast cannot parse the text
    looks_like_ddl: bool = False  # for an unparseable text: a guess from its first word

    @property
    def application_name(self) -> ApplicationNameChange | None:
        changes = [s.application_name for s in self.statements if s.application_name]
        return changes[-1] if changes else None

    def search_path(self, reset_to: tuple[str, ...]) -> tuple[str, ...] | None:
        paths = [s.search_path for s in self.statements if s.search_path is not None]
        if not paths:
            return None
        return reset_to if paths[-1] == RESET else paths[-1]

    @property
    def has_ddl(self) -> bool:
        return any(s.kind is Kind.DDL for s in self.statements)

    @property
    def has_transaction_control(self) -> bool:
        return any(s.kind not in (Kind.DDL, Kind.OTHER) for s in self.statements)


def read_script(sql: str) -> Script:
    try:
        raw_statements = pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        return Script(error=str(exc), looks_like_ddl=looks_like_ddl(sql))
    statements = []
    encoded = sql.encode()
    for raw in raw_statements:
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(encoded)
        text = encoded[start:end].decode("utf-8", "replace").strip()
        statements.append(_statement(raw.stmt, text))
    return Script(tuple(statements))


_TXN = enums.TransactionStmtKind
_TXN_KINDS = {
    _TXN.TRANS_STMT_BEGIN: Kind.BEGIN,
    _TXN.TRANS_STMT_START: Kind.BEGIN,
    _TXN.TRANS_STMT_COMMIT: Kind.COMMIT,
    _TXN.TRANS_STMT_PREPARE: Kind.COMMIT,
    _TXN.TRANS_STMT_ROLLBACK: Kind.ROLLBACK,
    _TXN.TRANS_STMT_SAVEPOINT: Kind.SAVEPOINT,
    _TXN.TRANS_STMT_ROLLBACK_TO: Kind.ROLLBACK_TO,
    _TXN.TRANS_STMT_RELEASE: Kind.RELEASE,
}


def _statement(stmt: Any, text: str) -> Statement:
    if isinstance(stmt, ast.TransactionStmt):
        kind = Kind.OTHER if stmt.kind is None else _TXN_KINDS.get(stmt.kind, Kind.OTHER)
        return Statement(kind, text, savepoint=stmt.savepoint_name or "")
    if isinstance(stmt, ast.VariableSetStmt):
        return _set_statement(stmt, text)
    if isinstance(stmt, ast.DiscardStmt) and stmt.target == enums.DiscardMode.DISCARD_ALL:
        return Statement(
            Kind.OTHER, text, application_name=ApplicationNameChange(reset=True),
            search_path=RESET, override="", lock_timeout=False,
        )  # fmt: skip
    if is_ddl(stmt):
        return Statement(Kind.DDL, text)
    calls = _FuncCalls()
    calls(stmt)
    change = None
    for call in calls.found:
        change = _set_config(call) or change
    return Statement(Kind.OTHER, text, application_name=change)


def _set_statement(stmt: Any, text: str) -> Statement:
    kind = enums.VariableSetKind
    if stmt.kind == kind.VAR_RESET_ALL:
        return Statement(
            Kind.OTHER, text, application_name=ApplicationNameChange(reset=True),
            search_path=RESET, override="", lock_timeout=False,
        )  # fmt: skip
    reset = stmt.kind in (kind.VAR_RESET, kind.VAR_SET_DEFAULT)
    values = [_constant(arg) for arg in stmt.args or ()] if stmt.kind == kind.VAR_SET_VALUE else []
    name = stmt.name or ""
    if stmt.is_local and name != "lock_timeout":  # SET LOCAL lock_timeout guards the DDL after it
        return Statement(Kind.OTHER, text)
    if name == "application_name":
        if reset:
            return Statement(Kind.OTHER, text, application_name=ApplicationNameChange(reset=True))
        if values and values[0] is not None:
            return Statement(Kind.OTHER, text, application_name=ApplicationNameChange(values[0]))
    elif name == "search_path":
        if reset:
            return Statement(Kind.OTHER, text, search_path=RESET)
        if values and all(v is not None for v in values):
            return Statement(
                Kind.OTHER, text, search_path=tuple(v for v in values if v is not None)
            )
    elif name == "skewguard.allow":
        reason = "" if reset else (values[0] if values else None)
        return Statement(Kind.OTHER, text, override=reason)
    elif name == "lock_timeout":
        active = not reset and bool(values) and values[0] not in (None, "0")
        return Statement(Kind.OTHER, text, lock_timeout=active)
    return Statement(Kind.OTHER, text)


class _FuncCalls(visitors.Visitor):
    def __init__(self) -> None:
        self.found: list[Any] = []

    def visit_FuncCall(self, ancestors: Any, node: Any) -> None:
        self.found.append(node)


def _constant(node: Any) -> str | None:
    if isinstance(node, ast.A_Const) and not node.isnull:
        val = node.val
        if isinstance(val, ast.String):
            return str(val.sval)
        if isinstance(val, ast.Integer):
            return str(val.ival)
    return None


def _set_config(call: Any) -> ApplicationNameChange | None:
    """``set_config('application_name', '…', false)`` with literal arguments."""
    names = [n.sval for n in call.funcname or ()]
    if names[-1:] != ["set_config"] or len(call.args or ()) != 3:
        return None
    name, value, local = call.args
    if _constant(name) != "application_name":
        return None
    new_value = _constant(value)
    is_local = isinstance(local, ast.A_Const) and isinstance(local.val, ast.Boolean)
    if new_value is None or not is_local or local.val.boolval:
        return None
    return ApplicationNameChange(new_value)
