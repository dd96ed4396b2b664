"""Round 19 ground-truth cases: migrations as TypeORM, Sequelize, Hibernate
(``ddl-auto=update``), Ecto, goose, sqlx and Liquibase write them, with the
statements those stacks send (node-postgres's unnamed statements, Postgrex's,
pgx's and sqlx's held ones, JDBC's); partitions detached concurrently, under a
DEFAULT partition, re-cut or hashed; a VARIADIC overload beside a same-arity
function; a procedure gaining or losing an OUT parameter (a CALL passes an argument
for it since PostgreSQL 14, and a DROP may name it); foreign keys losing ON UPDATE
CASCADE, made ON DELETE SET DEFAULT or MATCH FULL; column privileges under a table
grant, schema USAGE under an owner's view, a default taken from a sequence the app
role may not use; a
``"$user"`` schema shadowing a public table for one role; inheritance (renames and
retypes recurse, ``ONLY`` does not); jsonb and range columns retyped under their
operators; a legacy implicit cast making ``'C-' || id`` ambiguous; a domain default
its own check refuses; USAGE on a type or language revoked (checked only at CREATE).

Each case is a rolling deploy a team really ships; PostgreSQL decides (see
tests/support/groundtruth.py) which versions a migration breaks.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from tests.support.groundtruth import Case, Q, apg, extended, prepared, simple
from tests.support.groundtruth_round18 import MEASUREMENTS

V1, V2, V3 = "app@1", "app@2", "app@3"
WHEN = datetime(2026, 1, 2, 3, 4, 5)

SAFE: list[Case] = []
BREAKING: list[Case] = []

# ------------------------------------------------------------ TypeORM
TYPEORM = """
CREATE TYPE "public"."user_role_enum" AS ENUM('admin', 'editor', 'viewer');
CREATE TABLE "user" ("id" SERIAL NOT NULL, "firstName" character varying NOT NULL,
  "lastName" character varying, "role" "public"."user_role_enum" NOT NULL DEFAULT 'viewer',
  CONSTRAINT "PK_cace4a159ff9f2512dd42373760" PRIMARY KEY ("id"));
INSERT INTO "user" ("firstName", "lastName", "role") VALUES ('Ann', 'A', 'admin'),
  ('Bob', 'B', 'viewer');
"""
TO_FIND = extended(
    'SELECT "User"."id" AS "User_id", "User"."firstName" AS "User_firstName",'
    ' "User"."role" AS "User_role" FROM "user" "User" WHERE (("User"."id" = %s)) LIMIT 1',
    1,
)
TO_FIND_HELD = apg(
    'SELECT "User"."id" AS "User_id", "User"."role" AS "User_role" FROM "user" "User"'
    ' WHERE "User"."id" = $1',
    1,
)
TO_NAMES_HELD = apg(
    'SELECT "User"."id" AS "User_id", "User"."firstName" AS "User_firstName"'
    ' FROM "user" "User" WHERE "User"."id" = $1',
    1,
)
TO_EDITOR: list[str | Q] = [
    extended(
        'INSERT INTO "user"("firstName", "lastName", "role") VALUES (%s, DEFAULT, %s)'
        ' RETURNING "id", "role"',
        "Cy",
        "editor",
    ),
    simple("""DELETE FROM "user" WHERE "firstName" = 'Cy'"""),
]
TO_DEFAULT_ROLE = extended(
    'INSERT INTO "user"("firstName", "lastName", "role") VALUES (%s, %s, DEFAULT)'
    ' RETURNING "id", "role"',
    "Dee",
    "D",
)


def _typeorm_enum(*labels: str) -> str:
    """TypeORM's migration for a changed enum: rename the old type, create the new
    one, move the column over through text, drop the old type; in a transaction."""
    values = ", ".join(f"'{label}'" for label in labels)
    return f"""BEGIN;
ALTER TYPE "public"."user_role_enum" RENAME TO "user_role_enum_old";
CREATE TYPE "public"."user_role_enum" AS ENUM({values});
ALTER TABLE "user" ALTER COLUMN "role" DROP DEFAULT;
ALTER TABLE "user" ALTER COLUMN "role" TYPE "public"."user_role_enum"
  USING "role"::"text"::"public"."user_role_enum";
ALTER TABLE "user" ALTER COLUMN "role" SET DEFAULT 'viewer';
DROP TYPE "public"."user_role_enum_old";
COMMIT"""


# TypeORM's migration for a new varchar length (in the transaction TypeORM runs it in)
TO_VARCHAR_BY_DROP_ADD = (
    'BEGIN; ALTER TABLE "user" DROP COLUMN "lastName";'
    ' ALTER TABLE "user" ADD "lastName" character varying(100); COMMIT'
)

SAFE += [
    Case(
        id="safe-r19-typeorm-enum-recreated-with-a-new-label-vs-unnamed-statements",
        schema_sql=TYPEORM,
        versions={V1: TO_EDITOR, V2: [TO_DEFAULT_ROLE], V3: [TO_FIND]},
        migration_sql=_typeorm_enum("admin", "editor", "viewer", "guest"),
        note="node-postgres plans every statement again: 'editor' is a label of the new type",
    ),
    Case(
        id="safe-r19-typeorm-varchar-length-by-drop-and-add-vs-unnamed-statements",
        schema_sql=TYPEORM,
        versions={
            V1: [TO_FIND, TO_NAMES_HELD],
            V2: [extended('UPDATE "user" SET "lastName" = %s WHERE "id" = %s', "Andersen", 1)],
        },
        migration_sql=TO_VARCHAR_BY_DROP_ADD,
        note="the column is back (empty) under its name; the held reader never returned it",
    ),
]
BREAKING += [
    Case(
        id="break-r19-typeorm-enum-recreated-without-a-label-vs-its-writer",
        schema_sql=TYPEORM,
        versions={V1: TO_EDITOR, V2: [TO_DEFAULT_ROLE], V3: [TO_FIND]},
        migration_sql=_typeorm_enum("admin", "viewer"),
        breaks=frozenset({V1}),
        note="22P02: 'editor' is no label of the new type; DEFAULT and readers are fine",
    ),
    Case(
        id="break-r19-typeorm-enum-recreated-vs-a-held-reader-of-the-column",
        schema_sql=TYPEORM,
        versions={V1: [TO_FIND_HELD], V2: [TO_FIND], V3: [TO_NAMES_HELD]},
        migration_sql=_typeorm_enum("admin", "editor", "viewer", "guest"),
        breaks=frozenset({V1}),
        note="0A000: the held result's role is another type now (a new oid)",
    ),
]

# ------------------------------------------------------------ Sequelize
SEQUELIZE = """
CREATE TYPE "public"."enum_Users_status" AS ENUM('active', 'banned');
CREATE TABLE IF NOT EXISTS "Users" ("id" SERIAL, "email" VARCHAR(255) NOT NULL UNIQUE,
  "nickname" VARCHAR(255), "status" "public"."enum_Users_status" DEFAULT 'active',
  "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL,
  PRIMARY KEY ("id"));
INSERT INTO "Users" ("email", "nickname", "createdAt", "updatedAt")
  VALUES ('a@x', 'ann', now(), now());
"""
SQ_TS = "2026-01-02 03:04:05+00"


def _sq_create(email: str, *, nickname: bool, returning: str) -> list[str | Q]:
    """Sequelize's Model.create (bind parameters, RETURNING the model's attributes),
    then its destroy, so the version can run again."""
    columns = '"id","email","nickname","createdAt","updatedAt"'
    values = "DEFAULT,%s,%s,%s,%s"
    args: tuple[str, ...] = (email, "nick", SQ_TS, SQ_TS)
    if not nickname:
        columns = '"id","email","createdAt","updatedAt"'
        values = "DEFAULT,%s,%s,%s"
        args = (email, SQ_TS, SQ_TS)
    return [
        extended(
            f'INSERT INTO "Users" ({columns}) VALUES ({values}) RETURNING {returning};', *args
        ),
        simple(f"""DELETE FROM "Users" WHERE "email" = '{email}'"""),
    ]


SQ_EVERY = '"id","email","nickname","status","createdAt","updatedAt"'
SQ_FIND = simple('SELECT "id", "email", "nickname" FROM "Users" AS "User" WHERE "User"."id" = 1;')
SQ_NOT_NULL = (
    'ALTER TABLE "Users" ALTER COLUMN "nickname" SET NOT NULL;'
    'ALTER TABLE "Users" ALTER COLUMN "nickname" DROP DEFAULT;'
    'ALTER TABLE "Users" ALTER COLUMN "nickname" TYPE VARCHAR(255);'
)

SAFE += [
    Case(
        id="safe-r19-sequelize-change-column-not-null-vs-writers-giving-it",
        schema_sql=SEQUELIZE,
        versions={
            V1: _sq_create("c@x", nickname=True, returning=SQ_EVERY),
            V2: [SQ_FIND],
        },
        migration_sql=SQ_NOT_NULL,
        note="changeColumn re-states the type it already has: nothing is planned differently",
    ),
    Case(
        id="safe-r19-sequelize-remove-column-vs-writer-returning-the-id",
        schema_sql=SEQUELIZE,
        versions={V1: _sq_create("d@x", nickname=True, returning='"id"'), V2: [SQ_FIND]},
        migration_sql='ALTER TABLE "public"."Users" DROP COLUMN "status";',
        note="the new model no longer returns status and no version names it",
    ),
]
BREAKING += [
    Case(
        id="break-r19-sequelize-change-column-not-null-vs-a-writer-leaving-it-out",
        schema_sql=SEQUELIZE,
        versions={
            V1: _sq_create("e@x", nickname=False, returning='"id","email"'),
            V2: _sq_create("f@x", nickname=True, returning=SQ_EVERY),
            V3: [SQ_FIND],
        },
        migration_sql=SQ_NOT_NULL,
        breaks=frozenset({V1}),
        note="23502: the old model has no nickname to give",
    ),
    Case(
        id="break-r19-sequelize-remove-column-vs-returning-every-attribute",
        schema_sql=SEQUELIZE,
        versions={
            V1: _sq_create("g@x", nickname=True, returning=SQ_EVERY),
            V2: _sq_create("h@x", nickname=True, returning='"id","email"'),
        },
        migration_sql='ALTER TABLE "public"."Users" DROP COLUMN "status";',
        breaks=frozenset({V1}),
        note="42703: the old model's INSERT never writes status but RETURNs it",
    ),
]

# ------------------------------------------------------------ Hibernate ddl-auto=update
HIBERNATE = """
create table customer (id bigint not null, email varchar(255), name varchar(255),
  primary key (id));
create sequence customer_seq start with 1 increment by 50;
create table purchase (id bigint not null, amount numeric(38,2), customer_id bigint,
  primary key (id));
create sequence purchase_seq start with 1 increment by 50;
insert into customer values (1, 'a@x', 'ann');
"""


def _hb_purchase(purchase_id: int, customer_id: int) -> list[str | Q]:
    """Hibernate's persist then remove: ids come from the pooled sequence, so the
    insert names the id."""
    return [
        extended(
            "insert into purchase (amount,customer_id,id) values (%s,%s,%s)",
            5,
            customer_id,
            purchase_id,
        ),
        extended("delete from purchase where id=%s", purchase_id),
    ]


HB_FIND = prepared(
    "select p1_0.id,p1_0.amount,p1_0.customer_id from purchase p1_0 where p1_0.customer_id=%s", 1
)

BREAKING += [
    Case(
        id="break-r19-hibernate-update-adds-a-primitive-field-vs-old-writers",
        schema_sql=HIBERNATE,
        versions={V1: _hb_purchase(1002, 1), V2: [HB_FIND]},
        migration_sql="alter table if exists purchase add column quantity integer not null",
        breaks=frozenset({V1}),
        note="23502: an int field is NOT NULL without a default; the table was empty",
    ),
]

# ------------------------------------------------------------ Ecto (Postgrex holds its statements)
ECTO = """
CREATE TABLE "posts" ("id" bigserial, "title" varchar(255), "body" text,
  "legacy_slug" varchar(255), "inserted_at" timestamp(0) NOT NULL,
  "updated_at" timestamp(0) NOT NULL, PRIMARY KEY ("id"));
CREATE TABLE "schema_migrations" ("version" bigint PRIMARY KEY, "inserted_at" timestamp(0));
INSERT INTO "posts" ("title", "body", "legacy_slug", "inserted_at", "updated_at")
  VALUES ('hi', 'b', 'hi', now(), now());
"""
ECTO_GET = apg('SELECT p0."id", p0."title", p0."body" FROM "posts" AS p0 WHERE (p0."id" = $1)', 1)
ECTO_INSERT_TITLED = apg(
    'INSERT INTO "posts" ("body","title","inserted_at","updated_at") VALUES ($1,$2,$3,$4)'
    ' RETURNING "id"',
    "b",
    "t",
    WHEN,
    WHEN,
)
ECTO_VERSION = (
    'INSERT INTO "schema_migrations" ("version","inserted_at") VALUES (20260102030405, now())'
)
ECTO_TITLE_REQUIRED = (
    'BEGIN; UPDATE "posts" SET "title" = \'\' WHERE "title" IS NULL;'
    ' ALTER TABLE "posts" ALTER COLUMN "title" TYPE varchar(255),'
    ' ALTER COLUMN "title" SET NOT NULL; ' + ECTO_VERSION + "; COMMIT"
)

SAFE += [
    Case(
        id="safe-r19-ecto-modify-same-type-null-false-vs-held-statements",
        schema_sql=ECTO,
        versions={V1: [ECTO_GET], V2: [ECTO_INSERT_TITLED]},
        migration_sql=ECTO_TITLE_REQUIRED,
        note="modify re-states varchar(255): no new result type, and every writer gives title",
    ),
]

# ------------------------------------------------------------ goose (pgx caches its statements)
ACCOUNTS = """
CREATE TABLE accounts (id bigserial PRIMARY KEY, owner text NOT NULL, balance numeric(12,2));
INSERT INTO accounts (owner, balance) VALUES ('ann', 10.50), ('bob', 3);
CREATE FUNCTION account_total(p_owner text) RETURNS numeric LANGUAGE sql STABLE
  AS 'SELECT sum(balance) FROM accounts WHERE owner = p_owner';
CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL,
  is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
"""
GOOSE_TOTAL_HELD = apg("SELECT account_total($1)", "ann")
GOOSE_TOTAL = extended("SELECT account_total(%s)", "bob")


def _goose(body: str) -> str:
    return (
        "-- +goose Up\n-- +goose StatementBegin\nBEGIN;\n"
        + body
        + "\nINSERT INTO goose_db_version (version_id, is_applied) VALUES (20260102, true);"
        "\nCOMMIT;\n-- +goose StatementEnd\n"
    )


def _goose_recreate(returns: str, params: str) -> str:
    return _goose(
        "DROP FUNCTION account_total(text);\n"
        f"CREATE FUNCTION account_total({params}) RETURNS {returns} LANGUAGE sql STABLE\n"
        f"  AS $$SELECT sum(balance)::{returns} FROM accounts WHERE owner = p_owner$$;"
    )


SAFE += [
    Case(
        id="safe-r19-goose-function-recreated-with-a-defaulted-param-vs-held-callers",
        schema_sql=ACCOUNTS,
        versions={V1: [GOOSE_TOTAL_HELD], V2: [GOOSE_TOTAL]},
        migration_sql=_goose_recreate("numeric", "p_owner text, p_currency text DEFAULT 'EUR'"),
        note="account_total(x) resolves to the new function through its default; same result",
    ),
]
BREAKING += [
    Case(
        id="break-r19-goose-function-recreated-returning-bigint-vs-held-caller",
        schema_sql=ACCOUNTS,
        versions={V1: [GOOSE_TOTAL_HELD], V2: [GOOSE_TOTAL]},
        migration_sql=_goose_recreate("bigint", "p_owner text"),
        breaks=frozenset({V1}),
        note="0A000: the held call's result is a bigint now; the unnamed call plans again",
    ),
]

# ------------------------------------------------------------ sqlx (held statements too)
SUBSCRIPTIONS = """
CREATE TABLE subscriptions (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text NOT NULL,
  name text NOT NULL, subscribed_at timestamp NOT NULL);
INSERT INTO subscriptions (email, name, subscribed_at) VALUES ('a@x', 'ann', '2026-01-01');
CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL,
  installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL,
  checksum bytea NOT NULL, execution_time bigint NOT NULL);
"""
SQLX_TZ = (
    "BEGIN;\n-- Add migration script here\n"
    "ALTER TABLE subscriptions ALTER COLUMN subscribed_at TYPE timestamptz"
    " USING subscribed_at AT TIME ZONE 'UTC';\n"
    "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)"
    " VALUES (20260102030405, 'tz', true, '\\x00', 1);\nCOMMIT;"
)
SQLX_WRITER: list[str | Q] = [
    apg(
        "INSERT INTO subscriptions (id, email, name, subscribed_at) VALUES ($1, $2, $3, $4)",
        UUID("00000000-0000-0000-0000-000000000019"),
        "b@x",
        "bob",
        WHEN,
    ),
    apg("DELETE FROM subscriptions WHERE email = $1", "b@x"),
]
SQLX_SINCE = apg("SELECT id, email FROM subscriptions WHERE subscribed_at > $1", WHEN)
SQLX_READER = apg("SELECT email, subscribed_at FROM subscriptions WHERE email = $1", "a@x")

SAFE += [
    Case(
        id="safe-r19-sqlx-timestamp-to-timestamptz-vs-held-writer-and-filter",
        schema_sql=SUBSCRIPTIONS,
        versions={V1: SQLX_WRITER, V2: [SQLX_SINCE]},
        migration_sql=SQLX_TZ,
        note="a timestamp parameter is assigned and compared to timestamptz by implicit casts",
    ),
]
BREAKING += [
    Case(
        id="break-r19-sqlx-timestamp-to-timestamptz-vs-held-reader",
        schema_sql=SUBSCRIPTIONS,
        versions={V1: [SQLX_READER], V2: SQLX_WRITER, V3: [SQLX_SINCE]},
        migration_sql=SQLX_TZ,
        breaks=frozenset({V1}),
        note="0A000: the held row's subscribed_at is a timestamptz now",
    ),
]

# ------------------------------------------------------------ Liquibase
LIQUIBASE = """
CREATE TABLE public.customer (id serial PRIMARY KEY, email varchar(255) NOT NULL,
  status varchar(20));
INSERT INTO public.customer (email, status) VALUES ('a@x', 'active'), ('b@x', NULL);
CREATE TABLE public.databasechangelog (id varchar(255) NOT NULL, author varchar(255) NOT NULL,
  filename varchar(255) NOT NULL, dateexecuted timestamp NOT NULL, orderexecuted int NOT NULL,
  exectype varchar(10) NOT NULL, md5sum varchar(35), description varchar(255));
"""
LB_OMITTING: list[str | Q] = [
    extended("INSERT INTO customer (email) VALUES (%s)", "c@x"),
    simple("DELETE FROM customer WHERE email = 'c@x'"),
]
LB_GIVING = extended("UPDATE customer SET status = %s WHERE email = %s", "vip", "a@x")
LB_LOG = (
    "INSERT INTO public.databasechangelog (id, author, filename, dateexecuted, orderexecuted,"
    " md5sum, description, exectype) VALUES ('{id}', 'dev', 'db/changelog.xml', NOW(), {n},"
    " '9:1', '{what}', 'EXECUTED');"
)
LB_NOT_NULL = (
    "UPDATE public.customer SET status = 'active' WHERE status IS NULL;\n"
    "ALTER TABLE public.customer ALTER COLUMN  status SET NOT NULL;\n"
    + LB_LOG.format(id="2", n=2, what="addNotNullConstraint tableName=customer")
)
LB_DEFAULT = "ALTER TABLE public.customer ALTER COLUMN status SET DEFAULT 'active';\n" + (
    LB_LOG.format(id="1", n=1, what="addDefaultValue tableName=customer")
)

SAFE += [
    Case(
        id="safe-r19-liquibase-default-then-not-null-vs-omitting-writer",
        schema_sql=LIQUIBASE,
        versions={V1: LB_OMITTING, V2: [LB_GIVING]},
        migration_sql=LB_DEFAULT + "\n" + LB_NOT_NULL,
        note="addDefaultValue first: the omitting writer gets 'active'",
    ),
]

# ------------------------------------------------------------ partitions
DETACH_CONCURRENTLY = "ALTER TABLE measurements DETACH PARTITION measurements_2025 CONCURRENTLY"
REGIONS = """
CREATE TABLE sales (region text NOT NULL, amount int) PARTITION BY LIST (region);
CREATE TABLE sales_eu PARTITION OF sales FOR VALUES IN ('eu');
CREATE TABLE sales_us PARTITION OF sales FOR VALUES IN ('us');
INSERT INTO sales VALUES ('eu', 1), ('us', 2);
"""
EU_SALE: list[str | Q] = [
    extended("INSERT INTO sales (region, amount) VALUES (%s, %s)", "eu", 7),
    simple("DELETE FROM sales WHERE amount = 7"),
]
US_SALE = extended("INSERT INTO sales (region, amount) VALUES (%s, %s)", "us", 3)

SAFE += [
    Case(
        id="safe-r19-detach-list-partition-with-a-default-to-catch-its-rows",
        schema_sql=REGIONS + "CREATE TABLE sales_other PARTITION OF sales DEFAULT;",
        versions={V1: EU_SALE, V2: [US_SALE]},
        migration_sql="ALTER TABLE sales DETACH PARTITION sales_eu",
        note="'eu' rows now go to the DEFAULT partition",
    ),
]
BREAKING += [
    Case(
        id="break-r19-detach-concurrently-vs-a-late-writer",
        schema_sql=MEASUREMENTS,
        versions={
            V1: [simple("INSERT INTO measurements VALUES ('2025-12-30', 5)")],
            V2: [simple("INSERT INTO measurements VALUES ('2026-06-01', 4)")],
        },
        migration_sql=DETACH_CONCURRENTLY,
        breaks=frozenset({V1}),
        note="23514: no partition of measurements for 2025-12-30",
    ),
]

# ------------------------------------------------------------ functions
TAGS = """
CREATE FUNCTION tag_list(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE
  AS 'SELECT a || '','' || b';
"""
SAFE += [
    Case(
        id="safe-r19-variadic-overload-beside-a-same-arity-function",
        schema_sql=TAGS,
        versions={
            V1: [simple("SELECT tag_list('a', 'b')")],
            V2: [extended("SELECT tag_list(%s, %s)", "c", "d")],
            V3: [apg("SELECT tag_list($1, $2)", "e", "f")],
        },
        migration_sql="CREATE FUNCTION tag_list(VARIADIC t text[]) RETURNS text LANGUAGE sql"
        " IMMUTABLE AS $$SELECT array_to_string(t, ',')$$",
        note="a non-variadic candidate beats the same types reached by a variadic expansion",
    ),
]

# ------------------------------------------------------------ privileges
STAFF = """
CREATE TABLE staff (id serial PRIMARY KEY, name text, salary int);
INSERT INTO staff (name, salary) VALUES ('ann', 10);
GRANT SELECT, UPDATE ON staff TO r19_app;
GRANT SELECT (id, salary) ON staff TO r19_app;
"""
SAFE += [
    Case(
        id="safe-r19-column-privilege-revoked-under-a-table-grant",
        schema_sql=STAFF,
        versions={
            V1: [extended("SELECT id, salary FROM staff WHERE id = %s", 1)],
            V2: [simple("UPDATE staff SET salary = salary + 1 WHERE id = 1")],
        },
        users={V1: "r19_app", V2: "r19_app"},
        migration_sql="REVOKE SELECT (salary) ON staff FROM r19_app",
        note="the table-wide SELECT still covers salary",
    ),
]

SEQUENCED = """
CREATE TABLE tickets (id int PRIMARY KEY, title text);
CREATE SEQUENCE tickets_id_seq START 100;
ALTER TABLE tickets ALTER COLUMN id SET DEFAULT nextval('tickets_id_seq');
GRANT SELECT, INSERT, DELETE ON tickets TO r19_app;
GRANT USAGE ON SEQUENCE tickets_id_seq TO r19_app;
CREATE SEQUENCE tickets_id_seq2 START 1000;
"""
TICKET_OMITTING: list[str | Q] = [
    extended("INSERT INTO tickets (title) VALUES (%s) RETURNING id", "a"),
    simple("DELETE FROM tickets WHERE title = 'a'"),
]
TICKET_EXPLICIT: list[str | Q] = [
    extended("INSERT INTO tickets (id, title) VALUES (%s, %s)", 5, "b"),
    simple("DELETE FROM tickets WHERE id = 5"),
]
NEW_DEFAULT = "ALTER TABLE tickets ALTER COLUMN id SET DEFAULT nextval('tickets_id_seq2')"
SAFE += [
    Case(
        id="safe-r19-default-moved-to-a-sequence-granted-in-the-migration",
        schema_sql=SEQUENCED,
        versions={V1: TICKET_OMITTING, V2: TICKET_EXPLICIT},
        users={V1: "r19_app", V2: "r19_app"},
        migration_sql=f"BEGIN; {NEW_DEFAULT}; GRANT USAGE ON SEQUENCE tickets_id_seq2 TO r19_app;"
        " COMMIT",
        note="the app role may take numbers from the new sequence",
    ),
]
BREAKING += [
    Case(
        id="break-r19-default-moved-to-a-sequence-the-role-may-not-use",
        schema_sql=SEQUENCED,
        versions={V1: TICKET_OMITTING, V2: TICKET_EXPLICIT},
        users={V1: "r19_app", V2: "r19_app"},
        migration_sql=NEW_DEFAULT,
        breaks=frozenset({V1}),
        note="42501: permission denied for sequence tickets_id_seq2; explicit ids skip it",
    ),
]

# ------------------------------------------------------------ "$user" on the search_path
SETTINGS = """
CREATE TABLE settings (key text PRIMARY KEY, value text);
INSERT INTO settings VALUES ('theme', 'dark');
GRANT SELECT ON settings TO r19_app;
"""
SETTINGS_READER = extended("SELECT key, value FROM settings WHERE key = %s", "theme")
SAFE += [
    Case(
        id="safe-r19-user-schema-for-a-role-nobody-connects-as",
        schema_sql=SETTINGS,
        versions={V1: [SETTINGS_READER], V2: [SETTINGS_READER]},
        users={V1: "r19_app"},
        migration_sql="BEGIN; CREATE SCHEMA r19_tenant;"
        " CREATE TABLE r19_tenant.settings (key text PRIMARY KEY); COMMIT",
        note='"$user" is r19_app or postgres for the versions: r19_tenant is on no path',
    ),
]
BREAKING += [
    Case(
        id="break-r19-user-schema-shadows-a-public-table-for-its-role",
        schema_sql=SETTINGS,
        versions={V1: [SETTINGS_READER], V2: [SETTINGS_READER]},
        users={V1: "r19_app"},
        migration_sql="BEGIN; CREATE SCHEMA r19_app AUTHORIZATION r19_app;"
        " CREATE TABLE r19_app.settings (key text PRIMARY KEY); COMMIT",
        breaks=frozenset({V1}),
        note='42703: "$user" comes first on the default path: r19_app.settings has no value',
    ),
]

# ------------------------------------------------------------ jsonb and ranges retyped
DOCS = """
CREATE TABLE docs (id serial PRIMARY KEY, meta jsonb NOT NULL DEFAULT '{}');
INSERT INTO docs (meta) VALUES ('{"a": 1, "tag": "x"}');
CREATE TABLE slots (id serial PRIMARY KEY, during tsrange NOT NULL);
INSERT INTO slots (during) VALUES ('[2026-01-01 10:00, 2026-01-01 11:00)');
"""
TO_JSON = "ALTER TABLE docs ALTER COLUMN meta TYPE json USING meta::json"
TO_TSTZ = (
    "ALTER TABLE slots ALTER COLUMN during TYPE tstzrange"
    " USING tstzrange(lower(during), upper(during))"
)
SLOT_STARTS = simple("SELECT id FROM slots WHERE lower(during) < '2026-01-01 10:30'")
SAFE += [
    Case(
        id="safe-r19-jsonb-to-json-vs-arrow-readers",
        schema_sql=DOCS,
        versions={
            V1: [extended("SELECT id, meta->>'tag' FROM docs WHERE (meta->>'a')::int = %s", 1)],
            V2: [simple("""INSERT INTO docs (meta) VALUES ('{"b": 2}')""")],
        },
        migration_sql=TO_JSON,
        note="json has -> and ->> too",
    ),
]
BREAKING += [
    Case(
        id="break-r19-jsonb-to-json-vs-containment-reader",
        schema_sql=DOCS,
        versions={
            V1: [simple("""SELECT id FROM docs WHERE meta @> '{"a": 1}'""")],
            V2: [extended("SELECT id, meta->>'tag' FROM docs WHERE id = %s", 1)],
        },
        migration_sql=TO_JSON,
        breaks=frozenset({V1}),
        note="42883: json has no @> operator",
    ),
    Case(
        id="break-r19-tsrange-to-tstzrange-vs-typed-timestamp-probe",
        schema_sql=DOCS,
        versions={
            V1: [simple("SELECT id FROM slots WHERE during @> '2026-01-01 10:30'::timestamp")],
            V2: [SLOT_STARTS],
        },
        migration_sql=TO_TSTZ,
        breaks=frozenset({V1}),
        note="42883: tstzrange @> timestamp has no operator (polymorphic types must match)",
    ),
]

# ------------------------------------------------------------ partitions re-cut
SPLIT_2026 = (
    "BEGIN; ALTER TABLE measurements DETACH PARTITION measurements_2026;"
    " CREATE TABLE measurements_2026h1 PARTITION OF measurements"
    " FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');"
    " INSERT INTO measurements SELECT * FROM measurements_2026 WHERE ts < '2026-07-01';"
    " DROP TABLE measurements_2026; COMMIT"
)
SAFE += [
    Case(
        id="safe-r19-range-partition-recut-vs-writer-inside-the-new-bounds",
        schema_sql=MEASUREMENTS,
        versions={V1: [simple("INSERT INTO measurements VALUES ('2026-03-01', 6)")]},
        migration_sql=SPLIT_2026,
        note="March 2026 is inside the first half's partition",
    ),
]
BREAKING += [
    Case(
        id="break-r19-range-partition-recut-vs-writer-outside-the-new-bounds",
        schema_sql=MEASUREMENTS,
        versions={
            V1: [
                simple("INSERT INTO measurements VALUES ('2026-09-01', 7)"),
                simple("DELETE FROM measurements WHERE ts = '2026-09-01'"),
            ],
            V2: [simple("INSERT INTO measurements VALUES ('2026-03-01', 6)")],
        },
        migration_sql=SPLIT_2026,
        breaks=frozenset({V1}),
        note="23514: no partition of measurements for 2026-09-01",
    ),
]

HASHED = """
CREATE TABLE carts (id int NOT NULL, note text) PARTITION BY HASH (id);
CREATE TABLE carts_0 PARTITION OF carts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE carts_1 PARTITION OF carts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
"""


def _cart(key: int) -> list[str | Q]:
    return [
        extended("INSERT INTO carts (id, note) VALUES (%s, %s)", key, "n"),
        extended("DELETE FROM carts WHERE id = %s", key),
    ]


BREAKING += [
    Case(
        id="break-r19-hash-partition-detached-vs-a-key-hashing-to-it",
        schema_sql=HASHED,
        versions={V1: _cart(3), V2: _cart(1), V3: _cart(2)},
        migration_sql="ALTER TABLE carts DETACH PARTITION carts_1",
        breaks=frozenset({V1}),
        note="23514: int 3 hashes to remainder 1 (1 and 2 to 0): no partition left for it",
    ),
]

# ------------------------------------------------------------ ON UPDATE of a foreign key
CODES = """
CREATE TABLE plans (code text PRIMARY KEY, label text);
INSERT INTO plans VALUES ('basic', 'Basic'), ('pro', 'Pro');
CREATE TABLE subs (id serial PRIMARY KEY,
  plan text CONSTRAINT subs_plan_fkey REFERENCES plans ON UPDATE CASCADE);
INSERT INTO subs (plan) VALUES ('basic');
"""
PLAN_RECODER: list[str | Q] = [
    simple("UPDATE plans SET code = 'basic2' WHERE code = 'basic'"),
    simple("UPDATE plans SET code = 'basic' WHERE code = 'basic2'"),
]
PLAN_RELABELER = extended("UPDATE plans SET label = %s WHERE code = %s", "Basic!", "basic")
NO_CASCADE = (
    "BEGIN; ALTER TABLE subs DROP CONSTRAINT subs_plan_fkey;"
    " ALTER TABLE subs ADD CONSTRAINT subs_plan_fkey FOREIGN KEY (plan) REFERENCES plans;"
    " COMMIT"
)
BREAKING += [
    Case(
        id="break-r19-fk-on-update-cascade-dropped-vs-key-updater",
        schema_sql=CODES,
        versions={V1: PLAN_RECODER, V2: [PLAN_RELABELER]},
        migration_sql=NO_CASCADE,
        breaks=frozenset({V1}),
        note="23503: subs still references basic",
    ),
]

# ------------------------------------------------------------ schema USAGE under a view
INTERNAL = """
CREATE SCHEMA internal;
CREATE TABLE internal.ledger (id serial PRIMARY KEY, amount int);
INSERT INTO internal.ledger (amount) VALUES (1);
CREATE VIEW public.ledger_view AS SELECT id, amount FROM internal.ledger;
GRANT USAGE ON SCHEMA internal TO r19_app;
GRANT SELECT ON internal.ledger TO r19_app;
GRANT SELECT ON public.ledger_view TO r19_app;
"""
SAFE += [
    Case(
        id="safe-r19-schema-usage-revoked-vs-reader-through-an-owners-view",
        schema_sql=INTERNAL,
        versions={V1: [extended("SELECT id, amount FROM ledger_view WHERE id = %s", 1)]},
        users={V1: "r19_app"},
        migration_sql="REVOKE USAGE ON SCHEMA internal FROM r19_app",
        note="the view reads internal.ledger with its owner's privileges",
    ),
]
BREAKING += [
    Case(
        id="break-r19-schema-usage-revoked-vs-direct-reader",
        schema_sql=INTERNAL,
        versions={
            V1: [extended("SELECT id, amount FROM internal.ledger WHERE id = %s", 1)],
            V2: [extended("SELECT id, amount FROM ledger_view WHERE id = %s", 1)],
        },
        users={V1: "r19_app", V2: "r19_app"},
        migration_sql="REVOKE USAGE ON SCHEMA internal FROM r19_app",
        breaks=frozenset({V1}),
        note="42501: permission denied for schema internal",
    ),
]

# ------------------------------------------------------------ inheritance
INHERITED = """
CREATE TABLE notes (id serial PRIMARY KEY, body text, tag varchar(10));
CREATE TABLE pinned_notes (pinned_at timestamptz DEFAULT now()) INHERITS (notes);
INSERT INTO pinned_notes (body, tag) VALUES ('p', 't');
"""
PINNED_TAGS = extended("SELECT id, tag FROM pinned_notes WHERE id > %s", 0)
PINNED_TAGS_HELD = apg("SELECT id, tag FROM pinned_notes WHERE id > $1", 0)
SAFE += [
    Case(
        id="safe-r19-only-parent-drops-the-column-vs-child-reader",
        schema_sql=INHERITED,
        versions={V1: [PINNED_TAGS, PINNED_TAGS_HELD]},
        migration_sql="ALTER TABLE ONLY notes DROP COLUMN tag",
        note="ONLY: the child keeps tag as its own column",
    ),
]
BREAKING += [
    Case(
        id="break-r19-parent-column-widened-vs-held-child-reader",
        schema_sql=INHERITED,
        versions={V1: [PINNED_TAGS_HELD], V2: [PINNED_TAGS]},
        migration_sql="ALTER TABLE notes ALTER COLUMN tag TYPE varchar(40)",
        breaks=frozenset({V1}),
        note="0A000: the type change recurses to the child's held result",
    ),
]

# ------------------------------------------------------------ identity ALWAYS vs updaters
COUNTERS = """
CREATE TABLE counters (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n int);
INSERT INTO counters (n) VALUES (0);
"""
BREAKING += [
    Case(
        id="break-r19-identity-made-always-vs-upsert-setting-the-id",
        schema_sql=COUNTERS,
        versions={
            V1: [
                simple(
                    "INSERT INTO counters (id, n) VALUES (1, 1) ON CONFLICT (id)"
                    " DO UPDATE SET n = counters.n + 1"
                )
            ],
            V2: [extended("UPDATE counters SET n = n + 1 WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE counters ALTER COLUMN id SET GENERATED ALWAYS",
        breaks=frozenset({V1}),
        note="428C9: cannot insert a non-DEFAULT value into id, even when it conflicts",
    ),
]

# ------------------------------------------------------------ procedures gaining an OUT
PROCS = """
CREATE TABLE jobs (id serial PRIMARY KEY, name text);
CREATE PROCEDURE enqueue(p_name text) LANGUAGE sql AS $$INSERT INTO jobs (name) VALUES (p_name)$$;
"""
BREAKING += [
    Case(
        id="break-r19-procedure-recreated-with-an-out-param-vs-old-call",
        schema_sql=PROCS,
        versions={V1: [simple("CALL enqueue('a')")]},
        migration_sql="BEGIN; DROP PROCEDURE enqueue(text);"
        " CREATE PROCEDURE enqueue(p_name text, OUT job_id int) LANGUAGE sql"
        " AS $$INSERT INTO jobs (name) VALUES (p_name) RETURNING id$$; COMMIT",
        breaks=frozenset({V1}),
        note="42883: a CALL passes an argument for every OUT parameter since PostgreSQL 14",
    ),
]

# ------------------------------------------------------------ ON DELETE SET DEFAULT, MATCH FULL
FK_DEFAULTS = """
CREATE TABLE teams (id int PRIMARY KEY, name text);
INSERT INTO teams VALUES (0, 'unassigned'), (1, 'core'), (2, 'web');
CREATE TABLE members (id serial PRIMARY KEY, team_id int DEFAULT 0
  CONSTRAINT members_team_fkey REFERENCES teams ON DELETE SET NULL);
INSERT INTO members (team_id) VALUES (1);
"""
TEAM_CHURN: list[str | Q] = [
    simple("INSERT INTO teams VALUES (9, 'tmp') ON CONFLICT DO NOTHING"),
    simple("INSERT INTO members (team_id) VALUES (9)"),
    simple("DELETE FROM teams WHERE id = 9"),
]
SET_DEFAULT_FK = (
    "BEGIN; ALTER TABLE members DROP CONSTRAINT members_team_fkey;"
    " ALTER TABLE members ADD CONSTRAINT members_team_fkey FOREIGN KEY (team_id)"
    " REFERENCES teams ON DELETE SET DEFAULT; COMMIT"
)
BREAKING += [
    Case(
        id="break-r19-fk-on-delete-set-default-to-a-missing-parent",
        schema_sql=FK_DEFAULTS,
        versions={V1: TEAM_CHURN, V2: [simple("SELECT id, team_id FROM members")]},
        migration_sql="BEGIN; ALTER TABLE members ALTER COLUMN team_id SET DEFAULT 42; "
        + SET_DEFAULT_FK.removeprefix("BEGIN; "),
        breaks=frozenset({V1}),
        note="23503: the delete sets team_id to 42, which no team has",
    ),
]

PAIRS = """
CREATE TABLE regions (country text, code text, PRIMARY KEY (country, code));
INSERT INTO regions VALUES ('de', 'by');
CREATE TABLE shops (id serial PRIMARY KEY, country text, code text);
"""
MATCH_FULL = (
    "ALTER TABLE shops ADD CONSTRAINT shops_region_fkey FOREIGN KEY (country, code)"
    " REFERENCES regions MATCH {kind}"
)
HALF_KEY: list[str | Q] = [
    extended("INSERT INTO shops (country, code) VALUES (%s, NULL)", "fr"),
    simple("DELETE FROM shops WHERE country = 'fr'"),
]
BREAKING += [
    Case(
        id="break-r19-fk-match-full-vs-half-null-key-writer",
        schema_sql=PAIRS,
        versions={
            V1: HALF_KEY,
            V2: [extended("INSERT INTO shops (country, code) VALUES (%s, %s)", "de", "by")],
        },
        migration_sql=MATCH_FULL.format(kind="FULL"),
        breaks=frozenset({V1}),
        note="23503: MATCH FULL refuses a key that is NULL only in part",
    ),
]


# ------------------------------------------------------------ a view dropped around a retype
VIEWED = """
CREATE TABLE people (id serial PRIMARY KEY, name varchar(40), email text);
INSERT INTO people (name, email) VALUES ('ann', 'a@x');
CREATE VIEW people_public AS SELECT id, name FROM people;
"""
VIEW_RETYPE = (
    "BEGIN; DROP VIEW people_public;"
    " ALTER TABLE people ALTER COLUMN name TYPE text;"
    " CREATE VIEW people_public AS SELECT id, name FROM people; COMMIT"
)
BREAKING += [
    Case(
        id="break-r19-view-dropped-around-a-retype-vs-held-reader",
        schema_sql=VIEWED,
        versions={
            V1: [apg("SELECT id, name FROM people_public WHERE id = $1", 1)],
            V2: [apg("SELECT id FROM people_public WHERE id = $1", 1)],
        },
        migration_sql=VIEW_RETYPE,
        breaks=frozenset({V1}),
        note="0A000: the held name is text now; the held id is unchanged",
    ),
]


# ------------------------------------------------------------ a legacy implicit cast
CUSTOMERS = """
CREATE TABLE customers (id int PRIMARY KEY, name text, phone text);
INSERT INTO customers VALUES (1, 'ann', '555'), (2, 'bob', '556');
"""
LEGACY_CAST = "CREATE CAST (integer AS text) WITH INOUT AS IMPLICIT"
CUSTOMER_LOOKUP = extended("SELECT id, name FROM customers WHERE phone = %s", "555")
SAFE += [
    Case(
        id="safe-r19-implicit-int-to-text-cast-vs-typed-statements",
        schema_sql=CUSTOMERS,
        versions={
            V1: [CUSTOMER_LOOKUP],
            V2: [simple("UPDATE customers SET name = name || '!' WHERE id = 2")],
        },
        migration_sql=LEGACY_CAST,
        note="text || text and text = text resolve as before",
    ),
]
BREAKING += [
    Case(
        id="break-r19-implicit-int-to-text-cast-vs-concatenation-with-an-int",
        schema_sql=CUSTOMERS,
        versions={
            V1: [extended("SELECT 'C-' || id FROM customers WHERE id = %s", 1)],
            V2: [CUSTOMER_LOOKUP],
        },
        migration_sql=LEGACY_CAST,
        breaks=frozenset({V1}),
        note="42725: unknown || integer is textcat or anytextcat now",
    ),
]

# ------------------------------------------------------------ a domain's default
LABELS = """
CREATE DOMAIN label AS text CONSTRAINT label_nonempty CHECK (VALUE <> '');
CREATE TABLE tags (id serial PRIMARY KEY, l label, note text);
INSERT INTO tags (l, note) VALUES ('a', 'n');
"""
TAG_NOTE_ONLY = extended("INSERT INTO tags (note) VALUES (%s)", "x")
SAFE += [
    Case(
        id="safe-r19-domain-default-set-to-an-accepted-value-vs-omitting-writer",
        schema_sql=LABELS,
        versions={V1: [TAG_NOTE_ONLY]},
        migration_sql="ALTER DOMAIN label SET DEFAULT 'untagged'",
        note="'untagged' passes the domain's check",
    ),
]
BREAKING += [
    Case(
        id="break-r19-domain-default-set-to-a-refused-value-vs-omitting-writer",
        schema_sql=LABELS,
        versions={V1: [TAG_NOTE_ONLY], V2: [extended("INSERT INTO tags (l) VALUES (%s)", "b")]},
        migration_sql="ALTER DOMAIN label SET DEFAULT ''",
        breaks=frozenset({V1}),
        note="23514: the domain's default fails the domain's own check",
    ),
]

# ------------------------------------------------------------ USAGE on types and languages
TYPED = """
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE feelings (id serial PRIMARY KEY, m mood);
INSERT INTO feelings (m) VALUES ('happy');
GRANT SELECT, INSERT ON feelings TO r19_app;
GRANT USAGE ON SEQUENCE feelings_id_seq TO r19_app;
CREATE FUNCTION cheer(n int) RETURNS text LANGUAGE plpgsql AS $$BEGIN RETURN repeat('!', n); END$$;
"""
SAFE += [
    Case(
        id="safe-r19-type-and-language-usage-revoked-vs-role-using-them",
        schema_sql=TYPED,
        versions={
            V1: [
                extended("SELECT id FROM feelings WHERE m = 'sad'::mood OR id = %s", 1),
                simple("INSERT INTO feelings (m) VALUES ('sad')"),
            ],
            V2: [extended("SELECT cheer(%s)", 2)],
        },
        users={V1: "r19_app", V2: "r19_app"},
        migration_sql="BEGIN; REVOKE USAGE ON TYPE mood FROM PUBLIC;"
        " REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC; COMMIT",
        note="USAGE on a type or language is checked when objects are created, not used",
    ),
]
# ------------------------------------------------------------ a procedure losing its OUT parameter
PROCS8 = """
CREATE TABLE jobs8 (id serial PRIMARY KEY, name text);
CREATE PROCEDURE enqueue8(p_name text, OUT job_id int) LANGUAGE sql
  AS $$INSERT INTO jobs8 (name) VALUES (p_name) RETURNING id$$;
"""
BREAKING += [
    Case(
        id="break-r19-procedure-out-param-dropped-vs-calls-passing-it",
        schema_sql=PROCS8,
        versions={
            V1: [simple("CALL enqueue8('a', NULL)")],
            V2: [extended("CALL enqueue8(%s, NULL)", "b")],
        },
        migration_sql="BEGIN; DROP PROCEDURE enqueue8(text, int);"
        " CREATE PROCEDURE enqueue8(p_name text) LANGUAGE sql"
        " AS $$INSERT INTO jobs8 (name) VALUES (p_name)$$; COMMIT",
        breaks=frozenset({V1, V2}),
        note="42883: no procedure takes two arguments now (DROP names it with its OUT type)",
    ),
]

CASES = SAFE + BREAKING
