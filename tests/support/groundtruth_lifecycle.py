"""Lifecycle ground-truth cases: rollback targets, retired versions, multi-step deploys.

Every other case is one migration with every version live. Here the proxy's promise
about a deploy's lifecycle is judged by experiment (DESIGN.md: protected = running +
rollback window, minus explicitly retired): a version that ran and stopped before the
migration (``offline``: the rollback target, still protected; PostgreSQL judges it on
fresh connections only, so what only a held prepared statement suffers does not break
it), a version an operator retired (PostgreSQL may break it, the proxy must not block
for it), and expand/contract as teams ship it, in steps with traffic between them
(expand, deploy and learn the new version, contract while the old one is live, a
rollback target, or retired). See tests/support/groundtruth.py (``Step``,
``must_name``).

Each case uses apps of its own: retiring is global in the proxy's state.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, Step, apg, copy_in, extended, prepared, simple


def _versions(app: str) -> tuple[str, str, str]:
    return f"{app}@1", f"{app}@2", f"{app}@3"


# ----------------------------------------------------------------------------- rename
# Rename ``users.name`` to ``full_name`` the expand/contract way: add the new column
# and let the old one take NULLs, backfill, deploy a version on the new column, then
# drop the old one.
USERS = """
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO users (name, email) VALUES ('ann', 'a@x'), ('bob', 'b@x');
"""
EXPAND = """
ALTER TABLE users ADD COLUMN full_name text;
ALTER TABLE users ALTER COLUMN name DROP NOT NULL;
UPDATE users SET full_name = name WHERE full_name IS NULL;
"""
CONTRACT = "ALTER TABLE users DROP COLUMN name"
ON_NAME: list[str | Q] = [
    prepared("SELECT id, name FROM users WHERE id = %s", 1),
    extended("INSERT INTO users (name, email) VALUES (%s, %s)", "cy", "c@x"),
]
ON_FULL_NAME: list[str | Q] = [
    prepared("SELECT id, full_name FROM users WHERE id = %s", 1),
    extended("INSERT INTO users (full_name, email) VALUES (%s, %s)", "di", "d@x"),
]
# a version that still writes both columns (the dual-write release)
DUAL_WRITE: list[str | Q] = [
    prepared("SELECT id, full_name FROM users WHERE id = %s", 1),
    extended("INSERT INTO users (name, full_name) VALUES (%s, %s)", "ed", "ed"),
]
# a dual-write trigger keeps the old version's rows whole in the new column
SYNC_TRIGGER = """
CREATE FUNCTION users_sync_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.full_name := coalesce(NEW.full_name, NEW.name);
  NEW.name := coalesce(NEW.name, NEW.full_name);
  RETURN NEW;
END $$;
CREATE TRIGGER users_sync_name BEFORE INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION users_sync_name();
"""


def _rename_cases() -> list[Case]:
    a1, a2, _ = _versions("lc-rename-live")
    b1, b2, _ = _versions("lc-rename-target")
    c1, c2, _ = _versions("lc-rename-retired")
    d1, d2, _ = _versions("lc-rename-dual")
    e1, e2, _ = _versions("lc-rename-trigger")
    f1, f2, _ = _versions("lc-rename-notnull")
    g1, g2, _ = _versions("lc-rename-oneshot")
    return [
        Case(
            "break-lifecycle-contract-while-v1-live",
            USERS,
            {a1: ON_NAME},
            CONTRACT,
            breaks=frozenset({a1}),
            note="expand, deploy v2 on the new column, then drop the old one while v1 "
            "still runs: v1's statements name the dropped column",
            steps=(Step(EXPAND, {a2: ON_FULL_NAME}),),
        ),
        Case(
            "break-lifecycle-contract-names-only-the-rollback-target",
            USERS,
            {b1: ON_NAME},
            CONTRACT,
            breaks=frozenset({b1}),
            note="v1 stopped after v2 rolled out: it is the rollback target, and a "
            "rollback to it would fail on the dropped column; live v2 is untouched",
            steps=(Step(EXPAND, {b2: ON_FULL_NAME}, offline=frozenset({b1})),),
        ),
        Case(
            "safe-lifecycle-contract-after-v1-retired",
            USERS,
            {c1: ON_NAME},
            CONTRACT,
            breaks=frozenset({c1}),
            note="v1 stopped and was retired: only v1 would fail, and it will never "
            "run again, so the contract step must pass",
            steps=(
                Step(EXPAND, {c2: ON_FULL_NAME}, offline=frozenset({c1}), retired=frozenset({c1})),
            ),
        ),
        Case(
            "break-lifecycle-contract-while-v2-still-dual-writes",
            USERS,
            {d1: ON_NAME},
            CONTRACT,
            breaks=frozenset({d1, d2}),
            note="v1 is retired, but the live dual-write release v2 still inserts the "
            "old column: the block names v2, never the retired v1",
            steps=(
                Step(EXPAND, {d2: DUAL_WRITE}, offline=frozenset({d1}), retired=frozenset({d1})),
            ),
        ),
        Case(
            "safe-lifecycle-contract-drops-the-sync-trigger-first",
            USERS,
            {e1: ON_NAME},
            f"DROP TRIGGER users_sync_name ON users; DROP FUNCTION users_sync_name(); {CONTRACT}",
            breaks=frozenset({e1}),
            note="rename through a dual-write trigger: once v1 is retired the contract "
            "drops the trigger, its function and the old column",
            steps=(
                Step(
                    EXPAND + SYNC_TRIGGER,
                    {e2: ON_FULL_NAME},
                    offline=frozenset({e1}),
                    retired=frozenset({e1}),
                ),
            ),
        ),
        Case(
            "safe-lifecycle-set-not-null-on-the-new-column-kept-by-trigger",
            USERS,
            {f1: ON_NAME},
            "ALTER TABLE users ALTER COLUMN full_name SET NOT NULL",
            note="v1 still runs and inserts only the old column, but the sync trigger "
            "fills the new one, so SET NOT NULL on it breaks no one",
            steps=(Step(EXPAND + SYNC_TRIGGER, {f2: ON_FULL_NAME}),),
        ),
        Case(
            "break-lifecycle-rails-rename-column-rollback-target",
            USERS,
            {g1: ON_NAME},
            "ALTER TABLE users RENAME COLUMN name TO full_name",
            breaks=frozenset({g1, g2}),
            note="done wrong: a one-shot rename_column after v1 stopped; v1 is the "
            "rollback target, and v2 (shipped on the old name) is live too",
            offline=frozenset({g1}),
            steps=(Step("", {g2: [simple("SELECT id, name, email FROM users")]}),),
        ),
    ]


# ------------------------------------------------------------------- Rails and Django
POSTS = """
CREATE TABLE posts (id bigserial PRIMARY KEY, title text NOT NULL, legacy_flag boolean);
INSERT INTO posts (title, legacy_flag) VALUES ('a', true), ('b', false);
"""
# ActiveRecord selects "posts".* with a prepared statement; a release that lists the
# column in ignored_columns selects the columns it knows instead
RAILS_STAR: list[str | Q] = [
    prepared('SELECT "posts".* FROM "posts" WHERE "posts"."id" = %s LIMIT %s', 1, 1)
]
RAILS_IGNORED: list[str | Q] = [
    prepared('SELECT "posts"."id", "posts"."title" FROM "posts" WHERE "posts"."id" = %s', 1)
]
ORDERS = """
CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);
INSERT INTO orders (total) VALUES (100), (250);
"""
ORDERS_V1: list[str | Q] = [
    extended("INSERT INTO orders (total) VALUES (%s)", 300),
    prepared("SELECT id, total FROM orders WHERE id = %s", 1),
]
ORDERS_V2: list[str | Q] = [
    extended("INSERT INTO orders (total, currency) VALUES (%s, %s)", 300, "USD"),
    prepared("SELECT id, total, currency FROM orders WHERE id = %s", 1),
]
# Django's AddField with a default: the default only fills the existing rows
DJANGO_ADD_FIELD = """
BEGIN;
ALTER TABLE orders ADD COLUMN currency text DEFAULT 'EUR' NOT NULL;
ALTER TABLE orders ALTER COLUMN currency DROP DEFAULT;
COMMIT;
"""


# a NOT NULL column in three steps: add it nullable, deploy a version writing it, give
# it a default (and backfill), then SET NOT NULL
ADD_NULLABLE = "ALTER TABLE orders ADD COLUMN currency text"
DEFAULT_AND_BACKFILL = """
ALTER TABLE orders ALTER COLUMN currency SET DEFAULT 'EUR';
UPDATE orders SET currency = 'EUR' WHERE currency IS NULL;
"""
BACKFILL_ONLY = "UPDATE orders SET currency = 'EUR' WHERE currency IS NULL"
SET_NOT_NULL = "ALTER TABLE orders ALTER COLUMN currency SET NOT NULL"


# an ORM's create(): a prepared INSERT ... RETURNING * (the row it builds its object from)
RETURNING_STAR: list[str | Q] = [
    prepared('INSERT INTO "posts" ("title") VALUES (%s) RETURNING *', "c")
]
# a bulk loader copying whole rows, no column list
COPY_POSTS: list[str | Q] = [copy_in("COPY posts (title, legacy_flag) FROM STDIN", ("d", True))]
LINES = ORDERS + "CREATE TABLE order_lines (order_id int NOT NULL, qty int NOT NULL);"
COPY_LINES: list[str | Q] = [copy_in("COPY order_lines FROM STDIN", (1, 5))]


def _framework_cases() -> list[Case]:
    a1, a2, _ = _versions("lc-rails-live")
    b1, b2, _ = _versions("lc-rails-target")
    c1 = _versions("lc-django-target")[0]
    d1, d2, _ = _versions("lc-django-right")
    e1, e2, _ = _versions("lc-django-done")
    f1, f2, _ = _versions("lc-notnull-default")
    g1, g2, _ = _versions("lc-notnull-bare")
    h1, h2, _ = _versions("lc-returning-live")
    i1, i2, _ = _versions("lc-returning-target")
    j1, j2, _ = _versions("lc-copy-target")
    return [
        Case(
            "break-lifecycle-returning-star-held-while-v1-live",
            POSTS,
            {h1: RETURNING_STAR, h2: RAILS_IGNORED},
            "ALTER TABLE posts DROP COLUMN legacy_flag",
            breaks=frozenset({h1}),
            note="v1's prepared INSERT ... RETURNING * changes result type (0A000)",
        ),
        Case(
            "safe-lifecycle-returning-star-rollback-target",
            POSTS,
            {i1: RETURNING_STAR + COPY_POSTS, i2: RAILS_IGNORED},
            "ALTER TABLE posts ADD COLUMN slug text",
            note="a column added under a stopped version's RETURNING * and its COPY with a "
            "list: prepared anew, both work",
            offline=frozenset({i1}),
        ),
        Case(
            "break-lifecycle-copy-without-columns-rollback-target",
            LINES,
            {j1: COPY_LINES, j2: ORDERS_V1},
            "ALTER TABLE order_lines ADD COLUMN note text",
            breaks=frozenset({j1}),
            note="the stopped loader copies whole rows without a column list: a rollback "
            "to it sends a column too few (22P04)",
            offline=frozenset({j1}),
        ),
        Case(
            "safe-lifecycle-set-not-null-after-a-default-step-while-v1-live",
            ORDERS,
            {f1: ORDERS_V1},
            SET_NOT_NULL,
            note="three steps done right: the default given before SET NOT NULL fills "
            "the column for v1's inserts, which never name it",
            steps=(Step(ADD_NULLABLE, {f2: ORDERS_V2}), Step(DEFAULT_AND_BACKFILL)),
        ),
        Case(
            "break-lifecycle-set-not-null-without-a-default-rollback-target",
            ORDERS,
            {g1: ORDERS_V1},
            f"BEGIN; {BACKFILL_ONLY}; {SET_NOT_NULL}; COMMIT;",
            breaks=frozenset({g1}),
            note="backfilled but no default: v1 stopped, and a rollback to it inserts "
            "without the column (23502)",
            steps=(Step(ADD_NULLABLE, {g2: ORDERS_V2}, offline=frozenset({g1})),),
        ),
        Case(
            "break-lifecycle-rails-ignored-columns-while-v1-holds-select-star",
            POSTS,
            {a1: RAILS_STAR, a2: RAILS_IGNORED},
            "ALTER TABLE posts DROP COLUMN legacy_flag",
            breaks=frozenset({a1}),
            note="v2 ignores the column, but v1 still runs and its prepared "
            "SELECT posts.* changes result type when the column goes",
        ),
        Case(
            "safe-lifecycle-rails-ignored-columns-select-star-rollback-target",
            POSTS,
            {b1: RAILS_STAR, b2: RAILS_IGNORED},
            "ALTER TABLE posts DROP COLUMN legacy_flag",
            note="v1 stopped: a rollback to it prepares SELECT posts.* anew on the new "
            "table, which works; nothing holds the old plan",
            offline=frozenset({b1}),
        ),
        Case(
            "break-lifecycle-django-add-field-drops-default-rollback-target",
            ORDERS,
            {c1: ORDERS_V1},
            DJANGO_ADD_FIELD,
            breaks=frozenset({c1}),
            note="done wrong: Django adds the NOT NULL column with a default and drops "
            "the default; v1 stopped, but a rollback to it inserts without the column",
            offline=frozenset({c1}),
        ),
        Case(
            "safe-lifecycle-django-db-default-kept-while-v1-live",
            ORDERS,
            {d1: ORDERS_V1},
            "ALTER TABLE orders ALTER COLUMN currency SET DEFAULT 'USD'",
            note="done right: the column came with a database default that stays; "
            "changing the default breaks neither v1 (live) nor v2",
            steps=(
                Step(
                    "ALTER TABLE orders ADD COLUMN currency text DEFAULT 'EUR' NOT NULL",
                    {d2: ORDERS_V2},
                ),
            ),
        ),
        Case(
            "safe-lifecycle-django-drop-default-after-v1-retired",
            ORDERS,
            {e1: ORDERS_V1},
            "ALTER TABLE orders ALTER COLUMN currency DROP DEFAULT",
            breaks=frozenset({e1}),
            note="the default is dropped once v1 (which inserts without the column) is "
            "retired; v2 always writes it",
            steps=(
                Step(
                    "ALTER TABLE orders ADD COLUMN currency text DEFAULT 'EUR' NOT NULL",
                    {e2: ORDERS_V2},
                    offline=frozenset({e1}),
                    retired=frozenset({e1}),
                ),
            ),
        ),
    ]


# --------------------------------------------------------------- tables and functions
PRICE = """
CREATE TABLE items (id int PRIMARY KEY, cents int NOT NULL, qty int NOT NULL);
INSERT INTO items VALUES (1, 150, 2), (2, 990, 1);
CREATE FUNCTION price(cents int) RETURNS numeric LANGUAGE sql IMMUTABLE
  AS 'SELECT cents / 100.0';
"""
PRICE_V1: list[str | Q] = [extended("SELECT id, price(cents) FROM items WHERE id = %s", 1)]
PRICE_V2: list[str | Q] = [
    extended("SELECT id, price_in(cents, %s) FROM items WHERE id = %s", "EUR", 1)
]
PRICE_IN = """
CREATE FUNCTION price_in(cents int, currency text) RETURNS numeric LANGUAGE sql IMMUTABLE
  AS 'SELECT cents / 100.0';
"""
RENAME_TABLE = """
BEGIN;
ALTER TABLE users RENAME TO accounts;
CREATE VIEW users AS SELECT id, name, email FROM accounts;
COMMIT;
"""
ACCOUNTS_V2: list[str | Q] = [
    prepared("SELECT id, name FROM accounts WHERE id = %s", 1),
    extended("INSERT INTO accounts (name, email) VALUES (%s, %s)", "fe", "f@x"),
]
QTY_V1_HELD: list[str | Q] = [apg("SELECT id, qty FROM items WHERE id = $1", 1)]
QTY_V2: list[str | Q] = [simple("SELECT id, cents FROM items")]


TASKS = """
CREATE TYPE state AS ENUM ('new', 'done');
CREATE TABLE tasks (id int PRIMARY KEY, st state NOT NULL);
INSERT INTO tasks VALUES (1, 'new'), (2, 'done');
"""
# the enum rebuilt under its name with a label more (the type swap of a label removal)
SWAP_ENUM = """
BEGIN;
ALTER TABLE tasks ALTER COLUMN st TYPE text;
DROP TYPE state;
CREATE TYPE state AS ENUM ('new', 'done', 'archived');
ALTER TABLE tasks ALTER COLUMN st TYPE state USING st::state;
COMMIT;
"""
BY_STATE_HELD: list[str | Q] = [prepared("SELECT id FROM tasks WHERE st = %s", "done")]


def _object_cases() -> list[Case]:
    a1, a2, _ = _versions("lc-func-target")
    b1, b2, _ = _versions("lc-func-retired")
    c1, c2, _ = _versions("lc-view-target")
    d1, d2, _ = _versions("lc-view-retired")
    e1, e2, _ = _versions("lc-widen-live")
    f1, f2, _ = _versions("lc-widen-target")
    g1, g2, _ = _versions("lc-enum-live")
    h1, h2, _ = _versions("lc-enum-target")
    return [
        Case(
            "break-lifecycle-drop-old-function-rollback-target",
            PRICE,
            {a1: PRICE_V1},
            "DROP FUNCTION price(int)",
            breaks=frozenset({a1}),
            note="v2 moved to a new function; v1 stopped but is the rollback target",
            steps=(Step(PRICE_IN, {a2: PRICE_V2}, offline=frozenset({a1})),),
        ),
        Case(
            "safe-lifecycle-drop-old-function-after-v1-retired",
            PRICE,
            {b1: PRICE_V1},
            "DROP FUNCTION price(int)",
            breaks=frozenset({b1}),
            note="the old function goes once its only caller, v1, is retired",
            steps=(
                Step(PRICE_IN, {b2: PRICE_V2}, offline=frozenset({b1}), retired=frozenset({b1})),
            ),
        ),
        Case(
            "break-lifecycle-drop-compat-view-rollback-target",
            USERS,
            {c1: ON_NAME},
            "DROP VIEW users",
            breaks=frozenset({c1}),
            note="the table was renamed behind a compatibility view; v2 uses the new "
            "name; dropping the view breaks a rollback to v1",
            steps=(Step(RENAME_TABLE, {c2: ACCOUNTS_V2}, offline=frozenset({c1})),),
        ),
        Case(
            "safe-lifecycle-drop-compat-view-after-v1-retired",
            USERS,
            {d1: ON_NAME},
            "DROP VIEW users",
            breaks=frozenset({d1}),
            note="the compatibility view goes once v1, its only user, is retired",
            steps=(
                Step(
                    RENAME_TABLE,
                    {d2: ACCOUNTS_V2},
                    offline=frozenset({d1}),
                    retired=frozenset({d1}),
                ),
            ),
        ),
        Case(
            "break-lifecycle-widen-column-v1-holds-prepared",
            PRICE,
            {e1: QTY_V1_HELD, e2: QTY_V2},
            "ALTER TABLE items ALTER COLUMN qty TYPE bigint",
            breaks=frozenset({e1}),
            note="widening breaks only a live version holding a prepared statement "
            "that returns the column",
        ),
        Case(
            "safe-lifecycle-widen-column-prepared-rollback-target",
            PRICE,
            {f1: QTY_V1_HELD, f2: QTY_V2},
            "ALTER TABLE items ALTER COLUMN qty TYPE bigint",
            note="the version that held the prepared statement stopped: a rollback "
            "prepares it anew on bigint, which works",
            offline=frozenset({f1}),
        ),
        Case(
            "break-lifecycle-enum-swapped-under-a-held-parameter",
            TASKS,
            {g1: BY_STATE_HELD, g2: [simple("SELECT id, st FROM tasks")]},
            SWAP_ENUM,
            breaks=frozenset({g1}),
            note="v1's prepared statement holds the old enum by oid as its parameter type",
        ),
        Case(
            "safe-lifecycle-enum-swapped-rollback-target-held-parameter",
            TASKS,
            {h1: BY_STATE_HELD, h2: [simple("SELECT id, st FROM tasks")]},
            SWAP_ENUM,
            note="the version that held the statement stopped: a rollback prepares it "
            "anew against the new enum, which has every label it uses",
            offline=frozenset({h1}),
        ),
    ]


# ------------------------------------------------------------- three versions, retire
PROFILES = """
CREATE TABLE profiles (id int PRIMARY KEY, name text, email text, nickname text, beta text);
INSERT INTO profiles VALUES (1, 'ann', 'a@x', 'an', NULL), (2, 'bob', 'b@x', 'bo', 'on');
"""
READ_NICK: list[str | Q] = [extended("SELECT id, nickname FROM profiles WHERE id = %s", 1)]
READ_EMAIL: list[str | Q] = [prepared("SELECT id, name, email FROM profiles WHERE id = %s", 1)]
READ_BETA: list[str | Q] = [simple("SELECT id, beta FROM profiles WHERE beta IS NOT NULL")]


def _three_version_cases() -> list[Case]:
    a1, a2, a3 = _versions("lc-three-nick")
    b1, b2, b3 = _versions("lc-three-email")
    c1, c2, c3 = _versions("lc-three-beta")
    d1, d2, _ = _versions("lc-again")
    e1, e2, _ = _versions("lc-forced")
    f1, f2, _ = _versions("lc-rolledback")
    return [
        Case(
            "break-lifecycle-three-versions-only-the-rollback-target-reads-it",
            PROFILES,
            {a1: READ_NICK, a2: READ_EMAIL, a3: READ_EMAIL},
            "ALTER TABLE profiles DROP COLUMN nickname",
            breaks=frozenset({a1}),
            note="v1 stopped (rollback target), v2 and v3 live: only v1 read nickname",
            offline=frozenset({a1}),
        ),
        Case(
            "break-lifecycle-three-versions-target-and-live",
            PROFILES,
            {b1: READ_EMAIL, b2: READ_EMAIL, b3: READ_NICK},
            "ALTER TABLE profiles DROP COLUMN email",
            breaks=frozenset({b1, b2}),
            note="v1 (rollback target) and live v2 read email; live v3 does not",
            offline=frozenset({b1}),
        ),
        Case(
            "break-lifecycle-three-versions-canary-reads-the-beta-column",
            PROFILES,
            {c1: READ_EMAIL, c2: READ_EMAIL, c3: READ_BETA},
            "ALTER TABLE profiles DROP COLUMN beta",
            breaks=frozenset({c3}),
            note="the beta column is dropped while the canary v3 still reads it",
            offline=frozenset({c1}),
        ),
        Case(
            "safe-lifecycle-retired-version-seen-again",
            PROFILES,
            {d1: READ_NICK, d2: READ_EMAIL},
            "ALTER TABLE profiles DROP COLUMN nickname",
            breaks=frozenset({d1}),
            note="v1 was retired, then connected again: DESIGN.md protects live + "
            "rollback window minus retired, so it is not protected and the DROP "
            "passes (PostgreSQL does break it)",
            offline=frozenset({d1}),
            retired=frozenset({d1}),
            steps=(Step("", {d1: READ_NICK}),),
        ),
        Case(
            "break-lifecycle-names-the-live-version-not-the-retired-one",
            PROFILES,
            {e1: READ_EMAIL, e2: READ_EMAIL},
            "ALTER TABLE profiles DROP COLUMN email",
            breaks=frozenset({e1, e2}),
            note="v1 was retired while still connected (forced); v2 reads email too: "
            "the block names v2 only",
            retired=frozenset({e1}),
        ),
        Case(
            "break-lifecycle-rolled-back-release-stays-protected",
            PROFILES,
            {f1: READ_EMAIL},
            "ALTER TABLE profiles DROP COLUMN beta",
            breaks=frozenset({f2}),
            note="v2 (reading beta) rolled out, was rolled back to v1 and stopped: "
            "seen within --retain, it stays protected",
            offline=frozenset({f1}),
            steps=(
                Step("", {f2: READ_BETA}, offline=frozenset({f2})),
                Step("", {f1: READ_EMAIL}),
            ),
        ),
    ]


CASES: list[Case] = [
    *_rename_cases(),
    *_framework_cases(),
    *_object_cases(),
    *_three_version_cases(),
]
