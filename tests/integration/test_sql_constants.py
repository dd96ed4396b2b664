"""PostgreSQL judges ``sql_constants``: the statement an EXECUTE of a string built of
constants runs is the one PostgreSQL builds (quoting aside, which changes nothing)."""

from __future__ import annotations

import psycopg
import pytest
from pglast import parse_sql

from skewguard.pgcluster import LocalCluster
from skewguard.sql_constants import constant_value

BUILT = [
    "format('ALTER TABLE %I DROP COLUMN %I', 'orders', 'note')",
    "format('ALTER TABLE %I RENAME TO %I', 'Order Items', 'order\"items')",
    "format('DROP TABLE %I.%I', 'select', 'user')",  # keywords: PostgreSQL quotes them
    "format('ALTER TABLE t ADD COLUMN %I int', 'plain_name_1')",  # PostgreSQL leaves it bare
    "format('ALTER TABLE t ALTER c SET DEFAULT %L', 'it''s a \\ backslash')",
    "format('COMMENT ON TABLE t IS %L', E'tab\\there')",
    "format('ALTER TABLE %2$I ADD COLUMN %1$I %3$s', 'c', 't', 'bigint')",
    "'ALTER TABLE ' || quote_ident('Mixed') || ' SET (fillfactor = ' || 70 || ')'",
    "'COMMENT ON COLUMN t.c IS ' || quote_literal('100%% ''sure''')",
    "format('CREATE INDEX %I ON t (c) WHERE c <> %L', 'ix_ü', 'ü''x')",
]


@pytest.mark.parametrize("expression", BUILT)
def test_the_statement_built_is_the_one_postgres_builds(
    cluster: LocalCluster, expression: str
) -> None:
    ours = constant_value(expression)
    assert ours is not None
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        built = conn.execute(f"SELECT {expression}").fetchone()
    assert built is not None
    assert parse_sql(ours) == parse_sql(str(built[0])), (ours, built[0])
