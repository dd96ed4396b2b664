"""Ground truth: function signatures as applications call them.

Defaults that callers rely on, VARIADIC arrays, OUT parameters that shape the
result, RETURNS TABLE columns read by name (each redefined by DROP and CREATE in
one transaction, as CREATE OR REPLACE cannot change them), and views made
security invoker.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, extended, prepared, simple

V1, V2 = "app@1", "app@2"
IDLE: list[str | Q] = [simple("SELECT 1")]

PRICES = """
CREATE TABLE prices (id serial PRIMARY KEY, amount numeric NOT NULL);
INSERT INTO prices (amount) VALUES (10), (20);
CREATE FUNCTION with_tax(amount numeric, rate numeric DEFAULT 0.2) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS 'SELECT amount * (1 + rate)';
CREATE FUNCTION total(VARIADIC xs numeric[]) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS 'SELECT sum(x) FROM unnest(xs) x';
CREATE FUNCTION stats(OUT lo numeric, OUT hi numeric)
  LANGUAGE sql STABLE AS 'SELECT min(amount), max(amount) FROM prices';
CREATE FUNCTION priced() RETURNS TABLE (id int, amount numeric)
  LANGUAGE sql STABLE AS 'SELECT id, amount FROM prices';
"""

CASES: list[Case] = [
    Case(
        id="break-fn2-default-argument-removed-vs-caller-omitting-it",
        schema_sql=PRICES,
        versions={
            V1: [extended("SELECT with_tax(amount) FROM prices WHERE id = %s", 1)],
            V2: [simple("SELECT with_tax(amount, 0.1) FROM prices")],
        },
        migration_sql="BEGIN; DROP FUNCTION with_tax(numeric, numeric);"
        " CREATE FUNCTION with_tax(amount numeric, rate numeric) RETURNS numeric"
        " LANGUAGE sql IMMUTABLE AS 'SELECT amount * (1 + rate)'; COMMIT",
        breaks=frozenset({V1}),
        note="V1 relied on the default of rate (42883 without it)",
    ),
    Case(
        id="safe-fn2-default-argument-changed-value",
        schema_sql=PRICES,
        versions={
            V1: [extended("SELECT with_tax(amount) FROM prices WHERE id = %s", 1)],
            V2: IDLE,
        },
        migration_sql="BEGIN; DROP FUNCTION with_tax(numeric, numeric);"
        " CREATE FUNCTION with_tax(amount numeric, rate numeric DEFAULT 0.25) RETURNS numeric"
        " LANGUAGE sql IMMUTABLE AS 'SELECT amount * (1 + rate)'; COMMIT",
    ),
    Case(
        id="break-fn2-variadic-removed-vs-spread-caller",
        schema_sql=PRICES,
        versions={
            V1: [simple("SELECT total(1, 2, 3)")],
            V2: [simple("SELECT total(VARIADIC ARRAY[1, 2])")],
        },
        migration_sql="BEGIN; DROP FUNCTION total(numeric[]);"
        " CREATE FUNCTION total(xs numeric[]) RETURNS numeric"
        " LANGUAGE sql IMMUTABLE AS 'SELECT sum(x) FROM unnest(xs) x'; COMMIT",
        breaks=frozenset({V1}),
        note="a spread list no longer matches (42883); VARIADIC ARRAY[...] still does",
    ),
    Case(
        id="safe-fn2-out-parameter-renamed-vs-readers-of-others",
        schema_sql=PRICES,
        versions={V1: [simple("SELECT hi FROM stats()")], V2: [simple("SELECT * FROM stats()")]},
        migration_sql="BEGIN; DROP FUNCTION stats();"
        " CREATE FUNCTION stats(OUT low numeric, OUT hi numeric)"
        " LANGUAGE sql STABLE AS 'SELECT min(amount), max(amount) FROM prices'; COMMIT",
        note="V1 reads hi, kept; V2 reads *: the renamed lo is no error",
    ),
    Case(
        id="break-fn2-returns-table-column-renamed-vs-reader-by-name",
        schema_sql=PRICES,
        versions={
            V1: [prepared("SELECT amount FROM priced() WHERE id = %s", 1)],
            V2: [simple("SELECT id FROM priced()")],
        },
        migration_sql="BEGIN; DROP FUNCTION priced();"
        " CREATE FUNCTION priced() RETURNS TABLE (id int, price numeric)"
        " LANGUAGE sql STABLE AS 'SELECT id, amount FROM prices'; COMMIT",
        breaks=frozenset({V1}),
        note="amount is now price (42703)",
    ),
    Case(
        id="safe-fn2-returns-table-body-changed",
        schema_sql=PRICES,
        versions={V1: [prepared("SELECT amount FROM priced() WHERE id = %s", 1)], V2: IDLE},
        migration_sql="CREATE OR REPLACE FUNCTION priced() RETURNS TABLE (id int, amount numeric)"
        " LANGUAGE sql STABLE AS 'SELECT id, amount FROM prices WHERE amount > 0'",
    ),
    Case(
        id="break-fn2-view-made-security-invoker-vs-reader-without-grant",
        schema_sql=PRICES + "CREATE VIEW cheap AS SELECT id, amount FROM prices WHERE amount < 15;"
        " REVOKE ALL ON prices FROM gtf_reader; GRANT SELECT ON cheap TO gtf_reader;",
        versions={V1: [simple("SELECT id FROM cheap")], V2: [simple("SELECT id FROM prices")]},
        users={V1: "gtf_reader"},
        migration_sql="ALTER VIEW cheap SET (security_invoker = true)",
        breaks=frozenset({V1}),
        note="the view now checks the reader's own rights on prices (42501)",
    ),
]
