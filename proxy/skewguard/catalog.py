"""An immutable snapshot of one database's schema, for name resolution.

The analyzer resolves every name a query uses against a snapshot, never against
the live server, so analysis stays pure and cacheable. The snapshot is built
from plain rows (:func:`build_catalog`) so the row-to-snapshot conversion is
unit-tested; :func:`load_catalog` only runs the queries.

Type names are ``format_type()`` output read with ``search_path=pg_catalog``:
built-in types are unqualified (``character varying``), user types are
schema-qualified (``public.mood``), so the text does not depend on the session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import InitVar, dataclass, field
from enum import StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import asyncpg

_PLAIN_IDENT = re.compile(r"[a-z_][a-z0-9_$]*")

T = TypeVar("T")

SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})


def ident(name: str) -> str:
    """Render one identifier for a key: bare when plain lower-case, else double-quoted.

    Unlike PostgreSQL's quote_ident, keywords are not quoted: keys are not SQL,
    they only need to be unambiguous.
    """
    if _PLAIN_IDENT.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """``schema.name`` with each part rendered by :func:`ident`."""
    return f"{ident(schema)}.{ident(name)}"


def privileges_by_role(
    acl: tuple[str, ...] | None, owner: str, default: str
) -> dict[str, set[str]]:
    """Who holds which privilege letters (``public`` for PUBLIC) in aclitem texts.

    ``acl`` None is PostgreSQL's default: the owner holds ``default``.
    """
    if acl is None:
        return {owner: set(default)}
    out: dict[str, set[str]] = {}
    for item in acl:
        who, _, rest = item.partition("=")
        out.setdefault(who or "public", set()).update(rest.partition("/")[0].replace("*", ""))
    return out


def role_members(memberships: Iterable[tuple[str, str]], role: str) -> frozenset[str]:
    """Every role that is a member of ``role`` by ``memberships`` (role, member),
    directly or through other roles: what ``role`` holds, they may hold."""
    direct: dict[str, set[str]] = {}
    for granted, member in memberships:
        direct.setdefault(granted, set()).add(member)
    found: set[str] = set()
    todo = [role]
    while todo:
        for member in direct.get(todo.pop(), ()):
            if member not in found:
                found.add(member)
                todo.append(member)
    return frozenset(found)


class RelKind(StrEnum):
    """The relkinds a query can name."""

    TABLE = "table"
    VIEW = "view"
    MATVIEW = "matview"
    PARTITIONED = "partitioned"
    FOREIGN = "foreign"
    SEQUENCE = "sequence"


_RELKINDS = {
    "r": RelKind.TABLE,
    "v": RelKind.VIEW,
    "m": RelKind.MATVIEW,
    "p": RelKind.PARTITIONED,
    "f": RelKind.FOREIGN,
    "S": RelKind.SEQUENCE,
}


class FuncKind(StrEnum):
    """pg_proc.prokind, spelled out."""

    FUNCTION = "function"
    PROCEDURE = "procedure"
    AGGREGATE = "aggregate"
    WINDOW = "window"


_FUNCKINDS = {
    "f": FuncKind.FUNCTION,
    "p": FuncKind.PROCEDURE,
    "a": FuncKind.AGGREGATE,
    "w": FuncKind.WINDOW,
}


@dataclass(frozen=True, slots=True)
class Column:
    """One attribute of a relation, as a writer needs to know it."""

    name: str
    type_name: str  # format_type(atttypid, atttypmod), e.g. "character varying(255)"
    base_type: str  # format_type(atttypid, NULL), e.g. "character varying"
    not_null: bool = False
    has_default: bool = False  # a DEFAULT or an identity: an INSERT may omit it
    default: str | None = None  # pg_get_expr of the default, when there is one
    default_sequences: tuple[str, ...] = ()  # qualified sequences the default/identity uses
    identity: str = ""  # "" | "a" (ALWAYS) | "d" (BY DEFAULT)
    generated: str = ""  # "" | "s" (stored) | "v" (virtual, PG18)
    #: The columns of the same table a generated column is computed from: dropping one
    #: of them needs CASCADE, which drops the generated column too.
    generated_from: tuple[str, ...] = ()
    #: Column privileges (attacl aclitem texts; None: none granted): a role may UPDATE,
    #: INSERT or SELECT the columns it holds them on without the table's privilege.
    acl: tuple[str, ...] | None = None
    #: The column's collation when it is not its type's own ("": the type's): a change
    #: alters the result type a named prepared statement holds (0A000).
    collation: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    """One row-level security policy of a table."""

    name: str
    command: str = "*"  # "*" (ALL), "r" SELECT, "a" INSERT, "w" UPDATE, "d" DELETE
    roles: tuple[str, ...] = ("public",)
    permissive: bool = True


@dataclass(frozen=True, slots=True)
class RewriteRule:
    """A rule of a table or view (CREATE RULE), other than a view's own ``_RETURN``."""

    name: str
    event: str  # "select" | "insert" | "update" | "delete"
    instead: bool = False  # DO INSTEAD (else DO ALSO)
    nothing: bool = False  # DO INSTEAD NOTHING
    conditional: bool = False  # WHERE ...
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Dependency:
    """One pg_depend edge the overlay follows when a function, collation or extension goes.

    ``kind`` says what depends and what the drop does to it (see
    :class:`skewguard.ddl.model.Holder`): ``default`` (the column loses its
    default), ``column`` (goes), ``constraint``, ``index``, ``policy``,
    ``trigger``, ``relation`` (go), ``function`` (goes; ``name`` is its
    signature), ``type`` (goes with its columns; ``name`` is its type text).
    ``relation`` is the qualified table for the kinds that have one.
    ``ref_kind`` is ``function`` (``ref`` a signature), ``collation`` (a
    qualified name) or ``extension`` (its name); ``auto`` edges go without CASCADE.
    """

    kind: str
    relation: str
    name: str
    ref_kind: str
    ref: str
    auto: bool = False


@dataclass(frozen=True, slots=True)
class Constraint:
    """A table constraint: p(rimary), u(nique), f(oreign key), c(heck), x (exclusion)."""

    schema: str
    table: str
    name: str
    type: str
    columns: tuple[str, ...] = ()
    validated: bool = True
    definition: str = ""  # pg_get_constraintdef
    ref_table: str = ""  # foreign keys: the qualified referenced table
    ref_columns: tuple[str, ...] = ()

    @property
    def qtable(self) -> str:
        return qualified(self.schema, self.table)

    @property
    def deferrable(self) -> bool:
        """DEFERRABLE (its check may wait for COMMIT), as pg_get_constraintdef says."""
        return bool(_DEFERRABLE.search(self.definition))

    @property
    def initially_deferred(self) -> bool:
        return self.deferrable and "INITIALLY DEFERRED" in self.definition.upper()

    def with_deferrability(self, deferrable: bool, initially_deferred: bool) -> Constraint:
        """The constraint after ALTER CONSTRAINT ... [NOT] DEFERRABLE [INITIALLY ...]."""
        base = _DEFERRABILITY.sub("", self.definition)
        if deferrable:
            base += " DEFERRABLE" + (" INITIALLY DEFERRED" if initially_deferred else "")
        return dataclasses.replace(self, definition=base)


_DEFERRABLE = re.compile(r"(?<!NOT )\bDEFERRABLE\b", re.IGNORECASE)
_DEFERRABILITY = re.compile(r"\s+(NOT\s+)?DEFERRABLE(\s+INITIALLY\s+(DEFERRED|IMMEDIATE))?", re.I)


@dataclass(frozen=True, slots=True)
class Index:
    """An index; ``keys`` are column names, or expression text for expression keys."""

    schema: str
    name: str
    table: str
    keys: tuple[str, ...] = ()
    unique: bool = False
    primary: bool = False
    predicate: str | None = None
    constraint: str = ""  # the constraint that owns it (pkey/unique/exclusion), if any
    valid: bool = True
    replica_identity: bool = False  # indisreplident: REPLICA IDENTITY USING INDEX names it

    @property
    def qtable(self) -> str:
        return qualified(self.schema, self.table)

    @property
    def qname(self) -> str:
        return qualified(self.schema, self.name)


@dataclass(frozen=True, slots=True)
class Relation:
    """A table, view, materialized view, partitioned/foreign table or sequence."""

    schema: str
    name: str
    kind: RelKind
    columns: tuple[Column, ...] = ()
    owner: str = ""
    acl: tuple[str, ...] | None = None  # aclitem texts; None = the default (owner only)
    rls: bool = False  # relrowsecurity
    rls_forced: bool = False  # relforcerowsecurity
    policies: tuple[Policy, ...] = ()
    rows: float = -1.0  # reltuples (-1: never analyzed)
    pages: int = 0  # relpages
    updatable: bool = True  # a view that accepts INSERT (auto-updatable or with rules/triggers)
    depends: tuple[str, ...] = ()  # views: facet keys of what the view reads (pg_depend)
    rules: tuple[RewriteRule, ...] = ()
    parents: tuple[str, ...] = ()  # pg_inherits: qualified parents, in order
    partition: bool = False  # a partition of its (single) parent
    #: relreplident: "d" (the primary key), "n" (nothing), "f" (full row), "i" (the
    #: index marked ``replica_identity``; none left behaves as nothing)
    replica_identity: str = "d"
    _by_name: dict[str, Column] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._by_name.update((c.name, c) for c in self.columns)

    @property
    def qname(self) -> str:
        return qualified(self.schema, self.name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column | None:
        return self._by_name.get(name)


@dataclass(frozen=True, slots=True)
class Publication:
    """A logical-replication publication: an UPDATE or DELETE of a table it publishes
    those actions of fails (55000) unless the table has a replica identity."""

    name: str
    all_tables: bool = False
    updates: bool = True  # pubupdate
    deletes: bool = True  # pubdelete
    tables: frozenset[str] = frozenset()  # qualified tables named FOR TABLE
    schemas: frozenset[str] = frozenset()  # FOR TABLES IN SCHEMA (PostgreSQL 15+)

    def publishes(self, schema: str, name: str) -> bool:
        """Whether the table ``schema.name`` is published by this publication."""
        return self.all_tables or schema in self.schemas or qualified(schema, name) in self.tables


@dataclass(frozen=True, slots=True)
class Function:
    """One overload of a function, procedure or aggregate."""

    schema: str
    name: str
    arg_types: tuple[str, ...]  # input argument types, format_type(oid, NULL)
    return_type: str
    kind: FuncKind = FuncKind.FUNCTION
    n_defaults: int = 0
    variadic: bool = False
    returns_set: bool = False
    #: The source of a PL/pgSQL trigger function (None for any other): a DROP TRIGGER
    #: and a DROP COLUMN are judged by what the function does with the row.
    trigger_body: str | None = None
    #: A function's or procedure's language and source when it is SQL or PL/pgSQL and
    #: its source at most BODY_LIMIT characters (None for any other, and for trigger
    #: functions): a CALL is judged by the statements it runs, and a change of what a
    #: body names reaches the versions calling it (a BEGIN ATOMIC body, which cannot
    #: hold DDL and whose dependencies PostgreSQL tracks, has an empty source).
    body: tuple[str, str] | None = None
    #: Input argument names ('' where unnamed; empty when not known): a call in named
    #: notation (``f(a => 1)``) reaches only an overload with that name.
    arg_names: tuple[str, ...] = ()
    #: ``name type`` of each OUT, INOUT and RETURNS TABLE column, in order (empty when it
    #: has none): the row shape a caller reads where ``return_type`` says only ``record``.
    out_columns: tuple[str, ...] = ()
    #: For a function the planner may inline (see :func:`inline_key`): its body's md5, its
    #: volatility and strictness; None for any other.
    inline_key: str | None = None
    #: A procedure's argument types as a CALL passes them, when it has OUT parameters:
    #: since PostgreSQL 14 a CALL gives each OUT parameter an argument too (NULL by
    #: convention) in its place. Empty otherwise: a call passes ``arg_types``.
    call_types: tuple[str, ...] = ()

    @property
    def qname(self) -> str:
        return qualified(self.schema, self.name)

    @property
    def result_shape(self) -> str:
        """The result as a caller sees it: ``return_type``, or its columns when it has
        OUT or RETURNS TABLE columns (``record``/``SETOF record`` alone hides them)."""
        if not self.out_columns:
            return self.return_type
        return f"{self.return_type}({', '.join(self.out_columns)})"

    def takes_names(self, names: list[str]) -> bool:
        """Whether every name of a call in named notation is one of its input arguments."""
        return not self.arg_names or set(names) <= set(self.arg_names)

    @property
    def signature(self) -> str:
        """``public.f(integer,text)``: the identity of this overload."""
        return f"{self.qname}({','.join(self.arg_types)})"

    @property
    def positional_types(self) -> tuple[str, ...]:
        """The types of the arguments a positional call passes, in order."""
        return self.call_types or self.arg_types

    def accepts_arity(self, n: int) -> bool:
        """Whether a call with ``n`` arguments can reach this overload."""
        declared = len(self.positional_types)
        if self.variadic:  # at least one variadic element, unless it has a default
            return n >= declared - self.n_defaults
        return declared - self.n_defaults <= n <= declared


def operator_signature(schema: str, name: str, left: str | None, right: str | None) -> str:
    """``public.===(text,text)``: an operator with its argument types (NONE for the missing
    one of a prefix operator), as DROP OPERATOR names it."""
    return f"{ident(schema)}.{name}({left or 'NONE'},{right or 'NONE'})"


def split_operator_signature(signature: str) -> tuple[str, str, str]:
    """``(schema, name, "(left,right)")`` of an :func:`operator_signature`."""
    head, paren, args = signature.partition("(")
    schema, _, name = head.rpartition(".")  # an operator name holds no dot
    return schema, name, paren + args


def _operator_schemas(cat: CatalogSnapshot) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for signature in cat.operators:
        schema, name, _ = split_operator_signature(signature)
        out.setdefault(name, set()).add(schema)
    return {name: frozenset(schemas) for name, schemas in out.items()}


def inline_key(
    *, language: str, body: str | None, volatility: str, strict: bool, plain: bool
) -> str | None:
    """What the planner inlines of a function, as FUNCTIONS_SQL computes it: an SQL-language
    function (``plain``: a function, not SECURITY DEFINER, no SET clause) is expanded into
    the expressions that call it, and a relation's index expressions are cached so expanded
    for the life of a connection. ``body`` is None for a standard-SQL body (BEGIN ATOMIC,
    RETURN), which has no source text to compare: any redefinition of one counts as new."""
    if language.lower() != "sql" or not plain:
        return None
    digest = hashlib.md5(body.encode()).hexdigest() if body is not None else "atomic"
    return f"{digest}:{volatility}{'s' if strict else ''}"


@dataclass(frozen=True, slots=True)
class EnumType:
    """An enum type and its labels in sort order."""

    schema: str
    name: str
    type_name: str  # format_type text, e.g. "public.mood"
    labels: tuple[str, ...]

    @property
    def qname(self) -> str:
        return qualified(self.schema, self.name)


_KEY_ORDERED = "key_ordered"
#: The order a snapshot marked key-ordered keeps (``CatalogSnapshot.mark_key_ordered``),
#: as Python compares the names: relations and indexes by (schema, name), constraints
#: by (schema, table, name), which keeps a table's constraints together.
RELATION_KEY: Callable[[Relation], tuple[str, str]] = attrgetter("schema", "name")
INDEX_KEY: Callable[[Index], tuple[str, str]] = attrgetter("schema", "name")
CONSTRAINT_KEY: Callable[[Constraint], tuple[str, str, str]] = attrgetter("schema", "table", "name")
CONSTRAINT_TABLE: Callable[[Constraint], tuple[str, str]] = attrgetter("schema", "table")


@dataclass(frozen=True)
class CatalogSnapshot:
    """Everything the analyzer resolves names against; immutable, lookups built once."""

    schemas: frozenset[str] = frozenset()
    relations: tuple[Relation, ...] = ()
    functions: tuple[Function, ...] = ()
    enums: tuple[EnumType, ...] = ()
    #: (schema, name) of the other user types a statement can name: domains, composite,
    #: range and base types (columns hold them by oid; a cast names them).
    types: frozenset[tuple[str, str]] = frozenset()
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    schema_acls: tuple[tuple[str, tuple[str, ...] | None], ...] = ()  # (schema, aclitems)
    dependencies: tuple[Dependency, ...] = ()
    extensions: frozenset[str] | None = None  # None: not read (members unknown)
    #: (role, member) of every role membership (pg_auth_members; roles are cluster-wide);
    #: None: not read (who inherits what from a role is unknown)
    memberships: tuple[tuple[str, str], ...] | None = None
    #: roles with rolsuper (they pass every privilege check); None: not read. Read with
    #: the memberships, so a role made or unmade superuser since is seen at their next read
    superusers: frozenset[str] | None = None
    builtin_functions: frozenset[str] = frozenset()  # function names in pg_catalog
    builtin_relations: frozenset[str] = frozenset()  # relation names in pg_catalog
    #: operators outside pg_catalog, as :func:`operator_signature` writes them
    operators: frozenset[str] = frozenset()
    #: those of ``operators`` that a view, index, constraint, default or function holds
    held_operators: frozenset[str] = frozenset()
    builtin_operators: frozenset[str] = frozenset()  # operator names in pg_catalog
    publications: tuple[Publication, ...] = ()
    _relations: dict[tuple[str, str], Relation] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    _functions: dict[tuple[str, str], tuple[Function, ...]] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    _enums_by_type: dict[str, EnumType] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    _enums_by_name: dict[tuple[str, str], EnumType] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    _derived: dict[str, Any] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    #: ``relations`` by (schema, name) when the caller has it already (a splice of
    #: another snapshot's): a dict of 10,000 relations costs a millisecond to build
    by_name: InitVar[dict[tuple[str, str], Relation] | None] = None

    def __post_init__(self, by_name: dict[tuple[str, str], Relation] | None) -> None:
        if by_name is not None:
            self._relations.update(by_name)
        else:
            self._relations.update(((r.schema, r.name), r) for r in self.relations)
        grouped: dict[tuple[str, str], list[Function]] = {}
        for f in self.functions:
            grouped.setdefault((f.schema, f.name), []).append(f)
        self._functions.update((k, tuple(v)) for k, v in grouped.items())
        self._enums_by_type.update((e.type_name, e) for e in self.enums)
        self._enums_by_name.update(((e.schema, e.name), e) for e in self.enums)

    def derived(self, key: str, build: Callable[[CatalogSnapshot], T]) -> T:
        """``build(self)``, computed once per snapshot (what consumers derive from it)."""
        if key not in self._derived:
            self._derived[key] = build(self)
        value: T = self._derived[key]
        return value

    def has_derived(self, key: str) -> bool:
        return key in self._derived

    def mark_key_ordered(self) -> CatalogSnapshot:
        """Note that ``relations``, ``constraints`` and ``indexes`` are in the order of
        RELATION_KEY, CONSTRAINT_KEY and INDEX_KEY (a whole read has the database
        collation's): what a splice into it needs. Returns self."""
        self._derived[_KEY_ORDERED] = True
        return self

    @property
    def key_ordered(self) -> bool:
        return _KEY_ORDERED in self._derived

    def peek_derived(self, key: str) -> Any:
        """What is stored under ``key`` (None when nothing is), left in place."""
        return self._derived.get(key)

    def take_derived(self, key: str) -> Any:
        """Remove and return what is stored under ``key`` (None when nothing is)."""
        return self._derived.pop(key, None)

    def constraints_of(self, schema: str, table: str) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.schema == schema and c.table == table)

    def indexes_of(self, schema: str, table: str) -> tuple[Index, ...]:
        return tuple(i for i in self.indexes if i.schema == schema and i.table == table)

    def schema_acl(self, schema: str) -> tuple[str, ...] | None:
        for name, acl in self.schema_acls:
            if name == schema:
                return acl
        return None

    def relations_by_name(self) -> dict[tuple[str, str], Relation]:
        """A copy of the (schema, name) -> relation index, for a snapshot spliced from this."""
        return dict(self._relations)

    def relation(self, schema: str, name: str) -> Relation | None:
        """The relation ``schema.name``, or None."""
        return self._relations.get((schema, name))

    def find_relation(self, name: str, search_path: Sequence[str]) -> Relation | None:
        """Resolve an unqualified relation name: the first schema on the path wins."""
        for schema in search_path:
            rel = self._relations.get((schema, name))
            if rel is not None:
                return rel
        return None

    def operator_schemas(self, name: str) -> frozenset[str]:
        """The schemas holding a (user) operator ``name``, of any argument types."""
        by_name: dict[str, frozenset[str]] = self.derived("operator_schemas", _operator_schemas)
        return by_name.get(name, frozenset())

    def functions_named(self, schema: str, name: str) -> tuple[Function, ...]:
        """Every overload of ``schema.name`` (empty when there is none)."""
        return self._functions.get((schema, name), ())

    def enum_for_type(self, type_name: str) -> EnumType | None:
        """The enum whose format_type text is ``type_name`` (a column's base_type)."""
        return self._enums_by_type.get(type_name)

    def enum(self, schema: str, name: str) -> EnumType | None:
        return self._enums_by_name.get((schema, name))

    def find_enum(self, name: str, search_path: Sequence[str]) -> EnumType | None:
        for schema in search_path:
            e = self._enums_by_name.get((schema, name))
            if e is not None:
                return e
        return None

    def find_type(self, names: Sequence[str], search_path: Sequence[str]) -> str | None:
        """The qualified name of the user type (not an enum) that ``names`` (schema and
        name, or name alone, looked up on ``search_path``) names."""
        schemas = [names[0]] if len(names) == 2 else search_path if len(names) == 1 else []
        for schema in schemas:
            if (schema, names[-1]) in self.types:
                return qualified(schema, names[-1])
        return None


@dataclass(frozen=True, slots=True)
class Patch:
    """How a snapshot was made from the one before (``catalog_refresh``), so what a
    consumer derived from that one can be updated instead of rebuilt."""

    previous: CatalogSnapshot
    replaced: frozenset[tuple[str, str]]  # (schema, name) of relations gone or read again
    part: CatalogSnapshot  # what was read again: those relations, their constraints, indexes
    reread: frozenset[str]  # of "schemas", "functions", "enums", "types", "dependencies"


# --- rows -> snapshot ---------------------------------------------------------


class Row(Protocol):
    """A result row by column name: an asyncpg Record or a plain dict."""

    def __getitem__(self, key: str, /) -> Any: ...


def _text_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value)


def _body(language: str | None, source: str | None) -> tuple[str, str] | None:
    if language in ("sql", "plpgsql") and source is not None:
        return str(language), str(source)
    return None


def _get(row: Row, key: str, default: Any = None) -> Any:
    try:
        return row[key]
    except (KeyError, IndexError):
        return default


def _acl(value: Any) -> tuple[str, ...] | None:
    return None if value is None else _text_tuple(value)


def build_catalog(
    *,
    schemas: Iterable[Row],
    columns: Iterable[Row],
    functions: Iterable[Row] = (),
    enums: Iterable[Row] = (),
    types: Iterable[Row] = (),
    builtins: Row | None = None,
    relations: Iterable[Row] = (),
    constraints: Iterable[Row] = (),
    indexes: Iterable[Row] = (),
    view_deps: Iterable[Row] = (),
    policies: Iterable[Row] = (),
    dependencies: Iterable[Row] = (),
    inherits: Iterable[Row] = (),
    rules: Iterable[Row] = (),
    extensions: Row | None = None,
    memberships: Iterable[Row] | None = None,
    superusers: Iterable[Row] | None = None,
    operators: Iterable[Row] = (),
    publications: Iterable[Row] = (),
) -> CatalogSnapshot:
    """Build a snapshot from the rows of the loader's queries (asyncpg Records or dicts).

    ``columns`` has one row per (relation, column) in attnum order; a relation
    without columns comes as one row whose ``column`` is None. Keys are those
    the SQL in this module selects. ``relations`` (owner, ACL, RLS, size,
    updatability), ``view_deps``, ``policies``, ``inherits`` and ``rules`` add
    to the relations that ``columns`` lists; ``dependencies`` are the pg_depend
    edges a drop follows; ``extensions`` (one row, ``names``), ``memberships``
    (role, member) and ``superusers`` (``name``) when read.
    """
    schema_rows = list(schemas)
    schema_names = frozenset(str(r["schema"]) for r in schema_rows)
    schema_acls = tuple(
        (str(r["schema"]), _acl(_get(r, "acl"))) for r in schema_rows if _get(r, "acl") is not None
    )
    info: dict[tuple[str, str], dict[str, Any]] = {}
    for r in relations:
        info[(str(r["schema"]), str(r["relation"]))] = {
            "owner": str(r["owner"] or ""),
            "acl": _acl(r["acl"]),
            "rls": bool(r["rls"]),
            "rls_forced": bool(r["rls_forced"]),
            "rows": float(r["reltuples"] if r["reltuples"] is not None else -1.0),
            "pages": int(r["relpages"] or 0),
            "updatable": bool(r["updatable"]),
            "replica_identity": str(_get(r, "replica_identity") or "d"),
        }
    deps: dict[tuple[str, str], set[str]] = {}
    for r in view_deps:
        key = (str(r["schema"]), str(r["relation"]))
        ref = qualified(str(r["ref_schema"]), str(r["ref_name"]))
        if r["ref_kind"] == "function":
            deps.setdefault(key, set()).add(
                f"function:{ref}({','.join(_text_tuple(r['ref_args']))})"
            )
        elif r["ref_column"] is not None:
            deps.setdefault(key, set()).add(f"column_read:{ref}.{ident(str(r['ref_column']))}")
        else:
            deps.setdefault(key, set()).add(f"relation_read:{ref}")
    pols: dict[tuple[str, str], list[Policy]] = {}
    for r in policies:
        pols.setdefault((str(r["schema"]), str(r["relation"])), []).append(
            Policy(
                name=str(r["name"]),
                command=str(r["command"]),
                roles=_text_tuple(r["roles"]) or ("public",),
                permissive=bool(r["permissive"]),
            )
        )

    extra = _relation_extras(inherits, rules)
    rel_order: list[tuple[str, str]] = []
    rel_kind: dict[tuple[str, str], RelKind] = {}
    rel_cols: dict[tuple[str, str], list[Column]] = {}
    for r in columns:
        key = (str(r["schema"]), str(r["relation"]))
        if key not in rel_kind:
            rel_order.append(key)
            rel_kind[key] = _RELKINDS[str(r["relkind"])]
            rel_cols[key] = []
        if r["column"] is None:
            continue
        seq_schemas = _text_tuple(r["default_seq_schemas"])
        seq_names = _text_tuple(r["default_seq_names"])
        generated = str(r["generated"] or "")
        identity = str(r["identity"] or "")
        raw_has_default = bool(r["has_default"])
        rel_cols[key].append(
            Column(
                name=str(r["column"]),
                type_name=str(r["type_name"]),
                base_type=str(r["base_type"]),
                not_null=bool(r["not_null"]),
                has_default=(raw_has_default and not generated) or bool(identity),
                default=None if generated else r["default_expr"],
                default_sequences=tuple(
                    sorted(qualified(s, n) for s, n in zip(seq_schemas, seq_names, strict=True))
                ),
                identity=identity,
                generated=generated,
                generated_from=_text_tuple(_get(r, "generated_from")),
                acl=_acl(_get(r, "acl")),
                collation=str(_get(r, "collation") or ""),
            )
        )
    rels = tuple(
        Relation(
            schema=k[0],
            name=k[1],
            kind=rel_kind[k],
            columns=tuple(rel_cols[k]),
            policies=tuple(pols.get(k, ())),
            depends=tuple(sorted(deps.get(k, ()))),
            **info.get(k, {}),
            **extra.get(k, {}),
        )
        for k in rel_order
    )
    cons = tuple(
        Constraint(
            schema=str(r["schema"]),
            table=str(r["relation"]),
            name=str(r["name"]),
            type=str(r["type"]),
            columns=_text_tuple(r["columns"]),
            validated=bool(r["validated"]),
            definition=str(r["definition"] or ""),
            ref_table=(
                qualified(str(r["ref_schema"]), str(r["ref_relation"]))
                if r["ref_relation"] is not None
                else ""
            ),
            ref_columns=_text_tuple(r["ref_columns"]),
        )
        for r in constraints
    )
    idxs = tuple(
        Index(
            schema=str(r["schema"]),
            name=str(r["name"]),
            table=str(r["relation"]),
            keys=_text_tuple(r["keys"]),
            unique=bool(r["unique"]),
            primary=bool(r["primary"]),
            predicate=r["predicate"],
            constraint=str(r["constraint"] or ""),
            valid=bool(r["valid"]),
            replica_identity=bool(_get(r, "replica_identity")),
        )
        for r in indexes
    )

    funcs = tuple(
        Function(
            schema=str(r["schema"]),
            name=str(r["name"]),
            arg_types=_text_tuple(r["arg_types"]),
            return_type=str(r["return_type"]),
            kind=_FUNCKINDS.get(str(r["kind"] or "f"), FuncKind.FUNCTION),
            n_defaults=int(r["n_defaults"] or 0),
            variadic=bool(r["variadic"]),
            returns_set=bool(r["returns_set"]),
            trigger_body=_get(r, "trigger_body"),
            arg_names=_text_tuple(_get(r, "arg_names")),
            out_columns=_text_tuple(_get(r, "out_columns")),
            body=_body(_get(r, "body_language"), _get(r, "body_source")),
            inline_key=_get(r, "inline_key"),
            call_types=_text_tuple(_get(r, "call_types")),
        )
        for r in functions
    )
    ops = {
        operator_signature(str(r["schema"]), str(r["name"]), r["left_type"], r["right_type"]): bool(
            _get(r, "held")
        )
        for r in operators
    }
    enum_types = tuple(
        EnumType(
            schema=str(r["schema"]),
            name=str(r["name"]),
            type_name=str(r["type_name"]),
            labels=_text_tuple(r["labels"]),
        )
        for r in enums
    )
    return CatalogSnapshot(
        schemas=schema_names,
        relations=rels,
        constraints=cons,
        indexes=idxs,
        schema_acls=schema_acls,
        functions=funcs,
        enums=enum_types,
        types=frozenset((str(r["schema"]), str(r["name"])) for r in types),
        builtin_functions=frozenset(_text_tuple(builtins["functions"] if builtins else None)),
        builtin_relations=frozenset(_text_tuple(builtins["relations"] if builtins else None)),
        builtin_operators=frozenset(_text_tuple(_get(builtins, "operators") if builtins else None)),
        operators=frozenset(ops),
        held_operators=frozenset(o for o, held in ops.items() if held),
        publications=tuple(_publication(r) for r in publications),
        dependencies=tuple(sorted({_dependency(r) for r in dependencies}, key=_dependency_key)),
        extensions=frozenset(_text_tuple(extensions["names"])) if extensions else None,
        memberships=(
            None
            if memberships is None
            else tuple((str(r["role"]), str(r["member"])) for r in memberships)
        ),
        superusers=(None if superusers is None else frozenset(str(r["name"]) for r in superusers)),
    )


def _relation_extras(inherits: Iterable[Row], rules: Iterable[Row]) -> dict[Any, dict[str, Any]]:
    """Per (schema, relation): ``parents``, ``partition`` and ``rules`` for Relation."""
    extra: dict[Any, dict[str, Any]] = {}
    for r in inherits:
        entry = extra.setdefault((str(r["schema"]), str(r["relation"])), {})
        parent = qualified(str(r["parent_schema"]), str(r["parent"]))
        entry["parents"] = (*entry.get("parents", ()), parent)
        entry["partition"] = bool(r["partition"])
    for r in rules:
        entry = extra.setdefault((str(r["schema"]), str(r["relation"])), {})
        rule = RewriteRule(
            name=str(r["name"]),
            event=str(r["event"]),
            instead=bool(r["instead"]),
            nothing=bool(r["nothing"]),
            conditional=bool(r["conditional"]),
            enabled=bool(r["enabled"]),
        )
        entry["rules"] = (*entry.get("rules", ()), rule)
    return extra


def _publication(r: Row) -> Publication:
    return Publication(
        name=str(r["name"]),
        all_tables=bool(r["all_tables"]),
        updates=bool(r["updates"]),
        deletes=bool(r["deletes"]),
        tables=frozenset(
            qualified(s, t)
            for s, t in zip(_text_tuple(r["table_schemas"]), _text_tuple(r["tables"]), strict=True)
        ),
        schemas=frozenset(_text_tuple(r["schemas"])),
    )


def _dependency(r: Row) -> Dependency:
    kind = str(r["kind"])
    if kind == "function":
        name = f"{qualified(str(r['schema']), str(r['name']))}({','.join(_text_tuple(r['args']))})"
        relation = ""
    else:
        name = str(r["name"])
        relation = qualified(str(r["schema"]), str(r["relation"])) if r["relation"] else ""
    ref_kind = str(r["ref_kind"])
    if ref_kind == "function":
        qname = qualified(str(r["ref_schema"]), str(r["ref_name"]))
        ref = f"{qname}({','.join(_text_tuple(r['ref_args']))})"
    elif ref_kind == "collation":
        ref = qualified(str(r["ref_schema"]), str(r["ref_name"]))
    else:
        ref = str(r["ref_name"])
    return Dependency(kind, relation, name, ref_kind, ref, bool(r["auto"]))


def _dependency_key(d: Dependency) -> tuple[str, ...]:
    return (d.ref_kind, d.ref, d.kind, d.relation, d.name)


# --- the loader ---------------------------------------------------------------

# Schemas the application owns: everything but the system ones and temp/toast.
_USER_NSP = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
    " AND n.nspname !~ '^pg_(toast_)?temp_'"
)

SCHEMAS_SQL = f"""
SELECT n.nspname::text AS schema, n.nspacl::text[] AS acl
FROM pg_catalog.pg_namespace n
WHERE {_USER_NSP}
ORDER BY 1
"""

# One row per column; sequences a default uses come from pg_depend: a DEFAULT
# nextval('s') depends on s (pg_attrdef -> pg_class), an identity column's
# sequence depends internally on the column (deptype 'i').
# Lock-free: a default is deparsed without its table (pg_get_expr(adbin, 0));
# with the table's oid pg_get_expr opens the table (AccessShareLock) and waits
# behind a migration's ACCESS EXCLUSIVE. A DEFAULT cannot reference columns;
# an expression that does (a generated column's) is left NULL, and
# build_catalog keeps no default for generated columns anyway.
COLUMNS_SQL = f"""
SELECT c.oid AS relid,
       n.nspname::text AS schema,
       c.relname::text AS relation,
       c.relkind::text AS relkind,
       a.attname::text AS column,
       a.attnum AS attnum,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_name,
       pg_catalog.format_type(a.atttypid, NULL) AS base_type,
       a.attnotnull AS not_null,
       a.atthasdef AS has_default,
       CASE WHEN d.adbin::text NOT LIKE '%{{VAR %'
            THEN pg_catalog.pg_get_expr(d.adbin, 0) END AS default_expr,
       a.attidentity::text AS identity,
       a.attgenerated::text AS generated,
       a.attacl::text[] AS acl,
       (SELECT co.collname::text FROM pg_catalog.pg_collation co
        WHERE co.oid = a.attcollation AND a.attcollation <> (
              SELECT ty.typcollation FROM pg_catalog.pg_type ty WHERE ty.oid = a.atttypid))
           AS collation,
       CASE WHEN a.attgenerated <> '' THEN ARRAY(
            SELECT ra.attname::text
            FROM pg_catalog.pg_depend gd
            JOIN pg_catalog.pg_attribute ra
                 ON ra.attrelid = gd.refobjid AND ra.attnum = gd.refobjsubid
            WHERE gd.classid = 'pg_catalog.pg_attrdef'::regclass AND gd.objid = d.oid
              AND gd.refclassid = 'pg_catalog.pg_class'::regclass AND gd.refobjid = c.oid
              AND gd.refobjsubid > 0 AND gd.refobjsubid <> a.attnum
            ORDER BY ra.attnum) END AS generated_from,
       seq.schemas AS default_seq_schemas,
       seq.names AS default_seq_names
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute a
       ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
LEFT JOIN LATERAL (
    SELECT array_agg(sn.nspname::text ORDER BY sn.nspname, s.relname) AS schemas,
           array_agg(s.relname::text ORDER BY sn.nspname, s.relname) AS names
    FROM pg_catalog.pg_class s
    JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
    WHERE s.relkind = 'S'
      AND s.oid IN (
          SELECT dep.refobjid FROM pg_catalog.pg_depend dep
          WHERE dep.classid = 'pg_catalog.pg_attrdef'::regclass
            AND dep.objid = d.oid
            AND dep.refclassid = 'pg_catalog.pg_class'::regclass
          UNION
          SELECT dep.objid FROM pg_catalog.pg_depend dep
          WHERE dep.classid = 'pg_catalog.pg_class'::regclass
            AND dep.refclassid = 'pg_catalog.pg_class'::regclass
            AND dep.refobjid = c.oid
            AND dep.refobjsubid = a.attnum
            AND dep.deptype = 'i')
) seq ON a.attnum IS NOT NULL
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') AND {_USER_NSP} /*only*/
ORDER BY n.nspname, c.relname, a.attnum
"""

#: Longest routine source kept in the catalog (characters): longer bodies are not read.
BODY_LIMIT = 65536

FUNCTIONS_SQL = f"""
SELECT n.nspname::text AS schema,
       p.proname::text AS name,
       ARRAY(SELECT pg_catalog.format_type(u.t, NULL)
             FROM unnest(p.proargtypes) WITH ORDINALITY AS u(t, ord)
             ORDER BY u.ord) AS arg_types,
       pg_catalog.format_type(p.prorettype, NULL) AS return_type,
       p.prokind::text AS kind,
       p.pronargdefaults::int AS n_defaults,
       ARRAY(SELECT COALESCE(x.name, '') FROM unnest(
                 COALESCE(p.proargnames, pg_catalog.array_fill(NULL::text, ARRAY[p.pronargs])),
                 p.proargmodes::text[]) WITH ORDINALITY AS x(name, mode, ord)
             WHERE COALESCE(x.mode, 'i') IN ('i', 'b', 'v') ORDER BY x.ord) AS arg_names,
       ARRAY(SELECT COALESCE(x.name, '') || ' ' || pg_catalog.format_type(x.t, NULL)
             FROM unnest(p.proargnames, p.proargmodes::text[], p.proallargtypes)
                  WITH ORDINALITY AS x(name, mode, t, ord)
             WHERE x.mode IN ('o', 'b', 't') ORDER BY x.ord) AS out_columns,
       CASE WHEN p.prokind = 'p' AND 'o' = ANY (p.proargmodes::text[])
            THEN ARRAY(SELECT pg_catalog.format_type(x.t, NULL)
                       FROM unnest(p.proallargtypes, p.proargmodes::text[])
                            WITH ORDINALITY AS x(t, mode, ord)
                       WHERE x.mode IN ('i', 'b', 'v', 'o') ORDER BY x.ord)
       END AS call_types,
       p.provariadic <> 0 AS variadic,
       p.proretset AS returns_set,
       CASE WHEN p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype
                 AND p.prolang = (SELECT l.oid FROM pg_catalog.pg_language l
                                  WHERE l.lanname = 'plpgsql')
            THEN p.prosrc END AS trigger_body,
       CASE WHEN p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype
                 AND pg_catalog.length(p.prosrc) <= {BODY_LIMIT}
            THEN (SELECT l.lanname::text FROM pg_catalog.pg_language l
                  WHERE l.oid = p.prolang AND l.lanname IN ('sql', 'plpgsql'))
       END AS body_language,
       CASE WHEN p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype
                 AND pg_catalog.length(p.prosrc) <= {BODY_LIMIT}
            THEN p.prosrc END AS body_source,
       CASE WHEN p.prokind = 'f' AND NOT p.prosecdef AND p.proconfig IS NULL
                 AND p.prolang = (SELECT l.oid FROM pg_catalog.pg_language l
                                  WHERE l.lanname = 'sql')
            THEN CASE WHEN p.prosrc = '' THEN 'atomic' ELSE pg_catalog.md5(p.prosrc) END
                 || ':' || p.provolatile::text || CASE WHEN p.proisstrict THEN 's' ELSE '' END
       END AS inline_key
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE {_USER_NSP}
ORDER BY 1, 2, 3
"""

ENUMS_SQL = f"""
SELECT n.nspname::text AS schema,
       t.typname::text AS name,
       pg_catalog.format_type(t.oid, NULL) AS type_name,
       array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
WHERE {_USER_NSP}
GROUP BY n.nspname, t.typname, t.oid
ORDER BY 1, 2
"""

# User types other than enums: domains, standalone composite types (not a table's row
# type), ranges, multiranges and base types; not their array types.
TYPES_SQL = f"""
SELECT n.nspname::text AS schema, t.typname::text AS name
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
WHERE t.typtype IN ('d', 'c', 'r', 'm', 'b') AND t.typcategory <> 'A'
  AND (t.typtype <> 'c' OR c.relkind = 'c') AND {_USER_NSP}
ORDER BY 1, 2
"""

# Per relation: owner, privileges, row-level security, size, whether a view takes INSERT.
RELATIONS_SQL = f"""
SELECT n.nspname::text AS schema,
       c.relname::text AS relation,
       pg_catalog.pg_get_userbyid(c.relowner)::text AS owner,
       c.relacl::text[] AS acl,
       c.relrowsecurity AS rls,
       c.relforcerowsecurity AS rls_forced,
       c.reltuples::float8 AS reltuples,
       c.relpages::int AS relpages,
       (c.relkind <> 'v' OR (pg_catalog.pg_relation_is_updatable(c.oid, true) & 8) = 8)
           AS updatable,
       c.relreplident::text AS replica_identity
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') AND {_USER_NSP} /*only*/
ORDER BY 1, 2
"""

# Lock-free: pg_get_constraintdef of a CHECK or EXCLUDE constraint opens the table
# (AccessShareLock) and waits behind a migration's ACCESS EXCLUSIVE; those of PRIMARY
# KEY, UNIQUE and FOREIGN KEY constraints do not. So a CHECK reads
# CHECK (EXPRESSION(a, b)), the columns it uses, unless it uses none (then it is
# deparsed, no table needed), and an EXCLUDE is spelled from its catalog rows.
_KEY_NAMES = """(SELECT string_agg(pg_catalog.quote_ident(a.attname::text), ', ' ORDER BY u.ord)
     FROM unnest(k.conkey) WITH ORDINALITY AS u(num, ord)
     JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num)"""
_CHECK_DEF = f"""'CHECK (' || CASE WHEN k.conbin::text NOT LIKE '%{{VAR %'
                             THEN pg_catalog.pg_get_expr(k.conbin, 0)
                             ELSE 'EXPRESSION(' || COALESCE({_KEY_NAMES}, '') || ')' END
            || ')' || CASE WHEN k.connoinherit THEN ' NO INHERIT' ELSE '' END
            || CASE WHEN k.convalidated THEN '' ELSE ' NOT VALID' END"""
_EXCLUDE_DEF = """'EXCLUDE USING ' || (SELECT am.amname FROM pg_catalog.pg_class ic
                                   JOIN pg_catalog.pg_am am ON am.oid = ic.relam
                                   WHERE ic.oid = k.conindid)
            || ' (' || (SELECT string_agg(
                           COALESCE(pg_catalog.quote_ident(a.attname::text), 'EXPRESSION()')
                           || ' WITH ' || o.oprname, ', ' ORDER BY u.ord)
                        FROM unnest(k.conkey, k.conexclop) WITH ORDINALITY AS u(num, op, ord)
                        JOIN pg_catalog.pg_operator o ON o.oid = u.op
                        LEFT JOIN pg_catalog.pg_attribute a
                               ON a.attrelid = k.conrelid AND a.attnum = u.num) || ')'"""

CONSTRAINTS_SQL = f"""
SELECT k.oid AS oid,
       k.conrelid AS relid,
       n.nspname::text AS schema,
       c.relname::text AS relation,
       k.conname::text AS name,
       k.contype::text AS type,
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num
             ORDER BY u.ord) AS columns,
       k.convalidated AS validated,
       CASE k.contype WHEN 'c' THEN {_CHECK_DEF}
                      WHEN 'x' THEN {_EXCLUDE_DEF}
                      ELSE pg_catalog.pg_get_constraintdef(k.oid) END AS definition,
       rn.nspname::text AS ref_schema,
       r.relname::text AS ref_relation,
       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS u(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num
             ORDER BY u.ord) AS ref_columns
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class r ON r.oid = k.confrelid
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND {_USER_NSP} /*only*/
ORDER BY 3, 4, 5
"""


def _node_columns(tree: str, table: str) -> str:
    """SQL: ``(elem, columns)`` of the Vars in a stored node tree, without opening a table.

    ``tree`` is a pg_node_tree expression (one node, or a list of nodes such as
    pg_index.indexprs), ``table`` the oid expression its Vars refer to. One row
    per top-level node that references columns (``elem`` counts from 1), with
    the quoted column names in order of first use. The node text is scanned for
    braces (backslash-escaped ones skipped) and ``{VAR :varno 1 :varattno n``;
    the names come from pg_attribute.
    """
    pattern = r"E'\\\\.|[{]VAR :varno [0-9]+ :varattno ([0-9]+)|([{}])'"
    return f"""
        SELECT v.elem, string_agg(pg_catalog.quote_ident(a.attname::text), ', '
                                  ORDER BY v.first) AS columns
        FROM (SELECT u.elem, u.attnum, min(u.ord) AS first
              FROM (SELECT sum(s.start) OVER (ORDER BY s.ord) AS elem, s.attnum, s.ord
                    FROM (SELECT t.ord, t.attnum,
                                 CASE WHEN t.delta = 1 AND COALESCE(sum(t.delta) OVER (
                                          ORDER BY t.ord ROWS BETWEEN UNBOUNDED PRECEDING
                                          AND 1 PRECEDING), 0) = 0
                                      THEN 1 ELSE 0 END AS start
                          FROM (SELECT m.ord, m.tok[1]::int AS attnum,
                                       CASE WHEN m.tok[1] IS NOT NULL OR m.tok[2] = '{{' THEN 1
                                            WHEN m.tok[2] = '}}' THEN -1 ELSE 0 END AS delta
                                FROM pg_catalog.regexp_matches({tree}::text, {pattern}, 'g')
                                     WITH ORDINALITY AS m(tok, ord)) t) s) u
              WHERE u.attnum IS NOT NULL
              GROUP BY u.elem, u.attnum) v
        JOIN pg_catalog.pg_attribute a
          ON a.attrelid = {table} AND a.attnum = v.attnum AND NOT a.attisdropped
        GROUP BY v.elem"""


# Key columns by name. Lock-free: pg_get_indexdef and pg_get_expr with the
# table's oid open the table (AccessShareLock) and wait behind a migration's
# ACCESS EXCLUSIVE, so expressions are not deparsed against the table. An
# expression key reads EXPRESSION(a, b) and a partial index's predicate
# PREDICATE(a, b): the columns they reference, from the stored node trees. A
# predicate without column references is deparsed (no table needed).
INDEXES_SQL = f"""
SELECT i.indexrelid AS oid,
       i.indrelid AS relid,
       n.nspname::text AS schema,
       ic.relname::text AS name,
       c.relname::text AS relation,
       ARRAY(SELECT CASE WHEN i.indkey[k] <> 0
                         THEN (SELECT a.attname::text FROM pg_catalog.pg_attribute a
                               WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[k])
                         ELSE 'EXPRESSION(' || COALESCE(ex.columns ->> (
                                  SELECT count(*) FROM generate_series(0, k) AS j
                                  WHERE i.indkey[j] = 0)::text, '') || ')' END
             FROM generate_series(0, i.indnkeyatts - 1) AS k ORDER BY k) AS keys,
       i.indisunique AS unique,
       i.indisprimary AS primary,
       CASE WHEN i.indpred IS NULL THEN NULL
            WHEN i.indpred::text NOT LIKE '%{{VAR %' THEN pg_catalog.pg_get_expr(i.indpred, 0)
            ELSE 'PREDICATE(' || COALESCE(pr.columns, '') || ')' END AS predicate,
       k.conname::text AS constraint,
       i.indisvalid AS valid,
       i.indisreplident AS replica_identity
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
     AND k.contype IN ('p', 'u', 'x')
LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(e.elem, e.columns) AS columns
    FROM ({_node_columns("i.indexprs", "i.indrelid")}) e
) ex ON i.indexprs IS NOT NULL
LEFT JOIN LATERAL (
    SELECT string_agg(p.columns, ', ' ORDER BY p.elem) AS columns
    FROM ({_node_columns("i.indpred", "i.indrelid")}) p
) pr ON i.indpred IS NOT NULL
WHERE {_USER_NSP} /*only*/
ORDER BY 3, 4
"""

# What each view/materialized view reads (pg_rewrite -> pg_depend): relations,
# columns (refobjsubid) and functions.
VIEW_DEPS_SQL = f"""
SELECT DISTINCT n.nspname::text AS schema,
       v.relname::text AS relation,
       CASE WHEN d.refclassid = 'pg_catalog.pg_proc'::regclass
            THEN 'function' ELSE 'relation' END AS ref_kind,
       COALESCE(rn.nspname, pn.nspname)::text AS ref_schema,
       COALESCE(r.relname, p.proname)::text AS ref_name,
       a.attname::text AS ref_column,
       CASE WHEN p.oid IS NOT NULL THEN
           ARRAY(SELECT pg_catalog.format_type(u.t, NULL)
                 FROM unnest(p.proargtypes) WITH ORDINALITY AS u(t, ord) ORDER BY u.ord)
       END AS ref_args
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_rewrite w ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND w.oid = d.objid
JOIN pg_catalog.pg_class v ON v.oid = w.ev_class
JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace
LEFT JOIN pg_catalog.pg_class r
       ON d.refclassid = 'pg_catalog.pg_class'::regclass AND r.oid = d.refobjid
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
LEFT JOIN pg_catalog.pg_attribute a
       ON a.attrelid = r.oid AND a.attnum = d.refobjsubid AND d.refobjsubid > 0
LEFT JOIN pg_catalog.pg_proc p
       ON d.refclassid = 'pg_catalog.pg_proc'::regclass AND p.oid = d.refobjid
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE (r.oid IS NOT NULL AND r.oid <> v.oid OR p.oid IS NOT NULL)
  AND COALESCE(rn.nspname, pn.nspname) NOT IN ('pg_catalog', 'information_schema')
  AND {_USER_NSP} /*only*/
ORDER BY 1, 2, 3, 4, 5, 6
"""

POLICIES_SQL = f"""
SELECT p.oid AS oid,
       p.polrelid AS relid,
       n.nspname::text AS schema,
       c.relname::text AS relation,
       p.polname::text AS name,
       p.polcmd::text AS command,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r)::text END
             FROM unnest(p.polroles) AS r) AS roles,
       p.polpermissive AS permissive
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_NSP} /*only*/
ORDER BY 3, 4, 5
"""

# What goes when a function, collation or extension is dropped (pg_depend; views
# are VIEW_DEPS_SQL). One small SELECT per kind of dependent, over the edges whose
# referenced object is a function, a collation or an extension.
DEPENDENCIES_SQL = f"""
WITH ref AS (
    SELECT d.classid, d.objid, d.objsubid, d.deptype <> 'n' AS auto,
           CASE d.refclassid WHEN 'pg_catalog.pg_proc'::regclass THEN 'function'
                             WHEN 'pg_catalog.pg_collation'::regclass THEN 'collation'
                             ELSE 'extension' END AS ref_kind,
           COALESCE(pn.nspname, cn.nspname)::text AS ref_schema,
           COALESCE(p.proname, co.collname, e.extname)::text AS ref_name,
           CASE WHEN p.oid IS NOT NULL THEN
               ARRAY(SELECT pg_catalog.format_type(u.t, NULL)
                     FROM unnest(p.proargtypes) WITH ORDINALITY AS u(t, ord) ORDER BY u.ord)
           END AS ref_args
    FROM pg_catalog.pg_depend d
    LEFT JOIN pg_catalog.pg_proc p
           ON d.refclassid = 'pg_catalog.pg_proc'::regclass AND p.oid = d.refobjid
    LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
    LEFT JOIN pg_catalog.pg_collation co
           ON d.refclassid = 'pg_catalog.pg_collation'::regclass AND co.oid = d.refobjid
    LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
    LEFT JOIN pg_catalog.pg_extension e
           ON d.refclassid = 'pg_catalog.pg_extension'::regclass AND e.oid = d.refobjid
    WHERE d.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_collation'::regclass,
                           'pg_catalog.pg_extension'::regclass)
      AND d.deptype IN ('n', 'a', 'e')
      AND COALESCE(pn.nspname, cn.nspname, '') NOT IN ('pg_catalog', 'information_schema')
)
SELECT CASE WHEN a.attgenerated <> '' THEN 'column' ELSE 'default' END AS kind,
       n.nspname::text AS schema, c.relname::text AS relation, a.attname::text AS name,
       NULL::text[] AS args,
       ref.auto, ref.ref_kind, ref.ref_schema, ref.ref_name, ref.ref_args
FROM ref
JOIN pg_catalog.pg_attrdef ad ON ref.classid = 'pg_catalog.pg_attrdef'::regclass
     AND ad.oid = ref.objid
JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
WHERE {_USER_NSP}
UNION ALL
SELECT CASE WHEN ref.objsubid > 0 THEN 'column'
            WHEN c.relkind IN ('i', 'I') THEN 'index' ELSE 'relation' END,
       n.nspname::text, COALESCE(t.relname, c.relname)::text,
       COALESCE(a.attname, c.relname)::text, NULL::text[],
       ref.auto, ref.ref_kind, ref.ref_schema, ref.ref_name, ref.ref_args
FROM ref
JOIN pg_catalog.pg_class c ON ref.classid = 'pg_catalog.pg_class'::regclass
     AND c.oid = ref.objid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute a
       ON ref.objsubid > 0 AND a.attrelid = c.oid AND a.attnum = ref.objsubid
LEFT JOIN pg_catalog.pg_index i ON c.relkind IN ('i', 'I') AND i.indexrelid = c.oid
LEFT JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
WHERE {_USER_NSP}
UNION ALL
SELECT 'constraint', n.nspname::text, c.relname::text, k.conname::text, NULL::text[],
       ref.auto, ref.ref_kind, ref.ref_schema, ref.ref_name, ref.ref_args
FROM ref
JOIN pg_catalog.pg_constraint k ON ref.classid = 'pg_catalog.pg_constraint'::regclass
     AND k.oid = ref.objid
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_NSP}
UNION ALL
SELECT 'policy', n.nspname::text, c.relname::text, po.polname::text, NULL::text[],
       ref.auto, ref.ref_kind, ref.ref_schema, ref.ref_name, ref.ref_args
FROM ref
JOIN pg_catalog.pg_policy po ON ref.classid = 'pg_catalog.pg_policy'::regclass
     AND po.oid = ref.objid
JOIN pg_catalog.pg_class c ON c.oid = po.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_NSP}
UNION ALL
SELECT 'trigger', n.nspname::text, c.relname::text, tg.tgname::text, NULL::text[],
       ref.auto, ref.ref_kind, ref.ref_schema, ref.ref_name, ref.ref_args
FROM ref
JOIN pg_catalog.pg_trigger tg ON ref.classid = 'pg_catalog.pg_trigger'::regclass
     AND tg.oid = ref.objid AND NOT tg.tgisinternal
JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_NSP}
UNION ALL
SELECT 'function', n.nspname::text, '', p.proname::text,
       ARRAY(SELECT pg_catalog.format_type(u.t, NULL)
             FROM unnest(p.proargtypes) WITH ORDINALITY AS u(t, ord) ORDER BY u.ord),
       ref.auto, ref.ref_kind, ref.ref_schema, ref.ref_name, ref.ref_args
FROM ref
JOIN pg_catalog.pg_proc p ON ref.classid = 'pg_catalog.pg_proc'::regclass AND p.oid = ref.objid
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE {_USER_NSP}
UNION ALL
SELECT 'type', n.nspname::text, '', pg_catalog.format_type(ty.oid, NULL), NULL::text[],
       ref.auto, ref.ref_kind, ref.ref_schema, ref.ref_name, ref.ref_args
FROM ref
JOIN pg_catalog.pg_type ty ON ref.classid = 'pg_catalog.pg_type'::regclass
     AND ty.oid = ref.objid AND ty.typcategory <> 'A'
JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace
WHERE {_USER_NSP}
"""

# Children of inheritance parents and partitioned tables, in inhseqno order.
INHERITS_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS relation,
       pn.nspname::text AS parent_schema, p.relname::text AS parent,
       c.relispartition AS partition
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.relkind IN ('r', 'p', 'f') AND {_USER_NSP} /*only*/
ORDER BY 1, 2, i.inhseqno
"""

# Rules of tables and views other than a view's own _RETURN rule.
RULES_SQL = f"""
SELECT r.oid AS oid,
       r.ev_class AS relid,
       n.nspname::text AS schema, c.relname::text AS relation, r.rulename::text AS name,
       CASE r.ev_type WHEN '1' THEN 'select' WHEN '2' THEN 'update'
                      WHEN '3' THEN 'insert' ELSE 'delete' END AS event,
       r.is_instead AS instead,
       (r.is_instead
        AND pg_catalog.pg_get_ruledef(r.oid) ~ 'DO INSTEAD[[:space:]]+NOTHING;?[[:space:]]*$')
           AS nothing,
       (r.ev_qual::text <> '<>') AS conditional,
       r.ev_enabled <> 'D' AS enabled
FROM pg_catalog.pg_rewrite r
JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE r.rulename <> '_RETURN' AND {_USER_NSP} /*only*/
ORDER BY 3, 4, 5
"""

MEMBERSHIPS_SQL = """
SELECT r.rolname::text AS role, m.rolname::text AS member
FROM pg_catalog.pg_auth_members a
JOIN pg_catalog.pg_roles r ON r.oid = a.roleid
JOIN pg_catalog.pg_roles m ON m.oid = a.member
ORDER BY 1, 2
"""

SUPERUSERS_SQL = """
SELECT rolname::text AS name FROM pg_catalog.pg_roles WHERE rolsuper ORDER BY 1
"""

EXTENSIONS_SQL = """
SELECT ARRAY(SELECT e.extname::text FROM pg_catalog.pg_extension e ORDER BY 1) AS names
"""

# Operators of the application's schemas (an extension's too); pg_catalog's are built in.
OPERATORS_SQL = f"""
SELECT n.nspname::text AS schema, o.oprname::text AS name,
       CASE WHEN o.oprleft <> 0 THEN pg_catalog.format_type(o.oprleft, NULL) END AS left_type,
       CASE WHEN o.oprright <> 0 THEN pg_catalog.format_type(o.oprright, NULL) END AS right_type,
       EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
               WHERE d.refclassid = 'pg_catalog.pg_operator'::regclass
                 AND d.refobjid = o.oid AND d.deptype = 'n') AS held
FROM pg_catalog.pg_operator o
JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
WHERE {_USER_NSP}
ORDER BY 1, 2, 3, 4
"""

# Publications and what they publish, lock-free (the pg_publication_tables view deparses
# row filters with the table, which waits behind a migration's ACCESS EXCLUSIVE). A
# schema's membership (pg_publication_namespace, PostgreSQL 15+) is found through its
# pg_depend rows so the query also runs where that catalog does not exist.
PUBLICATIONS_SQL = """
SELECT p.pubname::text AS name, p.puballtables AS all_tables,
       p.pubupdate AS updates, p.pubdelete AS deletes,
       ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_publication_rel r
             JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE r.prpubid = p.oid ORDER BY n.nspname, c.relname) AS table_schemas,
       ARRAY(SELECT c.relname::text FROM pg_catalog.pg_publication_rel r
             JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE r.prpubid = p.oid ORDER BY n.nspname, c.relname) AS tables,
       ARRAY(SELECT DISTINCT n.nspname::text
             FROM pg_catalog.pg_depend dp
             JOIN pg_catalog.pg_depend dn ON dn.classid = dp.classid AND dn.objid = dp.objid
                  AND dn.refclassid = 'pg_catalog.pg_namespace'::regclass
             JOIN pg_catalog.pg_namespace n ON n.oid = dn.refobjid
             WHERE dp.classid = pg_catalog.to_regclass('pg_catalog.pg_publication_namespace')
               AND dp.refclassid = 'pg_catalog.pg_publication'::regclass
               AND dp.refobjid = p.oid) AS schemas
FROM pg_catalog.pg_publication p
ORDER BY 1
"""

BUILTINS_SQL = """
SELECT ARRAY(SELECT DISTINCT p.proname::text FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace) AS functions,
       ARRAY(SELECT DISTINCT o.oprname::text FROM pg_catalog.pg_operator o
             WHERE o.oprnamespace = 'pg_catalog'::regnamespace) AS operators,
       ARRAY(SELECT c.relname::text FROM pg_catalog.pg_class c
             WHERE c.relnamespace = 'pg_catalog'::regnamespace
               AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')) AS relations
"""


#: Every query of a whole snapshot, by build_catalog's argument name.
QUERIES = {
    "schemas": SCHEMAS_SQL,
    "columns": COLUMNS_SQL,
    "functions": FUNCTIONS_SQL,
    "enums": ENUMS_SQL,
    "types": TYPES_SQL,
    "relations": RELATIONS_SQL,
    "constraints": CONSTRAINTS_SQL,
    "indexes": INDEXES_SQL,
    "view_deps": VIEW_DEPS_SQL,
    "policies": POLICIES_SQL,
    "dependencies": DEPENDENCIES_SQL,
    "inherits": INHERITS_SQL,
    "rules": RULES_SQL,
    "memberships": MEMBERSHIPS_SQL,
    "superusers": SUPERUSERS_SQL,
    "operators": OPERATORS_SQL,
    "publications": PUBLICATIONS_SQL,
}
ONE_ROW_QUERIES = {"builtins": BUILTINS_SQL, "extensions": EXTENSIONS_SQL}


async def fetch_rows(conn: asyncpg.Connection) -> dict[str, Any]:
    """The rows of every query, by build_catalog's argument name (in the caller's transaction)."""
    rows: dict[str, Any] = {name: await conn.fetch(sql) for name, sql in QUERIES.items()}
    rows.update({name: await conn.fetchrow(sql) for name, sql in ONE_ROW_QUERIES.items()})
    return rows


async def load_catalog(conn: asyncpg.Connection) -> CatalogSnapshot:
    """Read a snapshot over ``conn`` (a side connection; PostgreSQL 15+).

    Runs in one repeatable-read transaction (a savepoint if one is open) with a
    local ``search_path=pg_catalog``, so type names come out schema-qualified
    for user types whatever the connection's own search_path is. The rows
    become a snapshot in a worker thread: on a large catalog that takes longer
    than the event loop may be held. (``catalog_refresh`` keeps one current.)
    """
    fresh = not conn.is_in_transaction()
    async with conn.transaction(isolation="repeatable_read" if fresh else None, readonly=fresh):
        await conn.execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog', true)")
        rows = await fetch_rows(conn)
    return await asyncio.to_thread(functools.partial(build_catalog, **rows))
