"""Facets: the unit of a footprint.

A facet is one thing a query depends on (a column it reads, an insert shape, a
function overload it calls, ...). Facets are plain strings at rest
(``kind:subject``) so the state store and the rules never need the parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from skewguard.catalog import ident, qualified

__all__ = [
    "VALUE_LIMIT",
    "VALUE_TEXT_LIMIT",
    "Facet",
    "FacetKind",
    "ident",
    "qualified",
    "split_value_subject",
    "value_subject",
]


class FacetKind(StrEnum):
    """What a facet says about its subject. Values are stored: never rename one."""

    RELATION_READ = "relation_read"  # public.users
    RELATION_WRITE = (
        "relation_write"  # public.users (INSERT/UPDATE/DELETE/MERGE/TRUNCATE/COPY FROM)
    )
    VIEW_READ = "view_read"  # public.active_users (also recorded as relation_read)
    COLUMN_READ = "column_read"  # public.users.email
    COLUMN_WRITE = "column_write"  # public.users.email
    #: public.users.email: written by its place in an INSERT without a column list (also
    #: a column_write): a rename leaves such a write alone
    POSITIONAL_WRITE = "positional_write"
    INSERT_SHAPE = "insert_shape"  # public.users(email,name): sorted inserted column set
    INSERT_POSITIONAL = "insert_positional"  # public.users/3: INSERT without a column list
    INSERT_SELECT_STAR = "insert_select_star"  # public.archive<public.orders
    SELECT_STAR = "select_star"  # public.users: SELECT *, u.*, RETURNING *, whole-row refs
    COPY_IN = "copy_in"  # public.users or public.users(email,id) (list order kept)
    COPY_OUT = "copy_out"  # same formats as COPY_IN
    CONFLICT_COLUMNS = "conflict_columns"  # public.users(email): ON CONFLICT (email)
    CONFLICT_CONSTRAINT = "conflict_constraint"  # public.users.users_email_key
    FUNCTION_CALL = "function_call"  # public.f(integer,unknown): argument types at the call site
    FUNCTION = "function"  # public.f(integer,text): the declared overload(s) the call can reach
    OPERATOR = "operator"  # public.===: a user operator (any overload) an expression names
    SEQUENCE = "sequence"  # public.users_id_seq: named in nextval/currval/setval('...')
    SEQUENCE_DEFAULT = "sequence_default"  # public.users_id_seq: nextval through a default
    ENUM_LABEL_WRITE = "enum_label_write"  # public.mood:happy
    ENUM_LABEL_READ = "enum_label_read"  # public.mood:happy (compared against, or cast)
    TYPE_NAMED = "type_named"  # public.mood: a user type named in the text ('x'::mood, CAST)
    SEARCH_PATH = "search_path"  # app,public (or "default" for RESET/SET ... DEFAULT)
    MISSING_RELATION = "missing_relation"  # public.new_table
    MISSING_COLUMN = "missing_column"  # public.users.new_column
    MISSING_FUNCTION = "missing_function"  # public.new_fn(integer) (call-site types)
    MISSING_ENUM_LABEL = "missing_enum_label"  # public.mood:new_label
    PREPARED_RESULT = "prepared_result"  # public.users.email, public.users.*, public.f(integer)
    PREPARED_DERIVED = "prepared_derived"  # public.t.v|sum: sum(v), see analysis.derived
    PREPARED_PARAM = "prepared_param"  # public.mood: an enum a prepared statement's $n takes
    ROLE = "role"  # app_rw: a role the version runs as (recorded by the shell, not analyze)
    WRITE_VALUE = "write_value"  # public.t.qty|n:5: a constant written (see below)
    WRITE_OTHER = "write_other"  # public.t.qty: written from a parameter, expression or query
    COLUMN_UPDATE = "column_update"  # public.t.qty: UPDATE SET / DO UPDATE SET / MERGE UPDATE
    VALUE_SUPPLIED = "value_supplied"  # public.t.id: given a value of the statement's own (below)
    ROW_DELETE = "row_delete"  # public.users: DELETE FROM (a foreign key may refuse it)
    TRUNCATE = "truncate"  # public.users (or public.users|cascade): no view takes a TRUNCATE
    REFRESH = "refresh"  # public.totals (or |concurrently: needs a plain unique index)
    INSERT_CONFLICT = "insert_conflict"  # public.t|nothing(email): one per INSERT (see below)
    DEFERS = "defers"  # public.lines.lines_fk (|first: child first), * (SET CONSTRAINTS ALL)
    TS_CONFIG = "ts_config"  # app_english or public.app_english: a regconfig literal, as written
    COLLATION = "collation"  # app_ci or public.app_ci: a COLLATE clause, as written
    TABLESAMPLE = "tablesample"  # public.events: FROM events TABLESAMPLE (tables, matviews)
    COPY_SHAPE = "copy_shape"  # public.orders(id,total): COPY FROM into a temp table LIKE it
    COPY_WRITE = "copy_write"  # public.t.tags|text (|csv, |binary): a column COPY FROM writes


# SEQUENCE and SEQUENCE_DEFAULT, ENUM_LABEL_* and TYPE_NAMED: a default holds its
# sequence, and a column its type, by oid, so only a name in the statement's text
# breaks when the sequence or type is renamed or moved; dropping either breaks all.

# PREPARED_RESULT: a table/view column a named prepared statement returns as a bare
# reference (also through subqueries, CTEs and set operations), ``schema.table.*``
# for a star over it, or the signature of a user function whose call it returns. Any
# change of such a column's type/typmod/collation, of the starred relation's column
# list or of the function's result type fails the next EXECUTE with 0A000 ("cached plan
# must not change result type"). Computed by skewguard.analysis.result_facets; record
# it only for statements that are really prepared (named Parse, SQL PREPARE).
# PREPARED_DERIVED, from the same place: ``column|class,...`` for an output whose type
# follows the column's through those classes (``sum(v)``: ``public.t.v|sum``,
# ``coalesce(sum(v), 0)``: ``public.t.v|sum,mix_int``), or ``column|=tree`` for one
# over several columns or constants, once per column it names (``a + b``:
# ``public.t.a|=add(public.t.a;public.t.b)``; a UNION's sides: ``common(...)``); a type
# change that changes the result type, with every column's type after it
# (analysis.derived.result_type_changes), fails the next EXECUTE so too.
# PREPARED_PARAM, from the same place: an enum type a parameter of such a statement was
# given or inferred as; the statement holds it by oid, so an enum dropped and created
# again under its name fails the next EXECUTE (XX000 cache lookup failed for type).

# COPY_SHAPE: ``COPY staging [(cols)] FROM ...`` into the session's temporary table made
# ``(LIKE orders ...)`` alone: staging has orders' columns (and NOT NULLs) at each run, so
# a column added to orders wants data COPY without a list does not send (22P04), one
# dropped or renamed fails a list naming it. Not a write of orders (privileges,
# triggers, constraints and views of orders are not staging's).

# COPY_WRITE: ``column|format`` for each column a ``COPY ... FROM`` writes, in the COPY's
# format (``text``, ``csv`` or ``binary``), next to its column_write. Text and CSV values
# go through the column type's input function (``{a,b}`` into a text column is a fine
# string); binary ones through its receive function, which takes only that type's
# binary form (an int8 column refuses an int4's four bytes).

# DEFERS: the version relies on a constraint being checked at commit, not at each
# statement: it ran SET CONSTRAINTS ... DEFERRED (``*`` for ALL, else each constraint
# the names find), or, in one text (one transaction), inserted into a table before the
# table its foreign key references (``public.lines.lines_fk|first``).

# VALUE_SUPPLIED: an INSERT (without OVERRIDING), UPDATE SET, ON CONFLICT DO UPDATE SET or
# MERGE gives the column a value that is not DEFAULT: an identity ALWAYS refuses it (428C9).
# Not recorded for COPY FROM (it writes identity columns as OVERRIDING SYSTEM VALUE does)
# nor for a column every row of the VALUES sets to DEFAULT.

# WRITE_VALUE: ``column|value`` where value is ``n:<number as written>``, ``s:<string>``,
# ``b:true``/``b:false`` or ``null``. These hold literal values: the store keeps them,
# nothing shows them (API, logs, error DETAIL). Every write of a column by a statement
# records a WRITE_VALUE or a WRITE_OTHER, so a version whose column_write count is
# covered by them, with no WRITE_OTHER, is known to write only those values.
#
# INSERT_CONFLICT: ``table|none``, ``table|nothing``, ``table|nothing(a,b)``,
# ``table|update(a,b)`` or ``table|nothing@constraint`` / ``table|update@constraint``:
# the conflict handling of each INSERT (MERGE inserts record ``none``).

#: Distinct constants kept per version and column; past it a write counts as WRITE_OTHER.
VALUE_LIMIT = 16
#: Longer constants are not kept (they count as WRITE_OTHER).
VALUE_TEXT_LIMIT = 256


def value_subject(column: str, value: str) -> str:
    """The WRITE_VALUE subject of ``value`` (encoded as above) written to ``column``."""
    return f"{column}|{value}"


def split_value_subject(subject: str) -> tuple[str, str]:
    """``(column, value)`` of a WRITE_VALUE subject (the first ``|`` outside quotes)."""
    quoted = False
    for i, ch in enumerate(subject):
        if ch == '"':
            quoted = not quoted
        elif ch == "|" and not quoted:
            return subject[:i], subject[i + 1 :]
    return subject, ""


@dataclass(frozen=True, slots=True, order=True)
class Facet:
    """One dependency of a query: a kind and a canonical subject string."""

    kind: FacetKind
    subject: str

    @property
    def key(self) -> str:
        """The storage form, ``kind:subject``."""
        return f"{self.kind.value}:{self.subject}"

    @property
    def holds_literal(self) -> bool:
        """A written constant: kept in the store, never shown or exported."""
        return self.kind is FacetKind.WRITE_VALUE

    @classmethod
    def from_key(cls, key: str) -> Self:
        """Inverse of :attr:`key`. Raises ValueError on an unknown kind."""
        kind, sep, subject = key.partition(":")
        if not sep:
            raise ValueError(f"not a facet key: {key!r}")
        return cls(FacetKind(kind), subject)

    def __str__(self) -> str:
        return self.key
