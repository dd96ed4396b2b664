"""Constraints and indexes: the names PostgreSQL generates, the definitions
pg_get_constraintdef prints, the indexes behind PRIMARY KEY / UNIQUE / EXCLUDE."""

from __future__ import annotations

import dataclasses
from collections.abc import Container
from typing import TYPE_CHECKING, Any

from pglast import enums

from skewguard.catalog import Constraint, Index
from skewguard.ddl.errors import Rejected
from skewguard.ddl.model import Dependent, Holder, Model
from skewguard.ddl.overlay.calls import record_calls
from skewguard.ddl.overlay.columns import set_column
from skewguard.ddl.overlay.names import find_index, find_rv
from skewguard.ddl.overlay.nodes import column_refs, deparse, name_list, unique_name

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_C = enums.ConstrType


#: pg_constraint.confdeltype / confupdtype other than NO ACTION ('a'), as PostgreSQL
#: prints them.
_FK_ACTIONS = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


class _Taken(Container[str]):
    """The names of ``schema`` a generated name must avoid (its indexes; its constraints
    or relations), looked up for the few names tried: a set of every name in a schema of
    10,000 relations cost a millisecond per statement."""

    def __init__(
        self, m: Model, schema: str, *, constraints: bool = False, relations: bool = False
    ) -> None:
        self.model, self.schema = m, schema
        self.constraints, self.relations = constraints, relations

    def __contains__(self, name: object) -> bool:
        m, schema = self.model, self.schema
        if self.relations and isinstance(name, str) and m.rel_oid(schema, name) is not None:
            return True
        if any(i.name == name and i.schema == schema for i in m.idxs.values()):
            return True
        return self.constraints and any(
            c.name == name and c.schema == schema for c in m.cons.values()
        )


def _constraint_name(m: Model, oid: int, kind: str, cols: list[str]) -> str:
    rel = m.rels[oid]
    suffix = {"p": "pkey", "u": "key", "f": "fkey", "c": "check", "x": "excl"}[kind]
    base = (
        f"{rel.name}_pkey"
        if kind == "p"
        else "_".join([rel.name, *cols[: 1 if kind == "c" else None], suffix])
    )
    return unique_name(base, _Taken(m, rel.schema, constraints=True))


def add_constraint(ov: Overlay, m: Model, oid: int, con: Any, col_cols: list[str]) -> None:
    t = con.contype
    kinds = {
        _C.CONSTR_PRIMARY: "p",
        _C.CONSTR_UNIQUE: "u",
        _C.CONSTR_FOREIGN: "f",
        _C.CONSTR_CHECK: "c",
        _C.CONSTR_EXCLUSION: "x",
    }
    if t == _C.CONSTR_NOTNULL:  # PG18: ALTER TABLE ADD CONSTRAINT n NOT NULL col
        for name in name_list(con.keys) or col_cols:
            set_column(m, oid, name, not_null=True)
        return
    if t == _C.CONSTR_DEFAULT:
        return
    kind = kinds.get(t)
    if kind is None:
        return
    rel = m.rels[oid]
    if kind == "c":
        cols = col_cols or column_refs(con.raw_expr)
        definition = f"CHECK ({deparse(con.raw_expr)})"
    elif kind == "f":
        cols = name_list(con.fk_attrs) or col_cols
        definition = "FOREIGN KEY"
    elif kind == "x":
        cols = [str(e[0].name) for e in con.exclusions or () if e[0].name]
        definition = "EXCLUDE"
    else:
        cols = name_list(con.keys) or col_cols
        definition = ("PRIMARY KEY" if kind == "p" else "UNIQUE") + f" ({', '.join(cols)})"
    if con.indexname:  # ADD CONSTRAINT ... USING INDEX
        idx = find_index(ov, m, [rel.schema, str(con.indexname)])
        if idx is None:
            raise Rejected
        cols = list(m.idxs[idx].keys)
    name = con.conname or _constraint_name(m, oid, kind, cols)
    if any(c.name == name for i, c in m.cons.items() if m.con_rel[i] == oid):
        raise Rejected
    ref_table = ""
    ref_cols: tuple[str, ...] = ()
    if kind == "f":
        ref = find_rv(ov, m, con.pktable)
        assert ref is not None
        ref_table = m.rel_qname(ref)
        ref_cols = tuple(name_list(con.pk_attrs)) or next(
            (c.columns for i, c in m.cons.items() if m.con_rel[i] == ref and c.type == "p"),
            (),
        )
    if kind == "f":
        definition = (
            f"FOREIGN KEY ({', '.join(cols)}) REFERENCES {ref_table}({', '.join(ref_cols)})"
            + "".join(
                f" ON {event} {_FK_ACTIONS[action]}"
                for event, action in (
                    ("UPDATE", con.fk_upd_action),
                    ("DELETE", con.fk_del_action),
                )
                if action in _FK_ACTIONS
            )
        )
    if con.deferrable:  # as pg_get_constraintdef says it: ON CONFLICT refuses these
        definition += " DEFERRABLE" + (" INITIALLY DEFERRED" if con.initdeferred else "")
    new = Constraint(
        rel.schema,
        rel.name,
        name,
        kind,
        tuple(cols),
        validated=not con.skip_validation,
        definition=definition,
        ref_table=ref_table,
        ref_columns=tuple(ref_cols),
    )
    c_oid = m.new_oid()
    m.cons[c_oid] = new
    m.con_rel[c_oid] = oid
    if kind == "c":
        record_calls(ov, m, Dependent(Holder.CONSTRAINT, c_oid), con.raw_expr)
    if kind == "p":
        for c in cols:
            set_column(m, oid, c, not_null=True)
    if kind in ("p", "u", "x"):
        if con.indexname:
            idx = find_index(ov, m, [rel.schema, str(con.indexname)])
            assert idx is not None
            m.idxs[idx] = dataclasses.replace(m.idxs[idx], name=name, constraint=name)
        else:
            i_oid = m.new_oid()
            m.idxs[i_oid] = Index(
                rel.schema,
                name,
                rel.name,
                tuple(cols),
                unique=kind != "x",
                primary=kind == "p",
                constraint=name,
            )
            m.idx_rel[i_oid] = oid


def create_index(ov: Overlay, m: Model, node: Any) -> None:
    oid = find_rv(ov, m, node.relation)
    assert oid is not None
    rel = m.rels[oid]
    keys: list[str] = []
    for elem in node.indexParams or ():
        keys.append(str(elem.name) if elem.name else deparse(elem.expr))
    name = node.idxname
    if name is None:
        base = "_".join([rel.name, *(k if k.isidentifier() else "expr" for k in keys), "idx"])
        name = unique_name(base, _Taken(m, rel.schema, relations=True))
    elif any(i.name == name and i.schema == rel.schema for i in m.idxs.values()):
        if node.if_not_exists:
            return
        raise Rejected
    i_oid = m.new_oid()
    m.idxs[i_oid] = Index(
        rel.schema,
        str(name),
        rel.name,
        tuple(keys),
        unique=bool(node.unique),
        primary=bool(node.primary),
        predicate=deparse(node.whereClause) if node.whereClause is not None else None,
    )
    m.idx_rel[i_oid] = oid
    exprs = [e.expr for e in node.indexParams or () if e.expr is not None]
    record_calls(ov, m, Dependent(Holder.INDEX, i_oid), [exprs, node.whereClause])
    if node.concurrent:
        m.concurrent.add(("create", i_oid))
