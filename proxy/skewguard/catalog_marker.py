"""Whether a database's catalog changed since a snapshot of it was read, cheaply.

PostgreSQL keeps no counter of schema changes that a client can read, but every
committed change leaves a trace a plain query can see: a new row version
carries the writing transaction's id (``xmin``), a deleted row lowers its
catalog's row count. A :class:`CatalogMarker` is taken in the same (repeatable
read) transaction as the snapshot: the transaction snapshot's horizon and the
row count of every catalog the snapshot is built from.

The check is one statement on the side connection and stops at the first of:

1. *quiet*: no transaction ended since the marker (``pg_current_snapshot()``
   has the same ``xmax`` and every transaction then in progress still is):
   nothing can have been committed. A few microseconds on the server.
2. *untouched*: some transactions ended, but no catalog row is newer than the
   marker (``xmin`` at or past its ``xmax``, or one of its in-progress
   transactions) and no catalog lost a row. One scan of each catalog: about
   a millisecond per 1,000 relations.

Either way the catalog is as read and the marker moves forward; else it must be
read again. Changes that rewrite no row are not seen: ``reltuples``/``relpages``
(updated in place by VACUUM and ANALYZE, only used by the lock lints) and a
renamed role (owner and ACL texts come from the shared ``pg_authid``, which
only a superuser can read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncpg

#: Every catalog a snapshot (skewguard.catalog.load_catalog) reads.
CATALOGS = (
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_constraint",
    "pg_index",
    "pg_proc",
    "pg_type",
    "pg_enum",
    "pg_depend",
    "pg_rewrite",
    "pg_policy",
    "pg_inherits",
    "pg_trigger",
    "pg_extension",
    "pg_collation",
)

_XID_SPACE = 1 << 32  # xmin is the low 32 bits of a transaction's xid8


@dataclass(frozen=True, slots=True)
class CatalogMarker:
    """The horizon of the snapshot a catalog was read in, and its catalogs' row counts."""

    xmax: int  # pg_snapshot_xmax: every transaction from here on was invisible
    xip: frozenset[int]  # in progress then (invisible too)
    counts: tuple[int, ...]  # rows per catalog, in CATALOGS order


def _snapshot_columns() -> str:
    return (
        "pg_catalog.pg_snapshot_xmax(s.snap)::text AS xmax,"
        " ARRAY(SELECT x::text FROM pg_catalog.pg_snapshot_xip(s.snap) AS x) AS xip"
    )


#: Run inside the snapshot's transaction: its horizon and the catalogs' row counts.
MARK_SQL = f"""
SELECT {_snapshot_columns()},
       ARRAY[{", ".join(f"(SELECT count(*) FROM pg_catalog.{c})" for c in CATALOGS)}] AS counts
FROM (SELECT pg_catalog.pg_current_snapshot() AS snap) s
"""

# $1 the marker's xmax (xid8 text), $2 its in-progress xids (xid8 texts), $3 and $4
# the same as 32-bit xids (what xmin holds). A row is new when its xmin is at or
# past the marker's xmax (age() compares in the circular xid space) or was in
# progress then. The CASE skips the scans when no transaction has ended.
_NEW_ROW = "pg_catalog.age(xmin) <= p.age OR xmin = ANY (p.xip)"
CHECK_SQL = f"""
WITH s AS (SELECT pg_catalog.pg_current_snapshot() AS snap),
     now AS (SELECT {_snapshot_columns()} FROM s),
     p AS (SELECT pg_catalog.age($3::text::xid) AS age, $4::text[]::xid[] AS xip)
SELECT now.xmax, now.xip,
       CASE WHEN now.xmax = $1 AND $2::text[] <@ now.xip THEN NULL ELSE ARRAY[{
    ", ".join(
        f"(SELECT count(*)::text || ':' || (count(*) FILTER (WHERE {_NEW_ROW}))::text"
        f" FROM pg_catalog.{c}, p)"
        for c in CATALOGS
    )
}] END AS stats
FROM now
"""


def _xids(values: Sequence[Any]) -> frozenset[int]:
    return frozenset(int(v) for v in values)


def marker_from(row: Any) -> CatalogMarker:
    """The marker from MARK_SQL's row."""
    return CatalogMarker(int(row["xmax"]), _xids(row["xip"]), tuple(int(c) for c in row["counts"]))


def check_args(marker: CatalogMarker) -> tuple[str, list[str], str, list[str]]:
    """CHECK_SQL's parameters for ``marker``."""
    xip = sorted(marker.xip)
    return (
        str(marker.xmax),
        [str(x) for x in xip],
        str(marker.xmax % _XID_SPACE),
        [str(x % _XID_SPACE) for x in xip],
    )


def advanced(marker: CatalogMarker, row: Any) -> CatalogMarker | None:
    """The marker moved to now when CHECK_SQL's row shows no change, else None."""
    now = CatalogMarker(int(row["xmax"]), _xids(row["xip"]), marker.counts)
    stats = row["stats"]
    if stats is None:  # quiet: no transaction ended
        return now
    for before, stat in zip(marker.counts, stats, strict=True):
        count, _, new = str(stat).partition(":")
        if int(count) != before or int(new) != 0:
            return None
    return now


async def read_marker(conn: asyncpg.Connection) -> CatalogMarker:
    """The marker of the transaction open on ``conn`` (repeatable read)."""
    return marker_from(await conn.fetchrow(MARK_SQL))


async def unchanged_since(conn: asyncpg.Connection, marker: CatalogMarker) -> CatalogMarker | None:
    """The advanced marker when nothing a snapshot reads changed since ``marker``, else None."""
    return advanced(marker, await conn.fetchrow(CHECK_SQL, *check_args(marker)))
