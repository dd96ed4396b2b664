"""Whether a database's catalog changed since a snapshot of it was read, and where.

PostgreSQL keeps no counter of schema changes that a client can read, but every
committed change leaves a trace a plain query can see: a new row version
carries the writing transaction's id (``xmin``), a deleted row lowers its
catalog's row count. A :class:`CatalogMarker` is taken in the same (repeatable
read) transaction as the snapshot: the transaction snapshot's horizon and the
row count of every catalog the snapshot is built from.

Asking "still current?" costs, in order:

1. *quiet* (:data:`SNAP_SQL`): no transaction ended since the marker
   (``pg_current_snapshot()`` has the same ``xmax`` and every transaction then
   in progress still is): nothing can have been committed. Microseconds.
2. *untouched* (:data:`STATS_SQL`): some transactions ended; per catalog, the
   rows now, the rows possibly newer than the marker (``xmin`` at or past the
   marker snapshot's ``xmin``: a transaction in progress then or later, or one
   of its subtransactions, whose ids the snapshot does not list) and the
   relations those rows belong to. No new row and no lost row: unchanged. One scan of each
   catalog, about a millisecond per 1,000 relations.

Changes that rewrite no catalog row are not seen: ``reltuples``/``relpages``
(updated in place by VACUUM and ANALYZE, only used by the lock lints) and a
renamed role (owner and ACL texts come from the shared ``pg_authid``, which
only a superuser can read).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Source:
    """One catalog a snapshot reads: its rows (``where``), and which relations a row is of."""

    name: str
    table: str
    where: str = "true"
    keys: tuple[str, ...] = ()  # columns holding the oid of the relation a row belongs to


#: Every catalog a snapshot (skewguard.catalog) reads. Types: only those that are
#: not a relation's row type nor an array (those change with their relation or element).
#: Dependencies: only those on functions, collations and extensions (DEPENDENCIES_SQL).
SOURCES = (
    Source(  # the schemas a snapshot lists: temporary ones come and go with sessions
        "namespace",
        "pg_namespace",
        "nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        " AND nspname !~ '^pg_(toast_)?temp_'",
    ),
    Source("class", "pg_class", keys=("oid",)),
    Source("attribute", "pg_attribute", keys=("attrelid",)),
    Source("attrdef", "pg_attrdef", keys=("adrelid",)),
    Source("constraint", "pg_constraint", keys=("conrelid", "confrelid")),
    Source("index", "pg_index", keys=("indrelid",)),
    Source("proc", "pg_proc"),
    Source("type", "pg_type", "typrelid = 0 AND typcategory <> 'A'"),
    Source("enum", "pg_enum"),
    Source(
        "depend",
        "pg_depend",
        "refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_collation'::regclass,"
        " 'pg_catalog.pg_extension'::regclass)",
    ),
    Source("rewrite", "pg_rewrite", keys=("ev_class",)),
    Source("policy", "pg_policy", keys=("polrelid",)),
    Source("inherits", "pg_inherits", keys=("inhrelid", "inhparent")),
    Source("trigger", "pg_trigger", keys=("tgrelid",)),
    Source("extension", "pg_extension"),
    Source("collation", "pg_collation"),
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


#: The transaction snapshot's horizon (run inside the snapshot's transaction).
SNAP_SQL = """
SELECT pg_catalog.pg_snapshot_xmin(s.snap)::text AS xmin,
       pg_catalog.pg_snapshot_xmax(s.snap)::text AS xmax,
       ARRAY(SELECT x::text FROM pg_catalog.pg_snapshot_xip(s.snap) AS x) AS xip
FROM (SELECT pg_catalog.pg_current_snapshot() AS snap) s
"""

# $1 the marker's xmin as a 32-bit xid (what xmin holds). age() compares in the
# circular xid space: a row may be new when its xmin is at or past the marker's
# xmin (a few rows committed just before the marker count too: that only costs
# reading their relations again).
_NEW_ROW = "pg_catalog.age(xmin) <= p.age"


_NO_KEYS = "'{}'::oid[]"


def _stats_select(index: int, source: Source) -> str:
    keys = " || ".join(
        f"COALESCE(array_agg(DISTINCT {k}) FILTER (WHERE {_NEW_ROW}), '{{}}')" for k in source.keys
    )
    return (
        f"SELECT {index} AS source, count(*) AS count,"
        f" count(*) FILTER (WHERE {_NEW_ROW}) AS new,"
        f" {keys or _NO_KEYS} AS keys"
        f" FROM pg_catalog.{source.table}, p WHERE {source.where}"
    )


_STATS = "\nUNION ALL\n".join(_stats_select(i, s) for i, s in enumerate(SOURCES))
STATS_SQL = f"WITH p AS (SELECT pg_catalog.age($1::text::xid) AS age)\n{_STATS}\nORDER BY 1"

#: STATS_SQL with the transaction snapshot's horizon in every row (``horizon``
#: reads any of them), as the first statement of a repeatable-read transaction:
#: the marker and the statistics of one moment in one round trip. It also sets the
#: transaction's search_path to pg_catalog, so the catalog queries that follow in
#: it name user types schema-qualified whatever the connection's own path is.
MARKED_STATS_SQL = f"""
WITH p AS (SELECT pg_catalog.age($1::text::xid) AS age,
                  pg_catalog.set_config('search_path', 'pg_catalog', true) AS path,
                  pg_catalog.pg_current_snapshot() AS snap),
s AS ({_STATS})
SELECT s.*, pg_catalog.pg_snapshot_xmin(p.snap)::text AS xmin,
       pg_catalog.pg_snapshot_xmax(p.snap)::text AS xmax,
       ARRAY(SELECT x::text FROM pg_catalog.pg_snapshot_xip(p.snap) AS x) AS xip
FROM s, p ORDER BY 1
"""


def _xids(values: Iterable[Any]) -> frozenset[int]:
    return frozenset(int(v) for v in values)


def horizon(row: Any) -> tuple[int, int, frozenset[int]]:
    """(xmin, xmax, xip) from SNAP_SQL's row."""
    return int(row["xmin"]), int(row["xmax"]), _xids(row["xip"])


def quiet(marker: CatalogMarker, xmax: int, xip: frozenset[int]) -> bool:
    """No transaction ended since ``marker``: nothing can have been committed."""
    return xmax == marker.xmax and marker.xip <= xip


def stats_args(xmin: int) -> tuple[str]:
    """STATS_SQL's parameter for rows possibly newer than a snapshot with this xmin."""
    return (str(xmin % _XID_SPACE),)


def parse_stats(rows: Sequence[Any]) -> tuple[SourceStats, ...]:
    """STATS_SQL's rows, one per source in SOURCES order."""
    assert len(rows) == len(SOURCES)
    return tuple(
        SourceStats(int(r["count"]), int(r["new"]), frozenset(int(k) for k in r["keys"]))
        for r in rows
    )


def untouched(marker: CatalogMarker, stats: Sequence[SourceStats]) -> bool:
    """No catalog has a row newer than the marker or fewer rows than then."""
    return all(s.new == 0 and s.count == c for s, c in zip(stats, marker.counts, strict=True))
