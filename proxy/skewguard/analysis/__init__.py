"""Pure analysis: SQL text -> the facets it uses, resolved against a catalog snapshot.

No I/O here. :func:`analyze` never raises for bad input: a text that does not
parse comes back with ``error`` set and no facets, and is forwarded as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pglast import parse_sql, parser

from skewguard.analysis.classify import is_ddl, is_replication_command, looks_like_ddl
from skewguard.analysis.extract import Extractor
from skewguard.analysis.facets import Facet, FacetKind
from skewguard.catalog import CatalogSnapshot

__all__ = ["Analysis", "Facet", "FacetKind", "analyze", "fingerprint"]


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
) -> Analysis:
    """Parse ``sql`` (one or more statements) and collect the facets it uses.

    ``search_path`` is the session's at the time of the query (``$user`` is
    replaced by ``user`` when given, else skipped); a ``SET search_path`` in the
    text applies to the statements after it.
    """
    try:
        raw = parse_sql(sql)
    except RecursionError:
        return Analysis(error="too-deep")
    except Exception:
        error = "replication-command" if is_replication_command(sql) else "syntax"
        return Analysis(error=error, has_ddl=looks_like_ddl(sql))
    if not raw:
        return Analysis(error="empty")
    stmts = [r.stmt for r in raw]
    kinds = tuple(type(s).__name__ for s in stmts)
    has_ddl = any(is_ddl(s) for s in stmts)
    fp = fingerprint(sql)
    extractor = Extractor(catalog, search_path, user)
    try:
        for stmt in stmts:
            extractor.statement(stmt)
    except RecursionError:
        return Analysis(error="too-deep", has_ddl=has_ddl, fingerprint=fp, statements=kinds)
    except Exception as exc:  # a bug here must not break the caller's traffic
        return Analysis(
            error="internal",
            detail=f"{type(exc).__name__}: {exc}",
            has_ddl=has_ddl,
            fingerprint=fp,
            statements=kinds,
        )
    return Analysis(
        facets=frozenset(extractor.facets),
        has_ddl=has_ddl,
        fingerprint=fp,
        statements=kinds,
        search_path=extractor.search_path_set,
        search_path_reset=extractor.search_path_reset,
    )
