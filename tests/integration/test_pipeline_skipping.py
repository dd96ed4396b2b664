"""A DDL held after an earlier message of the same pipeline failed (before any Sync).

PostgreSQL skips what the client sends after an error until the client's Sync.
The guard, to judge a DDL held inside a transaction block, ends the client's
unsynced messages with a Sync of its own; when an error had already come, that
Sync ended PostgreSQL's skipping too, and the client's Describe and Execute then
ran: an extra error (34000 portal "" does not exist) reached the client, and
psycopg's async pipeline was left "busy" (its own test suite found it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.sites import Site, proxied_site

pytestmark = pytest.mark.integration


@pytest.fixture(params=["observe", "enforce"])
def site(request: pytest.FixtureRequest, cluster: LocalCluster, tmp_path: Path) -> Iterator[Site]:
    with proxied_site(cluster, tmp_path, "skipping", "", "--mode", request.param) as found:
        yield found


def _exchange(port: int, database: str) -> list[tuple[str, str]]:
    """An error answered before the DDL is sent, then the DDL and the client's Sync."""
    with rc.RawClient("127.0.0.1", port) as client:
        client.startup({"user": "postgres", "database": database})
        client.send(rc.query("BEGIN"))
        client.read_ready()
        client.send(rc.parse("select error"), rc.bind(), rc.describe("P"), rc.execute(), rc.flush())
        replies = client.read_until("E")
        client.send(
            rc.parse("create table voila ()"), rc.bind(), rc.describe("P"), rc.execute(), rc.sync()
        )
        replies += client.read_ready()
        client.send(rc.query("ROLLBACK"))
        replies += client.read_ready()
    return [
        (r.type, r.fields().get("C", "") if r.type == "E" else r.body[:1].decode()) for r in replies
    ]


def test_a_ddl_after_an_unsynced_error_is_skipped_as_postgresql_skips_it(site: Site) -> None:
    direct = _exchange(site.cluster.port, site.database)
    assert direct == [("E", "42703"), ("Z", "E"), ("C", "R"), ("Z", "I")]
    assert _exchange(site.proxy.port, site.database) == direct


async def _pipeline(url: str) -> BaseException | None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        try:
            async with conn.transaction(), conn.pipeline():
                await conn.execute("select error")
                await conn.execute("create table voila ()")
        except psycopg.Error as exc:
            return exc
    return None


def test_psycopg_async_pipeline_gets_the_first_error(site: Site) -> None:
    """psycopg's own test_outer_transaction_error, a few times (the reply order varies)."""
    url = site.proxy.url(database=site.database)
    for _ in range(5):
        raised = asyncio.run(asyncio.wait_for(_pipeline(url), 30))
        assert isinstance(raised, errors.UndefinedColumn), raised
    with psycopg.connect(site.cluster.url(database=site.database)) as conn:
        assert conn.execute("select to_regclass('voila')").fetchone() == (None,)
