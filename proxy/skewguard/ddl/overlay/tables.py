"""CREATE TABLE (LIKE, INHERITS, PARTITION OF, OF type), foreign tables, sequences and
rewrite rules."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.catalog import Relation, RelKind, RewriteRule
from skewguard.ddl.affects import Use
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Model
from skewguard.ddl.overlay.columns import (
    SEQUENCE_COLUMNS,
    add_column,
    put_columns,
    with_attributes,
    with_default,
)
from skewguard.ddl.overlay.constraints import add_constraint
from skewguard.ddl.overlay.names import find_rel, find_rv, new_relation

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_C = enums.ConstrType


def create_table(ov: Overlay, m: Model, node: Any) -> None:
    made = new_relation(ov, m, node.relation, bool(node.if_not_exists))
    if made is None:
        return
    schema, name = made
    kind = RelKind.PARTITIONED if node.partspec is not None else RelKind.TABLE
    oid = m.new_oid()
    m.put_rel(oid, Relation(schema, name, kind, rows=0.0))
    pending: list[tuple[Any, list[str]]] = []
    options: list[Any] = []  # "col WITH OPTIONS ...": on a column of the type or parent
    for elt in node.tableElts or ():
        if isinstance(elt, ast.ColumnDef) and elt.typeName is None:
            options.append(elt)
        elif isinstance(elt, ast.ColumnDef):
            pending.extend(add_column(ov, m, oid, elt))
        elif isinstance(elt, ast.Constraint):
            pending.append((elt, []))
        elif isinstance(elt, ast.TableLikeClause):
            src = find_rv(ov, m, elt.relation)
            assert src is not None
            for col in m.rels[src].columns:
                bare = dataclasses.replace(
                    col, has_default=False, default=None, default_sequences=(), identity=""
                )
                put_columns(m, oid, [*m.rels[oid].columns, bare])
    parents: list[int] = []
    for parent in node.inhRelations or ():
        src = find_rv(ov, m, parent)
        assert src is not None
        parents.append(src)
        inherited = [
            dataclasses.replace(c, identity="", generated="") if node.partbound is None else c
            for c in m.rels[src].columns
        ]
        cols = list(m.rels[oid].columns)
        have = {c.name for c in cols}
        put_columns(m, oid, [c for c in inherited if c.name not in have] + cols)
    if parents:
        m.parents[oid] = tuple(parents)
        if node.partbound is not None:
            m.partitions.add(oid)
    for cd in options:
        if m.rels[oid].column(str(cd.colname)) is None and node.ofTypename is None:
            raise Rejected
        pending.extend(_column_options(ov, m, oid, cd))
    for con, con_cols in pending:
        add_constraint(ov, m, oid, con, con_cols)


def _column_options(ov: Overlay, m: Model, oid: int, cd: Any) -> list[tuple[Any, list[str]]]:
    """``col WITH OPTIONS NOT NULL DEFAULT ...`` on a column the table already has
    (from its parent); on a typed table whose type is not modelled, nothing."""
    name = str(cd.colname)
    col = m.rels[oid].column(name)
    pending: list[tuple[Any, list[str]]] = []
    for con in with_attributes(cd.constraints):
        if col is None:
            break
        if con.contype == _C.CONSTR_NOTNULL:
            col = dataclasses.replace(col, not_null=True)
        elif con.contype == _C.CONSTR_DEFAULT:
            col = with_default(ov, m, col, con.raw_expr)
        elif con.contype in (_C.CONSTR_CHECK, _C.CONSTR_UNIQUE, _C.CONSTR_PRIMARY):
            pending.append((con, [name]))
    if col is not None:
        put_columns(m, oid, [col if c.name == name else c for c in m.rels[oid].columns])
    return pending


def create_foreign_table(ov: Overlay, m: Model, node: Any) -> None:
    create_table(ov, m, node.base)
    rv = node.base.relation
    oid = find_rel(ov, m, rv.schemaname, str(rv.relname))
    if oid is not None and m.rels[oid].kind == RelKind.TABLE:
        m.put_rel(oid, dataclasses.replace(m.rels[oid], kind=RelKind.FOREIGN))


def create_rule(ov: Overlay, m: Model, node: Any) -> None:
    oid = find_rv(ov, m, node.relation)
    assert oid is not None
    rel = m.rels[oid]
    event = _RULE_EVENTS.get(node.event)
    if event is None or event == "select":
        if ov.scope(m).existing(oid):
            raise CannotModel(
                f"CREATE RULE ... ON SELECT TO {rel.qname}: not modelled",
                affects=ov.scope(m).reach([oid], Use.ANY, rel.qname),
            )
        return
    rule = RewriteRule(
        str(node.rulename),
        event,
        instead=bool(node.instead),
        nothing=bool(node.instead) and not node.actions,
        conditional=node.whereClause is not None,
    )
    if any(r.name == rule.name for r in rel.rules) and not node.replace:
        raise Rejected
    rules = (*(r for r in rel.rules if r.name != rule.name), rule)
    m.put_rel(oid, dataclasses.replace(rel, rules=rules))


def create_sequence(ov: Overlay, m: Model, node: Any) -> None:
    made = new_relation(ov, m, node.sequence, bool(node.if_not_exists))
    if made is not None:
        m.put_rel(m.new_oid(), Relation(*made, RelKind.SEQUENCE, SEQUENCE_COLUMNS))


_RULE_EVENTS = {
    enums.CmdType.CMD_SELECT: "select",
    enums.CmdType.CMD_INSERT: "insert",
    enums.CmdType.CMD_UPDATE: "update",
    enums.CmdType.CMD_DELETE: "delete",
}
