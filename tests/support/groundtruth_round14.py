"""Round 14 ground-truth cases: user-defined operators dropped or moved, an extension moved
to another schema, a deferrable foreign key made immediate under a version that inserts
child-first in one transaction, and a role's own search_path changed.

Each case is a rolling deploy a team really ships; PostgreSQL decides (see
tests/support/groundtruth.py) which versions a migration breaks.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, apg, extended, prepared, simple

V1, V2 = "app@1", "app@2"

# a text operator of the application's own, in public, used by one version
OPS = """
CREATE TABLE items (id serial PRIMARY KEY, sku text NOT NULL, note text);
INSERT INTO items (sku) VALUES ('a'), ('B');
CREATE FUNCTION ci_eq(a text, b text) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS 'SELECT lower(a) = lower(b)';
CREATE OPERATOR === (LEFTARG = text, RIGHTARG = text, FUNCTION = ci_eq);
CREATE SCHEMA ops;
"""
# the ground truth's schema signature does not list operators: each migration also adds
# an index, as a deploy's migration often does alongside
WITH_INDEX = "; CREATE INDEX items_note ON items (note)"

CODES = """
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
CREATE SCHEMA ext;
CREATE TABLE tokens (id serial PRIMARY KEY, label text);
INSERT INTO tokens (label) VALUES ('a');
"""

# a deferrable foreign key that a version fills child-first inside one transaction
ORDERS = """
CREATE TABLE orders (id int PRIMARY KEY, note text);
CREATE TABLE lines (id int PRIMARY KEY, order_id int NOT NULL
  CONSTRAINT lines_order_fk REFERENCES orders DEFERRABLE INITIALLY IMMEDIATE, qty int);
"""
NOT_DEFERRABLE = (
    "ALTER TABLE lines DROP CONSTRAINT lines_order_fk;"
    " ALTER TABLE lines ADD CONSTRAINT lines_order_fk FOREIGN KEY (order_id) REFERENCES orders"
)
CHILD_FIRST = (
    "BEGIN; SET CONSTRAINTS ALL DEFERRED;"
    " INSERT INTO lines (id, order_id, qty) VALUES (nextval('seq'), currval('seq'), 1);"
    " INSERT INTO orders (id) VALUES (currval('seq')); COMMIT"
)

# Django's foreign keys: DEFERRABLE INITIALLY DEFERRED, filled child first in one transaction
DJANGO = """
CREATE TABLE orders (id int PRIMARY KEY, note text);
CREATE TABLE lines (id int PRIMARY KEY, order_id int NOT NULL, qty int,
  CONSTRAINT lines_order_fk FOREIGN KEY (order_id) REFERENCES orders
  DEFERRABLE INITIALLY DEFERRED);
CREATE SEQUENCE seq;
"""
CHILD_FIRST_PLAIN = (
    "BEGIN; INSERT INTO lines (id, order_id, qty) VALUES (nextval('seq'), currval('seq'), 1);"
    " INSERT INTO orders (id) VALUES (currval('seq')); COMMIT"
)
CITEXT = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE SCHEMA ext;
CREATE TABLE members (id serial PRIMARY KEY, email citext, name text);
INSERT INTO members (email, name) VALUES ('A@x', 'a');
"""

# a role whose own search_path a migration changes; the schema it names comes with it.
# Role settings are cluster-wide (the experiment's outlives its database): each case
# has roles of its own, and the path names a schema only the migration creates
SHADOW = """
CREATE TABLE items (id serial PRIMARY KEY, sku text NOT NULL, note text);
INSERT INTO items (sku) VALUES ('a');
GRANT SELECT, INSERT ON items TO PUBLIC;
GRANT USAGE ON SEQUENCE items_id_seq TO PUBLIC;
"""
SHADOW_MIGRATION = (
    "CREATE SCHEMA v2; CREATE VIEW v2.items AS SELECT id FROM public.items;"
    " GRANT USAGE ON SCHEMA v2 TO PUBLIC; GRANT SELECT ON v2.items TO PUBLIC;"
    " ALTER ROLE {role} SET search_path = v2, public"
)
NOBODY = "gt14_nobody"  # a role no version connects as (created here: no version has it)
MAKE_NOBODY = f"""
DO $$ BEGIN CREATE ROLE {NOBODY};
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
"""

ROUND14_SAFE: list[Case] = [
    Case(
        id="safe-r14-drop-unused-operator",
        schema_sql=OPS,
        versions={
            V1: [extended("SELECT id FROM items WHERE sku = %s", "a")],
            V2: [simple("SELECT count(*) FROM items WHERE lower(sku) = 'b'")],
        },
        migration_sql="DROP OPERATOR === (text, text)" + WITH_INDEX,
        expect_safe_for_linter=False,
        note="no version uses the operator: nothing can break",
    ),
    Case(
        id="safe-r14-drop-unused-operator-cascade",
        schema_sql=OPS,
        versions={V1: [simple("SELECT sku FROM items ORDER BY id")]},
        migration_sql="DROP OPERATOR === (text, text) CASCADE" + WITH_INDEX,
    ),
    Case(
        id="safe-r14-operator-set-schema-vs-version-with-both-on-path",
        schema_sql=OPS,
        versions={
            V1: [simple("SET search_path = public, ops; SELECT id FROM items WHERE sku === 'A'")],
        },
        migration_sql="ALTER OPERATOR === (text, text) SET SCHEMA ops" + WITH_INDEX,
        note="the version's search_path lists the operator's new schema",
    ),
    Case(
        id="safe-r14-extension-set-schema-vs-versions-not-using-it",
        schema_sql=CODES,
        versions={
            V1: [extended("SELECT id FROM tokens WHERE label = %s", "a")],
            V2: [simple("INSERT INTO tokens (label) VALUES ('b')")],
        },
        migration_sql="ALTER EXTENSION fuzzystrmatch SET SCHEMA ext",
    ),
    Case(
        id="safe-r14-fk-made-immediate-vs-parent-first-writer",
        schema_sql=ORDERS + "CREATE SEQUENCE seq;",
        versions={
            V1: [
                simple(
                    "BEGIN; INSERT INTO orders (id) VALUES (nextval('seq'));"
                    " INSERT INTO lines (id, order_id, qty) VALUES (currval('seq'),"
                    " currval('seq'), 1); COMMIT"
                )
            ],
        },
        migration_sql=NOT_DEFERRABLE,
        note="the version inserts the parent first: an immediate check passes",
    ),
    Case(
        id="safe-r14-role-search-path-of-another-role",
        schema_sql=SHADOW + MAKE_NOBODY,
        versions={
            V1: [simple("SELECT sku FROM items")],
            V2: [extended("INSERT INTO items (sku) VALUES (%s)", "b")],
        },
        users={V1: "gt14_safe_a", V2: "gt14_safe_b"},
        migration_sql=SHADOW_MIGRATION.format(role=NOBODY),
        note="only new sessions of the other role read v2.items first",
    ),
]

ROUND14_SAFE += [
    Case(
        id="safe-r14-fk-initially-deferred-made-immediate-vs-version-deferring-itself",
        schema_sql=DJANGO,
        versions={V1: [simple(CHILD_FIRST)], V2: [simple("SELECT id FROM orders")]},
        migration_sql="ALTER TABLE lines ALTER CONSTRAINT lines_order_fk"
        " DEFERRABLE INITIALLY IMMEDIATE",
        note="the version runs SET CONSTRAINTS ALL DEFERRED itself",
    ),
    Case(
        id="safe-r14-fk-readded-deferrable-vs-child-first-writer",
        schema_sql=ORDERS + "CREATE SEQUENCE seq;",
        versions={V1: [simple(CHILD_FIRST)]},
        migration_sql="ALTER TABLE lines DROP CONSTRAINT lines_order_fk;"
        " ALTER TABLE lines ADD CONSTRAINT lines_order_fk FOREIGN KEY (order_id)"
        " REFERENCES orders ON DELETE CASCADE DEFERRABLE",
        note="ON DELETE changes, the key stays deferrable",
    ),
    Case(
        id="safe-r14-extension-set-schema-vs-caller-with-both-on-path",
        schema_sql=CODES,
        versions={
            V1: [
                simple(
                    "SET search_path = public, ext;"
                    " SELECT id FROM tokens WHERE levenshtein(label, 'b') < 2"
                )
            ],
        },
        migration_sql="ALTER EXTENSION fuzzystrmatch SET SCHEMA ext",
        note="the version's search_path lists the schema the extension moves to",
    ),
    Case(
        id="safe-r14-extension-type-moved-vs-column-reader",
        schema_sql=CITEXT,
        versions={
            V1: [extended("SELECT id, email FROM members WHERE id = %s", 1)],
            V2: [simple("INSERT INTO members (email, name) VALUES ('b@x', 'b')")],
        },
        migration_sql="ALTER EXTENSION citext SET SCHEMA ext",
        note="the column holds its type by oid; nothing names citext",
    ),
]

ROUND14_BREAKING: list[Case] = [
    Case(
        id="break-r14-drop-operator-vs-its-user",
        schema_sql=OPS,
        versions={
            V1: [extended("SELECT id FROM items WHERE sku === %s", "A")],
            V2: [simple("SELECT sku FROM items")],
        },
        migration_sql="DROP OPERATOR === (text, text)" + WITH_INDEX,
        breaks=frozenset({V1}),
        note="42883 operator does not exist",
    ),
    Case(
        id="break-r14-drop-operator-vs-qualified-user",
        schema_sql=OPS,
        versions={
            V1: [prepared("SELECT id FROM items WHERE sku OPERATOR(public.===) %s", "a")],
            V2: [simple("SELECT sku FROM items")],
        },
        migration_sql="DROP OPERATOR public.=== (text, text) CASCADE" + WITH_INDEX,
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r14-operator-set-schema-vs-unqualified-user",
        schema_sql=OPS,
        versions={
            V1: [apg("SELECT id FROM items WHERE sku === $1", "A")],
            V2: [simple("SELECT sku FROM items")],
        },
        migration_sql="ALTER OPERATOR === (text, text) SET SCHEMA ops" + WITH_INDEX,
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r14-extension-set-schema-vs-function-caller",
        schema_sql=CODES,
        versions={
            V1: [extended("SELECT id FROM tokens WHERE levenshtein(label, %s) < 2", "b")],
            V2: [simple("SELECT label FROM tokens")],
        },
        migration_sql="ALTER EXTENSION fuzzystrmatch SET SCHEMA ext",
        breaks=frozenset({V1}),
        note="42883: levenshtein is no longer on the search_path",
    ),
    Case(
        id="break-r14-fk-made-immediate-vs-child-first-deferred-writer",
        schema_sql=ORDERS + "CREATE SEQUENCE seq;",
        versions={
            V1: [simple(CHILD_FIRST)],
            V2: [simple("SELECT id FROM orders")],
        },
        migration_sql=NOT_DEFERRABLE,
        breaks=frozenset({V1}),
        note="SET CONSTRAINTS ALL DEFERRED no longer covers it: 23503 at the child insert",
    ),
    Case(
        id="break-r14-role-search-path-shadows-its-table",
        schema_sql=SHADOW,
        versions={
            V1: [simple("SELECT sku FROM items")],
            V2: [extended("SELECT id FROM items WHERE id = %s", 1)],
        },
        users={V1: "gt14_break_a", V2: "gt14_break_b"},
        migration_sql=SHADOW_MIGRATION.format(role="gt14_break_a"),
        breaks=frozenset({V1}),
        note="new sessions of the role find v2.items (no sku) first: 42703",
    ),
]

ROUND14_BREAKING += [
    Case(
        id="break-r14-fk-alter-constraint-not-deferrable-vs-named-deferral",
        schema_sql=ORDERS + "CREATE SEQUENCE seq;",
        versions={
            V1: [
                simple(
                    "BEGIN; SET CONSTRAINTS lines_order_fk DEFERRED;"
                    " INSERT INTO orders (id) VALUES (nextval('seq'));"
                    " INSERT INTO lines (id, order_id) VALUES (currval('seq'), currval('seq'));"
                    " COMMIT"
                )
            ],
            V2: [simple("SELECT id FROM lines")],
        },
        migration_sql="ALTER TABLE lines ALTER CONSTRAINT lines_order_fk NOT DEFERRABLE",
        breaks=frozenset({V1}),
        note="55000: constraint lines_order_fk is not deferrable (parent first or not)",
    ),
    Case(
        id="break-r14-fk-initially-deferred-made-immediate-vs-child-first",
        schema_sql=DJANGO,
        versions={V1: [simple(CHILD_FIRST_PLAIN)], V2: [simple("SELECT qty FROM lines")]},
        migration_sql="ALTER TABLE lines ALTER CONSTRAINT lines_order_fk"
        " DEFERRABLE INITIALLY IMMEDIATE",
        breaks=frozenset({V1}),
        note="23503 at the child insert: the check no longer waits for COMMIT",
    ),
]

CASES = ROUND14_SAFE + ROUND14_BREAKING
