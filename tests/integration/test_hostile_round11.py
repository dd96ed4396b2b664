"""Hostile clients, round 11: a probe on a side connection runs the client's expression
with the client's privileges, never the upstream URL user's.

A new CHECK's expression (which may call any function) is evaluated by the guard's probe
before the statement is forwarded. When the migrating connection cannot take the probe
(an unsynced extended-protocol batch before the held statement) it runs on a side
connection, which logs in as the upstream URL's user (here the superuser postgres).
Until round 11 it ran there as that user: a plain role's ``CHECK (...
pg_terminate_backend(pid) ...)`` ended a superuser's session, which that role may not
do (read-only and the rollback do not stop it), and ``set_config('role', 'none', true)``
inside the expression would undo a bare SET ROLE. PostgreSQL is the judge: the victim
session, still answering or not.
"""

from __future__ import annotations

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
def mallory(cluster: LocalCluster) -> Iterator[str]:
    """A plain login role (roles are cluster-wide): it may not end a superuser's session."""
    with login_role(cluster, "h11_mallory") as role:
        yield role


@pytest.fixture
def site(
    cluster: LocalCluster, tmp_path: Path, mallory: str
) -> Iterator[tuple[LocalCluster, str, ProxyProcess]]:
    """notes belongs to mallory (it may add a CHECK to it); shop@11 writes notes.body."""
    schema = (
        f"CREATE TABLE notes (id serial PRIMARY KEY, body text); ALTER TABLE notes OWNER TO "
        f"{mallory}; INSERT INTO notes (body) VALUES ('a');"
    )
    with proxied_database(cluster, tmp_path, "hostile11", schema) as (database, proxy):
        yield cluster, database, proxy
        with direct(cluster, dbname=database) as conn:
            conn.execute(f"DROP OWNED BY {mallory}")


def _live(proxy: ProxyProcess, database: str) -> psycopg.Connection[tuple[object, ...]]:
    """shop@11, live: it writes notes.body (a probe runs for a writer)."""
    url = proxy.url(database=database, application_name="shop@11")
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("INSERT INTO notes (body) VALUES ('b')")
    proxy.versions()  # learned (the admin read flushes the learner)
    return conn


def _unsynced(proxy: ProxyProcess, database: str, user: str, ddl: str) -> list[str]:
    """``ddl`` sent by ``user`` behind an unsynced SELECT: the guard cannot query the
    migrating connection, so its probes run on a side connection. The SQLSTATEs seen."""
    with rc.RawClient("127.0.0.1", proxy.port, timeout=20) as client:
        params = {"user": user, "database": database, "application_name": "migrate"}
        assert client.startup(params)[-1].type == "Z"
        client.send(
            rc.parse("SELECT 1") + rc.bind() + rc.execute()
            + rc.parse(ddl, "d") + rc.bind(statement="d") + rc.execute() + rc.sync()
        )  # fmt: skip
        return [r.fields()["C"] for r in client.read_ready() if r.type == "E"]


@pytest.mark.parametrize(
    "expression",
    [
        "body <> pg_terminate_backend({pid})::text",
        # a bare SET ROLE is undone by the expression itself
        "body <> (set_config('role', 'none', true) || pg_terminate_backend({pid})::text)",
    ],
    ids=["terminate", "set_config-role"],
)
def test_a_side_probe_does_not_end_a_superusers_session_for_a_plain_role(
    site: tuple[LocalCluster, str, ProxyProcess], mallory: str, expression: str
) -> None:
    cluster, database, proxy = site
    with direct(cluster, dbname=database) as victim, _live(proxy, database):
        row = victim.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        check = expression.format(pid=row[0])
        ddl = f"ALTER TABLE notes ADD CONSTRAINT c CHECK ({check}) NOT VALID"
        _unsynced(proxy, database, mallory, ddl)
        try:
            victim.execute("SELECT 1").fetchone()
        except psycopg.OperationalError as exc:
            pytest.fail(f"the probe ended a superuser's session for {mallory}: {exc}")


def test_a_side_probe_as_the_role_still_answers_for_what_the_role_may_read(
    site: tuple[LocalCluster, str, ProxyProcess], mallory: str
) -> None:
    """shop@11 writes 'b': a NOT VALID CHECK refusing it breaks the version, which only
    the probe of the version's constants (run as mallory, who owns notes) can tell."""
    _, database, proxy = site
    with _live(proxy, database):
        seen = _unsynced(
            proxy,
            database,
            mallory,
            "ALTER TABLE notes ADD CONSTRAINT c CHECK (body <> 'b') NOT VALID",
        )
    assert seen == ["55006"], "the probe as the role gave no answer (the DDL passed)"
