"""A corpus of distinct, realistic statement shapes for the analysis micro-benchmarks.

The pgbench tables plus five small application tables (``bench_*``, created and
filled by :func:`create_tables`) give enough columns for thousands of distinct
shapes: point reads with different column lists, filtered and ordered reads,
aggregates, joins, inserts, upserts, updates and deletes, every literal inlined
the way an application that does not use parameters sends them. Two statements
of the corpus never share a literal-insensitive key (``skewguard.literal_keys.
literal_key``), so each is a distinct shape for the learner, not only a distinct
text. Every statement is cheap to run (the 1M-row pgbench_accounts is only read
and written by primary key, pgbench_history only inserted into) so the corpus
can also be sent through a real proxy many times over.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

from skewguard.literal_keys import literal_key

#: The extra tables, created in the bench database next to pgbench's.
EXTRA_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS bench_customers (
    id int PRIMARY KEY, email text, name text, country text, status text,
    credit numeric(12,2), referred_by int, created_at timestamptz
);
CREATE TABLE IF NOT EXISTS bench_products (
    id int PRIMARY KEY, sku text, title text, category text, price numeric(10,2),
    stock int, active boolean
);
CREATE TABLE IF NOT EXISTS bench_orders (
    id int PRIMARY KEY, customer_id int, status text, currency text, total numeric(12,2),
    note text, placed_at timestamptz
);
CREATE INDEX IF NOT EXISTS bench_orders_customer ON bench_orders (customer_id);
CREATE TABLE IF NOT EXISTS bench_order_items (
    order_id int, product_id int, qty int, unit_price numeric(10,2), discount numeric(10,2),
    PRIMARY KEY (order_id, product_id)
);
CREATE TABLE IF NOT EXISTS bench_events (
    id bigint PRIMARY KEY, customer_id int, kind text, source text, payload jsonb,
    at timestamptz
);
INSERT INTO bench_customers SELECT g, 'c' || g || '@example.com', 'name ' || g,
    (ARRAY['DE','FR','US','JP'])[1 + g % 4], (ARRAY['new','active','gone'])[1 + g % 3],
    g % 500, NULLIF(g % 50, 0), now() - g * interval '1 hour'
    FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING;
INSERT INTO bench_products SELECT g, 'SKU' || g, 'product ' || g, 'cat' || g % 12, g % 90 + 0.99,
    g % 40, g % 7 <> 0 FROM generate_series(1, 200) g ON CONFLICT DO NOTHING;
INSERT INTO bench_orders SELECT g, 1 + g % 1000, (ARRAY['open','paid','shipped'])[1 + g % 3],
    'EUR', g % 700 + 0.5, NULL, now() - g * interval '10 minutes'
    FROM generate_series(1, 2000) g ON CONFLICT DO NOTHING;
INSERT INTO bench_order_items SELECT 1 + g % 2000, 1 + g % 200, 1 + g % 5, 9.99, 0
    FROM generate_series(1, 4000) g ON CONFLICT DO NOTHING;
INSERT INTO bench_events SELECT g, 1 + g % 1000, 'kind' || g % 9, 'web', '{"n": 1}',
    now() - g * interval '1 minute' FROM generate_series(1, 2000) g ON CONFLICT DO NOTHING;
ANALYZE bench_customers, bench_products, bench_orders, bench_order_items, bench_events;
"""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, literal kind)
    key: str  # a unique, indexed column: every read and write of a big table goes through it
    big: bool = False  # too large for anything but primary-key access
    insert_only: bool = False
    required: tuple[str, ...] = ()  # NOT NULL columns every INSERT names (never SET)

    def kind(self, column: str) -> str:
        return dict(self.columns)[column]


TABLES: tuple[Table, ...] = (
    Table(
        "pgbench_accounts",
        (("aid", "int"), ("bid", "int"), ("abalance", "int"), ("filler", "text")),
        "aid",
        big=True,
        required=("aid",),
    ),
    Table(
        "pgbench_branches",
        (("bid", "int"), ("bbalance", "int"), ("filler", "text")),
        "bid",
        required=("bid",),
    ),
    Table(
        "pgbench_tellers",
        (("tid", "int"), ("bid", "int"), ("tbalance", "int"), ("filler", "text")),
        "tid",
        required=("tid",),
    ),
    Table(
        "pgbench_history",
        (
            ("tid", "int"),
            ("bid", "int"),
            ("aid", "int"),
            ("delta", "int"),
            ("mtime", "ts"),
            ("filler", "text"),
        ),
        "aid",
        big=True,
        insert_only=True,
    ),
    Table(
        "bench_customers",
        (
            ("id", "int"),
            ("email", "text"),
            ("name", "text"),
            ("country", "text"),
            ("status", "text"),
            ("credit", "num"),
            ("referred_by", "int"),
            ("created_at", "ts"),
        ),
        "id",
        required=("id",),
    ),
    Table(
        "bench_products",
        (
            ("id", "int"),
            ("sku", "text"),
            ("title", "text"),
            ("category", "text"),
            ("price", "num"),
            ("stock", "int"),
            ("active", "bool"),
        ),
        "id",
        required=("id",),
    ),
    Table(
        "bench_orders",
        (
            ("id", "int"),
            ("customer_id", "int"),
            ("status", "text"),
            ("currency", "text"),
            ("total", "num"),
            ("note", "text"),
            ("placed_at", "ts"),
        ),
        "id",
        required=("id",),
    ),
    Table(
        "bench_order_items",
        (
            ("order_id", "int"),
            ("product_id", "int"),
            ("qty", "int"),
            ("unit_price", "num"),
            ("discount", "num"),
        ),
        "order_id",
        required=("order_id", "product_id"),
    ),
    Table(
        "bench_events",
        (
            ("id", "int"),
            ("customer_id", "int"),
            ("kind", "text"),
            ("source", "text"),
            ("payload", "json"),
            ("at", "ts"),
        ),
        "id",
        required=("id",),
    ),
)

#: (left, right, join condition) for two-table reads.
JOINS: tuple[tuple[str, str, str], ...] = (
    ("pgbench_accounts", "pgbench_branches", "a.bid = b.bid"),
    ("pgbench_tellers", "pgbench_branches", "a.bid = b.bid"),
    ("bench_orders", "bench_customers", "a.customer_id = b.id"),
    ("bench_order_items", "bench_orders", "a.order_id = b.id"),
    ("bench_order_items", "bench_products", "a.product_id = b.id"),
    ("bench_events", "bench_customers", "a.customer_id = b.id"),
    ("bench_customers", "bench_customers", "a.referred_by = b.id"),
)

_WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "tango", "zulu")
_COMPARE = ("=", "<", ">", "<=", ">=", "<>")


def literal(kind: str, rng: random.Random) -> str:
    """A literal of ``kind`` as an application would inline it."""
    if kind == "int":
        return str(rng.randint(1, 99_999))
    if kind == "num":
        return f"{rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
    if kind == "ts":
        return f"'2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 12:00:00'"
    if kind == "bool":
        return rng.choice(("true", "false"))
    if kind == "json":
        return f"""'{{"n": {rng.randint(1, 999)}}}'"""
    return f"'{rng.choice(_WORDS)}{rng.randint(1, 9_999)}'"


@dataclass(frozen=True, slots=True)
class Shape:
    """A statement with its literals left out: ``template.format(*literals)``."""

    template: str
    kinds: tuple[str, ...]

    def fill(self, rng: random.Random) -> str:
        return self.template.format(*(literal(k, rng) for k in self.kinds))


def _column_lists(table: Table, most: int) -> Iterator[tuple[str, ...]]:
    names = [c for c, _ in table.columns]
    for size in range(1, most + 1):
        yield from itertools.combinations(names, size)


def _comparisons(table: Table) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(predicate with {} for its literal(s), literal kinds) on one column."""
    for column, kind in table.columns:
        if kind in ("int", "num", "ts"):
            for op in _COMPARE:
                yield f"{column} {op} {{}}", (kind,)
            yield f"{column} BETWEEN {{}} AND {{}}", (kind, kind)
        elif kind == "text":
            yield f"{column} = {{}}", (kind,)
            yield f"{column} LIKE {{}}", (kind,)
            yield f"{column} IN ({{}}, {{}})", (kind, kind)
        elif kind == "bool":
            yield f"{column} IS {{}}", (kind,)
        yield f"{column} IS NULL", ()


def _point_reads(table: Table) -> Iterator[Shape]:
    yield Shape(f"SELECT * FROM {table.name} WHERE {table.key} = {{}}", ("int",))
    for cols in _column_lists(table, 3):
        yield Shape(
            f"SELECT {', '.join(cols)} FROM {table.name} WHERE {table.key} = {{}}", ("int",)
        )


def _filtered_reads(table: Table) -> Iterator[Shape]:
    names = [c for c, _ in table.columns]
    for (pred, kinds), order in itertools.product(_comparisons(table), names):
        cols = ", ".join([order, *(c for c in names if c != order)][:3])
        if table.big:  # stay on the primary key
            yield Shape(
                f"SELECT {cols} FROM {table.name} WHERE {table.key} = {{}} AND {pred}",
                ("int", *kinds),
            )
        else:
            yield Shape(
                f"SELECT {cols} FROM {table.name} WHERE {pred} ORDER BY {order} LIMIT {{}}",
                (*kinds, "int"),
            )


def _aggregates(table: Table) -> Iterator[Shape]:
    numeric = [c for c, k in table.columns if k in ("int", "num")]
    for group, (pred, kinds) in itertools.product(
        [c for c, _ in table.columns], _comparisons(table)
    ):
        for agg in numeric[:3]:
            yield Shape(
                f"SELECT {group}, count(*), sum({agg}) FROM {table.name} WHERE {pred} "
                f"GROUP BY {group} HAVING count(*) > {{}}",
                (*kinds, "int"),
            )


def _writes(table: Table) -> Iterator[Shape]:
    names = [c for c, _ in table.columns]
    for cols in _column_lists(table, 4):
        if not set(table.required) <= set(cols):
            continue
        insert = (
            f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('{}' for _ in cols)})"
        )
        if table.required:
            insert += f" ON CONFLICT ({', '.join(table.required)}) DO NOTHING"
        yield Shape(insert, tuple(table.kind(c) for c in cols))
    if table.insert_only:
        return
    settable = [c for c in names if c not in table.required]
    for column, other in itertools.product(settable, names):
        if column != other:
            yield Shape(
                f"UPDATE {table.name} SET {column} = {{}} WHERE {table.key} = {{}} "
                f"RETURNING {other}",
                (table.kind(column), "int"),
            )
    for column in settable:
        if table.kind(column) in ("int", "num"):
            yield Shape(
                f"UPDATE {table.name} SET {column} = {column} + {{}} WHERE {table.key} = {{}}",
                (table.kind(column), "int"),
            )
    if not table.big:
        for pred, kinds in _comparisons(table):
            yield Shape(
                f"DELETE FROM {table.name} WHERE {table.key} = {{}} AND {pred}", ("int", *kinds)
            )


def _joins(by_name: dict[str, Table]) -> Iterator[Shape]:
    for left_name, right_name, on in JOINS:
        left, right = by_name[left_name], by_name[right_name]
        for lcols, rcols in itertools.product(_column_lists(left, 2), _column_lists(right, 2)):
            select = ", ".join([*(f"a.{c}" for c in lcols), *(f"b.{c}" for c in rcols)])
            yield Shape(
                f"SELECT {select} FROM {left.name} a JOIN {right.name} b ON {on} "
                f"WHERE a.{left.key} = {{}}",
                ("int",),
            )


def shapes(rng: random.Random) -> list[Shape]:
    """Every candidate shape: each family shuffled, then the families dealt out in turn.

    Dealing keeps the mix even (reads, aggregates, joins and writes on every
    table) however many shapes each family can make.
    """
    families: list[list[Shape]] = [list(_joins({t.name: t for t in TABLES}))]
    for table in TABLES:
        families.append(list(_writes(table)))
        if not table.insert_only:
            families += [list(_point_reads(table)), list(_filtered_reads(table))]
        if not table.big:
            families.append(list(_aggregates(table)))
    for family in families:
        rng.shuffle(family)
    dealt = itertools.zip_longest(*families)
    return [shape for row in dealt for shape in row if shape is not None]


def corpus(count: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """``count`` statements of distinct shapes, and the same shapes with other literals.

    The second list differs from the first text by text (an exact-cache miss)
    but not shape by shape (a literal-key hit).
    """
    rng = random.Random(seed)
    candidates = shapes(rng)
    texts: list[str] = []
    variants: list[str] = []
    keys: set[str] = set()
    for shape in candidates:
        if len(texts) >= count:
            break
        text = shape.fill(rng)
        key = literal_key(text)
        if key in keys:
            continue
        variant = next((v for v in (shape.fill(rng) for _ in range(5)) if v != text), None)
        if variant is None:  # no literal literal_key would hide
            continue
        keys.add(key)
        texts.append(text)
        variants.append(variant)
    if len(texts) < count:
        raise RuntimeError(f"only {len(texts)} distinct shapes (wanted {count})")
    return texts, variants
