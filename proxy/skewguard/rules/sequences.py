"""A sequence whose next numbers run out or are already taken.

Verified against PostgreSQL 15 and 18: ALTER SEQUENCE refuses a limit or type its
current number is past (22023), so what breaks a writer is a restart, a step or a limit
that leaves the numbers after the current one: nextval fails at the limit (2200H: reached
maximum value) unless the sequence cycles, and a number a unique column already holds
fails the insert (23505). Whether that happens depends on the sequence's numbers and the
table's rows, so PostgreSQL is asked (:func:`sequence_probe`, run by the shell like the
constraint probes).
"""

from __future__ import annotations

from collections.abc import Iterator

from skewguard.analysis.facets import FacetKind as F
from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import qualified
from skewguard.ddl.changes import AlterSequence
from skewguard.ddl.findings import Severity
from skewguard.rules._text import breaks
from skewguard.rules.base import Context, Example, Hit, Probe, Rule, first_per_version
from skewguard.sql_constants import quoted_literal

#: How many of the next numbers must be there: a writer takes more than one, and a
#: number a few steps on that is taken breaks it at its next few statements.
NEXT = 10

_MAX = "9223372036854775807"
_MIN = "-9223372036854775808"


def _type_limit(typ: str, upper: bool) -> str:
    """The largest (smallest) value of the sequence type ``typ`` (an SQL regtype)."""
    small, integer, big = (
        ("32767", "2147483647", _MAX) if upper else ("-32768", "-2147483648", _MIN)
    )
    return (
        f"(CASE {typ} WHEN 'int2'::regtype THEN {small} WHEN 'int4'::regtype THEN {integer}"
        f" ELSE {big} END)::numeric"
    )


def _limit(options: dict[str, str], inc: str, typ: str, upper: bool) -> str:
    """MAXVALUE (MINVALUE) after the change, as PostgreSQL sets it: the option's; the
    type's (or -1 / 1, by direction) for NO MAXVALUE (NO MINVALUE); with AS, the new
    type's where the old limit was the old type's; else the sequence's own."""
    name, column = ("maxvalue", "p.seqmax") if upper else ("minvalue", "p.seqmin")
    if name in options:
        if options[name]:
            return options[name]
        default = "-1" if upper else "1"
        grows = "> 0" if upper else "< 0"
        return f"(CASE WHEN {inc} {grows} THEN {_type_limit(typ, upper)} ELSE {default} END)"
    if "as" in options:
        old = _type_limit("p.seqtypid", upper)
        return f"(CASE WHEN {column} = {old} THEN {_type_limit(typ, upper)} ELSE {column} END)"
    return column


def _bigint(expr: str) -> str:
    """``expr`` clamped into bigint, so a unique column's index compares with it."""
    return f"least(greatest({expr}, {_MIN}), {_MAX})::bigint"


def sequence_probe(change: AlterSequence) -> str:
    """SQL answering whether the next :data:`NEXT` numbers of the sequence, as the change
    leaves it, run past its limit (without CYCLE) or meet a row of a unique column whose
    default draws from it. The same answer before the change ran and inside the
    transaction after it: what the change sets is taken from its options, the rest from
    the sequence (a RESTART already run leaves its number as the last, not yet called)."""
    o = dict(change.options)
    # the type is a name the client wrote (a quoted one may hold any character): a literal
    typ = f"{quoted_literal(o['as'])}::regtype" if "as" in o else "p.seqtypid"
    inc = f"({o['increment']})::numeric" if "increment" in o else "p.seqincrement::numeric"
    if "restart" in o:
        nxt = o["restart"] or o.get("start") or "p.seqstart"
    else:
        nxt = f"CASE WHEN q.is_called THEN q.last_value + {inc} ELSE q.last_value END"
    cycle = o.get("cycle") or "p.seqcycle"
    numbers = (
        f"SELECT ({nxt})::numeric AS first, ({nxt})::numeric + {inc} * {NEXT - 1} AS last,"
        f" {_limit(o, inc, typ, True)}::numeric AS hi, {_limit(o, inc, typ, False)}::numeric"
        f" AS lo, {cycle} AS cycle FROM {change.subject} q, pg_catalog.pg_sequence p"
        f" WHERE p.seqrelid = {quoted_literal(change.subject)}::regclass"
    )
    taken = []
    for subject in change.unique_columns:
        parts = split_qualified_name(subject)
        table, column = qualified(parts[0], parts[1]), parts[2]
        low, high = _bigint("least(n.first, n.last)"), _bigint("greatest(n.first, n.last)")
        taken.append(f" OR EXISTS (SELECT 1 FROM {table} WHERE {column} BETWEEN {low} AND {high})")
    return (
        f"WITH n AS ({numbers}) SELECT (NOT n.cycle AND (greatest(n.first, n.last) > n.hi"
        f" OR least(n.first, n.last) < n.lo)){''.join(taken)} FROM n"
    )


def check_sequence_numbers(ctx: Context, change: AlterSequence) -> Iterator[Hit]:
    what = change.describe()
    violated = ctx.probes.get(Probe(sequence_probe(change), every_row=True))
    if violated is False:
        return
    why = (
        "its next numbers run past the limit or are already taken"
        if violated
        else "whether its next numbers are free could not be checked"
    )
    uses = ctx.exact((F.SEQUENCE, F.SEQUENCE_DEFAULT), change.subject)
    for v, f, ev in first_per_version(uses):
        yield Hit(Severity.BREAK, f"{breaks(what, v, f)} ({why})", v, f, ev)


SEQUENCE_NUMBERS: Rule[AlterSequence] = Rule(
    id="SG133",
    name="sequence-numbers-taken",
    severity=Severity.BREAK,
    summary="ALTER SEQUENCE leaves nextval no free numbers: past its limit, or ones a unique "
    "column holds",
    doc="RESTART, INCREMENT, MAXVALUE, MINVALUE, AS and NO CYCLE change the numbers nextval "
    "returns. PostgreSQL refuses a limit the current number is past (22023), so the change "
    "itself runs; the versions taking numbers from the sequence (nextval, or an INSERT or "
    "COPY leaving a column to a default that draws from it, through an updatable view too) "
    "break when the next numbers "
    f"(the next {NEXT}) run past the limit without CYCLE (2200H) or meet a row of a column "
    "a unique index checks alone whose default draws from the sequence (23505). The shell "
    "asks PostgreSQL with the sequence's numbers and the table's rows; unanswered, the "
    "versions are named. CACHE, OWNED BY, START without RESTART, CYCLE, AS bigint and NO "
    "MAXVALUE leave the numbers alone.",
    breaks="Inserts and copies taking their id from the sequence; nextval('s').",
    recipe="Restart above every number used (SELECT max(id) + 1), keep the limit far above "
    "the current number, or retire the versions taking numbers from it first.",
    covers=(AlterSequence,),
    check=check_sequence_numbers,
    examples=(
        Example(
            "CREATE TABLE t (id serial PRIMARY KEY, note text); INSERT INTO t (note) VALUES ('a')",
            "INSERT INTO t (note) VALUES ('b')",
            "ALTER SEQUENCE t_id_seq RESTART",
            True,
            "23505: the next number is 1 again",
            probe=True,
        ),
        Example(
            "CREATE TABLE t (id serial PRIMARY KEY, note text); INSERT INTO t (note) VALUES ('a')",
            "INSERT INTO t (note) VALUES ('b')",
            "ALTER SEQUENCE t_id_seq RESTART WITH 1000",
            False,
            "every number from 1000 on is free",
            probe=False,
        ),
        Example(
            "CREATE TABLE t (id serial PRIMARY KEY, note text); INSERT INTO t (note) VALUES ('a')",
            "INSERT INTO t (note) VALUES ('b')",
            "ALTER SEQUENCE t_id_seq MAXVALUE 2",
            True,
            "2200H: the insert before took 2",
            probe=True,
        ),
        Example(
            "CREATE TABLE t (id serial PRIMARY KEY, note text)",
            "INSERT INTO t (id, note) VALUES (7, 'b') ON CONFLICT DO NOTHING",
            "ALTER SEQUENCE t_id_seq RESTART",
            False,
            "the insert brings its own id",
        ),
    ),
)
