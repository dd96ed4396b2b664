"""Whether a database's catalog changed since a snapshot of it was read, and where.

PostgreSQL keeps no counter of schema changes that a client can read, but every
committed change leaves a trace a plain query can see: a new row version
carries the writing transaction's id (``xmin``), a deleted row lowers its
catalog's row count. A :class:`CatalogMarker` is taken with the snapshot (in
its repeatable-read transaction, or before the statements of a refresh): the
statement snapshot's horizon and the row count of every catalog the snapshot is
built from.

Asking "still current?" is one statement (:func:`stats_sql`), whose answer is,
in order:

1. *quiet*: no transaction ended since the marker (``pg_current_snapshot()``
   has the same ``xmax`` and every transaction then in progress still is):
   nothing can have been committed, and no catalog is scanned. Microseconds.
2. *untouched*: some transactions ended; per catalog, the
   rows now, the rows possibly newer than the marker (``xmin`` at or past the
   marker snapshot's ``xmin``: a transaction in progress then or later, or one
   of its subtransactions, whose ids the snapshot does not list) and the
   relations those rows belong to. No new row and no lost row: unchanged. One scan of each
   catalog, about a millisecond per 1,000 relations.

Only the rows of objects created after initdb are counted (object ids from
``FirstNormalObjectId`` on): those are the ones a user can create, alter or drop
in the schemas a snapshot lists. While a catalog holds few of them, they are
read through its object-id index instead of a scan of every built-in row too
(on a small schema the built-in rows are most of the work).

Changes that rewrite no catalog row are not seen: ``reltuples``/``relpages``
(updated in place by VACUUM and ANALYZE, only used by the lock lints) and a
renamed role (owner and ACL texts come from the shared ``pg_authid``, which
only a superuser can read).
"""

from __future__ import annotations

import functools
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Source:
    """One catalog a snapshot reads: its rows (``where``), and which relations a row is of."""

    name: str
    table: str
    where: str = "true"
    keys: tuple[str, ...] = ()  # columns holding the oid of the relation a row belongs to
    #: the indexed column holding the oid of the object a row is of: only rows of
    #: objects created after initdb count (None: every row, the catalog is tiny or
    #: its built-in rows can change: the public schema, an extension)
    created: str | None = None


#: Every catalog a snapshot (skewguard.catalog) reads. Types: only those that are
#: not a relation's row type nor an array (those change with their relation or element).
#: Dependencies: only those on functions, collations and extensions (DEPENDENCIES_SQL),
#: on operators (whether one is held: OPERATORS_SQL) and on publications (the tables and
#: schemas a publication names: PUBLICATIONS_SQL).
SOURCES = (
    Source(  # the schemas a snapshot lists: temporary ones come and go with sessions
        "namespace",
        "pg_namespace",
        "nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        " AND nspname !~ '^pg_(toast_)?temp_'",
    ),
    Source("class", "pg_class", keys=("oid",), created="oid"),
    Source("attribute", "pg_attribute", keys=("attrelid",), created="attrelid"),
    Source("attrdef", "pg_attrdef", keys=("adrelid",), created="oid"),
    Source("constraint", "pg_constraint", keys=("conrelid", "confrelid"), created="oid"),
    Source("index", "pg_index", keys=("indrelid",), created="indexrelid"),
    Source("proc", "pg_proc", created="oid"),
    Source("type", "pg_type", "typrelid = 0 AND typcategory <> 'A'", created="oid"),
    Source("enum", "pg_enum", created="oid"),
    Source("operator", "pg_operator", created="oid"),
    Source(
        "depend",
        "pg_depend",
        "refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_collation'::regclass,"
        " 'pg_catalog.pg_extension'::regclass, 'pg_catalog.pg_operator'::regclass,"
        " 'pg_catalog.pg_publication'::regclass)",
    ),
    Source("rewrite", "pg_rewrite", keys=("ev_class",), created="oid"),
    Source("policy", "pg_policy", keys=("polrelid",), created="oid"),
    Source("inherits", "pg_inherits", keys=("inhrelid", "inhparent"), created="inhrelid"),
    Source("trigger", "pg_trigger", keys=("tgrelid",), created="oid"),
    Source("extension", "pg_extension"),
    Source("collation", "pg_collation"),
    Source("auth_members", "pg_auth_members"),
    Source("publication", "pg_publication"),  # a few rows  # shared by every database; a few rows
)

_XID_SPACE = 1 << 32  # xmin is the low 32 bits of a transaction's xid8


@dataclass(frozen=True, slots=True)
class CatalogMarker:
    """The horizon of the snapshot a catalog was read in, and its catalogs' row counts."""

    xmin: int  # pg_snapshot_xmin: every transaction before it had ended
    xmax: int  # pg_snapshot_xmax: every transaction from here on was invisible
    xip: frozenset[int]  # in progress then (invisible too)
    counts: tuple[int, ...]  # rows per source, in SOURCES order


@dataclass(frozen=True, slots=True)
class SourceStats:
    """One source now: its rows, those newer than the marker, and their relations."""

    count: int
    new: int
    keys: frozenset[int]
    #: the objects (``Source.created``) of the rows newer than the marker
    made: frozenset[int] = frozenset()


# $1 the marker's xmin as a 32-bit xid (what xmin holds). age() compares in the
# circular xid space: a row may be new when its xmin is at or past the marker's
# xmin (a few rows committed just before the marker count too: that only costs
# reading their relations again).
_NEW_ROW = "pg_catalog.age(xmin) <= p.age"

_NO_KEYS = "'{}'::oid[]"

#: FirstNormalObjectId: every object created after initdb has an oid from here on.
_CREATED_FROM = 16384

#: A source with fewer counted rows than this is read through its object-id index;
#: with more, a scan of every row costs less than fetching each one through the index.
INDEXED_BELOW = 1000


def _counted(source: Source, indexed: bool) -> str:
    """The rows of ``source`` that count: those of objects created after initdb,
    through the index or (the cast keeps the planner off it) in a scan."""
    if source.created is None:
        return source.where
    column = source.created if indexed else f"{source.created}::pg_catalog.int8"
    return f"{column} >= {_CREATED_FROM} AND {source.where}"


def _stats_select(index: int, source: Source, indexed: bool) -> str:
    """One source's row of ``stats_sql``: whether a row is new is computed once per
    row (a projection fenced by OFFSET 0, not once per aggregate that filters on it).
    The new rows' objects are collected as they come and made distinct afterwards:
    ``array_agg(DISTINCT …)`` had PostgreSQL 16+ sort every row of the catalog for it
    (a presorted aggregate), new or not: 29 ms instead of 12 on 62,000 attributes."""
    columns = dict.fromkeys((*source.keys, *([source.created] if source.created else [])))

    def newly(column: str) -> str:
        return f"COALESCE(array_agg(r.{column}) FILTER (WHERE r.new), '{{}}')"

    def distinct(column: str) -> str:
        return f"ARRAY(SELECT DISTINCT o FROM pg_catalog.unnest(a.{column}) AS o)"

    keys = " || ".join(newly(k) for k in source.keys) or _NO_KEYS
    # the relation's own rows (class, attribute): the objects made are the keys
    some = source.created is not None and not _made_is_keys(source)
    made = newly(str(source.created)) if some else "NULL::oid[]"
    return (
        f"SELECT {index} AS source, a.count, a.new, {distinct('keys')} AS keys,"
        f" {distinct('made') if some else 'a.made'} AS made"
        " FROM (SELECT count(*) AS count, count(*) FILTER (WHERE r.new) AS new,"
        f" {keys} AS keys, {made} AS made"
        f" FROM (SELECT {''.join(f'{c}, ' for c in columns)}{_NEW_ROW} AS new"
        f" FROM pg_catalog.{source.table}, p WHERE {_counted(source, indexed)}"
        " AND NOT (SELECT quiet FROM q)"  # a one-time filter: no scan at all when quiet
        " OFFSET 0) r) a"
    )


def indexed_sources(counts: Sequence[int]) -> frozenset[str]:
    """The sources worth reading through their index, from a marker's row counts."""
    return frozenset(
        s.name for s, c in zip(SOURCES, counts, strict=True) if s.created and c < INDEXED_BELOW
    )


@functools.cache
def stats_sql(indexed: frozenset[str] = frozenset()) -> str:
    """Per source in SOURCES order: its counted rows now, those possibly newer than
    the marker and the relations they belong to; in every row, the statement
    snapshot's horizon (``horizon`` reads any of them) and whether no transaction
    ended since the marker (``quiet``: then nothing is scanned and the counts are
    meaningless). The marker and the statistics of one moment in one round trip.

    $1 the marker's xmin (``stats_args``), $2 its xmax, $3 its in-progress xids;
    ``indexed``: the sources read through their object-id index. It also sets the
    session's search_path to pg_catalog, so the catalog queries that follow on the
    connection name user types schema-qualified.
    """
    selects = "\nUNION ALL\n".join(
        _stats_select(i, s, s.name in indexed) for i, s in enumerate(SOURCES)
    )
    return f"""
WITH p AS (SELECT pg_catalog.age($1::text::xid) AS age,
                  pg_catalog.set_config('search_path', 'pg_catalog', false) AS path,
                  pg_catalog.pg_current_snapshot() AS snap),
h AS (SELECT ARRAY(SELECT x::text FROM pg_catalog.pg_snapshot_xip(p.snap) AS x) AS xip,
             pg_catalog.pg_snapshot_xmax(p.snap)::text AS xmax FROM p),
q AS (SELECT h.xmax = $2 AND $3::text[] <@ h.xip AS quiet FROM h),
s AS ({selects})
SELECT s.*, pg_catalog.pg_snapshot_xmin(p.snap)::text AS xmin, h.xmax, h.xip, q.quiet
FROM s, p, h, q ORDER BY 1
"""


def _xids(values: Iterable[Any]) -> frozenset[int]:
    return frozenset(int(v) for v in values)


def horizon(row: Any) -> tuple[int, int, frozenset[int]]:
    """(xmin, xmax, xip) from any of ``stats_sql``'s rows."""
    return int(row["xmin"]), int(row["xmax"]), _xids(row["xip"])


def stats_args(marker: CatalogMarker | None) -> tuple[str, str, list[str]]:
    """``stats_sql``'s parameters: rows possibly newer than ``marker``'s snapshot
    (every row without one), and its horizon for ``quiet`` (never without one)."""
    if marker is None:
        return ("0", "", [])  # age() of xid 0 (invalid) exceeds every row's
    return (
        str(marker.xmin % _XID_SPACE),
        str(marker.xmax),
        sorted(str(x) for x in marker.xip),
    )


def quiet(row: Any) -> bool:
    """From any of ``stats_sql``'s rows: no transaction ended since the marker (no
    transaction entered the horizon, and every one in progress then still is),
    so nothing can have been committed."""
    return bool(row["quiet"])


def parse_stats(rows: Sequence[Any]) -> tuple[SourceStats, ...]:
    """``stats_sql``'s rows, one per source in SOURCES order."""
    assert len(rows) == len(SOURCES)
    out = []
    for source, r in zip(SOURCES, rows, strict=True):
        keys = frozenset(int(k) for k in r["keys"])
        made = keys if _made_is_keys(source) else frozenset(int(k) for k in r["made"] or ())
        out.append(SourceStats(int(r["count"]), int(r["new"]), keys, made))
    return tuple(out)


def _made_is_keys(source: Source) -> bool:
    return source.created is not None and source.keys == (source.created,)


def none_lost(
    stats: SourceStats, before: int, known: Container[int], unproven: frozenset[int]
) -> bool:
    """Proof that no row of a source was deleted since the marker, from its objects
    that existed then (``known``, less those only read after it: ``unproven``).

    Every row inserted since is among the new rows' objects (``made``) and was not
    known then, so at most ``len(made - known)`` rows came in; the count grew by
    that much only if none went away. Fewer (an update of an object not known,
    say): no proof, so the objects are looked up one by one.
    """
    inserted = [o for o in stats.made if o not in known or o in unproven]
    return stats.count - before == len(inserted)


def untouched(marker: CatalogMarker, stats: Sequence[SourceStats]) -> bool:
    """No catalog has a row newer than the marker or fewer rows than then."""
    return all(s.new == 0 and s.count == c for s, c in zip(stats, marker.counts, strict=True))
