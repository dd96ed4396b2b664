"""/api/versions across several databases: each row's protection is its own database's.

The admin API works out every database's protections in one pass (a pass per
database read every database's versions each time, so a proxy that had seen a few
hundred databases took seconds per listing); this checks the one pass still tells
each database's versions apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, wait_for
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess
from tests.support.sites import create_database

pytestmark = one_major()


@pytest.fixture
def two_databases(cluster: LocalCluster) -> Iterator[tuple[str, str]]:
    names = (
        create_database(cluster, "vapi_a", "CREATE TABLE items (id int)"),
        create_database(cluster, "vapi_b", "CREATE TABLE items (id int)"),
    )
    yield names
    with direct(cluster) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_each_database_lists_its_own_protections(
    proxy: ProxyProcess, two_databases: tuple[str, str]
) -> None:
    first, second = two_databases

    def connect(database: str, app: str) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(proxy.url(database=database, application_name=app), autocommit=True)
        conn.execute("SELECT id FROM items").fetchall()
        return conn

    live = [connect(first, "shop@1"), connect(second, "shop@2")]
    connect(second, "billing@7").close()
    connect(first, "billing@8").close()
    try:
        wanted = {
            (first, "shop", "1"),
            (second, "shop", "2"),
            (second, "billing", "7"),
            (first, "billing", "8"),
        }

        def listed() -> dict[tuple[str, str, str], dict[str, Any]] | None:
            found = proxy.versions(facets=False)
            return found if found.keys() >= wanted else None

        rows = wait_for(listed)
        assert rows[(first, "shop", "1")]["protected"] == "live"
        assert rows[(second, "shop", "2")]["protected"] == "live"
        # shop@2 was never seen in the first database, nor shop@1 in the second
        assert (first, "shop", "2") not in rows
        assert (second, "shop", "1") not in rows
        for database, version in ((second, "7"), (first, "8")):
            row = rows[(database, "billing", version)]
            assert row["protected"] in ("recent", "rollback-target")
            assert row["live_connections"] == 0
    finally:
        for conn in live:
            conn.close()
