"""Ground truth: views and materialized views redefined under their readers.

A view's columns are read by name; a materialized view recreated WITH NO DATA
cannot be scanned until refreshed (55000); a concurrent refresh needs a unique
index; an updatable view stops taking writes when it joins.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, extended, prepared, simple

V1, V2 = "app@1", "app@2"
IDLE: list[str | Q] = [simple("SELECT 1")]

ORDERS = """
CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL,
                     status text NOT NULL DEFAULT 'new');
INSERT INTO orders (total, status) VALUES (10, 'open'), (20, 'paid');
CREATE VIEW open_orders AS SELECT id, total FROM orders WHERE status = 'open';
CREATE MATERIALIZED VIEW revenue AS SELECT status, sum(total) AS amount FROM orders GROUP BY status;
CREATE UNIQUE INDEX revenue_status ON revenue (status);
"""

CASES: list[Case] = [
    Case(
        id="break-v2-view-column-renamed-vs-reader-by-name",
        schema_sql=ORDERS,
        versions={
            V1: [prepared("SELECT total FROM open_orders WHERE id = %s", 1)],
            V2: [simple("SELECT id FROM open_orders")],
        },
        migration_sql="ALTER VIEW open_orders RENAME COLUMN total TO amount",
        breaks=frozenset({V1}),
    ),
    Case(
        id="safe-v2-view-column-appended",
        schema_sql=ORDERS,
        versions={
            V1: [prepared("SELECT total FROM open_orders WHERE id = %s", 1)],
            V2: [simple("SELECT id FROM open_orders")],
        },
        migration_sql="CREATE OR REPLACE VIEW open_orders AS SELECT id, total, status FROM orders"
        " WHERE status = 'open'",
        note="appending a column leaves every named read working",
    ),
    Case(
        id="safe-v2-view-filter-changed",
        schema_sql=ORDERS,
        versions={V1: [prepared("SELECT total FROM open_orders WHERE id = %s", 1)], V2: IDLE},
        migration_sql="CREATE OR REPLACE VIEW open_orders AS SELECT id, total FROM orders"
        " WHERE status IN ('open', 'new')",
    ),
    Case(
        id="break-v2-matview-recreated-with-no-data-vs-reader",
        schema_sql=ORDERS,
        versions={V1: [simple("SELECT amount FROM revenue WHERE status = 'paid'")], V2: IDLE},
        migration_sql="BEGIN; DROP MATERIALIZED VIEW revenue;"
        " CREATE MATERIALIZED VIEW revenue AS SELECT status, sum(total) AS amount, count(*) AS n"
        " FROM orders GROUP BY status WITH NO DATA; COMMIT",
        breaks=frozenset({V1}),
        note="not populated until REFRESH: 55000",
    ),
    Case(
        id="safe-v2-matview-recreated-with-data",
        schema_sql=ORDERS,
        versions={V1: [simple("SELECT amount FROM revenue WHERE status = 'paid'")], V2: IDLE},
        migration_sql="BEGIN; DROP MATERIALIZED VIEW revenue;"
        " CREATE MATERIALIZED VIEW revenue AS SELECT status, sum(total) AS amount, count(*) AS n"
        " FROM orders GROUP BY status; COMMIT",
    ),
    Case(
        id="break-v2-unique-index-dropped-vs-concurrent-refresher",
        schema_sql=ORDERS,
        versions={
            V1: [simple("REFRESH MATERIALIZED VIEW CONCURRENTLY revenue")],
            V2: [simple("SELECT amount FROM revenue")],
        },
        migration_sql="DROP INDEX revenue_status",
        breaks=frozenset({V1}),
        note="a concurrent refresh needs a unique index (55000)",
    ),
    Case(
        id="safe-v2-unique-index-dropped-vs-plain-refresher",
        schema_sql=ORDERS,
        versions={
            V1: [simple("REFRESH MATERIALIZED VIEW revenue")],
            V2: [simple("SELECT amount FROM revenue")],
        },
        migration_sql="DROP INDEX revenue_status",
    ),
    Case(
        id="break-v2-view-made-a-join-vs-writer",
        schema_sql=ORDERS + "CREATE TABLE customers (id int PRIMARY KEY);",
        versions={
            V1: [extended("UPDATE open_orders SET total = %s WHERE id = %s", 11, 1)],
            V2: [simple("SELECT id FROM open_orders")],
        },
        migration_sql="CREATE OR REPLACE VIEW open_orders AS SELECT o.id, o.total FROM orders o"
        " LEFT JOIN customers c ON c.id = o.id WHERE o.status = 'open'",
        breaks=frozenset({V1}),
        note="a view over a join is not automatically updatable (55000)",
    ),
    Case(
        id="break-v2-view-check-option-vs-writer-leaving-it",
        schema_sql=ORDERS,
        versions={
            V1: [extended("INSERT INTO open_orders (total) VALUES (%s)", 5)],
            V2: [simple("SELECT id FROM open_orders")],
        },
        migration_sql="ALTER VIEW open_orders SET (check_option = local)",
        breaks=frozenset({V1}),
        note="V1's rows get status 'new', outside the view: 44000 once it checks",
    ),
]
