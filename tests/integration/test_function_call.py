"""FunctionCall ('F', the fast path) is judged (#9).

The fast path calls a function by OID, so it could run a function that does
DDL. libpq's large-object API (psql's ``\\lo_import`` / ``\\lo_export``) uses
it for pg_catalog's large-object functions only: those pass. Any other
function called that way is opaque code: refused in enforce mode where the
database has a protected version, and answered as PostgreSQL answers a
failing call (ErrorResponse, then ReadyForQuery; an open transaction aborted).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clients import direct, psql
from tests.support.proxy import ProxyProcess
from tests.support.sites import proxied_database

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE users (id int PRIMARY KEY, email text);
INSERT INTO users VALUES (1, 'a@x');
CREATE FUNCTION drop_email() RETURNS int LANGUAGE plpgsql AS
  $$ BEGIN ALTER TABLE users DROP COLUMN email; RETURN 1; END $$;
"""
INT4PL = 177  # pg_catalog.int4pl: not a large-object function


@dataclass
class Site:
    cluster: LocalCluster
    database: str
    proxy: ProxyProcess

    def columns(self) -> set[str]:
        with direct(self.cluster, dbname=self.database) as conn:
            rows = conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'users'::regclass "
                "AND attnum > 0 AND NOT attisdropped"
            ).fetchall()
        return {str(r[0]) for r in rows}

    def function_oid(self) -> int:
        with direct(self.cluster, dbname=self.database) as conn:
            row = conn.execute("SELECT 'drop_email'::regproc::oid::int").fetchone()
        assert row is not None
        return int(str(row[0]))

    def raw(self) -> rc.RawClient:
        client = rc.RawClient("127.0.0.1", self.proxy.port)
        assert client.startup({"user": "postgres", "database": self.database})[-1].type == "Z"
        return client


@pytest.fixture
def site(cluster: LocalCluster, tmp_path: Path) -> Iterator[Site]:
    with proxied_database(cluster, tmp_path, "fastpath", SCHEMA) as (database, proxy):
        yield Site(cluster, database, proxy)


@pytest.fixture
def protected(site: Site) -> Iterator[None]:
    """A live version reading users.email."""
    url = site.proxy.url(database=site.database, application_name="shop@1")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT email FROM users WHERE id = 1").fetchall()
        yield


@pytest.mark.usefixtures("protected")
def test_psql_large_objects_pass_in_a_protected_database(
    site: Site, psql_bin: str, tmp_path: Path
) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 40)
    target = tmp_path / "out.bin"
    dsn = site.proxy.url(database=site.database)
    imported = psql(psql_bin, dsn, "-c", f"\\lo_import {source}")
    assert imported.returncode == 0, imported.stderr
    oid = int(imported.stdout.split()[1])  # "lo_import 16400"
    exported = psql(psql_bin, dsn, "-c", f"\\lo_export {oid} {target}")
    assert exported.returncode == 0, exported.stderr
    assert target.read_bytes() == source.read_bytes()
    unlinked = psql(psql_bin, dsn, "-c", f"\\lo_unlink {oid}")
    assert unlinked.returncode == 0, unlinked.stderr
    decisions = json.loads(site.proxy.get("/api/decisions"))["decisions"]
    assert not [d for d in decisions if "fast-path" in " ".join(d["statements"])]


@pytest.mark.usefixtures("protected")
def test_a_function_called_by_oid_is_opaque_code_and_refused(site: Site) -> None:
    with site.raw() as client:
        client.send(rc.function_call(site.function_oid(), []))
        replies = client.read_ready()
        assert [r.type for r in replies] == ["E", "Z"]
        assert rc.error_code(replies) == "55006"
        assert replies[-1].body == b"I"
        # inside a transaction block it fails like the call would: the block is aborted
        client.send(rc.query("BEGIN"), rc.function_call(INT4PL, [b"2", b"3"]))
        replies = client.read_ready(2)
        assert rc.error_code(replies) == "55006" and replies[-1].body == b"E"
        client.send(rc.query("ROLLBACK"))
        assert rc.error_code(client.read_ready()) is None
    assert "email" in site.columns()
    decisions = json.loads(site.proxy.get("/api/decisions"))["decisions"]
    assert [d["decision"] for d in decisions[:2]] == ["block", "block"]
    assert decisions[1]["statements"] == [f'fast-path call of function "{site.function_oid()}"']


def test_without_a_protected_version_a_function_call_runs(site: Site) -> None:
    with site.raw() as client:
        client.send(rc.function_call(INT4PL, [b"2", b"3"]))
        replies = client.read_ready()
        assert [r.type for r in replies] == ["V", "Z"]
        assert replies[0].body.endswith(b"5")
        client.send(rc.function_call(site.function_oid(), []))
        assert rc.error_code(client.read_ready()) is None
    assert "email" not in site.columns()
