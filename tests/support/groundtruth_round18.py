"""Round 18 ground-truth cases: COPY formats against retypes, sequence numbers taken
through views and multi-column keys, and migrations as ORMs and migration tools write
them (Prisma, Alembic, Knex, Flyway), generated columns, row-level security, triggers,
exclusion constraints, partitions, enum values, collations, SET SCHEMA and renamed
constraints.

A text or CSV ``COPY FROM`` sends strings that the column type's input function reads:
``{a,b}`` is a fine ``text`` once a ``text[]`` column becomes one. A binary COPY sends
each value in its type's binary form, which the receive function of another type
refuses (an int8 column's eight bytes are not a numeric), widening or not.

Each case is a rolling deploy a team really ships; PostgreSQL decides (see
tests/support/groundtruth.py) which versions a migration breaks.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, apg, copy_in, extended, prepared, simple

V1, V2, V3 = "app@1", "app@2", "app@3"

SAFE: list[Case] = []
BREAKING: list[Case] = []

# ------------------------------------------------------------ COPY formats vs retypes
EVENTS = """
CREATE TABLE events (id serial PRIMARY KEY, kind text NOT NULL, tags text[]);
INSERT INTO events (kind, tags) VALUES ('a', ARRAY['x']);
CREATE TABLE payments (id serial PRIMARY KEY, amount bigint, memo varchar(20), qty smallint);
INSERT INTO payments (amount, memo, qty) VALUES (10, 'first', 1);
"""
TAGS_TO_TEXT = "ALTER TABLE events ALTER COLUMN tags TYPE text USING array_to_string(tags, ',')"
TAG_COPY = copy_in("COPY events (kind, tags) FROM STDIN", ("d", ["y", "z"]))
TAG_CSV = copy_in(
    "COPY events (kind, tags) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\t')", ("e", ["w"])
)
TAG_BINARY = copy_in("COPY events (kind, tags) FROM STDIN (FORMAT binary)", ("f", ["v"]))
TAG_READER = extended("SELECT id, kind FROM events WHERE id = %s", 1)
QTY_BINARY = copy_in("COPY payments (qty, memo) FROM STDIN BINARY", (25, "bin"))
QTY_TEXT = copy_in("COPY payments (qty, memo) FROM STDIN", (26, "txt"))
AMOUNT_TEXT = copy_in("COPY payments (amount, memo) FROM STDIN", (26, "txt"))
MEMO_BINARY = copy_in("COPY payments (memo) FROM STDIN WITH BINARY", ("m1",))

SAFE += [
    Case(
        id="safe-r18-text-array-to-text-vs-a-text-copy",
        schema_sql=EVENTS,
        versions={V1: [TAG_COPY], V2: [TAG_READER]},
        migration_sql=TAGS_TO_TEXT,
        note="fuzz-40003: the copy's {y,z} is a fine text; no expression meets the new type",
    ),
    Case(
        id="safe-r18-text-array-to-text-vs-a-csv-copy",
        schema_sql=EVENTS,
        versions={V1: [TAG_CSV]},
        migration_sql=TAGS_TO_TEXT,
        note="CSV values go through the input function as text ones do",
    ),
    Case(
        id="safe-r18-bigint-to-numeric-vs-a-text-copy",
        schema_sql=EVENTS,
        versions={V1: [AMOUNT_TEXT]},
        migration_sql="ALTER TABLE payments ALTER COLUMN amount TYPE numeric(20,0)",
        note="'26' is a numeric too",
    ),
    Case(
        id="safe-r18-varchar-widened-vs-a-binary-copy",
        schema_sql=EVENTS,
        versions={V1: [MEMO_BINARY]},
        migration_sql="ALTER TABLE payments ALTER COLUMN memo TYPE varchar(60)",
        note="a string's binary form is its bytes for varchar of any length",
    ),
    Case(
        id="safe-r18-varchar-to-text-vs-a-binary-copy",
        schema_sql=EVENTS,
        versions={V1: [MEMO_BINARY]},
        migration_sql="ALTER TABLE payments ALTER COLUMN memo TYPE text",
        note="text reads varchar's binary form",
    ),
]

BREAKING += [
    Case(
        id="break-r18-text-array-to-text-vs-a-binary-copy",
        schema_sql=EVENTS,
        versions={V1: [TAG_BINARY], V2: [TAG_COPY]},
        migration_sql=TAGS_TO_TEXT,
        breaks=frozenset({V1}),
        note="the binary array is not a text's bytes; the text copy's {y,z} is fine",
    ),
    Case(
        id="break-r18-smallint-to-integer-vs-a-binary-copy",
        schema_sql=EVENTS,
        versions={V1: [QTY_BINARY], V2: [QTY_TEXT]},
        migration_sql="ALTER TABLE payments ALTER COLUMN qty TYPE integer",
        breaks=frozenset({V1}),
        note="widening, but int4recv refuses an int2's two bytes; '26' is an integer too",
    ),
]

# ------------------------------------------------------------ SG133: numbers already taken
LINES = """
CREATE TABLE lines (order_id int NOT NULL, id serial, note text, UNIQUE (order_id, id));
INSERT INTO lines (order_id, note) VALUES (1, 'a'), (1, 'b');
CREATE TABLE notes (id serial PRIMARY KEY, body text, hidden bool DEFAULT false);
INSERT INTO notes (body) VALUES ('a'), ('b');
CREATE VIEW visible_notes AS SELECT id, body FROM notes WHERE NOT hidden;
"""
LINE_WRITER = extended("INSERT INTO lines (order_id, note) VALUES (%s, %s) RETURNING id", 1, "c")
VIEW_WRITER = extended("INSERT INTO visible_notes (body) VALUES (%s) RETURNING id", "c")
NOTE_READER = extended("SELECT id, body FROM visible_notes WHERE id = %s", 1)

BREAKING += [
    Case(
        id="break-r18-sequence-restarted-into-a-two-column-key",
        schema_sql=LINES,
        versions={V1: [LINE_WRITER], V2: [NOTE_READER]},
        migration_sql="ALTER SEQUENCE lines_id_seq MINVALUE 0 RESTART WITH 1",
        breaks=frozenset({V1}),
        note="23505: (1, 1) is taken; the unique index checks id with order_id",
    ),
    Case(
        id="break-r18-sequence-restarted-under-a-view-writer",
        schema_sql=LINES,
        versions={V1: [VIEW_WRITER], V2: [NOTE_READER]},
        migration_sql="ALTER SEQUENCE notes_id_seq MINVALUE 0 RESTART WITH 1",
        breaks=frozenset({V1}),
        note="23505: the insert through the view takes notes.id's default",
    ),
]

SAFE += [
    Case(
        id="safe-r18-sequence-restarted-into-another-orders-key",
        schema_sql=LINES,
        versions={V1: [extended("INSERT INTO lines (order_id, note) VALUES (%s, %s)", 2, "c")]},
        migration_sql="ALTER SEQUENCE lines_id_seq MINVALUE 0 RESTART WITH 1",
        note="(2, 1), (2, 2) are free: the key is order_id with id",
    ),
    Case(
        id="safe-r18-sequence-restarted-past-the-rows-under-a-view-writer",
        schema_sql=LINES,
        versions={V1: [VIEW_WRITER], V2: [LINE_WRITER]},
        migration_sql="ALTER SEQUENCE notes_id_seq START WITH 1000 RESTART",
        note="every number from 1000 on is free",
    ),
]

# ------------------------------------------------------------ Prisma's migration SQL
PRISMA = """
CREATE TABLE "User" ("id" SERIAL NOT NULL, "email" TEXT NOT NULL, "name" TEXT,
  "age" INTEGER, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
INSERT INTO "User" ("email", "name", "age") VALUES ('a@x', 'ann', 30);
"""
PRISMA_FIND = extended(
    'SELECT "public"."User"."id", "public"."User"."email", "public"."User"."age"'
    ' FROM "public"."User" WHERE "public"."User"."email" = %s LIMIT %s OFFSET %s',
    "a@x",
    1,
    0,
)
PRISMA_HELD = apg(
    'SELECT "public"."User"."id", "public"."User"."age" FROM "public"."User"'
    ' WHERE "public"."User"."id" = $1',
    1,
)
PRISMA_CREATE = extended(
    'INSERT INTO "public"."User" ("email","name","age") VALUES (%s,%s,%s)'
    ' ON CONFLICT ("email") DO NOTHING RETURNING "public"."User"."id"',
    "b@x",
    "bobby",
    41,
)
PRISMA_SHORT_NAME = extended(
    'UPDATE "public"."User" SET "name" = %s WHERE "public"."User"."id" = %s', "al", 1
)

SAFE += [
    Case(
        id="safe-r18-prisma-set-data-type-bigint-vs-unnamed-statements",
        schema_sql=PRISMA,
        versions={V1: [PRISMA_FIND], V2: [PRISMA_CREATE]},
        migration_sql='-- AlterTable\nALTER TABLE "User" ALTER COLUMN "age" SET DATA TYPE BIGINT;',
        note="the unnamed statements are planned again; every int is a bigint",
    ),
    Case(
        id="safe-r18-prisma-varchar-narrowing-vs-a-short-writer",
        schema_sql=PRISMA,
        versions={V1: [PRISMA_SHORT_NAME], V2: [PRISMA_FIND]},
        migration_sql='ALTER TABLE "User" ALTER COLUMN "name" SET DATA TYPE VARCHAR(4);',
        note="'al' and the rows fit varchar(4); replay with the writer's values decides",
    ),
]
BREAKING += [
    Case(
        id="break-r18-prisma-set-data-type-vs-a-held-select",
        schema_sql=PRISMA,
        versions={V1: [PRISMA_HELD], V2: [PRISMA_CREATE]},
        migration_sql='ALTER TABLE "User" ALTER COLUMN "age" SET DATA TYPE BIGINT;',
        breaks=frozenset({V1}),
        note="0A000: the held statement returns age",
    ),
    Case(
        id="break-r18-prisma-varchar-narrowing-vs-a-long-writer",
        schema_sql=PRISMA,
        versions={
            V1: [PRISMA_CREATE, simple("""DELETE FROM "User" WHERE "email" = 'b@x'""")],
            V2: [PRISMA_SHORT_NAME],
        },
        migration_sql='ALTER TABLE "User" ALTER COLUMN "name" SET DATA TYPE VARCHAR(4);',
        breaks=frozenset({V1}),
        note="22001: 'bobby' is too long for varchar(4); 'al' fits",
    ),
]

# ------------------------------------------------------------ Alembic and Knex
ORDERS = """
CREATE TABLE orders (id serial PRIMARY KEY, status varchar(20) NOT NULL DEFAULT 'new',
  note text, fullname varchar(100));
INSERT INTO orders (status, note, fullname) VALUES ('new', 'n', 'ann');
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('a1');
"""
ORDER_NO_NOTE = extended("INSERT INTO orders (status) VALUES (%s) RETURNING id", "paid")
ORDER_WITH_NOTE = extended(
    "INSERT INTO orders (status, note, fullname) VALUES (%s, %s, %s)", "new", "x", "bo"
)
ORDER_LIST = extended("SELECT id, status, note FROM orders WHERE id > %s ORDER BY id", 0)
KNEX_NAMER = simple('update "orders" set "fullname" = \'cy\' where "id" = 1')

SAFE += [
    Case(
        id="safe-r18-alembic-add-column-then-server-default",
        schema_sql=ORDERS,
        versions={V1: [ORDER_NO_NOTE], V2: [ORDER_LIST]},
        migration_sql="BEGIN; ALTER TABLE orders ADD COLUMN priority INTEGER;"
        " ALTER TABLE orders ALTER COLUMN priority SET DEFAULT 0;"
        " UPDATE alembic_version SET version_num='b2' WHERE alembic_version.version_num = 'a1';"
        " COMMIT",
        note="a nullable column with a default: listed inserts and reads do not see it",
    ),
    Case(
        id="safe-r18-knex-widen-varchar-with-using",
        schema_sql=ORDERS,
        versions={V1: [KNEX_NAMER], V2: [ORDER_WITH_NOTE]},
        migration_sql='alter table "orders" alter column "fullname" type varchar(255)'
        ' using ("fullname"::varchar(255))',
        note="widening; nothing is held",
    ),
]
BREAKING += [
    Case(
        id="break-r18-alembic-backfill-then-not-null-vs-an-omitting-writer",
        schema_sql=ORDERS,
        versions={V1: [ORDER_NO_NOTE], V2: [ORDER_WITH_NOTE]},
        migration_sql="BEGIN; UPDATE orders SET note = '' WHERE note IS NULL;"
        " ALTER TABLE orders ALTER COLUMN note SET NOT NULL; COMMIT",
        breaks=frozenset({V1}),
        note="23502: app@1 leaves note out; app@2 gives it",
    ),
    Case(
        id="break-r18-knex-rename-column-vs-its-writer",
        schema_sql=ORDERS,
        versions={V1: [KNEX_NAMER], V2: [ORDER_LIST]},
        migration_sql='alter table "orders" rename "fullname" to "full_name"',
        breaks=frozenset({V1}),
        note="42703: fullname is gone",
    ),
]

# ------------------------------------------------------------ generated columns
ITEMS = """
CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, price numeric(8,2) NOT NULL,
  total numeric(10,2));
INSERT INTO items VALUES (1, 2, 3.50, 7.00);
CREATE TABLE carts (id int PRIMARY KEY, qty int, price numeric(8,2),
  total numeric(10,2) GENERATED ALWAYS AS (qty * price) STORED);
INSERT INTO carts (id, qty, price) VALUES (1, 1, 2.00);
"""
ITEM_COPY_ALL: list[str | Q] = [
    simple("DELETE FROM items WHERE id = 50"),
    copy_in("COPY items FROM STDIN", (50, 1, 1.25, 1.25)),
]
ITEM_TOTALER = simple("UPDATE items SET total = qty * price WHERE id = 1")
ITEM_READER = extended("SELECT id, qty, total FROM items WHERE id = %s", 1)
CART_COPY: list[str | Q] = [
    simple("DELETE FROM carts WHERE id = 9"),
    copy_in("COPY carts FROM STDIN", (9, 2, 1.5)),
]
CART_READER = extended("SELECT id, total FROM carts WHERE id = %s", 1)
CART_DEFAULTER = simple(
    "INSERT INTO carts (id, qty, price, total) VALUES (7, 1, 1, DEFAULT) ON CONFLICT DO NOTHING"
)
MADE_GENERATED = (
    "BEGIN; ALTER TABLE items DROP COLUMN total;"
    " ALTER TABLE items ADD COLUMN total numeric(10,2) GENERATED ALWAYS AS (qty * price) STORED;"
    " COMMIT"
)

SAFE += [
    Case(
        id="safe-r18-column-made-generated-vs-its-readers",
        schema_sql=ITEMS,
        versions={V1: [ITEM_READER]},
        migration_sql=MADE_GENERATED,
        note="the unnamed reader still finds total",
    ),
    Case(
        id="safe-r18-generated-column-added-vs-copy-without-list",
        schema_sql=ITEMS,
        versions={V1: CART_COPY, V2: [CART_READER]},
        migration_sql="ALTER TABLE carts ADD COLUMN tax numeric GENERATED ALWAYS AS"
        " (qty * price * 0.2) STORED",
        note="COPY without a list writes every column but the generated ones",
    ),
]
BREAKING += [
    Case(
        id="break-r18-drop-expression-vs-copy-without-list",
        schema_sql=ITEMS,
        versions={V1: CART_COPY, V2: [CART_DEFAULTER], V3: [CART_READER]},
        migration_sql="ALTER TABLE carts ALTER COLUMN total DROP EXPRESSION",
        breaks=frozenset({V1}),
        note="22P04: COPY without a list must now send total; DEFAULT is a NULL now",
    ),
    Case(
        id="break-r18-column-made-generated-vs-its-writers",
        schema_sql=ITEMS,
        versions={V1: [ITEM_TOTALER], V2: ITEM_COPY_ALL, V3: [ITEM_READER]},
        migration_sql=MADE_GENERATED,
        breaks=frozenset({V1, V2}),
        note="428C9 for the UPDATE naming total; COPY without a list sends a field too many",
    ),
]

# ------------------------------------------------------------ row-level security
DOCS = """
CREATE TABLE docs (id serial PRIMARY KEY, owner text NOT NULL DEFAULT current_user, body text);
INSERT INTO docs (owner, body) VALUES ('r18_writer', 'mine'), ('someone', 'theirs');
GRANT SELECT, INSERT, UPDATE ON docs TO r18_writer, r18_reader;
GRANT USAGE ON SEQUENCE docs_id_seq TO r18_writer, r18_reader;
"""
DOC_FOR_OTHERS = extended("INSERT INTO docs (owner, body) VALUES (%s, %s)", "someone", "x")
DOC_OWN = extended("INSERT INTO docs (body) VALUES (%s)", "y")
DOC_READER = extended("SELECT id, body FROM docs ORDER BY id")
DOC_UPDATER = simple("UPDATE docs SET body = body WHERE owner = 'someone'")
RLS_OWN = (
    "BEGIN; ALTER TABLE docs ENABLE ROW LEVEL SECURITY;"
    " CREATE POLICY own_docs ON docs USING (owner = current_user); COMMIT"
)
RLS_USERS = {V1: "r18_writer", V2: "r18_reader", V3: "r18_writer"}

SAFE += [
    Case(
        id="safe-r18-rls-policy-only-hides-rows-from-readers",
        schema_sql=DOCS,
        versions={V1: [DOC_OWN], V2: [DOC_READER], V3: [DOC_UPDATER]},
        users=RLS_USERS,
        migration_sql=RLS_OWN,
        note="fewer rows is no error: the reader sees its own, the update touches none",
    ),
    Case(
        id="safe-r18-rls-enabled-with-a-permissive-policy",
        schema_sql=DOCS,
        versions={V1: [DOC_FOR_OTHERS], V2: [DOC_READER]},
        users={v: RLS_USERS[v] for v in (V1, V2)},
        migration_sql="BEGIN; CREATE POLICY everyone ON docs USING (true) WITH CHECK (true);"
        " ALTER TABLE docs ENABLE ROW LEVEL SECURITY; COMMIT",
        note="the policy admits every row",
    ),
]
BREAKING += [
    Case(
        id="break-r18-rls-policy-refuses-rows-for-others",
        schema_sql=DOCS,
        versions={V1: [DOC_FOR_OTHERS], V2: [DOC_READER], V3: [DOC_OWN]},
        users=RLS_USERS,
        migration_sql=RLS_OWN,
        breaks=frozenset({V1}),
        note="42501: a row for someone else fails the policy's check; reads only shrink",
    ),
    Case(
        id="break-r18-rls-enabled-before-its-policy-vs-inserts",
        schema_sql=DOCS,
        versions={V1: [DOC_OWN], V2: [DOC_READER]},
        users={v: RLS_USERS[v] for v in (V1, V2)},
        migration_sql="ALTER TABLE docs ENABLE ROW LEVEL SECURITY",
        breaks=frozenset({V1}),
        note="42501: no policy denies every insert; the reader sees no rows, no error",
    ),
]

# FORCE: the owner too meets the policies
LEDGER = """
CREATE TABLE ledger (id serial PRIMARY KEY, owner text NOT NULL DEFAULT current_user,
  amount int);
ALTER TABLE ledger OWNER TO r18_owner;
ALTER SEQUENCE ledger_id_seq OWNER TO r18_owner;
INSERT INTO ledger (owner, amount) VALUES ('r18_owner', 1), ('auditor', 2);
ALTER TABLE ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON ledger USING (owner = current_user);
"""
FORCE_LEDGER = "ALTER TABLE ledger FORCE ROW LEVEL SECURITY"
OWNER_USERS = {V1: "r18_owner", V2: "r18_owner"}
LEDGER_READER = extended("SELECT id, amount FROM ledger ORDER BY id")
LEDGER_OWN = extended("INSERT INTO ledger (amount) VALUES (%s)", 3)
LEDGER_FOR_AUDITOR = extended("INSERT INTO ledger (owner, amount) VALUES (%s, %s)", "auditor", 4)

SAFE += [
    Case(
        id="safe-r18-rls-forced-on-the-owner-vs-own-rows",
        schema_sql=LEDGER,
        versions={V1: [LEDGER_READER], V2: [LEDGER_OWN]},
        users=OWNER_USERS,
        migration_sql=FORCE_LEDGER,
        note="the owner now sees only its own rows and writes only its own: no error",
    ),
]
BREAKING += [
    Case(
        id="break-r18-rls-forced-on-the-owner-vs-rows-for-others",
        schema_sql=LEDGER,
        versions={V1: [LEDGER_FOR_AUDITOR], V2: [LEDGER_READER]},
        users=OWNER_USERS,
        migration_sql=FORCE_LEDGER,
        breaks=frozenset({V1}),
        note="42501: the owner's row for the auditor fails the policy it no longer skips",
    ),
]

# ------------------------------------------------------------ triggers
SHIPMENTS = """
CREATE TABLE shipments (id serial PRIMARY KEY, carrier text, source text);
INSERT INTO shipments (carrier, source) VALUES ('ups', 'web');
"""
SHIP_NO_SOURCE = extended("INSERT INTO shipments (carrier) VALUES (%s)", "dhl")
SHIP_SOURCE = extended("INSERT INTO shipments (carrier, source) VALUES (%s, %s)", "dhl", "api")
SHIP_TRIGGER = """BEGIN;
CREATE FUNCTION shipments_source() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.source IS NULL THEN {action}; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER shipments_source BEFORE INSERT OR UPDATE ON shipments
  FOR EACH ROW EXECUTE FUNCTION shipments_source();
COMMIT"""

SAFE += [
    Case(
        id="safe-r18-trigger-fills-what-old-writers-leave-out",
        schema_sql=SHIPMENTS,
        versions={V1: [SHIP_NO_SOURCE], V2: [SHIP_SOURCE]},
        migration_sql=SHIP_TRIGGER.format(action="NEW.source := 'legacy'"),
        note="the trigger gives source a value",
    ),
]
BREAKING += [
    Case(
        id="break-r18-trigger-raises-for-old-writers",
        schema_sql=SHIPMENTS,
        versions={V1: [SHIP_NO_SOURCE], V2: [SHIP_SOURCE]},
        migration_sql=SHIP_TRIGGER.format(
            action="RAISE EXCEPTION 'source is required' USING ERRCODE = 'check_violation'"
        ),
        breaks=frozenset({V1}),
        note="23514 raised by the trigger for the insert without source",
    ),
]

# ------------------------------------------------------------ exclusion constraints
BOOKINGS = """
CREATE TABLE bookings (id serial PRIMARY KEY, room int NOT NULL, during tsrange NOT NULL);
INSERT INTO bookings (room, during) VALUES (1, '[2026-01-01 10:00, 2026-01-01 11:00)');
"""
OVERLAP = "'[2026-01-01 10:30, 2026-01-01 11:30)'"
BOOK_TRY: list[str | Q] = [
    simple(f"INSERT INTO bookings (room, during) VALUES (1, {OVERLAP})"),
    simple(f"DELETE FROM bookings WHERE during = {OVERLAP}"),
]
BOOK_QUIET: list[str | Q] = [
    simple(f"INSERT INTO bookings (room, during) VALUES (1, {OVERLAP}) ON CONFLICT DO NOTHING"),
    simple(f"DELETE FROM bookings WHERE during = {OVERLAP}"),
]
EXCLUDE = (
    "ALTER TABLE bookings ADD CONSTRAINT no_double_booking EXCLUDE USING gist (during WITH &&)"
)

SAFE += [
    Case(
        id="safe-r18-exclusion-constraint-vs-do-nothing-bookers",
        schema_sql=BOOKINGS,
        versions={V1: BOOK_QUIET},
        migration_sql=EXCLUDE,
        note="ON CONFLICT DO NOTHING takes an exclusion constraint as its arbiter",
    ),
]
BREAKING += [
    Case(
        id="break-r18-exclusion-constraint-vs-an-overlapping-booker",
        schema_sql=BOOKINGS,
        versions={V1: BOOK_TRY, V2: BOOK_QUIET},
        migration_sql=EXCLUDE,
        breaks=frozenset({V1}),
        note="23P01: its booking overlaps the 10:00 one",
    ),
]

# ------------------------------------------------------------ renamed constraints, schemas
ACCOUNTS = """
CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL, name text,
  CONSTRAINT accounts_email_key UNIQUE (email));
INSERT INTO accounts (email, name) VALUES ('a@x', 'ann');
CREATE SCHEMA archive;
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE feelings (id int PRIMARY KEY, m mood);
INSERT INTO feelings VALUES (1, 'happy'), (2, 'sad');
"""
UPSERT_NAMED = simple(
    "INSERT INTO accounts (email, name) VALUES ('a@x', 'x')"
    " ON CONFLICT ON CONSTRAINT accounts_email_key DO UPDATE SET name = excluded.name"
)
UPSERT_COLUMNS = simple(
    "INSERT INTO accounts (email, name) VALUES ('a@x', 'y')"
    " ON CONFLICT (email) DO UPDATE SET name = excluded.name"
)
ACCOUNT_HELD = apg("SELECT id, name FROM accounts WHERE id = $1", 1)
RENAME_KEY = "ALTER TABLE accounts RENAME CONSTRAINT accounts_email_key TO accounts_email_uq"

SAFE += [
    Case(
        id="safe-r18-renamed-constraint-vs-column-inferred-upserts",
        schema_sql=ACCOUNTS,
        versions={V1: [UPSERT_COLUMNS], V2: [ACCOUNT_HELD]},
        migration_sql=RENAME_KEY,
        note="ON CONFLICT (email) finds the index whatever its name",
    ),
    Case(
        id="safe-r18-collation-change-vs-unnamed-sorting-reader",
        schema_sql=ACCOUNTS,
        versions={V1: [extended("SELECT id, name FROM accounts ORDER BY name LIMIT %s", 5)]},
        migration_sql='ALTER TABLE accounts ALTER COLUMN name TYPE text COLLATE "C"',
        note="planned again: another order, no error",
    ),
    Case(
        id="safe-r18-enum-add-value-vs-held-readers-and-writers",
        schema_sql=ACCOUNTS,
        versions={
            V1: [apg("SELECT id, m FROM feelings WHERE m = $1", "sad")],
            V2: [prepared("UPDATE feelings SET m = %s WHERE id = 2", "sad")],
        },
        migration_sql="ALTER TYPE mood ADD VALUE 'meh' AFTER 'happy'",
        note="a new label changes no plan and no existing label",
    ),
]
BREAKING += [
    Case(
        id="break-r18-renamed-constraint-vs-on-conflict-on-constraint",
        schema_sql=ACCOUNTS,
        versions={V1: [UPSERT_NAMED], V2: [UPSERT_COLUMNS]},
        migration_sql=RENAME_KEY,
        breaks=frozenset({V1}),
        note="42704: constraint accounts_email_key does not exist",
    ),
    Case(
        id="break-r18-collation-change-vs-a-held-select",
        schema_sql=ACCOUNTS,
        versions={V1: [ACCOUNT_HELD], V2: [UPSERT_COLUMNS]},
        migration_sql='ALTER TABLE accounts ALTER COLUMN name TYPE text COLLATE "C"',
        breaks=frozenset({V1}),
        note="0A000: a collation is part of the held result type",
    ),
    Case(
        id="break-r18-enum-rename-value-vs-a-literal-reader",
        schema_sql=ACCOUNTS,
        versions={
            V1: [prepared("SELECT count(*) FROM feelings WHERE m = 'sad' AND id > %s", 0)],
            V2: [apg("SELECT id, m FROM feelings WHERE id = $1", 1)],
        },
        migration_sql="ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
        breaks=frozenset({V1}),
        note="22P02 on a fresh connection: 'sad' is no label of mood any more",
    ),
    Case(
        id="break-r18-table-set-schema-vs-unqualified-users",
        schema_sql=ACCOUNTS,
        versions={
            V1: [UPSERT_COLUMNS],
            V2: [extended("SELECT id, m FROM feelings WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE accounts SET SCHEMA archive",
        breaks=frozenset({V1}),
        note="42P01: accounts is not on the search_path any more",
    ),
]
SAFE += [
    Case(
        id="safe-r18-table-set-schema-with-a-view-left-behind",
        schema_sql=ACCOUNTS,
        versions={
            V1: [
                simple(
                    "INSERT INTO accounts (email, name) VALUES ('c@x', 'c') ON CONFLICT DO NOTHING"
                )
            ],
            V2: [extended("SELECT id, name FROM accounts WHERE id = %s", 1)],
        },
        migration_sql="BEGIN; ALTER TABLE accounts SET SCHEMA archive;"
        " CREATE VIEW public.accounts AS SELECT * FROM archive.accounts; COMMIT",
        note="the view takes the insert (auto-updatable) and the reads",
    ),
]

# ------------------------------------------------------------ partitions
MEASUREMENTS = """
CREATE TABLE measurements (ts date NOT NULL, v int) PARTITION BY RANGE (ts);
CREATE TABLE measurements_2025 PARTITION OF measurements
  FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measurements_2026 PARTITION OF measurements
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO measurements VALUES ('2025-03-01', 1), ('2026-03-01', 2);
CREATE TABLE measurements_2027 (ts date NOT NULL, v int);
"""
LATE_2025 = simple("INSERT INTO measurements VALUES ('2025-12-30', 5)")
M_READER = extended("SELECT count(*) FROM measurements WHERE ts >= %s", "2025-01-01")
STAGING_STRAY: list[str | Q] = [
    simple("INSERT INTO measurements_2027 VALUES ('2028-01-05', 9)"),
    simple("DELETE FROM measurements_2027 WHERE ts >= '2028-01-01'"),
]
STAGING_GOOD = simple("INSERT INTO measurements_2027 VALUES ('2027-02-01', 3)")
ATTACH_2027 = (
    "ALTER TABLE measurements ATTACH PARTITION measurements_2027"
    " FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')"
)

SAFE += [
    Case(
        id="safe-r18-detach-old-partition-vs-readers",
        schema_sql=MEASUREMENTS,
        versions={
            V1: [M_READER],
            V2: [simple("INSERT INTO measurements VALUES ('2026-05-01', 4)")],
        },
        migration_sql="ALTER TABLE measurements DETACH PARTITION measurements_2025",
        note="the reader counts fewer rows; 2026 still has a partition",
    ),
    Case(
        id="safe-r18-attach-partition-vs-in-range-loader",
        schema_sql=MEASUREMENTS,
        versions={V1: [STAGING_GOOD], V2: [M_READER]},
        migration_sql=ATTACH_2027,
        note="the loader's rows are inside the new partition's range",
    ),
]
BREAKING += [
    Case(
        id="break-r18-detach-partition-vs-a-late-writer",
        schema_sql=MEASUREMENTS,
        versions={V1: [LATE_2025], V2: [M_READER]},
        migration_sql="ALTER TABLE measurements DETACH PARTITION measurements_2025",
        breaks=frozenset({V1}),
        note="23514: no partition of measurements for 2025-12-30",
    ),
    Case(
        id="break-r18-attach-partition-vs-a-stray-loader",
        schema_sql=MEASUREMENTS,
        versions={V1: STAGING_STRAY, V2: [STAGING_GOOD]},
        migration_sql=ATTACH_2027,
        breaks=frozenset({V1}),
        note="23514: 2028-01-05 violates the partition constraint it now has",
    ),
]

ROUND18_SAFE = SAFE
ROUND18_BREAKING = BREAKING
CASES = SAFE + BREAKING
