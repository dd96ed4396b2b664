"""A session's temporary tables are its own: not learned as the schema's, and its
own DDL on them is not judged as DDL on a real table of the same name (enforce).

PostgreSQL finds an unqualified name in the session's ``pg_temp`` first. Learned
as ``public.staging``, a version that stages rows in a temporary table looked as
if it used a table that does not exist (``skewguard ready``: never ready), and a
real ``public.staging`` dropped later as if it broke that version. PostgreSQL is
the judge: the version keeps working after each change the proxy lets through.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct
from tests.support.proxy import ProxyProcess
from tests.support.sites import proxied_database

pytestmark = pytest.mark.integration

#: What a batch job of shop@1 runs, in one session: stage rows, merge them, clean up.
BATCH = [
    "CREATE TEMP TABLE staging (id int, email text)",
    "INSERT INTO staging VALUES (1, 'a@x'), (2, 'b@x')",
    "ALTER TABLE staging ADD COLUMN seen boolean",
    "CREATE INDEX ON staging (id)",
    "UPDATE users SET email = s.email FROM staging s WHERE users.id = s.id",
    "SELECT id, email, seen FROM staging",
    "CREATE TEMP TABLE batch_ids ON COMMIT DROP AS SELECT id FROM staging",
    "DROP TABLE staging",
]


@dataclass
class Shop:
    cluster: LocalCluster
    database: str
    proxy: ProxyProcess

    def connect(self, version: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
        name = f"shop@{version}" if version else "migrate"
        url = self.proxy.url(database=self.database, application_name=name)
        return psycopg.connect(url, autocommit=True)

    def migrate(self, sql: str) -> str | None:
        """Run ``sql`` through the proxy untagged; the SQLSTATE it failed with, or None."""
        with self.connect() as conn:
            try:
                conn.execute(sql)
            except psycopg.Error as exc:
                return exc.sqlstate
        return None

    def batch(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        for sql in BATCH[:-2]:
            conn.execute(sql)
        with conn.transaction():  # batch_ids lives until COMMIT
            conn.execute(BATCH[-2])
            conn.execute("SELECT count(*) FROM batch_ids").fetchone()
        conn.execute(BATCH[-1])


@pytest.fixture
def shop(cluster: LocalCluster, tmp_path: Path) -> Iterator[Shop]:
    schema = "CREATE TABLE users (id int PRIMARY KEY, email text);"
    schema += " INSERT INTO users VALUES (1, 'old'), (2, 'old')"
    with proxied_database(cluster, tmp_path, "temp", schema) as (database, proxy):
        yield Shop(cluster, database, proxy)


def test_a_batch_through_temporary_tables_learns_only_the_real_table(shop: Shop) -> None:
    with shop.connect("1") as v1:
        shop.batch(v1)
    footprint = shop.proxy.footprint(shop.database, "shop", "1")
    assert "relation_write:public.users" in footprint, footprint
    assert not [f for f in footprint if "staging" in f or "batch_ids" in f], footprint


def test_real_tables_named_like_a_version_s_temporary_ones_are_not_its(shop: Shop) -> None:
    with shop.connect("1") as v1:
        shop.batch(v1)
        # another team adds, then drops, a real table of the same name: shop@1 never used it
        assert (
            shop.migrate("CREATE TABLE staging (id int); CREATE TABLE batch_ids (id int)") is None
        )
        assert shop.migrate("DROP TABLE staging, batch_ids") is None
        shop.batch(v1)  # PostgreSQL: the version still works
    assert shop.migrate("ALTER TABLE users DROP COLUMN email") == "55006"  # it does use this


def test_a_version_drops_its_own_temporary_table_over_a_real_one_it_reads(shop: Shop) -> None:
    with direct(shop.cluster, dbname=shop.database) as conn:
        conn.execute("CREATE TABLE report (id int); INSERT INTO report VALUES (7)")
    with shop.connect("1") as v1:
        v1.execute("SELECT id FROM report").fetchall()  # the real one: protected
        v1.execute("CREATE TEMP TABLE report (id int)")  # shadows it in this session
        v1.execute("INSERT INTO report VALUES (1)")
        v1.execute("DROP TABLE report")  # the temporary one: allowed
        assert v1.execute("SELECT id FROM report").fetchall() == [(7,)]  # the real one again
    assert shop.migrate("DROP TABLE report") == "55006"  # the real one is still used


def test_a_drop_before_a_temporary_table_of_the_same_name_is_the_real_table(shop: Shop) -> None:
    """Names count from where PostgreSQL runs them: the temporary table made after the
    DROP in the same text does not cover it."""
    with shop.connect("1") as v1:
        v1.execute("SELECT id, email FROM users").fetchall()
    with shop.connect() as migrator, pytest.raises(psycopg.errors.ObjectInUse):
        migrator.execute("DROP TABLE users; CREATE TEMP TABLE users (id int)")
    with direct(shop.cluster, dbname=shop.database) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (2,)


def test_a_pipeline_that_makes_and_fills_a_temporary_table(shop: Shop) -> None:
    """Extended protocol, one Sync: the INSERT's Parse arrives with the CREATE's Execute,
    before PostgreSQL has run the CREATE; its name is still the session's own."""
    with shop.connect("1") as v1, v1.pipeline():
        v1.execute("CREATE TEMP TABLE piped (id int)", prepare=False)
        v1.execute("INSERT INTO piped VALUES (%s)", (1,))
        v1.execute("UPDATE users SET email = %s WHERE id = %s", ("p@x", 1))
    footprint = shop.proxy.footprint(shop.database, "shop", "1")
    assert "relation_write:public.users" in footprint, footprint
    assert not [f for f in footprint if "piped" in f], footprint
