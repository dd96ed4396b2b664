"""Ground truth found by scripts/fuzz_deploys.py (random deploys, PostgreSQL against the
proxy): routines whose string body names a column a migration changes, inserts that
write by position, a held read of a composite field a rename takes away, a held write
of a composite an attribute drop changes, and held aggregates or expressions whose
result type follows retyped columns (or does not): of one column, of several, with
numeric constants, NULLIF, the sides of a UNION; array writers of a column made text.

PostgreSQL plans an SQL or PL/pgSQL string body at each call, not when the table it
names changes: a drop, rename or retype of what the body names fails the callers (or
not: an SQL function's result is coerced to its declared type by assignment). An
INSERT without a column list writes by position: a rename does not reach it.

Each case is a rolling deploy a team really ships; PostgreSQL decides (see
tests/support/groundtruth.py) which versions a migration breaks.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, apg, copy_in, extended, prepared, simple

V1, V2 = "app@1", "app@2"

SCORES = """
CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, score int);
INSERT INTO accounts VALUES (1, 'a@x', 5), (2, 'b@x', 7);
CREATE FUNCTION account_score(bigint) RETURNS int LANGUAGE sql
  AS 'SELECT score FROM accounts WHERE id = $1';
CREATE FUNCTION top_scores(int) RETURNS TABLE (account bigint, points int)
  LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT id, score FROM accounts WHERE score >= $1 ORDER BY score DESC;
END $$;
"""
NEXT_ID = "(SELECT coalesce(max(id), 0) + 1 FROM accounts)"

BODIES_SAFE: list[Case] = [
    Case(
        id="safe-body-sql-function-result-widened",
        schema_sql=SCORES,
        versions={V1: [prepared("SELECT account_score(%s)", 1)]},
        migration_sql="ALTER TABLE accounts ALTER COLUMN score TYPE bigint",
        note="an SQL function's final SELECT is coerced to its declared int by assignment",
    ),
    Case(
        id="safe-body-positional-insert-vs-column-rename",
        schema_sql=SCORES,
        versions={
            V1: [simple(f"INSERT INTO accounts VALUES ({NEXT_ID}, 'v@w', 1)")],
            V2: [extended("SELECT email FROM accounts WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE accounts RENAME COLUMN score TO points",
        note="a write by position names no column: the rename does not reach it",
    ),
]

BODIES_BREAKING: list[Case] = [
    Case(
        id="break-body-sql-function-column-dropped",
        schema_sql=SCORES,
        versions={
            V1: [apg("SELECT account_score($1)", 1)],
            V2: [extended("SELECT email FROM accounts WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE accounts DROP COLUMN score",
        breaks=frozenset({V1}),
        note='42703 column "score" does not exist, inside the function at the call',
    ),
    Case(
        id="break-body-plpgsql-column-renamed",
        schema_sql=SCORES,
        versions={
            V1: [simple("SELECT * FROM top_scores(1)")],
            V2: [simple(f"INSERT INTO accounts VALUES ({NEXT_ID}, 'v@w', 1)")],
        },
        migration_sql="ALTER TABLE accounts RENAME COLUMN score TO points",
        breaks=frozenset({V1}),
        note="the RETURN QUERY names the old column: 42703 at the call",
    ),
    Case(
        id="break-body-plpgsql-return-query-widened",
        schema_sql=SCORES,
        versions={
            V1: [extended("SELECT * FROM top_scores(%s)", 1)],
            V2: [prepared("SELECT account_score(%s)", 1)],
        },
        migration_sql="ALTER TABLE accounts ALTER COLUMN score TYPE bigint",
        breaks=frozenset({V1}),
        note="42804 structure of query does not match function result type: RETURN QUERY"
        " is not coerced (the SQL function's result is)",
    ),
    Case(
        id="break-composite-field-renamed-vs-held-read",
        schema_sql="""
CREATE TYPE address AS (street text, city text);
CREATE TABLE people (id int PRIMARY KEY, home address, nick text);
INSERT INTO people VALUES (1, ROW('s', 'c'), 'n');
""",
        versions={
            V1: [apg("SELECT (home).city FROM people WHERE id = $1", 1)],
            V2: [simple("SELECT nick FROM people ORDER BY id")],
        },
        migration_sql="ALTER TYPE address RENAME ATTRIBUTE city TO town",
        breaks=frozenset({V1}),
        note="42703 on the version's next connection: the statement it holds keeps working",
    ),
    Case(
        id="break-body-sql-function-result-retyped-to-text",
        schema_sql=SCORES,
        versions={
            V1: [simple("SELECT account_score(1)")],
            V2: [simple("SELECT id FROM accounts ORDER BY id")],
        },
        migration_sql="ALTER TABLE accounts ALTER COLUMN score TYPE text",
        breaks=frozenset({V1}),
        note="42P13 return type mismatch: no assignment cast from text to int",
    ),
    Case(
        id="break-held-read-of-domain-column-retyped-beside-its-writes",
        schema_sql="CREATE DOMAIN positive AS int CHECK (VALUE > 0);"
        " CREATE TABLE items (sku text PRIMARY KEY, qty positive NOT NULL);"
        " INSERT INTO items VALUES ('a', 1), ('b', 2);",
        versions={
            V1: [
                prepared("SELECT i.sku, i.qty FROM items i WHERE i.qty > %s", 0),
                extended("UPDATE items SET qty = qty + 1 WHERE sku = 'a'"),
            ],
        },
        migration_sql="ALTER TABLE items ALTER COLUMN qty TYPE bigint",
        breaks=frozenset({V1}),
        note="0A000 on the held read; its writes fit, and a clean replay of them must not "
        "clear the version (fuzz seed 21024)",
    ),
]

PEOPLE = """
CREATE TYPE address AS (street text, city text);
CREATE TABLE people (id int PRIMARY KEY, home address, nick text);
INSERT INTO people VALUES (1, ROW('s', 'c'), 'n');
"""
NEXT_PERSON = "(SELECT coalesce(max(id), 0) + 1 FROM people)"

HELD_WRITES_SAFE: list[Case] = [
    Case(
        id="safe-composite-attribute-dropped-vs-held-insert-without-it",
        schema_sql=PEOPLE,
        versions={V1: [apg(f"INSERT INTO people (id, nick) VALUES ({NEXT_PERSON}, $1)", "x")]},
        migration_sql="ALTER TYPE address DROP ATTRIBUTE city",
        note="the version writes people but never its composite column",
    ),
]

HELD_WRITES_BREAKING: list[Case] = [
    Case(
        id="break-composite-attribute-dropped-vs-held-insert",
        schema_sql=PEOPLE,
        versions={
            V1: [apg(f"INSERT INTO people VALUES ({NEXT_PERSON}, ROW('s', 'c'), NULL)")],
            V2: [simple("SELECT nick FROM people ORDER BY id")],
        },
        migration_sql="ALTER TYPE address DROP ATTRIBUTE city",
        breaks=frozenset({V1}),
        note="42846 cannot cast type record to address on the version's next connection:"
        " the statement it holds keeps its plan (fuzz seed 11018)",
    ),
]

METRICS = """
CREATE TABLE metrics (id bigint PRIMARY KEY, name varchar(40), n smallint, v numeric);
INSERT INTO metrics VALUES (1, 'a', 1, 1.5), (2, 'b', 2, 2.5);
"""

DERIVED_SAFE: list[Case] = [
    Case(
        id="safe-held-avg-and-count-vs-numeric-to-int",
        schema_sql=METRICS,
        versions={V1: [apg("SELECT avg(v), count(v), v::text FROM metrics GROUP BY v")]},
        migration_sql="ALTER TABLE metrics ALTER COLUMN v TYPE int",
        note="avg is a numeric for both types; count and the cast have their own",
    ),
    Case(
        id="safe-held-max-sum-plus-vs-types-they-absorb",
        schema_sql=METRICS,
        versions={
            V1: [
                prepared("SELECT max(name), sum(n), n + 1 FROM metrics WHERE id = %s GROUP BY n", 1)
            ]
        },
        migration_sql="BEGIN; ALTER TABLE metrics ALTER COLUMN name TYPE text;"
        " ALTER TABLE metrics ALTER COLUMN n TYPE int; COMMIT",
        note="max(varchar) is text's; sum(smallint) and sum(int) are bigints; int2 + 1 is an"
        " int4: no result type changes",
    ),
]

DERIVED_BREAKING: list[Case] = [
    Case(
        id="break-held-sum-vs-numeric-to-int",
        schema_sql=METRICS,
        versions={
            V1: [apg("SELECT sum(v) FROM metrics WHERE id >= $1", 1)],
            V2: [simple("SELECT sum(v) FROM metrics")],
        },
        migration_sql="ALTER TABLE metrics ALTER COLUMN v TYPE int",
        breaks=frozenset({V1}),
        note="0A000 cached plan must not change result type: sum(numeric) is a numeric,"
        " sum(int) a bigint (fuzz seed 11010)",
    ),
    Case(
        id="break-held-coalesced-sum-vs-int-to-bigint",
        schema_sql=METRICS,
        versions={
            V1: [prepared("SELECT coalesce(sum(n), 0) AS total FROM metrics WHERE id > %s", 0)]
        },
        migration_sql="ALTER TABLE metrics ALTER COLUMN n TYPE bigint",
        breaks=frozenset({V1}),
        note="an ORM's Coalesce(Sum(n), 0): a bigint before, a numeric after (0A000)",
    ),
]

READINGS = """
CREATE TABLE readings (id bigint PRIMARY KEY, a int, b bigint, c bigint, x numeric(10,2),
  y real, s varchar(40), t varchar(40));
INSERT INTO readings VALUES (1, 1, 2, 3, 1.5, 2.5, 'ab', 'cd'), (2, 3, 4, 5, 3.5, 4.5, 'ef', 'gh');
"""

HELD_EXPRESSIONS_SAFE: list[Case] = [
    Case(
        id="safe-held-union-side-widened-to-the-other",
        schema_sql=READINGS,
        versions={
            V1: [apg("SELECT a FROM readings WHERE id = $1 UNION SELECT b FROM readings", 1)]
        },
        migration_sql="ALTER TABLE readings ALTER COLUMN a TYPE bigint",
        note="the sides' common type is an int8 before and after (each side's column was"
        " counted alone: a false block)",
    ),
]

HELD_EXPRESSIONS_BREAKING: list[Case] = [
    Case(
        id="break-held-sum-of-two-columns-widened-past-the-other",
        schema_sql=READINGS,
        versions={
            V1: [apg("SELECT a + b FROM readings WHERE id = $1", 1)],
            V2: [simple("SELECT a + b FROM readings WHERE id = 1")],
        },
        migration_sql="ALTER TABLE readings ALTER COLUMN a TYPE numeric",
        breaks=frozenset({V1}),
        note="0A000: int4 + int8 is an int8, numeric + int8 a numeric",
    ),
    Case(
        id="break-held-product-of-two-columns-narrowed-together",
        schema_sql=READINGS,
        versions={V1: [prepared("SELECT b * b, id FROM readings WHERE id = %s", 1)]},
        migration_sql="ALTER TABLE readings ALTER COLUMN a TYPE bigint, ALTER COLUMN b TYPE int",
        breaks=frozenset({V1}),
        note="0A000: int8 * int8 becomes int4 * int4",
    ),
    Case(
        id="break-held-coalesce-of-two-varchars-one-widened",
        schema_sql=READINGS,
        versions={V1: [apg("SELECT coalesce(s, t) FROM readings WHERE id = $1", 1)]},
        migration_sql="ALTER TABLE readings ALTER COLUMN t TYPE varchar(60)",
        breaks=frozenset({V1}),
        note="0A000: two varchar(40)s keep their typmod in COALESCE, a varchar(40) and a"
        " varchar(60) do not",
    ),
    Case(
        id="break-held-coalesce-with-numeric-constant-real-to-int",
        schema_sql=READINGS,
        versions={V1: [prepared("SELECT coalesce(y, 0.5) FROM readings WHERE id = %s", 1)]},
        migration_sql="ALTER TABLE readings ALTER COLUMN y TYPE int",
        breaks=frozenset({V1}),
        note="0A000: real with a numeric constant is a real, an integer with it a numeric",
    ),
    Case(
        id="break-held-nullif-keeps-the-typmod",
        schema_sql=READINGS,
        versions={V1: [apg("SELECT nullif(x, 0) FROM readings WHERE id = $1", 1)]},
        migration_sql="ALTER TABLE readings ALTER COLUMN x TYPE numeric(12,2)",
        breaks=frozenset({V1}),
        note="0A000: NULLIF keeps its left side's type and typmod",
    ),
]

# fuzz-more-60428: text[] made text. text takes any value by assignment (through the
# array's output function), so a writer of ARRAY[...] or a text COPY is fine; a written
# expression reading the column meets the new type.
TAGGED = """
CREATE TABLE events (id serial PRIMARY KEY, kind text NOT NULL, tags text[]);
INSERT INTO events (kind, tags) VALUES ('a', ARRAY['x']);
"""
TAGS_TO_TEXT = "ALTER TABLE events ALTER COLUMN tags TYPE text"
ARRAY_WRITER = apg("INSERT INTO events (kind, tags) VALUES ($1, ARRAY['x'])", "b")
TAG_COPY = copy_in("COPY events (kind, tags) FROM STDIN", ("c", ["y"]))

ASSIGNED_SAFE: list[Case] = [
    Case(
        id="safe-array-writers-of-a-column-made-text",
        schema_sql=TAGGED,
        versions={V1: [ARRAY_WRITER, TAG_COPY], V2: [extended("SELECT id, kind FROM events")]},
        migration_sql=TAGS_TO_TEXT,
        note="fuzz-more-60428: the held insert's ARRAY['x'] goes in as '{x}'",
    ),
]
ASSIGNED_BREAKING: list[Case] = [
    Case(
        id="break-appending-writer-of-a-column-made-text",
        schema_sql=TAGGED,
        versions={
            V1: [simple("UPDATE events SET tags = array_append(tags, 'z') WHERE id = 1")],
            V2: [ARRAY_WRITER],
        },
        migration_sql=TAGS_TO_TEXT,
        breaks=frozenset({V1}),
        note="42883: array_append(text, unknown) does not exist",
    ),
]

CASES = (
    BODIES_SAFE
    + BODIES_BREAKING
    + HELD_WRITES_SAFE
    + HELD_WRITES_BREAKING
    + DERIVED_SAFE
    + DERIVED_BREAKING
    + HELD_EXPRESSIONS_SAFE
    + HELD_EXPRESSIONS_BREAKING
    + ASSIGNED_SAFE
    + ASSIGNED_BREAKING
)
