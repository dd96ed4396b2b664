"""Ground truth: additions that break old code.

A new column can make an unqualified name in a join ambiguous (42702), change
what NATURAL JOIN or USING joins on, or overflow an ``INSERT … SELECT *``.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, prepared, simple

V1, V2 = "app@1", "app@2"
IDLE: list[str | Q] = [simple("SELECT 1")]

SHOP = """
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users, total numeric);
INSERT INTO users (name) VALUES ('a');
INSERT INTO orders (user_id, total) VALUES (1, 10);
CREATE TABLE orders_archive (id int, user_id int, total numeric);
"""

JOINED = "FROM users JOIN orders ON orders.user_id = users.id"
#: reads name unqualified: fine while only users has it
BY_NAME = prepared(f"SELECT name, total {JOINED} WHERE users.id = %s", 1)

CASES: list[Case] = [
    Case(
        id="break-add-column-makes-join-name-ambiguous",
        schema_sql=SHOP,
        versions={
            V1: [BY_NAME],
            V2: [simple(f"SELECT users.name, orders.total {JOINED}")],
        },
        migration_sql="ALTER TABLE orders ADD COLUMN name text",
        breaks=frozenset({V1}),
        note="name is now in both tables (42702); V2 qualifies it",
    ),
    Case(
        id="safe-add-column-not-named-in-a-join",
        schema_sql=SHOP,
        versions={
            V1: [BY_NAME],
            V2: IDLE,
        },
        migration_sql="ALTER TABLE orders ADD COLUMN note text",
    ),
    Case(
        id="safe-add-column-changes-natural-join-without-error",
        schema_sql=SHOP
        + "CREATE TABLE profiles (user_id int, bio text); INSERT INTO profiles VALUES (1, 'x');",
        versions={
            V1: [simple("SELECT bio FROM orders NATURAL JOIN profiles")],
            V2: IDLE,
        },
        migration_sql="ALTER TABLE profiles ADD COLUMN total numeric",
        note="NATURAL JOIN now also joins on total: no error (fewer rows), which PostgreSQL "
        "does not report",
    ),
    Case(
        id="break-add-column-overflows-insert-select-star",
        schema_sql=SHOP,
        versions={
            V1: [simple("INSERT INTO orders_archive SELECT * FROM orders WHERE total > 100")],
            V2: [simple("SELECT id FROM orders")],
        },
        migration_sql="ALTER TABLE orders ADD COLUMN note text",
        breaks=frozenset({V1}),
        note="SELECT * now returns one more column than orders_archive has (42601)",
    ),
]
