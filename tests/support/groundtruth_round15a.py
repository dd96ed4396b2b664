"""Round 15a ground-truth cases: publications and replica identity (a CDC tool's
publication added to a live database, keys and identity indexes changed under one).

PostgreSQL refuses an UPDATE or DELETE of a table a publication publishes those
actions of when the table has no replica identity (55000), before touching a row;
INSERT, COPY and reads go on. Each case is a rolling deploy a team really ships;
PostgreSQL decides (see tests/support/groundtruth.py) which versions a migration breaks.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, apg, copy_in, extended, prepared, simple

V1, V2 = "app@1", "app@2"

# The ground truth's schema signature lists neither publications nor replica identity:
# each migration also comments a column, as a deploy's migration often documents one.
NOTE = "; COMMENT ON COLUMN {} IS 'cdc'"

# a keyed table and a keyless append-mostly one (sessions, an event log)
SHOP = """
CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL DEFAULT 'new', qty int);
CREATE TABLE events (at timestamptz NOT NULL DEFAULT now(), kind text, n int);
INSERT INTO orders (id, qty) VALUES (1, 1), (2, 2);
INSERT INTO events (kind, n) VALUES ('seen', 1);
"""
DEBEZIUM = "CREATE PUBLICATION dbz_publication FOR ALL TABLES" + NOTE.format("orders.qty")

ROUND15A_SAFE = [
    Case(
        id="safe-r15a-cdc-all-tables-keyless-table-only-inserted",
        schema_sql=SHOP,
        versions={
            V1: [
                extended("UPDATE orders SET status = %s WHERE id = %s", "paid", 1),
                simple("DELETE FROM orders WHERE id = 99"),
            ],
            V2: [
                prepared("INSERT INTO events (kind, n) VALUES (%s, %s)", "paid", 1),
                copy_in("COPY events (kind, n) FROM STDIN", ("bulk", 2)),
                simple("SELECT kind, n FROM events ORDER BY at"),
            ],
        },
        migration_sql=DEBEZIUM,
        note="orders has a primary key; events is only inserted into and read",
    ),
    Case(
        id="safe-r15a-replica-identity-full-before-publishing-keyless-table",
        schema_sql=SHOP,
        versions={
            V1: [extended("UPDATE events SET n = n + 1 WHERE kind = %s", "seen")],
            V2: [simple("DELETE FROM events WHERE n > 100")],
        },
        migration_sql="ALTER TABLE events REPLICA IDENTITY FULL;"
        " CREATE PUBLICATION cdc FOR TABLE orders, events" + NOTE.format("events.n"),
        note="the full row is the identity: UPDATE and DELETE are published with it",
    ),
    Case(
        id="safe-r15a-replica-identity-nothing-on-an-unpublished-table",
        schema_sql=SHOP + "CREATE PUBLICATION cdc FOR TABLE orders;",
        versions={
            V1: [apg("UPDATE events SET n = $1 WHERE kind = $2", 5, "seen")],
            V2: [extended("UPDATE orders SET qty = %s WHERE id = %s", 3, 2)],
        },
        migration_sql="ALTER TABLE events REPLICA IDENTITY NOTHING" + NOTE.format("events.n"),
        note="no publication publishes events",
    ),
    Case(
        id="safe-r15a-primary-key-swapped-for-identity-index",
        schema_sql=SHOP
        + "ALTER TABLE orders ADD COLUMN ref uuid NOT NULL DEFAULT gen_random_uuid();"
        " CREATE PUBLICATION cdc FOR ALL TABLES; ALTER TABLE events REPLICA IDENTITY FULL;",
        versions={
            V1: [prepared("UPDATE orders SET qty = %s WHERE id = %s", 4, 1)],
            V2: [simple("DELETE FROM orders WHERE id = 77")],
        },
        migration_sql="CREATE UNIQUE INDEX orders_ref_key ON orders (ref);"
        " ALTER TABLE orders REPLICA IDENTITY USING INDEX orders_ref_key;"
        " ALTER TABLE orders DROP CONSTRAINT orders_pkey",
        note="the unique index on a NOT NULL column is the identity before the key goes",
    ),
]

ROUND15A_BREAKING = [
    Case(
        id="break-r15a-cdc-all-tables-vs-keyless-table-updater",
        schema_sql=SHOP,
        versions={
            V1: [extended("UPDATE events SET n = n + 1 WHERE kind = %s", "seen")],
            V2: [
                prepared("INSERT INTO events (kind, n) VALUES (%s, %s)", "paid", 1),
                extended("UPDATE orders SET status = %s WHERE id = %s", "paid", 1),
            ],
        },
        migration_sql=DEBEZIUM,
        breaks=frozenset({V1}),
        note="55000: cannot update table events: no replica identity and it publishes updates",
    ),
    Case(
        id="break-r15a-published-table-loses-primary-key-vs-deleter",
        schema_sql=SHOP + "ALTER TABLE orders ADD COLUMN ref text;"
        " CREATE PUBLICATION cdc FOR TABLE orders;",
        versions={
            V1: [prepared("DELETE FROM orders WHERE id = %s", 42)],
            V2: [prepared("INSERT INTO orders (id, qty) VALUES (%s, %s)", 3, 1)],
        },
        migration_sql="CREATE UNIQUE INDEX orders_ref_key ON orders (ref);"
        " ALTER TABLE orders DROP CONSTRAINT orders_pkey",
        breaks=frozenset({V1}),
        note="55000 on DELETE: a unique index on a nullable column is no identity by itself",
    ),
    Case(
        id="break-r15a-replica-identity-nothing-on-published-table",
        schema_sql=SHOP + "CREATE PUBLICATION cdc FOR ALL TABLES WITH (publish = 'update');",
        versions={
            V1: [apg("UPDATE orders SET qty = $1 WHERE id = $2", 5, 1)],
            V2: [simple("DELETE FROM orders WHERE id = 99"), simple("SELECT qty FROM orders")],
        },
        migration_sql="ALTER TABLE orders REPLICA IDENTITY NOTHING" + NOTE.format("orders.qty"),
        breaks=frozenset({V1}),
        note="updates are published, deletes are not: only the updater fails (55000)",
    ),
    Case(
        id="break-r15a-publication-widened-to-deletes-vs-keyless-deleter",
        schema_sql=SHOP
        + "CREATE PUBLICATION audit_feed FOR TABLE events WITH (publish = 'insert');",
        versions={
            V1: [extended("DELETE FROM events WHERE at < now() - %s::interval", "30 days")],
            V2: [simple("UPDATE events SET n = 0 WHERE kind = 'x'")],
        },
        migration_sql="ALTER PUBLICATION audit_feed SET (publish = 'insert, delete')"
        + NOTE.format("events.at"),
        breaks=frozenset({V1}),
        note="55000 on DELETE; updates are still not published",
    ),
    Case(
        id="break-r15a-identity-index-dropped-vs-updater",
        schema_sql=SHOP + "ALTER TABLE events ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;"
        " CREATE UNIQUE INDEX events_id_key ON events (id);"
        " ALTER TABLE events REPLICA IDENTITY USING INDEX events_id_key;"
        " CREATE PUBLICATION cdc FOR TABLE events;",
        versions={
            V1: [prepared("UPDATE events SET kind = %s WHERE id = %s", "done", 1)],
            V2: [simple("SELECT count(*) FROM events")],
        },
        migration_sql="DROP INDEX events_id_key; CREATE INDEX events_id ON events (id)",
        breaks=frozenset({V1}),
        note="relreplident stays 'i' with no index: as NOTHING (55000)",
    ),
    Case(
        id="break-r15a-published-table-loses-primary-key-vs-upserter",
        schema_sql=SHOP + "ALTER TABLE orders ADD COLUMN ref text UNIQUE;"
        " CREATE PUBLICATION cdc FOR ALL TABLES WITH (publish = 'insert, update');",
        versions={
            V1: [
                extended(
                    "INSERT INTO orders (id, qty, ref) VALUES (%s, %s, %s)"
                    " ON CONFLICT (ref) DO UPDATE SET qty = excluded.qty",
                    5,
                    1,
                    "r5",
                )
            ],
            V2: [simple("SELECT id, ref FROM orders")],
        },
        migration_sql="ALTER TABLE orders DROP CONSTRAINT orders_pkey",
        breaks=frozenset({V1}),
        note="probe: does the DO UPDATE path need the identity?",
    ),
]

# a helper function the application calls, about to get an overload
SLUG = """
CREATE TABLE posts (id int PRIMARY KEY, title varchar(200) NOT NULL, score numeric);
INSERT INTO posts VALUES (1, 'Hello World', 2.5);
CREATE FUNCTION slugify(t varchar) RETURNS text LANGUAGE sql IMMUTABLE
  AS 'SELECT lower(replace(t, '' '', ''-''))';
CREATE FUNCTION boost(s numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT s * 2';
CREATE FUNCTION rank_of(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n + 1';
CREATE FUNCTION total(VARIADIC xs int[]) RETURNS int LANGUAGE sql IMMUTABLE
  AS 'SELECT sum(x)::int FROM unnest(xs) x';
"""

ROUND15A_SAFE += [
    Case(
        id="safe-r15a-text-overload-beside-varchar-vs-unknown-literal",
        schema_sql=SLUG,
        versions={
            V1: [simple("SELECT slugify('Hello World')")],
            V2: [extended("SELECT slugify(title) FROM posts WHERE id = %s", 1)],
        },
        migration_sql="CREATE FUNCTION slugify(t text) RETURNS text LANGUAGE sql IMMUTABLE"
        " AS 'SELECT lower(replace(t, '' '', ''_''))'",
        note="an unknown literal prefers text, the string category's preferred type",
    ),
    Case(
        id="safe-r15a-double-overload-beside-numeric-vs-integer-literal",
        schema_sql=SLUG,
        versions={
            V1: [simple("SELECT boost(3)")],
            V2: [simple("SELECT boost(score) FROM posts")],
        },
        migration_sql="CREATE FUNCTION boost(s double precision) RETURNS numeric"
        " LANGUAGE sql IMMUTABLE AS 'SELECT (s * 3)::numeric'",
        note="double precision is the numeric category's preferred type: boost(3) takes it",
    ),
    Case(
        id="safe-r15a-defaulted-overload-beside-variadic-vs-two-argument-call",
        schema_sql=SLUG,
        versions={
            V1: [simple("SELECT total(1, 2)")],
            V2: [simple("SELECT total(1, 2, 3, 4)")],
        },
        migration_sql="CREATE FUNCTION total(a int, b int, c int DEFAULT 0) RETURNS int"
        " LANGUAGE sql IMMUTABLE AS 'SELECT a + b + c'",
        note="PostgreSQL prefers the candidate that is not variadic: total(1, 2) takes it",
    ),
]

ROUND15A_BREAKING += [
    Case(
        id="break-r15a-bigint-overload-beside-numeric-vs-integer-literal",
        schema_sql=SLUG,
        versions={
            V1: [simple("SELECT boost(3)")],
            V2: [simple("SELECT boost(score) FROM posts")],
        },
        migration_sql="CREATE FUNCTION boost(s bigint) RETURNS numeric"
        " LANGUAGE sql IMMUTABLE AS 'SELECT s * 3'",
        breaks=frozenset({V1}),
        note="42725: boost(integer) is not unique (numeric and bigint both need a cast)",
    ),
    Case(
        id="break-r15a-bigint-overload-vs-psycopg-small-int-parameter",
        schema_sql=SLUG,
        versions={
            V1: [extended("SELECT rank_of(%s)", 1)],
            V2: [simple("SELECT rank_of(1)")],
        },
        migration_sql="CREATE FUNCTION rank_of(n bigint) RETURNS int"
        " LANGUAGE sql IMMUTABLE AS 'SELECT (n + 2)::int'",
        breaks=frozenset({V1}),
        note="42725: psycopg binds a small int as smallint; int and bigint both need a cast",
    ),
]

# objects a statement names inside an expression: a cast, a text search configuration,
# a collation
SEARCH = """
CREATE TABLE docs (id int PRIMARY KEY, body text NOT NULL, code text);
INSERT INTO docs VALUES (1, 'the quick brown foxes', 'B-2');
CREATE TEXT SEARCH CONFIGURATION app_english (COPY = pg_catalog.english);
CREATE TEXT SEARCH CONFIGURATION app_simple (COPY = pg_catalog.simple);
CREATE COLLATION app_bytes FROM "C";
CREATE COLLATION app_c FROM "C";
CREATE TYPE money2 AS (units bigint, cents int);
CREATE FUNCTION money2_of(t text) RETURNS money2 LANGUAGE sql IMMUTABLE
  AS 'SELECT (split_part(t, ''.'', 1)::bigint, split_part(t, ''.'', 2)::int)::money2';
CREATE CAST (text AS money2) WITH FUNCTION money2_of(text);
"""

ROUND15A_SAFE += [
    Case(
        id="safe-r15a-unused-search-configuration-dropped",
        schema_sql=SEARCH,
        versions={
            V1: [simple("SELECT id FROM docs WHERE to_tsvector('app_english', body) @@ 'fox'")],
            V2: [simple("SELECT body FROM docs")],
        },
        migration_sql="DROP TEXT SEARCH CONFIGURATION app_simple" + NOTE.format("docs.body"),
    ),
    Case(
        id="safe-r15a-unused-cast-dropped",
        schema_sql=SEARCH,
        versions={
            V1: [simple("SELECT body FROM docs")],
            V2: [extended("SELECT id FROM docs WHERE id = %s", 1)],
        },
        migration_sql="DROP CAST (text AS money2)" + NOTE.format("docs.body"),
    ),
]

ROUND15A_BREAKING += [
    Case(
        id="break-r15a-search-configuration-dropped-vs-regconfig-literal",
        schema_sql=SEARCH,
        versions={
            V1: [simple("SELECT id FROM docs WHERE to_tsvector('app_english', body) @@ 'fox'")],
            V2: [simple("SELECT body FROM docs")],
        },
        migration_sql="DROP TEXT SEARCH CONFIGURATION app_english" + NOTE.format("docs.body"),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r15a-search-configuration-renamed-vs-regconfig-literal",
        schema_sql=SEARCH,
        versions={
            V1: [
                extended(
                    "SELECT id FROM docs WHERE to_tsvector('app_english', body)"
                    " @@ to_tsquery('app_english', %s)",
                    "fox",
                )
            ],
            V2: [simple("SELECT body FROM docs")],
        },
        migration_sql="ALTER TEXT SEARCH CONFIGURATION app_english RENAME TO english_v2"
        + NOTE.format("docs.body"),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r15a-collation-dropped-vs-collate-clause",
        schema_sql=SEARCH,
        versions={
            V1: [extended("SELECT id FROM docs WHERE code < %s COLLATE app_bytes", "b-2")],
            V2: [simple("SELECT body FROM docs")],
        },
        migration_sql="DROP COLLATION app_bytes" + NOTE.format("docs.body"),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r15a-cast-dropped-vs-explicit-cast",
        schema_sql=SEARCH,
        versions={
            V1: [simple("SELECT ('12.50'::text)::money2")],
            V2: [simple("SELECT body FROM docs")],
        },
        migration_sql="DROP CAST (text AS money2)" + NOTE.format("docs.body"),
        breaks=frozenset({V1}),
    ),
]

CASES = ROUND15A_SAFE + ROUND15A_BREAKING
