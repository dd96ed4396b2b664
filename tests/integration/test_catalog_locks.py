"""Catalog reads never wait on a lock a migration holds, and side connections are bounded.

One session holds ACCESS EXCLUSIVE on a table (as ``ALTER TABLE`` does until
COMMIT); ``load_catalog`` on a side connection with ``lock_timeout=200ms`` must
complete and read the same data as without the lock. A lock wait would fail
the load with a lock timeout, so the test is timing-free.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from skewguard.catalog import CatalogSnapshot, load_catalog
from skewguard.config import parse_upstream
from skewguard.pgcluster import LocalCluster
from skewguard.side_connection import SIDE_ERRORS, close_side, connect_side
from tests.support.clients import unique

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE SCHEMA {s};
CREATE TABLE {s}.t (
    id serial PRIMARY KEY,
    email text DEFAULT 'x',
    n int NOT NULL DEFAULT 0,
    "Mixed" int,
    g int GENERATED ALWAYS AS (n * 2) STORED
);
CREATE INDEX t_part ON {s}.t (id) WHERE n > 0 AND "Mixed" IS NULL;
CREATE INDEX t_expr ON {s}.t (lower(email), id, (n + "Mixed"), (n * 2));
CREATE UNIQUE INDEX t_email ON {s}.t (email);
CREATE VIEW {s}.v AS SELECT id, email FROM {s}.t WHERE n > 0;
CREATE VIEW {s}.j AS SELECT a.id FROM {s}.t a JOIN {s}.t b USING (id);
"""


@pytest.fixture
async def schema(cluster: LocalCluster) -> AsyncIterator[str]:
    name = unique("sglock")
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(SCHEMA.format(s=name))
        yield name
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await conn.close()


async def _side(
    cluster: LocalCluster,
    lock_timeout_ms: int = 200,
    *,
    database: str = "postgres",
    url: str | None = None,
    connect_timeout: float = 10,
) -> asyncpg.Connection:
    """A side connection to ``database`` (through ``url`` when given)."""
    return await connect_side(
        parse_upstream(url or cluster.url(sslmode="disable", database=database)),
        database=database,
        user=cluster.superuser,
        application_name="skewguard-test",
        lock_timeout_ms=lock_timeout_ms,
        statement_timeout_ms=5000,
        connect_timeout=connect_timeout,
    )


async def _load(cluster: LocalCluster) -> CatalogSnapshot:
    side = await _side(cluster)
    try:
        return await load_catalog(side)
    finally:
        await close_side(side)


async def _load_while(cluster: LocalCluster, *locks: str) -> CatalogSnapshot:
    """Load on a side connection while another session holds ``locks`` (SQL) open."""
    holder = await asyncpg.connect(cluster.url())
    try:
        async with holder.transaction():
            for sql in locks:
                await holder.execute(sql)
            return await _load(cluster)  # raises LockNotAvailableError on any lock wait
    finally:
        await holder.close()


async def test_side_connections_are_bounded_and_run_without_jit(cluster: LocalCluster) -> None:
    side = await _side(cluster, lock_timeout_ms=250)
    try:
        assert await side.fetchval("SHOW jit") == "off"
        assert await side.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        assert await side.fetchval("SHOW lock_timeout") == "250ms"
        assert await side.fetchval("SHOW statement_timeout") == "5s"
        assert await side.fetchval("SHOW idle_in_transaction_session_timeout") != "0"
        assert await side.fetchval("SHOW application_name") == "skewguard-test"
    finally:
        await close_side(side)
    assert side.is_closed()


async def test_side_connection_failures_are_side_errors(cluster: LocalCluster) -> None:
    side = await _side(cluster)
    killer = await asyncpg.connect(cluster.url())
    try:
        await killer.fetchval("SELECT pg_terminate_backend($1)", side.get_server_pid())
        with pytest.raises(SIDE_ERRORS):
            await side.fetchval("SELECT 1")
        await close_side(side)  # closing a dead connection does not raise
    finally:
        await killer.close()
    with pytest.raises(SIDE_ERRORS):
        await _side(cluster, database="no_such_db", connect_timeout=5)


async def _stalling_relay(cluster: LocalCluster) -> asyncio.Server:
    """A TCP hop to the cluster that stops passing the server's bytes on after its first
    ReadyForQuery (the connection stays open): a server, or a network, that stops
    answering right after authentication."""

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(cluster.host, cluster.port)

        async def upward() -> None:
            while data := await client_r.read(65536):
                server_w.write(data)

        pump = asyncio.ensure_future(upward())
        try:
            while True:  # typed messages once the client's startup packet is answered
                header = await server_r.readexactly(5)
                body = await server_r.readexactly(int.from_bytes(header[1:], "big") - 4)
                client_w.write(header + body)
                if header[:1] == b"Z":
                    break
            await asyncio.Event().wait()  # silence from now on
        finally:
            pump.cancel()
            server_w.close()
            client_w.close()

    return await asyncio.start_server(relay, "127.0.0.1", 0)


async def test_a_server_silent_after_authentication_fails_the_connect(
    cluster: LocalCluster,
) -> None:
    """The settings a side connection sets after connecting are bounded by its connect
    timeout: a catalog load waited forever there, holding the database's catalog lock
    (every later read of it, and the learner's flushes, waited behind it)."""
    relay = await _stalling_relay(cluster)
    port = relay.sockets[0].getsockname()[1]
    url = f"postgresql://{cluster.superuser}@127.0.0.1:{port}/postgres?sslmode=disable"
    connect = asyncio.ensure_future(_side(cluster, url=url, connect_timeout=1))
    try:
        done, _ = await asyncio.wait({connect}, timeout=15)
        assert done, "still connecting long past the connect timeout"
        with pytest.raises(SIDE_ERRORS):
            connect.result()
    finally:
        connect.cancel()
        relay.close()


async def test_load_does_not_wait_on_a_table_a_migration_holds(
    cluster: LocalCluster, schema: str
) -> None:
    free = await _load(cluster)
    locked = await _load_while(
        cluster,
        f"ALTER TABLE {schema}.t ADD COLUMN added int",
        f"LOCK TABLE {schema}.t IN ACCESS EXCLUSIVE MODE",
    )
    assert locked == free  # the migration's uncommitted column is not seen either

    t = locked.relation(schema, "t")
    assert t is not None
    cols = {c.name: c for c in t.columns}
    assert cols["email"].default == "'x'::text"
    assert cols["n"].default == "0" and cols["n"].not_null
    assert cols["id"].default is not None and "nextval" in cols["id"].default
    assert cols["id"].default_sequences == (f"{schema}.t_id_seq",)
    assert cols["g"].generated == "s" and cols["g"].default is None
    assert not cols["g"].has_default

    idx = {i.name: i for i in locked.indexes_of(schema, "t")}
    assert idx["t_part"].keys == ("id",)
    assert idx["t_part"].predicate == 'PREDICATE(n, "Mixed")'
    assert idx["t_expr"].keys == (
        "EXPRESSION(email)",
        "id",
        'EXPRESSION(n, "Mixed")',
        "EXPRESSION(n)",
    )
    assert idx["t_expr"].predicate is None
    assert idx["t_email"].keys == ("email",) and idx["t_email"].unique
    assert idx["t_pkey"].primary and idx["t_pkey"].constraint == "t_pkey"

    view = locked.relation(schema, "v")
    assert view is not None and view.updatable
    assert f"column_read:{schema}.t.email" in view.depends
    join = locked.relation(schema, "j")
    assert join is not None and not join.updatable


@pytest.mark.xfail(
    strict=True,
    raises=asyncpg.LockNotAvailableError,
    reason="RELATIONS_SQL calls pg_relation_is_updatable, which opens the view "
    "(AccessShareLock); not yet lock-free",
)
async def test_load_does_not_wait_on_a_view_a_migration_replaces(
    cluster: LocalCluster, schema: str
) -> None:
    free = await _load(cluster)
    locked = await _load_while(
        cluster,
        f"CREATE OR REPLACE VIEW {schema}.v AS SELECT id, email, n FROM {schema}.t WHERE n > 0",
    )
    assert locked == free


async def test_index_texts_without_column_references(cluster: LocalCluster, schema: str) -> None:
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(f"CREATE INDEX t_const ON {schema}.t ((1)) WHERE 1 < 2")
    finally:
        await conn.close()
    loaded = await _load_while(cluster, f"LOCK TABLE {schema}.t IN ACCESS EXCLUSIVE MODE")
    idx = {i.name: i for i in loaded.indexes_of(schema, "t")}
    assert idx["t_const"].keys == ("EXPRESSION()",)
    assert idx["t_const"].predicate == "(1 < 2)"


async def test_load_does_not_wait_on_a_table_with_a_check(
    cluster: LocalCluster, schema: str
) -> None:
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(
            f"ALTER TABLE {schema}.t ADD CONSTRAINT n_positive CHECK (n >= 0),"
            " ADD COLUMN r int4range,"
            " ADD CONSTRAINT no_overlap EXCLUDE USING gist (r WITH &&)"
        )
    finally:
        await conn.close()
    free = await _load(cluster)
    locked = await _load_while(cluster, f"LOCK TABLE {schema}.t IN ACCESS EXCLUSIVE MODE")
    assert locked == free
    constraints = {c.name: c for c in locked.constraints_of(schema, "t")}
    assert constraints["n_positive"].type == "c" and constraints["n_positive"].columns == ("n",)
    assert constraints["no_overlap"].type == "x" and constraints["no_overlap"].columns == ("r",)
    # spelled without opening the table: the columns a CHECK uses, an EXCLUDE in full
    assert constraints["n_positive"].definition == "CHECK (EXPRESSION(n))"
    assert constraints["no_overlap"].definition == "EXCLUDE USING gist (r WITH &&)"


async def test_a_check_without_column_references_is_deparsed(
    cluster: LocalCluster, schema: str
) -> None:
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(f"ALTER TABLE {schema}.t ADD CONSTRAINT always CHECK (1 < 2) NOT VALID")
    finally:
        await conn.close()
    locked = await _load_while(cluster, f"LOCK TABLE {schema}.t IN ACCESS EXCLUSIVE MODE")
    constraints = {c.name: c for c in locked.constraints_of(schema, "t")}
    assert constraints["always"].definition == "CHECK ((1 < 2)) NOT VALID"
