"""Round 15b ground-truth cases: the shapes of versions' statements. Names that are not
the table (a CTE named like one, aliases and output names like a dropped column),
INSERT ... SELECT * between tables changed alike, fields
of whole rows and of row-typed columns, tables' row types through
``jsonb_populate_record(NULL::t, ...)`` and ``RETURNS SETOF t`` functions, TABLESAMPLE on
a table that becomes a view, statements inside other statements (cursors, EXPLAIN,
FILTER, CREATE TEMP TABLE AS, CREATE TEMP TABLE ... LIKE), COPY into a staging table
made LIKE the target, and MERGE ... DELETE under a new foreign key.

Each case is a rolling deploy a team really ships; PostgreSQL decides (see
tests/support/groundtruth.py) which versions a migration breaks.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, copy_in, extended, prepared, simple

V1, V2, V3, V4 = "app@1", "app@2", "app@3", "app@4"

SHOP = """
CREATE TABLE orders (id int PRIMARY KEY, total int, status text, legacy text);
CREATE TABLE items (id int PRIMARY KEY, order_id int, sku text, qty int);
CREATE TABLE orders_v2 (id int PRIMARY KEY, total int);
CREATE TABLE archive (id int PRIMARY KEY, total int, status text);
INSERT INTO orders VALUES (1, 10, 'new', 'x'), (2, 20, 'paid', 'y');
INSERT INTO items VALUES (1, 1, 'a', 2);
INSERT INTO orders_v2 VALUES (1, 10);
INSERT INTO archive VALUES (1, 10, 'new');
"""
# a table's row type as a column's type (an audit snapshot of the row)
SNAPSHOTS = """
CREATE TABLE snapshots (id int PRIMARY KEY, o orders);
INSERT INTO snapshots SELECT 1, orders FROM orders WHERE id = 1;
"""
RECENT = """
CREATE FUNCTION recent_orders() RETURNS SETOF orders LANGUAGE sql STABLE
  AS 'SELECT * FROM orders ORDER BY id DESC';
"""
EVENTS = """
CREATE TABLE events (id int NOT NULL, kind text);
INSERT INTO events VALUES (1, 'a'), (2, 'b');
"""
DROP_LEGACY = "ALTER TABLE orders DROP COLUMN legacy"
# an archive table mirroring orders, filled by INSERT ... SELECT *
ARCHIVE = """
CREATE TABLE orders_archive (id int PRIMARY KEY, total int, status text, legacy text);
"""
ARCHIVE_ROWS = (
    "INSERT INTO orders_archive SELECT * FROM orders WHERE id = %s ON CONFLICT (id) DO NOTHING"
)
ARCHIVING: dict[str, list[str | Q]] = {
    V1: [extended(ARCHIVE_ROWS, 1)],
    V2: [simple("SELECT id, total FROM orders")],
}
# a staging table made LIKE the target at each load, filled by COPY, merged in
STAGING = "DROP TABLE IF EXISTS staging; CREATE TEMP TABLE staging (LIKE orders INCLUDING DEFAULTS)"
MERGE_STAGING = "INSERT INTO orders SELECT * FROM staging ON CONFLICT (id) DO NOTHING"

SAFE: list[Case] = [
    Case(
        id="safe-r15b-cte-named-like-dropped-table",
        schema_sql=SHOP,
        versions={
            V1: [
                simple(
                    "WITH orders AS (SELECT id, total FROM orders_v2) SELECT id, total FROM orders"
                )
            ],
            V2: [
                extended(
                    "SELECT id FROM items WHERE order_id IN"
                    " (WITH orders AS (VALUES (1)) SELECT column1 FROM orders)"
                )
            ],
        },
        migration_sql="DROP TABLE orders",
        expect_safe_for_linter=True,
        note="the name orders in both texts is a CTE, not the table",
    ),
    Case(
        id="safe-r15b-names-like-dropped-column-elsewhere",
        schema_sql=SHOP,
        versions={
            V1: [simple("SELECT orders.sku FROM items AS orders")],
            V2: [extended("SELECT total AS legacy FROM orders ORDER BY legacy")],
            V3: [
                simple("SELECT s.legacy FROM (SELECT status AS legacy FROM orders) s"),
                simple("SELECT legacy FROM (VALUES (1)) AS orders(legacy)"),
                simple("SELECT legacy FROM generate_series(1, 2) AS g(legacy)"),
            ],
        },
        migration_sql=DROP_LEGACY,
        note="an alias named orders, an output name in ORDER BY, a derived table's, a VALUES"
        " list's and a function's column named legacy: none is orders.legacy",
    ),
    Case(
        id="safe-r15b-fields-of-rows-other-column-dropped",
        schema_sql=SHOP + SNAPSHOTS,
        versions={
            V1: [simple("SELECT (o).total FROM orders o WHERE (o).id = 1")],
            V2: [extended("SELECT (s.o).status FROM snapshots s")],
            V3: [simple("SELECT o FROM orders o")],
        },
        migration_sql=DROP_LEGACY,
        note="fields other than the dropped one; a whole row read by a client that does not"
        " hold its shape",
    ),
    Case(
        id="safe-r15b-populate-record-insert-add-column",
        schema_sql=SHOP,
        versions={
            V1: [
                extended(
                    "INSERT INTO archive SELECT * FROM jsonb_populate_record(NULL::archive,"
                    " %s::jsonb) ON CONFLICT (id) DO NOTHING",
                    '{"id": 9, "total": 1}',
                )
            ],
            V2: [simple("SELECT id FROM archive")],
        },
        migration_sql="ALTER TABLE archive ADD COLUMN archived_at timestamptz DEFAULT now()",
        note="the JSON-to-row insert PostgREST-style code uses: the record and the table gain"
        " the column together",
    ),
    Case(
        id="safe-r15b-row-type-functions-prepared-star-add-column",
        schema_sql=SHOP + RECENT,
        versions={
            V1: [
                prepared(
                    "SELECT * FROM jsonb_populate_record(NULL::archive, %s::jsonb)", '{"id": 9}'
                )
            ],
            V2: [prepared("SELECT * FROM recent_orders() LIMIT %s", 5)],
        },
        migration_sql="ALTER TABLE archive ADD COLUMN note text;"
        " ALTER TABLE orders ADD COLUMN note text",
        note="a prepared * over a function returning a table's row: the plan holds no lock on"
        " the table and is not re-planned for a new column (a retyped one fails: 42804)",
    ),
    Case(
        id="safe-r15b-archive-copy-column-dropped-from-both",
        schema_sql=SHOP + ARCHIVE,
        versions=ARCHIVING,
        migration_sql=DROP_LEGACY + "; ALTER TABLE orders_archive DROP COLUMN legacy",
        note="INSERT ... SELECT * goes by position: the columns still line up",
    ),
    Case(
        id="safe-r15b-archive-copy-column-added-to-both",
        schema_sql=SHOP + ARCHIVE,
        versions=ARCHIVING,
        migration_sql="BEGIN; ALTER TABLE orders ADD COLUMN note text;"
        " ALTER TABLE orders_archive ADD COLUMN note text; COMMIT",
        note="the archive gains the column in the same transaction",
    ),
    Case(
        id="safe-r15b-tablesample-table-becomes-partitioned",
        schema_sql=EVENTS,
        versions={
            V1: [simple("SELECT kind FROM events TABLESAMPLE SYSTEM (100)")],
            V2: [extended("SELECT id, kind FROM events WHERE id = %s", 1)],
        },
        migration_sql="BEGIN; ALTER TABLE events RENAME TO events_old;"
        " CREATE TABLE events (id int NOT NULL, kind text) PARTITION BY RANGE (id);"
        " ALTER TABLE events ATTACH PARTITION events_old FOR VALUES FROM (MINVALUE) TO (MAXVALUE);"
        " COMMIT",
        note="a partitioned table can be sampled",
    ),
]

BREAKING: list[Case] = [
    Case(
        id="break-r15b-field-of-whole-row",
        schema_sql=SHOP,
        versions={
            V1: [simple("SELECT id, (o).legacy FROM orders o")],
            V2: [extended("SELECT (o).total FROM orders o WHERE id = %s", 1)],
        },
        migration_sql=DROP_LEGACY,
        breaks=frozenset({V1}),
        note="(o).legacy reads the column: 42703 column o.legacy does not exist",
    ),
    Case(
        id="break-r15b-field-of-row-typed-column",
        schema_sql=SHOP + SNAPSHOTS,
        versions={
            V1: [simple("SELECT (o).legacy FROM snapshots")],
            V2: [simple("SELECT id FROM snapshots")],
        },
        migration_sql=DROP_LEGACY,
        breaks=frozenset({V1}),
        note='42703 column "legacy" not found in data type orders',
    ),
    Case(
        id="break-r15b-populate-record-column-renamed",
        schema_sql=SHOP,
        versions={
            V1: [
                extended(
                    "SELECT id, legacy FROM jsonb_populate_record(NULL::orders, %s::jsonb)",
                    '{"id": 3, "legacy": "z"}',
                )
            ],
            V2: [simple("SELECT id, total FROM orders")],
        },
        migration_sql="ALTER TABLE orders RENAME COLUMN legacy TO old_code",
        breaks=frozenset({V1}),
        note="the record's columns are the table's: 42703",
    ),
    Case(
        id="break-r15b-populate-record-table-dropped",
        schema_sql=SHOP,
        versions={
            V1: [extended("SELECT id FROM jsonb_populate_record(NULL::archive, %s::jsonb)", "{}")],
            V2: [simple("SELECT id FROM orders")],
        },
        migration_sql="DROP TABLE archive",
        breaks=frozenset({V1}),
        note='NULL::archive names the row type: 42704 type "archive" does not exist',
    ),
    Case(
        id="break-r15b-setof-function-column-dropped",
        schema_sql=SHOP + RECENT,
        versions={
            V1: [extended("SELECT id, legacy FROM recent_orders() LIMIT %s", 5)],
            V2: [simple("SELECT id, status FROM recent_orders()")],
        },
        migration_sql=DROP_LEGACY,
        breaks=frozenset({V1}),
        note="a function RETURNS SETOF orders returns the table's columns",
    ),
    Case(
        id="break-r15b-tablesample-table-becomes-view",
        schema_sql=EVENTS,
        versions={
            V1: [simple("SELECT kind FROM events TABLESAMPLE SYSTEM (100)")],
            V2: [extended("SELECT id, kind FROM events WHERE id = %s", 1)],
        },
        migration_sql="BEGIN; ALTER TABLE events RENAME TO events_all;"
        " CREATE VIEW events AS SELECT * FROM events_all; COMMIT",
        breaks=frozenset({V1}),
        note="0A000 TABLESAMPLE clause can only be applied to tables and materialized views",
    ),
    Case(
        id="break-r15b-statements-inside-statements",
        schema_sql=SHOP,
        versions={
            V1: [
                simple(
                    "BEGIN; DECLARE c CURSOR FOR SELECT id, legacy FROM orders;"
                    " FETCH 5 FROM c; CLOSE c; COMMIT"
                )
            ],
            V2: [simple("EXPLAIN SELECT id FROM orders WHERE legacy = 'x'")],
            V3: [
                simple("SELECT count(*) FILTER (WHERE legacy = 'x') FROM orders"),
                simple(
                    "DROP TABLE IF EXISTS tmp_o; CREATE TEMP TABLE tmp_o AS"
                    " SELECT id, legacy FROM orders"
                ),
            ],
            V4: [
                extended(
                    "SELECT status, sum(total) FROM orders GROUP BY GROUPING SETS ((status), ())"
                )
            ],
        },
        migration_sql=DROP_LEGACY,
        breaks=frozenset({V1, V2, V3}),
        note="a cursor's query, an EXPLAINed one, an aggregate's FILTER and CREATE TABLE AS"
        " read the column like any SELECT",
    ),
    Case(
        id="break-r15b-merge-delete-new-foreign-key",
        schema_sql=SHOP + "CREATE TABLE notes (id int PRIMARY KEY, archive_id int);",
        versions={
            V1: [
                simple(
                    "INSERT INTO archive (id) VALUES (5) ON CONFLICT (id) DO NOTHING;"
                    " INSERT INTO notes (id, archive_id) VALUES (5, 5) ON CONFLICT (id) DO NOTHING;"
                    " MERGE INTO archive a USING (VALUES (5)) AS s(id) ON a.id = s.id"
                    " WHEN MATCHED THEN DELETE;"
                    " DELETE FROM notes WHERE id = 5"
                )
            ],
            V2: [
                simple(
                    "MERGE INTO archive a USING orders o ON a.id = o.id"
                    " WHEN MATCHED THEN UPDATE SET total = o.total"
                )
            ],
        },
        migration_sql="ALTER TABLE notes ADD FOREIGN KEY (archive_id) REFERENCES archive",
        breaks=frozenset({V1}),
        note="MERGE ... THEN DELETE deletes as DELETE does: 23503 while a note references the row",
    ),
    Case(
        id="break-r15b-temp-table-like-source-renamed",
        schema_sql=SHOP,
        versions={
            V1: [
                simple(
                    "DROP TABLE IF EXISTS staging;"
                    " CREATE TEMP TABLE staging (LIKE items INCLUDING DEFAULTS)"
                ),
                simple("INSERT INTO staging (id, sku) VALUES (9, 'z')"),
            ],
            V2: [simple("SELECT id, sku FROM items")],
        },
        migration_sql="ALTER TABLE items RENAME TO line_items",
        breaks=frozenset({V1, V2}),
        note='a staging table made LIKE items each run: 42P01 relation "items" does not exist',
    ),
    Case(
        id="break-r15b-copy-into-staging-like-table-add-column",
        schema_sql=SHOP,
        versions={
            V1: [
                simple(STAGING),
                copy_in("COPY staging FROM STDIN", (5, 50, "new", "s")),
                simple(MERGE_STAGING),
            ],
            V2: [
                simple(STAGING),
                copy_in("COPY staging (id, total) FROM STDIN", (6, 60)),
                simple(MERGE_STAGING),
            ],
        },
        migration_sql="ALTER TABLE orders ADD COLUMN note text",
        breaks=frozenset({V1}),
        note="the bulk-load idiom: the staging table made LIKE orders gains the column too,"
        ' and COPY without a column list misses it: 22P04 missing data for column "note"',
    ),
    Case(
        id="break-r15b-self-insert-identity-always",
        schema_sql=SHOP,
        versions={
            V1: [simple("INSERT INTO archive SELECT * FROM archive WHERE false")],
            V2: [simple("SELECT id FROM archive")],
        },
        migration_sql="ALTER TABLE archive ADD COLUMN seq int GENERATED ALWAYS AS IDENTITY",
        breaks=frozenset({V1}),
        note="the copy writes the new identity column: 428C9 (a plain column would be safe)",
    ),
]

CASES: list[Case] = [*SAFE, *BREAKING]
