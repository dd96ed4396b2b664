"""Keeping one database's catalog snapshot current: read it whole once, then what changed.

:func:`load` reads everything (``skewguard.catalog``'s queries) with a
:class:`~skewguard.catalog_marker.CatalogMarker` and a :class:`Book` of object
ids. :func:`refresh` then costs one statement while nothing was committed,
one scan of the catalogs while nothing in them changed, and otherwise reads
again only the relations that changed and those whose snapshot entry names
them: views reading them, inheritance children (when the parent's name moved),
tables with a foreign key to them or a default taking a sequence of theirs, an
identity's table. Schemas, functions, enums, operators, publications, role memberships and the
dependencies on functions, collations and extensions are read whole when their
catalog changed (schemas and functions: only grew); a schema, function or type
that was renamed, altered or dropped, an extension, a collation or a composite
type changed: everything is read again (their names
are inside other relations' entries). A whole read runs in one repeatable-read
transaction; a refresh's statements do not (one round trip each, no BEGIN or
COMMIT): each reads a moment at or after its statistics, whose marker it
keeps, so whatever changed in between is found again by the next refresh.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from skewguard import catalog as cat
from skewguard.catalog import (
    CONSTRAINT_KEY,
    CONSTRAINT_TABLE,
    INDEX_KEY,
    RELATION_KEY,
    CatalogSnapshot,
    Patch,
    build_catalog,
)
from skewguard.catalog_marker import (
    SOURCES,
    CatalogMarker,
    SourceStats,
    horizon,
    indexed_sources,
    none_lost,
    parse_stats,
    quiet,
    stats_args,
    stats_sql,
    untouched,
)
from skewguard.offload import sized

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")

#: Objects inside relations whose disappearance leaves no row behind, by the
#: source whose row count drops, and the catalog to look them up in.
_OWNED = (("constraint", "pg_constraint k", "k.oid"), ("index", "pg_index i", "i.indexrelid"),
          ("policy", "pg_policy po", "po.oid"), ("rewrite", "pg_rewrite w", "w.oid"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Book:
    """The oids behind a snapshot's names: each relation's, and which relation owns what."""

    rels: dict[int, tuple[str, str]]  # relation oid -> (schema, name)
    owners: dict[str, dict[int, int]]  # _OWNED source -> object oid -> relation oid
    #: per source ("class" and _OWNED's), the objects read after the marker that
    #: may not have existed at it (a refresh's reads follow its statistics)
    unproven: dict[str, frozenset[int]] = field(default_factory=dict)

    def known(self, source: str) -> dict[int, Any]:
        """The objects of ``source`` the book holds (keys)."""
        return self.rels if source == "class" else self.owners[source]


@dataclass(frozen=True, slots=True)
class Current:
    """A snapshot, the marker it was current at, and its book."""

    snapshot: CatalogSnapshot
    marker: CatalogMarker
    book: Book
    #: relations, constraints and indexes in the order of their keys (``_KEYS``), as
    #: a patch leaves them; a whole read has them in the database collation's order
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """What a refresh reads, from the catalogs' statistics since the marker."""

    full: bool  # read everything
    reread: frozenset[str]  # "schemas", "functions", "enums", "types", "operators"...
    changed: frozenset[int]  # oids of relations (or their indexes) with new rows
    lost: frozenset[str]  # sources (and "class") that may have lost rows


def plan_refresh(marker: CatalogMarker, stats: Sequence[SourceStats]) -> Plan:
    """Pure: decide from per-source statistics (see the module docstring)."""
    by_name = {
        s.name: (st, before) for s, st, before in zip(SOURCES, stats, marker.counts, strict=True)
    }

    def changed(name: str) -> bool:
        st, before = by_name[name]
        return st.new > 0 or st.count != before

    def grew_only(name: str) -> bool:  # every new row is an insert and none went away
        st, before = by_name[name]
        return st.new == st.count - before

    full = any(changed(n) for n in ("extension", "collation")) or any(
        changed(n) and not grew_only(n) for n in ("namespace", "proc", "type")
    )
    reread = {
        part
        for part, names in (
            ("schemas", ("namespace",)),
            ("functions", ("proc",)),
            ("enums", ("type", "enum")),
            ("types", ("type",)),
            ("dependencies", ("depend",)),
            ("memberships", ("auth_members",)),
            ("superusers", ("auth_members",)),
            ("operators", ("operator", "depend")),
            ("publications", ("publication", "depend", "class")),  # names a rename moves
        )
        if any(changed(n) for n in names)
    }
    keys = frozenset(
        k for s, st in zip(SOURCES, stats, strict=True) if s.keys for k in st.keys if k != 0
    )  # 0: no relation (a constraint that is not a foreign key has confrelid 0)
    lost = frozenset(n for n in ("class", *(o[0] for o in _OWNED)) if changed(n))
    return Plan(full, frozenset(reread), keys, lost)


def _anti(table: str, column: str, first: int) -> str:
    return (
        f"SELECT s.owner AS oid FROM unnest(${first}::oid[], ${first + 1}::oid[]) AS s(oid, owner)"
        f" WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.{table} WHERE {column} = s.oid)"
    )


def _referencing(catalog: str) -> str:
    """SQL: ``(relation, objid)`` of the ``catalog`` objects that depend on a relation
    in ``base``, through pg_depend's index on what is referenced (OFFSET 0 keeps the
    planner on it: with the depender's index, the scan grows with the catalog)."""
    return f"""SELECT b.oid AS relation, d.objid FROM base b
    CROSS JOIN LATERAL (
        SELECT d.objid FROM pg_catalog.pg_depend d
        WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = b.oid
          AND d.classid = 'pg_catalog.{catalog}'::regclass
        OFFSET 0) d"""


_BOOK = 2 + 2 * len(_OWNED)  # the parameter after the _OWNED pairs

# $1 relations (or their indexes) with new rows; $2.. pairs (object oids, owner
# oids) per _OWNED source; then the book's relations, and the book's (oid, schema,
# name) of the relations in $1. Returns the relations to read again (with what
# names them), and those that are gone. Every edge is followed through an index;
# tables with a foreign key to a relation are found through pg_depend (a foreign
# key depends on each column it references), as pg_constraint has no index on
# confrelid. An inheritance child names its parents only, so it is read again
# when a parent's name moved, not at every change of the parent (a new child
# changes its parent's rows: 1,000 children made one by one read ~500,000).
EXPAND_SQL = f"""
WITH raw AS (SELECT DISTINCT r.oid FROM unnest($1::oid[]) AS r(oid) WHERE r.oid <> 0),
gone AS ({" UNION ".join(_anti(t, c, 2 + 2 * i) for i, (_, t, c) in enumerate(_OWNED))}),
base AS (
    SELECT COALESCE(i.indrelid, r.oid) AS oid
    FROM (SELECT oid FROM raw UNION SELECT oid FROM gone) r
    LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = r.oid
),
touched AS (
    SELECT oid FROM base
    UNION
    SELECT w.ev_class FROM ({_referencing("pg_rewrite")}) r
    JOIN pg_catalog.pg_rewrite w ON w.oid = r.objid
    UNION
    SELECT h.inhrelid FROM pg_catalog.pg_inherits h
    JOIN pg_catalog.pg_class p ON p.oid = h.inhparent
    JOIN pg_catalog.pg_namespace n ON n.oid = p.relnamespace
    LEFT JOIN unnest(${_BOOK + 1}::oid[], ${_BOOK + 2}::text[], ${_BOOK + 3}::text[])
        AS k(oid, schema, name) ON k.oid = p.oid
    WHERE h.inhparent IN (SELECT oid FROM base)
      AND (k.oid IS NULL OR (k.schema, k.name) <> (n.nspname::text, p.relname::text))
    UNION
    SELECT k.conrelid FROM ({_referencing("pg_constraint")}) r
    JOIN pg_catalog.pg_constraint k ON k.oid = r.objid
    WHERE k.confrelid = r.relation AND k.conrelid <> 0
    UNION
    SELECT ad.adrelid FROM ({_referencing("pg_attrdef")}) r
    JOIN pg_catalog.pg_attrdef ad ON ad.oid = r.objid
    UNION
    SELECT d.refobjid FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid IN (SELECT oid FROM base)
      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'i'
)
SELECT ARRAY(SELECT oid FROM touched WHERE oid IS NOT NULL) AS touched,
       ARRAY(SELECT r.oid FROM unnest(${_BOOK}::oid[]) AS r(oid)
             WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = r.oid))
           AS dropped,
       EXISTS (SELECT 1 FROM pg_catalog.pg_class c
               WHERE c.oid IN (SELECT oid FROM raw) AND c.relkind = 'c') AS composite
"""

_FILTERED = {  # the relation-keyed queries, and the oid each row belongs to
    "columns": "c.oid",
    "relations": "c.oid",
    "constraints": "k.conrelid",
    "indexes": "i.indrelid",
    "view_deps": "v.oid",
    "policies": "c.oid",
    "inherits": "c.oid",
    "rules": "c.oid",
}


def _only(sql: str, column: str) -> str:
    assert "/*only*/" in sql
    return sql.replace("/*only*/", f"AND {column} = ANY ($1::oid[])")


_TARGETED = {name: _only(cat.QUERIES[name], column) for name, column in _FILTERED.items()}
_ROW_OWNERS = {"constraint": "constraints", "index": "indexes", "policy": "policies",
               "rewrite": "rules"}  # fmt: skip


def _book(
    rows: dict[str, Any],
    book: Book | None = None,
    gone: Iterable[int] = (),
    stats: Sequence[SourceStats] = (),
) -> Book:
    """``book`` without the relations in ``gone`` (and what they own), plus ``rows``'
    objects; ``stats``: those of the refresh that read ``rows`` after them (what was
    made since the marker, or known at it, existed then; the rest is unproven)."""
    drop = set(gone)
    rels = dict(book.rels) if book else {}
    for oid in drop:
        rels.pop(oid, None)
    rels.update((int(r["relid"]), (str(r["schema"]), str(r["relation"]))) for r in rows["columns"])
    owners: dict[str, dict[int, int]] = {}
    for source, name in _ROW_OWNERS.items():
        kept = book.owners[source].items() if book else ()
        owned = {o: rel for o, rel in kept if rel not in drop}
        owned.update((int(r["oid"]), int(r["relid"])) for r in rows[name])
        owners[source] = owned
    unproven: dict[str, frozenset[int]] = {}
    if book is not None and stats:
        made = {s.name: st.made for s, st in zip(SOURCES, stats, strict=True)}
        for source, name in (("class", "columns"), *_ROW_OWNERS.items()):
            column = "relid" if source == "class" else "oid"
            was, known = book.unproven.get(source, frozenset()), book.known(source)
            unproven[source] = frozenset(
                o
                for o in (int(r[column]) for r in rows[name])
                if o not in made[source] and (o not in known or o in was)
            )
    return Book(rels, owners, unproven)


def _built(rows: dict[str, Any], marker: CatalogMarker) -> Current:
    return Current(build_catalog(**rows), marker, _book(rows))


async def _whole(conn: asyncpg.Connection, marker: CatalogMarker) -> Current:
    return await asyncio.to_thread(_built, await cat.fetch_rows(conn), marker)


async def _counted(
    conn: asyncpg.Connection, marker: CatalogMarker | None
) -> tuple[CatalogMarker, tuple[SourceStats, ...], bool]:
    """The marker now, the statistics since ``marker`` and whether it was quiet (one
    statement; it sets the connection's search_path to pg_catalog)."""
    indexed = indexed_sources(marker.counts) if marker is not None else frozenset()
    rows = await conn.fetch(stats_sql(indexed), *stats_args(marker))
    stats = parse_stats(rows)
    xmin, xmax, xip = horizon(rows[0])
    return CatalogMarker(xmin, xmax, xip, tuple(s.count for s in stats)), stats, quiet(rows[0])


def _as_json(queries: dict[str, str]) -> str:
    """One statement whose row holds each query's rows as a JSON array (one round trip)."""
    return "SELECT " + ", ".join(
        f"(SELECT COALESCE(json_agg(q), '[]') FROM ({sql}) q)::text AS {name}"
        for name, sql in queries.items()
    )


async def load(conn: asyncpg.Connection) -> Current:
    """Read the whole catalog, its marker and its book in one repeatable-read transaction.

    The rows become a snapshot in a worker thread: on a large catalog that
    takes longer than the event loop may be held.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        marker, _, _ = await _counted(conn, None)
        return await _whole(conn, marker)


async def refresh(conn: asyncpg.Connection, current: Current) -> Current:
    """``current`` itself (with a moved marker) when nothing it holds changed, else the new one.

    Few round trips: on a busy server each one waits for a CPU (see the module
    docstring for why its statements need no shared transaction).
    """
    marker, stats, was_quiet = await _counted(conn, current.marker)
    if was_quiet:
        return replace(current, marker=replace(marker, counts=current.marker.counts))
    if untouched(current.marker, stats):
        return replace(current, marker=marker)
    plan = plan_refresh(current.marker, stats)
    if plan.full:
        return await load(conn)
    lost = _unproven_losses(current, stats, plan.lost)
    owned = [
        part
        for source, *_ in _OWNED
        for part in _pairs(current.book.owners[source] if source in lost else {})
    ]
    book_rels = list(current.book.rels) if "class" in lost else []
    named = [(oid, current.book.rels[oid]) for oid in plan.changed if oid in current.book.rels]
    found = await conn.fetchrow(
        EXPAND_SQL,
        list(plan.changed),
        *owned,
        book_rels,
        [oid for oid, _ in named],
        [schema for _, (schema, _) in named],
        [name for _, (_, name) in named],
    )
    assert found is not None
    if found["composite"]:
        return await load(conn)
    touched = [int(o) for o in found["touched"]]
    queries = {**_TARGETED, **{part: cat.QUERIES[part] for part in plan.reread}}
    row = await conn.fetchrow(_as_json(queries), touched)
    assert row is not None
    gone = {*touched, *(int(o) for o in found["dropped"])}
    rows = {name: json.loads(row[name]) for name in queries}
    if not plan.reread and not gone & current.book.rels.keys() and not any(rows.values()):
        # only relations the snapshot does not hold (temporary tables, say) changed
        return replace(current, marker=marker)
    size = len(current.snapshot.relations)
    return await sized(size, functools.partial(_patched, current, rows, gone, marker, stats))


def _unproven_losses(
    current: Current, stats: Sequence[SourceStats], lost: frozenset[str]
) -> frozenset[str]:
    """The sources of ``lost`` whose objects must be looked up one by one: those
    without a proof that none went away (on a large catalog, the lookup of every
    relation is most of a refresh)."""
    names = [s.name for s in SOURCES]
    then = dict(zip(names, current.marker.counts, strict=True))
    now = dict(zip(names, stats, strict=True))
    return frozenset(
        source
        for source in lost
        if not none_lost(
            now[source],
            then[source],
            current.book.known(source),
            current.book.unproven.get(source, frozenset()),
        )
    )


def _pairs(owned: dict[int, int]) -> tuple[list[int], list[int]]:
    return list(owned), list(owned.values())


def _patched(
    current: Current,
    rows: dict[str, Any],
    gone: set[int],
    marker: CatalogMarker,
    stats: Sequence[SourceStats],
) -> Current:
    """``current`` with the relations in ``gone`` replaced by what ``rows`` holds now."""
    old = current.snapshot
    names = {current.book.rels[o] for o in gone if o in current.book.rels}
    part = build_catalog(
        schemas=rows.get("schemas", ()),
        **{k: v for k, v in rows.items() if k != "schemas"},
    )
    ordered = current.ordered
    tables = {table for _, table in names}
    by_name = old.relations_by_name()  # patched, not rebuilt: O(change)
    for name in names:
        by_name.pop(name, None)
    by_name.update(((r.schema, r.name), r) for r in part.relations)
    snapshot = CatalogSnapshot(
        schemas=part.schemas if "schemas" in rows else old.schemas,
        relations=_spliced(
            old.relations, names, part.relations, RELATION_KEY, RELATION_KEY, ordered=ordered
        ),
        functions=part.functions if "functions" in rows else old.functions,
        enums=part.enums if "enums" in rows else old.enums,
        types=part.types if "types" in rows else old.types,
        constraints=_spliced(
            old.constraints,
            names,
            part.constraints,
            CONSTRAINT_KEY,
            CONSTRAINT_TABLE,
            ordered=ordered,
        ),
        indexes=_sorted(
            (i for i in old.indexes if i.table not in tables or (i.schema, i.table) not in names),
            part.indexes,
            key=INDEX_KEY,
            ordered=ordered,
        ),
        schema_acls=part.schema_acls if "schemas" in rows else old.schema_acls,
        dependencies=part.dependencies if "dependencies" in rows else old.dependencies,
        extensions=old.extensions,
        memberships=part.memberships if "memberships" in rows else old.memberships,
        superusers=part.superusers if "superusers" in rows else old.superusers,
        builtin_functions=old.builtin_functions,
        builtin_relations=old.builtin_relations,
        operators=part.operators if "operators" in rows else old.operators,
        held_operators=part.held_operators if "operators" in rows else old.held_operators,
        builtin_operators=old.builtin_operators,
        publications=part.publications if "publications" in rows else old.publications,
        by_name=by_name,
    ).mark_key_ordered()  # _spliced and _sorted leave every part in key order
    if old.has_derived("model"):  # its consumers can update what they derived from it
        snapshot.derived(
            "patch", lambda _: Patch(old, frozenset(names), part, frozenset(rows) & _WHOLE_PARTS)
        )
    return Current(snapshot, marker, _book(rows, current.book, gone, stats), ordered=True)


_WHOLE_PARTS = frozenset({"schemas", "functions", "enums", "types", "operators", "publications"})


def _spliced(
    old: tuple[T, ...],
    tables: set[tuple[str, str]],
    new: Iterable[T],
    key: Callable[[T], tuple[str, ...]],
    table: Callable[[T], tuple[str, str]],
    *,
    ordered: bool,
) -> tuple[T, ...]:
    """``old`` without the entries of ``tables``, with ``new``, in ``key`` order (of
    which ``table`` is the start). ``ordered``: ``old`` is in that order already, so
    only what changes is looked for (binary search): at 10,000 relations, sorting
    everything again costs milliseconds each time."""
    if not ordered:
        return _sorted((x for x in old if table(x) not in tables), new, key=key, ordered=False)
    out = list(old)
    for name in tables:
        low = bisect.bisect_left(out, name, key=table)
        del out[low : bisect.bisect_right(out, name, lo=low, key=table)]
    for x in new:
        bisect.insort(out, x, key=key)
    return tuple(out)


def _sorted(
    kept: Iterable[T], new: Iterable[T], *, key: Callable[[T], tuple[str, ...]], ordered: bool
) -> tuple[T, ...]:
    """``kept`` (in ``key`` order when ``ordered``) with ``new``, in ``key`` order."""
    if not ordered:
        return tuple(sorted([*kept, *new], key=key))
    out = list(kept)
    for x in new:
        bisect.insort(out, x, key=key)
    return tuple(out)
