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
from dataclasses import dataclass, field, replace
from enum import Enum, auto
from typing import Any

import pglast
from pglast import ast, enums, visitors

from skewguard.analysis.classify import is_ddl, looks_like_ddl
from skewguard.analysis.nodes import walk
from skewguard.quoting import with_escape_strings
from skewguard.sql_constants import constant_value
from skewguard.sql_parse import SPLIT_ABOVE, parse_sql
from skewguard.sql_start import first_word
from skewguard.temporary import TemporaryChange, temporary_change
from skewguard.wire.encodings import ANY

# First word of a statement that is never DDL or transaction control (EXPLAIN ANALYZE runs
# what it explains: always read).
_PLAIN_STARTS = frozenset(
    b"select insert update delete with values table fetch move execute copy show listen "
    b"notify unlisten lock merge declare close checkpoint vacuum analyze analyse".split()
)
#: Words in any text that may call a function running SQL outside this session (see
#: ``_REMOTE_SQL``): such a text is always parsed, such a PL/pgSQL body never trusted.
_REMOTE_MARKERS = "dblink|cron|schedule|alter_job|pg_background"
_REMOTE_MARKED = re.compile(_REMOTE_MARKERS)
#: In a lower-cased text that starts plainly: a setting changed from inside a query
#: (set_config, in any spelling or quoting), SQL run past this session (the remote
#: markers) or a word hidden from a byte search (U&"..." escapes).
_ALWAYS_READ = re.compile(f"_config|u&|{_REMOTE_MARKERS}".encode())


# A keyword that makes a plain statement create a table (SELECT ... INTO) or run a shell
# command (COPY ... PROGRAM); no quoting can spell a keyword otherwise.
_HIDDEN_EFFECTS = {b"select": b"into", b"with": b"into", b"copy": b"program"}


def needs_reading(sql: bytes) -> bool:
    """The hot-path test: False only for a text that is surely one plain DML/query statement.

    Conservative by construction: a false "read it" costs one parse, a false
    "plain" would let DDL past the guard.
    """
    word = first_word(sql)
    if word not in _PLAIN_STARTS:
        return True
    if b";" in sql.rstrip(b" \t\r\n;"):
        return True  # perhaps several statements
    # one search of the lower-cased text (a case-insensitive search costs several times more)
    lowered = sql.lower()
    if _ALWAYS_READ.search(lowered) is not None:
        return True
    effect = _HIDDEN_EFFECTS.get(word or b"")
    return effect is not None and effect in lowered


class Kind(Enum):
    BEGIN = auto()
    COMMIT = auto()  # COMMIT, END, PREPARE TRANSACTION: the transaction's changes become visible
    ROLLBACK = auto()
    SAVEPOINT = auto()
    ROLLBACK_TO = auto()
    RELEASE = auto()
    DDL = auto()
    OPAQUE = auto()  # runs code that may run DDL the proxy cannot read (DO, CALL)
    OTHER = auto()


#: ``Statement.search_path`` / ``override`` value meaning "back to the session default".
RESET = ("<reset>",)
#: ``Statement.search_path`` value meaning "changed to something the proxy cannot read".
UNKNOWN = ("<unknown>",)


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
    local: bool = False  # the search_path change lasts until the transaction ends
    override: str | None = None  # SET skewguard.allow = '…'; "" for RESET
    lock_timeout: bool | None = None  # True: set to non-zero; False: set to 0 or reset
    #: current_user may change (SET ROLE, SESSION AUTHORIZATION...): "$user" moves with it
    role: bool = False
    #: client_encoding set to this value (encodings.ANY: reset, computed or local)
    client_encoding: str | None = None
    #: DDL that stores code which may run DDL later, unseen (a function): opaque too
    runs_code: bool = False
    #: what it does to the session's temporary relation names (skewguard.temporary)
    temporary: TemporaryChange | None = None
    node: Any = field(default=None, compare=False, repr=False)  # DDL: its pglast node


@dataclass(frozen=True, slots=True)
class Script:
    statements: tuple[Statement, ...] = ()
    error: str | None = None  # set when pglast cannot parse the text
    looks_like_ddl: bool = False  # for an unparseable text: a guess from its first word
    too_large: bool = False  # longer than the proxy reads: what it does is unknown
    #: reads otherwise in a client encoding the session may be using (cannot be judged)
    ambiguous: bool = False
    #: How a session with standard_conforming_strings off reads the text, when that
    #: differs in what the proxy follows (None: the same either way).
    if_not_standard: Script | None = None

    @property
    def application_name(self) -> ApplicationNameChange | None:
        changes = [s.application_name for s in self.statements if s.application_name]
        return changes[-1] if changes else None

    def search_path(self, reset_to: tuple[str, ...]) -> tuple[str, ...] | None:
        """The session-wide search_path after this text (None: unchanged)."""
        if self.too_large:
            return UNKNOWN  # it may have set one: the backend is asked when it matters
        other = self.if_not_standard
        if other is not None and other.search_path(reset_to) != self._path(reset_to):
            return UNKNOWN  # set only in one of the two readings
        return self._path(reset_to)

    def _path(self, reset_to: tuple[str, ...]) -> tuple[str, ...] | None:
        paths = [s.search_path for s in self.statements if s.search_path and not s.local]
        if not paths:
            return None
        return reset_to if paths[-1] == RESET else paths[-1]

    @property
    def may_change_schema(self) -> bool:
        """DDL, code that may run some, or a text that does not parse."""
        schema = (Kind.DDL, Kind.OPAQUE)
        return self.error is not None or any(s.kind in schema for s in self.statements)

    @property
    def local_search_path(self) -> tuple[str, ...] | None:
        """The search_path set for the rest of the transaction only (SET LOCAL)."""
        paths = [s.search_path for s in self.statements if s.search_path and s.local]
        return paths[-1] if paths else None

    @property
    def moves_role(self) -> bool:
        """The text may change current_user, which a "$user" in search_path names."""
        other = self.if_not_standard
        return any(s.role for s in self.statements) or (other is not None and other.moves_role)

    @property
    def client_encodings(self) -> list[str]:
        """The client_encoding values this text may leave the session with."""
        return [s.client_encoding for s in self.statements if s.client_encoding is not None]

    @property
    def has_ddl(self) -> bool:
        return any(s.kind is Kind.DDL for s in self.statements)

    @property
    def only_ddl(self) -> bool:
        """Schema changes and transaction control alone: what a migration sends, which
        the guard judges and learning has no use for when nothing it sends is protected."""
        plain = (Kind.OTHER, Kind.OPAQUE)
        return self.has_ddl and all(s.kind not in plain for s in self.statements)

    @property
    def has_transaction_control(self) -> bool:
        return any(s.kind not in (Kind.DDL, Kind.OTHER) for s in self.statements)


def read_script(sql: str, *, limit: int | None = None) -> Script:
    """What ``sql`` does to the session; a text longer than ``limit`` is not parsed
    (a 100 MB text would hold the event loop for seconds) and may be DDL: the hot path
    reads only texts it cannot call one plain statement, and past the first word such
    a text may hold anything (``SELECT 1; DROP …; -- <1 MiB>``).

    A text with a backslash may read otherwise in a session with
    standard_conforming_strings off (skewguard.quoting): when that reading differs
    in anything the proxy follows, it comes along as ``if_not_standard``.
    """
    if limit is not None and len(sql) > limit:
        return Script(error="too large to read", looks_like_ddl=True, too_large=True)
    script = _read(sql, standard=True)
    if "\\" not in sql:
        return script
    rewritten = with_escape_strings(sql)
    if rewritten is None:
        other = Script(error="unterminated quoting", looks_like_ddl=True)
    else:
        other = _read(rewritten, standard=False)
    if _followed(script) == _followed(other):
        return script
    return replace(script, if_not_standard=other)


def same_effect(one: Script, other: Script) -> bool:
    """Two readings of a text do the same to what the proxy follows."""
    return _followed(one) == _followed(other)


def _followed(script: Script) -> tuple[object, ...]:
    """What the proxy follows of a script: what it must judge, control and settings."""
    if script.error is not None:
        return ("error", script.looks_like_ddl)
    return tuple(_fingerprint(s) for s in script.statements if _noted(s))


def _noted(s: Statement) -> bool:
    return (
        s.kind is not Kind.OTHER
        or bool(s.application_name or s.search_path or s.override is not None)
        or s.lock_timeout is not None
        or s.role
        or s.client_encoding is not None
        or s.temporary is not None
    )


def _fingerprint(s: Statement) -> tuple[object, ...]:
    """A statement as the proxy follows it (the DDL's parse tree, not its text)."""
    return (
        s.kind,
        s.node,
        s.savepoint,
        s.application_name,
        s.search_path,
        s.local,
        s.override,
        s.lock_timeout,
        s.role,
        s.client_encoding,
        s.temporary,
    )


def _read(sql: str, *, standard: bool) -> Script:
    # a long text is split first (pglast's C splitter) and only the statements the sniff
    # cannot call plain are parsed: building pglast's Python tree of a 900 kB
    # ``SELECT 1;`` x 100,000 held the event loop (every session) for ~6 s, the split ~0.2 s
    if len(sql) > SPLIT_ABOVE:
        script = _read_split(sql, standard=standard)
        if script is not None:
            return script
    return _read_whole(sql, standard=standard)


def _read_whole(sql: str, *, standard: bool) -> Script:
    try:
        raw_statements = parse_sql(sql)
    except pglast.parser.ParseError as exc:
        return Script(error=str(exc), looks_like_ddl=looks_like_ddl(sql))
    statements = []
    encoded = sql.encode()
    for raw in raw_statements:
        text = _text_of(raw, encoded)
        if isinstance(raw.stmt, ast.DoStmt):
            statements.extend(_do_statements(raw.stmt, text, standard=standard))
        else:
            statements.append(_statement(raw.stmt, text, standard=standard))
    return Script(tuple(statements))


def _read_split(sql: str, *, standard: bool) -> Script | None:
    """``_read`` of a long text, statement by statement: a statement the hot-path sniff
    calls plain is what its full parse would make of it (OTHER, nothing followed), so
    only the others are parsed. None when the text does not split (it does not parse:
    the full parse reports where, at the cost of the raw parse alone)."""
    try:
        pieces = pglast.parser.split(sql, with_parser=True)
    except pglast.parser.ParseError:
        return None
    statements: list[Statement] = []
    for piece in pieces:
        if not needs_reading(piece.encode()):
            statements.append(Statement(Kind.OTHER, piece))
            continue
        script = _read_whole(piece, standard=standard)
        if script.error is not None:  # read alone otherwise than within the text
            return None
        statements.extend(script.statements)
    return Script(tuple(statements))


def _text_of(raw: Any, encoded: bytes) -> str:
    """One parsed statement's own text within the (UTF-8) text it was parsed from."""
    start = raw.stmt_location or 0
    end = start + raw.stmt_len if raw.stmt_len else len(encoded)
    return encoded[start:end].decode("utf-8", "replace").strip()


#: PL/pgSQL statements that run SQL the proxy cannot read from the block's text, or
#: end transactions the gate follows (EXECUTE of a string built of constants is read).
_OPAQUE_PLPGSQL = frozenset(
    {
        "PLpgSQL_stmt_dynfors",
        "PLpgSQL_stmt_call",
        "PLpgSQL_stmt_commit",
        "PLpgSQL_stmt_rollback",
    }
)


def _do_statements(stmt: Any, text: str, *, standard: bool = True) -> list[Statement]:
    """A DO block: its static SQL is read like any other; dynamic SQL makes it opaque.

    Every static DDL statement in the block, and every EXECUTE of a string built
    of constants (``sql_constants``), counts as run (a conservative reading of IF
    branches); a block in another language, or with EXECUTE of a computed string, is
    opaque. So is a
    block with a backslash read for a session with standard_conforming_strings off
    (``standard`` False): PL/pgSQL reads its literals with the session's setting.
    """
    if not standard and "\\" in text:
        return [Statement(Kind.OPAQUE, text)]
    language = _option(stmt.args, "language") or "plpgsql"
    embedded = _plpgsql_sql(text) if language.lower() == "plpgsql" else None
    if embedded is None:
        return [Statement(Kind.OPAQUE, text)]
    found = []
    for sql in embedded:
        try:
            inner = parse_sql(sql)
        except pglast.parser.ParseError:
            return [Statement(Kind.OPAQUE, text)]
        encoded = sql.encode()
        for raw in inner:
            if isinstance(raw.stmt, ast.DoStmt | ast.CallStmt | ast.TransactionStmt):
                return [Statement(Kind.OPAQUE, text)]
            if _sends_ddl(raw.stmt):
                return [Statement(Kind.OPAQUE, text)]
            if is_ddl(raw.stmt):
                found.append(Statement(Kind.DDL, _text_of(raw, encoded), node=raw.stmt))
    return found or [Statement(Kind.OTHER, text)]


def _option(options: Any, name: str) -> str | None:
    """A DO or CREATE FUNCTION option's word (LANGUAGE plpgsql: a String node)."""
    for option in options or ():
        if getattr(option, "defname", "") == name:
            arg = option.arg
            return str(arg.sval) if isinstance(arg, ast.String) else _constant(arg) or "?"
    return None


def _plpgsql_sql(text: str) -> list[str] | None:
    """The SQL a PL/pgSQL block or function (``text``: the DO or CREATE FUNCTION
    statement) runs: its static statements and EXECUTE of strings built of constants;
    None when it runs SQL the proxy cannot read (EXECUTE of a computed string, CALL, COMMIT, or
    any mention of dblink, pg_cron or pg_background: PERFORM, assignments and conditions
    can call them too)."""
    if _REMOTE_MARKED.search(text.lower()) is not None:
        return None
    try:
        tree = pglast.parse_plpgsql(text)
    except Exception:  # pglast's PL/pgSQL parser raises plain errors
        return None
    embedded: list[str] = []
    pending: list[Any] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(reversed(node))
        elif isinstance(node, dict):
            if _OPAQUE_PLPGSQL.intersection(node):
                return None
            execsql = node.get("PLpgSQL_stmt_execsql")
            if execsql is not None:
                embedded.append(execsql["sqlstmt"]["PLpgSQL_expr"]["query"])
            dynexecute = node.get("PLpgSQL_stmt_dynexecute")
            if dynexecute is not None:
                sql = constant_value(dynexecute["query"]["PLpgSQL_expr"]["query"])
                if sql is None:
                    return None
                embedded.append(sql)
            pending.extend(reversed(list(node.values())))
    return embedded


def _runs_ddl_later(stmt: Any, text: str, *, standard: bool) -> bool:
    """A function whose code may run DDL whenever it is called (from a SELECT, a trigger,
    a rule, a view, an event trigger), where the proxy sees only the call: code in a
    language other than SQL and PL/pgSQL, DDL or unreadable SQL in its body."""
    if stmt.is_procedure:
        return False  # only CALL runs it, which is opaque code itself
    language = (_option(stmt.options, "language") or "sql").lower()
    if language == "plpgsql":
        if not standard and "\\" in text:
            return True  # PL/pgSQL reads its literals with the session's setting
        bodies = _plpgsql_sql(text)
        if bodies is None:
            return True
    elif language == "sql":
        if stmt.sql_body is not None:  # BEGIN ATOMIC / RETURN: parsed with the statement
            return any(
                _runs_ddl(node)
                for node in _atomic_statements(stmt.sql_body)
                if not isinstance(node, ast.ReturnStmt)  # RETURN expression
            )
        body = next((d.arg for d in stmt.options or () if d.defname == "as"), None)
        bodies = [str(v.sval) for v in body or () if isinstance(v, ast.String)]
    else:
        return True
    for body in bodies:
        try:
            if any(_runs_ddl(raw.stmt) for raw in parse_sql(body)):
                return True
        except pglast.parser.ParseError:
            return True
    return False


def _atomic_statements(body: Any) -> list[Any]:
    """The statements of a BEGIN ATOMIC (a list of lists) or RETURN (one node) body."""
    out: list[Any] = []
    pending = [body]
    while pending:
        node = pending.pop()
        if isinstance(node, list | tuple):
            pending.extend(node)
        elif node is not None:
            out.append(node)
    return out


def _runs_ddl(stmt: Any) -> bool:
    return (
        isinstance(stmt, ast.DoStmt | ast.CallStmt | ast.TransactionStmt)
        or is_ddl(stmt)
        or _sends_ddl(stmt)
    )


def _sends_ddl(stmt: Any) -> bool:
    """The statement calls dblink with SQL that may be DDL (see ``_runs_remote_ddl``)."""
    return any(_runs_remote_ddl(call) for call in walk(stmt, ast.FuncCall))


def called_procedure(text: str) -> tuple[str, ...] | None:
    """The (possibly qualified) name a lone ``CALL`` statement calls; None for anything else."""
    try:
        raw = parse_sql(text)
    except pglast.parser.ParseError:
        return None
    if len(raw) != 1 or not isinstance(raw[0].stmt, ast.CallStmt) or not raw[0].stmt.funccall:
        return None
    return tuple(str(n.sval) for n in raw[0].stmt.funccall.funcname or ())


def runs_only_plain_sql(language: str, source: str, *, trigger: bool = False) -> bool:
    """Whether a procedure body of ``language`` (sql or plpgsql) runs nothing but plain
    statements: no DDL, no dynamic SQL, no nested CALL/DO, no transaction control. A
    CALL of such a procedure changes no schema, whoever sends it. ``trigger``: the
    body of a trigger function (it returns NEW or OLD)."""
    if language == "plpgsql":
        tag = "$skewguard$"
        while tag in source:
            tag = tag[:-1] + "_$"
        head = "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS " if trigger else "DO "
        bodies = _plpgsql_sql(f"{head}{tag}{source}{tag}")
    elif language == "sql":
        bodies = [source]
    else:
        return False
    try:
        return bodies is not None and not any(
            _runs_ddl(raw.stmt) for body in bodies for raw in parse_sql(body)
        )
    except pglast.parser.ParseError:
        return False


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


def _statement(stmt: Any, text: str, *, standard: bool = True) -> Statement:
    if isinstance(stmt, ast.TransactionStmt):
        kind = Kind.OTHER if stmt.kind is None else _TXN_KINDS.get(stmt.kind, Kind.OTHER)
        return Statement(kind, text, savepoint=stmt.savepoint_name or "")
    if isinstance(stmt, ast.VariableSetStmt):
        return _set_statement(stmt, text)
    if isinstance(stmt, ast.DiscardStmt) and stmt.target == enums.DiscardMode.DISCARD_ALL:
        return Statement(
            Kind.OTHER, text, application_name=ApplicationNameChange(reset=True),
            search_path=RESET, override="", lock_timeout=False, role=True, client_encoding=ANY,
            temporary=temporary_change(stmt),
        )  # fmt: skip
    if isinstance(stmt, ast.DiscardStmt):
        return Statement(Kind.OTHER, text, temporary=temporary_change(stmt))
    if isinstance(stmt, ast.DoStmt | ast.CallStmt):
        return Statement(Kind.OPAQUE, text)
    if isinstance(stmt, ast.CopyStmt) and stmt.is_program:
        return Statement(Kind.OPAQUE, text)  # a shell command may connect and run anything
    if isinstance(stmt, ast.CreateFunctionStmt) and _runs_ddl_later(stmt, text, standard=standard):
        return Statement(Kind.DDL, text, node=stmt, runs_code=True)
    if is_ddl(stmt):
        # a view, default, rule or policy calling dblink runs its SQL when used later; a
        # renamed dblink function would be called under a name the proxy does not know
        later = _sends_ddl(stmt) or _moves_remote_function(stmt) or _passes_ddl_text(stmt)
        return Statement(
            Kind.DDL, text, node=stmt, runs_code=later, temporary=temporary_change(stmt)
        )
    calls = _FuncCalls()
    calls(stmt)
    if any(_runs_remote_ddl(call) for call in calls.found):
        return Statement(Kind.OPAQUE, text)
    change = None
    path: tuple[str, ...] | None = None
    local = False
    role = False
    encoding: str | None = None
    for call in calls.found:
        change = _set_config(call) or change
        found = _set_config_path(call)
        if found is not None:
            path, local = found
        role = role or _set_config_role(call)
        encoding = _set_config_encoding(call) or encoding
    return Statement(
        Kind.OTHER, text, application_name=change, search_path=path, local=local, role=role,
        client_encoding=encoding,
    )  # fmt: skip


#: Functions that run their SQL argument past the proxy: dblink's on a connection of
#: their own (which may well lead back into this database), pg_cron's later in a job's
#: session, pg_background's in a background worker. Judged alike: DDL text is deferred DDL.
_REMOTE_SQL = frozenset(
    {
        "dblink", "dblink_exec", "dblink_send_query",
        "schedule", "schedule_in_database", "alter_job",
        "pg_background_launch", "pg_background_launch_v2",
    }
)  # fmt: skip


def _runs_remote_ddl(call: Any) -> bool:
    """A call of one of ``_REMOTE_SQL`` whose SQL may be DDL: one of its string arguments
    reads as DDL, or one is computed (a connection string, a job's name or schedule does
    not parse as SQL)."""
    if str(call.funcname[-1].sval) not in _REMOTE_SQL:
        return False
    for arg in map(_argument, call.args or ()):
        if isinstance(arg, ast.A_Const) and (
            arg.isnull or isinstance(arg.val, ast.Boolean | ast.Integer)
        ):
            continue  # fail_on_error, a job's id, "active", a setting left as it is
        value = _constant(arg)
        if value is None:
            return True
        try:
            if any(_runs_ddl(raw.stmt) for raw in parse_sql(value)):
                return True
        except pglast.parser.ParseError:
            continue
    return False


def _passes_ddl_text(stmt: Any) -> bool:
    """DDL that stores code handing a function a constant that reads as DDL: a call in a
    rule's action, a default, a view, a CHECK..., or CREATE TRIGGER's arguments. A
    generic function installed earlier (``EXECUTE sql``, ``EXECUTE TG_ARGV[0]``) runs it
    whenever that code runs, past the guard."""
    texts = [str(a.sval) for a in stmt.args or ()] if isinstance(stmt, ast.CreateTrigStmt) else []
    for call in walk(stmt, ast.FuncCall):
        for arg in map(_argument, call.args or ()):
            value = _constant(arg)
            if value is not None and not value.isdigit():
                texts.append(value)
    for text in texts:
        try:
            if any(_runs_ddl(raw.stmt) for raw in parse_sql(text)):
                return True
        except pglast.parser.ParseError:
            continue
    return False


def _argument(arg: Any) -> Any:
    """A call's argument expression, named (``a => expr``) or not."""
    return arg.arg if isinstance(arg, ast.NamedArgExpr) else arg


def _moves_remote_function(stmt: Any) -> bool:
    """ALTER FUNCTION ... RENAME or SET SCHEMA of one of dblink's SQL-sending functions."""
    if not isinstance(stmt, ast.RenameStmt | ast.AlterObjectSchemaStmt):
        return False
    kind = stmt.renameType if isinstance(stmt, ast.RenameStmt) else stmt.objectType
    if kind not in (enums.ObjectType.OBJECT_FUNCTION, enums.ObjectType.OBJECT_ROUTINE):
        return False
    names: list[Any] = list(getattr(stmt.object, "objname", None) or [])
    return bool(names) and str(names[-1].sval) in _REMOTE_SQL


def _set_statement(stmt: Any, text: str) -> Statement:
    kind = enums.VariableSetKind
    if stmt.kind == kind.VAR_RESET_ALL:
        return Statement(
            Kind.OTHER, text, application_name=ApplicationNameChange(reset=True),
            search_path=RESET, override="", lock_timeout=False, role=True, client_encoding=ANY,
        )  # fmt: skip
    reset = stmt.kind in (kind.VAR_RESET, kind.VAR_SET_DEFAULT)
    values = [_constant(arg) for arg in stmt.args or ()] if stmt.kind == kind.VAR_SET_VALUE else []
    name = stmt.name or ""
    if name in ROLE_SETTINGS:  # also SET LOCAL: "$user" is another schema until COMMIT
        return Statement(Kind.OTHER, text, role=True)
    if name == "client_encoding":  # SET NAMES too; a LOCAL value ends with the transaction
        value = values[0] if values and not reset and not stmt.is_local else None
        return Statement(Kind.OTHER, text, client_encoding=value or ANY)
    if stmt.is_local and name not in ("lock_timeout", "search_path"):
        return Statement(Kind.OTHER, text)  # SET LOCAL of these matters to the DDL after it
    if name == "application_name":
        if reset:
            return Statement(Kind.OTHER, text, application_name=ApplicationNameChange(reset=True))
        if values and values[0] is not None:
            return Statement(Kind.OTHER, text, application_name=ApplicationNameChange(values[0]))
    elif name == "search_path":
        local = bool(stmt.is_local)
        if reset:
            return Statement(Kind.OTHER, text, search_path=RESET, local=local)
        if values and all(v is not None for v in values):
            path = tuple(v for v in values if v is not None)
            return Statement(Kind.OTHER, text, search_path=path, local=local)
        return Statement(Kind.OTHER, text, search_path=UNKNOWN, local=local)
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


def _set_config_args(call: Any) -> tuple[Any, Any, Any] | None:
    """(setting, value, is_local) argument nodes of a ``set_config`` call, else None."""
    names = [n.sval for n in call.funcname or ()]
    args = tuple(call.args or ())
    if names[-1:] != ["set_config"] or len(args) != 3:
        return None
    return args[0], args[1], args[2]


def _set_config_path(call: Any) -> tuple[tuple[str, ...], bool] | None:
    """``set_config('search_path', …, is_local)``: (path or UNKNOWN, is_local), else None.

    Any call of set_config whose setting name is not a literal may be this one.
    """
    args = _set_config_args(call)
    if args is None:
        return None
    name, value, local = args
    setting = _constant(name)
    if setting is not None and setting.lower() != "search_path":
        return None
    if not (isinstance(local, ast.A_Const) and isinstance(local.val, ast.Boolean)):
        return UNKNOWN, False  # perhaps session-wide: the session's path is unknown from now
    is_local = bool(local.val.boolval)
    text = _constant(value) if setting is not None else None
    if text is None or '"' in text:
        return UNKNOWN, is_local
    # PostgreSQL splits the value into identifiers and folds the unquoted ones
    return tuple(p.strip().lower() for p in text.split(",") if p.strip()), is_local


#: Settings that change current_user (SET ROLE, SET SESSION AUTHORIZATION).
ROLE_SETTINGS = frozenset({"role", "session_authorization"})


def _set_config_role(call: Any) -> bool:
    """``set_config`` of role or session_authorization, or of a setting named by an
    expression (which may be either)."""
    args = _set_config_args(call)
    if args is None:
        return False
    setting = _constant(args[0])
    return setting is None or setting.lower() in ROLE_SETTINGS


def _set_config_encoding(call: Any) -> str | None:
    """``set_config('client_encoding', '…', false)``: the value; ANY when the setting or
    the value is computed, or the change is local; None for other settings."""
    args = _set_config_args(call)
    if args is None:
        return None
    name, value, local = args
    setting = _constant(name)
    if setting is not None and setting.lower() != "client_encoding":
        return None
    session_wide = (
        isinstance(local, ast.A_Const)
        and isinstance(local.val, ast.Boolean)
        and not local.val.boolval
    )
    new_value = _constant(value) if setting is not None and session_wide else None
    return new_value or ANY


def _set_config(call: Any) -> ApplicationNameChange | None:
    """``set_config('application_name', '…', false)`` with literal arguments."""
    args = _set_config_args(call)
    if args is None:
        return None
    name, value, local = args
    if _constant(name) != "application_name":
        return None
    new_value = _constant(value)
    is_local = isinstance(local, ast.A_Const) and isinstance(local.val, ast.Boolean)
    if new_value is None or not is_local or local.val.boolval:
        return None
    return ApplicationNameChange(new_value)
