"""Round 15a ground-truth cases: catalog object kinds no round covered.

- Publications and replica identity (a CDC tool's publication added to a live
  database, keys and identity indexes changed under one): PostgreSQL refuses an UPDATE
  or DELETE of a table a publication publishes those actions of when the table has no
  replica identity (55000), before touching a row; INSERT, COPY and reads go on.
- A new function overload that leaves a call not unique (42725), or that PostgreSQL's
  preferred types resolve.
- Text search configurations, collations and casts named inside expressions, dropped
  or renamed (42704).
- Ownership moved away from the role a version connects as (42501).

Each case is a rolling deploy a team really ships; PostgreSQL decides (see
tests/support/groundtruth.py) which versions a migration breaks.
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
        id="safe-r15a-primary-key-swapped-for-identity-index",
        schema_sql=SHOP
        + "ALTER TABLE orders ADD COLUMN ref uuid NOT NULL DEFAULT gen_random_uuid();"
        " CREATE PUBLICATION cdc FOR ALL TABLES; ALTER TABLE events REPLICA IDENTITY FULL;",
        versions={
            V1: [apg("UPDATE orders SET qty = $1 WHERE id = $2", 4, 1)],
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
        id="break-r15a-cdc-all-tables-vs-keyless-partitioned-table-updated-via-parent",
        schema_sql=SHOP
        + "CREATE TABLE metrics (day date NOT NULL, name text, v int) PARTITION BY RANGE (day);"
        " CREATE TABLE metrics_2026 PARTITION OF metrics"
        " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
        " INSERT INTO metrics VALUES ('2026-03-01', 'x', 1);",
        versions={
            V1: [extended("UPDATE metrics SET v = v + 1 WHERE name = %s", "x")],
            V2: [
                prepared(
                    "INSERT INTO metrics (day, name, v) VALUES (%s, %s, %s)", "2026-05-01", "y", 2
                )
            ],
        },
        migration_sql=DEBEZIUM,
        breaks=frozenset({V1}),
        note="55000 on the partition the parent's UPDATE reaches: it has no replica identity",
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

# ownership moved from the role a version connects as to another role (a platform
# team's owner role): the old owner keeps only what is granted to it or its roles
OWNED = """
CREATE TABLE orders (id int PRIMARY KEY, qty int);
INSERT INTO orders VALUES (1, 1);
ALTER TABLE orders OWNER TO {old};
GRANT SELECT ON orders TO {new};
"""
OWNED_SCHEMA = """
CREATE SCHEMA app AUTHORIZATION {old};
CREATE TABLE app.items (id int PRIMARY KEY, sku text);
INSERT INTO app.items VALUES (1, 'a');
ALTER TABLE app.items OWNER TO {old};
GRANT USAGE ON SCHEMA app TO {new};
GRANT SELECT ON app.items TO {new};
"""

ROUND15A_SAFE += [
    Case(
        id="safe-r15a-table-owner-moved-to-a-role-the-old-owner-belongs-to",
        schema_sql=OWNED.format(old="gt15a_own_a", new="gt15a_adm_a")
        + "GRANT gt15a_adm_a TO gt15a_own_a;",
        versions={
            V1: [extended("UPDATE orders SET qty = qty + 1 WHERE id = %s", 1)],
            V2: [simple("SELECT qty FROM orders")],
        },
        users={V1: "gt15a_own_a", V2: "gt15a_adm_a"},
        migration_sql="ALTER TABLE orders OWNER TO gt15a_adm_a",
        note="the old owner inherits the new owner's privileges through its membership",
    ),
]

ROUND15A_BREAKING += [
    Case(
        id="break-r15a-table-owner-moved-away-from-the-versions-role",
        schema_sql=OWNED.format(old="gt15a_own_c", new="gt15a_adm_c"),
        versions={
            V1: [extended("UPDATE orders SET qty = qty + 1 WHERE id = %s", 1)],
            V2: [simple("SELECT qty FROM orders")],
        },
        users={V1: "gt15a_own_c", V2: "gt15a_adm_c"},
        migration_sql="ALTER TABLE orders OWNER TO gt15a_adm_c",
        breaks=frozenset({V1}),
        note="42501: the old owner had no grant of its own",
    ),
    Case(
        id="break-r15a-schema-owner-moved-away-from-the-versions-role",
        schema_sql=OWNED_SCHEMA.format(old="gt15a_own_d", new="gt15a_adm_d"),
        versions={
            V1: [prepared("SELECT sku FROM app.items WHERE id = %s", 1)],
            V2: [simple("SELECT id FROM app.items")],
        },
        users={V1: "gt15a_own_d", V2: "gt15a_adm_d"},
        migration_sql="ALTER SCHEMA app OWNER TO gt15a_adm_d",
        breaks=frozenset({V1}),
        note="42501 for schema app: the old owner loses USAGE though it owns the table",
    ),
    Case(
        id="break-r15a-reassign-owned-vs-the-old-owner",
        schema_sql=OWNED.format(old="gt15a_own_e", new="gt15a_adm_e"),
        versions={
            V1: [simple("DELETE FROM orders WHERE id = 99")],
            V2: [simple("SELECT qty FROM orders")],
        },
        users={V1: "gt15a_own_e", V2: "gt15a_adm_e"},
        migration_sql="REASSIGN OWNED BY gt15a_own_e TO gt15a_adm_e",
        breaks=frozenset({V1}),
        note="42501: the table now belongs to gt15a_adm_e",
    ),
]

CASES = ROUND15A_SAFE + ROUND15A_BREAKING
