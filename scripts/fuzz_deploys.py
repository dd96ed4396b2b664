"""Differential fuzz of rolling deploys: random versions and migrations, PostgreSQL
against the proxy.

    .venv/bin/python scripts/fuzz_deploys.py [--pg 15|18] [--cases N] [--seed S]
    .venv/bin/python scripts/fuzz_deploys.py --seeds 5030,5043   # replay some again

Each case is one fixed schema (tables, a view, SQL and PL/pgSQL functions, an enum,
a domain, a schema of its own), one to three versions running one to three
statements each from a pool (reads, joins, positional and listed inserts, upserts,
updates, views, function calls, a transaction; through psycopg's simple, extended and
prepared protocols and asyncpg's prepared statements) and a migration of one or two
steps from a pool (drops, renames, retypes, NOT NULL, defaults, constraints, views,
functions, enums, schemas). ``--profile orm`` plays a third schema instead: what
Django, Rails and SQLAlchemy send (quoted names, every column listed, ``RETURNING
"id"``, bulk VALUES, upserts, ``FOR UPDATE OF ... SKIP LOCKED``, savepoints, jsonb and
array operators) against the ORMs' own migration DDL (AddField with a default then
DROP DEFAULT, AlterField, RenameField, RemoveField, AddIndex CONCURRENTLY,
constraints, unique_together, RenameModel, on_delete changes; Rails' change_column_null,
rename_column, remove_column). ``--profile held`` reads outputs whose type follows their
columns' (``a + b``, ``coalesce(x, 0.5)``, CASE, NULLIF, UNION sides, scalar subqueries,
CTEs), held prepared, against retypes of one or two of those columns. The ground-truth
harness (tests/support/groundtruth.py) decides what PostgreSQL breaks and what an
enforce-mode proxy blocks; every disagreement is printed with the case, the errors and
the proxy's answer, then a count of each outcome. A case whose migration fails, or whose
versions fail before it, is ``invalid`` and not judged. Seeds are stable: a printed case
id (``fuzz-5030``) runs again with ``--seeds 5030`` (``fuzz-orm-20003``: ``--profile orm
--seeds 20003``).
What a run found goes to the ground-truth corpus as
a case of its own once fixed (tests/support/groundtruth_fuzzed.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skewguard.pgcluster import LocalCluster
from tests.support import groundtruth as gt
from tests.support.clusters import Certificates, available_installs, start_cluster
from tests.support.proxy import ProxyProcess

SCHEMA = """
CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, name varchar(40),
  status text DEFAULT 'active', score int, created_at timestamptz DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, account_id bigint REFERENCES accounts(id),
  total numeric(10,2), note text, state text);
INSERT INTO accounts VALUES (1, 'a@x', 'ann', 'active', 5, now()),
  (2, 'b@x', 'bob', 'gone', 7, now());
INSERT INTO orders (account_id, total, note, state) VALUES (1, 9.5, 'n', 'new');
CREATE VIEW active_accounts AS SELECT id, email, name FROM accounts WHERE status = 'active';
CREATE FUNCTION account_score(bigint) RETURNS int LANGUAGE sql
  AS 'SELECT score FROM accounts WHERE id = $1';
CREATE INDEX orders_account_idx ON orders (account_id);
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE feelings (id serial PRIMARY KEY, account_id bigint, m mood, weight real DEFAULT 1);
INSERT INTO feelings (account_id, m) VALUES (1, 'happy');
ALTER TABLE accounts ADD CONSTRAINT accounts_email_uq UNIQUE (email);
CREATE VIEW order_totals AS SELECT account_id, sum(total) AS total FROM orders GROUP BY account_id;
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TABLE items (id serial PRIMARY KEY, qty positive, sku text UNIQUE);
INSERT INTO items (qty, sku) VALUES (1, 'a');
CREATE SCHEMA app;
CREATE TABLE app.settings (k text PRIMARY KEY, v text);
INSERT INTO app.settings VALUES ('x', '1');
"""

#: A statement, the arguments it is sent with, and the rows of a COPY (None: not one).
Statement = tuple[str, tuple[Any, ...]] | tuple[str, tuple[Any, ...], tuple[tuple[Any, ...], ...]]

ACCOUNT_COLUMNS = ["id", "email", "name", "status", "score", "created_at"]
ORDER_COLUMNS = ["id", "account_id", "total", "note", "state"]
NEXT_ID = "(SELECT coalesce(max(id), 0) + 1 FROM accounts)"
FRESH_EMAIL = "md5(random()::text)"  # a unique key: a version's second run must not collide


def statements(r: random.Random) -> list[Statement]:
    """The statement pool of the first schema, with the arguments each is sent with
    (psycopg ``%s``)."""
    some = ", ".join(r.sample(ACCOUNT_COLUMNS, r.randint(1, 3)))
    one_of = r.choice
    return [
        (f"SELECT {some} FROM accounts WHERE id = %s", (1,)),
        ("SELECT * FROM accounts WHERE id = %s", (1,)),
        (
            f"SELECT a.{one_of(ACCOUNT_COLUMNS)}, o.{one_of(ORDER_COLUMNS)}"
            " FROM accounts a JOIN orders o ON o.account_id = a.id",
            (),
        ),
        (
            f"SELECT {one_of(['email', 'name', 'score', 'total', 'note'])}"
            " FROM accounts JOIN orders ON orders.account_id = accounts.id",
            (),
        ),
        (f"INSERT INTO accounts (id, email) VALUES ({NEXT_ID}, {FRESH_EMAIL})", ()),
        (f"INSERT INTO accounts (id, email, name) VALUES ({NEXT_ID}, {FRESH_EMAIL}, 'nm')", ()),
        (
            f"INSERT INTO accounts VALUES ({NEXT_ID}, {FRESH_EMAIL}, 'vv', 'active', 1, now())",
            (),
        ),
        ("INSERT INTO orders VALUES (DEFAULT, 1, 3.5, 'n', 'new')", ()),
        ("INSERT INTO orders (account_id, total) VALUES (1, %s)", (one_of([1.5, 2]),)),
        ("UPDATE accounts SET score = score + 1 WHERE id = %s", (1,)),
        (f"UPDATE orders SET {one_of(['state', 'note'])} = 'x' WHERE id = %s", (1,)),
        ("UPDATE accounts SET name = %s WHERE id = 1 RETURNING *", ("zed",)),
        ("DELETE FROM orders WHERE state = 'zzz'", ()),
        ("DELETE FROM accounts WHERE id = -1", ()),
        ("SELECT * FROM active_accounts", ()),
        ("SELECT id, email FROM active_accounts WHERE name = 'ann'", ()),
        ("SELECT account_score(%s)", (1,)),
        (f"SELECT count(*) FROM orders WHERE {one_of(['note', 'state'])} LIKE 'n%%'", ()),
        ("INSERT INTO feelings (account_id, m) VALUES (1, %s)", ("sad",)),
        ("SELECT m, weight FROM feelings WHERE m = %s", ("sad",)),
        ("SELECT o.* FROM orders o WHERE o.account_id = %s ORDER BY o.id", (1,)),
        ("SELECT status, count(*) FROM accounts GROUP BY status", ()),
        (
            f"INSERT INTO accounts (id, email) VALUES ({NEXT_ID}, %s)"
            " ON CONFLICT (email) DO NOTHING",
            ("a@x",),
        ),
        (
            f"INSERT INTO accounts (id, email) VALUES ({NEXT_ID}, 'a@x')"
            " ON CONFLICT ON CONSTRAINT accounts_email_uq DO UPDATE SET name = 'u'",
            (),
        ),
        ("SELECT * FROM order_totals", ()),
        ("SELECT total FROM order_totals WHERE account_id = %s", (1,)),
        ("INSERT INTO items (qty, sku) VALUES (%s, md5(random()::text))", (2,)),
        ("SELECT i.sku, i.qty FROM items i WHERE i.qty > %s", (0,)),
        ("UPDATE items SET qty = qty + 1 WHERE sku = 'a'", ()),
        ("SELECT v FROM app.settings WHERE k = 'x'", ()),
        ("SET search_path = app, public; SELECT v FROM settings", ()),
        (
            "BEGIN; UPDATE accounts SET score = 1 WHERE id = 1;"
            " INSERT INTO orders (account_id, total) VALUES (1, 2); COMMIT",
            (),
        ),
        ("WITH x AS (SELECT id, score FROM accounts) SELECT count(*) FROM x WHERE score > 0", ()),
        ("SELECT nextval('orders_id_seq')", ()),
    ]


def _asyncpg(sql: str) -> str:
    """psycopg placeholders as asyncpg's ``$n``."""
    n = 0
    while "%s" in sql:
        n += 1
        sql = sql.replace("%s", f"${n}", 1)
    return sql.replace("%%", "%")


def version_queries(r: random.Random, pool: list[Statement]) -> list[gt.Q]:
    out = []
    for statement in r.sample(pool, r.randint(1, 3)):
        sql, args = statement[0], statement[1]
        if len(statement) == 3:
            out.append(gt.copy_in(sql, *statement[2]))
            continue
        via = r.choice(["simple", "extended", "prepared", "asyncpg"])
        if ";" in sql:  # several statements: only the simple protocol takes them
            via = "simple"
        elif via == "asyncpg":
            sql = _asyncpg(sql)
        out.append(gt.Q(sql, args, via))  # type: ignore[arg-type]
    return out


Step = Callable[[random.Random], str]
CORE_MIGRATIONS: list[Step] = [
    lambda r: (
        "ALTER TABLE accounts DROP COLUMN "
        + r.choice(["name", "status", "score", "created_at", "email"])
    ),
    lambda r: (
        f"ALTER TABLE accounts RENAME COLUMN {r.choice(['name', 'email', 'score'])}"
        f" TO {r.choice(['full_name', 'mail', 'points'])}"
    ),
    lambda r: f"ALTER TABLE orders DROP COLUMN {r.choice(['note', 'state', 'total'])}",
    lambda r: r.choice(
        [
            "ALTER TABLE orders RENAME TO purchases",
            "BEGIN; ALTER TABLE orders RENAME TO purchases;"
            " CREATE VIEW orders AS SELECT * FROM purchases; COMMIT",
            "ALTER TABLE accounts RENAME TO users",
            "DROP TABLE feelings",
            "DROP TABLE orders CASCADE",
        ]
    ),
    lambda r: r.choice(
        [
            "ALTER TABLE accounts ADD COLUMN extra int",
            "ALTER TABLE accounts ADD COLUMN extra int NOT NULL DEFAULT 0",
            "ALTER TABLE orders ADD COLUMN name text",
            "ALTER TABLE orders ADD COLUMN extra int NOT NULL DEFAULT 1",
            "ALTER TABLE accounts ADD COLUMN total int",
        ]
    ),
    lambda r: r.choice(
        [
            "ALTER TABLE accounts ALTER COLUMN score TYPE bigint",
            "ALTER TABLE accounts ALTER COLUMN score TYPE text",
            "ALTER TABLE accounts ALTER COLUMN name TYPE varchar(10)",
            "ALTER TABLE accounts ALTER COLUMN name TYPE text",
            "ALTER TABLE accounts ALTER COLUMN id TYPE int",
            "ALTER TABLE accounts ALTER COLUMN email TYPE varchar(3)",
            "ALTER TABLE orders ALTER COLUMN total TYPE numeric(5,2)",
            "ALTER TABLE orders ALTER COLUMN total TYPE float8",
            "ALTER TABLE orders ALTER COLUMN state TYPE varchar(3)",
            "ALTER TABLE items ALTER COLUMN qty TYPE int",
            "ALTER TABLE items ALTER COLUMN qty TYPE bigint",
        ]
    ),
    lambda r: r.choice(
        [
            "ALTER TABLE accounts ALTER COLUMN name SET NOT NULL",
            "ALTER TABLE accounts ALTER COLUMN email DROP NOT NULL",
            "ALTER TABLE accounts ALTER COLUMN score SET NOT NULL",
            "ALTER TABLE orders ALTER COLUMN note SET NOT NULL",
            "ALTER TABLE orders ALTER COLUMN account_id SET NOT NULL",
            "ALTER TABLE items ALTER COLUMN sku SET NOT NULL",
            "ALTER TABLE accounts ALTER COLUMN status DROP DEFAULT",
            "ALTER TABLE accounts ALTER COLUMN status SET NOT NULL",
            "ALTER TABLE accounts ALTER COLUMN created_at DROP DEFAULT",
            "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0",
        ]
    ),
    lambda r: r.choice(
        [
            "ALTER TABLE accounts ADD CONSTRAINT ck CHECK (score >= 0)",
            "ALTER TABLE accounts ADD CONSTRAINT ck CHECK (score < 100)",
            "ALTER TABLE accounts ADD CONSTRAINT ck CHECK (score > 5) NOT VALID",
            "ALTER TABLE accounts ADD CONSTRAINT ck CHECK (status IN ('active', 'gone'))",
            "ALTER TABLE accounts ADD CONSTRAINT uq UNIQUE (name)",
            "ALTER TABLE orders ADD CONSTRAINT ck CHECK (total > 2)",
            "ALTER TABLE orders ADD CONSTRAINT uq UNIQUE (account_id)",
            "ALTER TABLE accounts DROP CONSTRAINT accounts_email_uq",
            "ALTER TABLE accounts RENAME CONSTRAINT accounts_email_uq TO accounts_email_key",
            "BEGIN; ALTER TABLE accounts DROP CONSTRAINT accounts_email_uq;"
            " CREATE UNIQUE INDEX accounts_email_idx ON accounts (email); COMMIT",
            "ALTER TABLE items DROP CONSTRAINT items_sku_key",
            "ALTER TABLE orders DROP CONSTRAINT orders_account_id_fkey",
            "ALTER TABLE orders ADD CONSTRAINT fk2 FOREIGN KEY (account_id)"
            " REFERENCES accounts (id) ON DELETE CASCADE",
            "DROP INDEX orders_account_idx",
            "ALTER DOMAIN positive ADD CONSTRAINT lim CHECK (VALUE < 3)",
            "ALTER DOMAIN positive ADD CONSTRAINT lim CHECK (VALUE < 100)",
        ]
    ),
    lambda r: r.choice(
        [
            "DROP VIEW active_accounts",
            "CREATE OR REPLACE VIEW active_accounts AS"
            " SELECT id, email, name, score FROM accounts WHERE status = 'active'",
            "BEGIN; DROP VIEW active_accounts;"
            " CREATE VIEW active_accounts AS SELECT id, email FROM accounts; COMMIT",
            "BEGIN; DROP VIEW active_accounts;"
            " CREATE VIEW active_accounts AS SELECT id, name, email FROM accounts; COMMIT",
            "ALTER VIEW active_accounts RENAME COLUMN name TO nm",
            "BEGIN; DROP VIEW order_totals; CREATE VIEW order_totals AS SELECT account_id,"
            " sum(total)::float8 AS total FROM orders GROUP BY account_id; COMMIT",
            "CREATE OR REPLACE VIEW order_totals AS SELECT account_id, sum(total) AS total,"
            " count(*) AS n FROM orders GROUP BY account_id",
        ]
    ),
    lambda r: r.choice(
        [
            "DROP FUNCTION account_score(bigint)",
            "BEGIN; DROP FUNCTION account_score(bigint); CREATE FUNCTION account_score(int)"
            " RETURNS int LANGUAGE sql AS 'SELECT 1'; COMMIT",
            "BEGIN; DROP FUNCTION account_score(bigint); CREATE FUNCTION account_score(bigint)"
            " RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint'; COMMIT",
            "CREATE OR REPLACE FUNCTION account_score(bigint) RETURNS int LANGUAGE sql"
            " AS 'SELECT coalesce(score, 0) FROM accounts WHERE id = $1'",
            "ALTER FUNCTION account_score(bigint) RENAME TO acct_score",
            "CREATE FUNCTION account_score(int) RETURNS int LANGUAGE sql AS 'SELECT 2'",
        ]
    ),
    lambda r: r.choice(
        [
            "ALTER TYPE mood ADD VALUE 'meh'",
            "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
            "BEGIN; ALTER TYPE mood RENAME TO mood_old; CREATE TYPE mood AS ENUM ('happy');"
            " ALTER TABLE feelings ALTER COLUMN m TYPE mood USING m::text::mood;"
            " DROP TYPE mood_old; COMMIT",
            "ALTER TABLE feelings ALTER COLUMN m TYPE text",
            "ALTER TABLE feelings ALTER COLUMN weight TYPE numeric",
            "ALTER TABLE feelings ALTER COLUMN weight TYPE int",
            "ALTER TABLE feelings DROP COLUMN weight",
        ]
    ),
    lambda r: r.choice(
        [
            "ALTER TABLE app.settings RENAME TO config",
            "ALTER TABLE app.settings SET SCHEMA public",
            "ALTER SCHEMA app RENAME TO app2",
            "CREATE TABLE public.settings (k text, v text)",
            "ALTER SEQUENCE orders_id_seq RENAME TO orders_seq",
        ]
    ),
]


MORE_SCHEMA = """
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text NOT NULL,
  payload jsonb, tags text[], at timestamptz NOT NULL DEFAULT now(),
  day date GENERATED ALWAYS AS ((at AT TIME ZONE 'UTC')::date) STORED);
INSERT INTO events (kind, payload, tags) VALUES ('a', '{"a": 1}', ARRAY['x']);
CREATE TABLE metrics (id bigint NOT NULL, at date NOT NULL, v numeric, PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE metrics_2026 PARTITION OF metrics FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE metrics_default PARTITION OF metrics DEFAULT;
CREATE SEQUENCE metric_ids;
CREATE MATERIALIZED VIEW event_counts AS SELECT kind, count(*) AS n FROM events GROUP BY kind;
CREATE UNIQUE INDEX event_counts_kind ON event_counts (kind);
CREATE TYPE address AS (street text, city text);
CREATE TABLE people (id int PRIMARY KEY, home address, nick text);
INSERT INTO people VALUES (1, ROW('s', 'c'), 'n');
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN NEW.nick := coalesce(NEW.nick, 'x'); RETURN NEW; END $$;
CREATE TRIGGER people_touch BEFORE INSERT OR UPDATE ON people
  FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TABLE parent_log (id serial, msg text);
CREATE TABLE child_log (lvl int) INHERITS (parent_log);
CREATE FUNCTION kinds_since(timestamptz) RETURNS SETOF text LANGUAGE plpgsql
  AS $$ BEGIN RETURN QUERY SELECT kind FROM events WHERE at >= $1; END $$;
"""
NEXT_PERSON = "(SELECT coalesce(max(id), 0) + 1 FROM people)"


def more_statements(r: random.Random) -> list[Statement]:
    """The statement pool of the second schema."""
    return [
        ("INSERT INTO events (kind, payload, tags) VALUES (%s, '{\"a\": 1}', ARRAY['x'])", ("b",)),
        ("SELECT id, kind, payload->>'a' FROM events WHERE kind = %s", ("a",)),
        ("SELECT day, count(*) FROM events GROUP BY day", ()),
        ("SELECT * FROM events WHERE tags @> ARRAY['x']", ()),
        ("INSERT INTO events (kind) VALUES ('c') RETURNING id, day", ()),
        ("COPY events (kind, tags) FROM STDIN", (), (("d", ["y"]),)),
        ("INSERT INTO metrics VALUES (nextval('metric_ids'), '2026-05-01', 1.5)", ()),
        ("INSERT INTO metrics_default VALUES (nextval('metric_ids'), '2030-01-01', 2)", ()),
        ("SELECT sum(v) FROM metrics WHERE at >= '2026-01-01'", ()),
        ("REFRESH MATERIALIZED VIEW CONCURRENTLY event_counts", ()),
        ("SELECT n FROM event_counts WHERE kind = 'a'", ()),
        (f"INSERT INTO people VALUES ({NEXT_PERSON}, ROW('s', 'c'), NULL)", ()),
        (f"INSERT INTO people (id, home) VALUES ({NEXT_PERSON}, %s)", (("s2", "c2"),)),
        ("SELECT (home).city FROM people WHERE id = %s", (1,)),
        ("SELECT * FROM people ORDER BY id", ()),
        ("UPDATE people SET nick = NULL WHERE id = 1", ()),
        ("INSERT INTO child_log (msg, lvl) VALUES ('m', 1)", ()),
        ("SELECT msg FROM parent_log", ()),
        ("SELECT count(*) FROM ONLY parent_log", ()),
        ("SELECT * FROM kinds_since(%s)", ("2000-01-01",)),
        # setval to a fixed value would hand out ids already used (a duplicate key the
        # migration does not cause): set it past what it gave
        (
            r.choice(
                [
                    "SELECT currval('metric_ids')",
                    "SELECT setval('metric_ids', nextval('metric_ids'))",
                ]
            ),
            (),
        ),
    ]


MORE_MIGRATIONS: list[Step] = [
    lambda r: r.choice(
        [
            "ALTER TABLE events ALTER COLUMN id SET GENERATED BY DEFAULT",
            "ALTER TABLE events ALTER COLUMN id DROP IDENTITY",
            "ALTER TABLE events DROP COLUMN day",
            "ALTER TABLE events ALTER COLUMN day DROP EXPRESSION",
            "ALTER TABLE events ALTER COLUMN payload TYPE json",
            "ALTER TABLE events ALTER COLUMN tags TYPE text",
            "ALTER TABLE events ADD CONSTRAINT ck CHECK (kind <> 'b')",
            "ALTER TABLE events ALTER COLUMN kind TYPE varchar(1)",
            "ALTER TABLE events RENAME COLUMN kind TO category",
            "ALTER TABLE events ALTER COLUMN at DROP DEFAULT",
        ]
    ),
    lambda r: r.choice(
        [
            "ALTER TABLE metrics DETACH PARTITION metrics_2026",
            "ALTER TABLE metrics DETACH PARTITION metrics_default",
            "DROP TABLE metrics_default",
            "ALTER TABLE metrics_default RENAME TO metrics_other",
            "ALTER SEQUENCE metric_ids MAXVALUE 1000000",
            "ALTER SEQUENCE metric_ids RENAME TO metric_seq",
            "DROP SEQUENCE metric_ids",
            "ALTER TABLE metrics ALTER COLUMN v TYPE int",
        ]
    ),
    lambda r: r.choice(
        [
            "DROP MATERIALIZED VIEW event_counts",
            "DROP INDEX event_counts_kind",
            "ALTER MATERIALIZED VIEW event_counts RENAME TO kind_counts",
            "ALTER MATERIALIZED VIEW event_counts RENAME COLUMN n TO total",
        ]
    ),
    lambda r: r.choice(
        [
            "ALTER TYPE address ADD ATTRIBUTE zip text",
            "ALTER TYPE address DROP ATTRIBUTE city",
            "ALTER TYPE address RENAME ATTRIBUTE city TO town",
            "ALTER TYPE address ALTER ATTRIBUTE city TYPE varchar(1)",
            "DROP TRIGGER people_touch ON people",
            "ALTER TABLE people ALTER COLUMN nick SET NOT NULL",
            "BEGIN; DROP TRIGGER people_touch ON people;"
            " ALTER TABLE people ALTER COLUMN nick SET DEFAULT 'x'; COMMIT",
            "ALTER TABLE people DISABLE TRIGGER people_touch",
            "ALTER TABLE people DROP CONSTRAINT people_pkey",
            "ALTER TABLE people DROP COLUMN home",
        ]
    ),
    lambda r: r.choice(
        [
            "ALTER TABLE child_log NO INHERIT parent_log",
            "DROP TABLE child_log",
            "ALTER TABLE parent_log ADD COLUMN lvl2 int NOT NULL DEFAULT 0",
            "ALTER TABLE parent_log DROP COLUMN msg",
            "ALTER TABLE parent_log RENAME COLUMN msg TO message",
            "DROP FUNCTION kinds_since(timestamptz)",
        ]
    ),
]

ORM_SCHEMA = """
CREATE TABLE "auth_user" ("id" bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  "username" varchar(150) NOT NULL UNIQUE, "email" varchar(254) NOT NULL,
  "is_active" boolean NOT NULL, "date_joined" timestamptz NOT NULL);
CREATE TABLE "blog_post" ("id" bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  "title" varchar(200) NOT NULL, "body" text NOT NULL, "meta" jsonb NOT NULL,
  "tags" varchar(30)[] NOT NULL, "author_id" bigint NOT NULL
  CONSTRAINT "blog_post_author_id_fk_auth_user_id" REFERENCES "auth_user" ("id")
  DEFERRABLE INITIALLY DEFERRED, "published_at" timestamptz NULL,
  "deleted_at" timestamptz NULL, "views" integer NOT NULL, "legacy_flag" boolean NULL);
CREATE INDEX "blog_post_author_id_idx" ON "blog_post" ("author_id");
CREATE TABLE "blog_comment" ("id" bigserial PRIMARY KEY, "post_id" bigint NOT NULL
  CONSTRAINT "blog_comment_post_id_fkey" REFERENCES "blog_post" ("id") ON DELETE CASCADE,
  "text" text NOT NULL, "created_at" timestamptz NOT NULL DEFAULT now());
CREATE TABLE "blog_post_likes" ("id" bigserial PRIMARY KEY, "post_id" bigint NOT NULL
  REFERENCES "blog_post" ("id") ON DELETE CASCADE, "user_id" bigint NOT NULL
  REFERENCES "auth_user" ("id"),
  CONSTRAINT "blog_post_likes_post_id_user_id_uniq" UNIQUE ("post_id", "user_id"));
CREATE TABLE "products" ("id" bigserial primary key, "name" character varying,
  "price" decimal(10,2), "stock" integer DEFAULT 0 NOT NULL,
  "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL);
INSERT INTO "auth_user" ("username", "email", "is_active", "date_joined")
  VALUES ('ann', 'a@x', true, now());
INSERT INTO "blog_post" ("title", "body", "meta", "tags", "author_id", "views")
  VALUES ('hello', 'b', '{"k": 1}', '{x}', 1, 0);
INSERT INTO "blog_comment" ("post_id", "text") VALUES (1, 'c');
INSERT INTO "blog_post_likes" ("post_id", "user_id") VALUES (1, 1);
INSERT INTO "products" ("name", "price", "created_at", "updated_at")
  VALUES ('p', 9.5, now(), now());
"""
POST_COLUMNS = (
    '"blog_post"."id", "blog_post"."title", "blog_post"."body", "blog_post"."meta",'
    ' "blog_post"."tags", "blog_post"."author_id", "blog_post"."published_at",'
    ' "blog_post"."deleted_at", "blog_post"."views"'
)
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
UNIQUE_NAME = "md5(random()::text)"
LAST_POST = "currval(pg_get_serial_sequence('\"blog_post\"', 'id'))"


def orm_statements(r: random.Random) -> list[Statement]:
    """The statement pool of the ORM schema: what Django, Rails and SQLAlchemy send
    (quoted names, every column listed, RETURNING "id", LIMIT 21, bulk VALUES,
    upserts, select_for_update, savepoints, jsonb and array operators)."""
    return [
        (
            f'SELECT {POST_COLUMNS} FROM "blog_post" WHERE "blog_post"."deleted_at" IS NULL'
            ' ORDER BY "blog_post"."id" DESC LIMIT 21',
            (),
        ),
        (f'SELECT {POST_COLUMNS} FROM "blog_post" WHERE "blog_post"."id" = %s LIMIT 21', (1,)),
        ('SELECT 1 AS "a" FROM "auth_user" WHERE "auth_user"."username" = %s LIMIT 1', ("ann",)),
        (
            'INSERT INTO "blog_post" ("title", "body", "meta", "tags", "author_id",'
            ' "published_at", "deleted_at", "views") VALUES (%s, %s, %s::jsonb,'
            ' %s::varchar(30)[], %s, %s, NULL, %s) RETURNING "blog_post"."id"',
            ("t", "b", '{"k": 2}', ["x", "y"], 1, WHEN, 0),
        ),
        (
            'INSERT INTO "blog_comment" ("post_id", "text", "created_at") VALUES'
            ' (%s, %s, %s), (%s, %s, %s) RETURNING "blog_comment"."id"',
            (1, "c1", WHEN, 1, "c2", WHEN),
        ),
        (
            'SELECT COUNT(*) AS "__count" FROM "blog_post" WHERE ("blog_post"."deleted_at"'
            ' IS NULL AND "blog_post"."author_id" = %s)',
            (1,),
        ),
        (
            'SELECT COUNT(*) FROM (SELECT DISTINCT "blog_post"."author_id" AS "col1"'
            ' FROM "blog_post") subquery',
            (),
        ),
        (
            'UPDATE "blog_post" SET "views" = ("blog_post"."views" + 1)'
            ' WHERE "blog_post"."id" IN (%s, %s)',
            (1, 2),
        ),
        ('UPDATE "blog_post" SET "deleted_at" = %s WHERE "blog_post"."id" = %s', (WHEN, -1)),
        (
            'INSERT INTO "blog_post_likes" ("post_id", "user_id") VALUES (%s, %s)'
            + r.choice(
                [
                    " ON CONFLICT DO NOTHING",
                    ' ON CONFLICT ("post_id", "user_id") DO UPDATE SET'
                    ' "user_id" = EXCLUDED."user_id"',
                ]
            ),
            (1, 1),
        ),
        (
            f'SELECT {POST_COLUMNS} FROM "blog_post" WHERE "blog_post"."meta" @> %s::jsonb',
            ('{"k": 1}',),
        ),
        (
            'SELECT "blog_post"."id" FROM "blog_post" WHERE "blog_post"."tags"'
            " @> %s::varchar(30)[] AND (\"blog_post\".\"meta\" -> 'k') = '1'::jsonb",
            (["x"],),
        ),
        (
            'SELECT "blog_post"."id", "blog_post"."views" FROM "blog_post" WHERE'
            ' "blog_post"."id" = %s FOR UPDATE OF "blog_post" SKIP LOCKED',
            (1,),
        ),
        (
            'BEGIN; SAVEPOINT "s1_x1"; UPDATE "blog_post" SET "views" = "views" + 1'
            ' WHERE "blog_post"."id" = 1; RELEASE SAVEPOINT "s1_x1"; COMMIT',
            (),
        ),
        (
            'SELECT "auth_user"."id", "auth_user"."username" FROM "auth_user" WHERE EXISTS('
            'SELECT 1 AS "a" FROM "blog_post" U1 WHERE (U1."author_id" = ("auth_user"."id")'
            ' AND U1."deleted_at" IS NULL) LIMIT 1)',
            (),
        ),
        (
            'SELECT "blog_post"."author_id", COALESCE(SUM("blog_post"."views"), 0) AS "total"'
            ' FROM "blog_post" GROUP BY "blog_post"."author_id"',
            (),
        ),
        (
            'SELECT "blog_comment"."id", "blog_comment"."text", "blog_post"."id",'
            ' "blog_post"."title" FROM "blog_comment" INNER JOIN "blog_post" ON'
            ' ("blog_comment"."post_id" = "blog_post"."id") WHERE "blog_comment"."post_id" = %s',
            (1,),
        ),
        (
            'BEGIN; INSERT INTO "blog_post" ("title", "body", "meta", "tags", "author_id",'
            " \"views\") VALUES ('tmp', 'b', '{}', '{}', 1, 0);"
            f' INSERT INTO "blog_comment" ("post_id", "text") VALUES ({LAST_POST}, \'c\');'
            f' DELETE FROM "blog_post" WHERE "blog_post"."id" = {LAST_POST}; COMMIT',
            (),
        ),
        (
            'INSERT INTO "auth_user" ("username", "email", "is_active", "date_joined")'
            f' VALUES ({UNIQUE_NAME}, %s, %s, %s) RETURNING "auth_user"."id"',
            ("e@x", True, WHEN),
        ),
        (
            'INSERT INTO "auth_user" ("username", "email", "is_active", "date_joined")'
            " VALUES ('ann', %s, true, now()) ON CONFLICT (\"username\") DO UPDATE SET"
            ' "email" = EXCLUDED."email" RETURNING "auth_user"."id"',
            ("a@x",),
        ),
        (
            'UPDATE "blog_post" SET "meta" = %s::jsonb, "tags" = array_append("tags", %s)'
            ' WHERE "blog_post"."id" = %s',
            ('{"k": 1}', "z", 1),
        ),
        (
            'SELECT "blog_post"."id", "auth_user"."username" FROM "blog_post" LEFT OUTER JOIN'
            ' "auth_user" ON ("blog_post"."author_id" = "auth_user"."id")'
            ' WHERE "blog_post"."meta" ? \'k\' ORDER BY "blog_post"."published_at" DESC',
            (),
        ),
        ('SELECT "blog_post"."id" FROM "blog_post" WHERE "blog_post"."title" = %s', ("hello",)),
        (
            'DELETE FROM "blog_comment" WHERE "blog_comment"."id" IN (SELECT U0."id" FROM'
            ' "blog_comment" U0 WHERE U0."text" = %s)',
            ("zzz",),
        ),
        # Rails: prepared statements with $n, SELECT "t".*, RETURNING "id"
        ('SELECT "products"."id" FROM "products" ORDER BY "products"."id" ASC LIMIT %s', (1000,)),
        (
            'UPDATE "products" SET "updated_at" = %s WHERE "products"."id" = %s',
            (WHEN.replace(tzinfo=None), 1),
        ),
        ('SELECT "products".* FROM "products" WHERE "products"."id" = %s LIMIT %s', (1, 1)),
        (
            'INSERT INTO "products" ("name", "price", "created_at", "updated_at")'
            ' VALUES (%s, %s, %s, %s) RETURNING "id"',
            ("q", 1.5, WHEN.replace(tzinfo=None), WHEN.replace(tzinfo=None)),
        ),
        (
            'UPDATE "products" SET "stock" = COALESCE("stock", 0) + 1,'
            ' "updated_at" = now() WHERE "products"."id" = 1',
            (),
        ),
        ('SELECT 1 AS one FROM "products" WHERE "products"."name" = %s LIMIT %s', ("p", 1)),
        ('SELECT COUNT(*) FROM "products" WHERE "products"."price" > %s', (1,)),
        # SQLAlchemy: unquoted, table-qualified, labelled
        (
            "SELECT products.id AS products_id, products.stock AS products_stock"
            " FROM products WHERE products.id = %s",
            (1,),
        ),
        (
            "INSERT INTO products (name, price, stock, created_at, updated_at)"
            " VALUES (%s, %s, %s, now(), now()) RETURNING products.id",
            ("s", 2, 3),
        ),
        (
            "SELECT products.id, products.name, products.price FROM products"
            " WHERE products.name = %s",
            ("p",),
        ),
        (
            "SELECT blog_post.title, max(blog_comment.created_at) AS last FROM blog_post"
            " JOIN blog_comment ON blog_comment.post_id = blog_post.id GROUP BY blog_post.title",
            (),
        ),
    ]


def _django_add_field(r: random.Random) -> str:
    """Django's AddField with a default: added with it, then the default dropped."""
    column = r.choice(['"rating" integer', '"slug" varchar(50)'])
    default = "0" if "integer" in column else "''"
    name = column.split()[0]
    return (
        f'BEGIN; ALTER TABLE "blog_post" ADD COLUMN {column} DEFAULT {default} NOT NULL;'
        f' ALTER TABLE "blog_post" ALTER COLUMN {name} DROP DEFAULT; COMMIT'
    )


ORM_MIGRATIONS: list[Step] = [
    _django_add_field,
    lambda r: r.choice(
        [
            'ALTER TABLE "blog_post" ADD COLUMN "subtitle" varchar(100) NULL',
            'ALTER TABLE "blog_post" ADD COLUMN "rating" integer DEFAULT 0 NOT NULL',
            'ALTER TABLE "products" ADD "sku" character varying DEFAULT \'x\' NOT NULL',
            'ALTER TABLE "auth_user" ADD COLUMN "last_login" timestamptz NULL',
        ]
    ),
    lambda r: r.choice(
        [
            'ALTER TABLE "blog_post" ALTER COLUMN "title" TYPE varchar(100)',
            'ALTER TABLE "blog_post" ALTER COLUMN "title" TYPE varchar(300)',
            'ALTER TABLE "blog_post" ALTER COLUMN "views" TYPE bigint',
            'ALTER TABLE "blog_post" ALTER COLUMN "meta" TYPE json USING "meta"::json',
            'ALTER TABLE "blog_post" ALTER COLUMN "tags" TYPE text[]',
            'ALTER TABLE "products" ALTER COLUMN "price" TYPE decimal(12,2)',
            'ALTER TABLE "products" ALTER COLUMN "stock" TYPE bigint',
            'ALTER TABLE "auth_user" ALTER COLUMN "username" TYPE varchar(30)',
            'ALTER TABLE "blog_post" ALTER COLUMN "title" TYPE text',
            'ALTER TABLE "blog_post" ALTER COLUMN "views" TYPE smallint',
            'ALTER TABLE "products" ALTER COLUMN "price" TYPE integer USING "price"::integer',
            'ALTER TABLE "products" ALTER COLUMN "created_at" TYPE timestamptz',
        ]
    ),
    lambda r: r.choice(
        [
            'BEGIN; UPDATE "blog_post" SET "published_at" = now() WHERE "published_at" IS NULL;'
            ' ALTER TABLE "blog_post" ALTER COLUMN "published_at" SET NOT NULL; COMMIT',
            'ALTER TABLE "blog_post" ALTER COLUMN "body" DROP NOT NULL',
            'ALTER TABLE "products" ALTER COLUMN "price" SET NOT NULL',
            'BEGIN; UPDATE "products" SET "name" = \'unnamed\' WHERE "name" IS NULL;'
            ' ALTER TABLE "products" ALTER COLUMN "name" SET NOT NULL; COMMIT',
            'BEGIN; UPDATE "blog_post" SET "legacy_flag" = false WHERE "legacy_flag" IS NULL;'
            ' ALTER TABLE "blog_post" ALTER COLUMN "legacy_flag" SET NOT NULL; COMMIT',
        ]
    ),
    lambda r: r.choice(
        [
            'ALTER TABLE "blog_post" RENAME COLUMN "body" TO "content"',
            'ALTER TABLE "blog_post" RENAME COLUMN "legacy_flag" TO "old_flag"',
            'ALTER TABLE "products" RENAME COLUMN "stock" TO "quantity"',
            'ALTER TABLE "blog_comment" RENAME COLUMN "text" TO "body"',
        ]
    ),
    lambda r: r.choice(
        [
            'ALTER TABLE "blog_post" DROP COLUMN "views" CASCADE',
            'ALTER TABLE "blog_post" DROP COLUMN "legacy_flag" CASCADE',
            'ALTER TABLE "products" DROP COLUMN "price"',
            'ALTER TABLE "auth_user" DROP COLUMN "is_active" CASCADE',
        ]
    ),
    lambda r: r.choice(
        [
            'CREATE INDEX CONCURRENTLY "blog_post_title_idx" ON "blog_post" ("title")',
            'CREATE UNIQUE INDEX CONCURRENTLY "blog_post_title_uniq" ON "blog_post" ("title")',
            'CREATE UNIQUE INDEX CONCURRENTLY "blog_post_live_title_uniq" ON "blog_post"'
            ' ("title") WHERE "deleted_at" IS NULL',
            'CREATE INDEX CONCURRENTLY "blog_post_meta_gin" ON "blog_post" USING gin ("meta")',
            'DROP INDEX CONCURRENTLY "blog_post_author_id_idx"',
            'ALTER INDEX "blog_post_author_id_idx" RENAME TO "blog_post_author_idx"',
        ]
    ),
    lambda r: r.choice(
        [
            'ALTER TABLE "blog_post" ADD CONSTRAINT "views_gte_0" CHECK ("views" >= 0)',
            'ALTER TABLE "blog_post" ADD CONSTRAINT "views_lt_1" CHECK ("views" < 1)',
            'ALTER TABLE "auth_user" ADD CONSTRAINT "auth_user_email_uniq" UNIQUE ("email")',
            'ALTER TABLE "blog_post_likes" DROP CONSTRAINT "blog_post_likes_post_id_user_id_uniq"',
            'BEGIN; ALTER TABLE "blog_post_likes"'
            ' DROP CONSTRAINT "blog_post_likes_post_id_user_id_uniq";'
            ' ALTER TABLE "blog_post_likes" ADD CONSTRAINT "blog_post_likes_user_id_post_id_uniq"'
            ' UNIQUE ("user_id", "post_id"); COMMIT',
            'ALTER TABLE "products" ADD CONSTRAINT "price_positive" CHECK ("price" > 0)',
        ]
    ),
    lambda r: r.choice(
        [
            'BEGIN; ALTER TABLE "blog_comment" RENAME TO "blog_reply";'
            ' ALTER SEQUENCE "blog_comment_id_seq" RENAME TO "blog_reply_id_seq"; COMMIT',
            'BEGIN; ALTER TABLE "blog_comment" DROP CONSTRAINT "blog_comment_post_id_fkey";'
            ' ALTER TABLE "blog_comment" ADD CONSTRAINT "blog_comment_post_id_fkey"'
            ' FOREIGN KEY ("post_id") REFERENCES "blog_post" ("id")'
            " DEFERRABLE INITIALLY DEFERRED; COMMIT",
            'BEGIN; ALTER TABLE "blog_comment" DROP CONSTRAINT "blog_comment_post_id_fkey";'
            ' ALTER TABLE "blog_comment" ADD CONSTRAINT "blog_comment_post_id_fkey"'
            ' FOREIGN KEY ("post_id") REFERENCES "blog_post" ("id") ON DELETE SET NULL; COMMIT',
            'ALTER TABLE "products" RENAME TO "catalog_products"',
            'ALTER TABLE "blog_post" ALTER COLUMN "views" SET DEFAULT 0',
            'ALTER TABLE "products" ALTER COLUMN "stock" DROP DEFAULT',
            'ALTER TABLE "auth_user" DROP CONSTRAINT "auth_user_username_key"',
            'ALTER TABLE "blog_post" DROP COLUMN "deleted_at"',
            'ALTER TABLE "blog_post" ALTER COLUMN "author_id" DROP NOT NULL',
            'BEGIN; ALTER TABLE "products" RENAME TO "items";'
            ' ALTER SEQUENCE "products_id_seq" RENAME TO "items_id_seq";'
            ' ALTER INDEX "products_pkey" RENAME TO "items_pkey"; COMMIT',
        ]
    ),
]

HELD_SCHEMA = """
CREATE TABLE readings (id bigint PRIMARY KEY, a int, b bigint, c smallint, x numeric(10,2),
  y real, z double precision, s varchar(40), t text, u varchar(40), k char(5));
INSERT INTO readings VALUES (1, 1, 2, 3, 1.5, 2.5, 3.5, 'ab', 'cd', 'ef', 'gh'),
  (2, 4, 5, 6, 4.5, 5.5, 6.5, 'ij', 'kl', 'mn', 'op');
CREATE TABLE archive (id bigint PRIMARY KEY, a int, x numeric, s text);
INSERT INTO archive VALUES (1, 7, 7.5, 'qr');
"""
HELD_NUMBERS = ["a", "b", "c", "x", "y", "z"]
HELD_STRINGS = ["s", "t", "u", "k"]
#: what each column may become (values fit: small numbers, two letters)
HELD_RETYPES = {
    "a": ["bigint", "smallint", "numeric", "real", "text"],
    "b": ["integer", "numeric", "double precision"],
    "c": ["integer", "bigint", "numeric(6,1)"],
    "x": ["numeric(12,2)", "numeric", "real", "double precision", "integer"],
    "y": ["double precision", "numeric", "integer"],
    "z": ["real", "numeric", "bigint"],
    "s": ["varchar(60)", "text", "varchar(10)", "char(5)"],
    "t": ["varchar(40)", "varchar(10)", "char(5)"],
    "u": ["varchar(60)", "text"],
    "k": ["char(8)", "varchar(5)", "text"],
}


def _held_output(r: random.Random) -> str:
    """An output expression over the readings' columns whose type follows theirs (or
    has its own: casts and counts stay as controls)."""
    n1, n2 = r.choice(HELD_NUMBERS), r.choice(HELD_NUMBERS)
    s1, s2 = r.choice(HELD_STRINGS), r.choice(HELD_STRINGS)
    const = r.choice(["0", "1", "0.5", "2.5", "10000000000", "1::bigint"])
    return r.choice(
        [
            f"{n1} {r.choice(['+', '-', '*'])} {n2}",
            f"{n1} + {n2} + {const}",
            f"coalesce({n1}, {n2})",
            f"coalesce({n1}, {const})",
            f"greatest({n1}, {n2}, {const})",
            f"least({n1}, {n2})",
            f"CASE WHEN id > 1 THEN {n1} ELSE {n2} END",
            f"CASE WHEN id > 1 THEN {n1} ELSE {const} END",
            f"CASE WHEN id > 1 THEN {n1} END",
            f"nullif({n1}, {r.choice(['0', '1.5', n2])})",
            f"-{n1} + {n2}",
            f"abs({n1} - {n2})",
            f"{n1} * {const}",
            f"coalesce({s1}, {s2})",
            f"coalesce({s1}, {s2}, 'x')",
            f"CASE WHEN id > 1 THEN {s1} ELSE {s2} END",
            f"greatest({s1}, {s2})",
            f"nullif({s1}, 'x')",
            f"{s1}",
            f"{n1}::text",
            f"{s1} || {s2}",
        ]
    )


def _held_aggregate(r: random.Random) -> str:
    n1, n2 = r.choice(HELD_NUMBERS), r.choice(HELD_NUMBERS)
    return r.choice(
        [
            f"sum({n1}) + max({n2})",
            f"coalesce(sum({n1}), {r.choice(['0', '0.5'])})",
            f"sum({n1} * {n2})",
            f"avg({n1} + {n2})",
            f"max({n1}) - min({n2})",
            f"max({r.choice(HELD_STRINGS)})",
            "count(*)",
        ]
    )


def held_statements(r: random.Random) -> list[Statement]:
    """The statement pool of the held-outputs schema: expressions of several columns,
    constants, set operations, scalar subqueries and CTEs, read again after a retype."""
    n1, n2 = r.choice(HELD_NUMBERS), r.choice(HELD_NUMBERS)
    s1 = r.choice(HELD_STRINGS)
    return [
        (f"SELECT {_held_output(r)} FROM readings WHERE id = %s", (1,)),
        (f"SELECT id, {_held_output(r)}, {_held_output(r)} FROM readings ORDER BY id", ()),
        (f"SELECT {_held_aggregate(r)} FROM readings WHERE id >= %s", (1,)),
        (f"SELECT {n1} FROM readings UNION SELECT {n2} FROM readings ORDER BY 1", ()),
        (f"SELECT {s1} FROM readings UNION ALL SELECT s FROM archive", ()),
        (
            f"SELECT a, x FROM readings WHERE id = %s"
            f" {r.choice(['UNION', 'INTERSECT', 'EXCEPT'])} SELECT a, x FROM archive",
            (1,),
        ),
        (f"SELECT coalesce((SELECT max({n1}) FROM readings), {n2}) FROM readings", ()),
        (
            f"WITH w AS (SELECT sum({n1}) AS total, max({n2}) AS top FROM readings)"
            f" SELECT {r.choice(['total + top', 'coalesce(total, top)', 'total'])} FROM w",
            (),
        ),
        (f"SELECT {r.choice(HELD_NUMBERS)}, {s1} FROM readings WHERE id = %s", (2,)),
        ("UPDATE readings SET a = a + 1 WHERE id = %s", (2,)),
    ]


def _held_retype(r: random.Random) -> str:
    chosen = r.sample(sorted(HELD_RETYPES), r.choice([1, 1, 2]))
    parts = []
    for col in chosen:
        new = r.choice(HELD_RETYPES[col])
        parts.append(f"ALTER COLUMN {col} TYPE {new} USING {col}::{new}")
    return "ALTER TABLE readings " + ", ".join(parts)


HELD_MIGRATIONS: list[Step] = [
    _held_retype,
    _held_retype,
    lambda r: r.choice(
        [
            "ALTER TABLE archive ALTER COLUMN a TYPE bigint",
            "ALTER TABLE archive ALTER COLUMN x TYPE numeric(10,2)",
            "ALTER TABLE archive ALTER COLUMN s TYPE varchar(40)",
            "ALTER TABLE archive ALTER COLUMN x TYPE real",
        ]
    ),
]

#: Each seed plays one of these: a schema, its statement pool, its migrations.
PROFILES: list[tuple[str, Callable[[random.Random], list[Statement]], list[Step]]] = [
    (SCHEMA, statements, CORE_MIGRATIONS),
    (MORE_SCHEMA, more_statements, MORE_MIGRATIONS),
]
#: By name (``--profile``); ``orm`` and ``held`` are not drawn by default so the seeds of
#: earlier runs still play the cases they printed.
NAMED_PROFILES = {
    "core": PROFILES[0],
    "more": PROFILES[1],
    "orm": (ORM_SCHEMA, orm_statements, ORM_MIGRATIONS),
    "held": (HELD_SCHEMA, held_statements, HELD_MIGRATIONS),
}


def make_case(seed: int, profile: str = "") -> gt.Case:
    r = random.Random(seed)
    schema, pool, migrations = NAMED_PROFILES[profile] if profile else r.choice(PROFILES)
    versions = {f"fz@{i + 1}": version_queries(r, pool(r)) for i in range(r.randint(1, 3))}
    migration = r.choice(migrations)(r)
    if r.random() < 0.25:
        second = r.choice(migrations)(r)
        if "BEGIN" in migration + second:
            pass
        elif "CONCURRENTLY" in migration + second:  # refuses a transaction block
            migration = f"{migration}; {second}"
        else:
            migration = f"BEGIN; {migration}; {second}; COMMIT"
    return gt.Case(
        id=f"fuzz-{profile}-{seed}" if profile else f"fuzz-{seed}",
        schema_sql=schema,
        versions=versions,  # type: ignore[arg-type]
        migration_sql=migration,
    )


def judge(cluster: LocalCluster, proxy: ProxyProcess, case: gt.Case) -> tuple[str, str]:
    """The outcome's kind and, for a disagreement, its story."""
    try:
        truth = gt.run_experiment(cluster, case)
    except gt.CaseInvalid as invalid:
        return "invalid", str(invalid)[:300]
    if truth.before == truth.after:
        return "invalid", "the migration changes no schema"
    verdict = gt.proxy_verdict(cluster, proxy, case)
    story = f"{truth.explain()}\n{verdict.explain()}"
    if verdict.error is not None and not verdict.blocked:
        return "proxy error", story
    if truth.broken:
        if not verdict.blocked:
            return "missed", story
        return (
            ("agree (breaks)", "") if verdict.named == truth.broken else ("wrong versions", story)
        )
    if verdict.blocked:
        return "false block", story
    return ("agree", "") if verdict.after == truth.after else ("not applied", story)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", type=int, default=None, help="major (default: newest)")
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000, help="first seed")
    parser.add_argument("--seeds", default="", help="comma-separated seeds, instead")
    parser.add_argument("--show-invalid", action="store_true", help="print why each is")
    parser.add_argument(
        "--profile", choices=sorted(NAMED_PROFILES), default="", help="only this schema"
    )
    args = parser.parse_args()
    seeds = (
        [int(s) for s in args.seeds.split(",")]
        if args.seeds
        else list(range(args.seed, args.seed + args.cases))
    )
    installs = sorted(available_installs(), key=lambda i: i.major)
    install = next((i for i in installs if i.major == args.pg), installs[-1])
    work = Path(tempfile.mkdtemp(prefix="fuzz-deploys-"))
    cluster = start_cluster(install, Certificates.make(work))
    counts: Counter[str] = Counter()
    started = time.monotonic()
    try:
        proxy = ProxyProcess(
            upstream=cluster.url(sslmode="disable"),
            extra_args=["--mode", "enforce"],
            state=work / "state.db",
            logfile=work / "proxy.log",
        ).start()
        try:
            for seed in seeds:
                case = make_case(seed, args.profile)
                try:
                    kind, story = judge(cluster, proxy, case)
                except Exception:
                    kind, story = "harness error", traceback.format_exc()[-1500:]
                counts[kind] += 1
                if counts.total() % 25 == 0:
                    print(f"... {counts.total()} cases: {dict(counts)}", flush=True)
                if args.show_invalid and kind == "invalid":
                    print(f"--- {case.id}: {story}")
                if kind not in ("agree", "agree (breaks)", "invalid"):
                    print(f"=== {case.id}: {kind}\nmigration: {case.migration_sql}")
                    for version in case.versions:
                        for q in case.queries(version):
                            print(f"  {version}: {q} {q.args or ''}")
                    print(story, flush=True)
        finally:
            proxy.stop()
    finally:
        cluster.stop()
    elapsed = time.monotonic() - started
    print(f"pg{install.major}, {len(seeds)} cases in {elapsed:.0f} s: {dict(counts)}")
    return 0 if set(counts) <= {"agree", "agree (breaks)", "invalid"} else 1


if __name__ == "__main__":
    sys.exit(main())
