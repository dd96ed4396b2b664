"""Ground truth, round 13b: ORM and migration-tool shapes as they really arrive (Django's
add-column-with-default-then-drop-default transaction, index renames, SET CONSTRAINTS;
Rails' column renames and change_column_null with a backfill; Flyway/Liquibase
lock_timeout settings, comments and dollar-quoted bodies in one Query; Prisma enum
values and type changes with USING), maintenance that must never be blocked (VACUUM,
ANALYZE, CLUSTER, fillfactor, VALIDATE CONSTRAINT, concurrent index builds and drops),
and sequences renamed under ``nextval('name')``.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, apg, extended, prepared, simple

V1, V2 = "app@1", "app@2"

ITEMS = """
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, sku text, qty int);
CREATE INDEX items_name_idx ON items (name);
INSERT INTO items (name, sku, qty) VALUES ('a', 's1', 1), ('b', NULL, 2);
"""
#: what an ORM's save() sends: an explicit column list without the new column
ORM_INSERT: list[str | Q] = [
    extended("INSERT INTO items (name, sku, qty) VALUES (%s, %s, %s) RETURNING id", "c", "s", 3)
]
ORM_READ: list[str | Q] = [prepared("SELECT id, name, sku, qty FROM items WHERE id = %s", 1)]

CASES: list[Case] = [
    # -------------------------------------------------------------------- Django
    Case(
        id="break-r13b-django-add-not-null-default-then-drop-default-vs-old-insert",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: ORM_READ},
        migration_sql="BEGIN;"
        " ALTER TABLE items ADD COLUMN flag boolean DEFAULT false NOT NULL;"
        " ALTER TABLE items ALTER COLUMN flag DROP DEFAULT; COMMIT",
        breaks=frozenset({V1}),
        note="Django's AddField: the default only backfills; V1's inserts omit flag (23502)",
    ),
    Case(
        id="safe-r13b-django-add-nullable-default-then-drop-default",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: ORM_READ},
        migration_sql="BEGIN;"
        " ALTER TABLE items ADD COLUMN flag boolean DEFAULT false NULL;"
        " ALTER TABLE items ALTER COLUMN flag DROP DEFAULT; COMMIT",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-r13b-django-index-rename",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: [simple("SELECT id FROM items WHERE name = 'a'")]},
        migration_sql="ALTER INDEX items_name_idx RENAME TO items_name_5a1b2c_idx",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-r13b-django-set-constraints-all-immediate",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: ORM_READ},
        migration_sql="BEGIN; SET CONSTRAINTS ALL IMMEDIATE;"
        " ALTER TABLE items ADD COLUMN note text; SET CONSTRAINTS ALL DEFERRED; COMMIT",
        expect_safe_for_linter=True,
    ),
    # -------------------------------------------------------------------- Rails
    Case(
        id="break-r13b-rails-rename-column-vs-old-reader",
        schema_sql=ITEMS,
        versions={V1: ORM_READ, V2: [simple("SELECT id, name FROM items")]},
        migration_sql="ALTER TABLE items RENAME COLUMN sku TO code",
        breaks=frozenset({V1}),
    ),
    Case(
        id="safe-r13b-rails-rename-column-after-ignored-columns",
        schema_sql=ITEMS,
        versions={
            V1: [prepared("SELECT id, name, qty FROM items WHERE id = %s", 1)],
            V2: [extended("INSERT INTO items (name, qty) VALUES (%s, %s) RETURNING id", "d", 4)],
        },
        migration_sql="ALTER TABLE items RENAME COLUMN sku TO code",
        note="ignored_columns: neither version names sku any more",
    ),
    Case(
        id="break-r13b-rails-change-column-null-with-backfill-vs-writer-omitting-it",
        schema_sql=ITEMS,
        versions={
            V1: [extended("INSERT INTO items (name, qty) VALUES (%s, %s)", "e", 5)],
            V2: ORM_READ,
        },
        migration_sql="BEGIN; UPDATE items SET sku = '' WHERE sku IS NULL;"
        " ALTER TABLE items ALTER COLUMN sku SET NOT NULL; COMMIT",
        breaks=frozenset({V1}),
    ),
    Case(
        id="safe-r13b-rails-change-column-null-with-backfill-vs-writers-supplying-it",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: ORM_READ},
        migration_sql="BEGIN; UPDATE items SET sku = '' WHERE sku IS NULL;"
        " ALTER TABLE items ALTER COLUMN sku SET NOT NULL; COMMIT",
    ),
    # -------------------------------------------------------------------- Flyway / Liquibase
    Case(
        id="safe-r13b-flyway-lock-timeout-comments-and-dollar-body-in-one-query",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: ORM_READ},
        migration_sql="SET lock_timeout = '5s'; -- V13__add_audit.sql\n"
        "/* audit */ ALTER TABLE items ADD COLUMN touched timestamptz;\n"
        "CREATE OR REPLACE FUNCTION items_touch() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        "BEGIN NEW.touched := now(); RETURN NEW; END; $body$;\n"
        "CREATE TRIGGER items_touch BEFORE UPDATE ON items"
        " FOR EACH ROW EXECUTE FUNCTION items_touch()",
        expect_safe_for_linter=True,
    ),
    Case(
        id="break-r13b-liquibase-dollar-trigger-rejecting-old-writers",
        schema_sql=ITEMS,
        versions={
            V1: [extended("INSERT INTO items (name, qty) VALUES (%s, %s)", "f", 6)],
            V2: ORM_INSERT,
        },
        migration_sql="SET lock_timeout = '3s';\n"
        "CREATE FUNCTION items_need_sku() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN IF NEW.sku IS NULL THEN RAISE EXCEPTION 'sku required; see docs'; END IF;"
        " RETURN NEW; END $$;\n"
        "CREATE TRIGGER items_need_sku BEFORE INSERT ON items"
        " FOR EACH ROW EXECUTE FUNCTION items_need_sku()",
        breaks=frozenset({V1}),
    ),
    # -------------------------------------------------------------------- Prisma
    Case(
        id="safe-r13b-prisma-enum-add-value",
        schema_sql="CREATE TYPE \"Role\" AS ENUM ('USER', 'ADMIN');"
        ' CREATE TABLE "User" (id serial PRIMARY KEY, role "Role" NOT NULL DEFAULT \'USER\');'
        " INSERT INTO \"User\" (role) VALUES ('ADMIN');",
        versions={
            V1: [apg('SELECT id, role FROM "User" WHERE role = $1', "ADMIN")],
            V2: [apg('INSERT INTO "User" (role) VALUES ($1) RETURNING id', "USER")],
        },
        migration_sql="ALTER TYPE \"Role\" ADD VALUE 'MODERATOR'",
        expect_safe_for_linter=True,
    ),
    Case(
        id="break-r13b-prisma-int-to-bigint-using-vs-asyncpg-cached-plan",
        schema_sql=ITEMS,
        versions={
            V1: [apg("SELECT qty FROM items WHERE id = $1", 1)],
            V2: [simple("SELECT count(*) FROM items")],
        },
        migration_sql="ALTER TABLE items ALTER COLUMN qty SET DATA TYPE BIGINT USING qty::bigint",
        breaks=frozenset({V1}),
        note="the held prepared statement's result type changes: 0A000",
    ),
    # -------------------------------------------------------------------- maintenance
    Case(
        id="safe-r13b-vacuum-analyze-cluster-fillfactor",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: ORM_READ},
        migration_sql="ALTER TABLE items SET (fillfactor = 70); VACUUM (ANALYZE) items;"
        " ANALYZE items; CLUSTER items USING items_pkey",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-r13b-check-not-valid-then-validate",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: ORM_READ},
        migration_sql="ALTER TABLE items ADD CONSTRAINT items_qty_pos CHECK (qty > 0) NOT VALID;"
        " ALTER TABLE items VALIDATE CONSTRAINT items_qty_pos",
    ),
    Case(
        id="safe-r13b-create-and-drop-index-concurrently",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: [simple("SELECT id FROM items WHERE sku = 's1'")]},
        migration_sql="CREATE INDEX CONCURRENTLY items_sku_idx ON items (sku);"
        " DROP INDEX CONCURRENTLY items_name_idx",
        expect_safe_for_linter=True,
    ),
    Case(
        id="break-r13b-drop-index-concurrently-under-upsert-arbiter",
        schema_sql=ITEMS + "CREATE UNIQUE INDEX items_sku_key ON items (sku);",
        versions={
            V1: [
                extended(
                    "INSERT INTO items (name, sku, qty) VALUES (%s, %s, %s)"
                    " ON CONFLICT (sku) DO UPDATE SET qty = excluded.qty",
                    "a",
                    "s1",
                    9,
                )
            ],
            V2: ORM_READ,
        },
        migration_sql="DROP INDEX CONCURRENTLY items_sku_key",
        breaks=frozenset({V1}),
    ),
    # -------------------------------------------------------------------- sequences by name
    Case(
        id="safe-r13b-sequence-rename-under-column-default",
        schema_sql=ITEMS,
        versions={V1: ORM_INSERT, V2: ORM_READ},
        migration_sql="ALTER SEQUENCE items_id_seq RENAME TO items_pk_seq",
        note="the default holds the sequence's OID, not its name",
    ),
    Case(
        id="break-r13b-sequence-rename-vs-nextval-by-name",
        schema_sql=ITEMS,
        versions={
            V1: [simple("INSERT INTO items (id, name) VALUES (nextval('items_id_seq'), 'g')")],
            V2: ORM_INSERT,
        },
        migration_sql="ALTER SEQUENCE items_id_seq RENAME TO items_pk_seq",
        breaks=frozenset({V1}),
    ),
]
