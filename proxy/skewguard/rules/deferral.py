"""Constraints that stop being deferrable under versions that defer them.

A version that runs ``SET CONSTRAINTS ... DEFERRED`` (or fills a child table before its
parent in one transaction under an INITIALLY DEFERRED key) relies on the check waiting
for COMMIT. Made NOT DEFERRABLE (dropped and added again without the clause), the
constraint is checked at each statement: the child-first insert fails with 23503, and a
SET CONSTRAINTS naming it fails with 55000 (42704 once it is gone). The statements
themselves replay fine one by one, which is why the rule reads the version's traffic.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator

from skewguard.analysis.facets import Facet
from skewguard.analysis.facets import FacetKind as F
from skewguard.analysis.query import split_qualified_name
from skewguard.analysis.subjects import table_of_subject
from skewguard.catalog import Constraint
from skewguard.ddl.changes import AddConstraint, DropConstraint, SetDeferrable
from skewguard.ddl.findings import Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules._text import breaks
from skewguard.rules.base import Context, Example, Hit, Rule, first_per_version

#: What a version does to a table that a deferred check of it can be waiting on.
_WRITES = (F.COLUMN_WRITE, F.INSERT_SHAPE, F.INSERT_POSITIONAL, F.COPY_IN, F.ROW_DELETE)


def check_deferral_lost(
    ctx: Context, change: AddConstraint | DropConstraint | SetDeferrable
) -> Iterator[Hit]:
    parts = split_qualified_name(change.subject)
    if len(parts) != 3:
        return
    schema, table, name = parts
    old = _named(ctx.before.constraints_of(schema, table), name)
    now = _named(ctx.after.constraints_of(schema, table), name)
    was_deferrable = old is not None and old.deferrable
    first = change.subject + "|first"
    if isinstance(change, DropConstraint):
        if now is not None or not was_deferrable:
            return  # added again (its AddConstraint is judged), or never deferrable
        # only a SET CONSTRAINTS naming it fails (42704)
        yield from _breaks(
            ctx, f"dropping deferrable constraint {change.subject}", {change.subject}
        )
    elif now is None:
        return
    elif not now.deferrable:
        # an earlier statement may have dropped it: the version's facets still name it
        what = f"making constraint {change.subject} NOT DEFERRABLE"
        writers = _deferring_writers(ctx, now) if was_deferrable else ()
        yield from _breaks(ctx, what, {change.subject, first}, writers)
    elif not now.initially_deferred and (old is None or old.initially_deferred):
        # deferrable still: only a child-first transaction that defers nothing itself
        what = f"making constraint {change.subject} INITIALLY IMMEDIATE"
        deferring = {v for v, _, _ in ctx.uses((F.DEFERS,), {"*", change.subject}.__contains__)}
        yield from _breaks(ctx, what, {first}, skip=deferring)


def _breaks(
    ctx: Context,
    what: str,
    subjects: set[str],
    writers: Iterable[tuple[VersionKey, Facet, Evidence]] = (),
    skip: Container[VersionKey] = (),
) -> Iterator[Hit]:
    hits = [*ctx.uses((F.DEFERS,), subjects.__contains__), *writers]
    for v, f, ev in first_per_version(h for h in hits if h[0] not in skip):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


def _named(constraints: tuple[Constraint, ...], name: str) -> Constraint | None:
    return next((c for c in constraints if c.name == name), None)


def _deferring_writers(
    ctx: Context, con: Constraint
) -> Iterator[tuple[VersionKey, Facet, Evidence]]:
    """Versions that run SET CONSTRAINTS ALL DEFERRED and write the constrained table (or,
    for a foreign key, delete from the table it references)."""
    deferring = {v for v, _, _ in ctx.exact((F.DEFERS,), "*")}
    for v, f, ev in ctx.uses(_WRITES, lambda s: True):
        table = table_of_subject(f.subject)
        deletes = f.kind is F.ROW_DELETE
        if v in deferring and (
            (table == con.qtable and not deletes) or (table == con.ref_table and deletes)
        ):
            yield v, f, ev


_ORDERS = (
    "CREATE TABLE o (id int PRIMARY KEY);"
    " CREATE TABLE l (id int, o_id int, CONSTRAINT l_o FOREIGN KEY (o_id) REFERENCES o DEFERRABLE)"
)
_IMMEDIATE = (
    "ALTER TABLE l DROP CONSTRAINT l_o;"
    " ALTER TABLE l ADD CONSTRAINT l_o FOREIGN KEY (o_id) REFERENCES o"
)

DEFERRAL_LOST: Rule[AddConstraint | DropConstraint | SetDeferrable] = Rule(
    id="SG130",
    name="deferral-lost",
    severity=Severity.BREAK,
    summary="A deferrable constraint a version defers made NOT DEFERRABLE (or INITIALLY "
    "IMMEDIATE), or dropped while a version names it in SET CONSTRAINTS",
    doc="A version that defers a foreign key (SET CONSTRAINTS ALL or the constraint's name "
    "DEFERRED, or an INITIALLY DEFERRED key it fills child first in one transaction) writes "
    "rows the key rejects until COMMIT. Checked at each statement, the child-first insert "
    "fails with 23503; SET CONSTRAINTS naming a constraint that is not deferrable fails "
    "with 55000, one that is gone with 42704. A version deferring ALL is taken to rely on it "
    "for the tables it writes (its statements replay fine one by one, so replay cannot tell).",
    breaks="Transactions that write the constrained table while its check is deferred; "
    "SET CONSTRAINTS naming the constraint.",
    recipe="Move the versions to write parents first (and stop deferring), then make the "
    "constraint immediate; or keep it DEFERRABLE INITIALLY IMMEDIATE.",
    covers=(AddConstraint, DropConstraint, SetDeferrable),
    examples=(
        Example(
            _ORDERS,
            "BEGIN; SET CONSTRAINTS ALL DEFERRED; INSERT INTO l VALUES (1, 1);"
            " INSERT INTO o VALUES (1); COMMIT; DELETE FROM l; DELETE FROM o",
            _IMMEDIATE,
            True,
        ),
        Example(
            _ORDERS,
            "BEGIN; INSERT INTO o VALUES (1); INSERT INTO l VALUES (1, 1); COMMIT;"
            " DELETE FROM l; DELETE FROM o",
            _IMMEDIATE,
            False,
            "the parent comes first: an immediate check passes",
        ),
        Example(
            _ORDERS,
            "BEGIN; SET CONSTRAINTS l_o DEFERRED; COMMIT",
            _IMMEDIATE,
            True,
            "55000: constraint is not deferrable",
        ),
        Example(
            _ORDERS,
            "BEGIN; SET CONSTRAINTS ALL DEFERRED; INSERT INTO l VALUES (1, 1);"
            " INSERT INTO o VALUES (1); COMMIT; DELETE FROM l; DELETE FROM o",
            "ALTER TABLE l DROP CONSTRAINT l_o; ALTER TABLE l ADD CONSTRAINT l_o"
            " FOREIGN KEY (o_id) REFERENCES o DEFERRABLE",
            False,
            "still deferrable",
        ),
        Example(
            _ORDERS,
            "BEGIN; SET CONSTRAINTS ALL DEFERRED; INSERT INTO l VALUES (1, 1);"
            " INSERT INTO o VALUES (1); COMMIT; DELETE FROM l; DELETE FROM o",
            "ALTER TABLE l ALTER CONSTRAINT l_o NOT DEFERRABLE",
            True,
        ),
        Example(
            _ORDERS.replace("DEFERRABLE", "DEFERRABLE INITIALLY DEFERRED"),
            "BEGIN; INSERT INTO l VALUES (1, 1); INSERT INTO o VALUES (1); COMMIT;"
            " DELETE FROM l; DELETE FROM o",
            "ALTER TABLE l ALTER CONSTRAINT l_o DEFERRABLE INITIALLY IMMEDIATE",
            True,
            "the child-first transaction relied on the check waiting for COMMIT",
        ),
        Example(
            _ORDERS.replace("DEFERRABLE", "DEFERRABLE INITIALLY DEFERRED"),
            "BEGIN; SET CONSTRAINTS ALL DEFERRED; INSERT INTO l VALUES (1, 1);"
            " INSERT INTO o VALUES (1); COMMIT; DELETE FROM l; DELETE FROM o",
            "ALTER TABLE l ALTER CONSTRAINT l_o DEFERRABLE INITIALLY IMMEDIATE",
            False,
            "the version defers it itself",
        ),
    ),
    check=check_deferral_lost,
)

__all__ = ["DEFERRAL_LOST"]
