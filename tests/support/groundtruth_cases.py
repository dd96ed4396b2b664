"""The ground-truth cases: schema, per-version traffic, migration, and the designed outcome.

Roughly half are changes a text-only migration linter flags but that break no
running version; the rest break exactly the versions in ``breaks``. Every version
re-runs its statements after the migration (on the same connections and on fresh
ones), so the statements are written to be repeatable: no fixed primary keys in
plain inserts, upserts where a unique key is written.
"""

from __future__ import annotations

from datetime import datetime

from psycopg.types.json import Json

from tests.support.groundtruth import Case, Q, apg, copy_in, extended, prepared, simple

V1, V2, V3 = "app@1", "app@2", "app@3"

USERS = """
CREATE TABLE users (
  id serial PRIMARY KEY, email text NOT NULL, name varchar(50), legacy text,
  status text NOT NULL DEFAULT 'new'
);
INSERT INTO users (email, name, legacy) VALUES ('ann', 'Ann', 'x'), ('bob', 'Bob', 'y');
"""

ORDERS = (
    USERS
    + """
CREATE TABLE orders (id serial PRIMARY KEY, user_id int, total numeric(10, 2), qty int);
INSERT INTO orders (user_id, total, qty) VALUES (1, 10.5, 1), (2, 3, 2);
"""
)

EVENTS = """
CREATE TABLE events (id serial PRIMARY KEY, kind text);
CREATE TABLE events_archive (id int, kind text);
INSERT INTO events (kind) VALUES ('boot'), ('tick');
"""

MOODS = """
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE moods (id serial PRIMARY KEY, m mood NOT NULL);
INSERT INTO moods (m) VALUES ('happy');
"""

SCORE = (
    USERS
    + """
CREATE FUNCTION score(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a * 2';
CREATE FUNCTION old_score(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a';
"""
)

UNIQUE_EMAIL = """
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, name text,
                    CONSTRAINT users_email_key UNIQUE (email));
INSERT INTO users (email, name) VALUES ('ann', 'Ann');
"""

UPSERT_COLUMNS = extended(
    "INSERT INTO users (email, name) VALUES (%s, %s)"
    " ON CONFLICT (email) DO UPDATE SET name = excluded.name",
    "ann",
    "Ann",
)
UPSERT_CONSTRAINT = simple(
    "INSERT INTO users (email, name) VALUES ('bob', 'Bob')"
    " ON CONFLICT ON CONSTRAINT users_email_key DO NOTHING"
)


def _reader(*columns: str) -> list[str | Q]:
    cols = ", ".join(columns)
    return [
        simple(f"SELECT {cols} FROM users WHERE id = 1"),
        extended(f"SELECT {cols} FROM users WHERE id = %s", 2),
        apg(f"SELECT {cols} FROM users WHERE id = $1", 1),
    ]


SAFE: list[Case] = [
    Case(
        id="safe-drop-column-nobody-uses",
        schema_sql=USERS,
        versions={
            V1: _reader("id", "email", "name"),
            V2: [
                extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy"),
                prepared("UPDATE users SET name = %s WHERE id = %s", "Ann", 1),
            ],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        expect_safe_for_linter=True,
        note="held prepared statements that do not return the column survive the drop",
    ),
    Case(
        id="safe-drop-column-vs-simple-select-star",
        schema_sql=USERS,
        versions={
            V1: [simple("SELECT * FROM users"), extended("SELECT * FROM users WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        expect_safe_for_linter=True,
        note="SELECT * re-planned on every execution (simple or unnamed statement) is fine",
    ),
    Case(
        id="safe-rename-table-behind-view",
        schema_sql=USERS,
        versions={
            V1: _reader("id", "email"),
            V2: [
                extended("INSERT INTO users (email) VALUES (%s)", "cy"),
                simple("UPDATE users SET name = 'Ann' WHERE id = 1"),
            ],
        },
        migration_sql="""
BEGIN;
ALTER TABLE users RENAME TO accounts;
CREATE VIEW users AS SELECT * FROM accounts;
COMMIT;
""",
        expect_safe_for_linter=True,
        note="an auto-updatable view keeps the old name readable and writable, defaults included",
    ),
    Case(
        id="safe-add-column-not-null-with-default",
        schema_sql=USERS,
        versions={
            V1: [
                extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy"),
                prepared("INSERT INTO users (email) VALUES (%s)", "dee"),
            ],
            V2: [apg("INSERT INTO users (email) VALUES ($1) RETURNING id", "eve")],
        },
        migration_sql="ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-widen-varchar-unnamed-statements",
        schema_sql=USERS,
        versions={
            V1: [
                simple("SELECT name FROM users WHERE id = 1"),
                extended("SELECT id, name FROM users WHERE id = %s", 1),
            ],
            V2: [extended("UPDATE users SET name = %s WHERE id = %s", "Ann", 1)],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN name TYPE varchar(120)",
        expect_safe_for_linter=True,
        note="no held statement returns the column, so the new typmod is invisible",
    ),
    Case(
        id="safe-varchar-to-text-unnamed-statements",
        schema_sql=USERS,
        versions={
            V1: [
                simple("SELECT name FROM users"),
                extended("SELECT name FROM users WHERE id = %s", 2),
            ],
            V2: [
                extended("UPDATE users SET name = %s WHERE id = %s", "Bob", 2),
                prepared("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy"),
            ],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN name TYPE text",
        expect_safe_for_linter=True,
        note="a held INSERT has no result row, so its re-plan against text is invisible",
    ),
    Case(
        id="safe-set-not-null-every-writer-supplies",
        schema_sql=USERS,
        versions={
            V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy")],
            V2: [simple("INSERT INTO users (email, name) VALUES ('dee', 'Dee')")],
            V3: [simple("SELECT id, name FROM users")],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN name SET NOT NULL",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-check-not-valid-writers-comply",
        schema_sql=ORDERS,
        versions={
            V1: [
                extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 3),
                prepared("UPDATE orders SET qty = %s WHERE id = %s", 4, 1),
            ],
            V2: [simple("SELECT qty FROM orders")],
        },
        migration_sql="ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-drop-index-not-an-arbiter",
        schema_sql=USERS + "CREATE INDEX users_email_idx ON users (email);",
        versions={
            V1: [extended("SELECT id FROM users WHERE email = %s", "ann")],
            V2: [
                extended(
                    "INSERT INTO users (id, email) VALUES (%s, %s)"
                    " ON CONFLICT (id) DO UPDATE SET email = excluded.email",
                    1,
                    "ann",
                )
            ],
        },
        migration_sql="DROP INDEX users_email_idx",
        expect_safe_for_linter=True,
        note="the upsert's arbiter is the primary key, not the dropped index",
    ),
    Case(
        id="safe-create-index",
        schema_sql=USERS,
        versions={
            V1: _reader("id", "name"),
            V2: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy")],
        },
        migration_sql="CREATE INDEX users_name_idx ON users (name)",
        expect_safe_for_linter=True,
        note="linters flag it for locking (no CONCURRENTLY), not for compatibility",
    ),
    Case(
        id="safe-add-nullable-column-vs-select-star-unnamed",
        schema_sql=USERS,
        versions={
            V1: [simple("SELECT * FROM users"), extended("SELECT * FROM users WHERE id = %s", 1)],
            V2: [simple("SELECT u.* FROM users u WHERE u.id = 2")],
        },
        migration_sql="ALTER TABLE users ADD COLUMN nickname text",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-enum-add-value",
        schema_sql=MOODS,
        versions={
            V1: [
                simple("INSERT INTO moods (m) VALUES ('sad')"),
                extended("INSERT INTO moods (m) VALUES (%s)", "happy"),
            ],
            V2: [apg("SELECT id, m FROM moods WHERE m = $1", "happy")],
        },
        migration_sql="ALTER TYPE mood ADD VALUE 'meh'",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-function-overload-other-arity",
        schema_sql=SCORE,
        versions={
            V1: [simple("SELECT score(1)"), extended("SELECT score(%s)", 2)],
            V2: [apg("SELECT score($1)", 3)],
        },
        migration_sql=(
            "CREATE FUNCTION score(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE"
            " AS 'SELECT a * b'"
        ),
        note="no existing call can resolve to the two-argument overload",
    ),
    Case(
        id="safe-drop-default-on-nullable-column",
        schema_sql=USERS + "ALTER TABLE users ALTER COLUMN legacy SET DEFAULT 'n/a';",
        versions={V1: [extended("INSERT INTO users (email) VALUES (%s)", "cy")]},
        migration_sql="ALTER TABLE users ALTER COLUMN legacy DROP DEFAULT",
        note="omitted values become NULL instead of 'n/a': different, but no error",
    ),
    Case(
        id="safe-add-column-vs-positional-insert",
        schema_sql=EVENTS,
        versions={
            V1: [
                simple("INSERT INTO events VALUES (DEFAULT, 'boot')"),
                extended("INSERT INTO events VALUES (DEFAULT, %s)", "tick"),
            ],
        },
        migration_sql="ALTER TABLE events ADD COLUMN at timestamptz DEFAULT now()",
        expect_safe_for_linter=True,
        note="a positional INSERT may give fewer values than columns: the rest get defaults",
    ),
    Case(
        id="safe-add-column-to-insert-select-star-target",
        schema_sql=EVENTS,
        versions={V1: [simple("INSERT INTO events_archive SELECT * FROM events")]},
        migration_sql="ALTER TABLE events_archive ADD COLUMN archived_at timestamptz",
        expect_safe_for_linter=True,
        note="the target gaining a column only leaves it NULL",
    ),
    Case(
        id="safe-rename-column-nobody-uses",
        schema_sql=USERS,
        versions={
            V1: _reader("id", "email"),
            V2: [extended("UPDATE users SET name = %s WHERE id = %s", "Ann", 1)],
        },
        migration_sql="ALTER TABLE users RENAME COLUMN legacy TO legacy_note",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-drop-table-nobody-uses",
        schema_sql=USERS + "CREATE TABLE old_audit (id int, what text);",
        versions={V1: _reader("id", "email")},
        migration_sql="DROP TABLE old_audit",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-drop-view-nobody-uses",
        schema_sql=USERS + "CREATE VIEW named_users AS SELECT id, name FROM users;",
        versions={V1: _reader("id", "name")},
        migration_sql="DROP VIEW named_users",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-drop-function-nobody-calls",
        schema_sql=SCORE,
        versions={V1: [simple("SELECT score(1)"), apg("SELECT score($1)", 2)]},
        migration_sql="DROP FUNCTION old_score(int)",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-rename-arbiter-index-inferred-by-columns",
        schema_sql=UNIQUE_EMAIL,
        versions={V1: [UPSERT_COLUMNS]},
        migration_sql="ALTER INDEX users_email_key RENAME TO users_email_uniq",
        expect_safe_for_linter=True,
        note="ON CONFLICT (email) infers its arbiter by columns, whatever its name",
    ),
    Case(
        id="safe-replace-arbiter-index-in-one-transaction",
        schema_sql=UNIQUE_EMAIL,
        versions={V1: [UPSERT_COLUMNS]},
        migration_sql="""
BEGIN;
CREATE UNIQUE INDEX users_email_uniq ON users (email);
ALTER TABLE users DROP CONSTRAINT users_email_key;
COMMIT;
""",
        expect_safe_for_linter=True,
        note="net effect of the transaction: the upsert still has an arbiter",
    ),
    Case(
        id="safe-widen-int-vs-held-insert",
        schema_sql=ORDERS,
        versions={
            V1: [
                prepared("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 2),
                apg("INSERT INTO orders (user_id, qty) VALUES ($1, $2)", 2, 5),
            ],
        },
        migration_sql="ALTER TABLE orders ALTER COLUMN qty TYPE bigint",
        expect_safe_for_linter=True,
        note="named prepared statements without a result row re-plan silently",
    ),
    Case(
        id="safe-add-column-vs-held-explicit-columns",
        schema_sql=USERS,
        versions={
            V1: [
                prepared("SELECT id, email FROM users WHERE id = %s", 1),
                apg("INSERT INTO users (email) VALUES ($1) RETURNING id", "cy"),
            ],
        },
        migration_sql="ALTER TABLE users ADD COLUMN nickname text",
        expect_safe_for_linter=True,
    ),
    Case(
        id="safe-copy-with-column-list-add-column",
        schema_sql=EVENTS,
        versions={V1: [copy_in("COPY events (kind) FROM STDIN", ("boot",), ("tick",))]},
        migration_sql="ALTER TABLE events ADD COLUMN source text",
        note="COPY with a column list leaves the new column to its default",
    ),
    Case(
        id="safe-enable-rls-owner-connects",
        schema_sql=EVENTS,
        versions={
            V1: [extended("INSERT INTO events (kind) VALUES (%s)", "tick")],
            V2: [simple("SELECT kind FROM events")],
        },
        migration_sql="ALTER TABLE events ENABLE ROW LEVEL SECURITY",
        note="the table owner (and superusers) bypass row level security unless FORCEd",
    ),
    Case(
        id="safe-revoke-from-public-role-keeps-grant",
        schema_sql=USERS + "GRANT SELECT ON users TO PUBLIC; GRANT SELECT ON users TO gt_reporter;",
        versions={V1: _reader("id", "email")},
        users={V1: "gt_reporter"},
        migration_sql="REVOKE SELECT ON users FROM PUBLIC",
        note="the role keeps its own grant",
    ),
]

BREAKING: list[Case] = [
    Case(
        id="break-drop-column-read",
        schema_sql=USERS,
        versions={
            V1: [extended("SELECT email FROM users WHERE id = %s", 1)],
            V2: [simple("SELECT id, name FROM users")],
        },
        migration_sql="ALTER TABLE users DROP COLUMN email",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-column-two-apps",
        schema_sql=USERS,
        versions={
            V1: [simple("SELECT legacy FROM users WHERE id = 1")],
            "billing@3": [prepared("UPDATE users SET legacy = %s WHERE id = %s", "z", 2)],
            V2: _reader("id", "email"),
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        breaks=frozenset({V1, "billing@3"}),
    ),
    Case(
        id="break-rename-column-written",
        schema_sql=USERS,
        versions={
            V1: [simple("UPDATE users SET name = 'Ann' WHERE id = 1")],
            V2: _reader("id", "email"),
        },
        migration_sql="ALTER TABLE users RENAME COLUMN name TO full_name",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-table-read",
        schema_sql=USERS + "CREATE TABLE audit (id serial, what text);",
        versions={
            V1: [apg("SELECT id, what FROM audit WHERE id > $1", 0)],
            V2: _reader("id", "email"),
        },
        migration_sql="DROP TABLE audit",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-view-read",
        schema_sql=USERS + "CREATE VIEW named_users AS SELECT id, name FROM users;",
        versions={
            V1: [extended("SELECT name FROM named_users WHERE id = %s", 1)],
            V2: [simple("SELECT name FROM users")],
        },
        migration_sql="DROP VIEW named_users",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-set-not-null-omitted-by-inserter",
        schema_sql=USERS,
        versions={
            V1: [extended("INSERT INTO users (email) VALUES (%s)", "cy")],
            V2: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "dee", "Dee")],
        },
        migration_sql="""
UPDATE users SET name = '' WHERE name IS NULL;
ALTER TABLE users ALTER COLUMN name SET NOT NULL;
""",
        breaks=frozenset({V1}),
        note="backfill then SET NOT NULL: the migration succeeds, the omitting inserter fails",
    ),
    Case(
        id="break-add-column-not-null-no-default",
        schema_sql="CREATE TABLE jobs (id serial PRIMARY KEY, payload text);",
        versions={
            V1: [extended("INSERT INTO jobs (payload) VALUES (%s)", "send-mail")],
            "worker@1": [simple("DELETE FROM jobs RETURNING id, payload")],
        },
        migration_sql="ALTER TABLE jobs ADD COLUMN priority int NOT NULL",
        breaks=frozenset({V1}),
        note="the worker drains the queue, so the ADD succeeds on an empty table",
    ),
    Case(
        id="break-drop-default-not-null-omitted",
        schema_sql=USERS,
        versions={
            V1: [prepared("INSERT INTO users (email) VALUES (%s)", "cy")],
            V2: [extended("INSERT INTO users (email, status) VALUES (%s, %s)", "dee", "new")],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN status DROP DEFAULT",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-widen-varchar-vs-asyncpg-held-select",
        schema_sql=USERS,
        versions={
            V1: [apg("SELECT name FROM users WHERE id = $1", 1)],
            V2: [
                simple("SELECT name FROM users"),
                extended("SELECT name FROM users WHERE id = %s", 1),
            ],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN name TYPE varchar(120)",
        breaks=frozenset({V1}),
        note="cached plan must not change result type: the typmod is part of the row type",
    ),
    Case(
        id="break-int-to-bigint-vs-psycopg-held-select",
        schema_sql=ORDERS,
        versions={
            V1: [prepared("SELECT id, qty FROM orders WHERE id = %s", 1)],
            V2: [extended("SELECT qty FROM orders WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE orders ALTER COLUMN qty TYPE bigint",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-narrow-type-vs-long-writer",
        schema_sql=USERS,
        versions={
            V1: [simple("UPDATE users SET name = 'Annabelle-Marie' WHERE id = 1")],
            V2: [
                extended("UPDATE users SET email = %s WHERE id = %s", "bob", 2),
                simple("SELECT name FROM users"),
            ],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN name TYPE varchar(10) USING left(name, 10)",
        breaks=frozenset({V1}),
        note="the reader of the column is fine; only the writer of long values breaks",
    ),
    Case(
        id="break-drop-arbiter-constraint",
        schema_sql=UNIQUE_EMAIL,
        versions={V1: [UPSERT_COLUMNS], V2: [simple("SELECT email FROM users")]},
        migration_sql="ALTER TABLE users DROP CONSTRAINT users_email_key",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-arbiter-named-on-constraint",
        schema_sql=UNIQUE_EMAIL,
        versions={V1: [UPSERT_CONSTRAINT], V2: [UPSERT_COLUMNS]},
        migration_sql="ALTER TABLE users RENAME CONSTRAINT users_email_key TO users_email_uniq",
        breaks=frozenset({V1}),
        note="ON CONFLICT ON CONSTRAINT names the arbiter; ON CONFLICT (email) does not",
    ),
    Case(
        id="break-enum-rename-value-written",
        schema_sql=MOODS,
        versions={
            V1: [simple("INSERT INTO moods (m) VALUES ('sad')")],
            V2: [
                extended("INSERT INTO moods (m) VALUES (%s)", "happy"),
                simple("SELECT m FROM moods"),
            ],
        },
        migration_sql="ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy'",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-function-called",
        schema_sql=SCORE,
        versions={V1: [extended("SELECT old_score(%s)", 1)], V2: [simple("SELECT score(1)")]},
        migration_sql="DROP FUNCTION old_score(int)",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-overload-makes-call-ambiguous",
        schema_sql=USERS + "CREATE FUNCTION bump(a int, b int DEFAULT 1) RETURNS int"
        " LANGUAGE sql IMMUTABLE AS 'SELECT a + b';",
        versions={V1: [simple("SELECT bump(1)")], V2: [simple("SELECT bump(1, 2)")]},
        migration_sql=(
            "CREATE FUNCTION bump(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + 1'"
        ),
        breaks=frozenset({V1}),
        note="bump(1) now matches bump(int) and bump(int, int DEFAULT 1)",
    ),
    Case(
        id="break-drop-sequence-behind-default",
        schema_sql="""
CREATE SEQUENCE ticket_seq;
CREATE TABLE tickets (id int PRIMARY KEY DEFAULT nextval('ticket_seq'), title text);
""",
        versions={
            V1: [extended("INSERT INTO tickets (title) VALUES (%s)", "help")],
            V2: [simple("SELECT id, title FROM tickets")],
        },
        migration_sql="DROP SEQUENCE ticket_seq CASCADE",
        breaks=frozenset({V1}),
        note="CASCADE silently drops the column default; the insert then violates NOT NULL",
    ),
    Case(
        id="break-add-column-to-insert-select-star-source",
        schema_sql=EVENTS,
        versions={
            V1: [simple("INSERT INTO events_archive SELECT * FROM events")],
            V2: [simple("SELECT * FROM events")],
        },
        migration_sql="ALTER TABLE events ADD COLUMN source text",
        breaks=frozenset({V1}),
        note="INSERT has more expressions than target columns",
    ),
    Case(
        id="break-drop-column-vs-positional-insert",
        schema_sql=EVENTS + "ALTER TABLE events ADD COLUMN legacy text;",
        versions={
            V1: [simple("INSERT INTO events VALUES (DEFAULT, 'boot', 'x')")],
            V2: [extended("INSERT INTO events (kind) VALUES (%s)", "tick")],
        },
        migration_sql="ALTER TABLE events DROP COLUMN legacy",
        breaks=frozenset({V1}),
        note="nobody names the column, but a full positional VALUES list covers it",
    ),
    Case(
        id="break-add-column-vs-copy-without-columns",
        schema_sql=EVENTS,
        versions={
            V1: [copy_in("COPY events FROM STDIN", (100, "boot"), (101, "tick"))],
            V2: [copy_in("COPY events_archive (kind) FROM STDIN", ("boot",))],
        },
        migration_sql="ALTER TABLE events ADD COLUMN source text",
        breaks=frozenset({V1}),
        note="COPY without a column list expects every column: missing data for column",
    ),
    Case(
        id="break-add-column-makes-join-ambiguous",
        schema_sql=ORDERS,
        versions={
            V1: [simple("SELECT o.id, total FROM orders o JOIN users u ON u.id = o.user_id")],
            V2: [
                extended(
                    "SELECT u.email, o.total FROM orders o JOIN users u ON u.id = o.user_id"
                    " WHERE o.id = %s",
                    1,
                )
            ],
        },
        migration_sql="ALTER TABLE users ADD COLUMN total numeric",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-table-cascade-drops-view",
        schema_sql=ORDERS
        + "CREATE TABLE old_users (id int, email text);"
        + "CREATE VIEW old_emails AS SELECT email FROM old_users;",
        versions={
            V1: [simple("SELECT email FROM old_emails")],
            V2: [extended("SELECT total FROM orders WHERE id = %s", 1)],
        },
        migration_sql="DROP TABLE old_users CASCADE",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-table",
        schema_sql=ORDERS,
        versions={
            V1: [apg("SELECT id, email FROM users WHERE id = $1", 1)],
            V2: [simple("SELECT total FROM orders")],
        },
        migration_sql="ALTER TABLE users RENAME TO accounts",
        breaks=frozenset({V1}),
        note="even a held prepared statement is re-analysed from its text, by name",
    ),
    Case(
        id="break-rename-table-behind-narrower-view",
        schema_sql=USERS,
        versions={
            V1: [extended("SELECT name FROM users WHERE id = %s", 1)],
            V2: _reader("id", "email"),
        },
        migration_sql="""
BEGIN;
ALTER TABLE users RENAME TO accounts;
CREATE VIEW users AS SELECT id, email FROM accounts;
COMMIT;
""",
        breaks=frozenset({V1}),
        note="net effect of the transaction: the old name survives without the name column",
    ),
    Case(
        id="break-set-schema",
        schema_sql=ORDERS + "CREATE SCHEMA archive;",
        versions={
            V1: [extended("SELECT total FROM orders WHERE id = %s", 1)],
            V2: [simple("SELECT email FROM users")],
        },
        migration_sql="ALTER TABLE orders SET SCHEMA archive",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-schema",
        schema_sql=USERS
        + "CREATE SCHEMA reporting; CREATE TABLE reporting.daily (day date, n int);",
        versions={
            V1: [simple("SELECT day, n FROM reporting.daily")],
            V2: [simple("SELECT email FROM users")],
        },
        migration_sql="ALTER SCHEMA reporting RENAME TO reports",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-schema-cascade",
        schema_sql=USERS
        + "CREATE SCHEMA reporting; CREATE TABLE reporting.daily (day date, n int);",
        versions={
            V1: [extended("SELECT n FROM reporting.daily WHERE n > %s", 0)],
            V2: _reader("id", "email"),
        },
        migration_sql="DROP SCHEMA reporting CASCADE",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-revoke-select-from-role",
        schema_sql=USERS + "GRANT SELECT ON users TO gt_reader;",
        versions={
            V1: [
                simple("SELECT id, email FROM users"),
                apg("SELECT name FROM users WHERE id = $1", 1),
            ],
            V2: [simple("SELECT id, email FROM users")],
        },
        users={V1: "gt_reader"},
        migration_sql="REVOKE SELECT ON users FROM gt_reader",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-enable-rls-non-owner-writer",
        schema_sql=EVENTS
        + "GRANT SELECT, INSERT ON events TO gt_writer;"
        + "GRANT USAGE ON SEQUENCE events_id_seq TO gt_writer;",
        versions={
            V1: [extended("INSERT INTO events (kind) VALUES (%s)", "tick")],
            V2: [
                simple("SELECT kind FROM events"),
                simple("INSERT INTO events (kind) VALUES ('x')"),
            ],
        },
        users={V1: "gt_writer"},
        migration_sql="ALTER TABLE events ENABLE ROW LEVEL SECURITY",
        breaks=frozenset({V1}),
        note="no policy: the non-owner's insert violates row-level security; the owner is exempt",
    ),
    Case(
        id="break-drop-unused-column-vs-held-select-star",
        schema_sql=USERS,
        versions={
            V1: [prepared("SELECT * FROM users WHERE id = %s", 1)],
            V2: [simple("SELECT * FROM users"), extended("SELECT * FROM users WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        breaks=frozenset({V1}),
        note="nobody names the column, but a held SELECT * changes its result type",
    ),
    Case(
        id="break-add-column-vs-asyncpg-held-select-star",
        schema_sql=USERS,
        versions={
            V1: [apg("SELECT * FROM users WHERE id = $1", 1)],
            V2: [simple("SELECT * FROM users")],
        },
        migration_sql="ALTER TABLE users ADD COLUMN nickname text",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-check-violated-by-writer",
        schema_sql=ORDERS,
        versions={
            V1: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 0)],
            V2: [extended("INSERT INTO orders (user_id, total) VALUES (%s, %s)", 1, 5)],
        },
        migration_sql="ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID",
        breaks=frozenset({V1}),
        note="NOT VALID skips the rows already there, not the writer's next row;"
        " a NULL qty passes the check",
    ),
    Case(
        id="break-foreign-key-vs-orphan-writer",
        schema_sql=ORDERS,
        versions={
            V1: [prepared("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 999, 1)],
            V2: [
                extended("INSERT INTO orders (total, qty) VALUES (%s, %s)", 7, 1),
                simple("SELECT user_id FROM orders"),
            ],
        },
        migration_sql=(
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk"
            " FOREIGN KEY (user_id) REFERENCES users NOT VALID"
        ),
        breaks=frozenset({V1}),
    ),
]

# CASCADE closures (pg_depend, pg_inherits) and rewrite rules: a break and a harmless
# variant of each, so the engine neither misses the closure nor blocks on its edge.
CODES = """
CREATE FUNCTION next_code() RETURNS text LANGUAGE sql VOLATILE AS 'SELECT md5(random()::text)';
CREATE TABLE codes (id serial PRIMARY KEY, code text NOT NULL DEFAULT next_code(), note text);
CREATE TABLE tags (id serial PRIMARY KEY, tag text DEFAULT next_code(), note text);
INSERT INTO codes (note) VALUES ('a');
INSERT INTO tags (note) VALUES ('a');
"""

ITEMS = """
CREATE FUNCTION twice(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n * 2';
CREATE TABLE items (id serial PRIMARY KEY, n int, n2 int GENERATED ALWAYS AS (twice(n)) STORED);
INSERT INTO items (n) VALUES (1), (2);
"""

STOCK = """
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE dims AS (w int, h int);
CREATE TABLE stock (id serial PRIMARY KEY, qty posint, size dims, note text);
INSERT INTO stock (qty, size, note) VALUES (1, ROW(1, 2), 'a');
"""

MEASURES = """
CREATE TABLE measures (day int, v int) PARTITION BY RANGE (day);
CREATE TABLE measures_1 PARTITION OF measures FOR VALUES FROM (0) TO (100);
CREATE TABLE samples (day int, v int) PARTITION BY RANGE (day);
CREATE TABLE samples_1 PARTITION OF samples FOR VALUES FROM (0) TO (100);
INSERT INTO measures VALUES (1, 10);
INSERT INTO samples VALUES (1, 10);
"""

AUDIT = """
CREATE TABLE audit (id serial PRIMARY KEY, msg text);
INSERT INTO audit (msg) VALUES ('boot');
"""

CASCADE_SAFE: list[Case] = [
    Case(
        id="safe-drop-function-cascade-nullable-default",
        schema_sql=CODES,
        versions={
            V1: [extended("INSERT INTO tags (note) VALUES (%s)", "x")],
            V2: [simple("SELECT id, tag FROM tags")],
        },
        migration_sql="ALTER TABLE codes ALTER code DROP DEFAULT;"
        " ALTER TABLE codes ALTER code SET DEFAULT 'none';"
        " DROP FUNCTION next_code() CASCADE",
        note="the cascade only takes the default of a nullable column: inserts store NULL",
    ),
    Case(
        id="safe-drop-function-cascade-generated-unread",
        schema_sql=ITEMS,
        versions={
            V1: [simple("SELECT id, n FROM items")],
            V2: [extended("INSERT INTO items (n) VALUES (%s)", 3)],
        },
        migration_sql="DROP FUNCTION twice(int) CASCADE",
        note="the generated column goes, but no version names it",
    ),
    Case(
        id="safe-drop-type-cascade-unread-column",
        schema_sql=STOCK,
        versions={
            V1: [simple("SELECT id, note FROM stock")],
            V2: [extended("INSERT INTO stock (qty, note) VALUES (%s, %s)", 2, "b")],
        },
        migration_sql="DROP TYPE dims CASCADE",
        note="the column of the type goes; nobody reads or writes it",
    ),
    Case(
        id="safe-drop-partitioned-parent-unused",
        schema_sql=MEASURES,
        versions={
            V1: [simple("SELECT day, v FROM measures_1")],
            V2: [extended("INSERT INTO measures (day, v) VALUES (%s, %s)", 2, 3)],
        },
        migration_sql="DROP TABLE samples",
        note="its partitions go with it; the versions use another table",
    ),
    Case(
        id="safe-rule-on-event-nobody-runs",
        schema_sql=AUDIT,
        versions={
            V1: [simple("INSERT INTO audit (msg) VALUES ('x') RETURNING id")],
            V2: [simple("SELECT id, msg FROM audit")],
        },
        migration_sql="CREATE RULE audit_keep AS ON DELETE TO audit DO INSTEAD NOTHING",
        note="no version deletes from the table",
    ),
]

CASCADE_BREAKING: list[Case] = [
    Case(
        id="break-drop-function-cascade-not-null-default",
        schema_sql=CODES,
        versions={
            V1: [extended("INSERT INTO codes (note) VALUES (%s)", "x")],
            V2: [simple("SELECT id, code FROM codes")],
        },
        migration_sql="DROP FUNCTION next_code() CASCADE",
        breaks=frozenset({V1}),
        note="the cascade drops the default of NOT NULL codes.code: 23502 for V1",
    ),
    Case(
        id="break-drop-function-cascade-generated-read",
        schema_sql=ITEMS,
        versions={
            V1: [simple("SELECT id, n2 FROM items")],
            V2: [simple("SELECT id, n FROM items")],
        },
        migration_sql="DROP FUNCTION twice(int) CASCADE",
        breaks=frozenset({V1}),
        note="the generated column goes with the function it calls",
    ),
    Case(
        id="break-drop-domain-cascade-read-column",
        schema_sql=STOCK,
        versions={
            V1: [extended("SELECT id, qty FROM stock WHERE id = %s", 1)],
            V2: [simple("SELECT id, note FROM stock")],
        },
        migration_sql="DROP DOMAIN posint CASCADE",
        breaks=frozenset({V1}),
        note="DROP DOMAIN ... CASCADE drops the columns of that domain",
    ),
    Case(
        id="break-drop-partitioned-parent-partition-read",
        schema_sql=MEASURES,
        versions={
            V1: [simple("SELECT day, v FROM measures_1")],
            V2: [simple("SELECT day, v FROM samples")],
        },
        migration_sql="DROP TABLE measures",
        breaks=frozenset({V1}),
        note="dropping a partitioned table drops its partitions, no CASCADE needed",
    ),
    Case(
        id="break-rule-instead-nothing-on-written-table",
        schema_sql=AUDIT,
        versions={
            V1: [simple("INSERT INTO audit (msg) VALUES ('x') RETURNING id")],
            V2: [simple("SELECT id, msg FROM audit")],
        },
        migration_sql="CREATE RULE audit_mute AS ON INSERT TO audit DO INSTEAD NOTHING",
        breaks=frozenset({V1}),
        note="INSERT ... RETURNING on a table with a DO INSTEAD NOTHING rule fails (0A000)",
    ),
]

# ---------------------------------------------------------------------------- unmodelled reach
# (helper "scope") Statements the overlay cannot model are judged by what they can
# affect: a trigger on a table breaks at most that table's writers.

AUDITED = (
    USERS
    + """
CREATE TABLE audit (id serial PRIMARY KEY, what text);
"""
)

REJECT_INSERTS = """
CREATE FUNCTION reject_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'no more inserts'; END $$;
"""

DUAL_WRITE = """
CREATE FUNCTION users_full_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
    NEW.{column} := NEW.name;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER users_full_name BEFORE INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION users_full_name();
"""

DUAL_WRITTEN = (
    USERS + "ALTER TABLE users ADD COLUMN full_name text;\n" + DUAL_WRITE.format(column="full_name")
)
DROP_DUAL_WRITE = "DROP TRIGGER users_full_name ON users;\nDROP FUNCTION users_full_name();"

SCOPE_SAFE: list[Case] = [
    Case(
        id="safe-trigger-on-table-nobody-writes",
        schema_sql=AUDITED,
        versions={
            V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy")],
            V2: [simple("SELECT id, what FROM audit")],
        },
        migration_sql=REJECT_INSERTS + "CREATE TRIGGER audit_frozen BEFORE INSERT ON audit "
        "FOR EACH ROW EXECUTE FUNCTION reject_insert();",
        note="the trigger refuses inserts into audit, which V2 only reads",
    ),
    Case(
        id="safe-dual-write-trigger-on-written-table",
        schema_sql=USERS,
        versions={
            V1: [
                extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy"),
                prepared("UPDATE users SET name = %s WHERE id = %s", "Ann", 1),
            ],
            V2: _reader("id", "email", "name"),
        },
        migration_sql="BEGIN;\nALTER TABLE users ADD COLUMN full_name text;\n"
        + DUAL_WRITE.format(column="full_name")
        + "UPDATE users SET full_name = name;\nCOMMIT;",
        note="expand step of a column rename: the trigger only copies name into a new column",
    ),
    Case(
        id="safe-sequence-restart-of-table-nobody-writes",
        schema_sql=AUDITED,
        versions={
            V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy")],
            V2: [simple("SELECT id, what FROM audit")],
        },
        migration_sql="ALTER SEQUENCE audit_id_seq RESTART WITH 1 MAXVALUE 10;\n"
        "ALTER TABLE audit ADD COLUMN at text;",
        note="only inserts into audit use its sequence, and no version inserts there",
    ),
    Case(
        id="safe-contract-drops-the-dual-write-trigger",
        schema_sql=DUAL_WRITTEN,
        versions={
            V1: [
                extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy"),
                prepared("UPDATE users SET name = %s WHERE id = %s", "Ann", 1),
            ],
            V2: _reader("id", "email", "full_name"),
        },
        migration_sql=DROP_DUAL_WRITE,
        note="the trigger only filled a nullable, unchecked column: writers work without it",
    ),
]

SCOPE_BREAKING: list[Case] = [
    Case(
        id="break-trigger-on-written-table",
        schema_sql=AUDITED,
        versions={
            V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy")],
            V2: _reader("id", "email"),
        },
        migration_sql=REJECT_INSERTS + "CREATE TRIGGER users_frozen BEFORE INSERT ON users "
        "FOR EACH ROW EXECUTE FUNCTION reject_insert();",
        breaks=frozenset({V1}),
        note="the guard cannot read the trigger: it refuses for the writers of users only",
    ),
    Case(
        id="break-drop-trigger-that-fills-a-not-null-column",
        schema_sql=USERS
        + "ALTER TABLE users ADD COLUMN full_name text;\n"
        + DUAL_WRITE.format(column="full_name")
        + "UPDATE users SET full_name = name;\n"
        "ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;",
        versions={
            V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy")],
            V2: _reader("id", "email"),
        },
        migration_sql=DROP_DUAL_WRITE,
        breaks=frozenset({V1}),
        note="V1's inserts leave full_name to the trigger; without it they violate NOT NULL",
    ),
    Case(
        id="break-drop-column-a-trigger-function-reads",
        schema_sql=DUAL_WRITTEN,
        versions={
            V1: [extended("INSERT INTO users (email) VALUES (%s)", "cy")],
            V2: _reader("id", "email"),
        },
        migration_sql="ALTER TABLE users DROP COLUMN name;",
        breaks=frozenset({V1}),
        note="no version uses name, but the trigger does: V1's inserts fail in it (42703)",
    ),
    Case(
        id="break-dual-write-into-unique-column",
        schema_sql=USERS,
        versions={
            V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy")],
            V2: _reader("id", "email"),
        },
        migration_sql="BEGIN;\nALTER TABLE users ADD COLUMN handle text UNIQUE;\n"
        + DUAL_WRITE.format(column="handle")
        + "COMMIT;",
        breaks=frozenset({V1}),
        note="copying name into a UNIQUE column fails V1's second insert of the same name",
    ),
    Case(
        id="break-drop-column-next-to-a-harmless-unmodelled-trigger",
        schema_sql=AUDITED,
        versions={
            V1: [extended("SELECT email FROM users WHERE id = %s", 1)],
            V2: [simple("SELECT id, what FROM audit")],
        },
        migration_sql="BEGIN;\n"
        + REJECT_INSERTS
        + "CREATE TRIGGER audit_frozen BEFORE INSERT ON audit "
        "FOR EACH ROW EXECUTE FUNCTION reject_insert();\n"
        "ALTER TABLE users DROP COLUMN email;\nCOMMIT;",
        breaks=frozenset({V1}),
        note="the trigger reaches nobody; the rest of the transaction is still judged at COMMIT",
    ),
    Case(
        id="break-sequence-maxvalue-reached-by-inserter",
        schema_sql=USERS,
        versions={
            V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "cy", "Cy")],
            V2: _reader("id", "email"),
        },
        migration_sql="ALTER SEQUENCE users_id_seq MAXVALUE 3;\n"
        "ALTER TABLE users ADD COLUMN note text;",
        breaks=frozenset({V1}),
        note="the next id is past the new MAXVALUE: 2200H for the inserter",
    ),
    Case(
        id="break-function-search-path-called",
        schema_sql=USERS + "CREATE FUNCTION user_count() RETURNS bigint LANGUAGE sql STABLE "
        "AS 'SELECT count(*) FROM users';",
        versions={
            V1: [simple("SELECT user_count()")],
            V2: _reader("id", "email"),
        },
        migration_sql="ALTER FUNCTION user_count() SET search_path = pg_catalog;\n"
        "ALTER TABLE users ADD COLUMN note text;",
        breaks=frozenset({V1}),
        note="the body's unqualified users no longer resolves: 42P01 for the caller",
    ),
]

# Values: whether a version breaks depends on the values it writes, which PostgreSQL judges.
# Each break has a harmless look-alike, so the guard neither misses the value that fails
# nor names the version whose values pass.
NOTES = """
CREATE TABLE notes (id serial PRIMARY KEY, title varchar(100));
INSERT INTO notes (title) VALUES ('first'), ('second');
"""

CHECK_QTY = "ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID"

VALUES_SAFE: list[Case] = [
    Case(
        id="safe-check-writer-constants-pass-though-old-rows-fail",
        schema_sql=ORDERS + "INSERT INTO orders (user_id, qty) VALUES (1, 0);",
        versions={
            V1: [simple("INSERT INTO orders (user_id, qty) VALUES (1, 3)")],
            V2: [simple("UPDATE orders SET qty = 5 WHERE id = 1")],
            V3: [simple("SELECT qty FROM orders")],
        },
        migration_sql=CHECK_QTY,
        note="NOT VALID leaves the old row with qty = 0; every value the versions write passes",
    ),
    Case(
        id="safe-unique-every-insert-skips-duplicates",
        schema_sql=USERS,
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email, name) VALUES ('carl', 'Carl') ON CONFLICT DO NOTHING"
                )
            ],
            V2: [simple("SELECT email FROM users WHERE id = 1")],
        },
        migration_sql="CREATE UNIQUE INDEX users_email_uniq ON users (email)",
        note="'carl' is in the table when the index is made; the next insert of it is skipped",
    ),
    Case(
        id="safe-narrow-varchar-100-to-20-values-fit",
        schema_sql=NOTES,
        versions={
            V1: [simple("INSERT INTO notes (title) VALUES ('a short title')")],
            V2: [simple("UPDATE notes SET title = 'renamed' WHERE id = 1")],
        },
        migration_sql="ALTER TABLE notes ALTER COLUMN title TYPE varchar(20)",
    ),
    Case(
        id="safe-int-to-smallint-values-fit",
        schema_sql=ORDERS,
        versions={
            V1: [simple("INSERT INTO orders (user_id, qty) VALUES (1, 12)")],
            V2: [simple("UPDATE orders SET qty = -3 WHERE id = 2")],
        },
        migration_sql="ALTER TABLE orders ALTER COLUMN qty TYPE smallint",
    ),
    Case(
        id="safe-check-in-transaction-writer-constants-pass",
        schema_sql=ORDERS + "INSERT INTO orders (user_id, qty) VALUES (1, 0);",
        versions={
            V1: [simple("UPDATE orders SET qty = 4 WHERE id = 2")],
            V2: [simple("INSERT INTO orders (user_id, qty) VALUES (2, 1), (3, NULL)")],
        },
        migration_sql=f"BEGIN; {CHECK_QTY}; COMMIT",
        note="NULL passes a CHECK",
    ),
]

VALUES_BREAKING: list[Case] = [
    Case(
        id="break-check-rejects-one-versions-constant",
        schema_sql=ORDERS,
        versions={
            V1: [simple("INSERT INTO orders (user_id, qty) VALUES (1, 0)")],
            V2: [simple("INSERT INTO orders (user_id, qty) VALUES (2, 7)")],
            V3: [simple("SELECT qty FROM orders")],
        },
        migration_sql=CHECK_QTY,
        breaks=frozenset({V1}),
        note="V1's row makes the old rows violate the check, but only V1 writes a failing value",
    ),
    Case(
        id="break-unique-vs-plain-constant-insert",
        schema_sql=USERS,
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email, name) VALUES ('carl', 'Carl') ON CONFLICT DO NOTHING"
                )
            ],
            V2: [simple("INSERT INTO users (email, name) VALUES ('dave', 'Dave')")],
        },
        migration_sql="ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)",
        breaks=frozenset({V2}),
        note="V2's next 'dave' is a duplicate (23505); V1's is skipped",
    ),
    Case(
        id="break-unique-vs-upsert-on-another-key",
        schema_sql=USERS,
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email, name) VALUES ('fred', 'Fred')"
                    " ON CONFLICT (id) DO NOTHING"
                )
            ],
            V2: [
                simple(
                    "INSERT INTO users (email, name) VALUES ('gwen', 'Gwen') ON CONFLICT DO NOTHING"
                )
            ],
        },
        migration_sql="CREATE UNIQUE INDEX users_email_uniq ON users (email)",
        breaks=frozenset({V1}),
        note="ON CONFLICT (id) arbitrates only on id: a duplicate email still fails",
    ),
    Case(
        id="break-narrow-varchar-100-to-20-long-value",
        schema_sql=NOTES,
        versions={
            V1: [simple("INSERT INTO notes (title) VALUES ('a title longer than twenty')")],
            V2: [simple("INSERT INTO notes (title) VALUES ('short')")],
        },
        migration_sql="ALTER TABLE notes ALTER COLUMN title TYPE varchar(20) USING left(title, 20)",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-int-to-smallint-constant-and-parameter",
        schema_sql=ORDERS,
        versions={
            V1: [simple("INSERT INTO orders (user_id, qty) VALUES (1, 40000)")],
            V2: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 50000)],
            V3: [simple("INSERT INTO orders (user_id, qty) VALUES (2, 9)")],
        },
        migration_sql=("ALTER TABLE orders ALTER COLUMN qty TYPE smallint USING least(qty, 32767)"),
        breaks=frozenset({V1, V2}),
        note="a parameter's value is not learned: V2 is named as a writer of the column",
    ),
    Case(
        id="break-check-in-transaction-rejects-update-literal",
        schema_sql=ORDERS,
        versions={
            V1: [simple("UPDATE orders SET qty = 0 WHERE id = 2")],
            V2: [simple("INSERT INTO orders (user_id, qty) VALUES (2, 4)")],
        },
        migration_sql=f"BEGIN; {CHECK_QTY}; COMMIT",
        breaks=frozenset({V1}),
    ),
]

#: A BEFORE trigger function that refuses non-positive quantities (its body raises: the
#: overlay cannot tell for which rows, only replay can judge its trigger).
NO_ZERO_QTY = """
CREATE FUNCTION no_zero_qty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.qty <= 0 THEN RAISE EXCEPTION 'qty must be positive'; END IF;
  RETURN NEW;
END $$;
"""
#: A BEFORE trigger that fills users.legacy when a writer leaves it out or sends NULL.
FILL_LEGACY = """
CREATE FUNCTION fill_legacy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.legacy := coalesce(NEW.legacy, '-');
  RETURN NEW;
END $$;
CREATE TRIGGER fill_legacy BEFORE INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION fill_legacy();
"""

#: Breaks and look-alikes only values decide: what each version binds, PostgreSQL's
#: answer to it replayed inside the migration (#14).
REPLAY_SAFE: list[Case] = [
    Case(
        id="safe-check-every-bound-value-passes",
        schema_sql=ORDERS,
        versions={
            V1: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 5)],
            V2: [apg("INSERT INTO orders (user_id, qty) VALUES ($1, $2)", 2, 9)],
        },
        migration_sql=CHECK_QTY,
    ),
    Case(
        id="safe-narrow-varchar-bound-values-fit",
        schema_sql=NOTES,
        versions={
            V1: [extended("INSERT INTO notes (title) VALUES (%s)", "short")],
            V2: [apg("UPDATE notes SET title = $1 WHERE id = $2", "renamed", 1)],
        },
        migration_sql="ALTER TABLE notes ALTER COLUMN title TYPE varchar(20)",
        note="the rules cannot see bound values; replay runs them after the change",
    ),
    Case(
        id="safe-int-to-smallint-bound-values-fit",
        schema_sql=ORDERS,
        versions={
            V1: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 12)],
            V2: [extended("UPDATE orders SET qty = %s WHERE id = %s", -3, 2)],
        },
        migration_sql="ALTER TABLE orders ALTER COLUMN qty TYPE smallint",
    ),
    Case(
        id="safe-set-not-null-a-trigger-fills",
        schema_sql=USERS + FILL_LEGACY,
        versions={
            V1: [simple("INSERT INTO users (email, name) VALUES ('carl', 'Carl')")],
            V2: [extended("INSERT INTO users (email, legacy) VALUES (%s, %s)", "dora", None)],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN legacy SET NOT NULL",
        note="an insert that omits legacy or sends NULL gets '-' from the trigger",
    ),
    Case(
        id="safe-new-trigger-every-value-passes",
        schema_sql=ORDERS,
        versions={
            V1: [apg("INSERT INTO orders (user_id, qty) VALUES ($1, $2)", 1, 3)],
            V2: [simple("SELECT qty FROM orders")],
        },
        migration_sql=NO_ZERO_QTY + "CREATE TRIGGER no_zero_qty BEFORE INSERT ON orders "
        "FOR EACH ROW EXECUTE FUNCTION no_zero_qty()",
    ),
]

REPLAY_BREAKING: list[Case] = [
    Case(
        id="break-check-rejects-a-bound-value",
        schema_sql=ORDERS,
        versions={
            V1: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 0)],
            V2: [apg("INSERT INTO orders (user_id, qty) VALUES ($1, $2)", 2, 9)],
        },
        migration_sql=f"BEGIN; DELETE FROM orders WHERE qty <= 0; {CHECK_QTY}; COMMIT",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-unique-rejects-a-bound-duplicate",
        schema_sql=USERS,
        versions={
            V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "ann", "Ann 2")],
            V2: [
                extended(
                    "INSERT INTO users (email, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    "bob",
                    "Bob 2",
                )
            ],
        },
        migration_sql="BEGIN; DELETE FROM users WHERE id > 2; "
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email); COMMIT",
        breaks=frozenset({V1}),
        note="the migration removes the duplicates first; V1 then inserts 'ann' again",
    ),
    Case(
        id="break-new-trigger-raises-on-one-versions-values",
        schema_sql=ORDERS,
        versions={
            V1: [apg("INSERT INTO orders (user_id, qty) VALUES ($1, $2)", 1, 0)],
            V2: [apg("INSERT INTO orders (user_id, qty) VALUES ($1, $2)", 2, 4)],
        },
        migration_sql=NO_ZERO_QTY + "CREATE TRIGGER no_zero_qty BEFORE INSERT ON orders "
        "FOR EACH ROW EXECUTE FUNCTION no_zero_qty()",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-transient-default-then-explicit-null",
        schema_sql=USERS,
        versions={
            V1: [extended("INSERT INTO users (email, legacy) VALUES (%s, %s)", "eve", None)],
            V2: [extended("INSERT INTO users (email, legacy) VALUES (%s, %s)", "fay", "f")],
        },
        migration_sql="BEGIN; ALTER TABLE users ALTER COLUMN legacy SET DEFAULT ''; "
        "UPDATE users SET legacy = '' WHERE legacy IS NULL; "
        "ALTER TABLE users ALTER COLUMN legacy SET NOT NULL; "
        "ALTER TABLE users ALTER COLUMN legacy DROP DEFAULT; COMMIT",
        breaks=frozenset({V1}),
        note="Django's transient default: V1 binds NULL explicitly (23502)",
    ),
    Case(
        id="break-change-column-null-where-a-version-binds-nil",
        schema_sql=NOTES,
        versions={
            V1: [prepared("UPDATE notes SET title = %s WHERE id = %s", None, 2)],
            V2: [prepared("UPDATE notes SET title = %s WHERE id = %s", "second", 2)],
        },
        migration_sql="BEGIN; UPDATE notes SET title = 'untitled' WHERE title IS NULL; "
        "ALTER TABLE notes ALTER COLUMN title SET NOT NULL; COMMIT",
        breaks=frozenset({V1}),
        note="Rails change_column_null(:notes, :title, false, 'untitled')",
    ),
]

IDENTITY = "CREATE TABLE tickets (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text);"
SEQUENCE_GRANTS = (
    USERS + "GRANT SELECT, INSERT ON users TO gt_seq_writer;"
    " GRANT USAGE ON SEQUENCE users_id_seq TO gt_seq_writer;"
)

#: Found by probing: identity, sequence privileges, keys a unique index already enforced.
PROBED_SAFE: list[Case] = [
    Case(
        id="safe-identity-set-always-every-writer-omits-it",
        schema_sql=IDENTITY,
        versions={V1: [simple("INSERT INTO tickets (v) VALUES ('a')"), "SELECT id FROM tickets"]},
        migration_sql="ALTER TABLE tickets ALTER COLUMN id SET GENERATED ALWAYS",
        note="nobody supplies id: ALWAYS changes nothing for them",
    ),
    Case(
        id="safe-revoke-sequence-usage-role-keeps-update",
        schema_sql=SEQUENCE_GRANTS + " GRANT UPDATE ON SEQUENCE users_id_seq TO gt_seq_writer;",
        versions={V1: [simple("INSERT INTO users (email) VALUES ('seq')")]},
        migration_sql="REVOKE USAGE ON SEQUENCE users_id_seq FROM gt_seq_writer",
        users={V1: "gt_seq_writer"},
        note="nextval needs USAGE or UPDATE: the default still draws numbers",
    ),
    Case(
        id="safe-primary-key-using-an-existing-unique-index",
        schema_sql=IDENTITY.replace("GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "NOT NULL")
        + "CREATE UNIQUE INDEX tickets_id ON tickets (id); INSERT INTO tickets VALUES (1, 'a');",
        versions={
            V1: [simple("INSERT INTO tickets VALUES (1, 'b') ON CONFLICT (id) DO NOTHING")],
            V2: [extended("SELECT v FROM tickets WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE tickets ADD CONSTRAINT tickets_pkey PRIMARY KEY USING INDEX "
        "tickets_id",
        note="the index refused duplicates already; the key refuses nothing new",
    ),
    Case(
        id="safe-enum-type-renamed-under-label-writers",
        schema_sql=MOODS,
        versions={
            V1: [
                simple("INSERT INTO moods (m) VALUES ('happy')"),
                extended("SELECT id FROM moods WHERE m = %s", "sad"),
            ]
        },
        migration_sql="ALTER TYPE mood RENAME TO feeling",
        note="the column holds its type by oid: label literals still resolve",
    ),
    Case(
        id="safe-sequence-renamed-under-default-writers",
        schema_sql=USERS,
        versions={V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "e", "n")]},
        migration_sql="ALTER SEQUENCE users_id_seq RENAME TO users_id_seq2",
        note="the id default holds its sequence by oid",
    ),
    Case(
        id="safe-unique-vs-a-writer-that-deletes-what-it-inserts",
        schema_sql=USERS,
        versions={
            V1: [
                simple("INSERT INTO users (email) VALUES ('zed')"),
                simple("DELETE FROM users WHERE email = 'zed'"),
            ]
        },
        migration_sql="CREATE UNIQUE INDEX users_email_u ON users (email)",
        note="'zed' is gone when V1 inserts it again",
    ),
    Case(
        id="safe-int-narrowed-under-asyncpg-binds-that-fit",
        schema_sql=ORDERS,
        versions={
            V1: [
                apg("SELECT id FROM orders WHERE qty = $1", 3),
                apg("UPDATE orders SET qty = $1 WHERE id = $2", 4, 1),
            ]
        },
        migration_sql="ALTER TABLE orders ALTER COLUMN qty TYPE smallint",
        note="the prepared statements keep their int4 parameters; every value fits",
    ),
    Case(
        id="safe-new-table-in-a-schema-later-in-the-search-path",
        schema_sql=USERS + "CREATE SCHEMA app;",
        versions={V1: [simple("SET search_path = public, app"), simple("SELECT email FROM users")]},
        migration_sql="CREATE TABLE app.users (id int)",
        note="public comes first: the bare name still finds public.users",
    ),
]

PROBED_BREAKING: list[Case] = [
    Case(
        id="break-new-owner-takes-the-old-owners-privileges",
        schema_sql="CREATE TABLE t (id int, v text); ALTER TABLE t OWNER TO app_rw;",
        versions={V1: [simple("SELECT v FROM t")], V2: [simple("SELECT v FROM t")]},
        migration_sql="ALTER TABLE t OWNER TO postgres",
        breaks=frozenset({V1}),
        note="42501 for V1, which ran as the old owner; V2 runs as a superuser",
        users={V1: "app_rw"},
    ),
    Case(
        id="break-int-narrowed-in-a-block-under-an-asyncpg-bind-that-does-not-fit",
        schema_sql=ORDERS,
        versions={
            V1: [apg("INSERT INTO orders (user_id, total, qty) VALUES ($1, $2, $3)", 1, 1, 100000)],
            V2: [apg("INSERT INTO orders (user_id, total, qty) VALUES ($1, $2, $3)", 1, 1, 5)],
        },
        migration_sql="BEGIN; DELETE FROM orders WHERE qty > 30000;"
        " ALTER TABLE orders ALTER COLUMN qty TYPE smallint; COMMIT",
        breaks=frozenset({V1}),
        note="22003 for V1's 100000; V2's prepared statement keeps binding an int4 that fits",
    ),
    Case(
        id="break-check-vs-a-value-asyncpg-binds",
        schema_sql=ORDERS,
        versions={
            V1: [apg("INSERT INTO orders (user_id, total, qty) VALUES ($1, $2, $3)", 1, 1, -5)],
            V2: [apg("INSERT INTO orders (user_id, total, qty) VALUES ($1, $2, $3)", 1, 1, 5)],
        },
        migration_sql=CHECK_QTY,
        breaks=frozenset({V1}),
        note="23514 for V1's bound -5 (binary, prepared); V2's 5 passes",
    ),
    Case(
        id="break-check-vs-a-copy-writer",
        schema_sql=ORDERS,
        versions={
            V1: [copy_in("COPY orders (user_id, total, qty) FROM STDIN", (1, 1, -1))],
            V2: [simple("SELECT qty FROM orders")],
        },
        migration_sql=CHECK_QTY,
        breaks=frozenset({V1}),
        note="23514: COPY rows are checked too",
    ),
    Case(
        id="break-partial-unique-vs-a-duplicate-in-its-slice",
        schema_sql=USERS,
        versions={
            V1: [simple("INSERT INTO users (email, status) VALUES ('ann', 'new')")],
            V2: [simple("INSERT INTO users (email, status) VALUES ('ann', 'old')")],
        },
        migration_sql="BEGIN; DELETE FROM users WHERE id > 2; CREATE UNIQUE INDEX users_new_email"
        " ON users (email) WHERE status = 'new'; COMMIT",
        breaks=frozenset({V1}),
        note="23505 for V1's 'ann' with status new; V2's rows are outside the index",
    ),
    Case(
        id="break-new-table-shadows-a-bare-name-in-the-search-path",
        schema_sql=USERS,
        versions={
            V1: [simple("SET search_path = app, public"), simple("SELECT email FROM users")],
            V2: [simple("SELECT email FROM public.users")],
        },
        migration_sql="BEGIN; CREATE SCHEMA app; CREATE TABLE app.users (id int); COMMIT",
        breaks=frozenset({V1}),
        note="42703: V1's bare users now finds app.users; V2 names its schema",
    ),
    Case(
        id="break-enum-type-renamed-under-a-cast",
        schema_sql=MOODS,
        versions={
            V1: [simple("INSERT INTO moods (m) VALUES ('happy')")],
            V2: [simple("SELECT count(*) FROM moods WHERE m = 'sad'::mood")],
        },
        migration_sql="ALTER TYPE mood RENAME TO feeling",
        breaks=frozenset({V2}),
        note="42704: the cast names the type",
    ),
    Case(
        id="break-sequence-renamed-under-nextval-by-name",
        schema_sql=USERS,
        versions={
            V1: [extended("INSERT INTO users (email, name) VALUES (%s, %s)", "e", "n")],
            V2: [simple("SELECT nextval('users_id_seq')")],
        },
        migration_sql="ALTER SEQUENCE users_id_seq RENAME TO users_id_seq2",
        breaks=frozenset({V2}),
        note="42P01: the name in the text is looked up at every call",
    ),
    Case(
        id="break-foreign-key-not-valid-vs-an-orphan-writer",
        schema_sql=ORDERS,
        versions={
            V1: [
                extended("INSERT INTO orders (user_id, total, qty) VALUES (%s, %s, %s)", 999, 1, 1)
            ],
            V2: [simple("INSERT INTO orders (user_id, total, qty) VALUES (1, 1, 1)")],
        },
        migration_sql="ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id)"
        " REFERENCES users (id) NOT VALID",
        breaks=frozenset({V1}),
        note="23503 for V1's next row; V2 writes a user that exists (replay overturns SG114)",
    ),
    Case(
        id="break-identity-set-always-vs-explicit-writer",
        schema_sql=IDENTITY,
        versions={
            V1: [
                extended("INSERT INTO tickets (id, v) VALUES (%s, 'a') ON CONFLICT DO NOTHING", 100)
            ],
            V2: [simple("INSERT INTO tickets (v) VALUES ('b')")],
        },
        migration_sql="ALTER TABLE tickets ALTER COLUMN id SET GENERATED ALWAYS",
        breaks=frozenset({V1}),
        note="428C9: cannot insert a non-DEFAULT value into an identity column ALWAYS",
    ),
    Case(
        id="break-revoke-sequence-usage-from-default-inserter",
        schema_sql=SEQUENCE_GRANTS,
        versions={
            V1: [simple("INSERT INTO users (email) VALUES ('seq')")],
            V2: [simple("SELECT email FROM users WHERE id = 1")],
        },
        migration_sql="REVOKE USAGE ON SEQUENCE users_id_seq FROM gt_seq_writer",
        users={V1: "gt_seq_writer", V2: "gt_seq_writer"},
        breaks=frozenset({V1}),
        note="the serial default calls nextval: 42501 for the inserting role only",
    ),
    Case(
        id="break-name-taken-by-a-generated-column-vs-its-writer",
        schema_sql=USERS,
        versions={
            V1: [simple("SELECT name FROM users WHERE id = 1")],
            V2: [extended("UPDATE users SET name = %s WHERE id = %s", "z", 1)],
        },
        migration_sql="BEGIN; ALTER TABLE users RENAME COLUMN name TO full_name; "
        "ALTER TABLE users ADD COLUMN name varchar(50) GENERATED ALWAYS AS (full_name) STORED; "
        "COMMIT",
        breaks=frozenset({V2}),
        note="428C9 for the writer; the reader sees the same name",
    ),
    Case(
        id="break-function-redefined-without-a-default-a-version-leaves-out",
        schema_sql=USERS + "CREATE FUNCTION bonus(a int, b int DEFAULT 0) RETURNS int LANGUAGE sql"
        " AS 'SELECT a + b';",
        versions={
            V1: [simple("SELECT bonus(1)")],
            V2: [extended("SELECT bonus(%s, %s)", 1, 2)],
        },
        migration_sql="BEGIN; DROP FUNCTION bonus(int, int); CREATE FUNCTION bonus(a int, b int)"
        " RETURNS int LANGUAGE sql AS 'SELECT a + b'; COMMIT",
        breaks=frozenset({V1}),
        note="42883 for the call that relied on the default; the full call still resolves",
    ),
]


#: Round 7 of probing: partitions, generated and identity columns, foreign-key actions,
#: arbiters redefined under their names, procedures, functions, views, materialized views.
MEASURED = """
CREATE TABLE m (id int, at date, v text) PARTITION BY RANGE (at);
CREATE TABLE m_2026 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE m_2027 PARTITION OF m FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
INSERT INTO m VALUES (1, '2026-02-02', 'a'), (2, '2027-02-02', 'b');
"""
MEASURED_DEFAULT = MEASURED + "CREATE TABLE m_def PARTITION OF m DEFAULT;"
DOUBLED = (
    "CREATE TABLE p (id serial PRIMARY KEY, a int, b int GENERATED ALWAYS AS (a * 2) STORED);"
    " INSERT INTO p (a) VALUES (1);"
)
TICKETS = IDENTITY + "INSERT INTO tickets (v) VALUES ('a'), ('b'), ('c');"
CASCADED = (
    ORDERS + "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id)"
    " REFERENCES users (id) ON DELETE CASCADE;"
)
EMAIL_INDEXED = (
    "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, name text);"
    " CREATE UNIQUE INDEX users_email_u ON users (email);"
    " INSERT INTO users (email, name) VALUES ('ann', 'Ann');"
)
LIVE_EMAIL = (
    "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, name text);"
    " CREATE UNIQUE INDEX users_live_email ON users (email) WHERE name IS NOT NULL;"
    " INSERT INTO users (email, name) VALUES ('ann', 'Ann');"
)
QTY_CHECKED = ORDERS + "ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0);"
SCORE_ONLY = (
    USERS + "CREATE FUNCTION score(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a * 2';"
)
TOUCH = (
    USERS + "CREATE PROCEDURE touch(i int) LANGUAGE sql"
    " AS $$UPDATE users SET legacy = 't' WHERE id = i$$;"
)
TOTALS = (
    ORDERS + "CREATE MATERIALIZED VIEW totals AS SELECT user_id, sum(total) AS total,"
    " count(*) AS n FROM orders GROUP BY user_id;"
)

ROUND7_SAFE: list[Case] = [
    Case(
        id="safe-drop-partition-parent-readers-only",
        schema_sql=MEASURED,
        versions={
            V1: [
                simple("SELECT id, v FROM m WHERE at > '2020-01-01'"),
            ],
            V2: [
                extended("INSERT INTO m VALUES (%s, %s, %s)", 5, "2026-03-03", "z"),
            ],
        },
        migration_sql="DROP TABLE m_2027",
        note=("reads of the parent lose rows, not statements; the writer's row has a partition"),
    ),
    Case(
        id="safe-detach-partition-direct-writer",
        schema_sql=MEASURED,
        versions={
            V1: [
                simple("INSERT INTO m_2027 VALUES (6, '2027-06-06', 'd')"),
            ],
            V2: [
                simple("SELECT v FROM m"),
            ],
        },
        migration_sql="ALTER TABLE m DETACH PARTITION m_2027",
        note="the detached table takes rows directly, without its bound",
    ),
    Case(
        id="safe-drop-base-of-unread-generated-column",
        schema_sql=DOUBLED,
        versions={
            V1: [
                simple("SELECT id FROM p"),
            ],
            V2: [
                extended("INSERT INTO p DEFAULT VALUES"),
            ],
        },
        migration_sql="ALTER TABLE p DROP COLUMN a CASCADE",
        note="nobody reads a or the generated b",
    ),
    Case(
        id="safe-identity-set-increment",
        schema_sql=TICKETS,
        versions={
            V1: [
                simple("INSERT INTO tickets (v) VALUES ('n')"),
            ]
        },
        migration_sql="ALTER TABLE tickets ALTER COLUMN id SET INCREMENT BY 10",
        note="the next ids are new ones, just further apart",
    ),
    Case(
        id="safe-fk-no-action-to-cascade",
        schema_sql=ORDERS
        + (
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY "
            "(user_id) REFERENCES users (id);"
        ),
        versions={
            V1: [
                simple("INSERT INTO orders (user_id, qty) VALUES (1, 1)"),
                simple("DELETE FROM users WHERE email = 'nobody'"),
            ],
            V2: [
                simple("SELECT total FROM orders"),
            ],
        },
        migration_sql=(
            "BEGIN; ALTER TABLE orders DROP CONSTRAINT orders_user_fk; ALTER "
            "TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
            "REFERENCES users (id) ON DELETE CASCADE; COMMIT"
        ),
        note="a cascade refuses no delete",
    ),
    Case(
        id="safe-fk-redefined-without-cascade-vs-deleter-of-gone-rows",
        schema_sql=CASCADED,
        versions={
            V1: [
                simple("DELETE FROM users WHERE id = 1"),
            ],
            V2: [
                simple("SELECT total FROM orders"),
            ],
        },
        migration_sql=(
            "BEGIN; ALTER TABLE orders DROP CONSTRAINT orders_user_fk; ALTER "
            "TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
            "REFERENCES users (id); COMMIT"
        ),
        note=("the user V1 deletes is gone (its first run deleted it): nothing is refused"),
    ),
    Case(
        id="safe-upsert-expression-arbiter-replaced-in-one-transaction",
        schema_sql=USERS + "CREATE UNIQUE INDEX users_lower_email ON users (lower(email));",
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email) VALUES ('ANN') ON CONFLICT (lower(email)) DO NOTHING"
                ),
            ]
        },
        migration_sql=(
            "BEGIN; CREATE UNIQUE INDEX users_lower_email2 ON users "
            "(lower(email)); DROP INDEX users_lower_email; COMMIT"
        ),
        note="another unique index on lower(email) takes over",
    ),
    Case(
        id="safe-unique-index-rebuilt-under-its-name-on-the-same-keys",
        schema_sql=EMAIL_INDEXED,
        versions={V1: [UPSERT_COLUMNS]},
        migration_sql="BEGIN; DROP INDEX users_email_u; CREATE UNIQUE INDEX users_email_u"
        " ON users (email) WITH (fillfactor = 70); COMMIT",
        note="the same keys under the same name: still the arbiter",
    ),
    Case(
        id="safe-check-redefined-looser-under-its-name",
        schema_sql=QTY_CHECKED,
        versions={
            V1: [
                extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 5),
            ]
        },
        migration_sql=(
            "BEGIN; ALTER TABLE orders DROP CONSTRAINT qty_positive; ALTER TABLE "
            "orders ADD CONSTRAINT qty_positive CHECK (qty > -10); COMMIT"
        ),
        note="every value the old check took, the new one takes",
    ),
    Case(
        id="safe-replace-procedure-same-signature",
        schema_sql=TOUCH,
        versions={
            V1: [
                simple("CALL touch(1)"),
            ]
        },
        migration_sql=(
            "CREATE OR REPLACE PROCEDURE touch(i int) LANGUAGE sql AS $$UPDATE "
            "users SET legacy = 'u' WHERE id = i$$"
        ),
        note="same signature, plain statements: the CALL still resolves and runs",
    ),
    Case(
        id="safe-plpgsql-procedure-replaced-same-signature",
        schema_sql=USERS
        + (
            "CREATE PROCEDURE bump(i int) LANGUAGE plpgsql AS $$BEGIN UPDATE "
            "users SET legacy = 'b' WHERE id = i; END$$;"
        ),
        versions={
            V1: [
                simple("CALL bump(1)"),
            ],
            V2: [
                simple("SELECT legacy FROM users"),
            ],
        },
        migration_sql=(
            "CREATE OR REPLACE PROCEDURE bump(i int) LANGUAGE plpgsql AS $$BEGIN "
            "UPDATE users SET legacy = 'c' WHERE id = i; END$$"
        ),
        note="a PL/pgSQL body without DDL is read like a SQL one",
    ),
    Case(
        id="safe-function-param-int-to-bigint-vs-literal-call",
        schema_sql=SCORE_ONLY,
        versions={
            V1: [
                simple("SELECT score(2)"),
                extended("SELECT score(%s)", 3),
            ]
        },
        migration_sql=(
            "BEGIN; DROP FUNCTION score(int); CREATE FUNCTION score(a bigint) "
            "RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT (a * 2)::int'; COMMIT"
        ),
        note="an integer is cast to bigint implicitly",
    ),
    Case(
        id="safe-rename-table-behind-view-vs-upsert",
        schema_sql=UNIQUE_EMAIL,
        versions={
            V1: [
                UPSERT_COLUMNS,
            ],
            V2: [
                simple("SELECT email FROM users"),
            ],
        },
        migration_sql=(
            "BEGIN; ALTER TABLE users RENAME TO accounts; CREATE VIEW users AS "
            "SELECT * FROM accounts; COMMIT"
        ),
        note="an auto-updatable view takes ON CONFLICT on its table's unique index",
    ),
    Case(
        id="safe-add-column-changes-natural-join-silently",
        schema_sql=ORDERS + "ALTER TABLE users ADD COLUMN user_id int;",
        versions={
            V1: [
                simple("SELECT email FROM users NATURAL JOIN orders"),
            ]
        },
        migration_sql="ALTER TABLE orders ADD COLUMN email text",
        note="NATURAL JOIN merges the new email with users.email: no ambiguity",
    ),
    Case(
        id="safe-add-column-rebinds-correlated-name-silently",
        schema_sql=ORDERS,
        versions={
            V1: [
                simple(
                    "SELECT id FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE total "
                    "> 0 AND email = 'ann')"
                ),
            ]
        },
        migration_sql="ALTER TABLE orders ADD COLUMN email text",
        note="the inner email now binds to orders.email: other rows, no error",
    ),
    Case(
        id="safe-replace-matview-unique-index-concurrent-refresher",
        schema_sql=TOTALS + "CREATE UNIQUE INDEX totals_u ON totals (user_id);",
        versions={
            V1: [
                simple("REFRESH MATERIALIZED VIEW CONCURRENTLY totals"),
            ]
        },
        migration_sql=(
            "BEGIN; CREATE UNIQUE INDEX totals_u2 ON totals (user_id); DROP INDEX totals_u; COMMIT"
        ),
        note="the new unique index serves the concurrent refresh",
    ),
    Case(
        id="safe-drop-matview-unique-index-plain-refresher",
        schema_sql=TOTALS + "CREATE UNIQUE INDEX totals_u ON totals (user_id);",
        versions={
            V1: [
                simple("REFRESH MATERIALIZED VIEW totals"),
            ]
        },
        migration_sql="DROP INDEX totals_u",
        note="a plain refresh needs no index",
    ),
]

ROUND7_BREAKING: list[Case] = [
    Case(
        id="break-drop-partition-vs-writer-into-its-range",
        schema_sql=MEASURED,
        versions={
            V1: [
                simple("INSERT INTO m VALUES (3, '2027-05-05', 'x')"),
            ],
            V2: [
                simple("INSERT INTO m VALUES (4, '2026-05-05', 'y')"),
                simple("SELECT v FROM m"),
            ],
        },
        migration_sql="DROP TABLE m_2027",
        breaks=frozenset({V1}),
        note=("23514 for V1's 2027 row: no partition takes it; V2's 2026 row still has one"),
    ),
    Case(
        id="break-drop-default-partition-vs-writer-out-of-range",
        schema_sql=MEASURED_DEFAULT,
        versions={
            V1: [
                simple("INSERT INTO m VALUES (11, '2031-01-01', 'far')"),
            ],
            V2: [
                simple("INSERT INTO m VALUES (12, '2026-04-04', 'near')"),
            ],
        },
        migration_sql="DROP TABLE m_def",
        breaks=frozenset({V1}),
        note="23514: only the default partition took V1's far-off date",
    ),
    Case(
        id="break-drop-base-of-generated-column",
        schema_sql=DOUBLED,
        versions={
            V1: [
                simple("SELECT b FROM p"),
            ],
            V2: [
                simple("SELECT id FROM p"),
            ],
        },
        migration_sql="ALTER TABLE p DROP COLUMN a CASCADE",
        breaks=frozenset({V1}),
        note=("DROP COLUMN ... CASCADE takes the generated column computed from it: 42703"),
    ),
    Case(
        id="break-identity-restart-collides-with-existing-ids",
        schema_sql=TICKETS,
        versions={
            V1: [
                simple("INSERT INTO tickets (v) VALUES ('n')"),
            ],
            V2: [
                simple("SELECT v FROM tickets WHERE id = 1"),
            ],
        },
        migration_sql="ALTER TABLE tickets ALTER COLUMN id SET MAXVALUE 1000000 RESTART WITH 1",
        breaks=frozenset({V1}),
        note="23505: the identity hands out 1 again",
    ),
    Case(
        id="break-fk-cascade-to-no-action-vs-deleter",
        schema_sql=CASCADED,
        versions={
            V1: [
                simple(
                    "WITH u AS (INSERT INTO users (email) VALUES ('tmp') RETURNING id) "
                    "INSERT INTO orders (user_id) SELECT id FROM u"
                ),
                simple("DELETE FROM users WHERE email = 'tmp'"),
            ],
            V2: [
                simple("SELECT total FROM orders"),
            ],
        },
        migration_sql=(
            "BEGIN; ALTER TABLE orders DROP CONSTRAINT orders_user_fk; ALTER "
            "TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
            "REFERENCES users (id); COMMIT"
        ),
        breaks=frozenset({V1}),
        note=(
            "23503: V1 deletes a user its own order references, which the cascade used to remove"
        ),
    ),
    Case(
        id="break-fk-set-null-on-not-null-column-vs-deleter",
        schema_sql=ORDERS + "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;",
        versions={
            V1: [
                simple(
                    "WITH u AS (INSERT INTO users (email) VALUES ('tmp') RETURNING id) "
                    "INSERT INTO orders (user_id) SELECT id FROM u"
                ),
                simple("DELETE FROM users WHERE email = 'tmp'"),
            ],
            V2: [
                simple("SELECT total FROM orders"),
            ],
        },
        migration_sql=(
            "BEGIN; DELETE FROM orders WHERE user_id NOT IN (SELECT id FROM "
            "users); ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY "
            "(user_id) REFERENCES users (id) ON DELETE SET NULL; COMMIT"
        ),
        breaks=frozenset({V1}),
        note="23502: SET NULL on a NOT NULL column refuses V1's delete",
    ),
    Case(
        id="break-fk-added-vs-truncater-of-referenced-table",
        schema_sql=ORDERS,
        versions={
            V1: [
                simple("TRUNCATE users CASCADE"),
                simple("INSERT INTO users (email) VALUES ('t')"),
            ],
            V2: [
                simple("TRUNCATE users"),
            ],
            V3: [
                simple("SELECT total FROM orders"),
            ],
        },
        migration_sql=(
            "BEGIN; DELETE FROM orders; ALTER TABLE orders ADD CONSTRAINT "
            "orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id); COMMIT"
        ),
        breaks=frozenset({V2}),
        note=("0A000 for a plain TRUNCATE of a referenced table; V1 truncates with CASCADE"),
    ),
    Case(
        id="break-drop-expression-index-arbiter",
        schema_sql=USERS + "CREATE UNIQUE INDEX users_lower_email ON users (lower(email));",
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email) VALUES ('ANN') ON CONFLICT (lower(email)) DO NOTHING"
                ),
            ],
            V2: [
                simple("SELECT email FROM users"),
            ],
        },
        migration_sql="DROP INDEX users_lower_email",
        breaks=frozenset({V1}),
        note="42P10: ON CONFLICT (lower(email)) has no unique index to infer",
    ),
    Case(
        id="break-upsert-arbiter-redefined-deferrable",
        schema_sql=UNIQUE_EMAIL,
        versions={
            V1: [
                UPSERT_CONSTRAINT,
                UPSERT_COLUMNS,
            ],
            V2: [
                simple("INSERT INTO users (email) VALUES ('x') ON CONFLICT DO NOTHING"),
            ],
        },
        migration_sql=(
            "BEGIN; ALTER TABLE users DROP CONSTRAINT users_email_key; ALTER "
            "TABLE users ADD CONSTRAINT users_email_key UNIQUE (email) DEFERRABLE "
            "INITIALLY IMMEDIATE; COMMIT"
        ),
        breaks=frozenset({V1, V2}),
        note=("55000: a deferrable constraint is no arbiter, with or without a conflict target"),
    ),
    Case(
        id="break-unique-redefined-wider-under-its-name",
        schema_sql=UNIQUE_EMAIL,
        versions={
            V1: [
                UPSERT_COLUMNS,
            ],
            V2: [
                simple("SELECT email FROM users"),
            ],
        },
        migration_sql=(
            "BEGIN; ALTER TABLE users DROP CONSTRAINT users_email_key; ALTER "
            "TABLE users ADD CONSTRAINT users_email_key UNIQUE (email, name); "
            "COMMIT"
        ),
        breaks=frozenset({V1}),
        note="42P10: the constraint keeps its name, not its columns",
    ),
    Case(
        id="break-unique-index-redefined-wider-under-its-name",
        schema_sql=EMAIL_INDEXED,
        versions={
            V1: [
                UPSERT_COLUMNS,
            ],
            V2: [
                simple("SELECT email FROM users"),
            ],
        },
        migration_sql=(
            "BEGIN; DROP INDEX users_email_u; CREATE UNIQUE INDEX users_email_u "
            "ON users (email, name); COMMIT"
        ),
        breaks=frozenset({V1}),
        note="42P10: the index keeps its name, not its columns",
    ),
    Case(
        id="break-partial-arbiter-predicate-changed",
        schema_sql=LIVE_EMAIL,
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email, name) VALUES ('ann', 'A') ON CONFLICT "
                    "(email) WHERE name IS NOT NULL DO NOTHING"
                ),
            ],
            V2: [
                simple("SELECT email FROM users"),
            ],
        },
        migration_sql=(
            "BEGIN; DROP INDEX users_live_email; CREATE UNIQUE INDEX "
            "users_live_email ON users (email) WHERE name <> ''; COMMIT"
        ),
        breaks=frozenset({V1}),
        note="42P10: the new predicate is not implied by the statement's WHERE",
    ),
    Case(
        id="break-check-redefined-stricter-under-its-name",
        schema_sql=QTY_CHECKED,
        versions={
            V1: [
                extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 5),
            ],
            V2: [
                extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 50),
            ],
        },
        migration_sql=(
            "BEGIN; DELETE FROM orders WHERE qty <= 10; ALTER TABLE orders DROP "
            "CONSTRAINT qty_positive; ALTER TABLE orders ADD CONSTRAINT "
            "qty_positive CHECK (qty > 10); COMMIT"
        ),
        breaks=frozenset({V1}),
        note="23514 for V1's 5; V2's 50 passes the new check",
    ),
    Case(
        id="break-drop-procedure-called",
        schema_sql=TOUCH,
        versions={
            V1: [
                simple("CALL touch(1)"),
            ],
            V2: [
                simple("SELECT legacy FROM users"),
            ],
        },
        migration_sql="DROP PROCEDURE touch(int)",
        breaks=frozenset({V1}),
        note=(
            "42883 at the CALL; calling a procedure that runs plain statements is ordinary traffic"
        ),
    ),
    Case(
        id="break-function-renamed-procedure-untouched",
        schema_sql=SCORE_ONLY + "CREATE PROCEDURE touch(i int) LANGUAGE sql AS $$SELECT 1$$;",
        versions={
            V1: [
                extended("SELECT score(%s)", 1),
            ],
            V2: [
                simple("CALL touch(2)"),
            ],
        },
        migration_sql="ALTER FUNCTION score(int) RENAME TO points",
        breaks=frozenset({V1}),
        note="42883 for the function's caller; the procedure's caller is untouched",
    ),
    Case(
        id="break-column-dropped-under-a-procedure-a-version-calls",
        schema_sql=TOUCH,
        versions={
            V1: [
                simple("CALL touch(1)"),
            ],
            V2: [
                simple("SELECT email FROM users"),
            ],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        breaks=frozenset({V1}),
        note="42703 inside the procedure V1 calls",
    ),
    Case(
        id="break-function-return-type-changed-vs-asyncpg",
        schema_sql=SCORE_ONLY,
        versions={
            V1: [
                apg("SELECT score($1)", 2),
            ],
            V2: [
                simple("SELECT score(2)"),
            ],
        },
        migration_sql=(
            "BEGIN; DROP FUNCTION score(int); CREATE FUNCTION score(a int) "
            "RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT a * 2'; COMMIT"
        ),
        breaks=frozenset({V1}),
        note=("0A000 for V1's prepared statement; V2's simple call is planned anew on bigint"),
    ),
    Case(
        id="break-function-param-int-to-text-vs-literal-call",
        schema_sql=SCORE_ONLY,
        versions={
            V1: [
                simple("SELECT score(2)"),
            ],
            V2: [
                simple("SELECT email FROM users"),
            ],
        },
        migration_sql=(
            "BEGIN; DROP FUNCTION score(int); CREATE FUNCTION score(a text) "
            "RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT length(a)'; COMMIT"
        ),
        breaks=frozenset({V1}),
        note="42883: no implicit cast takes an integer to text",
    ),
    Case(
        id="break-rename-table-behind-view-vs-copy-writer",
        schema_sql=USERS,
        versions={
            V1: [
                copy_in("COPY users (email) FROM STDIN", ("c",)),
            ],
            V2: [
                simple("SELECT email FROM users"),
            ],
        },
        migration_sql=(
            "BEGIN; ALTER TABLE users RENAME TO accounts; CREATE VIEW users AS "
            "SELECT * FROM accounts; COMMIT"
        ),
        breaks=frozenset({V1}),
        note="42809: COPY FROM takes no view, with a column list or not",
    ),
    Case(
        id="break-rename-table-behind-view-vs-truncate",
        schema_sql=EVENTS,
        versions={
            V1: [
                simple("TRUNCATE events_archive"),
            ],
            V2: [
                simple("SELECT kind FROM events"),
            ],
        },
        migration_sql=(
            "BEGIN; ALTER TABLE events_archive RENAME TO events_old; CREATE VIEW "
            "events_archive AS SELECT * FROM events_old; COMMIT"
        ),
        breaks=frozenset({V1}),
        note="42809: TRUNCATE takes no view",
    ),
    Case(
        id="break-refresh-concurrently-loses-its-unique-index",
        schema_sql=TOTALS + "CREATE UNIQUE INDEX totals_u ON totals (user_id);",
        versions={
            V1: [
                simple("REFRESH MATERIALIZED VIEW CONCURRENTLY totals"),
            ],
            V2: [
                simple("SELECT total FROM totals"),
            ],
        },
        migration_sql="DROP INDEX totals_u",
        breaks=frozenset({V1}),
        note="55000: a concurrent refresh needs a unique index on plain columns",
    ),
    Case(
        id="break-drop-matview-vs-refresher",
        schema_sql=TOTALS,
        versions={
            V1: [
                simple("REFRESH MATERIALIZED VIEW totals"),
            ],
            V2: [
                simple("SELECT total FROM orders"),
            ],
        },
        migration_sql="DROP MATERIALIZED VIEW totals",
        breaks=frozenset({V1}),
        note="42P01 for REFRESH MATERIALIZED VIEW",
    ),
]


#: Round 8 of probing: rolling-deploy shapes of migration tools (Django, Rails, Prisma,
#: Alembic), three and four versions where only some break, type changes of JSON, array,
#: numeric, varchar and timestamp columns, domains and composite types named in casts,
#: column privileges, schemas and search paths, inheritance, quoted identifiers, CTEs,
#: window functions, LATERAL, MERGE, UPDATE ... FROM and DELETE ... USING.
V4 = "app@4"
DOCS = """
CREATE TABLE docs (id serial PRIMARY KEY, body json, note text, tags int[],
                   created_at timestamp DEFAULT now(), price numeric(10, 2));
INSERT INTO docs (body, note, tags, price) VALUES ('{"a": 1}', 'hello', '{1,2,3}', 12.5);
"""
BILLING = (
    """
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount int);
INSERT INTO billing.invoices (amount) VALUES (5);
"""
    + USERS
)
QUOTED = """
CREATE TABLE "UserAccounts" (id serial PRIMARY KEY, "displayName" text, name text, "Name" text);
INSERT INTO "UserAccounts" ("displayName", name, "Name") VALUES ('A', 'a', 'AA');
CREATE TABLE "Orders" (id serial PRIMARY KEY, total int);
CREATE TABLE orders (id serial PRIMARY KEY, total int);
INSERT INTO "Orders" (total) VALUES (1); INSERT INTO orders (total) VALUES (2);
"""
FAMILY = """
CREATE TABLE base (id int, note text);
CREATE TABLE child (extra int) INHERITS (base);
INSERT INTO child VALUES (1, 'c', 7);
"""
SERIALS = "CREATE TABLE tally (id int, n serial); INSERT INTO tally (id) VALUES (1);"
UNIQUE_EMAIL_IDX = USERS + "CREATE UNIQUE INDEX users_email_idx ON users (email);"
VIEWED = USERS + "CREATE VIEW users_v AS SELECT * FROM users;"
DOMAINED = USERS + "CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100);"
DOM = (
    USERS + "CREATE SCHEMA util; CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100);"
    " CREATE TYPE pair AS (a int, b text);"
)
UPD_GRANTS = USERS + "GRANT SELECT, UPDATE ON users TO gt_upd;"
OWNED = USERS + "ALTER TABLE users OWNER TO gt_own;"
#: A trigger refusing every DELETE of a row.
NO_DELETE = """
CREATE FUNCTION no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'no deletes'; END $$;
CREATE TRIGGER no_delete BEFORE DELETE ON users FOR EACH ROW EXECUTE FUNCTION no_delete();
"""

ROUND8_SAFE: list[Case] = [
    Case(
        id="safe-revoke-update-then-grant-column-update",
        schema_sql=UPD_GRANTS,
        versions={
            V1: [extended("UPDATE users SET name = %s WHERE id = %s", "A", 1)],
            V2: [simple("SELECT name FROM users WHERE id = 1")],
        },
        migration_sql=(
            "BEGIN; REVOKE UPDATE ON users FROM gt_upd; GRANT UPDATE (name) ON users TO gt_upd; "
            "COMMIT"
        ),
        users={V1: "gt_upd", V2: "gt_upd"},
    ),
    Case(
        id="safe-delete-trigger-vs-deleter-of-gone-rows",
        schema_sql=USERS,
        versions={
            V1: [simple("DELETE FROM users WHERE id = 2")],
            V2: [simple("SELECT email FROM users WHERE id = 1")],
        },
        migration_sql=NO_DELETE,
        note="V1's row is gone after its first run: no row, no row trigger",
    ),
    Case(
        id="safe-fk-vs-writer-that-deletes-unreferenced",
        schema_sql=ORDERS,
        versions={
            V1: [
                extended("INSERT INTO orders (user_id, total, qty) VALUES (%s, 1, 1)", 1),
                simple("DELETE FROM users WHERE email = 'gone'"),
            ],
            V2: [simple("SELECT id FROM users")],
        },
        migration_sql=(
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES "
            "users (id)"
        ),
        note=(
            "SG114: V1 writes the referencing column and deletes users, but never a referenced one"
        ),
    ),
    Case(
        id="safe-django-add-nullable-column-set-constraints",
        schema_sql=ORDERS,
        versions={
            V1: [simple("SELECT id, total FROM orders")],
            V2: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 2)],
        },
        migration_sql=(
            'BEGIN; ALTER TABLE "orders" ADD COLUMN "note" varchar(200) NULL; SET CONSTRAINTS ALL '
            "IMMEDIATE; SET CONSTRAINTS ALL DEFERRED; COMMIT"
        ),
    ),
    Case(
        id="safe-rails-add-column-default-then-change-default",
        schema_sql=USERS,
        versions={
            V1: [
                simple("INSERT INTO users (email) VALUES ('r')"),
                simple("SELECT email, status FROM users"),
            ],
            V2: [prepared("SELECT id, email FROM users WHERE id = %s", 1)],
        },
        migration_sql=(
            "ALTER TABLE users ADD COLUMN flag boolean DEFAULT false; ALTER TABLE users ALTER "
            "COLUMN flag SET DEFAULT true"
        ),
    ),
    Case(
        id="safe-create-index-concurrently-outside-transaction",
        schema_sql=ORDERS,
        versions={
            V1: [simple("SELECT total FROM orders WHERE user_id = 1")],
            V2: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 2)],
        },
        migration_sql=(
            'CREATE INDEX CONCURRENTLY "orders_user_id_idx" ON "orders" ("user_id"); ANALYZE orders'
        ),
    ),
    Case(
        id="safe-cluster-vacuum-analyze-with-index",
        schema_sql=USERS,
        versions={
            V1: [simple("SELECT email FROM users WHERE id = 1")],
            V2: [prepared("SELECT * FROM users WHERE id = %s", 1)],
        },
        migration_sql=(
            "CREATE INDEX users_email_i ON users (email); CLUSTER users USING users_email_i; "
            "VACUUM (ANALYZE) users; ANALYZE users"
        ),
    ),
    Case(
        id="safe-comment-fillfactor-unlogged-statistics",
        schema_sql=EVENTS,
        versions={
            V1: [simple("INSERT INTO events (kind) VALUES ('x')")],
            V2: [prepared("SELECT id, kind FROM events WHERE id = %s", 1)],
        },
        migration_sql=(
            "COMMENT ON COLUMN events.kind IS 'the kind'; ALTER TABLE events SET (fillfactor = "
            "70); ALTER TABLE events_archive SET UNLOGGED; ALTER TABLE events ALTER COLUMN kind "
            "SET STATISTICS 500; CREATE INDEX events_kind_i ON events (kind)"
        ),
    ),
    Case(
        id="safe-json-to-jsonb-vs-typed-json-parameter",
        schema_sql=DOCS,
        versions={
            V1: [extended("INSERT INTO docs (body) VALUES (%s)", Json({"a": 3}))],
            V2: [extended("SELECT id FROM docs WHERE body->>'a' = %s", "1")],
        },
        migration_sql="ALTER TABLE docs ALTER COLUMN body TYPE jsonb USING body::jsonb",
        note="json -> jsonb assignment of a json-typed parameter",
    ),
    Case(
        id="safe-numeric-widening-simple-and-writers",
        schema_sql=DOCS,
        versions={
            V1: [simple("SELECT price FROM docs")],
            V2: [extended("INSERT INTO docs (price) VALUES (%s)", 99.5)],
            V3: [prepared("UPDATE docs SET price = %s WHERE id = %s", 1.25, 1)],
        },
        migration_sql="ALTER TABLE docs ALTER COLUMN price TYPE numeric(12, 2)",
    ),
    Case(
        id="safe-enum-add-value-before",
        schema_sql=MOODS,
        versions={
            V1: [extended("INSERT INTO moods (m) VALUES (%s)", "sad")],
            V2: [prepared("SELECT m FROM moods WHERE id = %s", 1)],
        },
        migration_sql="ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' BEFORE 'sad'",
    ),
    Case(
        id="safe-table-moved-to-a-schema-on-the-search-path",
        schema_sql=BILLING,
        versions={
            V1: [
                simple("SET search_path = billing, public"),
                simple("SELECT amount FROM invoices"),
            ],
            V2: [simple("SET search_path = billing, public"), simple("SELECT email FROM users")],
        },
        migration_sql="ALTER TABLE billing.invoices SET SCHEMA public",
        note="V1 still finds invoices through public (on its search_path)",
    ),
    Case(
        id="safe-select-star-view-frozen-column-list",
        schema_sql=VIEWED,
        versions={
            V1: [prepared("SELECT * FROM users_v WHERE id = %s", 1)],
            V2: [apg("SELECT * FROM users_v WHERE id = $1", 2)],
        },
        migration_sql="ALTER TABLE users ADD COLUMN age int",
        note="the view's * was expanded when it was created",
    ),
    Case(
        id="safe-rename-column-under-view-reader",
        schema_sql=VIEWED,
        versions={
            V1: [simple("SELECT legacy FROM users_v")],
            V2: [simple("SELECT email FROM users")],
        },
        migration_sql="ALTER TABLE users RENAME COLUMN legacy TO old_legacy",
        note="the view keeps its column name",
    ),
    Case(
        id="safe-sequence-owned-by-none",
        schema_sql=SERIALS,
        versions={
            V1: [simple("SELECT nextval('tally_n_seq')")],
            V2: [simple("INSERT INTO tally (id) VALUES (2)")],
        },
        migration_sql=(
            "ALTER SEQUENCE tally_n_seq OWNED BY NONE; ALTER SEQUENCE tally_n_seq MAXVALUE 1000000"
        ),
    ),
    Case(
        id="safe-no-inherit-vs-parent-reader",
        schema_sql=FAMILY,
        versions={
            V1: [simple("SELECT id, note FROM base")],
            V2: [simple("SELECT extra FROM ONLY child")],
        },
        migration_sql=(
            "ALTER TABLE child NO INHERIT base; ALTER TABLE child ALTER COLUMN extra SET DEFAULT 0"
        ),
    ),
    Case(
        id="safe-change-default-not-null",
        schema_sql=USERS,
        versions={
            V1: [simple("INSERT INTO users (email) VALUES ('d')")],
            V2: [prepared("SELECT status FROM users WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN status SET DEFAULT 'active'",
    ),
    Case(
        id="safe-revoke-update-vs-inserter-and-deleter",
        schema_sql=USERS
        + (
            "GRANT SELECT, INSERT, UPDATE, DELETE ON users TO gt_upd; GRANT USAGE ON SEQUENCE "
            "users_id_seq TO gt_upd;"
        ),
        versions={
            V1: [extended("INSERT INTO users (email) VALUES (%s)", "i")],
            V2: [simple("DELETE FROM users WHERE email = 'nobody'")],
        },
        migration_sql="REVOKE UPDATE ON users FROM gt_upd",
        users={V1: "gt_upd", V2: "gt_upd"},
    ),
    Case(
        id="safe-rename-domain-of-a-column",
        schema_sql=DOM + "ALTER TABLE users ADD COLUMN nick short_text;",
        versions={
            V1: [extended("UPDATE users SET nick = %s WHERE id = %s", "n", 1)],
            V2: [simple("SELECT nick FROM users")],
        },
        migration_sql="ALTER DOMAIN short_text RENAME TO short_txt",
    ),
    Case(
        id="safe-add-column-volatile-default-vs-copy-with-list",
        schema_sql=EVENTS,
        versions={
            V1: [copy_in("COPY events (kind) FROM STDIN", ("c",))],
            V2: [simple("INSERT INTO events (kind) VALUES ('i')")],
        },
        migration_sql="ALTER TABLE events ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()",
    ),
    Case(
        id="safe-varchar-widening-vs-unnamed-and-simple",
        schema_sql=USERS,
        versions={
            V1: [extended("SELECT name FROM users WHERE id = %s", 1)],
            V2: [simple("SELECT name FROM users")],
            V3: [apg("UPDATE users SET name = $1 WHERE id = $2", "w", 1)],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN name TYPE varchar(200)",
        note="no held statement returns name; a held UPDATE's parameter is still varchar",
    ),
    Case(
        id="safe-timestamp-to-timestamptz-unnamed-readers-writers",
        schema_sql=DOCS,
        versions={
            V1: [extended("SELECT created_at FROM docs WHERE id = %s", 1)],
            V2: [simple("INSERT INTO docs (note, created_at) VALUES ('n', '2026-01-01 10:00')")],
            V3: [simple("SELECT id FROM docs WHERE created_at < now()")],
        },
        migration_sql="ALTER TABLE docs ALTER COLUMN created_at TYPE timestamptz",
    ),
    Case(
        id="safe-drop-plain-index-vs-upsert-on-primary-key",
        schema_sql=UNIQUE_EMAIL_IDX + "CREATE INDEX users_name_i ON users (name);",
        versions={
            V1: [
                simple(
                    "INSERT INTO users (id, email) VALUES (1, 'ann') ON CONFLICT (id) DO NOTHING"
                )
            ],
            V2: [simple("SELECT id FROM users WHERE name = 'Ann'")],
        },
        migration_sql="DROP INDEX CONCURRENTLY IF EXISTS users_name_i",
    ),
    Case(
        id="safe-rename-index-vs-upsert-by-columns",
        schema_sql=UNIQUE_EMAIL_IDX,
        versions={
            V1: [
                extended(
                    "INSERT INTO users (email, name) VALUES (%s, %s) ON CONFLICT (email) DO UPDATE "
                    "SET name = excluded.name",
                    "ann",
                    "A",
                )
            ],
        },
        migration_sql="ALTER INDEX users_email_idx RENAME TO users_email_key",
    ),
    Case(
        id="safe-set-schema-of-a-table-nobody-uses",
        schema_sql=USERS + "CREATE SCHEMA archive; CREATE TABLE old_logs (id int);",
        versions={
            V1: [simple("SELECT email FROM users")],
            V2: [simple("SET search_path = archive, public"), simple("SELECT email FROM users")],
        },
        migration_sql="ALTER TABLE old_logs SET SCHEMA archive",
    ),
    Case(
        id="safe-check-not-valid-vs-merge-writer-values-pass",
        schema_sql=ORDERS,
        versions={
            V1: [
                simple(
                    "MERGE INTO orders o USING (VALUES (1, 5)) s(u, q) ON o.user_id = s.u WHEN "
                    "MATCHED THEN UPDATE SET qty = s.q WHEN NOT MATCHED THEN INSERT (user_id, qty) "
                    "VALUES (s.u, s.q)"
                )
            ],
        },
        migration_sql="ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID",
    ),
    Case(
        id="safe-drop-column-vs-cte-select-star-simple",
        schema_sql=USERS,
        versions={
            V1: [simple("WITH u AS (SELECT * FROM users) SELECT count(*) FROM u")],
            V2: [extended("WITH u AS (SELECT * FROM users WHERE id = %s) SELECT * FROM u", 1)],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        note="re-planned at every execution: the star expands anew",
    ),
    Case(
        id="safe-int-to-bigint-vs-update-from-and-delete-using",
        schema_sql=ORDERS,
        versions={
            V1: [
                extended(
                    "UPDATE orders o SET qty = o.qty + %s FROM users u WHERE u.id = o.user_id AND "
                    "u.email = %s",
                    1,
                    "ann",
                )
            ],
            V2: [
                simple(
                    "DELETE FROM orders o USING users u WHERE o.user_id = u.id AND u.email = "
                    "'nobody'"
                )
            ],
        },
        migration_sql="ALTER TABLE orders ALTER COLUMN qty TYPE bigint",
    ),
    Case(
        id="safe-drop-view-nobody-reads",
        schema_sql=USERS
        + ("CREATE VIEW active_users AS SELECT id, email FROM users WHERE status <> 'gone';"),
        versions={
            V1: [simple("SELECT email FROM users")],
            V2: [prepared("SELECT id, email FROM users WHERE id = %s", 1)],
        },
        migration_sql="DROP VIEW active_users",
    ),
    Case(
        id="safe-drop-default-of-nullable-column-vs-inserter-omitting-it",
        schema_sql=USERS + "ALTER TABLE users ALTER COLUMN legacy SET DEFAULT 'l';",
        versions={
            V1: [simple("INSERT INTO users (email) VALUES ('d')")],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN legacy DROP DEFAULT",
    ),
    Case(
        id="safe-rename-column-nobody-names-vs-merge-and-returning",
        schema_sql=USERS,
        versions={
            V1: [
                simple(
                    "MERGE INTO users u USING (VALUES ('ann')) s(e) ON u.email = s.e WHEN MATCHED "
                    "THEN UPDATE SET name = 'A'"
                )
            ],
            V2: [simple("UPDATE users SET status = 'x' WHERE id = 2 RETURNING id, email")],
        },
        migration_sql="ALTER TABLE users RENAME COLUMN legacy TO legacy_old",
    ),
    Case(
        id="safe-unique-index-concurrently-vs-upsert-do-nothing",
        schema_sql=USERS,
        versions={
            V1: [simple("INSERT INTO users (id, email) VALUES (1, 'ann') ON CONFLICT DO NOTHING")],
            V2: [simple("SELECT email FROM users")],
        },
        migration_sql="CREATE UNIQUE INDEX CONCURRENTLY users_email_u ON users (email)",
    ),
    Case(
        id="safe-prisma-rename-constraint-vs-upsert-by-columns",
        schema_sql=USERS,
        versions={
            V1: [
                simple(
                    "INSERT INTO users (id, email) VALUES (1, 'ann') ON CONFLICT (id) DO UPDATE "
                    "SET "
                    "name = 'A'"
                )
            ],
            V2: [apg("SELECT email FROM users WHERE id = $1", 1)],
        },
        migration_sql='ALTER TABLE "users" RENAME CONSTRAINT "users_pkey" TO "users_pk"',
    ),
    Case(
        id="safe-retype-to-the-same-type",
        schema_sql=USERS,
        versions={
            V1: [prepared("SELECT name FROM users WHERE id = %s", 1)],
            V2: [apg("UPDATE users SET name = $1 WHERE id = $2", "n", 1)],
        },
        migration_sql=(
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(50); CREATE INDEX users_name_i ON "
            "users (name)"
        ),
    ),
    Case(
        id="safe-replica-identity-and-disable-trigger",
        schema_sql=ORDERS,
        versions={
            V1: [simple("INSERT INTO orders (user_id, qty) VALUES (1, 1)")],
            V2: [prepared("SELECT * FROM orders WHERE id = %s", 1)],
        },
        migration_sql=(
            "ALTER TABLE orders REPLICA IDENTITY FULL; ALTER TABLE orders DISABLE TRIGGER ALL; "
            "CREATE INDEX orders_qty_i ON orders (qty)"
        ),
    ),
    Case(
        id="safe-domain-drop-constraint",
        schema_sql=DOM + "ALTER TABLE users ADD COLUMN nick short_text;",
        versions={
            V1: [extended("UPDATE users SET nick = %s WHERE id = %s", "n", 1)],
            V2: [simple("SELECT email::short_text FROM users")],
        },
        migration_sql="ALTER DOMAIN short_text DROP CONSTRAINT short_text_check",
    ),
    Case(
        id="safe-drop-not-null-vs-prepared-readers",
        schema_sql=USERS,
        versions={
            V1: [prepared("SELECT email FROM users WHERE id = %s", 1)],
            V2: [apg("SELECT * FROM users WHERE id = $1", 1)],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
    ),
    Case(
        id="safe-flyway-replace-function-body",
        schema_sql=SCORE,
        versions={
            V1: [simple("SELECT score(2)")],
            V2: [prepared("SELECT score(%s)", 3)],
        },
        migration_sql=(
            "CREATE OR REPLACE FUNCTION score(a int) RETURNS int LANGUAGE sql IMMUTABLE AS "
            "'SELECT a * 3'"
        ),
    ),
    Case(
        id="safe-rails-add-reference-nobody-writes",
        schema_sql=ORDERS
        + ("CREATE TABLE shops (id serial PRIMARY KEY); INSERT INTO shops DEFAULT VALUES;"),
        versions={
            V1: [simple("SELECT id FROM orders")],
            V2: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 1)],
        },
        migration_sql=(
            "ALTER TABLE orders ADD COLUMN shop_id bigint; CREATE INDEX CONCURRENTLY "
            "index_orders_on_shop_id ON orders (shop_id); ALTER TABLE orders ADD CONSTRAINT "
            "fk_rails_shop FOREIGN KEY (shop_id) REFERENCES shops (id) NOT VALID; ALTER TABLE "
            "orders VALIDATE CONSTRAINT fk_rails_shop"
        ),
        note="new column: nobody writes it; NULL references nothing",
    ),
    Case(
        id="safe-create-policy-permissive-for-non-owner",
        schema_sql=USERS
        + (
            "GRANT SELECT ON users TO gt_pol; ALTER TABLE users ENABLE ROW LEVEL SECURITY; CREATE "
            "POLICY everyone ON users USING (true);"
        ),
        versions={
            V1: [simple("SELECT email FROM users")],
        },
        migration_sql="CREATE POLICY only_new ON users USING (status = 'new')",
        users={V1: "gt_pol"},
    ),
    Case(
        id="safe-alter-default-privileges-and-grant",
        schema_sql=USERS,
        versions={
            V1: [simple("SELECT email FROM users")],
        },
        migration_sql=(
            "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC; GRANT SELECT ON users TO "
            "PUBLIC"
        ),
    ),
]

ROUND8_BREAKING: list[Case] = [
    Case(
        id="break-rename-domain-in-a-cast",
        schema_sql=DOMAINED,
        versions={
            V1: [simple("SELECT email::short_text FROM users WHERE id = 1")],
            V2: [simple("SELECT email FROM users WHERE id = 1")],
        },
        migration_sql="ALTER DOMAIN short_text RENAME TO short_txt",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-domain-in-a-cast-extended",
        schema_sql=DOMAINED,
        versions={
            V1: [extended("SELECT CAST(%s AS short_text)", "x")],
            V2: [extended("SELECT %s::text", "x")],
        },
        migration_sql="ALTER DOMAIN short_text RENAME TO short_txt",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-revoke-update-then-grant-other-column-update",
        schema_sql=UPD_GRANTS,
        versions={
            V1: [extended("UPDATE users SET name = %s WHERE id = %s", "A", 1)],
            V2: [extended("UPDATE users SET legacy = %s WHERE id = %s", "l", 1)],
        },
        migration_sql=(
            "BEGIN; REVOKE UPDATE ON users FROM gt_upd; GRANT UPDATE (name) ON users TO gt_upd; "
            "COMMIT"
        ),
        users={V1: "gt_upd", V2: "gt_upd"},
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-delete-trigger-vs-insert-then-delete",
        schema_sql=USERS,
        versions={
            V1: [
                simple("INSERT INTO users (email) VALUES ('tmp')"),
                simple("DELETE FROM users WHERE email = 'tmp'"),
            ],
            V2: [simple("SELECT email FROM users WHERE id = 1")],
        },
        migration_sql=NO_DELETE,
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-fk-vs-writer-that-deletes-referenced",
        schema_sql=ORDERS,
        versions={
            V1: [
                simple("INSERT INTO users (email) VALUES ('tmp')"),
                simple(
                    "INSERT INTO orders (user_id, total, qty) SELECT id, 1, 1 FROM users WHERE "
                    "email "
                    "= 'tmp'"
                ),
                simple("DELETE FROM users WHERE email = 'tmp'"),
            ],
            V2: [simple("SELECT id FROM users")],
        },
        migration_sql=(
            "BEGIN; DELETE FROM orders WHERE user_id NOT IN (SELECT id FROM users); ALTER TABLE "
            "orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id); "
            "COMMIT"
        ),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-django-alter-type-using-vs-prepared-reader-only",
        schema_sql=ORDERS,
        versions={
            V1: [simple("SELECT qty FROM orders WHERE id = 1")],
            V2: [prepared("SELECT qty FROM orders WHERE id = %s", 1)],
            V3: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 2)],
        },
        migration_sql=(
            'BEGIN; SET CONSTRAINTS ALL IMMEDIATE; ALTER TABLE "orders" ALTER COLUMN "qty" TYPE '
            'bigint USING "qty"::bigint; SET CONSTRAINTS ALL DEFERRED; COMMIT'
        ),
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-rails-add-column-default-then-change-default-vs-copy",
        schema_sql=EVENTS,
        versions={
            V1: [copy_in("COPY events_archive FROM STDIN", (1, "a"))],
            V2: [copy_in("COPY events_archive (id, kind) FROM STDIN", (2, "b"))],
            V3: [simple("SELECT id, kind FROM events_archive")],
        },
        migration_sql=(
            "ALTER TABLE events_archive ADD COLUMN flag boolean DEFAULT false; ALTER TABLE "
            "events_archive ALTER COLUMN flag SET DEFAULT true"
        ),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-prisma-rename-constraint-vs-on-conflict-on-constraint",
        schema_sql=USERS,
        versions={
            V1: [
                simple(
                    "INSERT INTO users (id, email) VALUES (1, 'ann') ON CONFLICT ON CONSTRAINT "
                    "users_pkey DO NOTHING"
                )
            ],
            V2: [
                simple(
                    "INSERT INTO users (id, email) VALUES (1, 'ann') ON CONFLICT (id) DO NOTHING"
                )
            ],
            V3: [simple("SELECT email FROM users")],
        },
        migration_sql='ALTER TABLE "users" RENAME CONSTRAINT "users_pkey" TO "users_pk"',
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-index-concurrently-arbiter",
        schema_sql=UNIQUE_EMAIL_IDX,
        versions={
            V1: [
                extended(
                    "INSERT INTO users (email, name) VALUES (%s, %s) ON CONFLICT (email) DO UPDATE "
                    "SET name = excluded.name",
                    "ann",
                    "A",
                )
            ],
            V2: [simple("SELECT email FROM users")],
            V3: [simple("INSERT INTO users (email) VALUES ('x') ON CONFLICT DO NOTHING")],
        },
        migration_sql="DROP INDEX CONCURRENTLY users_email_idx",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-varchar-widening-vs-prepared-reader",
        schema_sql=USERS,
        versions={
            V1: [prepared("SELECT name FROM users WHERE id = %s", 1)],
            V2: [simple("SELECT name FROM users WHERE id = 1")],
            V3: [prepared("UPDATE users SET name = %s WHERE id = %s", "n", 1)],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN name TYPE varchar(100)",
        breaks=frozenset({V1}),
        note="typmod is part of the result type",
    ),
    Case(
        id="break-varchar-narrowing-vs-long-writer",
        schema_sql=USERS,
        versions={
            V1: [extended("UPDATE users SET name = %s WHERE id = %s", "a much longer name", 1)],
            V2: [extended("UPDATE users SET name = %s WHERE id = %s", "short", 2)],
        },
        migration_sql=(
            "BEGIN; UPDATE users SET name = left(name, 10); ALTER TABLE users ALTER COLUMN name "
            "TYPE varchar(10); COMMIT"
        ),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-varchar-to-text-vs-asyncpg-reader",
        schema_sql=USERS,
        versions={
            V1: [apg("SELECT name FROM users WHERE id = $1", 1)],
            V2: [extended("SELECT name FROM users WHERE id = %s", 1)],
            V3: [apg("UPDATE users SET name = $1 WHERE id = $2", "z", 2)],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN name TYPE text",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-timestamp-to-timestamptz-vs-prepared-reader",
        schema_sql=DOCS,
        versions={
            V1: [simple("SELECT created_at FROM docs")],
            V2: [simple("INSERT INTO docs (note, created_at) VALUES ('n', now())")],
            V3: [prepared("SELECT created_at FROM docs WHERE id = %s", 1)],
        },
        migration_sql=(
            "ALTER TABLE docs ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME "
            "ZONE 'UTC'"
        ),
        breaks=frozenset({V3}),
    ),
    Case(
        id="break-json-to-jsonb-vs-json-function",
        schema_sql=DOCS,
        versions={
            V1: [simple("SELECT body->>'a' FROM docs")],
            V2: [simple("SELECT json_extract_path_text(body, 'a') FROM docs")],
            V3: [simple("INSERT INTO docs (body) VALUES ('{\"a\": 2}')")],
        },
        migration_sql="ALTER TABLE docs ALTER COLUMN body TYPE jsonb USING body::jsonb",
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-text-to-jsonb-vs-like-and-prepared-writer",
        schema_sql=DOCS + "UPDATE docs SET note = '{\"n\": 1}';",
        versions={
            V1: [simple("SELECT id FROM docs WHERE note LIKE '%n%'")],
            V2: [simple("SELECT note FROM docs")],
            V3: [prepared("UPDATE docs SET note = %s WHERE id = %s", '{"n": 2}', 1)],
            V4: [extended("UPDATE docs SET note = %s WHERE id = %s", '{"n": 3}', 1)],
        },
        migration_sql="ALTER TABLE docs ALTER COLUMN note TYPE jsonb USING note::jsonb",
        breaks=frozenset({V1, V3}),
    ),
    Case(
        id="break-int-array-to-bigint-array-vs-prepared-reader",
        schema_sql=DOCS,
        versions={
            V1: [simple("SELECT tags FROM docs")],
            V2: [extended("SELECT id FROM docs WHERE %s = ANY(tags)", 3)],
            V3: [prepared("SELECT tags FROM docs WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE docs ALTER COLUMN tags TYPE bigint[]",
        breaks=frozenset({V3}),
    ),
    Case(
        id="break-numeric-narrowing-vs-big-writer",
        schema_sql=DOCS,
        versions={
            V1: [extended("UPDATE docs SET price = %s WHERE id = %s", 123456.78, 1)],
            V2: [extended("UPDATE docs SET price = %s WHERE id = %s", 12.5, 1)],
        },
        migration_sql=(
            "BEGIN; UPDATE docs SET price = 0; ALTER TABLE docs ALTER COLUMN price TYPE "
            "numeric(6, 2); COMMIT"
        ),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-text-to-int-vs-prepared-text-parameter",
        schema_sql=USERS + "UPDATE users SET legacy = '1';",
        versions={
            V1: [prepared("UPDATE users SET legacy = %s WHERE id = %s", "2", 1)],
            V2: [apg("UPDATE users SET legacy = $1 WHERE id = $2", "3", 2)],
            V3: [simple("UPDATE users SET legacy = '4' WHERE id = 1")],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN legacy TYPE int USING legacy::int",
        breaks=frozenset({V1, V2}),
        note="the parameter's type was inferred as text at Parse",
    ),
    Case(
        id="break-enum-rename-value-three-versions",
        schema_sql=MOODS,
        versions={
            V1: [simple("INSERT INTO moods (m) VALUES ('sad')")],
            V2: [simple("SELECT m FROM moods")],
            V3: [extended("SELECT id FROM moods WHERE m = %s", "happy")],
        },
        migration_sql="ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy'",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-enum-rename-value-bound-parameter",
        schema_sql=MOODS,
        versions={
            V1: [extended("INSERT INTO moods (m) VALUES (%s)", "sad")],
            V2: [apg("INSERT INTO moods (m) VALUES ($1)", "happy")],
        },
        migration_sql="ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy'",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-enum-type-vs-cast",
        schema_sql=MOODS,
        versions={
            V1: [simple("SELECT 'happy'::mood")],
            V2: [simple("SELECT m FROM moods")],
        },
        migration_sql="ALTER TYPE mood RENAME TO feeling",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-domain-add-check-vs-writer",
        schema_sql=(
            "CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE TABLE stock (id serial PRIMARY "
            "KEY, n posint); INSERT INTO stock (n) VALUES (1);"
        ),
        versions={
            V1: [extended("INSERT INTO stock (n) VALUES (%s)", 5000)],
            V2: [extended("INSERT INTO stock (n) VALUES (%s)", 5)],
            V3: [simple("SELECT n FROM stock")],
        },
        migration_sql=(
            "BEGIN; DELETE FROM stock WHERE n >= 1000; ALTER DOMAIN posint ADD CONSTRAINT "
            "posint_small CHECK (VALUE < 1000); COMMIT"
        ),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-domain-set-not-null-vs-null-writer",
        schema_sql=(
            "CREATE DOMAIN label AS text; CREATE TABLE tags (id serial PRIMARY KEY, l label); "
            "INSERT INTO tags (l) VALUES ('a');"
        ),
        versions={
            V1: [extended("INSERT INTO tags (l) VALUES (%s)", None)],
            V2: [extended("INSERT INTO tags (l) VALUES (%s)", "b")],
        },
        migration_sql=(
            "BEGIN; DELETE FROM tags WHERE l IS NULL; ALTER DOMAIN label SET NOT NULL; COMMIT"
        ),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-schema-vs-qualified-reader",
        schema_sql=BILLING,
        versions={
            V1: [simple("SELECT amount FROM billing.invoices")],
            V2: [simple("SELECT email FROM public.users")],
            V3: [extended("INSERT INTO billing.invoices (amount) VALUES (%s)", 3)],
        },
        migration_sql="ALTER SCHEMA billing RENAME TO accounting",
        breaks=frozenset({V1, V3}),
    ),
    Case(
        id="break-table-moved-out-of-search-path",
        schema_sql=BILLING,
        versions={
            V1: [simple("SELECT email FROM users WHERE id = 1")],
            V2: [simple("SELECT amount FROM billing.invoices")],
        },
        migration_sql="ALTER TABLE users SET SCHEMA billing",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-select-star-view-replaced-with-new-column-vs-prepared",
        schema_sql=VIEWED,
        versions={
            V1: [prepared("SELECT * FROM users_v WHERE id = %s", 1)],
            V2: [simple("SELECT email FROM users_v")],
            V3: [simple("SELECT * FROM users_v")],
        },
        migration_sql=(
            "BEGIN; ALTER TABLE users ADD COLUMN age int; CREATE OR REPLACE VIEW users_v AS "
            "SELECT * FROM users; COMMIT"
        ),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-table-only-the-old-version-uses",
        schema_sql=USERS
        + (
            "CREATE TABLE sessions_old (id int, token text); INSERT INTO sessions_old VALUES (1, "
            "'t');"
        ),
        versions={
            V1: [simple("SELECT token FROM sessions_old")],
            V2: [simple("SELECT email FROM users")],
            V3: [simple("SELECT email FROM users WHERE id = 2")],
        },
        migration_sql="DROP TABLE sessions_old",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-serial-column-drops-owned-sequence",
        schema_sql=SERIALS,
        versions={
            V1: [simple("SELECT nextval('tally_n_seq')")],
            V2: [simple("SELECT id FROM tally")],
        },
        migration_sql="ALTER TABLE tally DROP COLUMN n",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-parent-add-column-vs-child-copy",
        schema_sql=FAMILY,
        versions={
            V1: [copy_in("COPY child FROM STDIN", (2, "d", 8))],
            V2: [simple("SELECT id, note FROM base")],
            V3: [copy_in("COPY child (id, note, extra) FROM STDIN", (3, "e", 9))],
        },
        migration_sql="ALTER TABLE base ADD COLUMN z int",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-parent-column-vs-child-reader",
        schema_sql=FAMILY,
        versions={
            V1: [simple("SELECT note FROM child")],
            V2: [simple("SELECT extra FROM child")],
            V3: [simple("SELECT id FROM base")],
        },
        migration_sql="ALTER TABLE base DROP COLUMN note",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-default-not-null-three-versions",
        schema_sql=USERS,
        versions={
            V1: [simple("INSERT INTO users (email) VALUES ('d')")],
            V2: [extended("INSERT INTO users (email, status) VALUES (%s, %s)", "e", "ok")],
            V3: [simple("SELECT status FROM users")],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN status DROP DEFAULT",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-quoted-column",
        schema_sql=QUOTED,
        versions={
            V1: [simple('SELECT "displayName" FROM "UserAccounts"')],
            V2: [simple('SELECT id, name FROM "UserAccounts"')],
        },
        migration_sql='ALTER TABLE "UserAccounts" RENAME COLUMN "displayName" TO display_name',
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-mixed-case-column-not-its-lowercase-twin",
        schema_sql=QUOTED,
        versions={
            V1: [simple('SELECT name FROM "UserAccounts"')],
            V2: [simple('SELECT "Name" FROM "UserAccounts"')],
            V3: [extended('UPDATE "UserAccounts" SET NAME = %s WHERE id = %s', "b", 1)],
        },
        migration_sql='ALTER TABLE "UserAccounts" DROP COLUMN "Name"',
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-rename-quoted-table-not-lowercase-twin",
        schema_sql=QUOTED,
        versions={
            V1: [simple('SELECT total FROM "Orders"')],
            V2: [simple("SELECT total FROM orders")],
            V3: [simple("SELECT total FROM ORDERS")],
        },
        migration_sql='ALTER TABLE "Orders" RENAME TO orders_v2',
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-column-cte-window-lateral",
        schema_sql=ORDERS,
        versions={
            V1: [simple("WITH x AS (SELECT legacy FROM users) SELECT count(*) FROM x")],
            V2: [
                simple(
                    "SELECT email, row_number() OVER (PARTITION BY legacy ORDER BY id) FROM users"
                )
            ],
            V3: [
                simple(
                    "SELECT u.email, o.total FROM users u, LATERAL (SELECT total FROM orders WHERE "
                    "user_id = u.id) o"
                )
            ],
            V4: [simple("WITH x AS (SELECT email FROM users) SELECT * FROM x")],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="break-rename-column-lateral-and-subquery-in-select",
        schema_sql=ORDERS,
        versions={
            V1: [
                simple(
                    "SELECT u.email, o.t FROM users u, LATERAL (SELECT total AS t FROM orders "
                    "WHERE "
                    "user_id = u.id) o"
                )
            ],
            V2: [
                simple(
                    "SELECT email, (SELECT sum(total) FROM orders o WHERE o.user_id = u.id) FROM "
                    "users u"
                )
            ],
            V3: [simple("SELECT email, (SELECT max(qty) FROM orders) FROM users")],
        },
        migration_sql="ALTER TABLE orders RENAME COLUMN total TO amount",
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="break-drop-column-returning-update-from-delete-using",
        schema_sql=ORDERS,
        versions={
            V1: [simple("UPDATE users SET name = 'x' WHERE id = 1 RETURNING legacy")],
            V2: [
                simple(
                    "UPDATE orders o SET qty = o.qty FROM users u WHERE u.id = o.user_id AND "
                    "u.legacy "
                    "= 'x'"
                )
            ],
            V3: [
                simple(
                    "DELETE FROM orders o USING users u WHERE o.user_id = u.id AND u.legacy = "
                    "'nope'"
                )
            ],
            V4: [simple("UPDATE users SET name = 'y' WHERE id = 2 RETURNING id, email")],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        breaks=frozenset({V1, V2, V3}),
    ),
    Case(
        id="break-merge-drop-column",
        schema_sql=USERS,
        versions={
            V1: [
                simple(
                    "MERGE INTO users u USING (VALUES ('ann')) s(e) ON u.email = s.e WHEN MATCHED "
                    "THEN UPDATE SET legacy = 'm'"
                )
            ],
            V2: [
                simple(
                    "MERGE INTO users u USING (VALUES ('bob')) s(e) ON u.email = s.e WHEN MATCHED "
                    "THEN UPDATE SET name = 'B' WHEN NOT MATCHED THEN INSERT (email) VALUES (s.e)"
                )
            ],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-merge-set-not-null-vs-insert-branch",
        schema_sql=USERS,
        versions={
            V1: [
                simple(
                    "MERGE INTO users u USING (VALUES ('zed')) s(e) ON u.email = s.e WHEN NOT "
                    "MATCHED "
                    "THEN INSERT (email) VALUES (s.e) WHEN MATCHED THEN DELETE"
                )
            ],
            V2: [
                simple(
                    "MERGE INTO users u USING (VALUES ('ann')) s(e) ON u.email = s.e WHEN MATCHED "
                    "THEN UPDATE SET name = 'A'"
                )
            ],
        },
        migration_sql=(
            "BEGIN; UPDATE users SET name = '' WHERE name IS NULL; ALTER TABLE users ALTER COLUMN "
            "name SET NOT NULL; COMMIT"
        ),
        breaks=frozenset({V1}),
        note="V1 inserts zed without a name on every other run",
    ),
    Case(
        id="break-rename-table-four-versions",
        schema_sql=ORDERS
        + (
            "CREATE VIEW order_totals AS SELECT user_id, sum(total) AS s FROM orders GROUP BY "
            "user_id;"
        ),
        versions={
            V1: [simple("SELECT email FROM users")],
            V2: [simple("SELECT total FROM orders")],
            V3: [simple("SELECT u.email, o.total FROM users u JOIN orders o ON o.user_id = u.id")],
            V4: [simple("SELECT s FROM order_totals")],
        },
        migration_sql="ALTER TABLE users RENAME TO accounts",
        breaks=frozenset({V1, V3}),
    ),
    Case(
        id="break-bigint-id-vs-held-statements",
        schema_sql=ORDERS,
        versions={
            V1: [prepared("SELECT id FROM users WHERE email = %s", "ann")],
            V2: [extended("SELECT id FROM users WHERE email = %s", "ann")],
            V3: [apg("SELECT email FROM users WHERE id = $1", 1)],
            V4: [apg("INSERT INTO users (email) VALUES ($1) RETURNING id", "x")],
        },
        migration_sql="ALTER TABLE users ALTER COLUMN id TYPE bigint",
        breaks=frozenset({V1, V4}),
    ),
    Case(
        id="break-function-set-schema",
        schema_sql=(
            "CREATE SCHEMA util; CREATE FUNCTION score(a int) RETURNS int LANGUAGE sql IMMUTABLE "
            "AS 'SELECT a * 2';"
        ),
        versions={
            V1: [simple("SELECT score(1)")],
            V2: [simple("SELECT 1")],
        },
        migration_sql="ALTER FUNCTION score(int) SET SCHEMA util",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-revoke-delete-vs-deleter-not-inserter",
        schema_sql=USERS
        + (
            "GRANT SELECT, INSERT, UPDATE, DELETE ON users TO gt_upd; GRANT USAGE ON SEQUENCE "
            "users_id_seq TO gt_upd;"
        ),
        versions={
            V1: [extended("INSERT INTO users (email) VALUES (%s)", "i")],
            V2: [simple("DELETE FROM users WHERE email = 'nobody'")],
            V3: [simple("UPDATE users SET name = 'n' WHERE id = 1")],
        },
        migration_sql="REVOKE DELETE ON users FROM gt_upd",
        users={V1: "gt_upd", V2: "gt_upd", V3: "gt_upd"},
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-revoke-update-grant-column-vs-upsert-of-other-column",
        schema_sql=USERS
        + (
            "CREATE UNIQUE INDEX users_email_u ON users (email); GRANT SELECT, INSERT, UPDATE ON "
            "users TO gt_upd; GRANT USAGE ON SEQUENCE users_id_seq TO gt_upd;"
        ),
        versions={
            V1: [
                extended(
                    "INSERT INTO users (email, name) VALUES (%s, %s) ON CONFLICT (email) DO UPDATE "
                    "SET name = excluded.name",
                    "ann",
                    "A",
                )
            ],
            V2: [
                extended(
                    "INSERT INTO users (email, legacy) VALUES (%s, %s) ON CONFLICT (email) DO "
                    "UPDATE "
                    "SET legacy = excluded.legacy",
                    "bob",
                    "L",
                )
            ],
        },
        migration_sql=(
            "BEGIN; REVOKE UPDATE ON users FROM gt_upd; GRANT UPDATE (name) ON users TO gt_upd; "
            "COMMIT"
        ),
        users={V1: "gt_upd", V2: "gt_upd"},
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-text-to-jsonb-vs-named-text-only-writer",
        schema_sql=DOCS + "UPDATE docs SET note = '{\"n\": 1}';",
        versions={
            V1: [prepared("UPDATE docs SET note = %s WHERE note IS NOT NULL", '{"n": 2}')],
            V2: [extended("UPDATE docs SET note = %s WHERE note IS NOT NULL", '{"n": 3}')],
        },
        migration_sql="ALTER TABLE docs ALTER COLUMN note TYPE jsonb USING note::jsonb",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-domain-set-schema-vs-cast",
        schema_sql=DOM,
        versions={
            V1: [simple("SELECT email::short_text FROM users")],
            V2: [simple("SELECT email FROM users")],
        },
        migration_sql="ALTER DOMAIN short_text SET SCHEMA util",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-domain-vs-cast",
        schema_sql=DOM,
        versions={
            V1: [simple("SELECT CAST(email AS short_text) FROM users")],
            V2: [simple("SELECT email FROM users")],
        },
        migration_sql="DROP DOMAIN short_text",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-composite-type-vs-row-cast",
        schema_sql=DOM,
        versions={
            V1: [simple("SELECT (ROW(1, 'a')::pair).b")],
            V2: [simple("SELECT 1")],
            V3: [simple("SELECT email::short_text FROM users")],
        },
        migration_sql="ALTER TYPE pair RENAME TO couple",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-domain-not-another-schemas-domain",
        schema_sql=DOM + "CREATE DOMAIN util.code AS text;",
        versions={
            V1: [simple("SELECT email::short_text FROM users")],
            V2: [simple("SELECT 'x'::util.code")],
        },
        migration_sql="ALTER DOMAIN short_text RENAME TO short_txt",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-int-array-widening-vs-int-array-containment",
        schema_sql=DOCS,
        versions={
            V1: [simple("UPDATE docs SET tags = array_append(tags, 4) WHERE id = 1")],
            V2: [extended("SELECT id FROM docs WHERE tags @> ARRAY[%s]::int[]", 1)],
        },
        migration_sql="ALTER TABLE docs ALTER COLUMN tags TYPE bigint[]",
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-owner-change-vs-old-owner-role",
        schema_sql=OWNED,
        versions={
            V1: [simple("SELECT email FROM users WHERE id = 1")],
            V2: [simple("SELECT email FROM users WHERE id = 2")],
        },
        migration_sql="ALTER TABLE users OWNER TO postgres",
        users={V1: "gt_own"},
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-schema-cascade-only-old-version",
        schema_sql=USERS
        + (
            "CREATE SCHEMA legacy; CREATE TABLE legacy.notes (id int, body text); INSERT INTO "
            "legacy.notes VALUES (1, 'n');"
        ),
        versions={
            V1: [simple("SELECT body FROM legacy.notes")],
            V2: [simple("SELECT email FROM users")],
            V3: [simple("SELECT id FROM users")],
        },
        migration_sql="DROP SCHEMA legacy CASCADE",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-view-rename-column",
        schema_sql=USERS + "CREATE VIEW people AS SELECT id, email AS mail FROM users;",
        versions={
            V1: [simple("SELECT mail FROM people")],
            V2: [simple("SELECT id FROM people")],
        },
        migration_sql="ALTER VIEW people RENAME COLUMN mail TO email",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-column-in-order-group-having-distinct-on",
        schema_sql=ORDERS,
        versions={
            V1: [simple("SELECT user_id FROM orders GROUP BY user_id HAVING sum(qty) > 0")],
            V2: [simple("SELECT DISTINCT ON (qty) id FROM orders ORDER BY qty")],
            V3: [simple("SELECT id, rank() OVER (ORDER BY qty) FROM orders")],
            V4: [simple("SELECT user_id, count(*) FROM orders GROUP BY user_id")],
        },
        migration_sql="ALTER TABLE orders RENAME COLUMN qty TO quantity",
        breaks=frozenset({V1, V2, V3}),
    ),
    Case(
        id="break-django-rename-model-vs-currval",
        schema_sql=USERS,
        versions={
            V1: [
                simple("INSERT INTO users (email) VALUES ('x')"),
                simple("SELECT currval('users_id_seq')"),
            ],
            V2: [simple("INSERT INTO users (email) VALUES ('y') RETURNING id")],
        },
        migration_sql=(
            'BEGIN; ALTER TABLE "users" RENAME TO "accounts"; ALTER SEQUENCE "users_id_seq" '
            'RENAME TO "accounts_id_seq"; CREATE VIEW users AS SELECT * FROM accounts; COMMIT'
        ),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-partial-unique-arbiter-dropped-vs-on-conflict-where",
        schema_sql=USERS
        + ("CREATE UNIQUE INDEX users_live_email ON users (email) WHERE status <> 'gone';"),
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email) VALUES ('ann') ON CONFLICT (email) WHERE status <> "
                    "'gone' DO NOTHING"
                )
            ],
            V2: [simple("INSERT INTO users (email) VALUES ('ann') ON CONFLICT DO NOTHING")],
        },
        migration_sql="DROP INDEX users_live_email",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-json-to-jsonb-vs-json-array-length",
        schema_sql=(
            "CREATE TABLE ev (id serial PRIMARY KEY, payload json); INSERT INTO ev (payload) "
            "VALUES ('{\"items\": [1, 2]}');"
        ),
        versions={
            V1: [simple("SELECT json_array_length(payload->'items') FROM ev")],
            V2: [simple("SELECT payload->>'items' FROM ev")],
            V3: [extended("INSERT INTO ev (payload) VALUES (%s)", '{"items": []}')],
        },
        migration_sql="ALTER TABLE ev ALTER COLUMN payload TYPE jsonb USING payload::jsonb",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-reassign-owned-vs-old-owner",
        schema_sql=OWNED,
        versions={
            V1: [simple("UPDATE users SET name = 'x' WHERE id = 1")],
            V2: [simple("SELECT 1")],
        },
        migration_sql="REASSIGN OWNED BY gt_own TO postgres",
        users={V1: "gt_own"},
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-sequence-rename-vs-setval",
        schema_sql=USERS,
        versions={
            V1: [simple("SELECT setval('users_id_seq', (SELECT max(id) FROM users))")],
            V2: [simple("INSERT INTO users (email) VALUES ('s')")],
        },
        migration_sql="ALTER SEQUENCE users_id_seq RENAME TO users_seq",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-column-used-in-view-cascade",
        schema_sql=USERS + "CREATE VIEW legacy_users AS SELECT id, legacy FROM users;",
        versions={
            V1: [simple("SELECT id FROM legacy_users")],
            V2: [simple("SELECT email FROM users")],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy CASCADE",
        breaks=frozenset({V1}),
    ),
]


# Round 9: a collation change of a returned column against named prepared statements (a
# new result type: 0A000), attributes added to a composite type that versions build
# with ROW(...)::t; and migrations as tools write them (Prisma's enum recreation, a
# function replaced by one with a defaulted argument, an identity added over explicit ids).
ROUND9_SAFE: list[Case] = [
    Case(
        id="safe-collate-retype-simple",
        schema_sql="CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a');",
        versions={"app@1": ["SELECT name FROM t WHERE id = 1"]},
        migration_sql='ALTER TABLE t ALTER COLUMN name TYPE text COLLATE "C";',
    ),
    Case(
        id="safe-collate-retype-prepared-where-only",
        schema_sql="CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a');",
        versions={"app@1": [prepared("SELECT id FROM t WHERE name = %s", "a")]},
        migration_sql='ALTER TABLE t ALTER COLUMN name TYPE text COLLATE "C";',
        note="only a returned column's collation is part of a prepared statement's result type",
    ),
    Case(
        id="safe-add-attribute-field-reads",
        schema_sql="CREATE TYPE addr AS (street text, city text); CREATE TABLE p (id int, a addr);"
        " INSERT INTO p VALUES (1, ROW('s','c'));",
        versions={"app@1": ["SELECT (a).street, (a).city FROM p", "UPDATE p SET a.city = 'z'"]},
        migration_sql="ALTER TYPE addr ADD ATTRIBUTE zip text;",
    ),
    Case(
        id="safe-add-attribute-prepared-field-star",
        schema_sql="CREATE TYPE addr AS (street text, city text); CREATE TABLE p (id int, a addr);"
        " INSERT INTO p VALUES (1, ROW('s','c'));",
        versions={"app@1": [prepared("SELECT (a).* FROM p WHERE id = %s", 1)]},
        migration_sql="ALTER TYPE addr ADD ATTRIBUTE zip text;",
        note="(a).* expands at plan time: the prepared statement replans into the new fields",
    ),
    Case(
        id="safe-add-attribute-other-type-cast",
        schema_sql="CREATE TYPE addr AS (street text, city text);"
        " CREATE TYPE pt AS (x int, y int);",
        versions={"app@1": ["SELECT ROW(1, 2)::pt"]},
        migration_sql="ALTER TYPE addr ADD ATTRIBUTE zip text;",
    ),
    Case(
        id="safe-collate-set-on-new-column",
        schema_sql="CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);",
        versions={"app@1": [prepared("SELECT id FROM t WHERE id = %s", 1)]},
        migration_sql='ALTER TABLE t ADD COLUMN name text COLLATE "C";',
    ),
    Case(
        "safe-function-add-defaulted-arg",
        "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a';",
        {"app@1": ["SELECT f(1)"]},
        "BEGIN; DROP FUNCTION f(int); CREATE FUNCTION f(a int, b int DEFAULT 0) RETURNS int"
        " LANGUAGE sql AS 'SELECT a + b'; COMMIT;",
    ),
    Case(
        "safe-int-to-bigint-extended",
        "CREATE TABLE t (id serial, n int);",
        {
            "app@1": [
                extended("INSERT INTO t (n) VALUES (%s)", 5),
                extended("SELECT n FROM t WHERE n = %s", 5),
            ]
        },
        "ALTER TABLE t ALTER COLUMN n TYPE bigint;",
    ),
    Case(
        "safe-generated-column-positional-insert",
        "CREATE TABLE t (id int, a int);",
        {
            "app@1": ["INSERT INTO t VALUES (1, 2)"],
            "app@2": ["INSERT INTO t (id, a) VALUES (1, 2)"],
        },
        "ALTER TABLE t ADD COLUMN s int GENERATED ALWAYS AS (a * 2) STORED;",
        frozenset(),
    ),
]

ROUND9_BREAKING: list[Case] = [
    Case(
        id="break-collate-retype-prepared",
        schema_sql="CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a');",
        versions={
            "app@1": [prepared("SELECT name FROM t WHERE id = %s", 1)],
            "app@2": ["SELECT id FROM t WHERE id = 1"],
        },
        migration_sql='ALTER TABLE t ALTER COLUMN name TYPE text COLLATE "C";',
        breaks=frozenset({"app@1"}),
    ),
    Case(
        id="break-add-attribute-row-cast",
        schema_sql="CREATE TYPE addr AS (street text, city text); CREATE TABLE p (id int, a addr);"
        " INSERT INTO p VALUES (1, ROW('s','c'));",
        versions={"app@1": ["SELECT ROW('x', 'y')::addr"], "app@2": ["SELECT (a).city FROM p"]},
        migration_sql="ALTER TYPE addr ADD ATTRIBUTE zip text;",
        breaks=frozenset({"app@1"}),
    ),
    Case(
        id="break-add-attribute-row-insert",
        schema_sql="CREATE TYPE addr AS (street text, city text); CREATE TABLE p (id int, a addr);",
        versions={
            "app@1": ["INSERT INTO p VALUES (1, ROW('s','c'))"],
            "app@2": ["SELECT (a).street FROM p"],
        },
        migration_sql="ALTER TYPE addr ADD ATTRIBUTE zip text;",
        breaks=frozenset({"app@1"}),
    ),
    Case(
        id="break-collate-retype-asyncpg",
        schema_sql="CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a');",
        versions={
            "app@1": [apg("SELECT id, name FROM t WHERE id = $1", 1)],
            "app@2": [apg("SELECT id FROM t WHERE id = $1", 1)],
        },
        migration_sql='ALTER TABLE t ALTER COLUMN name SET DATA TYPE text COLLATE "POSIX";',
        breaks=frozenset({"app@1"}),
    ),
    Case(
        "break-prisma-enum-recreate-removed-label",
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TABLE p (id serial, m mood);",
        {
            "app@1": ["INSERT INTO p (m) VALUES ('sad')"],
            "app@2": ["INSERT INTO p (m) VALUES ('ok')"],
        },
        "BEGIN; DELETE FROM p WHERE m = 'sad'; CREATE TYPE mood_new AS ENUM ('ok', 'happy');"
        " ALTER TABLE p ALTER COLUMN m TYPE mood_new USING (m::text::mood_new); DROP TYPE mood;"
        " ALTER TYPE mood_new RENAME TO mood; COMMIT;",
        frozenset({"app@1"}),
    ),
    Case(
        "break-add-identity-always-explicit-ids",
        "CREATE TABLE t (id int NOT NULL, v text);",
        {"app@1": ["INSERT INTO t (id, v) VALUES (1, 'a')"], "app@2": ["SELECT v FROM t"]},
        "ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;",
        frozenset({"app@1"}),
    ),
    Case(
        "break-numeric-precision-narrow",
        "CREATE TABLE t (id serial, price numeric(10,2));",
        {
            "app@1": ["INSERT INTO t (price) VALUES (12345.67)"],
            "app@2": ["INSERT INTO t (price) VALUES (12.5)"],
        },
        "BEGIN; DELETE FROM t WHERE price >= 1000;"
        " ALTER TABLE t ALTER COLUMN price TYPE numeric(5,2); COMMIT;",
        frozenset({"app@1"}),
    ),
]

# Round 9 (rolling-deploy corpus): migrations as Django, Rails, Alembic, Prisma and
# Flyway emit them; identity, generated columns, partial arbiters, RLS, sequences.
R9_ROLE = "gt_r9"
R9_DJANGO_ADD = (
    'BEGIN; ALTER TABLE "users" ADD COLUMN "score" integer DEFAULT 0 NOT NULL; '
    'ALTER TABLE "users" ALTER COLUMN "score" DROP DEFAULT; COMMIT;'
)
R9_PRISMA_ENUM = (
    "BEGIN; CREATE TYPE mood_new AS ENUM ('happy', 'sad', 'meh'); "
    "ALTER TABLE moods ALTER COLUMN m TYPE mood_new USING (m::text::mood_new); "
    "DROP TYPE mood; ALTER TYPE mood_new RENAME TO mood; COMMIT;"
)
R9_NOID = "CREATE TABLE t (id int NOT NULL PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');"
R9_IDENT = (
    "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text);"
    " INSERT INTO t (v) VALUES ('a');"
)
R9_PARTIAL = """
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL,
                    active bool NOT NULL DEFAULT true, name text);
CREATE UNIQUE INDEX users_active_email ON users (email) WHERE active;
INSERT INTO users (email) VALUES ('ann');
"""
R9_RLS = f"""
CREATE TABLE docs (id serial PRIMARY KEY, tenant int NOT NULL, body text);
INSERT INTO docs (tenant, body) VALUES (1, 'a'), (2, 'b');
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY docs_all ON docs FOR ALL USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON docs TO {R9_ROLE};
GRANT USAGE ON SEQUENCE docs_id_seq TO {R9_ROLE};
"""
R9_FUNC = "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 1';"
R9_CODES = (
    "CREATE TABLE c (id int PRIMARY KEY, code text, d date, amount numeric);"
    " INSERT INTO c VALUES (1, '12', '2024-01-01', 3.5);"
)
R9_SEQ = "CREATE TABLE s (id bigserial PRIMARY KEY, v text); INSERT INTO s (v) VALUES ('a');"
R9_NOT_VALID = ORDERS + CHECK_QTY + ";"
R9_GEN = (
    "CREATE TABLE g (id int PRIMARY KEY, a int, b int GENERATED ALWAYS AS (a * 2) STORED);"
    " INSERT INTO g (id, a) VALUES (1, 1);"
)

ROUND9_SAFE += [
    Case(
        id="safe-django-set-constraints-add-fk",
        schema_sql=ORDERS,
        versions={V1: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 1)]},
        migration_sql='BEGIN; SET CONSTRAINTS ALL IMMEDIATE; ALTER TABLE "orders" ADD '
        'CONSTRAINT "orders_user_fk" '
        'FOREIGN KEY ("user_id") REFERENCES "users" ("id") DEFERRABLE INITIALLY DEFERRED; '
        "SET CONSTRAINTS ALL IMMEDIATE; COMMIT;",
    ),
    Case(
        id="safe-prisma-enum-recreate-literal-writers",
        schema_sql=MOODS,
        versions={
            V1: [simple("INSERT INTO moods (m) VALUES ('sad')")],
            V2: [extended("SELECT id, m::text FROM moods WHERE id = %s", 1)],
        },
        migration_sql=R9_PRISMA_ENUM,
    ),
    Case(
        id="safe-add-identity-by-default-vs-explicit-id-writer",
        schema_sql=R9_NOID,
        versions={V1: [simple("INSERT INTO t (id, v) VALUES ((SELECT max(id) + 1 FROM t), 'b')")]},
        migration_sql="ALTER TABLE t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY "
        "(START WITH 1000)",
    ),
    Case(
        id="safe-partial-arbiter-replaced-by-full-unique",
        schema_sql=R9_PARTIAL,
        versions={
            V1: [
                extended(
                    "INSERT INTO users (email) VALUES (%s) ON CONFLICT (email) WHERE active DO "
                    "NOTHING",
                    "ann",
                )
            ]
        },
        migration_sql="BEGIN; DROP INDEX users_active_email; CREATE UNIQUE INDEX users_email ON "
        "users (email); COMMIT",
    ),
    Case(
        id="safe-function-default-arg-added-vs-callers",
        schema_sql=R9_FUNC,
        versions={
            V1: [simple("SELECT f(1)")],
            V2: [prepared("SELECT f(%s)", 1)],
            V3: [apg("SELECT f($1)", 1)],
        },
        migration_sql="BEGIN; DROP FUNCTION f(int); CREATE FUNCTION f(a int, b int DEFAULT 1) "
        "RETURNS int "
        "LANGUAGE sql AS 'SELECT a + b'; COMMIT",
    ),
    Case(
        id="safe-alembic-batch-recreate-readers-of-kept-columns",
        schema_sql=USERS,
        versions={
            V1: [prepared("SELECT email, name FROM users WHERE id = %s", 1)],
            V2: [simple("SELECT email FROM users WHERE id = 1")],
        },
        migration_sql="BEGIN; CREATE TABLE _alembic_tmp_users (id serial PRIMARY KEY, email "
        "text NOT NULL, "
        "name varchar(50), status text NOT NULL DEFAULT 'new'); "
        "INSERT INTO _alembic_tmp_users (id, email, name, status) SELECT id, email, name, "
        "status FROM users; "
        "DROP TABLE users; ALTER TABLE _alembic_tmp_users RENAME TO users; COMMIT",
    ),
    Case(
        id="safe-sequence-as-int-vs-default-inserter",
        schema_sql=R9_SEQ,
        versions={
            V1: [extended("INSERT INTO s (v) VALUES (%s)", "b")],
            V2: [simple("SELECT nextval('s_id_seq')")],
        },
        migration_sql="ALTER SEQUENCE s_id_seq AS int",
    ),
    Case(
        id="safe-policy-using-narrowed-vs-readers",
        schema_sql=R9_RLS,
        versions={
            V1: [extended("SELECT body FROM docs WHERE tenant = %s", 2)],
            V2: [simple("INSERT INTO docs (tenant, body) VALUES (1, 'ok')")],
        },
        migration_sql="ALTER POLICY docs_all ON docs USING (tenant = 1)",
        users={V1: R9_ROLE, V2: R9_ROLE},
    ),
    Case(
        id="safe-drop-expression-generated-readers-and-base-writers",
        schema_sql=R9_GEN,
        versions={
            V1: [prepared("SELECT b FROM g WHERE id = %s", 1)],
            V2: [simple("INSERT INTO g (id, a) SELECT max(id) + 1, 5 FROM g")],
        },
        migration_sql="ALTER TABLE g ALTER COLUMN b DROP EXPRESSION",
    ),
    Case(
        id="safe-validate-not-valid-check-writers-comply",
        schema_sql=R9_NOT_VALID,
        versions={V1: [extended("INSERT INTO orders (user_id, qty) VALUES (%s, %s)", 1, 3)]},
        migration_sql="ALTER TABLE orders VALIDATE CONSTRAINT qty_positive",
    ),
]

ROUND9_BREAKING += [
    Case(
        id="break-django-deferred-fk-vs-orphan-writer",
        schema_sql=ORDERS,
        versions={
            V1: [simple("INSERT INTO orders (user_id, qty) VALUES (99, 1)")],
            V2: [simple("INSERT INTO orders (user_id, qty) VALUES (1, 1)")],
        },
        migration_sql="BEGIN; DELETE FROM orders WHERE user_id NOT IN (SELECT id FROM users); "
        'ALTER TABLE "orders" ADD CONSTRAINT "orders_user_fk" '
        'FOREIGN KEY ("user_id") REFERENCES "users" ("id") DEFERRABLE INITIALLY DEFERRED; COMMIT;',
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-django-add-not-null-three-versions",
        schema_sql=USERS,
        versions={
            V1: [simple("INSERT INTO users (email, name) VALUES ('a', 'b')")],
            V2: [prepared("SELECT * FROM users WHERE id = %s", 1)],
            V3: [extended("SELECT email FROM users WHERE id = %s", 1)],
        },
        migration_sql=R9_DJANGO_ADD,
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="break-drop-identity-vs-omitting-inserter",
        schema_sql=R9_IDENT,
        versions={
            V1: [extended("INSERT INTO t (v) VALUES (%s)", "b")],
            V2: [simple("INSERT INTO t (id, v) VALUES ((SELECT max(id) + 1 FROM t), 'b')")],
        },
        migration_sql="ALTER TABLE t ALTER COLUMN id DROP IDENTITY",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-contract-drop-old-column-rollback-window",
        schema_sql=USERS,
        versions={
            V1: [simple("SELECT legacy FROM users WHERE id = 1")],
            V2: [extended("UPDATE users SET legacy = %s, name = %s WHERE id = 1", "a", "a")],
            V3: [extended("SELECT name FROM users WHERE id = %s", 1)],
            V4: [prepared("SELECT id, email FROM users WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE users DROP COLUMN legacy",
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="break-alembic-batch-recreate-restarts-serial",
        schema_sql=USERS,
        versions={
            V1: [extended("INSERT INTO users (email) VALUES (%s)", "z")],
            V2: [simple("SELECT email FROM users WHERE id = 1")],
        },
        migration_sql="BEGIN; CREATE TABLE _alembic_tmp_users (id serial PRIMARY KEY, email "
        "text NOT NULL, "
        "name varchar(50), status text NOT NULL DEFAULT 'new'); "
        "INSERT INTO _alembic_tmp_users (id, email, name, status) SELECT id, email, name, "
        "status FROM users; "
        "DROP TABLE users; ALTER TABLE _alembic_tmp_users RENAME TO users; COMMIT",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-text-to-int-vs-like",
        schema_sql=R9_CODES,
        versions={
            V1: [simple("SELECT id FROM c WHERE code LIKE '1%'")],
            V2: [simple("SELECT id FROM c WHERE code = '12'")],
        },
        migration_sql="ALTER TABLE c ALTER COLUMN code TYPE int USING code::int",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-date-to-timestamptz-vs-date-arithmetic",
        schema_sql=R9_CODES,
        versions={
            V1: [simple("SELECT d + 1 FROM c")],
            V2: [simple("SELECT d FROM c WHERE id = 1")],
        },
        migration_sql="ALTER TABLE c ALTER COLUMN d TYPE timestamptz",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-sequence-as-int-vs-setval-large",
        schema_sql=R9_SEQ,
        versions={
            V1: [
                simple("SELECT setval('s_id_seq', 3000000000, false)"),
                simple("SELECT setval('s_id_seq', (SELECT max(id) FROM s))"),
            ],
            V2: [extended("INSERT INTO s (v) VALUES (%s)", "b")],
        },
        migration_sql="ALTER SEQUENCE s_id_seq AS int",
        breaks=frozenset({V1}),
    ),
]


# Round 10 (rolling-deploy corpus): Prisma's enum recreation against statements kept
# prepared, RLS policies replaced in one transaction, functions redefined under named
# notation and bound parameters, search_path given by ALTER DATABASE/ROLE, partial
# arbiters recreated; then triggers, views with CHECK OPTION, sequences, partitions,
# column privileges and the statements that change nothing a version notices.
R10_ROLE = "gt_r10"
R10_PRISMA_DROP_LABEL = (
    "BEGIN; CREATE TYPE mood_new AS ENUM ('happy'); "
    "ALTER TABLE moods ALTER COLUMN m TYPE mood_new USING (m::text::mood_new); "
    "DROP TYPE mood; ALTER TYPE mood_new RENAME TO mood; COMMIT;"
)
R10_DB_PATH = (
    " DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = public, s2',"
    " current_database()); END $$;"
)
R10_ROLE_PATH = (
    USERS + f"CREATE SCHEMA s2; GRANT USAGE ON SCHEMA s2 TO {R10_ROLE};"
    f" GRANT SELECT ON users TO {R10_ROLE}; ALTER ROLE {R10_ROLE} SET search_path = public, s2;"
)
R10_ITEMS = """
CREATE TABLE items (id serial PRIMARY KEY, kind text NOT NULL, qty int NOT NULL DEFAULT 1);
INSERT INTO items (kind) VALUES ('ok'), ('bad');
"""
R10_TRIGGER = (
    R10_ITEMS
    + """
CREATE FUNCTION items_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RETURN NEW; END $$;
CREATE TRIGGER items_guard BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION items_guard();
"""
)
R10_VIEWED = R10_ITEMS + "CREATE VIEW ok_items AS SELECT id, kind, qty FROM items WHERE qty > 0;"
R10_OK_ITEMS = "CREATE OR REPLACE VIEW ok_items AS SELECT id, kind, qty FROM items WHERE qty > 0"
R10_PARTS = """
CREATE TABLE m (id int, at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
"""
R10_GRANTED = USERS + (
    f"GRANT SELECT, INSERT, UPDATE ON users TO {R10_ROLE};"
    f" GRANT USAGE ON SEQUENCE users_id_seq TO {R10_ROLE};"
)
R10_FAMILY = """
CREATE TABLE parent (id int, name text);
CREATE TABLE child (extra text) INHERITS (parent);
CREATE TABLE orphan (id int, name text, extra text);
INSERT INTO parent VALUES (1, 'p'); INSERT INTO child VALUES (2, 'c', 'e');
"""
R10_RAISE_BAD = (
    "CREATE OR REPLACE FUNCTION items_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF NEW.kind = '{}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
)
R10_NARROW_READ = (
    f"BEGIN; REVOKE SELECT ON users FROM {R10_ROLE};"
    f" GRANT SELECT (id, email) ON users TO {R10_ROLE}; COMMIT"
)

ROUND10_SAFE: list[Case] = [
    Case(
        id="safe-set-schema-on-database-search-path",
        schema_sql=USERS + "CREATE SCHEMA s2;" + R10_DB_PATH,
        versions={
            V1: [simple("SELECT email FROM users WHERE id = 1")],
            V2: [extended("SELECT name FROM users WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE users SET SCHEMA s2",
        note="every session starts with search_path public, s2: the bare name still resolves",
    ),
    Case(
        id="safe-set-schema-on-role-search-path",
        schema_sql=R10_ROLE_PATH,
        versions={V1: [simple("SELECT email FROM users WHERE id = 1")]},
        migration_sql="ALTER TABLE users SET SCHEMA s2",
        users={V1: R10_ROLE},
    ),
    Case(
        id="safe-partial-arbiter-recreated-identically",
        schema_sql=R9_PARTIAL,
        versions={
            V1: [
                extended(
                    "INSERT INTO users (email) VALUES (%s) ON CONFLICT (email) WHERE active DO "
                    "NOTHING",
                    "ann",
                )
            ]
        },
        migration_sql="BEGIN; DROP INDEX users_active_email; CREATE UNIQUE INDEX "
        "users_active_email2 ON users (email) WHERE active; COMMIT",
    ),
    Case(
        id="safe-policy-recreated-with-equivalent-check-vs-writer",
        schema_sql=R9_RLS,
        versions={
            V1: [extended("INSERT INTO docs (tenant, body) VALUES (%s, %s)", 2, "b")],
            V2: [simple("UPDATE docs SET body = 'z' WHERE tenant = 1")],
        },
        migration_sql="BEGIN; DROP POLICY docs_all ON docs; CREATE POLICY docs_all ON docs "
        "FOR ALL USING (true) WITH CHECK (tenant IS NOT NULL); COMMIT",
        note="tenant is NOT NULL: the new check admits every row the old one did",
        users={V1: R9_ROLE, V2: R9_ROLE},
    ),
    Case(
        id="safe-trigger-function-replaced-fills-field",
        schema_sql=R10_TRIGGER,
        versions={V1: [extended("INSERT INTO items (kind) VALUES (%s)", "bad")]},
        migration_sql="CREATE OR REPLACE FUNCTION items_guard() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN NEW.qty := coalesce(NEW.qty, 1); RETURN NEW; END $$",
    ),
    Case(
        id="safe-trigger-function-replaced-raises-for-unwritten-values",
        schema_sql=R10_TRIGGER,
        versions={
            V1: [extended("INSERT INTO items (kind) VALUES (%s)", "ok")],
            V2: [simple("INSERT INTO items (kind) VALUES ('fine')")],
        },
        migration_sql=R10_RAISE_BAD.format("evil"),
    ),
    Case(
        id="safe-view-check-option-added-vs-complying-writer",
        schema_sql=R10_VIEWED,
        versions={
            V1: [simple("INSERT INTO ok_items (kind, qty) VALUES ('y', 3)")],
            V2: [prepared("SELECT kind FROM ok_items WHERE id = %s", 1)],
        },
        migration_sql=R10_OK_ITEMS + " WITH LOCAL CHECK OPTION",
    ),
    Case(
        id="safe-view-security-barrier-set",
        schema_sql=R10_VIEWED,
        versions={
            V1: [prepared("SELECT kind FROM ok_items WHERE id = %s", 1)],
            V2: [simple("INSERT INTO ok_items (kind, qty) VALUES ('y', 3)")],
        },
        migration_sql="ALTER VIEW ok_items SET (security_barrier = true)",
    ),
    Case(
        id="safe-set-default-nextval-sequence-ahead",
        schema_sql=R10_ITEMS,
        versions={V1: [extended("INSERT INTO items (kind) VALUES (%s)", "n")]},
        migration_sql="CREATE SEQUENCE items_id_seq2 START 100000;"
        " ALTER TABLE items ALTER COLUMN id SET DEFAULT nextval('items_id_seq2')",
    ),
    Case(
        id="safe-replica-identity-full",
        schema_sql=R10_ITEMS,
        versions={
            V1: [extended("UPDATE items SET qty = %s WHERE id = %s", 2, 1)],
            V2: [simple("DELETE FROM items WHERE kind = 'none'")],
        },
        migration_sql="ALTER TABLE items REPLICA IDENTITY FULL",
    ),
    Case(
        id="safe-attach-partition-vs-inserters",
        schema_sql=R10_PARTS + "CREATE TABLE m_2026 (id int, at date NOT NULL, v int);",
        versions={
            V1: [extended("INSERT INTO m (id, at, v) VALUES (%s, %s, %s)", 1, "2024-05-01", 1)],
            V2: [prepared("SELECT id, v FROM m WHERE at = %s", "2024-05-01")],
        },
        migration_sql="ALTER TABLE m ATTACH PARTITION m_2026 FOR VALUES FROM ('2026-01-01') TO "
        "('2027-01-01')",
    ),
    Case(
        id="safe-create-index-concurrently",
        schema_sql=R10_ITEMS,
        versions={
            V1: [prepared("SELECT id FROM items WHERE kind = %s", "ok")],
            V2: [simple("INSERT INTO items (kind) VALUES ('x')")],
        },
        migration_sql="CREATE INDEX CONCURRENTLY items_kind_idx ON items (kind)",
    ),
    Case(
        id="safe-set-statistics-and-storage",
        schema_sql=R10_ITEMS,
        versions={
            V1: [prepared("SELECT kind, qty FROM items WHERE id = %s", 1)],
            V2: [copy_in("COPY items (kind, qty) FROM STDIN", ("c", 3))],
        },
        migration_sql="ALTER TABLE items ALTER COLUMN kind SET STATISTICS 500;"
        " ALTER TABLE items ALTER COLUMN kind SET STORAGE EXTERNAL",
    ),
    Case(
        id="safe-comment-on-column-and-table",
        schema_sql=R10_ITEMS,
        versions={V1: [prepared("SELECT kind FROM items WHERE id = %s", 1)]},
        migration_sql="COMMENT ON COLUMN items.kind IS 'what it is'; COMMENT ON TABLE items IS "
        "'stock'",
    ),
    Case(
        id="safe-enum-add-value-vs-prepared-readers",
        schema_sql=MOODS,
        versions={
            V1: [prepared("SELECT m FROM moods WHERE id = %s", 1)],
            V2: [apg("SELECT id FROM moods WHERE m = $1", "happy")],
        },
        migration_sql="ALTER TYPE mood ADD VALUE 'meh'",
    ),
    Case(
        id="safe-inherit-added-vs-parent-readers",
        schema_sql=R10_FAMILY,
        versions={
            V1: [prepared("SELECT id, name FROM parent WHERE id = %s", 1)],
            V2: [simple("SELECT * FROM parent")],
            V3: [simple("INSERT INTO orphan VALUES (4, 'q', 'y')")],
        },
        migration_sql="ALTER TABLE orphan INHERIT parent",
    ),
    Case(
        id="safe-no-inherit-vs-readers",
        schema_sql=R10_FAMILY,
        versions={
            V1: [simple("SELECT name FROM parent")],
            V2: [prepared("SELECT extra FROM child WHERE id = %s", 2)],
        },
        migration_sql="ALTER TABLE child NO INHERIT parent",
    ),
    Case(
        id="safe-disable-trigger",
        schema_sql=R10_TRIGGER,
        versions={V1: [extended("INSERT INTO items (kind) VALUES (%s)", "x")]},
        migration_sql="ALTER TABLE items DISABLE TRIGGER items_guard",
    ),
    Case(
        id="safe-set-unlogged",
        schema_sql=R10_ITEMS,
        versions={
            V1: [prepared("SELECT kind FROM items WHERE id = %s", 1)],
            V2: [simple("INSERT INTO items (kind) VALUES ('u')")],
        },
        migration_sql="ALTER TABLE items SET UNLOGGED",
    ),
    Case(
        id="safe-sequence-increment-changed",
        schema_sql=R10_ITEMS,
        versions={
            V1: [extended("INSERT INTO items (kind) VALUES (%s)", "i")],
            V2: [simple("SELECT nextval('items_id_seq')")],
        },
        migration_sql="ALTER SEQUENCE items_id_seq INCREMENT BY 10",
    ),
    Case(
        id="safe-view-dropped-and-recreated-other-filter-vs-prepared-star",
        schema_sql=R10_VIEWED,
        versions={
            V1: [prepared("SELECT * FROM ok_items WHERE id = %s", 1)],
            V2: [apg("SELECT kind FROM ok_items WHERE id = $1", 1)],
        },
        migration_sql="BEGIN; DROP VIEW ok_items; CREATE VIEW ok_items AS SELECT id, kind, qty "
        "FROM items WHERE qty >= 0; COMMIT",
        note="a new view of the same columns: the held statement re-plans into it",
    ),
    Case(
        id="safe-rename-check-constraint-vs-writers",
        schema_sql=R10_ITEMS + "ALTER TABLE items ADD CONSTRAINT qty_pos CHECK (qty > 0);",
        versions={V1: [extended("INSERT INTO items (kind, qty) VALUES (%s, %s)", "r", 2)]},
        migration_sql="ALTER TABLE items RENAME CONSTRAINT qty_pos TO items_qty_positive",
    ),
    Case(
        id="safe-function-security-definer-and-search-path",
        schema_sql=R9_FUNC,
        versions={V1: [prepared("SELECT f(%s)", 1)], V2: [simple("SELECT f(2)")]},
        migration_sql="ALTER FUNCTION f(int) SECURITY DEFINER;"
        " ALTER FUNCTION f(int) SET search_path = public",
    ),
    Case(
        id="safe-set-fillfactor-and-statistics-object",
        schema_sql=R10_ITEMS,
        versions={V1: [prepared("SELECT kind, qty FROM items WHERE id = %s", 1)]},
        migration_sql="ALTER TABLE items SET (fillfactor = 70);"
        " CREATE STATISTICS items_stats ON kind, qty FROM items",
    ),
    Case(
        id="safe-column-grant-narrowed-vs-granted-columns-reader",
        schema_sql=R10_GRANTED,
        versions={
            V1: [extended("SELECT email FROM users WHERE id = %s", 1)],
            V2: [simple("UPDATE users SET name = 'n' WHERE email = 'ann'")],
        },
        migration_sql=R10_NARROW_READ,
        users={V1: R10_ROLE, V2: R10_ROLE},
    ),
]

ROUND10_SAFE += [
    Case(
        id="safe-set-schema-into-the-versions-own-first-schema",
        schema_sql=USERS + "CREATE SCHEMA s2;",
        versions={
            V1: [
                simple("SET search_path = s2, public"),
                simple("SELECT email FROM users WHERE id = 1"),
            ]
        },
        migration_sql="ALTER TABLE users SET SCHEMA s2",
        note="the bare name finds the moved table itself, not a shadow of it",
    ),
    Case(
        id="safe-function-int-to-bigint-vs-bound-int",
        schema_sql=R9_FUNC,
        versions={
            V1: [extended("SELECT f(%s)", 1)],
            V2: [apg("SELECT f($1)", 1)],
            V3: [prepared("SELECT f(%s)", 2)],
        },
        migration_sql="BEGIN; DROP FUNCTION f(int); CREATE FUNCTION f(a bigint) RETURNS int "
        "LANGUAGE sql AS 'SELECT a::int'; COMMIT",
    ),
    Case(
        id="safe-function-param-added-keeps-name-vs-named-notation",
        schema_sql=R9_FUNC,
        versions={V1: [simple("SELECT f(a => 1)")], V2: [extended("SELECT f(a => %s)", 1)]},
        migration_sql="BEGIN; DROP FUNCTION f(int); CREATE FUNCTION f(a int, b int DEFAULT 0) "
        "RETURNS int LANGUAGE sql AS 'SELECT a + b'; COMMIT",
    ),
]

ROUND10_SAFE += [
    Case(
        id="safe-enum-column-to-text-vs-literal-users",
        schema_sql=MOODS,
        versions={
            V1: [extended("SELECT id FROM moods WHERE m = %s", "happy")],
            V2: [simple("INSERT INTO moods (m) VALUES ('sad')")],
        },
        migration_sql="ALTER TABLE moods ALTER COLUMN m TYPE text",
    ),
]

ROUND10_BREAKING: list[Case] = [
    Case(
        id="break-prisma-enum-recreate-vs-prepared-reader",
        schema_sql=MOODS,
        versions={
            V1: [prepared("SELECT m FROM moods WHERE id = %s", 1)],
            V2: [extended("SELECT m FROM moods WHERE id = %s", 1)],
            V3: [simple("SELECT m FROM moods")],
        },
        migration_sql=R9_PRISMA_ENUM,
        breaks=frozenset({V1}),
        note="0A000: the held statement's result column has the new type's oid",
    ),
    Case(
        id="break-prisma-enum-recreate-vs-asyncpg-enum-param",
        schema_sql=MOODS,
        versions={
            V1: [apg("SELECT id FROM moods WHERE m = $1::mood", "happy")],
            V2: [apg("SELECT id FROM moods WHERE m::text = $1", "happy")],
        },
        migration_sql=R9_PRISMA_ENUM,
        breaks=frozenset({V1}),
        note="XX000 cache lookup failed for type: the parameter holds the old oid",
    ),
    Case(
        id="break-prisma-enum-recreate-vs-held-enum-writers",
        schema_sql=MOODS,
        versions={
            V1: [apg("INSERT INTO moods (m) VALUES ($1)", "sad")],
            V2: [prepared("SELECT id FROM moods WHERE m = %s", "happy")],
            V3: [extended("INSERT INTO moods (m) VALUES (%s)", "sad")],
        },
        migration_sql=R9_PRISMA_ENUM,
        breaks=frozenset({V1, V2}),
        note="the held statements' parameters were inferred as the old enum",
    ),
    Case(
        id="break-prisma-enum-recreate-drops-used-label",
        schema_sql=MOODS,
        versions={
            V1: [extended("SELECT id FROM moods WHERE m = %s::mood", "sad")],
            V2: [simple("SELECT id FROM moods WHERE m = 'happy'")],
        },
        migration_sql=R10_PRISMA_DROP_LABEL,
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-policy-with-check-narrowed-vs-writer",
        schema_sql=R9_RLS,
        versions={
            V1: [extended("INSERT INTO docs (tenant, body) VALUES (%s, %s)", 2, "b")],
            V2: [simple("INSERT INTO docs (tenant, body) VALUES (1, 'ok')")],
            V3: [simple("SELECT body FROM docs WHERE tenant = 2")],
        },
        migration_sql="ALTER POLICY docs_all ON docs WITH CHECK (tenant = 1)",
        users={V1: R9_ROLE, V2: R9_ROLE, V3: R9_ROLE},
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-policy-recreated-with-check-vs-updater",
        schema_sql=R9_RLS,
        versions={
            V1: [simple("UPDATE docs SET tenant = 3 WHERE id = 2")],
            V2: [simple("UPDATE docs SET body = 'z' WHERE tenant = 1")],
        },
        migration_sql="BEGIN; DROP POLICY docs_all ON docs; CREATE POLICY docs_all ON docs "
        "FOR ALL USING (true) WITH CHECK (tenant IN (1, 2)); COMMIT",
        users={V1: R9_ROLE, V2: R9_ROLE},
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-policy-split-per-command-vs-writer",
        schema_sql=R9_RLS,
        versions={
            V1: [simple("INSERT INTO docs (tenant, body) VALUES (5, 'x')")],
            V2: [simple("SELECT body FROM docs WHERE tenant = 5")],
        },
        migration_sql="BEGIN; DROP POLICY docs_all ON docs; CREATE POLICY docs_read ON docs "
        "FOR SELECT USING (true); CREATE POLICY docs_ins ON docs FOR INSERT WITH CHECK "
        "(tenant < 5); COMMIT",
        users={V1: R9_ROLE, V2: R9_ROLE},
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-function-param-renamed-vs-named-notation",
        schema_sql=R9_FUNC,
        versions={
            V1: [simple("SELECT f(a => 1)")],
            V2: [simple("SELECT f(1)")],
            V3: [extended("SELECT f(a := %s)", 2)],
        },
        migration_sql="BEGIN; DROP FUNCTION f(int); CREATE FUNCTION f(x int) RETURNS int "
        "LANGUAGE sql AS 'SELECT x + 1'; COMMIT",
        breaks=frozenset({V1, V3}),
    ),
    Case(
        id="break-function-int-to-text-vs-bound-int",
        schema_sql=R9_FUNC,
        versions={
            V1: [extended("SELECT f(%s)", 1)],
            V2: [apg("SELECT f($1)", 1)],
            V3: [simple("SELECT f('1')")],
        },
        migration_sql="BEGIN; DROP FUNCTION f(int); CREATE FUNCTION f(a text) RETURNS int "
        "LANGUAGE sql AS 'SELECT length(a)'; COMMIT",
        breaks=frozenset({V1, V2}),
        note="psycopg binds the int typed, asyncpg keeps the integer its prepare inferred",
    ),
    Case(
        id="break-set-schema-off-database-search-path",
        schema_sql=USERS + "CREATE SCHEMA s2; CREATE SCHEMA s3;" + R10_DB_PATH,
        versions={V1: [simple("SELECT email FROM users WHERE id = 1")]},
        migration_sql="ALTER TABLE users SET SCHEMA s3",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-set-schema-role-path-vs-other-role",
        schema_sql=R10_ROLE_PATH,
        versions={
            V1: [simple("SELECT email FROM users WHERE id = 1")],
            V2: [extended("SELECT name FROM users WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE users SET SCHEMA s2",
        users={V1: R10_ROLE},
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-trigger-function-replaced-now-raises",
        schema_sql=R10_TRIGGER,
        versions={
            V1: [extended("INSERT INTO items (kind) VALUES (%s)", "bad")],
            V2: [simple("INSERT INTO items (kind) VALUES ('ok')")],
        },
        migration_sql=R10_RAISE_BAD.format("bad"),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-new-statement-trigger-refuses-delete",
        schema_sql=R10_ITEMS,
        versions={
            V1: [simple("DELETE FROM items WHERE kind = 'zzz'")],
            V2: [simple("SELECT kind FROM items")],
        },
        migration_sql="CREATE FUNCTION no_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'no'; END $$; CREATE TRIGGER no_delete BEFORE DELETE ON items "
        "FOR EACH STATEMENT EXECUTE FUNCTION no_delete();",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-view-check-option-added-vs-insert-through-view",
        schema_sql=R10_VIEWED,
        versions={
            V1: [simple("INSERT INTO ok_items (kind, qty) VALUES ('z', 0)")],
            V2: [simple("INSERT INTO ok_items (kind, qty) VALUES ('y', 3)")],
            V3: [simple("SELECT kind FROM ok_items")],
        },
        migration_sql=R10_OK_ITEMS + " WITH CASCADED CHECK OPTION",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-set-default-nextval-restarting-sequence",
        schema_sql=R10_ITEMS,
        versions={
            V1: [extended("INSERT INTO items (kind) VALUES (%s)", "n")],
            V2: [
                simple(
                    "INSERT INTO items (id, kind) VALUES ((SELECT max(id) + 1000 FROM items), 'x')"
                )
            ],
        },
        migration_sql="CREATE SEQUENCE items_id_seq2;"
        " ALTER TABLE items ALTER COLUMN id SET DEFAULT nextval('items_id_seq2')",
        breaks=frozenset({V1}),
        note="23505: the new sequence starts below the keys already taken",
    ),
    Case(
        id="break-drop-serial-column-names-the-nextval-caller-not-the-inserter",
        schema_sql="CREATE TABLE tally (id serial PRIMARY KEY, ticket serial, note text);"
        " INSERT INTO tally (note) VALUES ('a');",
        versions={
            V1: [simple("SELECT nextval('tally_ticket_seq')")],
            V2: [extended("INSERT INTO tally (note) VALUES (%s)", "b")],
        },
        migration_sql="ALTER TABLE tally DROP COLUMN ticket",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-detach-partition-vs-routed-insert",
        schema_sql=R10_PARTS,
        versions={
            V1: [extended("INSERT INTO m (id, at, v) VALUES (%s, %s, %s)", 1, "2024-05-01", 1)],
            V2: [simple("INSERT INTO m (id, at, v) VALUES (2, '2025-05-01', 2)")],
            V3: [simple("SELECT count(*) FROM m")],
        },
        migration_sql="ALTER TABLE m DETACH PARTITION m_2024",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-column-grant-narrowed-vs-reader",
        schema_sql=R10_GRANTED,
        versions={
            V1: [simple("SELECT name FROM users WHERE id = 1")],
            V2: [extended("SELECT email FROM users WHERE id = %s", 1)],
        },
        migration_sql=R10_NARROW_READ,
        users={V1: R10_ROLE, V2: R10_ROLE},
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-column-update-grant-narrowed-vs-updater",
        schema_sql=R10_GRANTED,
        versions={
            V1: [extended("UPDATE users SET name = %s WHERE id = %s", "n", 1)],
            V2: [extended("UPDATE users SET email = %s WHERE id = %s", "ann", 1)],
        },
        migration_sql=f"BEGIN; REVOKE UPDATE ON users FROM {R10_ROLE};"
        f" GRANT UPDATE (email) ON users TO {R10_ROLE}; COMMIT",
        users={V1: R10_ROLE, V2: R10_ROLE},
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-enum-rename-value-vs-bound-writer",
        schema_sql=MOODS,
        versions={
            V1: [extended("INSERT INTO moods (m) VALUES (%s)", "sad")],
            V2: [simple("INSERT INTO moods (m) VALUES ('happy')")],
        },
        migration_sql="ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-domain-not-null-vs-null-writer",
        schema_sql="CREATE DOMAIN label AS text; CREATE TABLE tags (id serial PRIMARY KEY, "
        "l label); INSERT INTO tags (l) VALUES ('x');",
        versions={
            V1: [
                simple("INSERT INTO tags (l) VALUES (NULL)"),
                simple("DELETE FROM tags WHERE l IS NULL"),
            ],
            V2: [extended("INSERT INTO tags (l) VALUES (%s)", "y")],
        },
        migration_sql="ALTER DOMAIN label SET NOT NULL",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-add-column-vs-prepared-select-star-only",
        schema_sql=R10_ITEMS,
        versions={
            V1: [prepared("SELECT * FROM items WHERE id = %s", 1)],
            V2: [simple("SELECT * FROM items WHERE id = 1")],
            V3: [extended("SELECT * FROM items WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE items ADD COLUMN note text",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-view-rename-column-vs-reader",
        schema_sql=R10_VIEWED,
        versions={
            V1: [simple("SELECT kind FROM ok_items")],
            V2: [extended("SELECT qty FROM ok_items WHERE id = %s", 1)],
        },
        migration_sql="ALTER VIEW ok_items RENAME COLUMN kind TO item_kind",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-check-not-valid-vs-violating-writer",
        schema_sql=R10_ITEMS,
        versions={
            V1: [extended("INSERT INTO items (kind, qty) VALUES (%s, %s)", "neg", -1)],
            V2: [simple("INSERT INTO items (kind, qty) VALUES ('pos', 5)")],
        },
        migration_sql="ALTER TABLE items ADD CONSTRAINT qty_pos CHECK (qty > 0) NOT VALID",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-default-not-null-vs-omitting-writer",
        schema_sql=R10_ITEMS,
        versions={
            V1: [extended("INSERT INTO items (kind) VALUES (%s)", "d")],
            V2: [simple("INSERT INTO items (kind, qty) VALUES ('e', 2)")],
        },
        migration_sql="ALTER TABLE items ALTER COLUMN qty DROP DEFAULT",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-view-column-appended-vs-prepared-star",
        schema_sql=R10_VIEWED,
        versions={
            V1: [prepared("SELECT * FROM ok_items WHERE id = %s", 1)],
            V2: [simple("SELECT * FROM ok_items")],
        },
        migration_sql=R10_OK_ITEMS.replace("qty FROM", "qty, qty * 2 AS dbl FROM"),
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-revoke-execute-vs-non-owner-caller",
        schema_sql=R9_FUNC + "GRANT EXECUTE ON FUNCTION f(int) TO PUBLIC;",
        versions={
            V1: [simple("SELECT f(1)")],
            V2: [simple("SELECT 1")],
            V3: [simple("SELECT f(3)")],
        },
        migration_sql="REVOKE EXECUTE ON FUNCTION f(int) FROM PUBLIC",
        users={V1: R10_ROLE, V2: R10_ROLE},
        breaks=frozenset({V1}),
    ),
]

ROUND10_BREAKING += [
    Case(
        id="break-rename-partition-vs-direct-writer",
        schema_sql=R10_PARTS,
        versions={
            V1: [simple("INSERT INTO m_2024 (id, at, v) VALUES (1, '2024-02-02', 1)")],
            V2: [extended("INSERT INTO m (id, at, v) VALUES (%s, %s, %s)", 2, "2024-03-03", 2)],
        },
        migration_sql="ALTER TABLE m_2024 RENAME TO m_y2024",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-force-rls-vs-owner-writer",
        schema_sql=R9_RLS + f"ALTER TABLE docs OWNER TO {R9_ROLE}; DROP POLICY docs_all ON docs;"
        " CREATE POLICY docs_t1 ON docs USING (tenant = 1) WITH CHECK (tenant = 1);",
        versions={
            V1: [simple("INSERT INTO docs (tenant, body) VALUES (2, 'x')")],
            V2: [simple("SELECT 1")],
        },
        migration_sql="ALTER TABLE docs FORCE ROW LEVEL SECURITY",
        users={V1: R9_ROLE, V2: R9_ROLE},
        breaks=frozenset({V1}),
    ),
]


# ---------------------------------------------------------------------------- round 11

R11_F_INT = "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 1';"
R11_SUBS = """
CREATE TABLE subs (id serial PRIMARY KEY, email text NOT NULL,
                   status text NOT NULL DEFAULT 'active');
CREATE UNIQUE INDEX subs_active_email ON subs (email) WHERE status = 'active';
INSERT INTO subs (email) VALUES ('ann');
"""
R11_UPSERT_ACTIVE = simple(
    "INSERT INTO subs (email) VALUES ('bob') ON CONFLICT (email) WHERE status = 'active' DO NOTHING"
)
R11_UPSERT_ACTIVE_X = extended(
    "INSERT INTO subs (email, status) VALUES (%s, 'active')"
    " ON CONFLICT (email) WHERE status = 'active' DO UPDATE SET status = excluded.status",
    "cy",
)
R11_CODES = (
    "CREATE TABLE codes (id serial PRIMARY KEY, code varchar(20), n int, at timestamp);"
    " INSERT INTO codes (code, n, at) VALUES ('a', 5, '2024-01-01');"
)
R11_ITEMS = (
    "CREATE TABLE items (id serial PRIMARY KEY, qty int NOT NULL, price numeric(10,2), note text);"
    " INSERT INTO items (qty, price) VALUES (1, 2.5), (2, 3);"
)
R11_TICKETS = (
    "CREATE TABLE tickets (id int PRIMARY KEY, v text); INSERT INTO tickets VALUES (1, 'a');"
)
R11_ITICKETS = (
    "CREATE TABLE tickets (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text);"
    " INSERT INTO tickets (v) VALUES ('a');"
)
R11_TENANTS = """
CREATE SCHEMA tenant_a; CREATE SCHEMA tenant_b;
CREATE TABLE tenant_a.orders (id serial PRIMARY KEY, total int, note text);
CREATE TABLE tenant_b.orders (id serial PRIMARY KEY, total int, note text);
INSERT INTO tenant_a.orders (total, note) VALUES (1, 'x');
INSERT INTO tenant_b.orders (total, note) VALUES (2, 'y');
"""
R11_NORM = (
    USERS
    + """
CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower(t)';
CREATE UNIQUE INDEX users_norm_email ON users (norm(email));
"""
)
R11_ADDR = """
CREATE TYPE addr AS (street text, city text);
CREATE TABLE people (id serial PRIMARY KEY, a addr);
INSERT INTO people (a) VALUES (ROW('Main', 'Oslo'));
"""
R11_MV = (
    ORDERS
    + "CREATE MATERIALIZED VIEW totals AS SELECT user_id, sum(total) AS total, count(*) AS n FROM"
    " orders GROUP BY user_id;"
)
R11_LABEL_DOMAIN = (
    "CREATE DOMAIN label AS text; CREATE TABLE tags (id serial PRIMARY KEY, l label);"
    " INSERT INTO tags (l) VALUES ('a');"
)
R11_PRISMA_USER = (
    'CREATE TABLE "User" (id serial PRIMARY KEY, "email" text NOT NULL, "name" text);'
    """ INSERT INTO "User" ("email") VALUES ('ann');"""
)
R11_QMOODS = (
    "CREATE TYPE mood AS ENUM ('Happy', 'sad'); CREATE TABLE moods (id serial PRIMARY KEY, m mood);"
    " INSERT INTO moods (m) VALUES ('Happy');"
)

ROUND11_SAFE: list[Case] = [
    Case(
        id="safe-int-to-bigint-vs-held-where-and-any",
        schema_sql=R11_CODES,
        versions={
            V1: [apg("SELECT code FROM codes WHERE n = $1", 5)],
            V2: [apg("SELECT code FROM codes WHERE n = ANY($1)", [5])],
            V3: [prepared("UPDATE codes SET code = %s WHERE n = %s", "b", 5)],
        },
        migration_sql="ALTER TABLE codes ALTER COLUMN n TYPE bigint",
    ),
    Case(
        id="safe-varchar-to-text-and-timestamptz-vs-held-where",
        schema_sql=R11_CODES,
        versions={
            V1: [apg("SELECT n FROM codes WHERE code = $1", "a")],
            V2: [apg("SELECT n FROM codes WHERE at > $1", datetime(2020, 1, 1))],
        },
        migration_sql="ALTER TABLE codes ALTER COLUMN code TYPE text;"
        " ALTER TABLE codes ALTER COLUMN at TYPE timestamptz",
    ),
    Case(
        id="safe-function-int-to-text-vs-untyped-parameter",
        schema_sql=R11_F_INT,
        versions={
            V1: [extended("SELECT f(%s)", "5")],
            V2: [simple("SELECT f('5')")],
        },
        migration_sql="BEGIN; DROP FUNCTION f(int);"
        " CREATE FUNCTION f(a text) RETURNS int LANGUAGE sql AS 'SELECT length(a)'; COMMIT",
    ),
    Case(
        id="safe-partial-arbiter-with-literal-replaced-identically",
        schema_sql=R11_SUBS,
        versions={V1: [R11_UPSERT_ACTIVE], V2: [R11_UPSERT_ACTIVE_X]},
        migration_sql="CREATE UNIQUE INDEX subs_active_email2 ON subs (email) WHERE status ="
        " 'active';"
        " DROP INDEX subs_active_email",
    ),
    Case(
        id="safe-add-stored-generated-column-vs-copy-without-list",
        schema_sql="CREATE TABLE lines (id int, qty int, price numeric); INSERT INTO lines VALUES"
        " (1, 1, 1);",
        versions={
            V1: [copy_in("COPY lines FROM STDIN", (2, 1, 2))],
            V2: [simple("INSERT INTO lines VALUES (3, 3, 4)")],
        },
        migration_sql="ALTER TABLE lines ADD COLUMN amount numeric GENERATED ALWAYS AS (qty *"
        " price) STORED",
    ),
    Case(
        id="safe-set-generated-always-vs-overriding-system-value-writer",
        schema_sql=R11_ITICKETS,
        versions={
            V1: [
                simple(
                    "INSERT INTO tickets (id, v) OVERRIDING SYSTEM VALUE VALUES (100, 'x')"
                    " ON CONFLICT (id) DO NOTHING"
                )
            ],
            V2: [simple("INSERT INTO tickets (v) VALUES ('y')")],
        },
        migration_sql="ALTER TABLE tickets ALTER COLUMN id SET GENERATED ALWAYS",
    ),
    Case(
        id="safe-drop-identity-vs-explicit-id-writers",
        schema_sql=R11_ITICKETS,
        versions={
            V1: [
                extended(
                    "INSERT INTO tickets (id, v) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
                    50,
                    "x",
                )
            ],
            V2: [simple("SELECT id, v FROM tickets")],
        },
        migration_sql="ALTER TABLE tickets ALTER COLUMN id DROP IDENTITY",
    ),
    Case(
        id="safe-not-null-via-check-not-valid-validate-set-not-null",
        schema_sql=USERS,
        versions={
            V1: [simple("INSERT INTO users (email, name) VALUES ('c', 'C')")],
            V2: [extended("UPDATE users SET name = %s WHERE id = %s", "Z", 1)],
        },
        migration_sql="ALTER TABLE users ADD CONSTRAINT users_name_nn CHECK (name IS NOT NULL) NOT"
        " VALID;"
        " UPDATE users SET name = '' WHERE name IS NULL;"
        " ALTER TABLE users VALIDATE CONSTRAINT users_name_nn;"
        " ALTER TABLE users ALTER COLUMN name SET NOT NULL;"
        " ALTER TABLE users DROP CONSTRAINT users_name_nn",
    ),
    Case(
        id="safe-add-column-volatile-default-vs-positional-and-star",
        schema_sql=R11_ITEMS,
        versions={
            V1: [simple("INSERT INTO items VALUES (DEFAULT, 1, 2, 'n')")],
            V2: [
                simple("SELECT * FROM items WHERE id = 1"),
                extended("SELECT * FROM items WHERE id = %s", 1),
            ],
        },
        migration_sql="ALTER TABLE items ADD COLUMN created_at timestamptz NOT NULL DEFAULT"
        " clock_timestamp()",
    ),
    Case(
        id="safe-fk-not-valid-validate-vs-writer-referencing-existing",
        schema_sql=ORDERS,
        versions={
            V1: [
                simple(
                    "INSERT INTO orders (user_id, total) SELECT id, 1 FROM users WHERE email ="
                    " 'ann'"
                )
            ],
            V2: [extended("INSERT INTO orders (user_id, total) VALUES (%s, %s)", 2, 5)],
        },
        migration_sql="ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id)"
        " REFERENCES users (id) NOT VALID; ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk",
    ),
    Case(
        id="safe-unique-constraint-rebuilt-using-index-same-name",
        schema_sql=UNIQUE_EMAIL,
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email, name) VALUES ('bob', 'Bob')"
                    " ON CONFLICT ON CONSTRAINT users_email_key DO NOTHING"
                )
            ],
            V2: [
                extended(
                    "INSERT INTO users (email, name) VALUES (%s, %s)"
                    " ON CONFLICT (email) DO UPDATE SET name = excluded.name",
                    "ann",
                    "A",
                )
            ],
        },
        migration_sql="CREATE UNIQUE INDEX CONCURRENTLY users_email_new ON users (email)"
        " WITH (fillfactor = 90);"
        " BEGIN; ALTER TABLE users DROP CONSTRAINT users_email_key;"
        " ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_new;"
        " COMMIT",
    ),
    Case(
        id="safe-set-schema-with-compat-view-in-same-migration",
        schema_sql=USERS + "CREATE SCHEMA core;",
        versions={
            V1: [simple("SELECT email, name FROM users WHERE id = 1")],
            V2: [
                extended("UPDATE users SET name = %s WHERE id = %s", "Q", 2),
                simple("INSERT INTO users (email) VALUES ('z')"),
            ],
        },
        migration_sql="BEGIN; ALTER TABLE users SET SCHEMA core;"
        " CREATE VIEW public.users AS SELECT * FROM core.users; COMMIT",
    ),
    Case(
        id="safe-drop-column-in-the-other-tenant-schema",
        schema_sql=R11_TENANTS,
        versions={
            V1: [simple("SET search_path TO tenant_a"), simple("SELECT note FROM orders")],
            V2: [simple("SET search_path TO tenant_b"), simple("SELECT total FROM orders")],
        },
        migration_sql="ALTER TABLE tenant_b.orders DROP COLUMN note",
    ),
    Case(
        id="safe-matview-recreated-same-columns-vs-held-star",
        schema_sql=R11_MV,
        versions={
            V1: [apg("SELECT * FROM totals WHERE user_id = $1", 1)],
            V2: [prepared("SELECT total FROM totals WHERE user_id = %s", 2)],
        },
        migration_sql="BEGIN; DROP MATERIALIZED VIEW totals;"
        " CREATE MATERIALIZED VIEW totals WITH (fillfactor = 90) AS"
        " SELECT user_id, sum(total) AS total, count(*) AS n"
        " FROM orders WHERE qty > 0 GROUP BY user_id; COMMIT",
    ),
    Case(
        id="safe-table-behind-simple-view-vs-for-update-and-writer",
        schema_sql=R11_ITEMS,
        versions={
            V1: [
                simple("BEGIN"),
                simple("SELECT qty FROM items WHERE id = 1 FOR UPDATE"),
                simple("COMMIT"),
            ],
            V2: [simple("INSERT INTO items (qty) VALUES (5)")],
        },
        migration_sql="BEGIN; ALTER TABLE items RENAME TO items_v2;"
        " CREATE VIEW items AS SELECT * FROM items_v2; COMMIT",
    ),
    Case(
        id="safe-drop-unwritten-column-vs-returning-star-unnamed",
        schema_sql=R11_ITEMS,
        versions={
            V1: [
                simple("INSERT INTO items (qty) VALUES (1) RETURNING *"),
                extended("UPDATE items SET qty = %s WHERE id = %s RETURNING *", 2, 1),
            ],
        },
        migration_sql="ALTER TABLE items DROP COLUMN note",
    ),
    Case(
        id="safe-index-fillfactor-and-reindex-concurrently-vs-held-upsert",
        schema_sql=UNIQUE_EMAIL,
        versions={
            V1: [
                apg(
                    "INSERT INTO users (email, name) VALUES ($1, $2)"
                    " ON CONFLICT (email) DO UPDATE SET name = excluded.name",
                    "ann",
                    "A",
                )
            ],
            V2: [prepared("SELECT name FROM users WHERE email = %s", "ann")],
        },
        migration_sql="ALTER INDEX users_email_key SET (fillfactor = 80);"
        " REINDEX TABLE CONCURRENTLY users; ALTER TABLE users SET (autovacuum_vacuum_scale_factor"
        " = 0.05);"
        " VACUUM (ANALYZE) users",
    ),
    Case(
        id="safe-function-text-overload-added-then-int-dropped-vs-untyped-callers",
        schema_sql=R11_F_INT,
        versions={
            V1: [extended("SELECT f(%s)", "5")],
            V2: [simple("SELECT f('5')")],
        },
        migration_sql="CREATE FUNCTION f(a text) RETURNS int LANGUAGE sql AS 'SELECT length(a)';"
        " DROP FUNCTION f(int)",
    ),
]

ROUND11_BREAKING: list[Case] = [
    Case(
        id="break-enum-column-to-text-vs-held-enum-comparison",
        schema_sql=MOODS,
        versions={
            V1: [apg("SELECT id FROM moods WHERE m = $1", "happy")],
            V2: [
                apg("INSERT INTO moods (m) VALUES ($1)", "sad"),
                prepared("UPDATE moods SET m = %s WHERE id = -1", "sad"),
            ],
            V3: [prepared("SELECT id FROM moods WHERE m = %s", "happy")],
            V4: [
                simple("SELECT id FROM moods WHERE m = 'happy'"),
                extended("SELECT id FROM moods WHERE m = %s", "happy"),
            ],
        },
        migration_sql="ALTER TABLE moods ALTER COLUMN m TYPE text",
        breaks=frozenset({V1, V3}),
    ),
    Case(
        id="break-enum-column-to-text-vs-held-in-list-and-any",
        schema_sql=MOODS,
        versions={
            V1: [apg("SELECT id FROM moods WHERE m IN ($1, $2)", "happy", "sad")],
            V2: [apg("SELECT id FROM moods WHERE m = ANY($1)", ["happy"])],
            V3: [apg("SELECT id FROM moods WHERE id = $1", 1)],
        },
        migration_sql="ALTER TABLE moods ALTER COLUMN m TYPE text",
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="break-text-column-to-enum-vs-held-text-comparison",
        schema_sql="CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE TABLE moods (id serial"
        " PRIMARY KEY, m text);"
        " INSERT INTO moods (m) VALUES ('happy');",
        versions={
            V1: [apg("SELECT id FROM moods WHERE m = $1", "happy")],
            V2: [simple("SELECT id FROM moods WHERE m = 'happy'")],
        },
        migration_sql="ALTER TABLE moods ALTER COLUMN m TYPE mood USING m::mood",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-int-to-text-vs-typed-comparisons",
        schema_sql=R11_CODES,
        versions={
            V1: [apg("SELECT id FROM codes WHERE n = $1", 5)],
            V2: [simple("SELECT id FROM codes WHERE n = 5")],
            V3: [simple("SELECT id FROM codes WHERE n = '5'")],
        },
        migration_sql="ALTER TABLE codes ALTER COLUMN n TYPE text",
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="break-function-int-to-text-vs-typed-callers-not-untyped",
        schema_sql=R11_F_INT,
        versions={
            V1: [extended("SELECT f(%s)", "5")],
            V2: [extended("SELECT f(%s)", 5)],
            V3: [simple("SELECT f(5)")],
            V4: [apg("SELECT f($1)", 5)],
        },
        migration_sql="BEGIN; DROP FUNCTION f(int);"
        " CREATE FUNCTION f(a text) RETURNS int LANGUAGE sql AS 'SELECT length(a)'; COMMIT",
        breaks=frozenset({V2, V3, V4}),
    ),
    Case(
        id="break-partial-arbiter-literal-changed",
        schema_sql=R11_SUBS,
        versions={
            V1: [R11_UPSERT_ACTIVE],
            V2: [simple("INSERT INTO subs (email) VALUES ('dee') ON CONFLICT DO NOTHING")],
        },
        migration_sql="CREATE UNIQUE INDEX subs_live_email ON subs (email) WHERE status = 'live';"
        " DROP INDEX subs_active_email",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-add-stored-generated-column-vs-held-star-not-writers",
        schema_sql=R11_ITEMS,
        versions={
            V1: [apg("SELECT * FROM items WHERE id = $1", 1)],
            V2: [
                apg("INSERT INTO items (qty, price) VALUES ($1, $2)", 1, 2),
                simple("SELECT * FROM items"),
            ],
        },
        migration_sql="ALTER TABLE items ADD COLUMN amount numeric GENERATED ALWAYS AS (qty *"
        " price) STORED",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-generated-column-dropped-and-readded-plain-vs-reader-ok-writer-ok",
        schema_sql=R11_ITEMS
        + "ALTER TABLE items ADD COLUMN amount numeric GENERATED ALWAYS AS (qty * price) STORED;",
        versions={
            V1: [simple("SELECT amount FROM items")],
            V2: [simple("INSERT INTO items (qty, price) VALUES (1, 1)")],
            V3: [prepared("SELECT amount FROM items WHERE id = %s", 1)],
        },
        migration_sql="ALTER TABLE items ALTER COLUMN amount DROP EXPRESSION;"
        " ALTER TABLE items ALTER COLUMN amount TYPE numeric(12,2)",
        breaks=frozenset({V3}),
    ),
    Case(
        id="break-add-identity-always-vs-explicit-id-writer",
        schema_sql=R11_TICKETS,
        versions={
            V1: [
                simple("INSERT INTO tickets (id, v) VALUES (100, 'x') ON CONFLICT (id) DO NOTHING")
            ],
            V2: [simple("SELECT v FROM tickets WHERE id = 1")],
        },
        migration_sql="ALTER TABLE tickets ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (START"
        " WITH 1000)",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-not-null-recipe-vs-omitting-and-null-writers",
        schema_sql=USERS,
        versions={
            V1: [simple("INSERT INTO users (email, name) VALUES ('c', 'C')")],
            V2: [simple("INSERT INTO users (email) VALUES ('d')")],
            V3: [simple("UPDATE users SET name = NULL WHERE id = -1")],
            V4: [
                simple("UPDATE users SET name = NULL WHERE email = 'nobody'"),
                simple("INSERT INTO users (email, name) VALUES ('e', NULL)"),
            ],
        },
        migration_sql="ALTER TABLE users ADD CONSTRAINT users_name_nn CHECK (name IS NOT NULL) NOT"
        " VALID;"
        " UPDATE users SET name = '' WHERE name IS NULL;"
        " ALTER TABLE users VALIDATE CONSTRAINT users_name_nn;"
        " ALTER TABLE users ALTER COLUMN name SET NOT NULL;"
        " ALTER TABLE users DROP CONSTRAINT users_name_nn",
        breaks=frozenset({V2, V4}),
    ),
    Case(
        id="break-unique-constraint-to-plain-index-vs-on-constraint-only",
        schema_sql=UNIQUE_EMAIL,
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email, name) VALUES ('bob', 'Bob')"
                    " ON CONFLICT ON CONSTRAINT users_email_key DO NOTHING"
                )
            ],
            V2: [
                extended(
                    "INSERT INTO users (email, name) VALUES (%s, %s)"
                    " ON CONFLICT (email) DO UPDATE SET name = excluded.name",
                    "ann",
                    "A",
                )
            ],
        },
        migration_sql="CREATE UNIQUE INDEX CONCURRENTLY users_email_idx ON users (email);"
        " ALTER TABLE users DROP CONSTRAINT users_email_key",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-column-in-one-tenant-schema",
        schema_sql=R11_TENANTS,
        versions={
            V1: [simple("SET search_path TO tenant_a"), simple("SELECT total FROM orders")],
            V2: [simple("SET search_path TO tenant_b"), simple("SELECT total FROM orders")],
        },
        migration_sql="ALTER TABLE tenant_a.orders RENAME COLUMN total TO amount",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-matview-recreated-without-a-column",
        schema_sql=R11_MV,
        versions={
            V1: [simple("SELECT n FROM totals")],
            V2: [
                simple("SELECT user_id, total FROM totals"),
                simple("REFRESH MATERIALIZED VIEW totals"),
            ],
        },
        migration_sql="BEGIN; DROP MATERIALIZED VIEW totals;"
        " CREATE MATERIALIZED VIEW totals AS SELECT user_id, sum(total) AS total FROM orders GROUP"
        " BY user_id;"
        " COMMIT",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-drop-unread-column-vs-copy-without-list",
        schema_sql=R11_ITEMS,
        versions={
            V1: [copy_in("COPY items FROM STDIN", (200, 1, 1, "x"))],
            V2: [copy_in("COPY items (qty, price) FROM STDIN", (1, 1))],
            V3: [simple("SELECT qty FROM items")],
        },
        migration_sql="ALTER TABLE items DROP COLUMN note",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-add-column-vs-prepared-returning-star-only",
        schema_sql=R11_ITEMS,
        versions={
            V1: [
                simple("INSERT INTO items (qty) VALUES (1) RETURNING *"),
                extended("INSERT INTO items (qty) VALUES (%s) RETURNING *", 2),
            ],
            V2: [prepared("INSERT INTO items (qty) VALUES (%s) RETURNING *", 3)],
        },
        migration_sql="ALTER TABLE items ADD COLUMN sku text",
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-rename-mixed-case-enum-label",
        schema_sql=R11_QMOODS,
        versions={
            V1: [simple("INSERT INTO moods (m) VALUES ('Happy')")],
            V2: [simple("INSERT INTO moods (m) VALUES ('sad')")],
        },
        migration_sql="ALTER TYPE mood RENAME VALUE 'Happy' TO 'happy'",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-prisma-text-to-varchar-vs-held-reader-not-held-writer",
        schema_sql=R11_PRISMA_USER,
        versions={
            V1: [apg('INSERT INTO "User" ("email", "name") VALUES ($1, $2)', "bo", "B")],
            V2: [apg('SELECT "email" FROM "User" WHERE id = $1', 1)],
            V3: [apg('SELECT id FROM "User" WHERE "email" = $1', "ann")],
        },
        migration_sql='ALTER TABLE "User" ALTER COLUMN "email" SET DATA TYPE VARCHAR(191)',
        breaks=frozenset({V2}),
    ),
    Case(
        id="break-drop-function-cascade-drops-expression-arbiter",
        schema_sql=R11_NORM,
        versions={
            V1: [
                simple(
                    "INSERT INTO users (email) VALUES ('Ann') ON CONFLICT (norm(email)) DO NOTHING"
                )
            ],
            V2: [simple("SELECT id FROM users WHERE lower(email) = 'ann'")],
        },
        migration_sql="DROP FUNCTION norm(text) CASCADE",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-domain-check-not-valid-vs-violating-writer-only",
        schema_sql=R11_LABEL_DOMAIN,
        versions={
            V1: [simple("INSERT INTO tags (l) VALUES ('')")],
            V2: [simple("INSERT INTO tags (l) VALUES ('b')")],
            V3: [simple("SELECT l FROM tags")],
        },
        migration_sql="ALTER DOMAIN label ADD CONSTRAINT label_nonempty CHECK (VALUE <> '') NOT"
        " VALID",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-rename-composite-attribute-vs-field-reader",
        schema_sql=R11_ADDR,
        versions={
            V1: [simple("SELECT (a).city FROM people")],
            V2: [simple("SELECT a FROM people"), simple("SELECT (a).street FROM people")],
            V3: [simple("INSERT INTO people (a) VALUES (ROW('x', 'y'))")],
        },
        migration_sql="ALTER TYPE addr RENAME ATTRIBUTE city TO town",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-function-text-overload-added-then-int-dropped-vs-typed-callers",
        schema_sql=R11_F_INT,
        versions={
            V1: [extended("SELECT f(%s)", "5")],
            V2: [extended("SELECT f(%s)", 5)],
            V3: [apg("SELECT f($1)", 5)],
        },
        migration_sql="CREATE FUNCTION f(a text) RETURNS int LANGUAGE sql AS 'SELECT length(a)';"
        " DROP FUNCTION f(int)",
        breaks=frozenset({V2, V3}),
    ),
]


CASES: list[Case] = (
    SAFE
    + BREAKING
    + CASCADE_SAFE
    + CASCADE_BREAKING
    + SCOPE_SAFE
    + SCOPE_BREAKING
    + VALUES_SAFE
    + VALUES_BREAKING
    + REPLAY_SAFE
    + REPLAY_BREAKING
    + PROBED_SAFE
    + PROBED_BREAKING
    + ROUND7_SAFE
    + ROUND7_BREAKING
    + ROUND8_SAFE
    + ROUND8_BREAKING
    + ROUND9_SAFE
    + ROUND9_BREAKING
    + ROUND10_SAFE
    + ROUND10_BREAKING
    + ROUND11_SAFE
    + ROUND11_BREAKING
)

from tests.support.groundtruth_round12a import ROUND12A_BREAKING, ROUND12A_SAFE  # noqa: E402
from tests.support.groundtruth_round12b import CASES as ROUND12B  # noqa: E402

CASES += ROUND12A_SAFE + ROUND12A_BREAKING + ROUND12B
from tests.support.groundtruth_roles import CASES as ROLES  # noqa: E402

CASES += ROLES
from tests.support.groundtruth_round13b import CASES as ROUND13B  # noqa: E402

CASES += ROUND13B
from tests.support.groundtruth_plpgsql import CASES as PLPGSQL  # noqa: E402

CASES += PLPGSQL
from tests.support.groundtruth_temporary import CASES as TEMPORARY  # noqa: E402

CASES += TEMPORARY
from tests.support.groundtruth_extensions import CASES as EXTENSIONS  # noqa: E402

CASES += EXTENSIONS
from tests.support.groundtruth_functions2 import CASES as FUNCTIONS2  # noqa: E402

CASES += FUNCTIONS2
from tests.support.groundtruth_views2 import CASES as VIEWS2  # noqa: E402

CASES += VIEWS2
from tests.support.groundtruth_additions import CASES as ADDITIONS  # noqa: E402

CASES += ADDITIONS
from tests.support.groundtruth_grants import CASES as GRANTS  # noqa: E402

CASES += GRANTS
from tests.support.groundtruth_composites import CASES as COMPOSITES  # noqa: E402

CASES += COMPOSITES
from tests.support.groundtruth_round13a import CASES as ROUND13A  # noqa: E402

CASES += ROUND13A
from tests.support.groundtruth_round14 import CASES as ROUND14  # noqa: E402

CASES += ROUND14
from tests.support.groundtruth_fuzzed import CASES as FUZZED  # noqa: E402

CASES += FUZZED
from tests.support.groundtruth_round15a import CASES as ROUND15A  # noqa: E402

CASES += ROUND15A
from tests.support.groundtruth_round15b import CASES as ROUND15B  # noqa: E402

CASES += ROUND15B
from tests.support.groundtruth_round16 import CASES as ROUND16  # noqa: E402

CASES += ROUND16
from tests.support.groundtruth_lifecycle import CASES as LIFECYCLE  # noqa: E402

CASES += LIFECYCLE
from tests.support.groundtruth_round17 import CASES as ROUND17  # noqa: E402

CASES += ROUND17
from tests.support.groundtruth_round18 import CASES as ROUND18  # noqa: E402

CASES += ROUND18
from tests.support.groundtruth_round19 import CASES as ROUND19  # noqa: E402

CASES += ROUND19
