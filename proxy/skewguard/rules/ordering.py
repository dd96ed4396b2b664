"""Column order: what a relation's row looks like to statements that go by position.

A table keeps its column order (``ALTER TABLE`` can only append), but a view dropped
and created again, or a table rebuilt and swapped in, may list the same columns in
another order. A statement naming its columns does not notice; ``SELECT *`` planned
anew returns the new order (a driver reading by name does not notice either), but a
statement kept prepared returning ``*`` fails (0A000), and an ``INSERT`` without a
column list, ``INSERT ... SELECT *`` and ``COPY`` without a column list put values
into other columns (22P02, 42804, or quietly wrong rows).
"""

from __future__ import annotations

from collections.abc import Iterator

from skewguard.analysis.facets import FacetKind as F
from skewguard.ddl.changes import ReorderColumns
from skewguard.ddl.findings import Severity
from skewguard.rules._text import breaks
from skewguard.rules.base import Context, Example, Hit, Rule, first_per_version


def check_reordered(ctx: Context, change: ReorderColumns) -> Iterator[Hit]:
    what = f"reordering the columns of {change.subject}"
    table = change.subject
    hits = list(ctx.exact((F.PREPARED_RESULT,), table + ".*"))
    hits += ctx.uses((F.INSERT_POSITIONAL,), lambda s: s.startswith(table + "/"))
    hits += ctx.exact((F.COPY_IN,), table)
    hits += ctx.uses(
        (F.INSERT_SELECT_STAR,), lambda s: s.endswith("<" + table) or s.startswith(table + "<")
    )
    for v, f, ev in first_per_version(hits):
        yield Hit(Severity.BREAK, breaks(what, v, f) + " (it goes by position)", v, f, ev)


REORDERED = Rule(
    id="SG127",
    name="columns-reordered",
    severity=Severity.BREAK,
    summary="A relation keeps its columns in another order",
    doc="A view dropped and created again (or a compatibility view over a renamed table) "
    "that lists the same columns in another order: a statement kept prepared returning "
    "* fails with 0A000; INSERT without a column list, INSERT ... SELECT * and COPY "
    "without a column list put values into other columns. Statements naming their "
    "columns, and SELECT * planned anew, do not notice.",
    breaks="Kept SELECT * (named prepared statements), INSERT without a column list, "
    "INSERT ... SELECT * from or into the relation, COPY FROM without a column list.",
    recipe="Keep the old order and append new columns at the end (CREATE OR REPLACE VIEW "
    "enforces it).",
    covers=(ReorderColumns,),
    examples=(
        Example(
            "CREATE TABLE t (id int, sku text, price numeric);"
            " CREATE VIEW v AS SELECT id, sku, price FROM t",
            "PREPARE q AS SELECT * FROM v; EXECUTE q",
            "DROP VIEW v; CREATE VIEW v AS SELECT id, price, sku FROM t",
            True,
        ),
        Example(
            "CREATE TABLE t (id int, sku text, price numeric);"
            " CREATE VIEW v AS SELECT id, sku, price FROM t",
            "SELECT sku, price FROM v",
            "DROP VIEW v; CREATE VIEW v AS SELECT id, price, sku FROM t",
            False,
            "it names its columns",
        ),
        Example(
            "CREATE TABLE t (id int, sku text, price numeric);"
            " CREATE VIEW v AS SELECT id, sku, price FROM t",
            "INSERT INTO v VALUES (1, 'a', 2)",
            "DROP VIEW v; CREATE VIEW v AS SELECT id, price, sku FROM t",
            True,
        ),
    ),
    check=check_reordered,
)
