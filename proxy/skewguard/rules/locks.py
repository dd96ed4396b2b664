"""Lock-safety lints: statements that hold strong locks for long on busy tables.

Not tied to a version and never a break by default: they do not change what
works, only how long other sessions wait. "Non-empty" comes from the
snapshot's reltuples/relpages; tables created in the same transaction are
never flagged.
"""

from __future__ import annotations

from collections.abc import Iterator

from skewguard.ddl.changes import (
    AddColumn,
    AddConstraint,
    AlterColumnType,
    Change,
    ConstraintType,
    CreateIndex,
    DropIndex,
    SetNotNull,
)
from skewguard.ddl.findings import Severity
from skewguard.rules.base import Context, Example, Hit, Rule, relation_of


def non_empty(ctx: Context, qname: str) -> bool:
    rel = relation_of(ctx.before, qname)
    return rel is not None and (rel.rows > 0 or rel.pages > 0)


def lint_examples(
    schema: str, usage: str, reported: tuple[str, str], quiet: tuple[str, str]
) -> tuple[Example, Example]:
    """A lint's examples on one schema and usage: a migration (with a note) it
    reports and one it does not. Nothing breaks either way."""
    return (
        Example(schema, usage, reported[0], False, reported[1], fires=True),
        Example(schema, usage, quiet[0], False, quiet[1], fires=False),
    )


def check_index_lock(ctx: Context, change: CreateIndex | DropIndex) -> Iterator[Hit]:
    if change.concurrently or not non_empty(ctx, change.relation) or change.via:
        return
    verb = "CREATE" if isinstance(change, CreateIndex) else "DROP"
    yield Hit(
        Severity.RISK,
        f"{verb} INDEX {change.subject} without CONCURRENTLY locks "
        f"{change.relation} for the whole operation",
    )


INDEX_LOCK: Rule[CreateIndex | DropIndex] = Rule(
    id="SG201",
    name="index-without-concurrently",
    severity=Severity.RISK,
    summary="CREATE INDEX / DROP INDEX without CONCURRENTLY on a non-empty table",
    doc="A plain CREATE INDEX blocks writes (SHARE lock) for the whole build; DROP INDEX takes "
    "ACCESS EXCLUSIVE. A UNIQUE/PRIMARY KEY constraint added with ALTER TABLE builds its index "
    "the same way.",
    breaks="Nothing fails; writers wait for the build.",
    recipe="CREATE INDEX CONCURRENTLY (outside a transaction), then ADD CONSTRAINT ... USING "
    "INDEX if a constraint is needed; DROP INDEX CONCURRENTLY.",
    covers=(CreateIndex, DropIndex),
    examples=lint_examples(
        "CREATE TABLE t (id int, email text)",
        "INSERT INTO t (id, email) VALUES (1, 'a')",
        ("CREATE INDEX t_email ON t (email)", "writers wait for the build (reported)"),
        ("CREATE INDEX CONCURRENTLY t_email ON t (email)", "CONCURRENTLY: writers go on"),
    ),
    check=check_index_lock,
)


def check_rewrite(ctx: Context, change: AlterColumnType | AddColumn) -> Iterator[Hit]:
    if not non_empty(ctx, change.relation):
        return
    if isinstance(change, AlterColumnType):
        if not change.binary_coercible:
            yield Hit(
                Severity.RISK,
                f"ALTER COLUMN {change.subject} TYPE {change.new_type} rewrites {change.relation}",
            )
    elif change.volatile_default:
        yield Hit(
            Severity.RISK,
            f"ADD COLUMN {change.subject} with a volatile default rewrites {change.relation}",
        )


REWRITE: Rule[AlterColumnType | AddColumn] = Rule(
    id="SG202",
    name="table-rewrite",
    severity=Severity.RISK,
    summary="ALTER TABLE that rewrites a non-empty table under ACCESS EXCLUSIVE",
    doc="A type change that is not binary-coercible, or ADD COLUMN with a volatile default "
    "(random(), clock_timestamp(), serial, identity, stored generated), rewrites every row "
    "while blocking reads and writes.",
    breaks="Nothing fails; every session touching the table waits.",
    recipe="Add a nullable column, backfill in batches, then switch (expand/contract).",
    covers=(AlterColumnType, AddColumn),
    examples=lint_examples(
        "CREATE TABLE t (id int, code int)",
        "INSERT INTO t (id, code) VALUES (1, 2)",
        (
            "ALTER TABLE t ALTER COLUMN code TYPE bigint",
            "every row is rewritten under ACCESS EXCLUSIVE (reported)",
        ),
        ("ALTER TABLE t ADD COLUMN note text", "no default to fill in: no rewrite"),
    ),
    check=check_rewrite,
)


def check_validation(ctx: Context, change: AddConstraint | SetNotNull) -> Iterator[Hit]:
    if not non_empty(ctx, change.relation):
        return
    if isinstance(change, AddConstraint):
        scans = change.contype in (ConstraintType.CHECK, ConstraintType.FOREIGN)
        if scans and change.validated:
            yield Hit(
                Severity.RISK,
                f"ADD CONSTRAINT {change.subject} validates every row of "
                f"{change.relation} under lock; use NOT VALID + VALIDATE",
            )
    else:
        yield Hit(
            Severity.RISK,
            f"SET NOT NULL on {change.subject} scans {change.relation} under ACCESS EXCLUSIVE",
        )


VALIDATION: Rule[AddConstraint | SetNotNull] = Rule(
    id="SG203",
    name="validation-under-lock",
    severity=Severity.RISK,
    summary="ADD FOREIGN KEY / CHECK without NOT VALID, or SET NOT NULL, on a non-empty table",
    doc="Validating existing rows scans the whole table while holding a lock that blocks "
    "writes (and, for SET NOT NULL, reads).",
    breaks="Nothing fails; sessions wait for the scan.",
    recipe="ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT (weaker lock). For NOT NULL: "
    "a CHECK (col IS NOT NULL) NOT VALID, VALIDATE, then SET NOT NULL uses it (PG12+).",
    covers=(AddConstraint, SetNotNull),
    examples=lint_examples(
        "CREATE TABLE t (id int, price int)",
        "INSERT INTO t (id, price) VALUES (1, 5)",
        (
            "ALTER TABLE t ADD CONSTRAINT price_positive CHECK (price > 0)",
            "every row is checked under lock (reported)",
        ),
        (
            "ALTER TABLE t ADD CONSTRAINT price_positive CHECK (price > 0) NOT VALID",
            "NOT VALID: no scan; VALIDATE CONSTRAINT later takes a weaker lock",
        ),
    ),
    check=check_validation,
)


def check_lock_timeout(ctx: Context, change: Change) -> Iterator[Hit]:
    if ctx.session is None or ctx.session.lock_timeout_set:
        return
    if change.relation and relation_of(ctx.before, change.relation) is not None:
        yield Hit(Severity.RISK, f"{change} waits for its lock without a lock_timeout")


LOCK_TIMEOUT = Rule(
    id="SG204",
    name="missing-lock-timeout",
    severity=Severity.RISK,
    summary="DDL on an existing table without a lock_timeout",
    doc="DDL waiting for its lock queues every later statement on the table behind it; a "
    "lock_timeout makes it give up instead. Needs the shell's session facts.",
    breaks="Nothing fails; a lock queue can stall the application.",
    recipe="SET lock_timeout = '2s' (and retry) before DDL.",
    covers=(Change,),
    examples=lint_examples(
        "CREATE TABLE t (id int)",
        "SELECT id FROM t",
        (
            "ALTER TABLE t ADD COLUMN note text",
            "behind an open transaction on t it would queue every later statement (reported)",
        ),
        (
            "SET lock_timeout = '2s'; ALTER TABLE t ADD COLUMN note text",
            "gives up instead of queueing",
        ),
    ),
    check=check_lock_timeout,
)
