"""Pure analysis: SQL text -> the facets it uses, resolved against a catalog snapshot.

No I/O here. :func:`analyze` never raises for bad input: a text that does not
parse comes back with ``error`` set and no facets, and is forwarded as usual.
:func:`result_facets` gives the ``prepared_result`` facets of a statement the
caller knows to be prepared (it never raises either).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pglast import ast, parser

from skewguard.analysis.classify import is_ddl, is_replication_command, looks_like_ddl
from skewguard.analysis.extract import Extractor
from skewguard.analysis.facets import Facet, FacetKind
from skewguard.analysis.values import Written
from skewguard.catalog import CatalogSnapshot
from skewguard.quoting import with_escape_strings
from skewguard.sql_parse import parse_statements
from skewguard.temporary import Shape

__all__ = ["Analysis", "Facet", "FacetKind", "analyze", "fingerprint", "result_facets"]


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one text uses, and how the caller should route it."""

    facets: frozenset[Facet] = frozenset()
    has_ddl: bool = False  # route to the DDL engine (a guess by keyword when error is set)
    error: str | None = None  # "empty", "syntax", "replication-command", "too-deep", "internal"
    detail: str | None = None  # for "internal": the exception, for a bug report
    fingerprint: str | None = None  # pglast fingerprint (a secondary cache key)
    statements: tuple[str, ...] = ()  # parse node names, e.g. ("SelectStmt", "VariableSetStmt")
    search_path: tuple[str, ...] | None = None  # the last SET search_path value in the text
    search_path_reset: bool = False  # the text RESETs search_path (or SETs it to DEFAULT)
    values: tuple[Written, ...] = ()  # constants written, apart from facets: see values.py

    def of_kind(self, kind: FacetKind) -> frozenset[str]:
        """The subjects of every facet of ``kind``."""
        return frozenset(f.subject for f in self.facets if f.kind is kind)


def fingerprint(sql: str) -> str | None:
    """pglast's fingerprint of ``sql`` (same for texts differing only in constants)."""
    try:
        return str(parser.fingerprint(sql))
    except Exception:
        return None


def analyze(
    sql: str,
    *,
    search_path: Sequence[str] = ("public",),
    catalog: CatalogSnapshot,
    user: str | None = None,
    temporary: frozenset[str] = frozenset(),
    temporary_like: Iterable[Shape] = (),
) -> Analysis:
    """Parse ``sql`` (one or more statements) and collect the facets it uses.

    ``search_path`` is the session's at the time of the query (``$user`` is
    replaced by ``user`` when given, else skipped); a ``SET search_path`` in the
    text applies to the statements after it. ``temporary``: the session's
    temporary relations (skewguard.temporary), whose uses are not the schema's;
    ``temporary_like``: those of them made LIKE another relation (a COPY into one is
    learned against that relation's shape).

    A text with a backslash may read otherwise in a session with
    ``standard_conforming_strings`` off (skewguard.quoting), which the proxy does
    not follow per session: it is read both ways and uses what either reading uses.
    """
    like = tuple(temporary_like)
    standard = _analyze(sql, search_path, catalog, user, temporary, like)
    other = with_escape_strings(sql) if "\\" in sql else None
    if other is None or other == sql:
        return standard
    escaped = _analyze(other, search_path, catalog, user, temporary, like)
    if escaped.error is not None:
        return standard
    if standard.error is not None:
        return escaped
    return replace(
        standard,
        facets=standard.facets | escaped.facets,
        has_ddl=standard.has_ddl or escaped.has_ddl,
    )


def _analyze(
    sql: str,
    search_path: Sequence[str],
    catalog: CatalogSnapshot,
    user: str | None,
    temporary: frozenset[str],
    temporary_like: tuple[Shape, ...] = (),
) -> Analysis:
    try:
        raw = parse_statements(sql)
    except RecursionError:
        return Analysis(error="too-deep")
    except Exception:
        error = "replication-command" if is_replication_command(sql) else "syntax"
        return Analysis(error=error, has_ddl=looks_like_ddl(sql))
    extractor = Extractor(catalog, search_path, user, temporary, temporary_like)
    kinds: list[str] = []
    has_ddl = False
    failed: Analysis | None = None
    for r in raw:  # one statement's tree at a time (sql_parse.parse_statements)
        stmt = r.stmt
        kinds.append(type(stmt).__name__)
        has_ddl = has_ddl or is_ddl(stmt)
        if failed is not None:
            continue
        try:
            extractor.statement(stmt)
        except RecursionError:
            failed = Analysis(error="too-deep")
        except Exception as exc:  # a bug here must not break the caller's traffic
            failed = Analysis(error="internal", detail=f"{type(exc).__name__}: {exc}")
    if not kinds:
        return Analysis(error="empty")
    fp = fingerprint(sql)
    if failed is not None:
        return replace(failed, has_ddl=has_ddl, fingerprint=fp, statements=tuple(kinds))
    return Analysis(
        facets=frozenset(extractor.facets),
        has_ddl=has_ddl,
        fingerprint=fp,
        statements=tuple(kinds),
        search_path=extractor.search_path_set,
        search_path_reset=extractor.search_path_reset,
        values=tuple(extractor.values),
    )


def result_facets(
    sql: str,
    *,
    search_path: Sequence[str] = ("public",),
    catalog: CatalogSnapshot,
    user: str | None = None,
    prepared_only: bool = False,
    temporary: frozenset[str] = frozenset(),
) -> frozenset[Facet]:
    """The ``prepared_result`` (and ``prepared_param``) facets of the statement(s) in ``sql``.

    For a named prepared statement PostgreSQL checks, at every EXECUTE after an
    invalidation, that the re-analyzed statement returns the same row type
    (else 0A000 "cached plan must not change result type"). This gives what that
    row type depends on:

    - ``schema.table.column`` for each output column that is a bare column
      reference (``email``, ``u.email``, ``x AS y``), also through subqueries in
      FROM, CTEs and a scalar ``(SELECT col ...)``; a side of UNION / INTERSECT /
      EXCEPT whose other side is a constant (any change of it counts);
    - ``schema.table.*`` for each ``*`` / ``t.*`` (also through derived tables
      and CTEs) over a table or view: any column added, dropped, renamed or
      retyped changes the row type.

    - ``schema.f(argtypes)`` for each output that is a bare call of a user
      function (``score($1)``): redefining it with another result type changes
      the row type.

    ``prepared_param`` facets name the enum types its parameters take (cast, declared,
    compared with or stored into an enum column): they are held by oid too.

    Columns used only in WHERE / JOIN / GROUP BY / ORDER BY are not part of the
    result. An expression whose type follows its columns' (``sum(v)``,
    ``coalesce(v, 0)``, ``v + 1``, ``a + b``, ``coalesce(a, b, 0.5)``, CASE, NULLIF)
    gives a ``prepared_derived`` facet instead, one per column it names,
    ``schema.table.column|class,...`` or ``schema.table.column|=tree`` (see
    analysis.derived); so does an output of UNION / INTERSECT / EXCEPT whose sides are
    columns or such expressions (their common type). Other computed expressions
    (``lower(email)``, ``email::text``, ``count(*)``) are not recorded: their type is
    the function's or cast's. Nor are
    whole-row references (``SELECT u FROM users u``): the row type keeps its OID.
    A view's columns are the view's subjects (``public.v.email``, ``public.v.*``):
    PostgreSQL refuses to retype a base column a view uses, and a view's own
    column list is fixed when it is created. Only relations in ``catalog`` count
    (no system catalogs, nothing the text creates, no missing relations).

    Statements: SELECT (not SELECT INTO), VALUES, INSERT / UPDATE / DELETE /
    MERGE ... RETURNING, and ``PREPARE name AS <statement>`` (its statement).
    With ``prepared_only`` only PREPARE statements count: for a simple-protocol
    text, where nothing else is kept prepared. ``search_path`` and ``user`` are
    as for :func:`analyze` (a ``SET search_path`` in the text applies to the
    statements after it), and ``temporary``. A text that does not parse gives no facets.
    """
    try:
        raw = parse_statements(sql)
    except Exception:
        return frozenset()
    extractor = Extractor(catalog, search_path, user, temporary)
    subjects: set[str] = set()
    params: set[str] = set()
    try:
        for r in raw or ():
            stmt = r.stmt
            extractor.param_types = set()
            out = extractor.statement(stmt)  # always: it carries search_path forward
            if prepared_only and not isinstance(stmt, ast.PrepareStmt):
                continue
            params |= extractor.param_types
            if _returns_rows(stmt):
                subjects |= out.lineage.result
    except Exception:  # RecursionError, or a bug: no facets, never a failure
        return frozenset()
    return frozenset(
        {Facet(FacetKind.PREPARED_RESULT, s) for s in subjects if "|" not in s}
        | {Facet(FacetKind.PREPARED_DERIVED, s) for s in subjects if "|" in s}
        | {Facet(FacetKind.PREPARED_PARAM, s) for s in params}
    )


def _returns_rows(stmt: Any) -> bool:
    if isinstance(stmt, ast.PrepareStmt):
        return _returns_rows(stmt.query)
    if isinstance(stmt, ast.SelectStmt):
        return stmt.intoClause is None
    return isinstance(stmt, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt)
