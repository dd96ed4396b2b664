"""Ground truth: migrations wrapped in DO blocks, as tools and hand-written scripts
send them: idempotent creates (``IF NOT EXISTS`` checks, ``EXCEPTION WHEN
duplicate_object``) that run again at every deploy, conditional drops and renames,
and DDL a block builds at run time.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, extended, prepared, simple

V1, V2 = "app@1", "app@2"

ORDERS = """
CREATE TYPE status AS ENUM ('new', 'paid');
CREATE TABLE orders (id serial PRIMARY KEY, status status NOT NULL DEFAULT 'new', note text);
INSERT INTO orders (status, note) VALUES ('new', 'a'), ('paid', 'b');
"""
READS: list[str | Q] = [
    prepared("SELECT id, status, note FROM orders WHERE id = %s", 1),
    simple("SELECT count(*) FROM orders WHERE status = 'paid'"),
]
WRITES: list[str | Q] = [
    extended("INSERT INTO orders (status, note) VALUES (%s, %s)", "new", "c"),
]

CASES: list[Case] = [
    Case(
        id="safe-do-create-type-if-not-exists-again",
        schema_sql=ORDERS,
        versions={V1: READS, V2: WRITES},
        migration_sql="DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'status')"
        " THEN CREATE TYPE status AS ENUM ('new', 'paid'); END IF; END $$;"
        " ALTER TABLE orders ADD COLUMN total numeric",
        note="the type exists: the branch does not run",
    ),
    Case(
        id="safe-do-create-type-exception-duplicate-again",
        schema_sql=ORDERS,
        versions={V1: READS, V2: WRITES},
        migration_sql="DO $$ BEGIN CREATE TYPE status AS ENUM ('new', 'paid');"
        " EXCEPTION WHEN duplicate_object THEN null; END $$;"
        " ALTER TABLE orders ADD COLUMN total numeric",
        note="the create fails and the handler swallows it",
    ),
    Case(
        id="safe-do-add-column-if-missing",
        schema_sql=ORDERS,
        versions={V1: READS, V2: WRITES},
        migration_sql="DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'orders' AND column_name = 'total') THEN"
        " ALTER TABLE orders ADD COLUMN total numeric; END IF; END $$",
    ),
    Case(
        id="safe-do-create-new-type-and-table",
        schema_sql=ORDERS,
        versions={V1: READS, V2: WRITES},
        migration_sql="DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'tier')"
        " THEN CREATE TYPE tier AS ENUM ('free', 'pro'); END IF; END $$;"
        " CREATE TABLE IF NOT EXISTS plans (id serial PRIMARY KEY, tier tier)",
    ),
    Case(
        id="break-do-drop-column-if-exists-vs-reader",
        schema_sql=ORDERS,
        versions={V1: READS, V2: WRITES},
        migration_sql="DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'orders' AND column_name = 'note') THEN"
        " ALTER TABLE orders DROP COLUMN note; END IF; END $$",
        breaks=frozenset({V1, V2}),
        note="the column exists: the drop runs",
    ),
    Case(
        id="break-do-rename-column-if-old-name-vs-reader",
        schema_sql=ORDERS,
        versions={V1: READS, V2: [simple("SELECT 1")]},
        migration_sql="DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'orders' AND column_name = 'note') THEN"
        " ALTER TABLE orders RENAME COLUMN note TO remark; END IF; END $$",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-do-execute-format-drop-vs-reader",
        schema_sql=ORDERS,
        versions={V1: READS, V2: [simple("SELECT 1")]},
        migration_sql="DO $$ BEGIN EXECUTE format('ALTER TABLE %I DROP COLUMN %I', 'orders',"
        " 'note'); END $$",
        breaks=frozenset({V1}),
        note="built of constants: the statement it runs is known",
    ),
    Case(
        id="safe-do-add-enum-value-if-missing",
        schema_sql=ORDERS,
        versions={V1: READS, V2: WRITES},
        migration_sql="ALTER TYPE status ADD VALUE IF NOT EXISTS 'shipped'",
    ),
    Case(
        id="safe-do-index-if-missing",
        schema_sql=ORDERS,
        versions={V1: READS, V2: WRITES},
        migration_sql="DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname ="
        " 'orders_status_idx') THEN CREATE INDEX orders_status_idx ON orders (status);"
        " END IF; END $$",
    ),
    Case(
        id="safe-do-rename-column-again-after-it-ran",
        schema_sql=ORDERS.replace("note", "remark"),
        versions={V1: [simple("SELECT remark FROM orders")], V2: [simple("SELECT 1")]},
        migration_sql="DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'orders' AND column_name = 'note') THEN"
        " ALTER TABLE orders RENAME COLUMN note TO remark; END IF; END $$;"
        " CREATE INDEX orders_remark_idx ON orders (remark)",
        note="run again by the next deploy: the old name is gone, the branch does not run",
    ),
    Case(
        id="safe-do-add-column-that-exists",
        schema_sql=ORDERS,
        versions={V1: READS, V2: WRITES},
        migration_sql="DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'orders' AND column_name = 'note') THEN"
        " ALTER TABLE orders ADD COLUMN note text NOT NULL; END IF; END $$;"
        " CREATE INDEX orders_note_idx ON orders (note)",
        note="the column exists: the NOT NULL add does not run",
    ),
]
