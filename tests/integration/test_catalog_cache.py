"""The catalog cache keeps a snapshot while the catalog is unchanged, and never past a change.

Every schema change committed by anyone (here: straight to PostgreSQL, as DDL
bypassing the proxy would be) must be in the next snapshot asked for "as of
now", and that snapshot, refreshed from what changed, must equal a whole new
read; a snapshot is kept (the same object) when only data changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pglast
import pytest

from skewguard.catalog import (
    CONSTRAINT_KEY,
    INDEX_KEY,
    RELATION_KEY,
    CatalogSnapshot,
    load_catalog,
)
from skewguard.catalogs import CatalogCache
from skewguard.config import parse_upstream
from skewguard.ddl.model import Model
from skewguard.ddl.screen import REBUILD_AFTER, Links, prepare, reach
from skewguard.pgcluster import LocalCluster
from skewguard.side_connection import close_side, connect_side
from tests.support.clients import unique

pytestmark = pytest.mark.integration


@pytest.fixture
async def schema(cluster: LocalCluster) -> AsyncIterator[str]:
    name = unique("sgcache")
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(
            f"CREATE SCHEMA {name};"
            f"CREATE TABLE {name}.t (id int PRIMARY KEY, email text, n int DEFAULT 0);"
            f"CREATE INDEX t_email ON {name}.t (email);"
            f"CREATE TABLE {name}.u (id int REFERENCES {name}.t, note text);"
            f"ALTER TABLE {name}.t ADD CONSTRAINT n_positive CHECK (n >= 0);"
            f"CREATE SEQUENCE {name}.s;"
            f"CREATE TABLE {name}.q (id int DEFAULT nextval('{name}.s'), k int);"
            f"CREATE VIEW {name}.tv AS SELECT id, email FROM {name}.t;"
            f"CREATE TABLE {name}.child (extra int) INHERITS ({name}.t);"
            f"CREATE FUNCTION {name}.g() RETURNS int LANGUAGE sql AS 'SELECT 1';"
            f"CREATE TYPE {name}.color AS ENUM ('red');"
            f"CREATE TABLE {name}.painted (c {name}.color);"
            f"ALTER TABLE {name}.q ENABLE ROW LEVEL SECURITY;"
            f"CREATE POLICY p ON {name}.q USING (k > 0);"
            f"CREATE RULE r AS ON DELETE TO {name}.q DO INSTEAD NOTHING;"
            f"CREATE PUBLICATION {name} FOR TABLE {name}.u;"
        )
        yield name
    finally:
        await conn.execute(f"DROP PUBLICATION IF EXISTS {name}")
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await conn.close()


@pytest.fixture
async def cache(cluster: LocalCluster) -> AsyncIterator[CatalogCache]:
    kept = CatalogCache(parse_upstream(cluster.url(sslmode="disable")))
    yield kept
    await kept.close()


async def _now(cache: CatalogCache, cluster: LocalCluster) -> CatalogSnapshot:
    snapshot, _ = await cache.get("postgres", cluster.superuser, newer_than=time.time())
    assert snapshot is not None
    return snapshot


async def _direct(cluster: LocalCluster, sql: str) -> None:
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_an_unchanged_catalog_is_kept_across_data_writes(
    cluster: LocalCluster, cache: CatalogCache, schema: str
) -> None:
    first = await _now(cache, cluster)
    assert await _now(cache, cluster) is first  # nothing happened at all
    await _direct(
        cluster, f"INSERT INTO {schema}.t VALUES (1, 'a', 1); UPDATE {schema}.t SET n = 2"
    )
    assert await _now(cache, cluster) is first  # transactions ended, the catalog is the same


def _columns(snapshot: CatalogSnapshot, schema: str, table: str) -> dict[str, object]:
    rel = snapshot.relation(schema, table)
    assert rel is not None
    return {c.name: c for c in rel.columns}


# (DDL run straight against PostgreSQL, what the next snapshot must show)
CHANGES = [
    ("ALTER TABLE {s}.t ADD COLUMN added int", lambda c, s: "added" in _columns(c, s, "t")),
    ("ALTER TABLE {s}.t RENAME COLUMN email TO mail", lambda c, s: "mail" in _columns(c, s, "t")),
    (
        "ALTER TABLE {s}.t ALTER COLUMN n SET NOT NULL",
        lambda c, s: _columns(c, s, "t")["n"].not_null,  # type: ignore[attr-defined]
    ),
    (
        "ALTER TABLE {s}.t ALTER COLUMN n DROP DEFAULT",
        lambda c, s: not _columns(c, s, "t")["n"].has_default,  # type: ignore[attr-defined]
    ),
    (
        "ALTER TABLE {s}.t DROP COLUMN email CASCADE",
        lambda c, s: "email" not in _columns(c, s, "t") and c.relation(s, "tv") is None,
    ),
    ("DROP INDEX {s}.t_email", lambda c, s: not any(i.name == "t_email" for i in c.indexes)),
    (
        "ALTER TABLE {s}.u DROP CONSTRAINT u_id_fkey",
        lambda c, s: not c.constraints_of(s, "u"),
    ),
    (
        "ALTER TABLE {s}.t DROP CONSTRAINT n_positive",
        lambda c, s: all(k.name != "n_positive" for k in c.constraints_of(s, "t")),
    ),
    ("DROP TABLE {s}.u", lambda c, s: c.relation(s, "u") is None),
    ("ALTER TABLE {s}.u RENAME TO w", lambda c, s: c.relation(s, "w") is not None),
    ("CREATE VIEW {s}.v AS SELECT id FROM {s}.t", lambda c, s: c.relation(s, "v") is not None),
    (
        "CREATE FUNCTION {s}.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        lambda c, s: bool(c.functions_named(s, "f")),
    ),
    ("CREATE TYPE {s}.mood AS ENUM ('ok')", lambda c, s: c.enum(s, "mood") is not None),
    (
        "CREATE OPERATOR {s}.<~> (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)",
        lambda c, s: f"{s}.<~>(integer,integer)" in c.operators - c.held_operators,
    ),
    (  # a view holds it: a drop CASCADE takes the view along
        "CREATE OPERATOR {s}.<~~> (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq);"
        " CREATE VIEW {s}.opv AS SELECT 1 OPERATOR({s}.<~~>) 2 AS x",
        lambda c, s: f"{s}.<~~>(integer,integer)" in c.held_operators,
    ),
    (
        "GRANT SELECT ON {s}.t TO PUBLIC",
        lambda c, s: getattr(c.relation(s, "t"), "acl", None) is not None,
    ),
    ("ALTER SCHEMA {s} RENAME TO {s}_x", lambda c, s: f"{s}_x" in c.schemas),
    (
        "ALTER TABLE {s}.t REPLICA IDENTITY FULL",
        lambda c, s: getattr(c.relation(s, "t"), "replica_identity", None) == "f",
    ),
    (
        "ALTER TABLE {s}.t REPLICA IDENTITY USING INDEX t_pkey",
        lambda c, s: any(i.replica_identity for i in c.indexes_of(s, "t")),
    ),
    (
        "ALTER PUBLICATION {s} ADD TABLE {s}.t",
        lambda c, s: any(f"{s}.t" in p.tables for p in c.publications if p.name == s),
    ),
    (
        "ALTER PUBLICATION {s} SET (publish = 'insert')",
        lambda c, s: any(not p.updates for p in c.publications if p.name == s),
    ),
    (
        "ALTER PUBLICATION {s} ADD TABLES IN SCHEMA {s}",
        lambda c, s: any(s in p.schemas for p in c.publications if p.name == s),
    ),
]


def _normal(snapshot: CatalogSnapshot) -> tuple[object, ...]:
    """Everything a snapshot holds, order aside."""
    return (
        snapshot.schemas,
        set(snapshot.schema_acls),
        set(snapshot.relations),
        set(snapshot.functions),
        set(snapshot.enums),
        set(snapshot.constraints),
        set(snapshot.indexes),
        set(snapshot.dependencies),
        snapshot.extensions,
        snapshot.builtin_functions,
        snapshot.builtin_relations,
        snapshot.operators,
        snapshot.held_operators,
        snapshot.builtin_operators,
        set(snapshot.publications),
    )


def _model_matches(snapshot: CatalogSnapshot) -> None:
    """The overlay's model of a refreshed snapshot (updated from the previous one's by the
    refresh's patch) holds what the snapshot holds."""
    model = Model.of(snapshot).copy()
    model.origin = None  # convert everything back, reusing nothing
    assert _normal(model.to_catalog()) == _normal(snapshot)
    # the name index a refresh patches (rather than builds) names exactly its relations
    assert snapshot.relations_by_name() == {(r.schema, r.name): r for r in snapshot.relations}
    if snapshot.key_ordered:  # what a splice of the overlay's after-catalog relies on
        assert list(snapshot.relations) == sorted(snapshot.relations, key=RELATION_KEY)
        assert list(snapshot.indexes) == sorted(snapshot.indexes, key=INDEX_KEY)
        assert list(snapshot.constraints) == sorted(snapshot.constraints, key=CONSTRAINT_KEY)


async def _whole(cluster: LocalCluster) -> CatalogSnapshot:
    side = await connect_side(
        parse_upstream(cluster.url(sslmode="disable")),
        database="postgres",
        user=cluster.superuser,
        application_name="skewguard-test",
        lock_timeout_ms=1000,
        statement_timeout_ms=10_000,
        connect_timeout=10,
    )
    try:
        return await load_catalog(side)
    finally:
        await close_side(side)


# What changes names inside other relations' entries, the refresh must follow
# (DDL, a relation that must show it, and how).
FOLLOWED = [
    ("ALTER TABLE {s}.t RENAME TO tt", "u", lambda r: r is not None),
    ("ALTER TABLE {s}.u RENAME TO published", "published", lambda r: r is not None),
    ("ALTER TABLE {s}.t RENAME COLUMN email TO mail", "tv", lambda r: "mail" in str(r.depends)),
    ("ALTER SEQUENCE {s}.s RENAME TO s2", "q", lambda r: "s2" in str(r.columns[0])),
    ("ALTER TABLE {s}.t RENAME TO parent", "child", lambda r: "parent" in str(r.parents)),
    ("ALTER INDEX {s}.t_email RENAME TO t_mail", "t", lambda r: r is not None),
    ("DROP POLICY p ON {s}.q", "q", lambda r: not r.policies),
    ("DROP RULE r ON {s}.q", "q", lambda r: not r.rules),
    ("ALTER FUNCTION {s}.g() RENAME TO h", "t", lambda r: r is not None),
    ("ALTER TYPE {s}.color RENAME TO colour", "painted", lambda r: "colour" in str(r.columns)),
    ("ALTER TYPE {s}.color ADD VALUE 'blue'", "painted", lambda r: r is not None),
    ("CREATE SCHEMA {s}_new", "t", lambda r: r is not None),
    ("COMMENT ON TABLE {s}.t IS 'no change for a snapshot'", "t", lambda r: r is not None),
    ("ALTER TABLE {s}.u ALTER COLUMN note TYPE varchar(10)", "u", lambda r: "10" in str(r.columns)),
    (
        'ALTER TABLE {s}.u ALTER COLUMN note TYPE text COLLATE "C"',
        "u",
        lambda r: r.column("note").collation == "C",
    ),
]


@pytest.mark.parametrize("ddl, name, check", FOLLOWED, ids=[d for d, _, _ in FOLLOWED])
async def test_a_refreshed_snapshot_equals_a_whole_read(
    cluster: LocalCluster, cache: CatalogCache, schema: str, ddl: str, name: str, check: object
) -> None:
    Model.of(await _now(cache, cluster))
    await _direct(cluster, ddl.format(s=schema))
    refreshed = await _now(cache, cluster)
    assert _normal(refreshed) == _normal(await _whole(cluster))
    _model_matches(refreshed)
    moved = "parent" if "RENAME TO parent" in ddl else "tt" if "RENAME TO tt" in ddl else None
    rel = refreshed.relation(schema, name if name != "t" or moved is None else moved)
    assert check(rel)  # type: ignore[operator]
    if "SCHEMA" in ddl:
        await _direct(cluster, f"DROP SCHEMA {schema}_new")


async def test_a_new_child_leaves_its_siblings_as_read_and_a_moved_parent_does_not(
    cluster: LocalCluster, cache: CatalogCache, schema: str
) -> None:
    """A child names its parents only: a new child (which changes its parent's rows) reads
    the parent and itself again, not every sibling; a parent moved to another schema
    reads its children again (their entries name it)."""
    before = await _now(cache, cluster)
    await _direct(cluster, f"CREATE TABLE {schema}.child2 () INHERITS ({schema}.t)")
    grown = await _now(cache, cluster)
    assert _normal(grown) == _normal(await _whole(cluster))
    assert grown.relation(schema, "child") is before.relation(schema, "child")
    assert grown.relation(schema, "child2").parents == (f"{schema}.t",)  # type: ignore[union-attr]
    await _direct(
        cluster, f"CREATE SCHEMA {schema}_moved; ALTER TABLE {schema}.t SET SCHEMA {schema}_moved"
    )
    try:
        moved = await _now(cache, cluster)
        assert _normal(moved) == _normal(await _whole(cluster))
        for child in ("child", "child2"):
            rel = moved.relation(schema, child)
            assert rel is not None and rel.parents == (f"{schema}_moved.t",)
    finally:
        await _direct(cluster, f"DROP SCHEMA {schema}_moved CASCADE")


@pytest.mark.parametrize("ddl, seen", CHANGES, ids=[d.split(" {s}")[0] for d, _ in CHANGES])
async def test_ddl_bypassing_the_proxy_is_seen_at_the_next_read(
    cluster: LocalCluster, cache: CatalogCache, schema: str, ddl: str, seen: object
) -> None:
    before = await _now(cache, cluster)
    Model.of(before)
    assert not seen(before, schema)  # type: ignore[operator]
    await _direct(cluster, ddl.format(s=schema))
    after = await _now(cache, cluster)
    assert seen(after, schema)  # type: ignore[operator]
    assert _normal(after) == _normal(await _whole(cluster))
    _model_matches(after)
    if "RENAME TO" in ddl and "SCHEMA" in ddl:
        await _direct(cluster, f"ALTER SCHEMA {schema}_x RENAME TO {schema}")


async def test_uncommitted_ddl_is_not_seen_and_its_commit_is(
    cluster: LocalCluster, cache: CatalogCache, schema: str
) -> None:
    first = await _now(cache, cluster)
    migration = await asyncpg.connect(cluster.url())
    try:
        tx = migration.transaction()
        await tx.start()
        await migration.execute(f"ALTER TABLE {schema}.u ADD COLUMN later int")
        during = await _now(cache, cluster)
        assert "later" not in _columns(during, schema, "u")
        assert during is first
        await tx.commit()
    finally:
        await migration.close()
    assert "later" in _columns(await _now(cache, cluster), schema, "u")


async def test_a_kept_connection_the_server_closed_is_replaced(
    cluster: LocalCluster, cache: CatalogCache, schema: str
) -> None:
    await _now(cache, cluster)
    killer = await asyncpg.connect(cluster.url())
    try:
        await killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'skewguard-catalog' AND datname = 'postgres'"
        )
        await killer.execute(f"ALTER TABLE {schema}.t ADD COLUMN after_kill int")
    finally:
        await killer.close()
    assert "after_kill" in _columns(await _now(cache, cluster), schema, "t")


async def test_a_connection_ended_during_a_read_is_replaced(cluster: LocalCluster) -> None:
    """A new catalog connection the server ends mid-read (pg_terminate_backend, a
    failover): the read is tried once more on another one, rather than given up (a
    decision then refused, as one that could not judge, a change it would have let by)."""
    cache = CatalogCache(parse_upstream(cluster.url(sslmode="disable")), lock_timeout_ms=30_000)
    blocker = await asyncpg.connect(cluster.url())
    killer = await asyncpg.connect(cluster.url())
    catalog_reader = (
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'skewguard-catalog'"
        " AND datname = 'postgres' AND wait_event_type = 'Lock'"
    )
    try:
        await blocker.execute("BEGIN; LOCK TABLE pg_catalog.pg_attrdef IN ACCESS EXCLUSIVE MODE")
        load = asyncio.ensure_future(cache.get("postgres", cluster.superuser))
        deadline = time.monotonic() + 30
        while (pid := await killer.fetchval(catalog_reader)) is None:  # the read waits
            assert time.monotonic() < deadline and not load.done()
            await asyncio.sleep(0.05)
        assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        await blocker.execute("ROLLBACK")
        snapshot, _ = await asyncio.wait_for(load, 30)
        assert snapshot is not None
    finally:
        await blocker.close()
        await killer.close()
        await cache.close()


async def test_temporary_tables_leave_the_snapshot_as_it_was(
    cluster: LocalCluster, cache: CatalogCache, schema: str
) -> None:
    first = await _now(cache, cluster)
    await _direct(cluster, "CREATE TEMP TABLE scratch (a int); INSERT INTO scratch VALUES (1)")
    assert await _now(cache, cluster) is first


async def test_a_savepoints_change_committed_after_the_read_is_seen(
    cluster: LocalCluster, cache: CatalogCache, schema: str
) -> None:
    # the rename is written by a subtransaction, whose id no snapshot lists, of a
    # transaction still open when the snapshot was read; it changes no row count
    migration = await asyncpg.connect(cluster.url())
    try:
        tx = migration.transaction()
        await tx.start()
        await migration.execute("SELECT pg_catalog.txid_current()")
        async with migration.transaction():  # a savepoint
            await migration.execute(f"ALTER TABLE {schema}.t RENAME COLUMN email TO mail")
        await _direct(cluster, "SELECT pg_catalog.txid_current()")  # a later xid ends first
        during = await _now(cache, cluster)
        assert "email" in _columns(during, schema, "t")
        await tx.commit()
    finally:
        await migration.close()
    after = await _now(cache, cluster)
    assert "mail" in _columns(after, schema, "t") and "email" not in _columns(after, schema, "t")


async def test_patches_over_patches_equal_a_whole_read_and_keep_their_order(
    cluster: LocalCluster, cache: CatalogCache, schema: str
) -> None:
    # the first refresh after a whole read sorts; the later ones splice into that order
    Model.of(await _now(cache, cluster))
    for ddl in (
        "ALTER TABLE {s}.t ADD COLUMN a1 int",
        "CREATE TABLE {s}.aa (id int PRIMARY KEY)",
        "CREATE TABLE {s}.zz (id int PRIMARY KEY REFERENCES {s}.aa, CHECK (id > 0))",
        "ALTER TABLE {s}.zz ADD CONSTRAINT a_first UNIQUE (id)",
        "CREATE INDEX a_index ON {s}.zz (id)",
        "ALTER TABLE {s}.aa RENAME TO ab",
        "ALTER TABLE {s}.t DROP CONSTRAINT n_positive",
        "DROP TABLE {s}.zz",
        "ALTER TABLE {s}.t DROP COLUMN a1",
    ):
        await _direct(cluster, ddl.format(s=schema))
        refreshed = await _now(cache, cluster)
        assert _normal(refreshed) == _normal(await _whole(cluster)), ddl
        _model_matches(refreshed)
        relations = [(r.schema, r.name) for r in refreshed.relations]
        constraints = [(c.schema, c.table, c.name) for c in refreshed.constraints]
        indexes = [(i.schema, i.name) for i in refreshed.indexes]
        assert relations == sorted(relations), ddl
        assert constraints == sorted(constraints), ddl
        assert indexes == sorted(indexes), ddl
    assert refreshed.relation(schema, "ab") is not None and refreshed.relation(schema, "zz") is None


async def test_the_screens_index_grows_with_each_refresh_and_is_rebuilt_now_and_then(
    cluster: LocalCluster, cache: CatalogCache, schema: str
) -> None:
    # as Guard.begin derives: the screen's index first, then the model (which takes
    # the refresh's patch both grow from)
    snapshot = await _now(cache, cluster)
    prepare(snapshot)
    Model.of(snapshot)
    alter = pglast.parse_sql(f"ALTER TABLE {schema}.t ADD COLUMN z int")[0].stmt
    for n in range(1, REBUILD_AFTER + 2):
        await _direct(cluster, f"CREATE VIEW {schema}.seen_{n} AS SELECT id FROM {schema}.t")
        snapshot = await _now(cache, cluster)
        prepare(snapshot)
        Model.of(snapshot)
        reached = reach(alter, snapshot, Links(snapshot))
        every = reached.every_name() if reached is not None else None
        assert every is not None and f"seen_{n}" in every  # a new view on t
        assert snapshot.peek_derived("hanging").grown == n % (REBUILD_AFTER + 1)
