"""Renames and moves: to other versions the old name disappears.

A rename is judged on the net effect of the transaction: ``ALTER TABLE users
RENAME TO people; CREATE VIEW users AS SELECT * FROM people`` keeps the name
``public.users`` (with the same columns), so readers and simple writers are
unaffected; only SG109 looks at what a view cannot do that a table could.
"""

from __future__ import annotations

from collections.abc import Iterator

from skewguard.analysis.facets import Facet
from skewguard.analysis.facets import FacetKind as F
from skewguard.analysis.query import split_qualified_name
from skewguard.analysis.subjects import shape_columns
from skewguard.catalog import RelKind
from skewguard.ddl.changes import (
    CreateFunction,
    CreateRelation,
    MoveRelation,
    RenameColumn,
    RenameRelation,
    RenameSchema,
    ReplaceRelation,
    SetSchema,
)
from skewguard.ddl.findings import Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules._text import breaks
from skewguard.rules.base import (
    Context,
    Example,
    Hit,
    Rule,
    first_per_version,
    found_through_paths,
    routine_callers,
)
from skewguard.rules.drops import REL_NAMED, in_schema


def check_rename_relation(ctx: Context, change: MoveRelation) -> Iterator[Hit]:
    moved = isinstance(change, SetSchema)
    what = f"{'SET SCHEMA' if moved else 'RENAME'} {change.subject} to {change.new_name}"
    uses = [*ctx.exact(REL_NAMED, change.subject), *routine_callers(ctx, change.subject)]
    for v, f, ev in first_per_version(uses):
        # the bare name finds the moved relation when every path lists its new schema
        if not (moved and found_through_paths(ctx, v, ev.sample, Facet(f.kind, change.new_name))):
            yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


RENAME_RELATION = Rule(
    id="SG106",
    name="rename-relation-in-use",
    severity=Severity.BREAK,
    summary="RENAME or SET SCHEMA of a table, view or sequence a version uses",
    doc="Statements naming the old name fail with 42P01 (undefined table). A column default "
    "holds its sequence by oid: inserts through it survive a renamed sequence.",
    breaks="Any use of the old name.",
    recipe="Rename and, in the same transaction, create a view with the old name "
    "(CREATE VIEW old AS SELECT * FROM new): simple views are updatable. Drop the view once "
    "no protected version uses the old name.",
    covers=(RenameRelation, SetSchema),
    examples=(
        Example(
            "CREATE TABLE users (id int, email text)",
            "SELECT email FROM users",
            "ALTER TABLE users RENAME TO people",
            True,
        ),
        Example(
            "CREATE TABLE users (id int, email text)",
            "SELECT email FROM users; INSERT INTO users (id, email) VALUES (1, 'x')",
            "ALTER TABLE users RENAME TO people; CREATE VIEW users AS SELECT * FROM people",
            False,
            "the old name stays as an updatable view",
        ),
        Example(
            "CREATE TABLE users (id int, email text); CREATE SCHEMA archive",
            "SELECT email FROM users",
            "ALTER TABLE users SET SCHEMA archive",
            True,
        ),
        Example(
            "CREATE SCHEMA billing; CREATE TABLE billing.inv (id int)",
            "SET search_path = billing, public; SELECT id FROM inv",
            "ALTER TABLE billing.inv SET SCHEMA public",
            False,
            "the bare name still finds the table: public is on the version's search_path",
        ),
        Example(
            "CREATE SCHEMA billing; CREATE TABLE billing.inv (id int)",
            "SET search_path = billing, public; SELECT id FROM billing.inv",
            "ALTER TABLE billing.inv SET SCHEMA public",
            True,
            "the qualified name is gone",
        ),
        Example(
            "CREATE TABLE t (id serial, note text)",
            "INSERT INTO t (note) VALUES ('x')",
            "ALTER SEQUENCE t_id_seq RENAME TO t_id_seq2",
            False,
            "the default holds the sequence by oid",
        ),
        Example(
            "CREATE TABLE t (id serial, note text)",
            "SELECT nextval('t_id_seq')",
            "ALTER SEQUENCE t_id_seq RENAME TO t_id_seq2",
            True,
            "the name in the text is looked up at every call",
        ),
    ),
    check=check_rename_relation,
)


def check_rename_column(ctx: Context, change: RenameColumn) -> Iterator[Hit]:
    what = f"RENAME COLUMN {change.subject} to {change.new_name}"
    uses = [u for u in ctx.exact((F.COLUMN_READ, F.COLUMN_WRITE), change.subject) if _named(ctx, u)]
    # COPY staging (..., col) into a staging table made LIKE the table: 42703
    listed = change.subject[len(change.relation or "") + 1 :]
    uses += [
        u
        for u in ctx.uses((F.COPY_SHAPE,), lambda s: s.startswith(f"{change.relation}("))
        if listed in (shape_columns(u[1].subject) or [])
    ]
    # a held named statement returning the table's star sees its row type change (0A000)
    uses += ctx.exact((F.PREPARED_RESULT,), f"{change.relation}.*")
    column = split_qualified_name(change.subject)[-1]
    uses += routine_callers(ctx, change.relation, column)
    for v, f, ev in first_per_version(uses):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


def _named(ctx: Context, use: tuple[VersionKey, Facet, Evidence]) -> bool:
    """Whether a column use names the column: not when every write of it was by its place
    in an INSERT without a column list (both facets count the same statements)."""
    v, f, ev = use
    if f.kind is not F.COLUMN_WRITE:
        return True
    positional = ctx.footprints.get(v, {}).get(Facet(F.POSITIONAL_WRITE, f.subject))
    return positional is None or positional.count < ev.count


RENAME_COLUMN = Rule(
    id="SG107",
    name="rename-column-in-use",
    severity=Severity.BREAK,
    summary="RENAME COLUMN of a column a version reads or writes",
    doc="Statements naming the old column fail with 42703.",
    breaks="Reads and writes of the old column name (including ON CONFLICT targets and COPY "
    "column lists), calls of a routine whose body names it; not an INSERT without a column "
    "list, which writes by position.",
    recipe="Add the new column, write both (trigger or application), backfill, move reads, "
    "retire the old versions, then drop the old column. Or rename the table and keep a view "
    "that exposes both names.",
    covers=(RenameColumn,),
    examples=(
        Example(
            "CREATE TABLE t (id int, note text)",
            "CREATE TEMP TABLE staging (LIKE t); COPY staging (id, note) FROM PROGRAM 'echo 1,x'"
            " WITH (FORMAT csv)",
            "ALTER TABLE t RENAME COLUMN note TO memo",
            True,
            "the staging table made LIKE t has the new name: 42703",
        ),
        Example(
            "CREATE TABLE users (id int, name text)",
            "UPDATE users SET name = 'x' WHERE id = 1",
            "ALTER TABLE users RENAME COLUMN name TO full_name",
            True,
        ),
        Example(
            "CREATE TABLE users (id int, name text, nick text)",
            "SELECT name FROM users",
            "ALTER TABLE users RENAME COLUMN nick TO handle",
            False,
        ),
        Example(
            "CREATE TABLE users (id int, name text)",
            "INSERT INTO users VALUES (1, 'x')",
            "ALTER TABLE users RENAME COLUMN name TO full_name",
            False,
            "a write by position names no column",
        ),
    ),
    check=check_rename_column,
)


def check_rename_schema(ctx: Context, change: RenameSchema) -> Iterator[Hit]:
    what = f"RENAME SCHEMA {change.subject} to {change.new_name}"
    kinds = (*REL_NAMED, F.FUNCTION, F.TYPE_NAMED)
    for v, f, ev in first_per_version(ctx.uses(kinds, in_schema(change.subject))):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


RENAME_SCHEMA = Rule(
    id="SG108",
    name="rename-schema-in-use",
    severity=Severity.BREAK,
    summary="ALTER SCHEMA ... RENAME of a schema whose objects a version names",
    doc="Qualified names with the old schema fail; unqualified names resolve through "
    "search_path, which still names the old schema.",
    breaks="Any use of an object in the schema.",
    recipe="Create the new schema and move objects one by one behind views, or keep the old "
    "schema name.",
    covers=(RenameSchema,),
    examples=(
        Example(
            "CREATE SCHEMA billing; CREATE TABLE billing.inv (id int)",
            "SELECT id FROM billing.inv",
            "ALTER SCHEMA billing RENAME TO invoicing",
            True,
        ),
        Example(
            "CREATE SCHEMA billing; CREATE TABLE billing.inv (id int); CREATE TABLE t (id int)",
            "SELECT id FROM t",
            "ALTER SCHEMA billing RENAME TO invoicing",
            False,
        ),
    ),
    check=check_rename_schema,
)


#: The relation kinds TABLESAMPLE takes (a view or foreign table fails with 0A000).
_SAMPLED = (RelKind.TABLE, RelKind.MATVIEW, RelKind.PARTITIONED)


def check_replace_relation(ctx: Context, change: ReplaceRelation) -> Iterator[Hit]:
    what = f"replacing {change.old_kind} {change.subject} with a {change.new_kind}"
    subject = change.subject
    hits = list(ctx.uses((F.COPY_IN,), lambda s: s == subject or s.startswith(subject + "(")))
    hits += ctx.uses((F.TRUNCATE,), lambda s: s in (subject, subject + "|cascade"))
    if not change.updatable:
        hits += list(ctx.exact((F.RELATION_WRITE,), change.subject))
    if change.new_kind not in _SAMPLED:
        hits += list(ctx.exact((F.TABLESAMPLE,), change.subject))
    for v, f, ev in first_per_version(hits):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


REPLACE_RELATION = Rule(
    id="SG109",
    name="table-replaced-by-view",
    severity=Severity.BREAK,
    summary="A table name now names a view (or another relation kind)",
    doc="An automatically updatable view takes SELECT, INSERT (with the table's defaults), "
    "UPDATE, DELETE and ON CONFLICT, but not COPY FROM, TRUNCATE or TABLESAMPLE (0A000: "
    "only tables and materialized views are sampled); a view that is not updatable takes "
    "no writes at all.",
    breaks="COPY FROM into the name (with or without a column list), TRUNCATE, "
    "SELECT ... FROM name TABLESAMPLE; any write when the view is not updatable.",
    recipe="Keep the view simple (one table, plain columns) so it stays updatable, and move "
    "COPY/TRUNCATE users to the new table name before the rename.",
    covers=(ReplaceRelation,),
    examples=(
        Example(
            "CREATE TABLE users (id int, email text)",
            "COPY users FROM PROGRAM 'echo 1,x' WITH (FORMAT csv)",
            "ALTER TABLE users RENAME TO people; CREATE VIEW users AS SELECT * FROM people",
            True,
        ),
        Example(
            "CREATE TABLE users (id int, email text)",
            "UPDATE users SET email = 'y' WHERE id = 1",
            "ALTER TABLE users RENAME TO people; CREATE VIEW users AS SELECT * FROM people",
            False,
        ),
        Example(
            "CREATE TABLE users (id int, email text)",
            "TRUNCATE users",
            "ALTER TABLE users RENAME TO people; CREATE VIEW users AS SELECT * FROM people",
            True,
            "a view takes no TRUNCATE",
        ),
        Example(
            "CREATE TABLE events (id int, kind text)",
            "SELECT kind FROM events TABLESAMPLE SYSTEM (1)",
            "ALTER TABLE events RENAME TO every_event;"
            " CREATE VIEW events AS SELECT * FROM every_event",
            True,
            "only tables and materialized views can be sampled",
        ),
    ),
    check=check_replace_relation,
)


def _earlier(path: tuple[str, ...], schema: str, than: str) -> bool:
    """``schema`` comes before ``than`` in ``path`` (or ``than`` is not in it at all)."""
    if schema not in path:
        return False
    return than not in path or path.index(schema) < path.index(than)


def check_shadowing(ctx: Context, change: CreateRelation | MoveRelation) -> Iterator[Hit]:
    new = change.subject if isinstance(change, CreateRelation) else change.new_name
    parts = split_qualified_name(new)
    if len(parts) != 2:
        return
    schema, name = parts
    what = f"a new {new}" if isinstance(change, CreateRelation) else f"moving to {new}"
    # the moved relation itself found under its new name is no shadow (SG106 judges it)
    moved = "" if isinstance(change, CreateRelation) else change.subject
    uses = (u for u in _shadowed(ctx, schema, name) if u[1].subject != moved)
    for v, f, ev in first_per_version(uses):
        yield Hit(
            Severity.BREAK, breaks(what, v, f) + f" (its bare name now finds {new})", v, f, ev
        )


def _shadowed(ctx: Context, schema: str, name: str) -> Iterator[tuple[VersionKey, Facet, Evidence]]:
    """Uses of a relation ``name`` elsewhere that, resolved again through a search_path of
    the version listing ``schema`` first, no longer find it."""
    # a cheap test first: the subject's last part may be ``name``, quoted or not
    for v, f, ev in ctx.uses(REL_NAMED, lambda s: s.endswith((name, '"'))):
        old = split_qualified_name(f.subject)
        if len(old) != 2 or old[1] != name or old[0] == schema:
            continue
        for path in ctx.search_paths(v):
            if _earlier(path, schema, old[0]):
                now = ctx.reanalyze(ev.sample, after=True, search_path=path)
                if Facet(f.kind, f.subject) not in now:
                    yield v, f, ev
                    break


SHADOWED: Rule[CreateRelation | MoveRelation] = Rule(
    id="SG124",
    name="relation-shadowed",
    severity=Severity.BREAK,
    summary="A new relation (or one moved) takes over a bare name a version resolves through "
    "its search_path",
    doc="A version that sets search_path to schemas in order finds a bare table name in the "
    'first schema that has it; so does one on the default "$user", public, where a schema '
    "named after its role comes first once it exists. A relation created (or moved) in an "
    "earlier schema than the one the version uses now answers instead: its columns differ "
    "(42703) or its rows do. Found by resolving the version's own statement again with its "
    "search_path.",
    breaks="Statements naming the relation without a schema, in sessions whose search_path "
    "lists the new relation's schema first.",
    recipe="Give the new relation another name, or create it in a schema after the one the "
    "versions use; qualify names in the application.",
    covers=(CreateRelation, MoveRelation),
    examples=(
        Example(
            "CREATE TABLE users (id int, email text); CREATE SCHEMA app",
            "SET search_path = app, public; SELECT email FROM users",
            "CREATE TABLE app.users (id int)",
            True,
        ),
        Example(
            "CREATE TABLE users (id int, email text); CREATE SCHEMA app",
            "SET search_path = public, app; SELECT email FROM users",
            "CREATE TABLE app.users (id int)",
            False,
            "public comes first: the bare name still finds public.users",
        ),
        Example(
            'CREATE TABLE "Users" (id int, email text); CREATE SCHEMA app',
            'SET search_path = app, public; SELECT email FROM "Users"',
            'CREATE TABLE app."Users" (id int)',
            True,
            "a quoted name is shadowed the same way",
        ),
        Example(
            "CREATE TABLE users (id int, email text); CREATE SCHEMA app",
            "SET search_path = app, public; SELECT email FROM users",
            "ALTER TABLE users SET SCHEMA app",
            False,
            "the bare name finds the moved table itself",
        ),
    ),
    check=check_shadowing,
)


def check_function_shadowing(ctx: Context, change: CreateFunction) -> Iterator[Hit]:
    qname = change.subject.split("(", 1)[0]
    parts = split_qualified_name(qname)
    if len(parts) != 2:
        return
    schema, name = parts
    args = change.subject[len(qname) :]
    hits: list[tuple[VersionKey, Facet, Evidence]] = []
    # the same argument types: the earlier schema's function is the one called (another
    # overload in another schema is not followed here)
    for v, f, ev in ctx.uses((F.FUNCTION_CALL,), lambda s: s.endswith(args)):
        old = split_qualified_name(f.subject[: -len(args)])
        if len(old) != 2 or old[1] != name or old[0] == schema:
            continue
        if any(_earlier(path, schema, old[0]) for path in ctx.search_paths(v)):
            hits.append((v, f, ev))
    for v, f, ev in first_per_version(hits):
        yield Hit(
            Severity.BREAK,
            breaks(f"a new {change.subject}", v, f) + f" (its bare call now finds {qname})",
            v,
            f,
            ev,
        )


FUNCTION_SHADOWED: Rule[CreateFunction] = Rule(
    id="SG125",
    name="function-shadowed",
    severity=Severity.BREAK,
    summary="A new function takes over a bare call a version resolves through its search_path",
    doc="PostgreSQL resolves a function call without a schema among the functions of that "
    "name in every schema of the search_path; of two with the same argument types, the "
    "earlier schema's wins. A function created in a schema before the one a version calls "
    '(on the default "$user", public, a schema named after its role) with the same '
    "argument types now answers the call: another body, another result type. Overloads "
    "with other argument types in other schemas are not followed.",
    breaks="Calls naming the function without a schema, in sessions whose search_path lists "
    "the new function's schema first.",
    recipe="Give the new function another name, or create it in a schema after the one the "
    "versions use; qualify calls in the application.",
    covers=(CreateFunction,),
    examples=(
        Example(
            "CREATE FUNCTION f(a int) RETURNS text LANGUAGE sql AS 'SELECT 1'; CREATE SCHEMA app",
            "SET search_path = app, public; SELECT f(1)",
            "CREATE FUNCTION app.f(a int) RETURNS int LANGUAGE sql AS 'SELECT 1/0'",
            True,
        ),
        Example(
            "CREATE FUNCTION f(a int) RETURNS text LANGUAGE sql AS 'SELECT 1'; CREATE SCHEMA app",
            "SET search_path = public, app; SELECT f(1)",
            "CREATE FUNCTION app.f(a int) RETURNS int LANGUAGE sql AS 'SELECT 1/0'",
            False,
            "public comes first: the call still finds public.f",
        ),
    ),
    check=check_function_shadowing,
)
