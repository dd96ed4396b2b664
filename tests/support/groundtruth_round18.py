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

from tests.support.groundtruth import Case, copy_in, extended

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

ROUND18_SAFE = SAFE
ROUND18_BREAKING = BREAKING
CASES = SAFE + BREAKING
