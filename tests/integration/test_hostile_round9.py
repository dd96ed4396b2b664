"""Hostile clients, round 9: a tagged role's own statement, replayed by the guard inside
the migration, must not run with the migrating login's privileges.

Replay runs a version's sampled statements on the migrating connection under SET LOCAL
ROLE of the version's role. A statement that calls set_config('role', 'none', true),
or a function of its own that runs RESET ROLE, went on as the migrating login (here a
superuser): it read a table its role may not read and wrote what it read into a
sequence, whose setval outlives the replay's rolled-back savepoint. A version whose
role the migrating login may not SET ROLE to was replayed as the migrating login
outright. PostgreSQL is the judge: the sequence's value, read directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, login_role, unique
from tests.support.proxy import ProxyProcess
from tests.support.sites import proxied_database

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE users (id int PRIMARY KEY, email text, name text);
INSERT INTO users VALUES (1, 'a@x', 'b');
CREATE TABLE secrets (s text);
INSERT INTO secrets VALUES ('topsecret');
CREATE SEQUENCE leak;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE leak TO PUBLIC;
"""
#: A migration whose replay reaches every sampled statement reading users.name.
MIGRATION = "ALTER TABLE users ALTER COLUMN name TYPE varchar(10)"


@pytest.fixture
def mallory(cluster: LocalCluster) -> Iterator[str]:
    """A login role that may read users and nothing else (roles are cluster-wide)."""
    with login_role(cluster, "h9_mallory") as role:
        yield role


@pytest.fixture
def site(
    cluster: LocalCluster, tmp_path: Path, mallory: str
) -> Iterator[tuple[LocalCluster, str, ProxyProcess]]:
    schema = SCHEMA + f"GRANT SELECT, INSERT ON users TO {mallory};"
    with proxied_database(cluster, tmp_path, "hostile9", schema) as (database, proxy):
        yield cluster, database, proxy
        with direct(cluster, dbname=database) as conn:
            conn.execute(f"DROP OWNED BY {mallory}")


@contextmanager
def _version(
    proxy: ProxyProcess, database: str, role: str, sql: str, params: tuple[object, ...] = (1,)
) -> Iterator[None]:
    """The version shop@9, connected as ``role`` and live meanwhile, has run ``sql`` with
    ``params`` three times (extended protocol: replay samples it with its values)."""
    url = proxy.url(user=role, database=database, application_name="shop@9")
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(3):
            conn.execute(sql, params).fetchall()
        proxy.versions()  # learned and sampled (the admin read flushes the learner)
        yield


def _leak(cluster: LocalCluster, database: str) -> tuple[object, ...] | None:
    with direct(cluster, dbname=database) as conn:
        return conn.execute("SELECT last_value, is_called FROM leak").fetchone()


def _migrate(proxy: ProxyProcess, database: str, user: str = "postgres") -> None:
    url = proxy.url(user=user, database=database, application_name="migrate")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(MIGRATION)


def test_a_sampled_set_config_role_does_not_run_as_the_migrating_login(
    site: tuple[LocalCluster, str, ProxyProcess], mallory: str
) -> None:
    cluster, database, proxy = site
    sql = (
        "SELECT set_config('role', 'none', true), CASE WHEN current_user <> "
        f"'{mallory}' THEN setval('leak', length((SELECT string_agg(x::text, '') FROM "
        "query_to_xml('SELECT s FROM secrets', true, false, '') x))) END, name "
        "FROM users WHERE id = %s"
    )
    with _version(proxy, database, mallory, sql):
        _migrate(proxy, database)
    assert _leak(cluster, database) == (1, False), "the replay read secrets as the superuser"


def test_a_function_of_the_version_running_reset_role_does_not_run_as_the_migrating_login(
    site: tuple[LocalCluster, str, ProxyProcess], mallory: str
) -> None:
    cluster, database, proxy = site
    with direct(cluster, dbname=database) as conn:
        conn.execute(f"CREATE SCHEMA m AUTHORIZATION {mallory}")
        conn.execute(f"SET ROLE {mallory}")
        conn.execute(
            "CREATE FUNCTION m.f() RETURNS int LANGUAGE plpgsql AS $$BEGIN RESET ROLE; "
            f"IF current_user <> '{mallory}' THEN "
            "PERFORM setval('leak', (SELECT length(s) FROM secrets)); END IF; RETURN 1; END$$"
        )
    with _version(proxy, database, mallory, "SELECT m.f(), name FROM users WHERE id = %s"):
        _migrate(proxy, database)
    assert _leak(cluster, database) == (1, False), "the replay read secrets as the superuser"


def test_a_version_the_migrating_login_cannot_become_is_not_replayed_as_that_login(
    site: tuple[LocalCluster, str, ProxyProcess], mallory: str
) -> None:
    cluster, database, proxy = site
    owner = unique("h9_owner")
    with direct(cluster, dbname=database) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN")
        conn.execute(f"ALTER TABLE users OWNER TO {owner}")
    try:
        sql = (
            f"SELECT CASE WHEN current_user <> '{mallory}' THEN setval('leak', 7) END, name "
            "FROM users WHERE id = %s"
        )
        with _version(proxy, database, mallory, sql):
            _migrate(proxy, database, user=owner)
        assert _leak(cluster, database) == (1, False), "replayed as the table's owner"
    finally:
        with direct(cluster, dbname=database) as conn:
            conn.execute(f"ALTER TABLE users OWNER TO postgres; DROP ROLE {owner}")


def test_another_roles_statements_are_still_replayed_where_no_code_can_leave_the_role(
    site: tuple[LocalCluster, str, ProxyProcess], mallory: str
) -> None:
    """The bound value 'bad' is only in the replayed Bind (parameters are not learned):
    replay, run as the version's role, finds the new CHECK rejecting it (an INSERT whose
    key exists inserts nothing, but PostgreSQL checks the row first)."""
    _, database, proxy = site
    sql = "INSERT INTO users (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING id"
    with _version(proxy, database, mallory, sql, (1, "bad")):
        url = proxy.url(database=database, application_name="migrate")
        with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.Error) as no:
            conn.execute("ALTER TABLE users ADD CONSTRAINT no_bad CHECK (name <> 'bad')")
    assert no.value.sqlstate == "55006", no.value
    assert "shop@9" in str(no.value)
