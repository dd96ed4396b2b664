"""Column definitions: types, NOT NULL, defaults (and the sequences they use), identity and
generated columns."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import Column, Relation, RelKind, qualified
from skewguard.ddl.errors import Rejected
from skewguard.ddl.model import Dependent, Edge, Holder, Model, Referenced
from skewguard.ddl.overlay.calls import record_calls
from skewguard.ddl.overlay.names import column_collation, column_type, find_by_names, user_path
from skewguard.ddl.overlay.nodes import column_refs, deparse, has_call, name_list
from skewguard.ddl.types import serial_kind

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_C = enums.ConstrType

#: A column's ``DEFERRABLE`` / ``INITIALLY ...`` clauses: separate items of its constraint
#: list, which PostgreSQL applies to the constraint before them (deferrable, deferred).
_ATTRIBUTES: dict[Any, tuple[bool | None, bool | None]] = {
    _C.CONSTR_ATTR_DEFERRABLE: (True, None),
    _C.CONSTR_ATTR_NOT_DEFERRABLE: (False, None),
    _C.CONSTR_ATTR_DEFERRED: (True, True),
    _C.CONSTR_ATTR_IMMEDIATE: (None, False),
}


def with_attributes(constraints: Iterable[Any] | None) -> list[Any]:
    """A column's constraints with its DEFERRABLE / INITIALLY clauses applied to the
    constraint each follows (copies: the parse tree stays as parsed). A misplaced
    clause is PostgreSQL's error to raise; it is dropped here."""
    folded: list[Any] = []
    for con in constraints or ():
        attribute = _ATTRIBUTES.get(con.contype)
        if attribute is None:
            folded.append(con)
            continue
        if not folded:
            continue
        deferrable, deferred = attribute
        last = folded[-1] = copy.copy(folded[-1])
        if deferrable is not None:
            last.deferrable = deferrable
        if deferred is not None:
            last.initdeferred = deferred
    return folded


_VOLATILE = frozenset(
    {
        "random",
        "clock_timestamp",
        "gen_random_uuid",
        "uuid_generate_v4",
        "uuid_generate_v1",
        "nextval",
        "timeofday",
        "txid_current",
        "uuidv4",
        "uuidv7",
        "random_normal",
    }
)


SEQUENCE_COLUMNS = (
    Column("last_value", "bigint", "bigint", not_null=True),
    Column("log_cnt", "bigint", "bigint", not_null=True),
    Column("is_called", "boolean", "boolean", not_null=True),
)


def put_columns(m: Model, oid: int, columns: list[Column]) -> None:
    m.put_rel(oid, dataclasses.replace(m.rels[oid], columns=tuple(columns)))


def set_column(m: Model, oid: int, name: str, **changes: Any) -> None:
    rel = m.rels[oid]
    cols = [dataclasses.replace(c, **changes) if c.name == name else c for c in rel.columns]
    put_columns(m, oid, cols)


def _add_sequence(m: Model, schema: str, name: str) -> str:
    base, n = name, 0
    while m.rel_oid(schema, name) is not None:
        n += 1
        name = f"{base}{n}"
    m.put_rel(m.new_oid(), Relation(schema, name, RelKind.SEQUENCE, SEQUENCE_COLUMNS))
    return name


def add_column(
    ov: Overlay, m: Model, oid: int, cd: Any, *, if_not_exists: bool = False
) -> list[tuple[Any, list[str]]]:
    """Add a ColumnDef; returns its constraints still to add (after all columns)."""
    rel = m.rels[oid]
    name = str(cd.colname)
    if rel.column(name) is not None:
        if if_not_exists:
            return []
        raise Rejected
    if cd.typeName is None:
        raise Rejected  # "WITH OPTIONS" outside CREATE TABLE OF / PARTITION OF
    exprs: list[tuple[Holder, Any]] = []
    type_name, base = column_type(ov, m, cd.typeName)
    col = Column(
        name, type_name, base, not_null=bool(cd.is_not_null), collation=column_collation(cd)
    )
    pending: list[tuple[Any, list[str]]] = []
    serial = serial_kind(cd.typeName)
    if serial is not None:
        seq = _add_sequence(m, rel.schema, f"{rel.name}_{name}_seq")
        col = dataclasses.replace(
            col,
            not_null=True,
            has_default=True,
            default=f"nextval('{qualified(rel.schema, seq)}'::regclass)",
            default_sequences=(qualified(rel.schema, seq),),
        )
        m.volatile_defaults.add((oid, name))
    for con in with_attributes(cd.constraints):
        t = con.contype
        if t == _C.CONSTR_NOTNULL:
            col = dataclasses.replace(col, not_null=True)
        elif t == _C.CONSTR_NULL:
            col = dataclasses.replace(col, not_null=False)
        elif t == _C.CONSTR_DEFAULT:
            col = with_default(ov, m, col, con.raw_expr)
            if has_call(con.raw_expr, _VOLATILE):
                m.volatile_defaults.add((oid, name))
            exprs.append((Holder.DEFAULT, con.raw_expr))
        elif t == _C.CONSTR_IDENTITY:
            seq = _add_sequence(m, rel.schema, f"{rel.name}_{name}_seq")
            col = dataclasses.replace(
                col,
                not_null=True,
                has_default=True,
                identity="a" if con.generated_when == "a" else "d",
                default_sequences=(qualified(rel.schema, seq),),
            )
            m.volatile_defaults.add((oid, name))
        elif t == _C.CONSTR_GENERATED:
            col = dataclasses.replace(
                col,
                generated="s",
                has_default=False,
                generated_from=tuple(sorted(column_refs(con.raw_expr))),
            )
            m.volatile_defaults.add((oid, name))
            exprs.append((Holder.COLUMN, con.raw_expr))
        elif t == _C.CONSTR_PRIMARY:
            col = dataclasses.replace(col, not_null=True)
            pending.append((con, [name]))
        else:
            pending.append((con, [name]))
    put_columns(m, oid, [*m.rels[oid].columns, col])
    attid = m.attids[oid][name]
    for holder, expr in exprs:
        record_calls(ov, m, Dependent(holder, oid, attid), expr)
    if cd.collClause is not None:
        coll = name_list(cd.collClause.collname)
        if len(coll) > 1 or coll[-1] not in _BUILTIN_COLLATIONS:
            path = user_path(ov)
            schema = coll[-2] if len(coll) > 1 else (path[0] if path else "public")
            ref = Referenced("collation", name=qualified(schema, coll[-1]))
            m.edges.add(Edge(Dependent(Holder.COLUMN, oid, attid), ref))
    return pending


def with_default(ov: Overlay, m: Model, col: Column, expr: Any) -> Column:
    if expr is None or (isinstance(expr, ast.A_Const) and expr.isnull):
        return dataclasses.replace(
            col,
            has_default=bool(col.identity),
            default=None,
            default_sequences=col.default_sequences if col.identity else (),
        )
    seqs: list[str] = []
    _default_sequences(ov, m, expr, seqs)
    return dataclasses.replace(
        col, has_default=True, default=deparse(expr), default_sequences=tuple(sorted(seqs))
    )


def _default_sequences(ov: Overlay, m: Model, node: Any, out: list[str]) -> None:
    if isinstance(node, ast.FuncCall):
        fn = name_list(node.funcname)
        if fn and fn[-1] == "nextval" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.TypeCast):
                arg = arg.arg
            if isinstance(arg, ast.A_Const) and isinstance(arg.val, ast.String):
                parts = split_qualified_name(str(arg.val.sval))
                oid = find_by_names(ov, m, parts, True) if parts else None
                if oid is not None:
                    out.append(m.rel_qname(oid))
    if isinstance(node, tuple | list):
        for x in node:
            _default_sequences(ov, m, x, out)
    elif isinstance(node, ast.Node):
        for a in getattr(type(node), "__slots__", ()):
            _default_sequences(ov, m, getattr(node, a, None), out)


_BUILTIN_COLLATIONS = frozenset({"C", "POSIX", "default", "ucs_basic", "unicode"})
