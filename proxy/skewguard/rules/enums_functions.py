"""Enum labels and function overloads.

Verified against PostgreSQL: with ``f(integer)`` in place, a new ``f(bigint)``
keeps ``f(1)`` working but makes ``f('1')`` and ``f(1::smallint)`` ambiguous
(42725); a new ``f(integer, integer DEFAULT 0)`` makes even ``f(1)`` ambiguous;
a new ``f(text)`` keeps ``f('1')`` (unknown literals prefer the string
category).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from skewguard.analysis.facets import Facet
from skewguard.analysis.facets import FacetKind as F
from skewguard.analysis.query import split_qualified_name
from skewguard.analysis.types import UNKNOWN, category, compatible, preferred
from skewguard.catalog import CatalogSnapshot, Function, ident
from skewguard.ddl.changes import (
    CreateFunction,
    EnumAddValue,
    EnumDropValue,
    EnumRenameValue,
    RecreateEnum,
    ReplaceFunction,
)
from skewguard.ddl.findings import Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules._text import breaks
from skewguard.rules.base import (
    PREPARED_DERIVED,
    PREPARED_RESULT,
    Context,
    Example,
    Hit,
    Rule,
    first_per_version,
    relation_of,
)


def check_enum_label(ctx: Context, change: EnumRenameValue | EnumDropValue) -> Iterator[Hit]:
    what = (
        f"RENAME VALUE {change.subject} to '{change.new_label}'"
        if isinstance(change, EnumRenameValue)
        else f"removing {change.subject}"
    )
    hits = ctx.exact((F.ENUM_LABEL_WRITE, F.ENUM_LABEL_READ), change.subject)
    for v, f, ev in first_per_version(hits):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


ENUM_LABEL: Rule[EnumRenameValue | EnumDropValue] = Rule(
    id="SG116",
    name="enum-label-removed",
    severity=Severity.BREAK,
    summary="ALTER TYPE ... RENAME VALUE, or an enum recreated without a label, against "
    "versions writing or comparing with the label",
    doc="A label literal that is no longer in the enum fails with 22P02 (invalid input value "
    "for enum).",
    breaks="Writes of the old label; comparisons and casts with it.",
    recipe="Add the new label (ADD VALUE), ship code writing and accepting both, migrate rows, "
    "retire the old versions; PostgreSQL cannot drop a label, so keep it unused.",
    covers=(EnumRenameValue, EnumDropValue),
    examples=(
        Example(
            "CREATE TYPE status AS ENUM ('new', 'done'); CREATE TABLE job (s status)",
            "INSERT INTO job (s) VALUES ('done')",
            "ALTER TYPE status RENAME VALUE 'done' TO 'finished'",
            True,
        ),
        Example(
            "CREATE TYPE status AS ENUM ('new', 'done'); CREATE TABLE job (s status)",
            "INSERT INTO job (s) VALUES ('new')",
            "ALTER TYPE status RENAME VALUE 'done' TO 'finished'",
            False,
        ),
    ),
    check=check_enum_label,
)


def check_enum_add(ctx: Context, change: EnumAddValue) -> Iterator[Hit]:
    yield Hit(
        Severity.INFO,
        f"ADD VALUE {change.subject}: old versions may read rows with a label they do not know",
    )


ENUM_ADD = Rule(
    id="SG117",
    name="enum-value-added",
    severity=Severity.INFO,
    summary="ALTER TYPE ... ADD VALUE",
    doc="Safe for old versions unless they meet rows with the new label and cannot map it.",
    breaks="Nothing in PostgreSQL; application code with an exhaustive mapping of labels.",
    recipe="Ship readers that tolerate the label before writers that produce it.",
    covers=(EnumAddValue,),
    examples=(
        Example(
            "CREATE TYPE status AS ENUM ('new', 'done'); CREATE TABLE job (s status)",
            "INSERT INTO job (s) VALUES ('done')",
            "ALTER TYPE status ADD VALUE 'failed'",
            False,
        ),
    ),
    check=check_enum_add,
)


def check_recreated_enum(ctx: Context, change: RecreateEnum) -> Iterator[Hit]:
    what = f"dropping and creating again enum {change.subject}"
    held = [
        *ctx.exact((F.PREPARED_PARAM,), change.subject),
        *ctx.uses((PREPARED_RESULT,), lambda s: _returns_enum(ctx, s, change.subject)),
        # coalesce(m, 'x') or a UNION of enum columns is of the enum too
        *ctx.uses(
            (PREPARED_DERIVED,), lambda s: _returns_enum(ctx, s.partition("|")[0], change.subject)
        ),
    ]
    for v, f, ev in first_per_version(held):
        yield Hit(Severity.BREAK, breaks(what, v, f) + " (it holds the old type's oid)", v, f, ev)


def _returns_enum(ctx: Context, subject: str, enum: str) -> bool:
    """Whether a ``prepared_result`` subject (``t.col``, ``t.*``) returns a column of ``enum``
    (or an array of it) before the change."""
    table, _, column = subject.rpartition(".")
    rel = relation_of(ctx.before, table)
    if rel is None:
        return False
    cols = rel.columns if column == "*" else [c for c in rel.columns if ident(c.name) == column]
    for col in cols:
        found = ctx.before.enum_for_type(col.base_type.removesuffix("[]"))
        if found is not None and found.type_name == enum:
            return True
    return False


RECREATED_ENUM: Rule[RecreateEnum] = Rule(
    id="SG126",
    name="enum-recreated-under-prepared-statement",
    severity=Severity.BREAK,
    summary="An enum dropped and created again under its name (Prisma's enum migration) "
    "against statements a version keeps prepared",
    doc="The name stays but the type is new. A named prepared statement (asyncpg, pgx, "
    "psycopg prepare=True, JDBC after five runs) keeps its parameter types and result "
    "row type by oid: a parameter of the old enum fails with XX000 (cache lookup failed "
    "for type), a returned column of it with 0A000 (cached plan must not change result "
    "type). Statements planned anew, and comparisons with literals, resolve the new type.",
    breaks="Statements kept prepared whose parameters or returned columns have the enum.",
    recipe="ALTER TYPE ... ADD VALUE instead of recreating the enum (a removed label can "
    "stay unused); or restart the versions that keep statements prepared.",
    covers=(RecreateEnum,),
    examples=(
        Example(
            "CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE TABLE p (id int, m mood)",
            "PREPARE q AS SELECT id FROM p WHERE m = $1; EXECUTE q('happy')",
            "CREATE TYPE mood_new AS ENUM ('happy', 'sad', 'meh');"
            " ALTER TABLE p ALTER COLUMN m TYPE mood_new USING m::text::mood_new;"
            " DROP TYPE mood; ALTER TYPE mood_new RENAME TO mood",
            True,
            "XX000: the parameter was inferred as the old type",
        ),
        Example(
            "CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE TABLE p (id int, m mood)",
            "PREPARE q AS SELECT m FROM p WHERE id = $1; EXECUTE q(1)",
            "CREATE TYPE mood_new AS ENUM ('happy', 'sad', 'meh');"
            " ALTER TABLE p ALTER COLUMN m TYPE mood_new USING m::text::mood_new;"
            " DROP TYPE mood; ALTER TYPE mood_new RENAME TO mood",
            True,
            "0A000: the result row type changes",
        ),
        Example(
            "CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE TABLE p (id int, m mood)",
            "PREPARE q AS SELECT id FROM p WHERE m = 'happy'; EXECUTE q",
            "CREATE TYPE mood_new AS ENUM ('happy', 'sad', 'meh');"
            " ALTER TABLE p ALTER COLUMN m TYPE mood_new USING m::text::mood_new;"
            " DROP TYPE mood; ALTER TYPE mood_new RENAME TO mood",
            False,
            "the literal is resolved again at the next plan",
        ),
        Example(
            "CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE TABLE p (id int, m mood)",
            "SELECT m FROM p WHERE m = 'sad'",
            "CREATE TYPE mood_new AS ENUM ('happy', 'sad', 'meh');"
            " ALTER TABLE p ALTER COLUMN m TYPE mood_new USING m::text::mood_new;"
            " DROP TYPE mood; ALTER TYPE mood_new RENAME TO mood",
            False,
            "nothing kept prepared",
        ),
    ),
    check=check_recreated_enum,
)


def _parse_call(subject: str) -> tuple[str, list[str]] | None:
    name, _, rest = subject.partition("(")
    if not rest.endswith(")"):
        return None
    inner = rest[:-1]
    args = inner.split(",") if inner else []
    if any("=>" in a or a == "*" for a in args):
        return None
    return name, args


def ambiguous(candidates: Sequence[Function], args: list[str]) -> bool:
    """Whether PostgreSQL would find the call not unique (42725), following its steps
    for functions (typeconv-func) over the call-site types: the candidates that accept
    the call, then those with the most exact matches, then those taking the preferred
    type of the argument's category where a cast is needed, then, for unknown literals,
    the string category (else the one category all remaining take) and its preferred
    type, then unknowns taken as the one type the known arguments share."""
    fits = [
        f
        for f in candidates
        if f.accepts_arity(len(args))
        and all(compatible(a, d) for a, d in zip(args, f.positional_types, strict=False))
    ]
    for score in (_exact, _exact_or_preferred):
        fits = _best(fits, args, score)
        if len(fits) <= 1:
            return False
    unknown = [i for i, a in enumerate(args) if a == UNKNOWN]
    if not unknown:
        return True
    for i in unknown:
        taken = [(f, f.positional_types[i] if i < len(f.positional_types) else "") for f in fits]
        categories = {category(t) for _, t in taken}
        if "text" in categories:
            chosen = "text"
        elif len(categories) == 1:
            chosen = categories.pop()
        else:
            return True  # PostgreSQL cannot pick a category: not unique
        inside = [(f, t) for f, t in taken if category(t) == chosen]
        if any(preferred(t) for _, t in inside):
            inside = [(f, t) for f, t in inside if preferred(t)]
        fits = [f for f, _ in inside]
        if len(fits) <= 1:
            return False
    known = {a for a in args if a != UNKNOWN}
    if len(known) == 1:
        (same,) = known
        passes = [f for f in fits if all(compatible(same, f.positional_types[i]) for i in unknown)]
        if len(passes) == 1:
            return False
    return True


def _exact(f: Function, args: list[str]) -> int:
    return sum(1 for a, d in zip(args, f.positional_types, strict=False) if a == d)


def _exact_or_preferred(f: Function, args: list[str]) -> int:
    """Positions taken exactly, or by the preferred type of a known argument's category."""
    return sum(
        1
        for a, d in zip(args, f.positional_types, strict=False)
        if a == d or (a != UNKNOWN and preferred(d) and category(d) == category(a))
    )


def _best(
    fits: list[Function], args: list[str], score: Callable[[Function, list[str]], int]
) -> list[Function]:
    """The candidates with the highest ``score`` for the call's ``args``."""
    if not fits:
        return fits
    top = max(score(f, args) for f in fits)
    return [f for f in fits if score(f, args) == top]


def _overloads(cat: CatalogSnapshot, qname: str) -> tuple[Function, ...]:
    parts = split_qualified_name(qname)
    return cat.functions_named(parts[0], parts[1]) if len(parts) == 2 else ()


def check_overload(ctx: Context, change: CreateFunction) -> Iterator[Hit]:
    qname = change.subject.split("(", 1)[0]
    what = f"CREATE FUNCTION {change.subject}"
    after = _overloads(ctx.after, qname)
    before = _overloads(ctx.before, qname)
    if not before:
        return
    calls = ctx.uses((F.FUNCTION_CALL,), lambda s: s.startswith(qname + "("))
    hits = []
    for use in calls:
        parsed = _parse_call(use[1].subject)
        if parsed is None:
            continue
        if ambiguous(after, parsed[1]) and not ambiguous(before, parsed[1]):
            hits.append(use)
    for v, f, ev in first_per_version(hits):
        yield Hit(Severity.BREAK, breaks(what, v, f) + " (the call becomes ambiguous)", v, f, ev)


OVERLOAD = Rule(
    id="SG118",
    name="function-call-becomes-ambiguous",
    severity=Severity.BREAK,
    summary="CREATE FUNCTION of a new overload that makes an existing call ambiguous",
    doc="Calls are resolved again with the new overload, following PostgreSQL's rules in "
    "short: candidates that accept the call-site types, then the most exact matches, then "
    "those taking the preferred type of the argument's category where a cast is needed "
    "(double precision for numbers, text for strings), then for unknown literals the "
    "string category and its preferred type. Two or more left -> 42725.",
    breaks="Calls with untyped literals or parameters, or types needing a cast, that several "
    "overloads accept; calls matched by an overload with defaults and one without.",
    recipe="Give the new function another name, or cast arguments in every protected version "
    "first.",
    covers=(CreateFunction,),
    examples=(
        Example(
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT f('1')",
            "CREATE FUNCTION f(a bigint) RETURNS int LANGUAGE sql AS 'SELECT 2'",
            True,
        ),
        Example(
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT f(1)",
            "CREATE FUNCTION f(a bigint) RETURNS int LANGUAGE sql AS 'SELECT 2'",
            False,
        ),
        Example(
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT f(1)",
            "CREATE FUNCTION f(a int, b int DEFAULT 0) RETURNS int LANGUAGE sql AS 'SELECT 2'",
            True,
        ),
        Example(
            "CREATE FUNCTION f(a numeric) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT f(1)",
            "CREATE FUNCTION f(a bigint) RETURNS int LANGUAGE sql AS 'SELECT 2'",
            True,
            "both need a cast from integer, neither is the preferred double precision",
        ),
        Example(
            "CREATE FUNCTION f(a numeric) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT f(1)",
            "CREATE FUNCTION f(a double precision) RETURNS int LANGUAGE sql AS 'SELECT 2'",
            False,
            "double precision is the numeric category's preferred type: f(1) takes it",
        ),
        Example(
            "CREATE FUNCTION f(a varchar) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT f('x')",
            "CREATE FUNCTION f(a text) RETURNS int LANGUAGE sql AS 'SELECT 2'",
            False,
            "an unknown literal takes text, the string category's preferred type",
        ),
    ),
    check=check_overload,
)


#: Result types a caller that plans its statement anew cannot tell apart: an operator or
#: function applied to the result resolves within the family the same way.
_RESULT_FAMILIES = (("smallint", "integer", "bigint"), ("text", "character varying"))


def _same_family(old: str, new: str) -> bool:
    return any(old in family and new in family for family in _RESULT_FAMILIES)


def check_replaced_function(ctx: Context, change: ReplaceFunction) -> Iterator[Hit]:
    if change.signature_kept:  # only the body: SG128 judges what its inlining reaches
        return
    what = f"redefining {change.subject}"
    name = change.subject.split("(", 1)[0]
    # only the OUT/TABLE columns changed: a caller reading the ones that stay does not
    # notice; the replay of its statements decides (replaying.change_affects)
    result = change.old_result != change.new_result and not change.reshaped
    changed = f" (its result type changes from {change.old_result} to {change.new_result})"
    held: dict[VersionKey, tuple[Facet, Evidence]] = {}
    if result:  # SELECT f(...) kept prepared returns its result
        held |= {v: (f, ev) for v, f, ev in ctx.exact((PREPARED_RESULT,), change.subject)}
    if change.old_result != change.new_result:  # SELECT * FROM f(...) kept: its row
        held |= {v: (f, ev) for v, f, ev in ctx.exact((PREPARED_RESULT,), change.subject + ".*")}
    for v, f, ev in first_per_version(ctx.exact((F.FUNCTION,), change.subject)):
        if v in held:  # the kept statement's facet: a clean replay does not overturn it
            kept, kept_ev = held[v]
            why = changed + ", which a statement it keeps prepared returns"
            yield Hit(Severity.BREAK, breaks(what, v, kept) + why, v, kept, kept_ev)
            continue
        if result and not _same_family(change.old_result, change.new_result):
            # planned anew, the call may still resolve (a replay of it tells)
            yield Hit(Severity.BREAK, breaks(what, v, f) + changed, v, f, ev)
            continue
        after = ctx.reanalyze(ev.sample, after=True)
        if any(x.kind is F.MISSING_FUNCTION and x.subject.startswith(name + "(") for x in after):
            why = (
                " (the call leaves out an argument that no longer has a default)"
                if change.fewer_defaults
                else " (the call spreads its values over an argument no longer VARIADIC)"
                if change.lost_variadic
                else " (the CALL passes no argument for the procedure's new OUT parameter)"
                if change.more_call_args
                else " (the call names an argument the new definition calls otherwise)"
            )
            yield Hit(Severity.BREAK, breaks(what, v, f) + why, v, f, ev)


REPLACED_FUNCTION: Rule[ReplaceFunction] = Rule(
    id="SG123",
    name="function-redefined",
    severity=Severity.BREAK,
    summary="A function dropped and created again with the same argument types, but fewer "
    "defaults, other argument names, no VARIADIC or another result type (or OUT / RETURNS "
    "TABLE columns)",
    doc="In one transaction the signature never disappears, yet a call that left out a "
    "defaulted argument now fails with 42883, and a caller of the old result type (an "
    "operator, a column of RETURNS TABLE) fails or reads another shape. A result that "
    "stays in its family (integer to bigint, varchar to text) is invisible to statements "
    "planned anew, but a named prepared statement returning the call fails with 0A000. A "
    "call in named notation (f(a => 1)) fails with 42883 once the argument has another name, "
    "and a call spreading values over a VARIADIC argument (f(1, 2, 3)) once it is a plain "
    "array (f(VARIADIC ARRAY[1, 2]) still matches). "
    "Other OUT or RETURNS TABLE columns fail a kept SELECT * FROM f() (0A000); whether a "
    "caller reading some of the columns still works, the replay of its statements tells.",
    breaks="Calls relying on a removed default, naming a renamed argument or spreading "
    "values over a VARIADIC one; every caller "
    "when the result type changes "
    "family; statements kept prepared that return the call when it changes at all.",
    recipe="Keep the defaults and the result type; add a new function (or overload) for the "
    "new behaviour and move versions to it first.",
    covers=(ReplaceFunction,),
    check=check_replaced_function,
    examples=(
        Example(
            "CREATE FUNCTION f(a int, b int DEFAULT 0) RETURNS int LANGUAGE sql AS 'SELECT a + b'",
            "SELECT f(1)",
            "DROP FUNCTION f(int, int);"
            " CREATE FUNCTION f(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'",
            True,
        ),
        Example(
            "CREATE FUNCTION f(a int, b int DEFAULT 0) RETURNS int LANGUAGE sql AS 'SELECT a + b'",
            "SELECT f(1, 2)",
            "DROP FUNCTION f(int, int);"
            " CREATE FUNCTION f(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'",
            False,
            "the call passes every argument",
        ),
        Example(
            "CREATE FUNCTION t(VARIADIC xs int[]) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT t(1, 2, 3)",
            "DROP FUNCTION t(int[]); CREATE FUNCTION t(xs int[]) RETURNS int"
            " LANGUAGE sql AS 'SELECT 1'",
            True,
            "the values no longer spread over a VARIADIC argument",
        ),
        Example(
            "CREATE FUNCTION t(VARIADIC xs int[]) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT t(VARIADIC ARRAY[1, 2])",
            "DROP FUNCTION t(int[]); CREATE FUNCTION t(xs int[]) RETURNS int"
            " LANGUAGE sql AS 'SELECT 1'",
            False,
            "an array passed with VARIADIC matches the plain array argument",
        ),
        Example(
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a'",
            "SELECT f(a => 1)",
            "DROP FUNCTION f(int); CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x'",
            True,
            "named notation: 42883 once the argument is called x",
        ),
        Example(
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a'",
            "SELECT f(1)",
            "DROP FUNCTION f(int); CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x'",
            False,
            "positional calls do not see argument names",
        ),
        Example(
            "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT g() + 1",
            "DROP FUNCTION g(); CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $$SELECT '1'$$",
            True,
        ),
        Example(
            "CREATE TABLE jobs (id serial, name text); CREATE PROCEDURE enqueue(n text)"
            " LANGUAGE sql AS 'INSERT INTO jobs (name) VALUES (n)'",
            "CALL enqueue('a')",
            "DROP PROCEDURE enqueue(text); CREATE PROCEDURE enqueue(n text, OUT id int)"
            " LANGUAGE sql AS 'INSERT INTO jobs (name) VALUES (n) RETURNING id'",
            True,
            "42883: since PostgreSQL 14 a CALL passes an argument for each OUT parameter",
        ),
        Example(
            "CREATE TABLE jobs (id serial, name text); CREATE PROCEDURE enqueue(n text)"
            " LANGUAGE sql AS 'INSERT INTO jobs (name) VALUES (n)'",
            "CALL enqueue('a')",
            "DROP PROCEDURE enqueue(text); CREATE PROCEDURE enqueue(n text, INOUT id int DEFAULT 0)"
            " LANGUAGE sql AS 'INSERT INTO jobs (name) VALUES (n) RETURNING id'",
            False,
            "an INOUT parameter with a default may be left out",
        ),
        Example(
            "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT g() + 1",
            "DROP FUNCTION g(); CREATE FUNCTION g() RETURNS bigint LANGUAGE sql AS 'SELECT 1'",
            False,
            "the statement is planned anew: bigint + integer resolves as well",
        ),
        Example(
            "CREATE FUNCTION t() RETURNS TABLE (id int, v int) LANGUAGE sql AS 'SELECT 1, 1'",
            "PREPARE q AS SELECT * FROM t(); EXECUTE q",
            "DROP FUNCTION t();"
            " CREATE FUNCTION t() RETURNS TABLE (id int, v int, n int) LANGUAGE sql"
            " AS 'SELECT 1, 1, 2'",
            True,
            "a statement kept prepared returns the function's row, which gains a column",
        ),
        Example(
            "CREATE FUNCTION t() RETURNS TABLE (id int, v int) LANGUAGE sql AS 'SELECT 1, 1'",
            "SELECT id FROM t()",
            "DROP FUNCTION t();"
            " CREATE FUNCTION t() RETURNS TABLE (id int, v int, n int) LANGUAGE sql"
            " AS 'SELECT 1, 1, 2'",
            False,
            "which columns a caller reads of the row the replay tells",
        ),
    ),
)
