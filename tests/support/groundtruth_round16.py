"""Round 16 ground-truth cases: what migration tools send around the DDL, the migrating
session's search_path, and maintenance that must pass.

Flyway, Liquibase, Django, Rails, Alembic, golang-migrate and Sqitch wrap a migration in
their own statements: advisory locks (``pg_try_advisory_lock``, ``pg_advisory_xact_lock``),
``SET lock_timeout``, ``SET search_path`` or Flyway's ``set_config('search_path', ...)``,
``LOCK TABLE``, their schema-history tables made ``IF NOT EXISTS`` and written (even
TRUNCATEd) beside the DDL, Liquibase's ``DATABASECHANGELOGLOCK`` updates. None of it may
be blocked or change the verdict, even while a version (an app that checks its migrations
at boot) reads those tables. The session's search_path decides which table an unqualified
DDL changes: a ``SET LOCAL`` ends with its transaction, a savepoint rolled back to undoes
it, a released one keeps it. Then maintenance a team runs while every version is live
(SET COMPRESSION/STORAGE, SET LOGGED, sequence CACHE, toast and per-column options,
statistics objects, materialized view upkeep, VACUUM FULL, REINDEX of an upsert's arbiter)
and a Flyway repeatable script that drops and recreates a view and a function.

Each case is a rolling deploy a team really ships; PostgreSQL decides (see
tests/support/groundtruth.py) which versions a migration breaks.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, apg, copy_in, extended, prepared, simple

V1, V2, V3 = "app@1", "app@2", "app@3"
#: a reporting job's login role (the harness creates it)
REPORTER = "gt16_reporter"

ITEMS = """
CREATE TABLE items (id int PRIMARY KEY, name text, sku text, legacy text);
INSERT INTO items VALUES (1, 'a', 'A-1', 'x'), (2, 'b', 'B-2', 'y');
"""
# app@1 still reads the column the contract step drops; app@2 does not
READS_LEGACY: list[str | Q] = [prepared("SELECT id, legacy FROM items WHERE id = %s", 1)]
READS_NAME: list[str | Q] = [
    extended("SELECT id, name FROM items WHERE sku = %s", "A-1"),
    simple("INSERT INTO items (id, name, sku) VALUES (10, 'n', 'N-10') ON CONFLICT DO NOTHING"),
]

# ------------------------------------------------------------------------------ Flyway
FLYWAY_TABLE = """
CREATE TABLE IF NOT EXISTS "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL, "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL);
"""
FLYWAY_KEYS = """
ALTER TABLE "public"."flyway_schema_history"
  ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");
"""
FLYWAY_V1 = """
INSERT INTO "public"."flyway_schema_history" ("installed_rank", "version", "description",
  "type", "script", "checksum", "installed_by", "execution_time", "success")
VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', 12345, 'postgres', 7, true);
"""
# a Spring Boot app validates the history at boot (Flyway's own query, as it sends it)
FLYWAY_VALIDATE = extended(
    'SELECT "installed_rank","version","description","type","script","checksum",'
    '"installed_on","installed_by","execution_time","success"'
    ' FROM "public"."flyway_schema_history" WHERE "installed_rank" > %s'
    ' ORDER BY "installed_rank"',
    -1,
)


def flyway(ddl: str, rank: int = 2) -> str:
    """One Flyway migration as it reaches the server: session lock, history table made if
    missing, the script and its history row in one transaction, unlock."""
    return (
        "SELECT pg_try_advisory_lock(77431708279161);"
        " SELECT set_config('search_path', 'public', false);"
        f" BEGIN; SELECT pg_advisory_xact_lock(77431708279161); SET LOCAL lock_timeout = '10s';"
        f" {ddl};"
        ' INSERT INTO "public"."flyway_schema_history" ("installed_rank", "version",'
        ' "description", "type", "script", "checksum", "installed_by", "execution_time",'
        f" \"success\") VALUES ({rank}, '{rank}', 'step', 'SQL', 'V{rank}__step.sql', 99,"
        " 'postgres', 3, true);"
        " COMMIT; SELECT pg_advisory_unlock(77431708279161)"
    )


# --------------------------------------------------------------------------- Liquibase
LIQUIBASE_TABLES = """
CREATE TABLE public.databasechangeloglock (ID INTEGER NOT NULL, LOCKED BOOLEAN NOT NULL,
  LOCKGRANTED TIMESTAMP WITHOUT TIME ZONE, LOCKEDBY VARCHAR(255),
  CONSTRAINT databasechangeloglock_pkey PRIMARY KEY (ID));
INSERT INTO public.databasechangeloglock (ID, LOCKED) VALUES (1, FALSE);
CREATE TABLE public.databasechangelog (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL,
  FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED TIMESTAMP WITHOUT TIME ZONE NOT NULL,
  ORDEREXECUTED INTEGER NOT NULL, EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35),
  DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255), TAG VARCHAR(255), LIQUIBASE VARCHAR(20),
  CONTEXTS VARCHAR(255), LABELS VARCHAR(255), DEPLOYMENT_ID VARCHAR(10));
"""
# an app running Liquibase at boot checks the lock and the changelog
LIQUIBASE_STATUS: list[str | Q] = [
    simple("SELECT COUNT(*) FROM public.databasechangeloglock"),
    extended("SELECT ID, LOCKED, LOCKGRANTED, LOCKEDBY FROM public.databasechangeloglock"),
    simple("SELECT MD5SUM FROM public.databasechangelog WHERE MD5SUM IS NOT NULL LIMIT 1"),
]


def liquibase(*changes: str) -> str:
    """One Liquibase update: take the lock row, each changeset with its changelog row in
    a transaction of its own, release the lock row."""
    sets = "".join(
        f" BEGIN; {change};"
        " INSERT INTO public.databasechangelog (ID, AUTHOR, FILENAME, DATEEXECUTED,"
        " ORDEREXECUTED, MD5SUM, DESCRIPTION, COMMENTS, EXECTYPE, CONTEXTS, LABELS, LIQUIBASE,"
        f" DEPLOYMENT_ID) VALUES ('{n}', 'dev', 'db/changelog.xml', NOW(), {n}, '9:0a1b', 'sql',"
        " '', 'EXECUTED', NULL, NULL, '4.29.2', '2926000000'); COMMIT;"
        for n, change in enumerate(changes, 1)
    )
    return (
        "SELECT COUNT(*) FROM public.databasechangeloglock;"
        " UPDATE public.databasechangeloglock SET LOCKED = TRUE, LOCKEDBY = 'ci (10.0.0.7)',"
        " LOCKGRANTED = NOW() WHERE ID = 1 AND LOCKED = FALSE;"
        ' SET SEARCH_PATH TO public, "$user";'
        " SELECT MD5SUM FROM public.databasechangelog WHERE MD5SUM IS NOT NULL LIMIT 1;"
        f"{sets}"
        " UPDATE public.databasechangeloglock SET LOCKED = FALSE, LOCKEDBY = NULL,"
        " LOCKGRANTED = NULL WHERE ID = 1"
    )


# ------------------------------------------------------------------- Django, Rails, Alembic
DJANGO_INTROSPECT = (
    "SELECT c.relname, CASE WHEN c.relispartition THEN 'p' WHEN c.relkind IN ('m', 'v')"
    " THEN 'v' ELSE 't' END FROM pg_catalog.pg_class c"
    " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('f', 'm', 'p', 'r', 'v')"
    " AND n.nspname NOT IN ('pg_catalog', 'pg_toast') AND pg_catalog.pg_table_is_visible(c.oid)"
)
DJANGO_TABLE = (
    'CREATE TABLE "django_migrations" ("id" bigint NOT NULL PRIMARY KEY GENERATED BY DEFAULT'
    ' AS IDENTITY, "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL,'
    ' "applied" timestamp with time zone NOT NULL)'
)


def django(*ddl: str, name: str = "0002_item_note") -> str:
    """``manage.py migrate`` on a fresh database: introspection, the recorder's table,
    then the migration's DDL and its row in one transaction."""
    body = " ".join(f"{d};" for d in ddl)
    return (
        f"{DJANGO_INTROSPECT}; {DJANGO_TABLE};"
        ' SELECT "django_migrations"."id", "django_migrations"."app", "django_migrations"."name",'
        ' "django_migrations"."applied" FROM "django_migrations";'
        f" BEGIN; {body}"
        ' INSERT INTO "django_migrations" ("app", "name", "applied")'
        f" VALUES ('shop', '{name}', '2026-11-29T08:00:00+00:00'::timestamptz)"
        ' RETURNING "django_migrations"."id"; COMMIT'
    )


def rails(*ddl: str) -> str:
    """``rails db:migrate``: its advisory lock, its two tables made if missing, the
    migration and its version row in one transaction, unlock."""
    body = " ".join(f"{d};" for d in ddl)
    return (
        "SELECT pg_try_advisory_lock(4138186722431474265);"
        ' CREATE TABLE IF NOT EXISTS "schema_migrations" ("version" character varying NOT NULL'
        " PRIMARY KEY);"
        ' CREATE TABLE IF NOT EXISTS "ar_internal_metadata" ("key" character varying NOT NULL'
        ' PRIMARY KEY, "value" character varying, "created_at" timestamp(6) NOT NULL,'
        ' "updated_at" timestamp(6) NOT NULL);'
        ' SELECT "schema_migrations"."version" FROM "schema_migrations"'
        ' ORDER BY "schema_migrations"."version" ASC;'
        f" BEGIN; {body}"
        ' INSERT INTO "schema_migrations" ("version") VALUES (\'20261129080000\')'
        ' RETURNING "version"; COMMIT; SELECT pg_advisory_unlock(4138186722431474265)'
    )


ALEMBIC_TABLE = """
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,
  CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version (version_num) VALUES ('a1f0');
"""
# an app that refuses to start on the wrong revision reads it at boot
ALEMBIC_CHECK = apg("SELECT alembic_version.version_num FROM alembic_version")


def alembic(*ddl: str) -> str:
    """``alembic upgrade head``: dialect probes, then the revision's DDL and the version
    row's UPDATE in one transaction."""
    body = " ".join(f"{d};" for d in ddl)
    return (
        "select pg_catalog.version(); select current_schema(); show transaction isolation level;"
        " show standard_conforming_strings;"
        " BEGIN; SELECT alembic_version.version_num FROM alembic_version;"
        f" {body}"
        " UPDATE alembic_version SET version_num='b2e1' WHERE alembic_version.version_num = 'a1f0';"
        " COMMIT"
    )


# ------------------------------------------------- golang-migrate, Sqitch, Flyway repeatables
GOLANG_TABLE = (
    'CREATE TABLE IF NOT EXISTS "schema_migrations" (version bigint NOT NULL PRIMARY KEY,'
    " dirty boolean NOT NULL);"
    " INSERT INTO schema_migrations VALUES (2, false);"
)
# a Go service that refuses to start on a dirty schema reads the row at boot
GOLANG_CHECK = prepared('SELECT version, dirty FROM "schema_migrations" LIMIT 1')


def golang_migrate(ddl: str) -> str:
    """``migrate up``: its advisory lock, the version row rewritten (TRUNCATE, INSERT) as
    dirty, the script, the row rewritten clean, unlock."""
    mark = (
        ' BEGIN; TRUNCATE "schema_migrations";'
        ' INSERT INTO "schema_migrations" (version, dirty) VALUES (3, {dirty}); COMMIT;'
    )
    return (
        "SELECT pg_advisory_lock(1340006290);"
        + mark.format(dirty="true")
        + f" {ddl};"
        + mark.format(dirty="false")
        + " SELECT pg_advisory_unlock(1340006290)"
    )


def sqitch(ddl: str) -> str:
    """``sqitch deploy``: its registry schema made if missing; the change and its registry
    row in one transaction, with the registry schema first on the search_path."""
    return (
        "CREATE SCHEMA IF NOT EXISTS sqitch;"
        " CREATE TABLE IF NOT EXISTS sqitch.changes (change_id text PRIMARY KEY,"
        " change text NOT NULL, committed_at timestamptz NOT NULL DEFAULT clock_timestamp());"
        " BEGIN; SET search_path = sqitch, public; LOCK TABLE sqitch.changes IN EXCLUSIVE MODE;"
        f" {ddl}; INSERT INTO changes (change_id, change) VALUES ('a1', 'step'); COMMIT"
    )


# a view and a SQL function a Flyway repeatable script (R__) drops and recreates each time
LABELS = """
CREATE VIEW item_names AS SELECT id, name, sku FROM items;
CREATE FUNCTION item_label(i int) RETURNS text LANGUAGE sql STABLE
  AS 'SELECT name || sku FROM items WHERE id = i';
"""
READS_LABELS: list[str | Q] = [
    apg("SELECT * FROM item_names WHERE id = $1", 1),
    prepared("SELECT item_label(%s)", 1),
]

# ------------------------------------------------------------------------------ maintenance
EVENTS = """
CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE, name text, bio text);
CREATE UNIQUE INDEX users_lower_email ON users (lower(email));
CREATE TABLE events (id bigserial PRIMARY KEY, user_id int REFERENCES users, kind text,
  payload text);
CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY, v text);
INSERT INTO users VALUES (1, 'ann', 'Ann', 'x');
INSERT INTO events (user_id, kind, payload) VALUES (1, 'k', 'p');
INSERT INTO scratch VALUES (1, 'a');
CREATE MATERIALIZED VIEW kinds AS SELECT kind, count(*) AS n FROM events GROUP BY kind;
CREATE UNIQUE INDEX kinds_kind ON kinds (kind);
CREATE STATISTICS events_st ON user_id, kind FROM events;
"""
# held star reads, and writers: RETURNING *, COPY, an upsert on an expression arbiter
EVENTS_READERS: list[str | Q] = [
    apg("SELECT * FROM users WHERE id = $1", 1),
    prepared("SELECT * FROM events WHERE user_id = %s", 1),
    simple("SELECT kind, n FROM kinds"),
]
EVENTS_WRITERS: list[str | Q] = [
    extended(
        "INSERT INTO events (user_id, kind, payload) VALUES (%s, %s, %s) RETURNING *", 1, "a", "b"
    ),
    copy_in("COPY events (user_id, kind, payload) FROM STDIN", (1, "c", "d")),
    prepared(
        "INSERT INTO users (id, email, name) VALUES (%s, %s, 'n')"
        " ON CONFLICT (lower(email)) DO NOTHING",
        7,
        "Zed",
    ),
    extended("INSERT INTO scratch VALUES (%s, 'z') ON CONFLICT (id) DO NOTHING", 2),
]

# a serial key that a migration turns into an identity (the sequence behind it dropped)
SERIAL = """
CREATE TABLE tickets (id serial PRIMARY KEY, body text);
INSERT INTO tickets (id, body) VALUES (1, 'a'), (2, 'b');
SELECT setval('tickets_id_seq', 2);
"""
TO_IDENTITY = (
    "BEGIN; ALTER TABLE tickets ALTER COLUMN id DROP DEFAULT;"
    " ALTER TABLE tickets ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (START WITH 1000);"
    " DROP SEQUENCE tickets_id_seq; COMMIT"
)
TICKET_WRITERS: dict[str, list[str | Q]] = {
    V1: [
        extended("INSERT INTO tickets (id, body) VALUES (%s, %s) ON CONFLICT DO NOTHING", 50, "x")
    ],
    V2: [apg("SELECT id, body FROM tickets WHERE id = $1", 1)],
    V3: [prepared("INSERT INTO tickets (body) VALUES (%s) RETURNING id", "y")],
}

TENANTS = """
CREATE SCHEMA tenant_a; CREATE SCHEMA tenant_b;
CREATE TABLE tenant_a.orders (id int PRIMARY KEY, total int, note text);
CREATE TABLE tenant_b.orders (id int PRIMARY KEY, total int, note text);
INSERT INTO tenant_a.orders VALUES (1, 1, 'x');
INSERT INTO tenant_b.orders VALUES (2, 2, 'y');
"""
TENANT_A_NOTE: list[str | Q] = [
    simple("SET search_path TO tenant_a"),
    simple("SELECT id, note FROM orders"),
]
TENANT_B_TOTAL: list[str | Q] = [
    simple("SET search_path TO tenant_b"),
    simple("SELECT id, total FROM orders"),
]

SAFE: list[Case] = [
    Case(
        id="safe-r16-flyway-history-made-and-written-around-add-column",
        schema_sql=ITEMS,
        versions={V1: READS_LEGACY, V2: READS_NAME},
        migration_sql=FLYWAY_TABLE
        + FLYWAY_KEYS
        + flyway("ALTER TABLE items ADD COLUMN note text", rank=1),
        expect_safe_for_linter=True,
        note="the history table, its row and the advisory locks are the tool's, not a change",
    ),
    Case(
        id="safe-r16-flyway-history-written-while-an-app-validates-it",
        schema_sql=ITEMS + FLYWAY_TABLE + FLYWAY_KEYS + FLYWAY_V1,
        versions={V1: READS_LEGACY, V2: [FLYWAY_VALIDATE]},
        migration_sql=flyway("CREATE INDEX CONCURRENTLY items_name_idx ON items (name)")
        .replace(" BEGIN; SELECT pg_advisory_xact_lock(77431708279161);", "")
        .replace(" SET LOCAL lock_timeout = '10s';", " SET lock_timeout = '10s';")
        .replace(" COMMIT;", ""),
        expect_safe_for_linter=True,
        note="Flyway runs a concurrent index build outside a transaction; the history row"
        " it adds is data, and the app's validation query still runs",
    ),
    Case(
        id="safe-r16-flyway-search-path-drops-other-tenants-column",
        schema_sql=TENANTS,
        versions={V1: TENANT_A_NOTE, V2: TENANT_B_TOTAL},
        migration_sql="SELECT set_config('search_path', 'tenant_b', false);"
        " BEGIN; SET LOCAL lock_timeout = '10s'; ALTER TABLE orders DROP COLUMN note; COMMIT",
        note="Flyway's set_config puts tenant_b first: the bare name is tenant_b.orders,"
        " whose note nobody reads",
    ),
    Case(
        id="safe-r16-liquibase-lock-row-and-changelog-around-two-changesets",
        schema_sql=ITEMS + LIQUIBASE_TABLES,
        versions={V1: READS_LEGACY, V2: LIQUIBASE_STATUS},
        migration_sql=liquibase(
            "ALTER TABLE items ADD COLUMN note text",
            "CREATE INDEX items_sku_idx ON items (sku)",
        ),
        expect_safe_for_linter=True,
        note="the lock row's UPDATEs and the changelog rows are data the booting app reads",
    ),
    Case(
        id="safe-r16-django-recorder-table-and-add-column-with-dropped-default",
        schema_sql=ITEMS,
        versions={V1: READS_LEGACY, V2: READS_NAME},
        migration_sql=django(
            "SET CONSTRAINTS ALL IMMEDIATE",
            'ALTER TABLE "items" ADD COLUMN "qty" integer DEFAULT 0 NULL',
            'ALTER TABLE "items" ALTER COLUMN "qty" DROP DEFAULT',
            "SET CONSTRAINTS ALL DEFERRED",
        ),
        expect_safe_for_linter=True,
        note="a nullable column: the insert that leaves it out still works",
    ),
    Case(
        id="safe-r16-rails-advisory-lock-and-schema-migrations-around-index",
        schema_sql=ITEMS,
        versions={V1: READS_LEGACY, V2: READS_NAME},
        migration_sql=rails(
            'CREATE INDEX "index_items_on_sku" ON "items" ("sku")',
            'ALTER TABLE "items" ADD "note" character varying',
        ),
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-r16-alembic-version-updated-while-an-app-checks-it",
        schema_sql=ITEMS + ALEMBIC_TABLE,
        versions={V1: READS_LEGACY, V2: [ALEMBIC_CHECK]},
        migration_sql=alembic("ALTER TABLE items ADD COLUMN note VARCHAR(40)"),
        expect_safe_for_linter=True,
        note="the version row changes; the table the app reads at boot does not",
    ),
    Case(
        id="safe-r16-golang-migrate-truncates-its-version-table",
        schema_sql=ITEMS + GOLANG_TABLE,
        versions={V1: READS_LEGACY, V2: [GOLANG_CHECK]},
        migration_sql=golang_migrate("ALTER TABLE items ADD COLUMN note text"),
        expect_safe_for_linter=True,
        note="TRUNCATE of the tool's own table is data: the service's boot check still runs",
    ),
    Case(
        id="safe-r16-sqitch-registry-first-on-the-search-path",
        schema_sql=ITEMS,
        versions={V1: READS_LEGACY, V2: READS_NAME},
        migration_sql=sqitch("ALTER TABLE items ADD COLUMN note text"),
        expect_safe_for_linter=True,
        note="items resolves through public, second on Sqitch's path",
    ),
    Case(
        id="safe-r16-flyway-repeatable-recreates-view-and-function-alike",
        schema_sql=ITEMS + LABELS,
        versions={V1: READS_LABELS, V2: READS_NAME},
        migration_sql="BEGIN; DROP VIEW IF EXISTS item_names;"
        " CREATE VIEW item_names AS SELECT id, name, sku FROM items;"
        " DROP FUNCTION IF EXISTS item_label(int);"
        " CREATE FUNCTION item_label(i int) RETURNS text LANGUAGE sql STABLE"
        " AS 'SELECT name || sku FROM items WHERE id = $1'; COMMIT",
        note="dropped and made again alike (the body reworded) in one transaction: held"
        " statements re-plan",
    ),
    Case(
        id="safe-r16-set-local-search-path-ends-with-its-transaction",
        schema_sql=TENANTS,
        versions={V1: TENANT_A_NOTE, V2: TENANT_B_TOTAL},
        migration_sql="SET search_path TO tenant_b;"
        " BEGIN; SET LOCAL search_path TO tenant_a; ALTER TABLE orders ADD COLUMN extra int;"
        " COMMIT; ALTER TABLE orders DROP COLUMN note",
        note="after COMMIT the session's path is tenant_b again: tenant_b.orders loses note",
    ),
    Case(
        id="safe-r16-search-path-set-in-a-savepoint-rolled-back-to",
        schema_sql=TENANTS,
        versions={V1: TENANT_A_NOTE, V2: TENANT_B_TOTAL},
        migration_sql="SET search_path TO tenant_b; BEGIN; SAVEPOINT s;"
        " SET LOCAL search_path TO tenant_a; ROLLBACK TO SAVEPOINT s;"
        " ALTER TABLE orders DROP COLUMN note; COMMIT",
    ),
    Case(
        id="safe-r16-compression-logged-sequence-cache-and-column-options",
        schema_sql=EVENTS,
        versions={V1: EVENTS_READERS, V2: EVENTS_WRITERS},
        migration_sql="ALTER TABLE users ALTER COLUMN bio SET COMPRESSION pglz,"
        " ALTER COLUMN name SET STORAGE EXTERNAL, ALTER COLUMN email SET (n_distinct = -1);"
        " ALTER TABLE scratch SET LOGGED; ALTER SEQUENCE events_id_seq CACHE 20;"
        " ALTER TABLE events SET (toast.autovacuum_enabled = false,"
        " autovacuum_analyze_scale_factor = 0.02); ALTER TABLE events REPLICA IDENTITY FULL;"
        " ALTER TABLE users RESET (fillfactor); ALTER TABLE users ALTER COLUMN email"
        " SET STATISTICS -1",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-r16-statistics-objects-matview-upkeep-and-vacuum-full",
        schema_sql=EVENTS,
        versions={V1: EVENTS_READERS, V2: EVENTS_WRITERS},
        migration_sql="ALTER INDEX users_lower_email ALTER COLUMN 1 SET STATISTICS 400;"
        " ALTER STATISTICS events_st SET STATISTICS 800; DROP STATISTICS events_st;"
        " CREATE STATISTICS events_dep (dependencies) ON user_id, kind FROM events;"
        " REFRESH MATERIALIZED VIEW CONCURRENTLY kinds;"
        " ALTER MATERIALIZED VIEW kinds SET (fillfactor = 90); CLUSTER kinds USING kinds_kind;"
        " REINDEX INDEX CONCURRENTLY users_lower_email; VACUUM FULL events;"
        " ALTER TABLE events SET ACCESS METHOD heap; ANALYZE users (email, name)",
        expect_safe_for_linter=True,
        note="the expression arbiter of app@2's upsert is rebuilt, never missing",
    ),
    Case(
        id="safe-r16-owner-moved-away-from-the-superuser-versions-run-as",
        schema_sql=ITEMS + f"GRANT SELECT ON items TO {REPORTER};",
        versions={
            V1: [*READS_LEGACY, simple("UPDATE items SET name = 'c' WHERE id = 2")],
            V2: READS_NAME,
            V3: [extended("SELECT count(*) FROM items WHERE sku <> %s", "")],
        },
        users={V3: REPORTER},
        migration_sql=f"ALTER TABLE items OWNER TO {REPORTER}",
        note="the table leaves postgres, which app@1 and app@2 connect as: a superuser"
        " needs no privilege, and the new owner keeps reading",
    ),
    Case(
        id="safe-r16-serial-to-identity-by-default-drops-the-old-sequence",
        schema_sql=SERIAL,
        versions=TICKET_WRITERS,
        migration_sql=TO_IDENTITY,
        note="app@3's insert takes its id from the identity now; app@1 still sets its own",
    ),
]

BREAKING: list[Case] = [
    Case(
        id="break-r16-flyway-drop-column-recorded-in-history",
        schema_sql=ITEMS + FLYWAY_TABLE + FLYWAY_KEYS + FLYWAY_V1,
        versions={V1: READS_LEGACY, V2: READS_NAME, V3: [FLYWAY_VALIDATE]},
        migration_sql=flyway("ALTER TABLE items DROP COLUMN legacy"),
        breaks=frozenset({V1}),
        note="42703 for app@1; the history row written beside it breaks nothing",
    ),
    Case(
        id="break-r16-flyway-search-path-drops-this-tenants-column",
        schema_sql=TENANTS,
        versions={V1: TENANT_A_NOTE, V2: TENANT_B_TOTAL},
        migration_sql="SELECT set_config('search_path', 'tenant_a', false);"
        " BEGIN; SET LOCAL lock_timeout = '10s'; ALTER TABLE orders DROP COLUMN note; COMMIT",
        breaks=frozenset({V1}),
        note="the bare name is tenant_a.orders through Flyway's set_config",
    ),
    Case(
        id="break-r16-liquibase-rename-under-the-lock-row",
        schema_sql=ITEMS + LIQUIBASE_TABLES,
        versions={V1: READS_LEGACY, V2: LIQUIBASE_STATUS},
        migration_sql=liquibase(
            "CREATE INDEX items_sku_idx ON items (sku)",
            "ALTER TABLE items RENAME COLUMN legacy TO old_code",
        ),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r16-liquibase-search-path-renames-this-tenants-column",
        schema_sql=TENANTS,
        versions={V1: TENANT_A_NOTE, V2: TENANT_B_TOTAL},
        migration_sql='SET SEARCH_PATH TO tenant_a, "$user";'
        " BEGIN; ALTER TABLE orders RENAME COLUMN note TO remark; COMMIT",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r16-django-not-null-column-without-default-vs-insert",
        schema_sql=ITEMS,
        versions={V1: READS_LEGACY, V2: READS_NAME},
        migration_sql=django(
            'ALTER TABLE "items" ADD COLUMN "qty" integer DEFAULT 0 NOT NULL',
            'ALTER TABLE "items" ALTER COLUMN "qty" DROP DEFAULT',
        ),
        breaks=frozenset({V2}),
        note="23502: app@2's insert leaves qty NULL once Django drops the default",
    ),
    Case(
        id="break-r16-rails-remove-column-under-advisory-lock",
        schema_sql=ITEMS,
        versions={V1: READS_LEGACY, V2: READS_NAME},
        migration_sql=rails('ALTER TABLE "items" DROP COLUMN "legacy"'),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r16-alembic-drop-column-with-version-update",
        schema_sql=ITEMS + ALEMBIC_TABLE,
        versions={V1: READS_LEGACY, V2: [ALEMBIC_CHECK]},
        migration_sql=alembic("ALTER TABLE items DROP COLUMN legacy"),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r16-flyway-repeatable-recreates-view-without-a-column",
        schema_sql=ITEMS + LABELS,
        versions={V1: READS_LABELS, V2: READS_NAME},
        migration_sql="BEGIN; DROP VIEW IF EXISTS item_names;"
        " CREATE VIEW item_names AS SELECT id, name FROM items; COMMIT",
        breaks=frozenset({V1}),
        note="0A000 on the held SELECT *: its result type lost sku",
    ),
    Case(
        id="break-r16-set-local-search-path-ends-with-its-transaction",
        schema_sql=TENANTS,
        versions={V1: TENANT_A_NOTE, V2: TENANT_B_TOTAL},
        migration_sql="SET search_path TO tenant_a;"
        " BEGIN; SET LOCAL search_path TO tenant_b; ALTER TABLE orders ADD COLUMN extra int;"
        " COMMIT; ALTER TABLE orders DROP COLUMN note",
        breaks=frozenset({V1}),
        note="after COMMIT the path is tenant_a again: app@1's column goes",
    ),
    Case(
        id="break-r16-search-path-set-in-a-released-savepoint",
        schema_sql=TENANTS,
        versions={V1: TENANT_A_NOTE, V2: TENANT_B_TOTAL},
        migration_sql="SET search_path TO tenant_b; BEGIN; SAVEPOINT s;"
        " SET LOCAL search_path TO tenant_a; RELEASE SAVEPOINT s;"
        " ALTER TABLE orders DROP COLUMN note; COMMIT",
        breaks=frozenset({V1}),
        note="RELEASE keeps the savepoint's SET LOCAL until the transaction ends",
    ),
]

ROUND16_SAFE = SAFE
ROUND16_BREAKING = BREAKING
CASES = SAFE + BREAKING
