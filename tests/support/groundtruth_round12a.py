"""Round 12a ground-truth cases: row locks through views, functions and procedures,
enums, domains, composite types, views and materialized views, schemas and
search_path, operators, collations, column renames with a compatibility view.

Each case is a rolling deploy a team really ships; PostgreSQL decides (see
tests/support/groundtruth.py) which versions a migration breaks.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, apg, copy_in, extended, prepared, simple

V1, V2, V3 = "app@1", "app@2", "app@3"

PRODUCTS = """
CREATE TABLE products (
  id serial PRIMARY KEY, sku text NOT NULL UNIQUE, name text,
  price numeric(10, 2) NOT NULL DEFAULT 0, qty int NOT NULL DEFAULT 0
);
INSERT INTO products (sku, name, price, qty) VALUES ('a', 'Apple', 3, 10), ('b', 'Pear', 12, 5);
"""

# the table renamed away; a view under its old name carries the versions
HIDE = "BEGIN;\nALTER TABLE products RENAME TO products_t;\n"

# ... and a view that keeps one row per sku: it takes no FOR UPDATE / FOR SHARE
DEDUPED = (
    HIDE + "CREATE VIEW products AS SELECT DISTINCT ON (sku) * FROM products_t ORDER BY sku, id;"
    " COMMIT;"
)

ORDERS = (
    PRODUCTS
    + """
CREATE TABLE orders (id serial PRIMARY KEY, product_id int, n int);
INSERT INTO orders (product_id, n) VALUES (1, 2);
"""
)

PRICE = (
    PRODUCTS
    + """
CREATE FUNCTION price_with_tax(p numeric) RETURNS numeric LANGUAGE sql IMMUTABLE
  AS 'SELECT p * 1.2';
"""
)

TOP = (
    PRODUCTS
    + """
CREATE FUNCTION top_products(n int) RETURNS TABLE (id int, label text) LANGUAGE sql STABLE
  AS 'SELECT p.id, p.name FROM products p ORDER BY p.id LIMIT n';
"""
)

RESTOCK = (
    PRODUCTS
    + """
CREATE PROCEDURE restock(p int, n int) LANGUAGE sql
  AS 'UPDATE products SET qty = qty + n WHERE id = p';
"""
)

NORM = (
    PRODUCTS
    + """
CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower(t)';
CREATE UNIQUE INDEX products_norm_sku ON products (norm(sku));
"""
)

CHEAP = (
    PRODUCTS
    + """
CREATE VIEW cheap_products AS SELECT id, sku, price FROM products WHERE price < 10;
CREATE TABLE cheap_log (id int, sku text, price numeric);
"""
)

TOTALS = (
    PRODUCTS
    + """
CREATE MATERIALIZED VIEW sku_totals AS SELECT sku, sum(qty) AS qty FROM products GROUP BY sku;
CREATE UNIQUE INDEX sku_totals_sku ON sku_totals (sku);
"""
)

MOODS = """
CREATE TYPE mood AS ENUM ('happy', 'sad', 'meh');
CREATE TABLE moods (id serial PRIMARY KEY, m mood NOT NULL);
INSERT INTO moods (m) VALUES ('happy'), ('sad');
"""

# drop a label by swapping the type (ADD VALUE has no inverse)
MOOD_SWAP = """
BEGIN;
CREATE TYPE mood_new AS ENUM ('happy', 'sad');
ALTER TABLE moods ALTER COLUMN m TYPE mood_new USING m::text::mood_new;
DROP TYPE mood;
ALTER TYPE mood_new RENAME TO mood;
COMMIT;
"""

STOCK = """
CREATE DOMAIN qty_t AS int CHECK (VALUE >= 0);
CREATE TABLE stock (id serial PRIMARY KEY, sku text, qty qty_t);
INSERT INTO stock (sku, qty) VALUES ('a', 5);
"""

CUSTOMERS = """
CREATE TYPE addr AS (street text, city text);
CREATE TABLE customers (id serial PRIMARY KEY, name text, a addr);
INSERT INTO customers (name, a) VALUES ('Ann', ROW('Main St', 'Oslo'));
"""

CI_EQ = (
    PRODUCTS
    + """
CREATE FUNCTION ci_eq(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS 'SELECT lower($1) = lower($2)';
CREATE OPERATOR === (LEFTARG = text, RIGHTARG = text, FUNCTION = ci_eq);
"""
)

# a version whose role searches its own schema first
SHOP_PATH = (
    PRODUCTS
    + """
CREATE SCHEMA app;
GRANT USAGE, CREATE ON SCHEMA app TO r12a_shop;
GRANT ALL ON products TO r12a_shop;
DO $$ BEGIN
  EXECUTE format('ALTER ROLE r12a_shop IN DATABASE %I SET search_path = app, public',
                 current_database());
END $$;
"""
)

SECRET = """
CREATE TABLE secrets (id serial PRIMARY KEY, v text);
INSERT INTO secrets (v) VALUES ('x');
CREATE FUNCTION secret_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
  AS 'SELECT count(*) FROM public.secrets';
REVOKE ALL ON secrets FROM PUBLIC;
GRANT EXECUTE ON FUNCTION secret_count() TO r12a_reader;
"""

RENAME_NAME_WITH_VIEW = (
    HIDE
    + """ALTER TABLE products_t RENAME COLUMN name TO title;
CREATE VIEW products AS SELECT id, sku, title AS name, price, qty FROM products_t;
COMMIT;"""
)

MOVE_TO_CORE = """BEGIN;
CREATE SCHEMA core;
ALTER TABLE products SET SCHEMA core;
CREATE VIEW public.products AS SELECT * FROM core.products;
COMMIT;"""

ROUND12A_SAFE: list[Case] = [
    Case(
        id="safe-r12a-table-to-simple-view-keeps-row-locks",
        schema_sql=ORDERS,
        versions={
            V1: [prepared("SELECT id, qty FROM products WHERE id = %s FOR UPDATE", 1)],
            V2: [simple("SELECT * FROM products WHERE id = 1 FOR SHARE")],
            V3: [apg("UPDATE products SET qty = qty - 1 WHERE id = $1", 2)],
        },
        migration_sql=HIDE + "CREATE VIEW products AS SELECT * FROM products_t; COMMIT;",
        note="FOR UPDATE/SHARE through a simple view locks the base rows",
    ),
    Case(
        id="safe-r12a-for-update-of-other-table-vs-distinct-view",
        schema_sql=ORDERS,
        versions={
            V1: [
                extended(
                    "SELECT o.id FROM orders o JOIN products p ON p.id = o.product_id"
                    " WHERE o.id = %s FOR UPDATE OF o",
                    1,
                )
            ],
            V2: [simple("SELECT sku, price FROM products ORDER BY sku")],
        },
        migration_sql=DEDUPED,
        note="the lock names only orders; products may become an unlockable view",
    ),
    Case(
        id="safe-r12a-function-param-added-with-default",
        schema_sql=PRICE,
        versions={
            V1: [simple("SELECT price_with_tax(price) FROM products")],
            V2: [prepared("SELECT id, price_with_tax(price) FROM products WHERE id = %s", 1)],
        },
        migration_sql="BEGIN; DROP FUNCTION price_with_tax(numeric);"
        " CREATE FUNCTION price_with_tax(p numeric, rate numeric DEFAULT 1.2) RETURNS numeric"
        " LANGUAGE sql IMMUTABLE AS 'SELECT p * rate'; COMMIT;",
        expect_safe_for_linter=False,
    ),
    Case(
        id="safe-r12a-function-body-replaced-same-signature",
        schema_sql=PRICE,
        versions={
            V1: [apg("SELECT price_with_tax(price) FROM products WHERE id = $1", 1)],
            V2: [simple("SELECT price_with_tax(2)")],
        },
        migration_sql="CREATE OR REPLACE FUNCTION price_with_tax(p numeric) RETURNS numeric"
        " LANGUAGE sql IMMUTABLE AS 'SELECT round(p * 1.25, 2)'",
    ),
    Case(
        id="safe-r12a-function-security-definer-and-stable",
        schema_sql=PRICE,
        versions={
            V1: [prepared("SELECT price_with_tax(price) FROM products")],
            V2: [simple("SELECT price_with_tax(1)")],
        },
        migration_sql="ALTER FUNCTION price_with_tax(numeric) SECURITY DEFINER;"
        " ALTER FUNCTION price_with_tax(numeric) STABLE;",
    ),
    Case(
        id="safe-r12a-returns-table-column-added-named-readers",
        schema_sql=TOP,
        versions={
            V1: [simple("SELECT id, label FROM top_products(5)")],
            V2: [apg("SELECT label FROM top_products($1)", 5)],
            V3: [simple("SELECT * FROM top_products(1)")],
        },
        migration_sql="BEGIN; DROP FUNCTION top_products(int);"
        " CREATE FUNCTION top_products(n int) RETURNS TABLE (id int, label text, price numeric)"
        " LANGUAGE sql STABLE AS 'SELECT p.id, p.name, p.price FROM products p ORDER BY p.id"
        " LIMIT n'; COMMIT;",
    ),
    Case(
        id="safe-r12a-procedure-param-added-with-default",
        schema_sql=RESTOCK,
        versions={
            V1: [simple("CALL restock(1, 5)")],
            V2: [extended("CALL restock(%s, %s)", 2, 1)],
        },
        migration_sql="BEGIN; DROP PROCEDURE restock(int, int);"
        " CREATE PROCEDURE restock(p int, n int, reason text DEFAULT 'manual') LANGUAGE sql"
        " AS 'UPDATE products SET qty = qty + n WHERE id = p'; COMMIT;",
    ),
    Case(
        id="safe-r12a-procedure-body-replaced",
        schema_sql=RESTOCK,
        versions={V1: [simple("CALL restock(1, 5)")], V2: [simple("SELECT qty FROM products")]},
        migration_sql="CREATE OR REPLACE PROCEDURE restock(p int, n int) LANGUAGE sql"
        " AS 'UPDATE products SET qty = greatest(qty + n, 0) WHERE id = p'",
    ),
    Case(
        id="safe-r12a-view-column-appended-named-readers",
        schema_sql=CHEAP,
        versions={
            V1: [simple("SELECT * FROM cheap_products")],
            V2: [prepared("SELECT id, sku FROM cheap_products WHERE price < %s", 5)],
            V3: [apg("SELECT sku FROM cheap_products")],
        },
        migration_sql="CREATE OR REPLACE VIEW cheap_products AS"
        " SELECT id, sku, price, name FROM products WHERE price < 10",
    ),
    Case(
        id="safe-r12a-view-security-barrier-on",
        schema_sql=CHEAP,
        versions={
            V1: [apg("SELECT sku FROM cheap_products WHERE id = $1", 1)],
            V2: [simple("UPDATE cheap_products SET price = 4 WHERE id = 1")],
        },
        migration_sql="ALTER VIEW cheap_products SET (security_barrier = true)",
    ),
    Case(
        id="safe-r12a-view-check-option-writers-inside",
        schema_sql=CHEAP,
        versions={
            V1: [simple("INSERT INTO cheap_products (sku, price) VALUES ('c' || random(), 5)")],
            V2: [simple("SELECT * FROM cheap_products")],
        },
        migration_sql="CREATE OR REPLACE VIEW cheap_products AS"
        " SELECT id, sku, price FROM products WHERE price < 10 WITH CHECK OPTION",
    ),
    Case(
        id="safe-r12a-matview-recreated-with-column-and-index",
        schema_sql=TOTALS,
        versions={
            V1: [prepared("SELECT qty FROM sku_totals WHERE sku = %s", "a")],
            V2: [simple("REFRESH MATERIALIZED VIEW CONCURRENTLY sku_totals")],
        },
        migration_sql="BEGIN; DROP MATERIALIZED VIEW sku_totals;"
        " CREATE MATERIALIZED VIEW sku_totals AS SELECT sku, sum(qty) AS qty, count(*) AS n"
        " FROM products GROUP BY sku;"
        " CREATE UNIQUE INDEX sku_totals_sku ON sku_totals (sku); COMMIT;",
    ),
    Case(
        id="safe-r12a-enum-add-value-in-transaction",
        schema_sql=MOODS,
        versions={
            V1: [apg("INSERT INTO moods (m) VALUES ($1)", "happy")],
            V2: [prepared("SELECT id FROM moods WHERE m = %s", "sad")],
        },
        migration_sql="BEGIN; ALTER TYPE mood ADD VALUE 'angry' BEFORE 'meh'; COMMIT;",
    ),
    Case(
        id="safe-r12a-enum-rename-unused-value",
        schema_sql=MOODS,
        versions={
            V1: [simple("INSERT INTO moods (m) VALUES ('happy')")],
            V2: [extended("SELECT id FROM moods WHERE m = %s", "sad")],
        },
        migration_sql="ALTER TYPE mood RENAME VALUE 'meh' TO 'neutral'",
    ),
    Case(
        id="safe-r12a-enum-drop-unused-value-by-type-swap",
        schema_sql=MOODS,
        versions={
            V1: [simple("INSERT INTO moods (m) VALUES ('sad')")],
            V2: [extended("SELECT id FROM moods WHERE m = %s", "happy")],
        },
        migration_sql=MOOD_SWAP,
    ),
    Case(
        id="safe-r12a-domain-check-widened",
        schema_sql=STOCK,
        versions={
            V1: [simple("INSERT INTO stock (sku, qty) VALUES ('b', 3)")],
            V2: [apg("UPDATE stock SET qty = $1 WHERE id = 1", 7)],
        },
        migration_sql="BEGIN; ALTER DOMAIN qty_t DROP CONSTRAINT qty_t_check;"
        " ALTER DOMAIN qty_t ADD CONSTRAINT qty_t_check CHECK (VALUE >= -100); COMMIT;",
    ),
    Case(
        id="safe-r12a-domain-upper-bound-vs-small-writers",
        schema_sql=STOCK,
        versions={
            V1: [simple("INSERT INTO stock (sku, qty) VALUES ('b', 3)")],
            V2: [simple("UPDATE stock SET qty = 50 WHERE id = 1")],
        },
        migration_sql="ALTER DOMAIN qty_t ADD CONSTRAINT qty_max CHECK (VALUE <= 100)",
    ),
    Case(
        id="safe-r12a-composite-attribute-added-field-readers",
        schema_sql=CUSTOMERS,
        versions={
            V1: [simple("SELECT (a).city FROM customers")],
            V2: [simple("UPDATE customers SET a.city = 'Bergen' WHERE id = 1")],
        },
        migration_sql="ALTER TYPE addr ADD ATTRIBUTE zip text",
    ),
    Case(
        id="safe-r12a-operator-function-body-replaced",
        schema_sql=CI_EQ,
        versions={V1: [simple("SELECT id FROM products WHERE sku === 'A'")]},
        migration_sql="CREATE OR REPLACE FUNCTION ci_eq(text, text) RETURNS boolean"
        " LANGUAGE sql IMMUTABLE AS 'SELECT lower(trim($1)) = lower(trim($2))'",
    ),
    Case(
        id="safe-r12a-same-named-table-in-schema-off-path",
        schema_sql=SHOP_PATH,
        versions={
            V1: [simple("SELECT sku FROM products")],
            V2: [simple("SELECT sku FROM products")],
        },
        users={V1: "r12a_shop"},
        migration_sql="CREATE SCHEMA billing; CREATE TABLE billing.products (id int, title text);",
    ),
    Case(
        id="safe-r12a-move-table-to-schema-view-left-behind",
        schema_sql=PRODUCTS,
        versions={
            V1: [simple("SELECT id, sku FROM products WHERE id = 1")],
            V2: [simple("INSERT INTO products (sku) VALUES ('x' || random()) RETURNING id")],
            V3: [prepared("UPDATE products SET qty = qty + 1 WHERE id = %s", 1)],
        },
        migration_sql=MOVE_TO_CORE,
    ),
    Case(
        id="safe-r12a-rename-column-with-compat-view",
        schema_sql=PRODUCTS,
        versions={
            V1: [
                simple("SELECT name FROM products WHERE id = 1"),
                extended("UPDATE products SET name = %s WHERE id = 1", "Apple"),
                apg("SELECT * FROM products WHERE id = $1", 1),
            ],
            V2: [simple("INSERT INTO products (sku, name) VALUES ('n' || random(), 'N')")],
        },
        migration_sql=RENAME_NAME_WITH_VIEW,
    ),
    Case(
        id="safe-r12a-collation-change-unprepared-readers",
        schema_sql=PRODUCTS,
        versions={
            V1: [simple("SELECT sku FROM products ORDER BY sku")],
            V2: [extended("SELECT id FROM products WHERE sku = %s", "a")],
        },
        migration_sql='ALTER TABLE products ALTER COLUMN sku TYPE text COLLATE "C"',
    ),
    Case(
        id="safe-r12a-security-definer-dropped-superuser-callers",
        schema_sql=SECRET,
        versions={V1: [simple("SELECT secret_count()")], V2: [simple("SELECT 1")]},
        users={V2: "r12a_reader"},
        migration_sql="ALTER FUNCTION secret_count() SECURITY INVOKER",
    ),
    Case(
        id="safe-r12a-table-to-union-all-view-keeps-for-share",
        schema_sql=PRODUCTS + "CREATE TABLE products_archive (LIKE products);",
        versions={
            V1: [apg("SELECT id, qty FROM products WHERE sku = $1 FOR SHARE", "a")],
            V2: [simple("SELECT * FROM products")],
        },
        migration_sql=HIDE + "CREATE VIEW products AS SELECT * FROM products_t UNION ALL"
        " SELECT * FROM products_archive; COMMIT;",
        note="a UNION ALL view is flattened: its rows stay lockable",
    ),
    Case(
        id="safe-r12a-table-to-union-view-keeps-for-share",
        schema_sql=PRODUCTS + "CREATE TABLE products_archive (LIKE products);",
        versions={
            V1: [apg("SELECT id, qty FROM products WHERE sku = $1 FOR SHARE", "a")],
            V2: [simple("SELECT * FROM products")],
        },
        migration_sql=HIDE + "CREATE VIEW products AS SELECT * FROM products_t UNION"
        " SELECT * FROM products_archive; COMMIT;",
        note="FOR SHARE through a UNION view locks the rows of both tables",
    ),
    Case(
        id="safe-r12a-view-recreated-column-order-vs-named-readers",
        schema_sql=CHEAP,
        versions={
            V1: [apg("SELECT id, sku, price FROM cheap_products")],
            V2: [simple("SELECT * FROM cheap_products")],
            V3: [simple("INSERT INTO cheap_log (id, sku) SELECT id, sku FROM cheap_products")],
        },
        migration_sql="BEGIN; DROP VIEW cheap_products; CREATE VIEW cheap_products AS"
        " SELECT id, price, sku FROM products WHERE price < 10; COMMIT;",
        note="statements naming their columns, and SELECT * planned anew, see no order",
    ),
    Case(
        id="safe-r12a-function-copied-to-other-schema-original-kept",
        schema_sql=PRICE,
        versions={V1: [apg("SELECT price_with_tax($1)", 2)]},
        migration_sql="CREATE SCHEMA billing; CREATE FUNCTION billing.price_with_tax(p numeric)"
        " RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT p * 1.25'",
    ),
]

ROUND12A_BREAKING: list[Case] = [
    Case(
        id="break-r12a-table-to-distinct-view-vs-row-locks",
        schema_sql=ORDERS,
        versions={
            V1: [simple("SELECT id FROM products WHERE id = 1 FOR UPDATE")],
            V2: [simple("SELECT sku, price FROM products ORDER BY sku")],
            V3: [prepared("SELECT qty FROM products WHERE id = %s FOR NO KEY UPDATE", 1)],
        },
        migration_sql=DEDUPED,
        breaks=frozenset({V1, V3}),
    ),
    Case(
        id="break-r12a-table-to-aggregate-view-vs-for-update",
        schema_sql="CREATE TABLE stock (sku text PRIMARY KEY, qty int NOT NULL);"
        " INSERT INTO stock VALUES ('a', 3);"
        " CREATE TABLE stock_moves (sku text, delta int);"
        " INSERT INTO stock_moves VALUES ('a', 3);",
        versions={
            V1: [extended("SELECT qty FROM stock WHERE sku = %s FOR UPDATE", "a")],
            V2: [simple("SELECT sku, qty FROM stock")],
        },
        migration_sql="BEGIN; ALTER TABLE stock RENAME TO stock_old;"
        " CREATE VIEW stock AS SELECT sku, sum(delta)::int AS qty FROM stock_moves GROUP BY sku;"
        " COMMIT;",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-overload-with-defaulted-param-makes-call-ambiguous",
        schema_sql=PRICE,
        versions={
            V1: [simple("SELECT price_with_tax(price) FROM products")],
            V2: [simple("SELECT price FROM products")],
        },
        migration_sql="CREATE FUNCTION price_with_tax(p numeric, rate numeric DEFAULT 1.2)"
        " RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT p * rate'",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-function-param-added-without-default",
        schema_sql=PRICE,
        versions={
            V1: [prepared("SELECT price_with_tax(price) FROM products WHERE id = %s", 1)],
            V2: [simple("SELECT sku FROM products")],
        },
        migration_sql="BEGIN; DROP FUNCTION price_with_tax(numeric);"
        " CREATE FUNCTION price_with_tax(p numeric, rate numeric) RETURNS numeric"
        " LANGUAGE sql IMMUTABLE AS 'SELECT p * rate'; COMMIT;",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-function-return-type-changed-vs-held-reader",
        schema_sql=PRICE,
        versions={
            V1: [apg("SELECT price_with_tax(price) FROM products WHERE id = $1", 1)],
            V2: [simple("SELECT price_with_tax(price) FROM products")],
        },
        migration_sql="BEGIN; DROP FUNCTION price_with_tax(numeric);"
        " CREATE FUNCTION price_with_tax(p numeric) RETURNS float8"
        " LANGUAGE sql IMMUTABLE AS 'SELECT (p * 1.2)::float8'; COMMIT;",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-returns-table-column-renamed-vs-named-reader",
        schema_sql=TOP,
        versions={
            V1: [simple("SELECT label FROM top_products(5)")],
            V2: [simple("SELECT * FROM top_products(5)")],
            V3: [prepared("SELECT id FROM top_products(%s)", 3)],
        },
        migration_sql="BEGIN; DROP FUNCTION top_products(int);"
        " CREATE FUNCTION top_products(n int) RETURNS TABLE (id int, title text)"
        " LANGUAGE sql STABLE AS 'SELECT p.id, p.name FROM products p ORDER BY p.id LIMIT n';"
        " COMMIT;",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-returns-table-column-added-vs-held-star",
        schema_sql=TOP,
        versions={
            V1: [apg("SELECT * FROM top_products($1)", 5)],
            V2: [simple("SELECT * FROM top_products(5)")],
        },
        migration_sql="BEGIN; DROP FUNCTION top_products(int);"
        " CREATE FUNCTION top_products(n int) RETURNS TABLE (id int, label text, price numeric)"
        " LANGUAGE sql STABLE AS 'SELECT p.id, p.name, p.price FROM products p ORDER BY p.id"
        " LIMIT n'; COMMIT;",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-procedure-param-added-without-default",
        schema_sql=RESTOCK,
        versions={V1: [simple("CALL restock(1, 5)")], V2: [simple("SELECT qty FROM products")]},
        migration_sql="BEGIN; DROP PROCEDURE restock(int, int);"
        " CREATE PROCEDURE restock(p int, n int, reason text) LANGUAGE sql"
        " AS 'UPDATE products SET qty = qty + n WHERE id = p'; COMMIT;",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-view-column-appended-vs-held-star",
        schema_sql=CHEAP,
        versions={
            V1: [apg("SELECT * FROM cheap_products")],
            V2: [simple("SELECT * FROM cheap_products")],
        },
        migration_sql="CREATE OR REPLACE VIEW cheap_products AS"
        " SELECT id, sku, price, name FROM products WHERE price < 10",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-view-check-option-vs-writer-outside",
        schema_sql=CHEAP,
        versions={
            V1: [simple("INSERT INTO cheap_products (sku, price) VALUES ('x' || random(), 50)")],
            V2: [simple("INSERT INTO cheap_products (sku, price) VALUES ('y' || random(), 5)")],
        },
        migration_sql="CREATE OR REPLACE VIEW cheap_products AS"
        " SELECT id, sku, price FROM products WHERE price < 10 WITH CHECK OPTION",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-matview-index-dropped-vs-refresh-concurrently",
        schema_sql=TOTALS,
        versions={
            V1: [simple("REFRESH MATERIALIZED VIEW CONCURRENTLY sku_totals")],
            V2: [simple("SELECT qty FROM sku_totals")],
        },
        migration_sql="DROP INDEX sku_totals_sku",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-matview-replaced-by-view-vs-refresh",
        schema_sql=TOTALS,
        versions={
            V1: [simple("REFRESH MATERIALIZED VIEW sku_totals")],
            V2: [simple("SELECT sku, qty FROM sku_totals")],
        },
        migration_sql="BEGIN; DROP MATERIALIZED VIEW sku_totals; CREATE VIEW sku_totals AS"
        " SELECT sku, sum(qty) AS qty FROM products GROUP BY sku; COMMIT;",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-enum-rename-value-vs-literal-users",
        schema_sql=MOODS,
        versions={
            V1: [simple("INSERT INTO moods (m) VALUES ('sad')")],
            V2: [extended("SELECT id FROM moods WHERE m = %s", "happy")],
            V3: [simple("SELECT count(*) FROM moods WHERE m = 'sad'")],
        },
        migration_sql="ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy'",
        breaks=frozenset({V1, V3}),
    ),
    Case(
        id="break-r12a-enum-drop-value-by-type-swap",
        schema_sql=MOODS,
        versions={
            V1: [simple("INSERT INTO moods (m) VALUES ('meh') RETURNING id")],
            V2: [apg("SELECT id FROM moods WHERE m = $1", "happy")],
            V3: [simple("SELECT id FROM moods WHERE m = 'sad'")],
        },
        migration_sql="DELETE FROM moods WHERE m = 'meh';" + MOOD_SWAP,
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="break-r12a-domain-upper-bound-vs-large-writer",
        schema_sql=STOCK,
        versions={
            V1: [simple("INSERT INTO stock (sku, qty) VALUES ('b', 500)")],
            V2: [simple("INSERT INTO stock (sku, qty) VALUES ('c', 5)")],
        },
        migration_sql="ALTER DOMAIN qty_t ADD CONSTRAINT qty_max CHECK (VALUE <= 100) NOT VALID",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-domain-not-null-vs-writer-omitting-column",
        schema_sql=STOCK,
        versions={
            V1: [simple("INSERT INTO stock (sku) VALUES ('b')")],
            V2: [extended("INSERT INTO stock (sku, qty) VALUES (%s, %s)", "c", 1)],
        },
        migration_sql="DELETE FROM stock WHERE qty IS NULL; ALTER DOMAIN qty_t SET NOT NULL",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-composite-attribute-added-vs-row-writer",
        schema_sql=CUSTOMERS,
        versions={
            V1: [simple("INSERT INTO customers (name, a) VALUES ('Bo', ROW('Elm', 'Rome')::addr)")],
            V2: [simple("SELECT (a).city FROM customers")],
        },
        migration_sql="ALTER TYPE addr ADD ATTRIBUTE zip text",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-same-named-table-shadows-on-role-path",
        schema_sql=SHOP_PATH,
        versions={
            V1: [simple("SELECT sku FROM products")],
            V2: [simple("SELECT sku FROM products")],
        },
        users={V1: "r12a_shop"},
        migration_sql="CREATE TABLE app.products (id int PRIMARY KEY, title text);"
        " GRANT ALL ON app.products TO r12a_shop;",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-move-table-view-left-vs-sequence-by-name",
        schema_sql=PRODUCTS,
        versions={
            V1: [simple("SELECT nextval('products_id_seq')")],
            V2: [simple("SELECT sku FROM products")],
        },
        migration_sql=MOVE_TO_CORE,
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-move-table-view-left-vs-truncate-and-copy",
        schema_sql=PRODUCTS,
        versions={
            V1: [simple("TRUNCATE products")],
            V2: [copy_in("COPY products (sku, name) FROM STDIN", ("z", "Z"))],
            V3: [simple("SELECT sku FROM products")],
        },
        migration_sql=MOVE_TO_CORE,
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="break-r12a-rename-column-compat-view-misses-qty",
        schema_sql=PRODUCTS,
        versions={
            V1: [simple("UPDATE products SET qty = 1 WHERE id = 1")],
            V2: [simple("SELECT name FROM products")],
        },
        migration_sql=HIDE
        + """ALTER TABLE products_t RENAME COLUMN name TO title;
CREATE VIEW products AS SELECT id, sku, title AS name, price FROM products_t;
COMMIT;""",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-collation-change-vs-held-reader",
        schema_sql=PRODUCTS,
        versions={
            V1: [apg("SELECT sku FROM products WHERE id = $1", 1)],
            V2: [simple("SELECT sku FROM products ORDER BY sku")],
        },
        migration_sql='ALTER TABLE products ALTER COLUMN sku TYPE text COLLATE "C"',
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-security-definer-dropped-vs-granted-role",
        schema_sql=SECRET,
        versions={V1: [simple("SELECT secret_count()")], V2: [simple("SELECT secret_count()")]},
        users={V1: "r12a_reader"},
        migration_sql="ALTER FUNCTION secret_count() SECURITY INVOKER",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-r12a-view-recreated-column-order-vs-star",
        schema_sql=CHEAP,
        versions={
            V1: [apg("SELECT * FROM cheap_products")],
            V2: [simple("SELECT * FROM cheap_products")],
            V3: [simple("INSERT INTO cheap_log SELECT * FROM cheap_products WHERE false")],
        },
        migration_sql="BEGIN; DROP VIEW cheap_products; CREATE VIEW cheap_products AS"
        " SELECT id, price, sku FROM products WHERE price < 10; COMMIT;",
        breaks=frozenset({V1, V3}),
    ),
    Case(
        id="break-r12a-rename-column-compat-view-reordered-vs-positional",
        schema_sql=PRODUCTS,
        versions={
            V1: [simple("INSERT INTO products VALUES (DEFAULT, 'p' || random(), 'P', 1, 0)")],
            V2: [apg("SELECT * FROM products WHERE id = $1", 1)],
            V3: [simple("SELECT name FROM products")],
        },
        migration_sql=HIDE
        + """ALTER TABLE products_t RENAME COLUMN name TO title;
CREATE VIEW products AS SELECT id, sku, price, qty, title AS name FROM products_t;
COMMIT;""",
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="break-r12a-function-moved-to-other-schema-vs-caller",
        schema_sql=PRICE,
        versions={
            V1: [simple("SELECT price_with_tax(price) FROM products")],
            V2: [simple("SELECT price FROM products")],
        },
        migration_sql="CREATE SCHEMA billing;"
        " ALTER FUNCTION price_with_tax(numeric) SET SCHEMA billing",
        breaks=frozenset({V1}),
    ),
]

CASES = ROUND12A_SAFE + ROUND12A_BREAKING
