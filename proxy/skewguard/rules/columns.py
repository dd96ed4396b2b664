"""Column changes: types, NOT NULL, defaults, new columns against star and positional use.

Verified against PostgreSQL 15 and 18 (see tests/integration/test_rule_examples.py):

- any change of a column's type, typmod or collation, even ``varchar(50)`` ->
  ``varchar(120)`` or ``text`` -> ``text COLLATE "C"``, makes a *named prepared
  statement* returning it fail with 0A000 "cached plan
  must not change result type"; the simple protocol and unnamed statements
  replan silently;
- ``ADD COLUMN`` breaks ``COPY t FROM`` without a column list ("missing data
  for column") and ``INSERT INTO x SELECT * FROM t`` ("INSERT has more
  expressions than target columns"), and a named prepared ``SELECT *``; a plain
  ``SELECT *`` and a positional ``INSERT ... VALUES`` survive a nullable or
  defaulted new column;
- a new column can make an unqualified name in a join ambiguous (42702).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import pglast
from pglast import ast

from skewguard.analysis.derived import decode, result_type_changes
from skewguard.analysis.facets import Facet
from skewguard.analysis.facets import FacetKind as F
from skewguard.analysis.query import column_type, split_qualified_name
from skewguard.analysis.subjects import shape_columns
from skewguard.catalog import CatalogSnapshot, RelKind, ident
from skewguard.ddl.changes import (
    AddColumn,
    AlterColumnType,
    Change,
    ChangeDefault,
    DropDefault,
    DropExpression,
    RenameColumn,
    SetGenerated,
    SetIdentityAlways,
    SetNotNull,
)
from skewguard.ddl.findings import Severity
from skewguard.ddl.types import assigns_every_value, receives_binary_form
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules._text import breaks, risks
from skewguard.rules.base import (
    PREPARED_DERIVED,
    PREPARED_RESULT,
    Context,
    Example,
    Hit,
    Probe,
    Rule,
    first_per_version,
    relation_of,
    routine_callers,
    star_insert_lines_up,
    writer_probes,
)
from skewguard.rules.values import column_values, fits
from skewguard.sql_parse import parse_sql

Use = tuple[VersionKey, Facet, Evidence]


def _column_name(change: Change) -> str:
    return change.subject[len(change.relation) + 1 :]


def omitting_inserts(ctx: Context, change: Change) -> Iterator[Use]:
    """Inserts into the change's table that do not supply its column."""
    table, col = change.relation, _column_name(change)
    rel = ctx.before.relation(*_split(table))
    position = -1
    if rel is not None:
        names = [ident(n) for n in rel.column_names]
        position = names.index(col) if col in names else len(names)
    for use in ctx.uses((F.INSERT_SHAPE,), lambda s: s.startswith(table + "(")):
        cols = shape_columns(use[1].subject) or []
        if col not in cols:
            yield use
    for use in ctx.uses((F.INSERT_POSITIONAL,), lambda s: s.startswith(table + "/")):
        if int(use[1].subject.rsplit("/", 1)[1]) <= position:
            yield use
    for use in ctx.uses((F.COPY_IN, F.COPY_SHAPE), lambda s: s.startswith(table + "(")):
        if col not in (shape_columns(use[1].subject) or []):
            yield use


def _split(qname: str) -> tuple[str, str]:
    parts = split_qualified_name(qname)
    return (parts[0], parts[1]) if len(parts) == 2 else ("", qname)


def _certain_breaks(
    what: str, uses: Iterable[Use], why: str, broken: set[VersionKey]
) -> Iterator[Hit]:
    """A BREAK per version among ``uses`` not in ``broken`` yet (which then holds it)."""
    for v, f, ev in first_per_version(u for u in uses if u[0] not in broken):
        broken.add(v)
        yield Hit(Severity.BREAK, breaks(what, v, f) + why, v, f, ev)


def check_type_change(ctx: Context, change: AlterColumnType) -> Iterator[Hit]:
    what = f"ALTER COLUMN {change.subject} TYPE {change.new_type} (was {change.old_type})"
    broken: set[VersionKey] = set()
    # first the held statements, which fail whatever the values: a writer's finding is
    # value-dependent, and a clean replay of its writes may overturn it
    star = f"{change.relation}.*"
    prepared = list(ctx.uses((PREPARED_RESULT,), lambda s: s in (change.subject, star)))
    prepared += ctx.uses((PREPARED_DERIVED,), _derived_from(ctx, change))
    held = " in a named prepared statement (cached plan must not change result type)"
    yield from _certain_breaks(what, prepared, held, broken)
    if not receives_binary_form(change.old_type, change.new_type):
        binary = ctx.exact((F.COPY_WRITE,), f"{change.subject}|binary")
        refused = " (the new type's receive function refuses the old type's binary form)"
        yield from _certain_breaks(what, binary, refused, broken)
    if not change.widening:
        writers = list(ctx.exact((F.COLUMN_WRITE,), change.subject))
        for v, f, ev in first_per_version(u for u in writers if u[0] not in broken):
            facets = ctx.footprints.get(v, {})
            if (
                _constants_fit(facets, change)
                or _copied_as_text(facets, change)
                or _assigned_unread(ctx, facets, change)
            ):
                continue
            broken.add(v)
            yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)
    readers = list(ctx.exact((F.COLUMN_READ,), change.subject))
    readers += list(ctx.exact((F.SELECT_STAR,), change.relation))
    why = "a named prepared statement returning it fails with 0A000"
    if not change.widening:
        why = "comparisons and result handling see another type; " + why
    for v, f, ev in first_per_version(u for u in readers if u[0] not in broken):
        broken.add(v)
        yield Hit(Severity.RISK, risks(what, v, f, why), v, f, ev)
    # a body planned at each call meets the new type: a RETURN QUERY or an SQL function's
    # result no longer matching its declared type, a comparison with a parameter
    why = "the body of the function it calls reads the column; replay tells"
    callers = routine_callers(ctx, change.relation, split_qualified_name(change.subject)[-1])
    for v, f, ev in first_per_version(u for u in callers if u[0] not in broken):
        yield Hit(Severity.RISK, risks(what, v, f, why), v, f, ev)


def _derived_from(ctx: Context, change: AlterColumnType) -> Callable[[str], bool]:
    """A ``prepared_derived`` subject over the changed column whose result type the
    change alters (``sum(v)`` for numeric -> integer; not ``avg(v)``: numeric both; not
    ``a + b`` for int -> bigint when ``b`` is a bigint). The other columns it names have
    their types before and after the whole change (another may change with it)."""

    def others(subject: str, after: bool) -> str | None:
        return column_type(ctx.after if after else ctx.before, subject)

    def changes(subject: str) -> bool:
        column, _, text = subject.partition("|")
        if column != change.subject:
            return False
        tree = decode(column, text)
        if tree is None:  # not one this version reads: the column's type decides
            return True
        return result_type_changes(tree, column, change.old_type, change.new_type, others)

    return changes


TYPE_CHANGE = Rule(
    id="SG110",
    name="column-type-change",
    severity=Severity.BREAK,
    summary="ALTER COLUMN ... TYPE of a column a version writes or reads",
    doc="Narrowing (varchar(50) -> varchar(20), numeric scale down) and cross-type changes "
    "(text -> integer) make writers fail on values the old type accepted. A version whose "
    "every write of the column is a constant that fits the new type (string lengths, integer "
    "ranges) is not named. Every type, typmod or collation change (a collation alone breaks "
    "no writer), widening included, breaks a version holding a named prepared statement "
    "that returns the column (0A000 cached plan must not change result type): with the "
    "shell's prepared_result facet that is a break, without it a risk for readers. An "
    "output computed from columns (sum(v), a + b, coalesce(a, b, 0.5), CASE, NULLIF, the "
    "sides of a UNION) breaks it only when its result type changes, as PostgreSQL resolves "
    "it with every column's type after the change: int4 + int8 stays an int8 when the "
    "int4 becomes an int8. A COPY FROM in text or CSV format sends strings the new type's "
    "input function reads: a version that writes the column only that way is not named when "
    "the new type takes every string the old one did (text, an unbounded varchar, a wider "
    "type: `{a,b}` is a fine text). A binary COPY sends the old type's binary form, which "
    "another type's receive function refuses, widening or not (int4 reads no int2).",
    breaks="Writers of the column on narrowing or cross-type changes; binary COPY writers "
    "on any change of the base type; named prepared statements returning the column on any "
    "change.",
    recipe="Add a new column of the new type, write both, backfill, switch readers, retire "
    "the old versions, drop the old column. Widening in place is safe for writers.",
    covers=(AlterColumnType,),
    examples=(
        Example(
            "CREATE TABLE t (id int, code varchar(20))",
            "INSERT INTO t (id, code) VALUES (1, 'abcdefghijklmnopq')",
            "ALTER TABLE t ALTER COLUMN code TYPE varchar(50)",
            False,
            "widening: writers are fine",
        ),
        Example(
            "CREATE TABLE t (id int, v numeric)",
            "PREPARE p AS SELECT sum(v) FROM t; EXECUTE p",
            "ALTER TABLE t ALTER COLUMN v TYPE integer",
            True,
            "sum(numeric) is a numeric, sum(integer) a bigint: the held result type changes",
        ),
        Example(
            "CREATE TABLE t (id int, v numeric)",
            "PREPARE p AS SELECT avg(v), count(v), sum(v)::text FROM t; EXECUTE p",
            "ALTER TABLE t ALTER COLUMN v TYPE integer",
            False,
            "avg is a numeric for both; count and the cast have types of their own",
        ),
        Example(
            "CREATE TABLE t (id int, a int, b bigint)",
            "PREPARE p AS SELECT a + b, coalesce(a, b) FROM t; EXECUTE p",
            "ALTER TABLE t ALTER COLUMN a TYPE bigint",
            False,
            "int4 + int8 and their common type are int8s before and after",
        ),
        Example(
            "CREATE TABLE t (id int, a int, b bigint)",
            "PREPARE p AS SELECT a FROM t UNION SELECT b FROM t; EXECUTE p",
            "ALTER TABLE t ALTER COLUMN a TYPE numeric",
            True,
            "the sides' common type goes bigint -> numeric",
        ),
        Example(
            "CREATE TABLE t (id int, code text)",
            "INSERT INTO t (id, code) VALUES (1, 'abc')",
            "ALTER TABLE t ALTER COLUMN code TYPE integer USING 0",
            True,
        ),
        Example(
            "CREATE TABLE t (id int, code varchar(50))",
            "INSERT INTO t (id, code) VALUES (1, 'abcdefgh')",
            "ALTER TABLE t ALTER COLUMN code TYPE varchar(5) USING left(code, 5)",
            True,
            "narrowing",
        ),
        Example(
            "CREATE TABLE t (id int, code varchar(100))",
            "INSERT INTO t (id, code) VALUES (1, 'short'), (2, NULL)",
            "ALTER TABLE t ALTER COLUMN code TYPE varchar(20)",
            False,
            "narrowing, but every value the version writes fits",
        ),
        Example(
            "CREATE TABLE t (id int, qty int)",
            "INSERT INTO t (id, qty) VALUES (1, 100000)",
            "ALTER TABLE t ALTER COLUMN qty TYPE smallint USING 1",
            True,
            "100000 is out of smallint's range",
        ),
        Example(
            "CREATE TABLE t (id int, qty int)",
            "UPDATE t SET qty = -12 WHERE id = 1",
            "ALTER TABLE t ALTER COLUMN qty TYPE smallint",
            False,
            "-12 fits smallint",
        ),
        Example(
            "CREATE TABLE t (id int, code text)",
            "INSERT INTO t (id, code) VALUES (1, 'b'); SELECT code FROM t ORDER BY code",
            'ALTER TABLE t ALTER COLUMN code TYPE text COLLATE "C"',
            False,
            "another collation: every value fits, a plain query replans (a named prepared "
            "statement returning it would not: 0A000)",
        ),
        Example(
            "CREATE TABLE t (id int, code varchar(20))",
            "SELECT code FROM t",
            "ALTER TABLE t ALTER COLUMN code TYPE varchar(50)",
            False,
            "simple protocol; a named prepared statement would break (risk)",
        ),
        Example(
            "CREATE TABLE t (id int, tags text[])",
            "INSERT INTO t (id, tags) VALUES (1, ARRAY['x', 'y'])",
            "ALTER TABLE t ALTER COLUMN tags TYPE text",
            False,
            "text takes any value by assignment: the array goes in as '{x,y}'",
        ),
        Example(
            "CREATE TABLE t (id int, tags text[])",
            "UPDATE t SET tags = array_append(tags, 'z') WHERE id = 1",
            "ALTER TABLE t ALTER COLUMN tags TYPE text",
            True,
            "the written expression reads the column, a text now: array_append fails",
        ),
    ),
    check=check_type_change,
)


def _constants_fit(facets: Mapping[Facet, Evidence], change: AlterColumnType) -> bool:
    """Every write of the column is a constant known to fit the new type."""
    values, complete = column_values(facets, change.subject)
    return complete and all(fits(v, change.new_type) for v in values)


def _copied_as_text(facets: Mapping[Facet, Evidence], change: AlterColumnType) -> bool:
    """Every write of the column is a text or CSV COPY, and the new type's input
    function takes every string the old one took (text, an unbounded varchar, a wider
    type): no expression of the writer's meets the new type, only its strings do."""
    writes = facets.get(Facet(F.COLUMN_WRITE, change.subject))
    if writes is None or not assigns_every_value(change.old_type, change.new_type):
        return False
    copied = sum(
        facets.get(Facet(F.COPY_WRITE, f"{change.subject}|{form}"), _NONE).count
        for form in ("text", "csv")
    )
    return copied >= writes.count


_NONE = Evidence(0, 0.0, 0.0, "")


def _assigned_unread(
    ctx: Context, facets: Mapping[Facet, Evidence], change: AlterColumnType
) -> bool:
    """The new type takes every value of the old one by assignment (``text`` and an
    unbounded ``character varying`` through the old type's output function), and nothing
    the version runs meets the column's new type: none of its statements reads the
    column (an ``array_append(tags, ...)`` would), and no trigger on the table sees the
    row it writes."""
    return (
        assigns_every_value(change.old_type, change.new_type)
        and Facet(F.COLUMN_READ, change.subject) not in facets
        and not any(
            d.kind == "trigger" and d.relation == change.relation for d in ctx.before.dependencies
        )
    )


_INSERTS = (F.INSERT_SHAPE, F.INSERT_POSITIONAL, F.COPY_IN, F.COPY_SHAPE, F.INSERT_SELECT_STAR)


def _inserts_into(table: str) -> Callable[[str], bool]:
    """Whether an insert facet's subject (of a kind in _INSERTS) writes rows of ``table``."""
    return lambda s: s.startswith((table + "(", table + "/", table + "<")) or s == table


def not_null_default(change: Change, after: CatalogSnapshot | None) -> str | None:
    """The DEFAULT an INSERT omitting a NOT NULL column gets after ``change``, where the
    change makes it matter: a new NOT NULL column's, the default of a column made NOT
    NULL, a NOT NULL column's new default (None: none of these)."""
    if isinstance(change, AddColumn):
        wanted = change.not_null and change.has_default and not change.generated
        return change.default if wanted else None
    if not isinstance(change, SetNotNull | ChangeDefault) or after is None:
        return None
    rel = relation_of(after, change.relation)
    col = rel.column(split_qualified_name(change.subject)[-1]) if rel is not None else None
    if col is None or not col.not_null or col.generated or col.identity:
        return None
    return col.default


def default_probes(
    change: Change,
    footprints: Mapping[VersionKey, Mapping[Facet, Evidence]],
    after: CatalogSnapshot | None,
) -> dict[VersionKey, tuple[Probe, ...]]:
    """Probes of whether the default of :func:`not_null_default` is NULL for a version
    that inserts into the table: asked as each role the version connects as (PostgreSQL
    evaluates a default as the writer, and it may ask who that is: ``CASE WHEN
    current_user = ... END``)."""
    default = not_null_default(change, after)
    if not default:
        return {}
    sql = f"SELECT ({default}) IS NULL"
    inserts = _inserts_into(change.relation)
    out: dict[VersionKey, tuple[Probe, ...]] = {}
    for version, facets in footprints.items():
        if any(f.kind in _INSERTS and inserts(f.subject) for f in facets):
            out[version] = writer_probes(sql, default, facets)
    return out


def _null_for(ctx: Context, change: Change) -> set[VersionKey]:
    """The versions for which PostgreSQL says the default of :func:`not_null_default` is
    NULL."""
    probes = default_probes(change, ctx.footprints, ctx.after)
    return {v for v, own in probes.items() if any(ctx.probes.get(p) for p in own)}


def check_not_null(
    ctx: Context, change: SetNotNull | DropDefault | AddColumn | ChangeDefault
) -> Iterator[Hit]:
    if isinstance(change, AddColumn):
        if not change.not_null or change.generated:
            return
        inserts = ctx.uses(_INSERTS, _inserts_into(change.relation))
        if change.has_default:  # a break only where PostgreSQL says it is NULL for a writer
            nulls = _null_for(ctx, change)
            what = f"ADD COLUMN {change.subject} NOT NULL with a default that is NULL for it"
            inserts = (hit for hit in inserts if hit[0] in nulls)
        else:
            what = f"ADD COLUMN {change.subject} NOT NULL without a default"
        for v, f, ev in first_per_version(inserts):
            yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)
        return
    if isinstance(change, ChangeDefault) or (isinstance(change, SetNotNull) and change.has_default):
        nulls = _null_for(ctx, change)
        what = f"the default of NOT NULL column {change.subject}, NULL for it"
        omitting = (u for u in omitting_inserts(ctx, change) if u[0] in nulls)
        for v, f, ev in first_per_version(omitting):
            yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)
        return
    if isinstance(change, SetNotNull):
        what = f"SET NOT NULL on {change.subject} (no default)"
        severity = Severity.BREAK
    else:
        what = f"DROP DEFAULT on {change.subject}{change.cascade_note}"
        severity = Severity.BREAK if change.not_null else Severity.RISK
    for v, f, ev in first_per_version(omitting_inserts(ctx, change)):
        if severity is Severity.BREAK:
            yield Hit(severity, breaks(what, v, f), v, f, ev)
        else:
            yield Hit(severity, risks(what, v, f, "it now inserts NULL there"), v, f, ev)


SET_NOT_NULL: Rule[SetNotNull | DropDefault | AddColumn | ChangeDefault] = Rule(
    id="SG111",
    name="not-null-without-default",
    severity=Severity.BREAK,
    summary="SET NOT NULL, ADD COLUMN ... NOT NULL without default, DROP DEFAULT on a NOT "
    "NULL column, against versions whose inserts omit the column",
    doc="An INSERT that omits a NOT NULL column without a default fails with 23502. A column "
    "supplied by a bound parameter counts as supplied (it may still be NULL: risk, not "
    "decided here). A dropped default on a nullable column makes omitting inserts store NULL "
    "(risk). DROP SEQUENCE ... CASCADE drops the defaults that use it. A NOT NULL "
    "column's default (a new column's, one made NOT NULL, a changed one) is evaluated for "
    "each INSERT that omits it, as the writer: PostgreSQL is asked, as each role a version "
    "connects as, whether it is NULL (a break if so).",
    breaks="INSERTs (column list, positional, COPY with a list) that omit the column.",
    recipe="Give the column a default first (or make every protected version supply it), "
    "then SET NOT NULL; to drop a default, first ship code that always supplies the column.",
    covers=(SetNotNull, DropDefault, AddColumn, ChangeDefault),
    examples=(
        Example(
            "CREATE TABLE t (id int, note text)",
            "INSERT INTO t (id) VALUES (1); DELETE FROM t",
            "ALTER TABLE t ALTER COLUMN note SET NOT NULL",
            True,
        ),
        Example(
            "CREATE TABLE t (id int)",
            "INSERT INTO t (id) VALUES (1); DELETE FROM t",
            "ALTER TABLE t ADD COLUMN c text NOT NULL DEFAULT nullif('a', 'a')",
            True,
            "a default that is NULL for the version's INSERT",
            probe=True,
        ),
        Example(
            "CREATE TABLE t (id int)",
            "INSERT INTO t (id) VALUES (1)",
            "ALTER TABLE t ADD COLUMN c text NOT NULL DEFAULT lower('X')",
            False,
            probe=False,
        ),
        Example(
            "CREATE TABLE t (id int, note text)",
            "INSERT INTO t (id, note) VALUES (1, 'x')",
            "ALTER TABLE t ALTER COLUMN note SET NOT NULL",
            False,
        ),
        Example(
            "CREATE TABLE t (id int, n int NOT NULL DEFAULT 0)",
            "INSERT INTO t (id) VALUES (1)",
            "ALTER TABLE t ALTER COLUMN n DROP DEFAULT",
            True,
        ),
        Example(
            "CREATE TABLE t (id int)",
            "INSERT INTO t (id) VALUES (1)",
            "ALTER TABLE t ADD COLUMN n int NOT NULL DEFAULT 0",
            False,
        ),
        Example(
            "CREATE TABLE t (id int)",
            "INSERT INTO t (id) VALUES (1); DELETE FROM t",
            "ALTER TABLE t ADD COLUMN n int NOT NULL DEFAULT 0; ALTER TABLE t ALTER n DROP DEFAULT",
            True,
            "net effect of the transaction: NOT NULL without a default",
        ),
        Example(
            "CREATE TABLE t (id serial PRIMARY KEY, note text)",
            "INSERT INTO t (note) VALUES ('x')",
            "DROP SEQUENCE t_id_seq CASCADE",
            True,
            "the CASCADE drops the default of t.id",
        ),
    ),
    check=check_not_null,
)


def check_add_column_shape(ctx: Context, change: AddColumn | DropExpression) -> Iterator[Hit]:
    table = change.relation
    if isinstance(change, DropExpression):  # COPY without a list must now send it
        what = f"DROP EXPRESSION of {change.subject}"
        copies = ctx.exact((F.COPY_IN, F.COPY_SHAPE), table)
        for v, f, ev in first_per_version(copies):
            yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)
        return
    what = f"ADD COLUMN {change.subject}"
    # COPY FROM without a column list leaves generated columns out
    hits = [] if change.generated else list(ctx.exact((F.COPY_IN, F.COPY_SHAPE), table))
    # INSERT INTO x SELECT * FROM t: one value too many, unless x gains the column too
    # (x is t, or FROM jsonb_populate_record(NULL::t, ...)) or has a column to spare for it
    hits += [
        h
        for h in ctx.uses((F.INSERT_SELECT_STAR,), lambda s: s.endswith("<" + table))
        if not star_insert_lines_up(ctx.after, h[1].subject)
    ]
    broken: set[VersionKey] = set()
    for v, f, ev in first_per_version(hits):
        broken.add(v)
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)
    prepared = ctx.exact((PREPARED_RESULT,), f"{table}.*")
    for v, f, ev in first_per_version(u for u in prepared if u[0] not in broken):
        broken.add(v)
        yield Hit(Severity.BREAK, breaks(what, v, f) + " in a named prepared statement", v, f, ev)
    stars = list(ctx.exact((F.SELECT_STAR, F.COPY_OUT), table))
    for v, f, ev in first_per_version(u for u in stars if u[0] not in broken):
        yield Hit(
            Severity.RISK,
            risks(
                what,
                v,
                f,
                "a named prepared statement returning * "
                "fails with 0A000; consumers see one more column",
            ),
            v,
            f,
            ev,
        )


ADD_COLUMN_SHAPE: Rule[AddColumn | DropExpression] = Rule(
    id="SG112",
    name="add-column-vs-row-shape",
    severity=Severity.BREAK,
    summary="ADD COLUMN against COPY FROM without a column list, INSERT ... SELECT * from "
    "the table, and named prepared SELECT *",
    doc="COPY FROM without a column list expects every column: data without the new one "
    "fails (missing data for column); a generated column is not among them. So does COPY "
    "into a temporary staging table made (LIKE t) at each run. INSERT INTO x "
    "SELECT * FROM t gets one value too many when t gains a column, unless x's columns "
    "still take t's by position and type (x is t itself, or the row is t's: "
    "jsonb_populate_record(NULL::t, ...), and the column is neither generated nor "
    "identity ALWAYS; or x has a spare column of that type). A named prepared "
    "SELECT * / RETURNING * fails with 0A000 (break with the shell's prepared_result facet, "
    "else risk). A plain SELECT * and a positional INSERT ... VALUES survive a nullable or "
    "defaulted new column. DROP EXPRESSION makes a generated column a plain one that COPY "
    "without a list must now send too.",
    breaks="COPY t FROM without columns; INSERT INTO x SELECT * FROM t; prepared SELECT *.",
    recipe="List columns explicitly in COPY and INSERT ... SELECT before adding columns.",
    covers=(AddColumn, DropExpression),
    examples=(
        Example(
            "CREATE TABLE t (id int, note text)",
            "COPY t FROM PROGRAM 'echo 1,x' WITH (FORMAT csv)",
            "ALTER TABLE t ADD COLUMN extra int",
            True,
        ),
        Example(
            "CREATE TABLE t (id int, note text)",
            "CREATE TEMP TABLE staging (LIKE t INCLUDING DEFAULTS);"
            " COPY staging FROM PROGRAM 'echo 1,x' WITH (FORMAT csv)",
            "ALTER TABLE t ADD COLUMN extra int",
            True,
            "the staging table made LIKE t has the new column too",
        ),
        Example(
            "CREATE TABLE t (id int, note text)",
            "COPY t FROM PROGRAM 'echo 1,x' WITH (FORMAT csv)",
            "ALTER TABLE t ADD COLUMN id2 int GENERATED ALWAYS AS (id * 2) STORED",
            False,
            "COPY without a column list leaves generated columns out",
        ),
        Example(
            "CREATE TABLE t (id int, note text, id2 int GENERATED ALWAYS AS (id * 2) STORED)",
            "COPY t FROM PROGRAM 'echo 1,x' WITH (FORMAT csv)",
            "ALTER TABLE t ALTER COLUMN id2 DROP EXPRESSION",
            True,
            "id2 is a plain column now: COPY without a list must send it",
        ),
        Example(
            "CREATE TABLE t (id int, note text); CREATE TABLE archive (id int, note text)",
            "INSERT INTO archive SELECT * FROM t",
            "ALTER TABLE t ADD COLUMN extra int",
            True,
        ),
        Example(
            "CREATE TABLE t (id int, note text); CREATE TABLE archive (id int, note text)",
            "INSERT INTO archive SELECT * FROM t",
            "ALTER TABLE archive ADD COLUMN extra int",
            False,
            "the target gaining a column is fine",
        ),
        Example(
            "CREATE TABLE t (id int, note text)",
            "INSERT INTO t SELECT * FROM jsonb_populate_record(NULL::t, '{}')",
            "ALTER TABLE t ADD COLUMN extra int DEFAULT 0",
            False,
            "the row and the table gain the column together",
        ),
        Example(
            "CREATE TABLE t (id int, note text)",
            "INSERT INTO t SELECT * FROM t WHERE id = 1",
            "ALTER TABLE t ADD COLUMN n int GENERATED ALWAYS AS IDENTITY",
            True,
            "the copy would write the identity column",
        ),
        Example(
            "CREATE TABLE t (id int, note text)",
            "SELECT * FROM t",
            "ALTER TABLE t ADD COLUMN extra int",
            False,
            "simple protocol; a named prepared SELECT * would break (risk)",
        ),
        Example(
            "CREATE TABLE t (id int, note text)",
            "INSERT INTO t VALUES (1, 'x')",
            "ALTER TABLE t ADD COLUMN extra int DEFAULT 0",
            False,
        ),
    ),
    check=check_add_column_shape,
)


def _joined_on(sample: str, name: str) -> bool:
    """Some join of ``sample`` is NATURAL or USING ``name``: a column of that name on both
    sides is merged into one, never ambiguous (a NATURAL join takes a new common
    column into its condition silently)."""
    try:
        found = [r.stmt for r in parse_sql(sample)]
    except pglast.parser.ParseError:
        return False
    while found:
        node = found.pop()
        if isinstance(node, ast.JoinExpr) and (
            node.isNatural or name in (str(u.sval) for u in node.usingClause or ())
        ):
            return True
        if isinstance(node, tuple | list):
            found.extend(node)
        elif isinstance(node, ast.Node):
            found.extend(getattr(node, attr, None) for attr in getattr(type(node), "__slots__", ()))
    return False


def check_ambiguous(ctx: Context, change: AddColumn | RenameColumn) -> Iterator[Hit]:
    table = change.relation
    if isinstance(change, AddColumn):
        new_subject = change.subject
        what = f"ADD COLUMN {change.subject}"
    else:
        new_subject = f"{table}.{ident(change.new_name)}"
        what = f"RENAME COLUMN {change.subject} to {change.new_name}"
    seen: set[tuple[VersionKey, str]] = set()
    users = ctx.exact((F.RELATION_READ, F.RELATION_WRITE), table)
    flagged: set[VersionKey] = set()
    for v, f, ev in sorted(users, key=lambda u: (u[0], u[1])):
        if v in flagged or (v, ev.sample) in seen:
            continue
        seen.add((v, ev.sample))
        after = ctx.reanalyze(ev.sample, after=True)
        kinds = (F.COLUMN_READ, F.COLUMN_WRITE)
        hit = [x for x in after if x.kind in kinds and x.subject == new_subject]
        if not hit:
            continue
        before = ctx.reanalyze(ev.sample, after=False)
        if any(x.kind in kinds and x.subject == new_subject for x in before):
            continue  # it already meant that column (new code ahead of its migration)
        names = {x.subject for x in after if x.kind in kinds} - {new_subject}
        bare = new_subject.rsplit(".", 1)[1]
        if not any(n.rsplit(".", 1)[-1] == bare for n in names):
            continue  # not ambiguous with another table's column: e.g. a rename target
        if _joined_on(ev.sample, bare.strip('"')):
            continue
        flagged.add(v)
        yield Hit(
            Severity.BREAK,
            f"{what} breaks {v.app}@{v.version}: its query's reference "
            f"to {bare} becomes ambiguous (sample: {ev.sample[:120]})",
            v,
            f,
            ev,
        )


AMBIGUOUS: Rule[AddColumn | RenameColumn] = Rule(
    id="SG113",
    name="column-becomes-ambiguous",
    severity=Severity.BREAK,
    summary="A new or renamed column makes an unqualified name in a version's query "
    "ambiguous (or captures it)",
    doc="Each sample query of a version touching the table is resolved again against the "
    "catalog after the change; a reference that now also resolves to the new column is "
    "ambiguous in a join (42702) or silently captured in a correlated subquery.",
    breaks="Unqualified column references in joins and correlated subqueries (not in a "
    "NATURAL join or one USING the name: the two columns are merged).",
    recipe="Qualify column references in every protected version before adding the column, "
    "or pick a column name no joined table uses.",
    covers=(AddColumn, RenameColumn),
    examples=(
        Example(
            "CREATE TABLE a (id int, name text); CREATE TABLE b (id int, a_id int)",
            "SELECT name FROM a JOIN b ON b.a_id = a.id",
            "ALTER TABLE b ADD COLUMN name text",
            True,
        ),
        Example(
            "CREATE TABLE a (id int, name text); CREATE TABLE b (id int, a_id int)",
            "SELECT a.name FROM a JOIN b ON b.a_id = a.id",
            "ALTER TABLE b ADD COLUMN name text",
            False,
        ),
        Example(
            "CREATE TABLE a (id int, name text); CREATE TABLE b (a_id int)",
            "SELECT name FROM a NATURAL JOIN b",
            "ALTER TABLE b ADD COLUMN name text",
            False,
            "a NATURAL join merges the two name columns (and joins on them)",
        ),
    ),
    check=check_ambiguous,
)


def _through_views(ctx: Context, subject: str) -> set[str]:
    """The column as the updatable views over its table name it: a view column of the
    same name that reads it (PostgreSQL writes the table's column through it)."""
    name = split_qualified_name(subject)[-1]
    read = f"{F.COLUMN_READ.value}:{subject}"
    return {
        f"{r.qname}.{ident(name)}"
        for r in ctx.before.relations
        if r.kind is RelKind.VIEW and r.updatable and read in r.depends and r.column(name)
    }


def check_now_generated(ctx: Context, change: SetGenerated | SetIdentityAlways) -> Iterator[Hit]:
    if isinstance(change, SetIdentityAlways):  # COPY and OVERRIDING SYSTEM VALUE still write
        what = f"making {change.subject} an identity GENERATED ALWAYS"
        kind = F.VALUE_SUPPLIED
    else:
        what = f"making {change.subject} a generated column"
        kind = F.COLUMN_WRITE
    subjects = {change.subject} | _through_views(ctx, change.subject)
    for v, f, ev in first_per_version(ctx.uses((kind,), lambda s: s in subjects)):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


NOW_GENERATED: Rule[SetGenerated | SetIdentityAlways] = Rule(
    id="SG122",
    name="column-now-generated",
    severity=Severity.BREAK,
    summary="A column a version writes becomes a generated column or an identity ALWAYS",
    doc="Dropping a column and adding a generated one of the same name, or renaming a column "
    "away and adding a generated column under its old name, in one transaction: readers see "
    "the same name, but a value written to a generated column is refused (428C9: cannot "
    "insert a non-DEFAULT value / can only be updated to DEFAULT). An identity made "
    "GENERATED ALWAYS (ADD GENERATED ALWAYS AS IDENTITY, SET GENERATED ALWAYS) refuses the "
    "values INSERT and UPDATE give it alike, but takes DEFAULT, an INSERT ... OVERRIDING "
    "SYSTEM VALUE and COPY FROM (which writes an identity as OVERRIDING does).",
    breaks="INSERT, UPDATE and COPY that write a generated column; INSERT (without "
    "OVERRIDING), UPDATE, ON CONFLICT DO UPDATE and MERGE that give an identity ALWAYS a "
    "value.",
    recipe="Stop writing the column in a release (fill it with a trigger meanwhile), retire "
    "the versions that wrote it, then make it generated. For an identity: insert with "
    "OVERRIDING SYSTEM VALUE (or leave the id to it) first, then SET GENERATED ALWAYS.",
    covers=(SetGenerated, SetIdentityAlways),
    check=check_now_generated,
    examples=(
        Example(
            "CREATE TABLE t (id int NOT NULL, note text)",
            "INSERT INTO t (id, note) VALUES (1, 'a')",
            "ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
            True,
        ),
        Example(
            "CREATE TABLE t (id int NOT NULL, note text)",
            "INSERT INTO t (id, note) OVERRIDING SYSTEM VALUE VALUES (1, 'a')",
            "ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
            False,
            "OVERRIDING SYSTEM VALUE is what ALWAYS asks for",
        ),
        Example(
            "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY, note text)",
            "COPY t (id, note) FROM PROGRAM 'echo 7,x' WITH (FORMAT csv)",
            "ALTER TABLE t ALTER COLUMN id SET GENERATED ALWAYS",
            False,
            "COPY FROM writes an identity column whatever it is generated as",
        ),
        Example(
            "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY, note text);"
            " CREATE VIEW recent AS SELECT id, note FROM t WHERE id > 0",
            "INSERT INTO recent (id, note) VALUES (5, 'v')",
            "ALTER TABLE t ALTER COLUMN id SET GENERATED ALWAYS",
            True,
            "through an updatable view the insert still gives the table's id a value",
        ),
        Example(
            "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY, note text)",
            "UPDATE t SET id = id + 1000 WHERE note = 'a'",
            "ALTER TABLE t ALTER COLUMN id SET GENERATED ALWAYS",
            True,
            "428C9: column can only be updated to DEFAULT",
        ),
        Example(
            "CREATE TABLE t (a int, b int)",
            "UPDATE t SET b = 1",
            "ALTER TABLE t DROP COLUMN b;"
            " ALTER TABLE t ADD COLUMN b int GENERATED ALWAYS AS (a * 2) STORED",
            True,
        ),
        Example(
            "CREATE TABLE t (a int, b int)",
            "SELECT b FROM t",
            "ALTER TABLE t DROP COLUMN b;"
            " ALTER TABLE t ADD COLUMN b int GENERATED ALWAYS AS (a * 2) STORED",
            False,
            "reading it still works",
        ),
    ),
)
