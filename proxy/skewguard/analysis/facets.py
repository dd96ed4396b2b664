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

__all__ = ["Facet", "FacetKind", "ident", "qualified"]


class FacetKind(StrEnum):
    """What a facet says about its subject. Values are stored: never rename one."""

    RELATION_READ = "relation_read"  # public.users
    RELATION_WRITE = (
        "relation_write"  # public.users (INSERT/UPDATE/DELETE/MERGE/TRUNCATE/COPY FROM)
    )
    VIEW_READ = "view_read"  # public.active_users (also recorded as relation_read)
    COLUMN_READ = "column_read"  # public.users.email
    COLUMN_WRITE = "column_write"  # public.users.email
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
    SEQUENCE = "sequence"  # public.users_id_seq: nextval/currval/setval, or via a default
    ENUM_LABEL_WRITE = "enum_label_write"  # public.mood:happy
    ENUM_LABEL_READ = "enum_label_read"  # public.mood:happy (compared against, or cast)
    SEARCH_PATH = "search_path"  # app,public (or "default" for RESET/SET ... DEFAULT)
    MISSING_RELATION = "missing_relation"  # public.new_table
    MISSING_COLUMN = "missing_column"  # public.users.new_column
    MISSING_FUNCTION = "missing_function"  # public.new_fn(integer) (call-site types)
    MISSING_ENUM_LABEL = "missing_enum_label"  # public.mood:new_label
    PREPARED_RESULT = "prepared_result"  # public.users.email or public.users.*: see below
    ROLE = "role"  # app_rw: a role the version runs as (recorded by the shell, not analyze)


# PREPARED_RESULT: a table/view column a named prepared statement returns as a bare
# reference (also through subqueries, CTEs and set operations), or ``schema.table.*``
# for a star over it. Any change of such a column's type/typmod/collation, or of the
# starred relation's column list, fails the next EXECUTE with 0A000 ("cached plan
# must not change result type"). Computed by skewguard.analysis.result_facets; record
# it only for statements that are really prepared (named Parse, SQL PREPARE).


@dataclass(frozen=True, slots=True, order=True)
class Facet:
    """One dependency of a query: a kind and a canonical subject string."""

    kind: FacetKind
    subject: str

    @property
    def key(self) -> str:
        """The storage form, ``kind:subject``."""
        return f"{self.kind.value}:{self.subject}"

    @classmethod
    def from_key(cls, key: str) -> Self:
        """Inverse of :attr:`key`. Raises ValueError on an unknown kind."""
        kind, sep, subject = key.partition(":")
        if not sep:
            raise ValueError(f"not a facet key: {key!r}")
        return cls(FacetKind(kind), subject)

    def __str__(self) -> str:
        return self.key
