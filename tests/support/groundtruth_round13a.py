"""Round 13a ground-truth cases: round-12 leftovers (an inlined SQL function's body under an
upsert's arbiter, operators, identity ALWAYS, deferrable foreign keys, USING INDEX against
repeated constants, prepared comparisons without replay) and scenarios around them.

Each case is a rolling deploy a team really ships; PostgreSQL decides (see
tests/support/groundtruth.py) which versions a migration breaks.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, apg, extended, prepared, simple

V1, V2, V3 = "app@1", "app@2", "app@3"

ITEMS = """
CREATE TABLE items (
  id serial PRIMARY KEY, sku text NOT NULL, kind text NOT NULL DEFAULT 'std', qty int DEFAULT 0
);
INSERT INTO items (sku) VALUES ('a'), ('b');
"""

# an SQL function the planner inlines, under a unique expression index
NORM = (
    ITEMS
    + """
CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower(t)';
CREATE UNIQUE INDEX items_norm_sku ON items (norm(sku));
"""
)

# the same under a partial unique index's predicate
LIVE = (
    ITEMS
    + """
CREATE FUNCTION is_live(k text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT k <> ''gone''';
CREATE UNIQUE INDEX items_live_sku ON items (sku) WHERE is_live(kind);
"""
)

# a PL/pgSQL function is never inlined: the index holds the call itself
NORM_PLPGSQL = (
    ITEMS
    + """
CREATE FUNCTION norm(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE
  AS 'BEGIN RETURN lower(t); END';
CREATE UNIQUE INDEX items_norm_sku ON items (norm(sku));
"""
)

NORM_V2 = (
    "CREATE OR REPLACE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE"
    " AS 'SELECT lower(btrim(t))'"
)

ROUND13A_SAFE: list[Case] = [
    Case(
        id="safe-r13a-arbiter-function-same-body-again",
        schema_sql=NORM,
        versions={
            V1: [simple("INSERT INTO items (sku) VALUES ('A') ON CONFLICT (norm(sku)) DO NOTHING")],
        },
        migration_sql="CREATE OR REPLACE FUNCTION norm(t text) RETURNS text LANGUAGE sql"
        " IMMUTABLE AS 'SELECT lower(t)'; CREATE INDEX items_kind ON items (kind)",
        note="an idempotent migration re-runs the same definition",
    ),
    Case(
        id="safe-r13a-arbiter-function-body-replaced-vs-plain-upsert-and-reader",
        schema_sql=NORM,
        versions={
            V1: [
                extended(
                    "INSERT INTO items (id, sku) VALUES (%s, 'zz') ON CONFLICT (id) DO NOTHING",
                    1,
                )
            ],
            V2: [apg("SELECT id FROM items WHERE norm(sku) = $1", "a")],
        },
        migration_sql=NORM_V2,
        note="only an upsert inferring through norm() meets the stale index expression",
    ),
    Case(
        id="safe-r13a-plpgsql-arbiter-function-body-replaced",
        schema_sql=NORM_PLPGSQL,
        versions={
            V1: [simple("INSERT INTO items (sku) VALUES ('A') ON CONFLICT (norm(sku)) DO NOTHING")],
        },
        migration_sql="CREATE OR REPLACE FUNCTION norm(t text) RETURNS text LANGUAGE plpgsql"
        " IMMUTABLE AS 'BEGIN RETURN lower(btrim(t)); END'",
    ),
    Case(
        id="safe-r13a-partial-arbiter-predicate-function-narrowed",
        schema_sql=LIVE,
        versions={
            V1: [
                simple(
                    "INSERT INTO items (sku, kind) VALUES ('a', 'std')"
                    " ON CONFLICT (sku) WHERE is_live(kind) DO NOTHING"
                )
            ],
            V2: [prepared("SELECT count(*) FROM items WHERE is_live(kind)")],
        },
        migration_sql="CREATE OR REPLACE FUNCTION is_live(k text) RETURNS boolean LANGUAGE sql"
        " IMMUTABLE AS 'SELECT k NOT IN (''gone'', ''void'')'",
        note="the new expansion (NOT IN) still implies the cached predicate (<>): a risk only",
    ),
]

ROUND13A_BREAKING: list[Case] = [
    Case(
        id="break-r13a-arbiter-function-body-replaced-vs-upsert-do-update",
        schema_sql=NORM,
        versions={
            V1: [
                extended(
                    "INSERT INTO items (sku, qty) VALUES (%s, 1)"
                    " ON CONFLICT (norm(sku)) DO UPDATE SET qty = items.qty + 1",
                    "A",
                )
            ],
            V2: [simple("SELECT id FROM items WHERE norm(sku) = 'a'")],
        },
        migration_sql=NORM_V2,
        breaks=frozenset({V1}),
        note="42P10 on the open connection: its cached index expression is the old expansion",
    ),
]

CASES = ROUND13A_SAFE + ROUND13A_BREAKING
