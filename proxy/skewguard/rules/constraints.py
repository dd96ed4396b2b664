"""New constraints against writers, and ON CONFLICT arbiters that go away.

A new CHECK / UNIQUE / FOREIGN KEY (validated or NOT VALID) makes writers fail
when they produce values it rejects. Where a version's footprint holds the
constants it writes, a one-column CHECK is evaluated on them by PostgreSQL
(:func:`value_probes`): a constant it rejects is a break, and a version whose
every write of the column is a constant it accepts is not named. A version
whose INSERTs all absorb duplicates (ON CONFLICT on the new key, or without a
target) and that never updates the key is not broken by a new UNIQUE.
Otherwise the shell runs the probe of existing rows from :func:`probe_sql`
(bounded time): violating rows mean the writers produce such values (break),
else it is a risk.

``INSERT ... ON CONFLICT (cols)`` needs a unique index on exactly those columns
(any name); ``ON CONFLICT ON CONSTRAINT name`` needs that constraint by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeGuard

import pglast
from pglast.stream import RawStream
from pglast.visitors import Visitor

from skewguard.analysis.facets import Facet
from skewguard.analysis.facets import FacetKind as F
from skewguard.analysis.query import split_qualified_name
from skewguard.analysis.subjects import shape_columns
from skewguard.catalog import CatalogSnapshot, Column, ident
from skewguard.ddl.changes import (
    AddConstraint,
    ConstraintType,
    CreateIndex,
    DropConstraint,
    DropIndex,
    RenameConstraint,
    RenameIndex,
    ReplaceFunction,
)
from skewguard.ddl.findings import Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules._text import breaks, risks
from skewguard.rules.base import (
    Context,
    Example,
    Hit,
    Probe,
    Rule,
    first_per_version,
    relation_of,
    writer_probes,
)
from skewguard.rules.same_everywhere import Asks, asks
from skewguard.rules.values import column_values
from skewguard.sql_parse import parse_sql


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_qname(qname: str) -> str:
    return ".".join(quote_ident(p) for p in split_qualified_name(qname))


def _unquote(col: str) -> str:
    return split_qualified_name(col)[0] if col.startswith('"') else col


def probe_sql(change: AddConstraint | CreateIndex) -> str | None:
    """SQL answering "do existing rows violate this new constraint?" (True = yes)."""
    table = quote_qname(change.relation)
    cols = [quote_ident(c) for c in change.columns]
    if isinstance(change, CreateIndex):
        if not change.unique or change.constraint or not cols:
            return None
        if not all(re.fullmatch(r"[a-z_][a-z0-9_$]*", c) for c in change.columns):
            return None  # expression keys: no probe
        kind, definition = ConstraintType.UNIQUE, ""
    else:
        kind, definition = change.contype, change.definition
    expr = _check_expression(change)
    if expr is not None:
        return f"SELECT EXISTS (SELECT 1 FROM {table} WHERE NOT ({expr}))"
    if kind in (ConstraintType.UNIQUE, ConstraintType.PRIMARY) and cols:
        not_null = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        dup = (
            f"SELECT 1 FROM {table} WHERE {not_null} GROUP BY {', '.join(cols)} HAVING count(*) > 1"
        )
        if kind is ConstraintType.PRIMARY:
            nulls = " OR ".join(f"{c} IS NULL" for c in cols)
            return f"SELECT EXISTS ({dup}) OR EXISTS (SELECT 1 FROM {table} WHERE {nulls})"
        return f"SELECT EXISTS ({dup})"
    if kind is ConstraintType.FOREIGN and cols:
        # the referenced columns end at the first ")": ON DELETE/UPDATE, MATCH and
        # DEFERRABLE clauses may follow them
        m = re.search(r"REFERENCES (.+?)\(([^)]*)\)", definition)
        if m is None:
            return None
        ref = quote_qname(m.group(1))
        ref_cols = [quote_ident(_unquote(c.strip())) for c in m.group(2).split(",")]
        not_null = " AND ".join(f"c.{c} IS NOT NULL" for c in cols)
        match = " AND ".join(f"p.{r} = c.{c}" for r, c in zip(ref_cols, cols, strict=False))
        return (
            f"SELECT EXISTS (SELECT 1 FROM {table} c WHERE {not_null} AND NOT EXISTS "
            f"(SELECT 1 FROM {ref} p WHERE {match}))"
        )
    return None


def _check_expression(change: AddConstraint | CreateIndex) -> str | None:
    """The expression of a new CHECK constraint, or None for any other change."""
    if not _is_check(change):
        return None
    definition = change.definition
    if not (definition.startswith("CHECK (") and definition.endswith(")")):
        return None
    return definition[len("CHECK (") : -1]


def _is_check(change: AddConstraint | CreateIndex) -> TypeGuard[AddConstraint]:
    return isinstance(change, AddConstraint) and change.contype is ConstraintType.CHECK


def _rows(column: Column, values: Iterable[str], alias: str) -> str:
    """Constants as rows of one column of the column's type, named ``alias``.

    Each goes through the type's input function, as an untyped literal does. The
    column type is spelled out: naming the table's row type would wait for a lock
    the migration holds.
    """
    rows = [{column.name: None if v == "null" else v.partition(":")[2]} for v in sorted(values)]
    payload = json.dumps(rows, ensure_ascii=False).replace("\\", "\\\\").replace("'", "''")
    return (
        f"jsonb_to_recordset(E'{payload}'::jsonb) AS {alias}"
        f"({quote_ident(column.name)} {column.type_name})"
    )


def check_probe_sql(table: str, expression: str, column: Column, values: Iterable[str]) -> str:
    """SQL answering: does one of these constants of ``column`` fail CHECK (expression)?

    True when one makes the expression false (NULL passes, as in a CHECK). No
    table is read.
    """
    rows = _rows(column, values, quote_ident(split_qualified_name(table)[-1]))
    return f"SELECT EXISTS (SELECT 1 FROM {rows} WHERE NOT ({expression}))"


def taken_probe_sql(table: str, column: Column, values: Iterable[str]) -> str:
    """SQL answering: is one of these constants of ``column`` in the table already?"""
    col = quote_ident(column.name)
    return (
        f"SELECT EXISTS (SELECT 1 FROM {quote_qname(table)} AS sg_t "
        f"JOIN {_rows(column, values, 'sg_v')} ON sg_t.{col} = sg_v.{col})"
    )


def _unique(change: AddConstraint | CreateIndex) -> bool:
    if isinstance(change, CreateIndex):
        return change.unique and not change.predicate
    return change.contype in (ConstraintType.UNIQUE, ConstraintType.PRIMARY)


def value_probes(
    change: AddConstraint | CreateIndex,
    footprints: Mapping[VersionKey, Mapping[Facet, Evidence]],
    catalog: CatalogSnapshot | None,
) -> dict[VersionKey, tuple[Probe, ...]]:
    """Probes of each version's known constants of a new one-column CHECK or UNIQUE.

    CHECK: does PostgreSQL reject one of them (no table read), asked as each role the
    version runs as: PostgreSQL evaluates a CHECK as the writer, and an expression may
    ask who that is (``current_user``, ``pg_has_role``, a function reading either); as
    the migrating session where the version's roles are unknown (an imported
    footprint). UNIQUE, for a version that inserts without absorbing duplicates and
    never updates the key: is one of its constants in the table already (its next
    insert of it fails).
    """
    expression = _check_expression(change)
    unique = _unique(change)
    if (expression is None and not unique) or len(change.columns) != 1:
        return {}
    rel = relation_of(catalog, change.relation) if catalog is not None else None
    typed = rel.column(change.columns[0]) if rel is not None else None
    if typed is None:
        return {}
    column = f"{change.relation}.{ident(typed.name)}"
    out: dict[VersionKey, tuple[Probe, ...]] = {}
    for version, facets in footprints.items():
        values, _ = column_values(facets, column)
        if expression is not None and values:
            sql = check_probe_sql(change.relation, expression, typed, values)
            out[version] = writer_probes(sql, expression, facets)
            continue
        values -= {"null"}
        if (
            values
            and Facet(F.COLUMN_UPDATE, column) not in facets
            and not _absorbs_duplicates(facets, change)
        ):
            out[version] = (Probe(taken_probe_sql(change.relation, typed, values)),)
    return out


def _answer(ctx: Context, probes: Iterable[Probe]) -> bool | None:
    """Whether one of the probes found a violation; None unless every one answered."""
    answers = [ctx.probes.get(p) for p in probes]
    if any(answers):
        return True
    return False if answers and all(a is False for a in answers) else None


def _absorbs_duplicates(
    facets: Mapping[Facet, Evidence], change: AddConstraint | CreateIndex
) -> bool:
    """Every INSERT of the version into the table skips or updates on a duplicate key.

    ``ON CONFLICT (cols)`` arbitrates on every unique index over exactly those
    columns (so also the new one); ``ON CONFLICT DO NOTHING`` without a target on
    any. An UPDATE or COPY of the key can still make a duplicate.
    """
    primary = isinstance(change, AddConstraint) and change.contype is ConstraintType.PRIMARY
    if not _unique(change) or primary or not change.columns:
        return False  # a primary key also refuses NULLs
    table = change.relation
    key = ",".join(sorted(ident(c) for c in change.columns))
    accepted = {"nothing", f"nothing({key})", f"update({key})"}
    keys = {f"{table}.{ident(c)}" for c in change.columns}
    handled = inserts = 0
    for facet, evidence in facets.items():
        kind, subject = facet.kind, facet.subject
        if kind is F.INSERT_CONFLICT and subject.startswith(table + "|"):
            if subject[len(table) + 1 :] not in accepted:
                return False
            handled += evidence.count
        elif (kind is F.INSERT_SHAPE and subject.startswith(table + "(")) or (
            kind is F.INSERT_POSITIONAL and subject.startswith(table + "/")
        ):
            inserts += evidence.count
        elif (kind is F.COPY_IN and subject.split("(", 1)[0] == table) or (
            kind is F.COLUMN_UPDATE and subject in keys
        ):
            return False
    return handled > 0 and handled >= inserts


def check_new_constraint(ctx: Context, change: AddConstraint | CreateIndex) -> Iterator[Hit]:
    if isinstance(change, AddConstraint):
        yield from check_deleters(ctx, change)
    probe = probe_sql(change)
    if isinstance(change, CreateIndex):
        if probe is None or change.predicate:
            return  # not unique, or a partial unique index: too specific to judge
        what = f"CREATE UNIQUE INDEX {change.subject}"
    elif change.contype is ConstraintType.EXCLUSION:
        return
    else:
        what = f"ADD CONSTRAINT {change.subject}"
    if _unique(change) and _unique_already(ctx.before, change):
        return
    check = _is_check(change)
    subjects = {f"{change.relation}.{ident(c)}" for c in change.columns}
    writers = ctx.uses((F.COLUMN_WRITE,), lambda s: s in subjects)
    violated = ctx.probes.get(Probe(probe)) if probe is not None else None
    own_probes = value_probes(change, ctx.footprints, ctx.after)
    expression = _check_expression(change)
    asked = asks(expression) if expression is not None else Asks.NOTHING
    if asked is not Asks.NOTHING:
        violated = None  # the rows were judged by the migrating session, not by writers
    for v, f, ev in first_per_version(writers):
        facets = ctx.footprints.get(v, {})
        own = _answer(ctx, own_probes.get(v, ()))
        if asked is Asks.SESSION or (asked is Asks.ROLE and not ctx.roles(v)):
            own = None  # the probe's session answered, not the version's
        if own:
            how = "a constant it rejects" if check else "a value already there"
            yield Hit(Severity.BREAK, f"{breaks(what, v, f)} with {how}", v, f, ev)
            continue
        if own is False and check and column_values(facets, f.subject)[1]:
            continue  # every write of the column is a constant the check accepts
        if _absorbs_duplicates(facets, change):
            continue
        if violated:
            yield Hit(
                Severity.BREAK, breaks(what, v, f) + " and existing rows violate it", v, f, ev
            )
        else:
            why = "no existing row violates it" if violated is False else "rows not probed"
            yield Hit(Severity.RISK, risks(what, v, f, why), v, f, ev)


_ON_DELETE = re.compile(r"\bON DELETE (CASCADE|SET NULL|SET DEFAULT|RESTRICT)\b")


def _on_delete(definition: str) -> str:
    """A foreign key's ON DELETE action as pg_get_constraintdef prints it (NO ACTION: "")."""
    found = _ON_DELETE.search(definition)
    return found.group(1) if found else ""


def _deletes_refused(ctx: Context, change: AddConstraint) -> bool:
    """Whether deleting a referenced row that still has referencing rows now fails: NO
    ACTION and RESTRICT refuse it (23503), SET NULL does on a NOT NULL column (23502)."""
    action = _on_delete(change.definition)
    if action == "SET NULL":
        rel = relation_of(ctx.after, change.relation)
        return rel is not None and any(
            (c := rel.column(name)) is not None and c.not_null for name in change.columns
        )
    return action in ("", "RESTRICT")


def _deletes_were_free(ctx: Context, change: AddConstraint) -> bool:
    """Before the change, deleting a referenced row never failed: no foreign key on the same
    columns, or one that deleted, nulled or reset the referencing rows."""
    parts = split_qualified_name(change.relation)
    return len(parts) == 2 and all(
        _on_delete(c.definition) in ("CASCADE", "SET NULL", "SET DEFAULT")
        for c in ctx.before.constraints_of(parts[0], parts[1])
        if c.type == "f" and c.columns == change.columns and c.ref_table == change.ref_table
    )


def check_deleters(ctx: Context, change: AddConstraint) -> Iterator[Hit]:
    """A foreign key whose ON DELETE refuses, against versions deleting referenced rows.

    A version that also writes the referencing columns, where no key refused such a
    delete before (none, or one that cascaded), deletes rows its own rows reference: a
    break. Any other deleter fails only if the rows it deletes are still referenced: a
    risk, which replay judges on the rows there are.
    """
    if change.contype is not ConstraintType.FOREIGN or not change.ref_table:
        return
    what = f"ADD CONSTRAINT {change.subject}"
    truncating = ctx.exact((F.TRUNCATE,), change.ref_table)  # not ...|cascade: that works
    both = {v for v, _, _ in ctx.exact((F.TRUNCATE,), change.relation)}
    for v, f, ev in first_per_version(t for t in truncating if t[0] not in both):
        why = " (PostgreSQL refuses to truncate a table a foreign key references)"
        yield Hit(Severity.BREAK, breaks(what, v, f) + why, v, f, ev)
    if not _deletes_refused(ctx, change):
        return
    relied = _deletes_were_free(ctx, change)
    keys = {f"{change.relation}.{ident(c)}" for c in change.columns}
    for v, f, ev in first_per_version(ctx.exact((F.ROW_DELETE,), change.ref_table)):
        facets = ctx.footprints.get(v, {})
        if relied and any(Facet(F.COLUMN_WRITE, k) in facets for k in keys):
            why = " while it writes rows referencing them (no key refused such a delete)"
            yield Hit(Severity.BREAK, breaks(what, v, f) + why, v, f, ev)
        else:
            why = "deleting a row still referenced now fails"
            yield Hit(Severity.RISK, risks(what, v, f, why), v, f, ev)


def _unique_already(cat: CatalogSnapshot, change: AddConstraint | CreateIndex) -> bool:
    """A new UNIQUE/PRIMARY KEY (or unique index) on columns that a valid, whole-table unique
    index already kept unique: no write is refused that was not refused before (a primary
    key's NOT NULL is a change of its own)."""
    parts = split_qualified_name(change.relation)
    if len(parts) != 2:
        return False
    keys = set(change.columns)
    return any(
        i.unique and i.valid and i.predicate is None and set(i.keys) == keys
        for i in cat.indexes_of(parts[0], parts[1])
    )


NEW_CONSTRAINT: Rule[AddConstraint | CreateIndex] = Rule(
    id="SG114",
    name="constraint-vs-writers",
    severity=Severity.BREAK,
    summary="ADD CHECK / UNIQUE / PRIMARY KEY / FOREIGN KEY (NOT VALID or not), CREATE UNIQUE "
    "INDEX, against versions writing the columns",
    doc="NOT VALID skips existing rows but every new write is checked. A one-column CHECK is "
    "evaluated by PostgreSQL on the constants each version writes to the column: one it "
    "rejects -> break; every write a constant it accepts -> the version is not named. A "
    "version whose INSERTs into the table all carry ON CONFLICT on the new key (or DO NOTHING "
    "without a target) and that never updates or copies into the key is not named for a new "
    "UNIQUE, nor for one on columns a valid unique index already covers (PRIMARY KEY USING "
    "INDEX). For the rest the shell probes existing rows (probes_needed): violating rows "
    "exist -> the writers produce such values -> break; no violations or no answer -> risk. "
    "A FOREIGN KEY whose ON DELETE refuses (NO ACTION, RESTRICT, SET NULL on a NOT NULL "
    "column) is also held against versions deleting referenced rows: one that writes the "
    "referencing columns, where no key refused such a delete before (none, or one that "
    "cascaded), deletes rows its own rows reference -> break; any other deleter -> risk "
    "(replay judges it on the rows there are). A TRUNCATE of the referenced table alone "
    "fails whatever the rows (0A000).",
    breaks="INSERT/UPDATE/COPY of the constrained columns with values the constraint rejects; "
    "DELETE of referenced rows a foreign key now protects; TRUNCATE of the referenced table.",
    recipe="Ship code that only writes valid values first; then ADD CONSTRAINT ... NOT VALID, "
    "fix old rows, VALIDATE CONSTRAINT.",
    covers=(AddConstraint, CreateIndex),
    examples=(
        Example(
            "CREATE TABLE t (id int, price int)",
            "INSERT INTO t (id, price) VALUES (1, 0)",
            "ALTER TABLE t ADD CONSTRAINT price_positive CHECK (price > 0) NOT VALID",
            True,
            "the version writes price = 0, which the check rejects",
            probe=True,
        ),
        Example(
            "CREATE TABLE t (id int, price int)",
            "INSERT INTO t (id, price) VALUES (1, 5)",
            "ALTER TABLE t ADD CONSTRAINT price_positive CHECK (price > 0) NOT VALID",
            False,
            "its only constant, 5, passes: the version is not named",
            probe=False,
        ),
        Example(
            "CREATE TABLE t (id int, price int)",
            "UPDATE t SET price = price + 1",
            "ALTER TABLE t ADD CONSTRAINT price_positive CHECK (price > 0) NOT VALID",
            False,
            "an expression: risk only, no existing row violates it",
            probe=False,
        ),
        Example(
            "CREATE TABLE t (id int, email text)",
            "INSERT INTO t (id, email) VALUES (1, 'a') ON CONFLICT DO NOTHING",
            "ALTER TABLE t ADD CONSTRAINT t_email_key UNIQUE (email)",
            False,
            "every insert skips duplicates: the version is not named",
            probe=False,
        ),
        Example(
            "CREATE TABLE t (id int, email text)",
            "INSERT INTO t (id, email) VALUES (1, 'same')",
            "CREATE UNIQUE INDEX t_email ON t (email) WHERE id < 0",
            False,
        ),
        Example(
            "CREATE TABLE t (id int NOT NULL, v text); CREATE UNIQUE INDEX t_id ON t (id);"
            " INSERT INTO t VALUES (1, 'a')",
            "INSERT INTO t (id, v) VALUES (1, 'b') ON CONFLICT (id) DO UPDATE SET v = 'c'",
            "ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_id",
            False,
            "a unique index refused duplicates already: the key adds no new refusal",
        ),
        Example(
            "CREATE TABLE u (id serial PRIMARY KEY, e text); CREATE TABLE o (id int, u_id int,"
            " CONSTRAINT o_u FOREIGN KEY (u_id) REFERENCES u (id) ON DELETE CASCADE)",
            "WITH n AS (INSERT INTO u (e) VALUES ('t') RETURNING id)"
            " INSERT INTO o (id, u_id) SELECT 1, id FROM n; DELETE FROM u WHERE e = 't'",
            "ALTER TABLE o DROP CONSTRAINT o_u;"
            " ALTER TABLE o ADD CONSTRAINT o_u FOREIGN KEY (u_id) REFERENCES u (id)",
            True,
            "the version deletes rows its own rows reference, which the cascade removed: 23503",
        ),
        Example(
            "CREATE TABLE u (id serial PRIMARY KEY, e text); CREATE TABLE o (id int, u_id int,"
            " CONSTRAINT o_u FOREIGN KEY (u_id) REFERENCES u (id))",
            "INSERT INTO o (id, u_id) VALUES (1, NULL); DELETE FROM u WHERE e = 'gone'",
            "ALTER TABLE o DROP CONSTRAINT o_u; ALTER TABLE o ADD CONSTRAINT o_u"
            " FOREIGN KEY (u_id) REFERENCES u (id) ON DELETE CASCADE",
            False,
            "a cascade refuses no delete",
        ),
        Example(
            "CREATE TABLE u (id int PRIMARY KEY); CREATE TABLE o (id int, u_id int)",
            "TRUNCATE u",
            "ALTER TABLE o ADD CONSTRAINT o_u FOREIGN KEY (u_id) REFERENCES u (id)",
            True,
            "0A000: cannot truncate a table referenced in a foreign key constraint",
        ),
    ),
    check=check_new_constraint,
)


_WORDS = re.compile(r'"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*')


def _expression_key(key: str) -> bool:
    """An expression key: ``EXPRESSION(a, b)`` from the catalog, deparsed text from the
    overlay; a column key is a bare name."""
    return "(" in key


def _words(text: str) -> frozenset[str]:
    return frozenset(w.strip('"') for w in _WORDS.findall(text))


def _key_columns(key: str) -> frozenset[str]:
    """The columns an expression key reads (the catalog keeps no expression text)."""
    return _words(key[len("EXPRESSION(") : -1] if key.startswith("EXPRESSION(") else key)


def _infers(elements: Sequence[str], keys: Sequence[str]) -> bool:
    """Whether ON CONFLICT's inference ``elements`` (as the facet renders them) can pick
    an index on ``keys``: the same columns, and for each expression element an
    expression key over columns it names (approximate: the texts are not compared)."""
    plain = sorted(e for e in elements if e.startswith('"') or not _expression_key(e))
    if plain != sorted(ident(k) for k in keys if not _expression_key(k)):
        return False
    exprs = [_words(e) for e in elements if not e.startswith('"') and _expression_key(e)]
    key_exprs = [_key_columns(k) for k in keys if _expression_key(k)]
    return len(exprs) == len(key_exprs) and all(
        any(cols and cols <= words for cols in key_exprs) for words in exprs
    )


def _deferrable(ctx: Context, schema: str, table: str) -> set[str]:
    """Names of the table's deferrable constraints after the change: ON CONFLICT refuses
    them as arbiters (55000)."""
    return {c.name for c in ctx.after.constraints_of(schema, table) if c.deferrable}


class _InferencePredicates(Visitor):
    """The WHERE of each ``ON CONFLICT (cols) WHERE ...``, as the overlay deparses an index's."""

    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()

    def visit_InferClause(self, _parent: Any, node: Any) -> None:
        if node.whereClause is not None:
            self.found.add(str(RawStream()(node.whereClause)))


def _inference_predicates(sample: str) -> frozenset[str]:
    try:
        stmts = parse_sql(sample)
    except pglast.parser.ParseError:
        return frozenset()
    visitor = _InferencePredicates()
    visitor(stmts)
    return frozenset(visitor.found)


def _arbiter_exists(
    ctx: Context, table: str, elements: Sequence[str], predicates: frozenset[str] = frozenset()
) -> bool:
    """Whether a unique index after the change infers ``elements``: one without WHERE, or a
    partial one whose predicate is the statement's own ``WHERE`` (``predicates``): PostgreSQL
    needs the inference WHERE to imply it, which an identical text does."""
    parts = split_qualified_name(table)
    if len(parts) != 2:
        return False
    deferrable = _deferrable(ctx, parts[0], parts[1])
    for idx in ctx.after.indexes_of(parts[0], parts[1]):
        implied = idx.predicate is None or idx.predicate in predicates
        usable = idx.unique and implied and idx.constraint not in deferrable
        if usable and _infers(elements, idx.keys):
            return True
    return False


def _refreshers(ctx: Context, change: DropIndex, what: str) -> Iterator[Hit]:
    """REFRESH MATERIALIZED VIEW CONCURRENTLY needs a unique index on plain columns without
    WHERE (55000 without one)."""
    parts = split_qualified_name(change.relation)
    if len(parts) != 2 or any(
        idx.unique and idx.predicate is None and not any(map(_expression_key, idx.keys))
        for idx in ctx.after.indexes_of(parts[0], parts[1])
    ):
        return
    refreshing = ctx.exact((F.REFRESH,), f"{change.relation}|concurrently")
    for v, f, ev in first_per_version(refreshing):
        why = " (REFRESH ... CONCURRENTLY needs a unique index on plain columns)"
        yield Hit(Severity.BREAK, breaks(what, v, f) + why, v, f, ev)


def check_arbiter(
    ctx: Context, change: DropIndex | RenameIndex | DropConstraint | RenameConstraint
) -> Iterator[Hit]:
    table = change.relation
    renamed = isinstance(change, RenameIndex | RenameConstraint)
    verb = "RENAME" if renamed else "DROP"
    noun = "INDEX" if isinstance(change, DropIndex | RenameIndex) else "CONSTRAINT"
    what = f"{verb} {noun} {change.subject}{change.cascade_note}"
    if isinstance(change, DropConstraint | RenameConstraint):
        parts = split_qualified_name(table)
        old_name = (
            change.old_name
            if isinstance(change, RenameConstraint)
            else split_qualified_name(change.subject)[-1]
        )
        still = (
            len(parts) == 2
            and any(c.name == old_name for c in ctx.after.constraints_of(parts[0], parts[1]))
            and old_name not in _deferrable(ctx, parts[0], parts[1])
        )
        if not still:
            subject = f"{table}.{ident(old_name)}"
            for v, f, ev in first_per_version(ctx.exact((F.CONFLICT_CONSTRAINT,), subject)):
                yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)
    if renamed or (
        isinstance(change, DropConstraint)
        and change.contype not in (ConstraintType.PRIMARY, ConstraintType.UNIQUE)
    ):
        return
    if isinstance(change, DropIndex) and change.unique and not change.predicate:
        yield from _refreshers(ctx, change, what)
    uses = ctx.uses((F.CONFLICT_COLUMNS,), lambda s: s.startswith(table + "("))
    matching = [
        u
        for u in uses
        if _infers(shape_columns(u[1].subject) or (), change.columns)
        and not _arbiter_exists(
            ctx, table, shape_columns(u[1].subject) or (), _inference_predicates(u[2].sample)
        )
    ]
    if matching:
        for v, f, ev in first_per_version(matching):
            yield Hit(
                Severity.BREAK,
                breaks(what, v, f) + " and no other unique index covers those columns",
                v,
                f,
                ev,
            )


ARBITER: Rule[DropIndex | RenameIndex | DropConstraint | RenameConstraint] = Rule(
    id="SG115",
    name="on-conflict-arbiter-removed",
    severity=Severity.BREAK,
    summary="DROP or RENAME of the index or constraint a version's ON CONFLICT relies on",
    doc="ON CONFLICT (cols) needs a unique index on exactly those columns (its name does not "
    "matter: renaming it is safe, dropping it is not unless another one covers the same "
    "columns); ON CONFLICT ON CONSTRAINT name needs the constraint by name (42704 / 42P10). "
    "A constraint redefined as DEFERRABLE is no arbiter either (55000). A partial index "
    "takes over when its predicate is the statement's own WHERE; samples hide literals, so "
    "one with literals (WHERE status = 'active') is matched by replaying the version's "
    "upserts, which overturns the break.",
    breaks="INSERT ... ON CONFLICT whose arbiter is gone; REFRESH MATERIALIZED VIEW "
    "CONCURRENTLY without a unique index on plain columns left.",
    recipe="Create the replacement unique index (CONCURRENTLY) first, move versions to it, "
    "then drop the old one. Do not rename constraints named in ON CONFLICT ON CONSTRAINT.",
    covers=(DropIndex, RenameIndex, DropConstraint, RenameConstraint),
    examples=(
        Example(
            "CREATE TABLE t (id int, email text); CREATE UNIQUE INDEX t_email ON t (email)",
            "INSERT INTO t (id, email) VALUES (1, 'a') ON CONFLICT (email) DO NOTHING",
            "DROP INDEX t_email",
            True,
        ),
        Example(
            "CREATE TABLE t (id int, email text); CREATE UNIQUE INDEX t_email ON t (email)",
            "INSERT INTO t (id, email) VALUES (1, 'a') ON CONFLICT (email) DO NOTHING",
            "ALTER INDEX t_email RENAME TO t_email_uq",
            False,
        ),
        Example(
            "CREATE TABLE t (id int, email text CONSTRAINT t_email_key UNIQUE)",
            "INSERT INTO t (id, email) VALUES (1, 'a') ON CONFLICT ON CONSTRAINT t_email_key "
            "DO NOTHING",
            "ALTER TABLE t RENAME CONSTRAINT t_email_key TO t_email_uq",
            True,
        ),
        Example(
            "CREATE TABLE t (id int, email text); CREATE UNIQUE INDEX t_email ON t (email)",
            "INSERT INTO t (id, email) VALUES (1, 'a') ON CONFLICT (email) DO NOTHING",
            "CREATE UNIQUE INDEX t_email2 ON t (email); DROP INDEX t_email",
            False,
            "another unique index on the same columns takes over",
        ),
        Example(
            "CREATE TABLE t (id int, email text, live bool);"
            " CREATE UNIQUE INDEX t_live_email ON t (email) WHERE live",
            "INSERT INTO t (id, email) VALUES (1, 'a') ON CONFLICT (email) WHERE live DO NOTHING",
            "DROP INDEX t_live_email; CREATE UNIQUE INDEX t_live_email2 ON t (email) WHERE live",
            False,
            "a partial index with the statement's own WHERE takes over",
        ),
        Example(
            "CREATE TABLE t (id int, email text, live bool);"
            " CREATE UNIQUE INDEX t_live_email ON t (email) WHERE live",
            "INSERT INTO t (id, email) VALUES (1, 'a') ON CONFLICT (email) WHERE live DO NOTHING",
            "DROP INDEX t_live_email;"
            " CREATE UNIQUE INDEX t_live_email2 ON t (email) WHERE live AND id > 0",
            True,
            "42P10: the WHERE no longer implies the index's predicate",
        ),
        Example(
            "CREATE TABLE t (id int, email text CONSTRAINT t_email_key UNIQUE)",
            "INSERT INTO t (id, email) VALUES (1, 'a') ON CONFLICT (email) DO NOTHING",
            "ALTER TABLE t DROP CONSTRAINT t_email_key;"
            " ALTER TABLE t ADD CONSTRAINT t_email_key UNIQUE (email) DEFERRABLE",
            True,
            "a deferrable constraint is no arbiter: 55000",
        ),
        Example(
            "CREATE TABLE t (id int, email text); CREATE UNIQUE INDEX t_lower ON t (lower(email))",
            "INSERT INTO t (id, email) VALUES (1, 'a') ON CONFLICT (lower(email)) DO NOTHING",
            "DROP INDEX t_lower",
            True,
            "an expression arbiter: 42P10",
        ),
        Example(
            "CREATE TABLE t (id int, n int); CREATE MATERIALIZED VIEW mv AS SELECT id, n FROM t;"
            " CREATE UNIQUE INDEX mv_id ON mv (id)",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
            "DROP INDEX mv_id",
            True,
            "55000: a concurrent refresh needs a unique index",
        ),
    ),
    check=check_arbiter,
)


def _call_of(signature: str) -> re.Pattern[str]:
    """A call of the function ``signature`` names, in a deparsed expression (qualified or
    not; the deparser quotes a name only where it must)."""
    parts = split_qualified_name(signature.split("(", 1)[0])
    name = re.escape(ident(parts[-1]))
    schema = rf"(?:{re.escape(ident(parts[0]))}\s*\.\s*)?" if len(parts) == 2 else ""
    return re.compile(rf'(?<![\w$."]){schema}{name}\s*\(')


def check_inlined_arbiter(ctx: Context, change: ReplaceFunction) -> Iterator[Hit]:
    if not change.new_body:
        return
    call = _call_of(change.subject)
    callers = {v for v, _f, _ev in ctx.exact((F.FUNCTION,), change.subject)}
    what = f"redefining {change.subject}"
    why = (
        " (its ON CONFLICT infers an index expression through the function: open "
        "connections keep the index's old expansion of it, 42P10)"
    )
    uses = ctx.uses((F.CONFLICT_COLUMNS,), lambda s: call.search(s) is not None)
    hits = [u for u in uses if u[0] in callers]
    for v, f, ev in first_per_version(hits):
        yield Hit(Severity.BREAK, breaks(what, v, f) + why, v, f, ev)
    # through the inference WHERE: it must imply the cached predicate, which the new
    # expansion may still do (a narrower body) or not; replay cannot show a stale cache
    broken = {v for v, _f, _ev in hits}
    predicated = [
        (v, f, ev)
        for v, f, ev in ctx.uses((F.CONFLICT_COLUMNS,), lambda s: True)
        if v in callers - broken and any(call.search(p) for p in _inference_predicates(ev.sample))
    ]
    for v, f, ev in first_per_version(predicated):
        why = "its ON CONFLICT ... WHERE calls the function: open connections keep a partial "
        why += "index's predicate expanded with the old body, which the new WHERE may not imply"
        yield Hit(Severity.RISK, risks(what, v, f, why), v, f, ev)


INLINED_ARBITER: Rule[ReplaceFunction] = Rule(
    id="SG128",
    name="arbiter-expression-redefined",
    severity=Severity.BREAK,
    summary="An SQL function redefined (another body, volatility or strictness) while an "
    "upsert infers its arbiter index through it",
    doc="The planner inlines a simple SQL function (LANGUAGE sql, not SECURITY DEFINER, no "
    "SET clause) into the expressions that call it, and a connection caches a table's index "
    "expressions so expanded until the table itself changes: CREATE OR REPLACE FUNCTION does "
    "not invalidate them. An INSERT ... ON CONFLICT (f(col)) on a connection that used the "
    "table before then expands its own f(col) with the new body, no longer matches the "
    "cached index expression, and fails with 42P10 (no unique or exclusion constraint "
    "matching the ON CONFLICT specification); new connections work. Other uses of the "
    "function (reads, index scans) do not fail. A standard-SQL body (RETURN, BEGIN ATOMIC) "
    "has no source text to compare: redefining one counts as a change.",
    breaks="Upserts on open connections whose ON CONFLICT target calls the function (one "
    "whose ON CONFLICT ... WHERE calls it is a risk: it fails unless the new expansion still "
    "implies the partial index's cached predicate).",
    recipe="Leave the function's body alone: create a new function, a new unique index over "
    "it (CONCURRENTLY), move the versions' upserts to it, then drop the old pair.",
    covers=(ReplaceFunction,),
    check=check_inlined_arbiter,
    examples=(
        Example(
            "CREATE TABLE t (id int, sku text);"
            " CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE"
            " AS 'SELECT lower(t)'; CREATE UNIQUE INDEX t_norm ON t (norm(sku))",
            "INSERT INTO t (id, sku) VALUES (1, 'A') ON CONFLICT (norm(sku)) DO NOTHING",
            "CREATE OR REPLACE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE"
            " AS 'SELECT lower(trim(t))'",
            True,
            "42P10 on the connection that upserted before",
        ),
        Example(
            "CREATE TABLE t (id int, sku text);"
            " CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE"
            " AS 'SELECT lower(t)'; CREATE UNIQUE INDEX t_norm ON t (norm(sku))",
            "INSERT INTO t (id, sku) VALUES (1, 'A') ON CONFLICT (norm(sku)) DO NOTHING",
            "CREATE OR REPLACE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE"
            " AS 'SELECT lower(t)'",
            False,
            "the same body again",
        ),
        Example(
            "CREATE TABLE t (id int, sku text);"
            " CREATE FUNCTION norm(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE"
            " AS 'BEGIN RETURN lower(t); END'; CREATE UNIQUE INDEX t_norm ON t (norm(sku))",
            "INSERT INTO t (id, sku) VALUES (1, 'A') ON CONFLICT (norm(sku)) DO NOTHING",
            "CREATE OR REPLACE FUNCTION norm(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE"
            " AS 'BEGIN RETURN lower(trim(t)); END'",
            False,
            "PL/pgSQL is never inlined: the index holds the call",
        ),
        Example(
            "CREATE TABLE t (id int, sku text);"
            " CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE"
            " AS 'SELECT lower(t)'; CREATE UNIQUE INDEX t_norm ON t (norm(sku))",
            "SELECT id FROM t WHERE norm(sku) = 'a'",
            "CREATE OR REPLACE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE"
            " AS 'SELECT lower(trim(t))'",
            False,
            "a reader only plans another expression",
        ),
    ),
)
