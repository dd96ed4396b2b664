"""Dropping what a version uses: relations, columns, functions, types, schemas.

The CASCADE closure comes from the overlay: ``DROP TABLE t CASCADE`` also
drops the views on ``t`` (each reported as its own change, ``via`` the table),
``DROP COLUMN c CASCADE`` the views reading ``c`` and the generated columns computed
from it, ``DROP SEQUENCE s CASCADE``
the defaults using ``s`` (see SG113), ``DROP TYPE`` the columns of that type.
A drop without CASCADE that PostgreSQL would refuse changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

import pglast
from pglast import ast
from pglast.stream import RawStream
from pglast.visitors import Visitor

from skewguard.analysis.facets import Facet
from skewguard.analysis.facets import FacetKind as F
from skewguard.analysis.query import split_qualified_name
from skewguard.analysis.subjects import shape_columns
from skewguard.catalog import Function
from skewguard.ddl.changes import DropColumn, DropFunction, DropRelation, DropSchema, DropType
from skewguard.ddl.findings import Severity
from skewguard.rules._text import breaks, risks
from skewguard.rules.base import (
    Context,
    Example,
    Hit,
    Rule,
    first_per_version,
    found_through_paths,
    relation_of,
    routine_callers,
    star_insert_lines_up,
)
from skewguard.sql_parse import parse_sql

#: Uses that name the relation in the statement's text: a rename or move breaks them.
REL_NAMED = (F.RELATION_READ, F.RELATION_WRITE, F.SEQUENCE)
#: Every use: a drop breaks them (a column default's sequence too).
REL_USE = (*REL_NAMED, F.SEQUENCE_DEFAULT)


def check_drop_relation(ctx: Context, change: DropRelation) -> Iterator[Hit]:
    what = f"{change.SQL} {change.subject}{change.cascade_note}"
    hits = chain(ctx.exact(REL_USE, change.subject), routine_callers(ctx, change.subject))
    kept: bool | None = None  # read from the catalog only for a sequence's default
    for v, f, ev in first_per_version(hits):
        if f.kind is F.SEQUENCE_DEFAULT:
            if kept is None:
                kept = _defaults_kept(ctx, change.subject)
            if not kept:
                continue
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


def _defaults_kept(ctx: Context, sequence: str) -> bool:
    """Whether a column whose default takes numbers from ``sequence`` stays: a serial's
    sequence dropped with its column leaves no default behind that an insert reaches."""
    for rel in ctx.before.relations:
        for col in rel.columns:
            if sequence in col.default_sequences:
                now = relation_of(ctx.after, rel.qname)
                if now is None or now.column(col.name) is not None:
                    return True
    return False


DROP_RELATION = Rule(
    id="SG101",
    name="drop-relation-in-use",
    severity=Severity.BREAK,
    summary="DROP TABLE / VIEW / MATERIALIZED VIEW / SEQUENCE of a relation a version uses",
    doc="A dropped relation (directly or through CASCADE) fails every statement that names it.",
    breaks="Any read or write of the relation; nextval/currval of the sequence.",
    recipe="Stop using the relation in every protected version first (deploy, let the old "
    "version retire), then drop it. To retire a table gradually, rename it and leave a view "
    "with the old name.",
    covers=(DropRelation,),
    examples=(
        Example(
            "CREATE TABLE t (id int, note text); CREATE VIEW v AS SELECT id FROM t",
            "SELECT id FROM v",
            "DROP TABLE t CASCADE",
            True,
            "the view goes with the table",
        ),
        Example(
            "CREATE TABLE t (id int); CREATE TABLE old_t (id int)",
            "SELECT id FROM t",
            "DROP TABLE old_t",
            False,
        ),
        Example(
            "CREATE TABLE t (id int, ticket serial, note text)",
            "INSERT INTO t (id, note) VALUES (1, 'a')",
            "ALTER TABLE t DROP COLUMN ticket",
            False,
            "the serial's sequence goes with its column: the insert no longer reaches it",
        ),
        Example(
            "CREATE SEQUENCE s",
            "SELECT nextval('s')",
            "DROP SEQUENCE s",
            True,
        ),
    ),
    check=check_drop_relation,
)


#: What an INSERT ... SELECT * leaves besides its star facet.
_STAR_COPY = (F.INSERT_SELECT_STAR, F.INSERT_POSITIONAL, F.COLUMN_WRITE)


def _one_statement(sample: str) -> bool:
    try:
        return len(pglast.split(sample)) == 1
    except Exception:  # a cut sample: not known to be one statement
        return False


def check_drop_column(ctx: Context, change: DropColumn) -> Iterator[Hit]:
    what = f"DROP COLUMN {change.subject}{change.cascade_note}"
    table = change.relation
    rel = relation_of(ctx.before, table)
    position = (
        rel.column_names.index(change.subject[len(table) + 1 :].strip('"'))
        if (rel is not None and change.subject[len(table) + 1 :].strip('"') in rel.column_names)
        else 0
    )
    # INSERT INTO x SELECT * FROM t goes by position: it breaks unless the columns still
    # line up (the column dropped from both, or the source's last one); when they do, what
    # that statement alone left (its star, its positional shape, its writes) breaks nothing
    star_inserts = list(
        ctx.uses(
            (F.INSERT_SELECT_STAR,), lambda s: s.startswith(table + "<") or s.endswith("<" + table)
        )
    )
    lined_up = {
        (v, ev.sample)
        for v, f, ev in star_inserts
        if star_insert_lines_up(ctx.after, f.subject) and _one_statement(ev.sample)
    }
    hits = list(ctx.exact((F.COLUMN_READ, F.COLUMN_WRITE), change.subject))
    hits += [h for h in ctx.exact((F.COPY_IN, F.COPY_SHAPE), table)]
    # COPY staging (..., col) into a staging table made LIKE the table: 42703
    listed = change.subject[len(table) + 1 :]  # as ident() renders it, like shape lists
    hits += [
        h
        for h in ctx.uses((F.COPY_SHAPE,), lambda s: s.startswith(table + "("))
        if listed in (shape_columns(h[1].subject) or [])
    ]
    hits += star_inserts
    hits += [
        h
        for h in ctx.uses((F.INSERT_POSITIONAL,), lambda s: s.startswith(table + "/"))
        if int(h[1].subject.rsplit("/", 1)[1]) > position
    ]
    hits = [h for h in hits if h[1].kind not in _STAR_COPY or (h[0], h[2].sample) not in lined_up]
    # a held named statement whose result is the table's star: its row type changes (0A000)
    hits += list(ctx.exact((F.PREPARED_RESULT,), f"{table}.*"))
    column = split_qualified_name(change.subject)[-1]
    hits += list(routine_callers(ctx, table, column))
    broken = set()
    for v, f, ev in first_per_version(hits):
        broken.add(v)
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)
    stars = ctx.exact((F.SELECT_STAR, F.COPY_OUT), table)
    for v, f, ev in first_per_version(h for h in stars if h[0] not in broken):
        yield Hit(Severity.RISK, risks(what, v, f, "the result loses the column"), v, f, ev)


DROP_COLUMN = Rule(
    id="SG102",
    name="drop-column-in-use",
    severity=Severity.BREAK,
    summary="DROP COLUMN of a column a version reads or writes",
    doc="PostgreSQL raises 42703 (undefined column) for every statement naming the column. "
    "A positional INSERT (no column list) that supplied the column now has more values than "
    "columns; COPY FROM without a column list gets extra data. A plain SELECT * survives, but "
    "the application may read the column from the result (risk). A function or procedure "
    "whose SQL or PL/pgSQL source names the table and the column fails at its next call.",
    breaks="Reads and writes of the column, positional INSERT covering it, COPY FROM without a "
    "column list, INSERT ... SELECT * between the tables unless their columns still line up "
    "by position and take every value (the column dropped from both, or the source's last "
    "one, or what shifts lands in a column of a wider type or of text), calls "
    "of a routine whose body names it.",
    recipe="Expand/contract: stop reading and writing the column in a release (ignore it in "
    "the ORM), wait until every version that used it is retired, then drop it.",
    covers=(DropColumn,),
    examples=(
        Example(
            "CREATE TABLE t (id int, note text); CREATE TABLE t_old (id int, note text)",
            "INSERT INTO t_old SELECT * FROM t",
            "ALTER TABLE t DROP COLUMN note; ALTER TABLE t_old DROP COLUMN note",
            False,
            "dropped from both: the copy still lines up",
        ),
        Example(
            "CREATE TABLE t (id int, due date, n int);"
            " CREATE TABLE t_old (id int, due date, n int)",
            "INSERT INTO t_old SELECT * FROM t",
            "ALTER TABLE t DROP COLUMN due",
            True,
            "n now lands in t_old.due: 42804 (no assignment cast from integer to date)",
        ),
        Example(
            "CREATE TABLE t (id int, due date, n int);"
            " CREATE TABLE t_old (id int, due text, n bigint)",
            "INSERT INTO t_old SELECT * FROM t",
            "ALTER TABLE t DROP COLUMN due",
            False,
            "n now lands in t_old.due, a text column: an assignment that cannot fail",
        ),
        Example(
            "CREATE TABLE users (id int, email text, name text)",
            "SELECT id, email FROM users",
            "ALTER TABLE users DROP COLUMN email",
            True,
        ),
        Example(
            "CREATE TABLE users (id int, email text, name text)",
            "SELECT id, name FROM users",
            "ALTER TABLE users DROP COLUMN email",
            False,
        ),
        Example(
            "CREATE TABLE users (id int, email text, name text);"
            "CREATE FUNCTION user_email(int) RETURNS text LANGUAGE sql"
            " AS 'SELECT email FROM users WHERE id = $1'",
            "SELECT user_email(1)",
            "ALTER TABLE users DROP COLUMN email",
            True,
            "the body is planned at each call, after the drop: 42703",
        ),
        Example(
            "CREATE TABLE users (id int, email text, name text)",
            "INSERT INTO users VALUES (1, 'a@b', 'n')",
            "ALTER TABLE users DROP COLUMN name",
            True,
            "positional INSERT: more expressions than target columns",
        ),
        Example(
            "CREATE TABLE users (id int, email text, name text)",
            "INSERT INTO users VALUES (1, 'a@b')",
            "ALTER TABLE users DROP COLUMN name",
            False,
            "the positional INSERT never reached the dropped column",
        ),
        Example(
            "CREATE TABLE p (id int, a int, b int GENERATED ALWAYS AS (a * 2) STORED)",
            "SELECT b FROM p",
            "ALTER TABLE p DROP COLUMN a CASCADE",
            True,
            "the generated column computed from the dropped one goes with it",
        ),
    ),
    check=check_drop_column,
)


def check_drop_function(ctx: Context, change: DropFunction) -> Iterator[Hit]:
    what = f"DROP FUNCTION {change.subject}"
    if change.moved_to:
        what = f"moving/renaming {change.subject} to {change.moved_to}"
    parts = split_qualified_name(change.subject.split("(", 1)[0])
    dropped = [
        fn
        for fn in (ctx.before.functions_named(parts[0], parts[1]) if len(parts) == 2 else ())
        if fn.signature == change.subject
    ]
    for v, f, ev in first_per_version(ctx.exact((F.FUNCTION,), change.subject)):
        sample = _params_bound(ev.sample, dropped[0]) if dropped else ev.sample
        moved = Facet(F.FUNCTION, change.moved_to)
        if change.moved_to and found_through_paths(ctx, v, sample, moved):
            continue  # moved into a schema every search path of the version lists
        after = ctx.reanalyze(sample, after=True)
        name = change.subject.split("(", 1)[0]
        still = any(
            x.kind is F.FUNCTION and x.subject.split("(", 1)[0] == name for x in after
        ) and not any(
            x.kind is F.MISSING_FUNCTION and x.subject.startswith(name + "(") for x in after
        )
        if still:
            yield Hit(
                Severity.RISK, risks(what, v, f, "another overload now takes the call"), v, f, ev
            )
        else:
            yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


class _BindParams(Visitor):
    """Casts each parameter passed straight to ``fn`` to the type of its argument."""

    def __init__(self, fn: Function) -> None:
        super().__init__()
        self.fn = fn
        self.changed = False

    def visit_FuncCall(self, _parent: Any, node: Any) -> None:
        names = [str(n.sval) for n in node.funcname or () if isinstance(n, ast.String)]
        args = node.args or ()
        if not names or names[-1] != self.fn.name or len(args) > len(self.fn.arg_types):
            return
        typed = []
        for arg, typ in zip(args, self.fn.arg_types, strict=False):
            if isinstance(arg, ast.ParamRef):
                arg, self.changed = ast.TypeCast(arg=arg, typeName=_type_name(typ)), True
            typed.append(arg)
        node.args = tuple(typed)


def _type_name(typ: str) -> Any:
    """The TypeName node of a type as format_type writes it."""
    select: Any = parse_sql(f"SELECT NULL::{typ}")[0].stmt
    return select.targetList[0].val.typeName


def _params_bound(sample: str, fn: Function) -> str:
    """``sample`` with each parameter passed straight to ``fn`` cast to the argument's type.

    A parameter keeps the type it was bound with: drivers send it typed (psycopg, JDBC), or
    prepare once and keep the type PostgreSQL inferred from the old overload (asyncpg,
    pgx); a new overload taking text does not take it (42883), as it takes a '1' literal.
    """
    try:
        stmts = parse_sql(sample)
    except pglast.parser.ParseError:
        return sample
    binder = _BindParams(fn)
    binder(stmts)
    return str(RawStream()(stmts)) if binder.changed else sample


DROP_FUNCTION = Rule(
    id="SG103",
    name="drop-function-in-use",
    severity=Severity.BREAK,
    summary="DROP FUNCTION / PROCEDURE (or a signature change) of an overload a version calls",
    doc="A call that reached the dropped overload fails with 42883 unless another overload "
    "still accepts it (then it is a risk: the call now reaches different code). Changing a "
    "signature is a drop plus a create. A parameter is taken to keep the type of the dropped "
    "argument (drivers send it typed, or prepared it against that overload); one sent "
    "untyped (node-postgres, psycopg's str) through the unnamed statement may reach the new "
    "overload: replay, with the version's own samples, overturns the break then.",
    breaks="Calls that resolved to the dropped overload.",
    recipe="Add the new overload first, move every version to it, drop the old one last.",
    covers=(DropFunction,),
    examples=(
        Example(
            "CREATE FUNCTION price(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 2'",
            "SELECT price(3)",
            "DROP FUNCTION price(int)",
            True,
        ),
        Example(
            "CREATE FUNCTION price(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 2';"
            " CREATE FUNCTION tax(n int) RETURNS int LANGUAGE sql AS 'SELECT n'",
            "SELECT price(3)",
            "DROP FUNCTION tax(int)",
            False,
        ),
        Example(
            "CREATE FUNCTION price(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 2'",
            "SELECT price(3)",
            "DROP FUNCTION price(int);"
            " CREATE FUNCTION price(n text) RETURNS int LANGUAGE sql AS 'SELECT length(n)'",
            True,
            "no implicit cast takes an integer to text: 42883",
        ),
        Example(
            "CREATE FUNCTION price(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 2'",
            "SELECT price(3)",
            "DROP FUNCTION price(int);"
            " CREATE FUNCTION price(n bigint) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            False,
            "an integer is cast to bigint implicitly",
        ),
        Example(
            "CREATE FUNCTION price(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 2'",
            "PREPARE q AS SELECT price($1); EXECUTE q(3)",
            "DROP FUNCTION price(int);"
            " CREATE FUNCTION price(n text) RETURNS int LANGUAGE sql AS 'SELECT length(n)'",
            True,
            "the held statement's parameter was inferred as an integer: 42883",
        ),
        Example(
            "CREATE FUNCTION price(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 2';"
            " CREATE SCHEMA app",
            "SET search_path = public, app; SELECT price(3)",
            "ALTER FUNCTION price(int) SET SCHEMA app",
            False,
            "the version's search_path lists the schema it moves to",
        ),
        Example(
            "CREATE FUNCTION price(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 2';"
            " CREATE SCHEMA app",
            "SET search_path = public, app; SELECT public.price(3)",
            "ALTER FUNCTION price(int) SET SCHEMA app",
            True,
            "the qualified name is gone",
        ),
    ),
    check=check_drop_function,
)


def check_drop_type(ctx: Context, change: DropType) -> Iterator[Hit]:
    what = (
        f"DROP TYPE {change.subject}"
        if not change.moved_to
        else (f"moving/renaming type {change.subject} to {change.moved_to}")
    )
    if change.moved_to:  # columns keep the type by oid: only its name in a text breaks
        hits = ctx.exact((F.TYPE_NAMED,), change.subject)
    else:
        prefix = change.subject + ":"
        hits = chain(
            ctx.uses((F.ENUM_LABEL_WRITE, F.ENUM_LABEL_READ), lambda s: s.startswith(prefix)),
            ctx.exact((F.TYPE_NAMED,), change.subject),
        )
    for v, f, ev in first_per_version(hits):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


DROP_TYPE = Rule(
    id="SG104",
    name="drop-type-in-use",
    severity=Severity.BREAK,
    summary="DROP TYPE of an enum a version writes, compares with or passes to functions; "
    "DROP, RENAME or SET SCHEMA of a type or domain a statement names",
    doc="Dropping an enum (with CASCADE: its columns too, reported by SG102) breaks statements "
    "that cast to it or use its labels. Renaming or moving it, or a domain, composite or range "
    "type, breaks only statements that name it (a cast): columns hold their type by oid.",
    breaks="Label literals written or compared; calls whose argument types include the type.",
    recipe="Migrate columns to the replacement type first (add column, backfill, switch "
    "versions), drop the old type when no protected version uses it.",
    covers=(DropType,),
    examples=(
        Example(
            "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE p (m mood)",
            "SELECT count(*) FROM p WHERE m = 'ok'",
            "DROP TYPE mood CASCADE",
            True,
        ),
        Example(
            "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE t (id int)",
            "SELECT id FROM t",
            "DROP TYPE mood",
            False,
        ),
        Example(
            "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE p (m mood)",
            "INSERT INTO p (m) VALUES ('ok'); SELECT count(*) FROM p WHERE m = 'sad'",
            "ALTER TYPE mood RENAME TO feeling",
            False,
            "the column keeps its type by oid: labels still work",
        ),
        Example(
            "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE p (m mood)",
            "SELECT count(*) FROM p WHERE m = 'sad'::mood",
            "ALTER TYPE mood RENAME TO feeling",
            True,
            "the statement names the type",
        ),
        Example(
            "CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100); CREATE TABLE t (v text)",
            "SELECT v::short_text FROM t",
            "ALTER DOMAIN short_text RENAME TO short_txt",
            True,
            "42704: the cast names the domain",
        ),
        Example(
            "CREATE DOMAIN short_text AS text; CREATE TABLE t (v text)",
            "SELECT v FROM t",
            "ALTER DOMAIN short_text RENAME TO short_txt",
            False,
        ),
    ),
    check=check_drop_type,
)


def in_schema(schema: str) -> Callable[[str], bool]:
    prefix = schema + "."
    return lambda s: s.startswith(prefix)


def check_drop_schema(ctx: Context, change: DropSchema) -> Iterator[Hit]:
    what = f"DROP SCHEMA {change.subject}"
    kinds = (*REL_USE, F.FUNCTION, F.ENUM_LABEL_WRITE, F.ENUM_LABEL_READ, F.TYPE_NAMED)
    for v, f, ev in first_per_version(ctx.uses(kinds, in_schema(change.subject))):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


DROP_SCHEMA = Rule(
    id="SG105",
    name="drop-schema-in-use",
    severity=Severity.BREAK,
    summary="DROP SCHEMA ... CASCADE of a schema whose objects a version uses",
    doc="Everything in the schema goes; each dropped object is also reported by its own rule.",
    breaks="Any use of a relation, function or sequence in the schema.",
    recipe="Move the objects out (or stop using them) before dropping the schema.",
    covers=(DropSchema,),
    examples=(
        Example(
            "CREATE SCHEMA billing; CREATE TABLE billing.inv (id int)",
            "SELECT id FROM billing.inv",
            "DROP SCHEMA billing CASCADE",
            True,
        ),
        Example(
            "CREATE SCHEMA billing; CREATE TABLE billing.inv (id int); CREATE TABLE t (id int)",
            "SELECT id FROM t",
            "DROP SCHEMA billing CASCADE",
            False,
        ),
    ),
    check=check_drop_schema,
)
