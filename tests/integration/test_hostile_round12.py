"""Hostile clients, round 12: a probe answers for the role that will run what it asks
about.

A new CHECK is evaluated on each version's known constants before the statement is
forwarded (rules.constraints.value_probes); a constant every write is known to be and
the CHECK accepts clears the version. PostgreSQL evaluates a CHECK as the writer, i.e. as
the role the version connects as. Until round 12 the probe ran as the migrating session:
``CHECK (body <> 'b' OR current_user = 'postgres')`` accepted shop@12's 'b' for the
superuser migrating, the version was cleared and the DDL passed, and every INSERT of
shop@12 failed after it. PostgreSQL is the judge: the same INSERT as the version's role.

A probe on a side connection (an unsynced batch) ran as the login role even where the
session's role was another: a NOINHERIT login that reached the owner through SET ROLE or
a role default had its probe of existing rows refused, and a CHECK the rows violate
passed as a risk. It now runs as the role PostgreSQL said at session start; after the
session's own role change the guard cannot judge there and refuses.

The probe of the numbers an ALTER SEQUENCE hands out answered "free" from the rows a
forced row-level security policy left the owner migrating; it now runs with
row_security off (no answer, a break, where a policy would filter it). A new NOT NULL
column's DEFAULT that is NULL for the version (by its role, or always) passed as any
default; PostgreSQL is now asked whether it is NULL, as the version's roles. A probe
refused on the migrating connection was logged with its text (written values and all).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clients import direct, login_role, unique
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


def _check_behind_a_batch(
    proxy: ProxyProcess, database: str, shop_role: str, check: str
) -> list[str]:
    """While shop@12 is live, a migration adds ``check`` behind an unsynced batch (the
    probe runs on a side connection); the SQLSTATEs it got."""
    with _live(proxy, database, shop_role), rc.RawClient("127.0.0.1", proxy.port) as client:
        params = {"user": "postgres", "database": database, "application_name": "migrate"}
        assert client.startup(params)[-1].type == "Z"
        return _unsynced(client, f"ALTER TABLE notes ADD CONSTRAINT c CHECK ({check}) NOT VALID")


@pytest.mark.parametrize("check", ROLE_DEPENDENT, ids=["current_user", "pg_has_role", "privilege"])
def test_a_check_on_the_versions_constants_is_judged_as_the_versions_role(
    site: tuple[LocalCluster, str, ProxyProcess], shop_role: str, check: str
) -> None:
    cluster, database, proxy = site
    assert _refuses(cluster, database, shop_role, check), "PostgreSQL accepts shop's write"
    codes = _check_behind_a_batch(proxy, database, shop_role, check)
    assert codes == ["55006"], "the CHECK breaking shop@12's every INSERT passed"


def test_a_role_only_check_is_not_passed_where_the_side_probe_may_not_use_the_role(
    site: tuple[LocalCluster, str, ProxyProcess], shop_role: str
) -> None:
    """A function shop wrote is code a role could leave its role with: the side
    connection may not run as shop there, and the CHECK's answer is shop's alone."""
    cluster, database, proxy = site
    with direct(cluster, dbname=database) as conn:
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {shop_role}")
        conn.execute(f"SET ROLE {shop_role}; CREATE FUNCTION shop_f() RETURNS int AS 'SELECT 1'"
                     " LANGUAGE sql; RESET ROLE")  # fmt: skip
    check = "body <> 'b' OR current_user = 'postgres'"
    codes = _check_behind_a_batch(proxy, database, shop_role, check)
    assert codes == ["55006"], "the CHECK breaking shop@12's every INSERT passed"


def test_a_check_asking_the_session_clears_no_version_on_a_probe_elsewhere(
    site: tuple[LocalCluster, str, ProxyProcess], shop_role: str
) -> None:
    """The side probe's application_name is not shop@12's: the constant 'b' passing there
    says nothing of shop@12's INSERT, which PostgreSQL refuses. Not cleared: the version
    is named (a risk, as for a writer of parameters), never silently passed over."""
    _, database, proxy = site
    check = "body <> 'b' OR current_setting('application_name') NOT LIKE 'shop@%'"
    with _live(proxy, database, shop_role) as live, rc.RawClient("127.0.0.1", proxy.port) as c:
        params = {"user": "postgres", "database": database, "application_name": "migrate"}
        assert c.startup(params)[-1].type == "Z"
        _unsynced(c, f"ALTER TABLE notes ADD CONSTRAINT c CHECK ({check}) NOT VALID")
        with pytest.raises(psycopg.errors.CheckViolation):
            live.execute("INSERT INTO notes (body) VALUES ('b')")
    decisions = json.loads(proxy.get("/api/decisions?limit=1"))["decisions"]
    named = {
        (f["severity"], f["version"]["app"], f["version"]["version"])
        for f in decisions[0]["findings"]
        if f["version"]
    }
    assert ("risk", "shop", "12") in named, decisions[0]


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


# A session's own role: a side probe cannot know whom the DDL runs as once the session
# (or a role default) moved it. notes12 belongs to a NOLOGIN role its NOINHERIT member
# reaches only through SET ROLE, so a probe as the login role may not read the rows.


@pytest.fixture
def owned(
    site: tuple[LocalCluster, str, ProxyProcess],
) -> Iterator[tuple[LocalCluster, str, ProxyProcess, str]]:
    """(cluster, database, proxy, migrator): the migrator logs in NOINHERIT and reaches
    the owner of notes12 only with SET ROLE; notes12 holds 'b' (shop@12 wrote it)."""
    cluster, database, proxy = site
    owner, migrator = unique("h12_owner"), unique("h12_migrator")
    with direct(cluster, dbname=database) as conn:
        conn.execute(
            f"CREATE ROLE {owner}; CREATE ROLE {migrator} LOGIN NOINHERIT IN ROLE {owner};"
            " CREATE TABLE notes12 (id serial PRIMARY KEY, body text);"
            f" ALTER TABLE notes12 OWNER TO {owner}; INSERT INTO notes12 (body) VALUES ('b')"
        )
    try:
        yield cluster, database, proxy, migrator
    finally:
        with direct(cluster, dbname=database) as conn:
            conn.execute(f"DROP TABLE notes12; DROP ROLE {migrator}; DROP ROLE {owner}")


def _writer12(proxy: ProxyProcess, database: str) -> psycopg.Connection[tuple[object, ...]]:
    """shop@12 (as postgres), live: it writes notes12.body from a parameter."""
    url = proxy.url(database=database, application_name="shop@12")
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("INSERT INTO notes12 (body) VALUES (%s)", ("b",))
    time.sleep(1.5)  # learned
    return conn


def _as_migrator(proxy: ProxyProcess, database: str, user: str, *first: str) -> list[str]:
    """``first`` (simple Queries), then a CHECK existing rows violate, behind an unsynced
    SELECT: the SQLSTATEs of the CHECK's batch."""
    with rc.RawClient("127.0.0.1", proxy.port, timeout=20) as client:
        params = {"user": user, "database": database, "application_name": "migrate"}
        assert client.startup(params)[-1].type == "Z"
        for sql in first:
            client.send(rc.query(sql))
            assert [r.type for r in client.read_ready() if r.type == "E"] == [], sql
        return _unsynced(
            client, "ALTER TABLE notes12 ADD CONSTRAINT c CHECK (body <> 'b') NOT VALID"
        )


def _owner(cluster: LocalCluster, database: str) -> str:
    with direct(cluster, dbname=database) as conn:
        row = conn.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'notes12'"
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize("how", ["SET ROLE", "SET SESSION ROLE", "role default"])
def test_a_side_probe_after_the_session_moved_its_role_does_not_judge_as_the_login(
    owned: tuple[LocalCluster, str, ProxyProcess, str], how: str
) -> None:
    """As the migrator, the probe of existing rows may not read notes12 (no answer: a
    risk, and the CHECK breaking shop@12's writes of 'b' passed); the CHECK itself runs
    as the owner."""
    cluster, database, proxy, migrator = owned
    owner = _owner(cluster, database)
    first = ["SET search_path = public"]  # no "$user" to follow the role
    if how == "role default":
        with direct(cluster) as conn:
            conn.execute(f"ALTER ROLE {migrator} IN DATABASE {database} SET role = {owner}")
    else:
        first.append(f"{how} {owner}")
    with _writer12(proxy, database):
        seen = _as_migrator(proxy, database, migrator, *first)
    assert seen == ["55006"], "the CHECK breaking shop@12's writes passed as a risk"


def test_a_session_that_moved_its_role_still_runs_ddl_that_needs_no_probe(
    owned: tuple[LocalCluster, str, ProxyProcess, str],
) -> None:
    cluster, database, proxy, migrator = owned
    owner = _owner(cluster, database)
    with _writer12(proxy, database), rc.RawClient("127.0.0.1", proxy.port) as client:
        params = {"user": migrator, "database": database, "application_name": "migrate"}
        assert client.startup(params)[-1].type == "Z"
        client.send(rc.query(f"SET search_path = public; SET ROLE {owner}"))
        client.read_ready()
        assert _unsynced(client, "ALTER TABLE notes12 ADD COLUMN extra int") == []


def test_a_sequence_probe_is_not_answered_from_rows_a_policy_hides(
    site: tuple[LocalCluster, str, ProxyProcess],
) -> None:
    """The owner migrating is subject to its table's forced row-level security: its probe
    of the numbers a RESTART hands out saw none of the rows, said "free", and the RESTART
    passed; shop@12's next INSERT then collides. PostgreSQL judges it."""
    cluster, database, proxy = site
    owner = unique("h12_seqowner")
    with direct(cluster, dbname=database) as conn:
        conn.execute(
            f"CREATE ROLE {owner} LOGIN;"
            " CREATE TABLE tickets (id serial PRIMARY KEY, tenant text);"
            f" ALTER TABLE tickets OWNER TO {owner};"
            " ALTER TABLE tickets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;"
            " CREATE POLICY mine ON tickets USING (tenant = current_user);"
            " INSERT INTO tickets (tenant) SELECT 'other' FROM generate_series(1, 5)"
        )
    try:
        url = proxy.url(database=database, application_name="shop@12")
        with psycopg.connect(url, autocommit=True) as shop:
            shop.execute("INSERT INTO tickets (tenant) VALUES ('other')")
            time.sleep(1.5)  # learned
            with rc.RawClient("127.0.0.1", proxy.port, timeout=20) as client:
                params = {"user": owner, "database": database, "application_name": "migrate"}
                assert client.startup(params)[-1].type == "Z"
                seen = _unsynced(client, "ALTER SEQUENCE tickets_id_seq RESTART WITH 1")
            if seen != ["55006"]:
                with pytest.raises(psycopg.errors.UniqueViolation):
                    shop.execute("INSERT INTO tickets (tenant) VALUES ('other')")
        assert seen == ["55006"], "the RESTART onto numbers the rows hold passed"
    finally:
        with direct(cluster, dbname=database) as conn:
            conn.execute(f"DROP TABLE tickets; DROP ROLE {owner}")


# A new NOT NULL column's DEFAULT is evaluated for each INSERT that leaves the column out,
# as the writer: one that is NULL for the version breaks its every INSERT (23502).


@pytest.mark.parametrize(
    ("default", "breaks"),
    [
        ("(CASE WHEN current_user = 'postgres' THEN 'x' END)", True),
        ("nullif('a', 'a')", True),
        ("'x'", False),
        ("now()::text", False),
        ("md5(random()::text)", False),
    ],
    ids=["null-for-the-role", "always-null", "constant", "now", "volatile"],
)
def test_a_not_null_columns_default_is_probed_for_the_versions_inserts(
    site: tuple[LocalCluster, str, ProxyProcess], shop_role: str, default: str, breaks: bool
) -> None:
    cluster, database, proxy = site
    with _live(proxy, database, shop_role) as live, rc.RawClient("127.0.0.1", proxy.port) as c:
        conn_params = {"user": "postgres", "database": database, "application_name": "migrate"}
        assert c.startup(conn_params)[-1].type == "Z"
        with direct(cluster, dbname=database) as conn:
            conn.execute("DELETE FROM notes")  # PostgreSQL fills rows with an always-NULL one
        seen = _unsynced(c, f"ALTER TABLE notes ADD COLUMN c text NOT NULL DEFAULT {default}")
        if seen == []:  # passed: PostgreSQL says whether shop@12 still inserts
            try:
                live.execute("INSERT INTO notes (body) VALUES ('b')")
            except psycopg.errors.NotNullViolation:
                pytest.fail("the new column passed and shop@12's INSERT fails")
    assert seen == (["55006"] if breaks else []), seen


@pytest.mark.parametrize(
    ("default", "breaks"),
    [("(CASE WHEN current_user = 'postgres' THEN 'x' END)", True), ("'y'", False)],
    ids=["null-for-the-role", "constant"],
)
def test_a_not_null_columns_new_default_is_probed_for_the_versions_inserts(
    site: tuple[LocalCluster, str, ProxyProcess], shop_role: str, default: str, breaks: bool
) -> None:
    cluster, database, proxy = site
    with direct(cluster, dbname=database) as conn:
        conn.execute("ALTER TABLE notes ADD COLUMN c text NOT NULL DEFAULT 'x'")
    with _live(proxy, database, shop_role) as live, rc.RawClient("127.0.0.1", proxy.port) as c:
        conn_params = {"user": "postgres", "database": database, "application_name": "migrate"}
        assert c.startup(conn_params)[-1].type == "Z"
        seen = _unsynced(c, f"ALTER TABLE notes ALTER COLUMN c SET DEFAULT {default}")
        if seen == []:
            try:
                live.execute("INSERT INTO notes (body) VALUES ('b')")
            except psycopg.errors.NotNullViolation:
                pytest.fail("the new default passed and shop@12's INSERT fails")
    assert seen == (["55006"] if breaks else []), seen


def test_a_failed_probe_on_the_migrating_connection_logs_no_written_value(
    site: tuple[LocalCluster, str, ProxyProcess], shop_role: str, tmp_path: Path
) -> None:
    """A probe of a version's constants carries them; one PostgreSQL refuses (here the
    constant is no integer) was logged with its text."""
    _, database, proxy = site
    secret = "hunter2-literal-1212"
    url = proxy.url(user=shop_role, database=database, application_name="shop@12")
    with psycopg.connect(url, autocommit=True) as live:
        live.execute(f"INSERT INTO notes (body) VALUES ('{secret}')")
        time.sleep(1.5)  # learned
        with rc.RawClient("127.0.0.1", proxy.port) as client:
            params = {"user": "postgres", "database": database, "application_name": "migrate"}
            assert client.startup(params)[-1].type == "Z"
            client.send(
                rc.query("ALTER TABLE notes ADD CONSTRAINT c CHECK (body::int > 0) NOT VALID")
            )
            client.read_ready()
    logged = (tmp_path / "proxy.log").read_text()
    assert "own query failed" in logged  # the probe did fail
    assert secret not in logged
