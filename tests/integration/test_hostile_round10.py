"""Hostile clients, round 10: the guard's probes of existing rows and of a sequence's
numbers must not run anything of the client's that outlives them.

A probe evaluates the client's text: a new CHECK's expression (which may call any
function), and, for ALTER SEQUENCE ... AS, the type name it wrote. When the migrating
connection cannot take the probe (an unsynced extended-protocol batch before the held
statement), it runs on a side connection, as the upstream URL's user: there it ran in
autocommit, so a function the expression called committed what it did (here: dropping
a column a live version reads), even for a NOT VALID CHECK, which PostgreSQL never runs
on the rows there are. And the AS type name was pasted into the probe's text between
quotes, so a quoted name holding a quote ran SQL of the client's choosing. PostgreSQL is
the judge: the column, read directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess
from tests.support.sites import proxied_database

pytestmark = pytest.mark.integration

#: sg_x() stands for any function already in the database with an effect (an
#: administrator's helper running the SQL it builds): it drops scratch.a.
SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text);
INSERT INTO users (email) VALUES ('a@x');
CREATE TABLE scratch (a int);
CREATE FUNCTION sg_x() RETURNS regtype LANGUAGE plpgsql AS
    $$ BEGIN EXECUTE 'ALTER TABLE public.scratch DROP COLUMN a'; RETURN 'int8'; END $$;
"""


@pytest.fixture
def site(cluster: LocalCluster, tmp_path: Path) -> Iterator[tuple[LocalCluster, str, ProxyProcess]]:
    with proxied_database(cluster, tmp_path, "hostile10", SCHEMA) as (database, proxy):
        yield cluster, database, proxy


def _live(proxy: ProxyProcess, database: str, sql: str) -> psycopg.Connection[tuple[object, ...]]:
    """shop@10, live: it reads scratch.a and writes users (a probe runs for a writer)."""
    conn = psycopg.connect(
        proxy.url(database=database, application_name="shop@10"), autocommit=True
    )
    conn.execute(sql)
    proxy.versions()  # learned (the admin read flushes the learner)
    return conn


def _unsynced(proxy: ProxyProcess, database: str, ddl: str) -> list[str]:
    """``ddl`` held behind an unsynced SELECT: the guard cannot query the migrating
    connection, so its probes run on a side connection. The SQLSTATEs seen."""
    with rc.RawClient("127.0.0.1", proxy.port, timeout=20) as client:
        params = {"user": "postgres", "database": database, "application_name": "migrate"}
        assert client.startup(params)[-1].type == "Z"
        client.send(
            rc.parse("SELECT 1") + rc.bind() + rc.execute()
            + rc.parse(ddl, "d") + rc.bind(statement="d") + rc.execute() + rc.sync()
        )  # fmt: skip
        return [r.fields()["C"] for r in client.read_ready() if r.type == "E"]


def _scratch_a(cluster: LocalCluster, database: str) -> bool:
    with direct(cluster, dbname=database) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'scratch'::regclass"
            " AND attname = 'a' AND NOT attisdropped"
        ).fetchone()
    return bool(row and row[0] == 1)


def test_a_side_probe_of_a_not_valid_check_commits_nothing_its_functions_do(
    site: tuple[LocalCluster, str, ProxyProcess],
) -> None:
    cluster, database, proxy = site
    with _live(
        proxy, database, "UPDATE users SET email = 'c@x' WHERE id IN (SELECT a FROM scratch)"
    ):
        _unsynced(
            proxy,
            database,
            "ALTER TABLE users ADD CONSTRAINT c CHECK (email <> sg_x()::text) NOT VALID",
        )
    assert _scratch_a(cluster, database), "the probe committed what sg_x() did"


def test_a_quoted_sequence_type_name_does_not_leave_the_probes_literal(
    site: tuple[LocalCluster, str, ProxyProcess],
) -> None:
    cluster, database, proxy = site
    name = "int4'::regtype WHEN sg_x() THEN 0 END)+(CASE 'int4"
    sql = "INSERT INTO users (email) SELECT 'n@x' FROM scratch WHERE a = 1"
    with _live(proxy, database, sql):
        seen = _unsynced(proxy, database, f'ALTER SEQUENCE users_id_seq AS "{name}"')
    assert _scratch_a(cluster, database), "the probe ran sg_x()"
    assert seen, "PostgreSQL refuses such a type (or the guard does)"


def test_a_long_accented_name_in_a_latin1_database_is_not_judged_as_cut(
    site: tuple[LocalCluster, str, ProxyProcess],
) -> None:
    """PostgreSQL cuts names at 63 bytes of the database's encoding: 40 accented letters
    are 40 bytes in LATIN1, 80 in UTF-8, where the parser cut them to 31. The guard
    judged a DROP of that shorter column (none) and passed the DROP of the one read."""
    cluster, _, proxy = site
    database, name = unique("h10_latin1"), "é" * 40
    with direct(cluster) as conn:
        conn.execute(
            f"CREATE DATABASE {database} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'"
            " TEMPLATE template0"
        )
    try:
        with direct(cluster, dbname=database) as conn:
            conn.execute(f'CREATE TABLE t (id int, "{name}" text); INSERT INTO t VALUES (1, NULL)')
        read = f'SELECT "{name}" FROM t WHERE id = 1'
        url = proxy.url(database=database, application_name="lat@1")
        with psycopg.connect(url, autocommit=True) as live:
            live.execute(read).fetchall()
            proxy.versions()  # learned (the admin read flushes the learner)
            migrate = proxy.url(database=database, application_name="migrate")
            with psycopg.connect(migrate, autocommit=True) as conn:
                conn.execute("SET client_encoding = 'UTF8'")
                with pytest.raises(psycopg.Error) as refused:
                    conn.execute(f'ALTER TABLE t DROP COLUMN "{name}"')
            assert refused.value.sqlstate == "55006", refused.value
            live.execute(read).fetchall()  # PostgreSQL: the version still reads it
    finally:
        with direct(cluster) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
