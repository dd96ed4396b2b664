"""Hostile clients, round 12: a probe answers for the role that will run what it asks
about.

A new CHECK is evaluated on each version's known constants before the statement is
forwarded (rules.constraints.value_probes); a constant every write is known to be and
the CHECK accepts clears the version. PostgreSQL evaluates a CHECK as the writer, i.e. as
the role the version connects as. Until round 12 the probe ran as the migrating session:
``CHECK (body <> 'b' OR current_user = 'postgres')`` accepted shop@12's 'b' for the
superuser migrating, the version was cleared and the DDL passed, and every INSERT of
shop@12 failed after it. PostgreSQL is the judge: the same INSERT as the version's role.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clients import direct, login_role
from tests.support.proxy import ProxyProcess
from tests.support.sites import proxied_database

pytestmark = pytest.mark.integration


@pytest.fixture
def shop_role(cluster: LocalCluster) -> Iterator[str]:
    """The plain login role shop@12 connects as (roles are cluster-wide)."""
    with login_role(cluster, "h12_shop") as role:
        yield role


@pytest.fixture
def site(
    cluster: LocalCluster, tmp_path: Path, shop_role: str
) -> Iterator[tuple[LocalCluster, str, ProxyProcess]]:
    schema = (
        "CREATE TABLE notes (id serial PRIMARY KEY, body text); "
        f"GRANT SELECT, INSERT ON notes TO {shop_role}; "
        f"GRANT USAGE ON SEQUENCE notes_id_seq TO {shop_role};"
    )
    with proxied_database(cluster, tmp_path, "hostile12", schema) as (database, proxy):
        yield cluster, database, proxy
        with direct(cluster, dbname=database) as conn:
            conn.execute(f"DROP OWNED BY {shop_role}")


def _live(proxy: ProxyProcess, database: str, role: str) -> psycopg.Connection[tuple[object, ...]]:
    """shop@12, live as ``role``: every write of notes.body is the constant 'b'."""
    url = proxy.url(user=role, database=database, application_name="shop@12")
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("INSERT INTO notes (body) VALUES ('b')")
    time.sleep(1.5)  # learned
    return conn


def _refuses(cluster: LocalCluster, database: str, role: str, check: str) -> bool:
    """PostgreSQL's verdict: the version's INSERT fails under the CHECK (rolled back)."""
    with direct(cluster, dbname=database) as conn, conn.transaction(force_rollback=True):
        conn.execute(f"ALTER TABLE notes ADD CONSTRAINT judge CHECK ({check}) NOT VALID")
        conn.execute(f"SET LOCAL ROLE {role}")
        try:
            with conn.transaction():
                conn.execute("INSERT INTO notes (body) VALUES ('b')")
        except psycopg.errors.CheckViolation:
            return True
        return False


def _unsynced(client: rc.RawClient, ddl: str) -> list[str]:
    """``ddl`` behind an unsynced SELECT: the guard cannot query the migrating connection
    (no replay, probes on a side connection). The SQLSTATEs seen."""
    client.send(
        rc.parse("SELECT 1") + rc.bind() + rc.execute()
        + rc.parse(ddl, "d") + rc.bind(statement="d") + rc.execute() + rc.sync()
    )  # fmt: skip
    return [r.fields()["C"] for r in client.read_ready() if r.type == "E"]


ROLE_DEPENDENT = [
    "body <> 'b' OR current_user = 'postgres'",
    "body <> 'b' OR pg_has_role('pg_read_server_files', 'member')",
    "body <> 'b' OR has_database_privilege(current_database(), 'CREATE')",
]


@pytest.mark.parametrize("check", ROLE_DEPENDENT, ids=["current_user", "pg_has_role", "privilege"])
def test_a_check_on_the_versions_constants_is_judged_as_the_versions_role(
    site: tuple[LocalCluster, str, ProxyProcess], shop_role: str, check: str
) -> None:
    cluster, database, proxy = site
    assert _refuses(cluster, database, shop_role, check), "PostgreSQL accepts shop's write"
    with _live(proxy, database, shop_role), rc.RawClient("127.0.0.1", proxy.port) as client:
        params = {"user": "postgres", "database": database, "application_name": "migrate"}
        assert client.startup(params)[-1].type == "Z"
        codes = _unsynced(client, f"ALTER TABLE notes ADD CONSTRAINT c CHECK ({check}) NOT VALID")
    assert codes == ["55006"], "the CHECK breaking shop@12's every INSERT passed"


def test_a_check_the_versions_role_passes_still_clears_the_version(
    site: tuple[LocalCluster, str, ProxyProcess], shop_role: str
) -> None:
    """No false block: as shop, 'b' passes ``current_user <> 'postgres'``-guarded CHECKs."""
    cluster, database, proxy = site
    check = f"body <> 'b' OR current_user = '{shop_role}'"
    assert not _refuses(cluster, database, shop_role, check)
    with _live(proxy, database, shop_role), rc.RawClient("127.0.0.1", proxy.port) as client:
        params = {"user": "postgres", "database": database, "application_name": "migrate"}
        assert client.startup(params)[-1].type == "Z"
        codes = _unsynced(client, f"ALTER TABLE notes ADD CONSTRAINT c CHECK ({check}) NOT VALID")
    assert codes == [], "a CHECK the version's every write passes was refused"
