"""Every rule example against a real PostgreSQL: does the version's query really break?

For each example: a fresh database, the schema, the version's query (must
work), the probes the engine asks for, of existing rows and of the constants
the query writes (compared with the example's expected answer), the migration
(must work), the query again. ``breaks`` must be what
PostgreSQL does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pglast
import psycopg
import pytest

from skewguard.analysis import analyze
from skewguard.analysis.values import value_facets
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay
from skewguard.footprint import Evidence, VersionKey
from skewguard.pgcluster import LocalCluster
from skewguard.rules import RULES
from skewguard.rules.base import Example
from skewguard.rules.engine import probes_needed

pytestmark = pytest.mark.integration

CASES = [
    pytest.param(ex, id=f"{rule.id}-{i}") for rule in RULES for i, ex in enumerate(rule.examples)
]
_counter = itertools.count()
VERSION = VersionKey("db", "app", "1.0")


def _run(conn: psycopg.Connection[tuple[object, ...]], sql: str) -> str | None:
    try:
        with conn.cursor() as cur:
            cur.execute(sql.encode())
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _again(usage: str) -> str:
    """The usage as the version runs it again on its connection: what it PREPAREd stays
    prepared (and holds what it was planned with), the rest runs anew."""
    kept = [s for s in pglast.split(usage) if not s.lstrip().upper().startswith("PREPARE")]
    return "; ".join(kept)


_RESET = """
DO $$ DECLARE name text; BEGIN
  FOR name IN SELECT rolname FROM pg_roles WHERE rolname IN ('sg_app', 'sg_admin') LOOP
    EXECUTE format('DROP OWNED BY %I; DROP ROLE %I', name, name);
  END LOOP;
  FOR name IN SELECT pubname FROM pg_publication LOOP
    EXECUTE format('DROP PUBLICATION %I', name);
  END LOOP;
END $$;
DROP SCHEMA IF EXISTS public, billing, invoicing, archive, app CASCADE;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
"""


@pytest.fixture(scope="module")
def example_db(cluster: LocalCluster) -> Iterator[str]:
    """One database for the examples, emptied before each."""
    name = f"sg_examples_{next(_counter)}"
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}".encode())
    yield cluster.url(database=name)
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)".encode())


@pytest.fixture
def database(example_db: str) -> str:
    with psycopg.connect(example_db, autocommit=True) as admin:
        admin.execute(_RESET.encode())
    return example_db


@pytest.mark.parametrize("ex", CASES)
def test_example_matches_postgres(database: str, ex: Example) -> None:
    with psycopg.connect(database, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        assert _run(conn, ex.schema_sql) is None
        with psycopg.connect(database, autocommit=True, cursor_factory=psycopg.ClientCursor) as app:
            assert _run(app, ex.usage_sql) is None, "the version's query must work before"
            overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
            overlay.apply(ex.schema_sql)
            after = Overlay(overlay.catalog)
            after.apply(ex.migration_sql)
            analysis = analyze(ex.usage_sql, catalog=overlay.catalog)
            facets = analysis.facets | value_facets(analysis.values)
            footprint = {VERSION: {f: Evidence(1, 0.0, 0.0, "") for f in facets}}
            for probe in probes_needed(after.net_changes(), footprint, after.catalog):
                row = conn.execute(probe.sql.encode()).fetchone()
                assert row is not None
                if ex.probe is not None:
                    assert bool(row[0]) == ex.probe, probe
            assert _run(conn, ex.migration_sql) is None, "the migration must succeed"
            error = _run(app, _again(ex.usage_sql))
    assert (error is not None) == ex.breaks, error
