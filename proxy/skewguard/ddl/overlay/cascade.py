"""Drops and what they take along, as pg_depend has it: the CASCADE closure, and the
RESTRICT drops PostgreSQL refuses."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import Column, RelKind, qualified
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Dependent, Holder, Model, Referenced
from skewguard.ddl.overlay.columns import put_columns, set_column
from skewguard.ddl.overlay.existing_triggers import triggers_naming
from skewguard.ddl.overlay.names import find_enum, find_user_type, user_path

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay


def _dependents(m: Model, pred: Any) -> list[int]:
    return [v for v, deps in m.deps.items() if v in m.rels and any(pred(d) for d in deps)]


def drop_rel(m: Model, oid: int, cascade: bool, cause: str) -> None:
    if oid not in m.rels:
        return
    rel = m.rels[oid]
    qname = rel.qname  # a property: computed once, not once per object looked at
    views = [v for v in _dependents(m, lambda d: d[0] != "fn" and d[1] == oid) if v != oid]
    fks = [i for i, c in m.cons.items() if c.ref_table == qname and m.con_rel[i] != oid]
    users = (
        [
            (r, c.name)
            for r, other in m.rels.items()
            if r != oid
            for c in other.columns
            if qname in c.default_sequences
        ]
        if rel.kind == RelKind.SEQUENCE
        else []
    )
    children = [c for c, parents in m.parents.items() if oid in parents and c in m.rels]
    inherited = [c for c in children if c not in m.partitions]
    if (views or fks or users or inherited) and not cascade:
        raise Rejected
    for c in children:  # partitions always go with their table; children with CASCADE
        m.via.setdefault(("rel", c), cause)
        drop_rel(m, c, True, cause)
    m.parents.pop(oid, None)
    m.partitions.discard(oid)
    for v in views:
        m.via.setdefault(("rel", v), cause)
        drop_rel(m, v, True, cause)
    for i in fks:
        m.via.setdefault(("con", i), cause)
        m.cons.pop(i, None)
        m.con_rel.pop(i, None)
    for r, cname in users:
        m.via.setdefault(("default", m.attids[r][cname]), cause)
        set_column(m, r, cname, has_default=False, default=None, default_sequences=())
    for i in m.cons_of(oid):
        del m.cons[i], m.con_rel[i]
    for i in m.idxs_of(oid):
        del m.idxs[i], m.idx_rel[i]
    m.del_rel(oid)
    _drop_owned_sequences(m, rel.name, rel.columns, cause)


def _drop_owned_sequences(m: Model, table: str, gone: Sequence[Column], cause: str) -> None:
    """Serial/identity sequences go with their table or column (OWNED BY); one named for
    the table and no longer used by a default is taken to be owned."""
    for seq in {s for c in gone for s in c.default_sequences}:
        parts = split_qualified_name(seq)
        s_oid = m.rel_oid(parts[0], parts[1]) if len(parts) == 2 else None
        if s_oid is not None and m.rels[s_oid].name.startswith(table + "_"):
            still_used = any(seq in c.default_sequences for r in m.rels.values() for c in r.columns)
            if not still_used:
                m.via.setdefault(("rel", s_oid), cause)
                m.del_rel(s_oid)


def drop_column(ov: Overlay, m: Model, oid: int, name: str, cascade: bool, cause: str) -> None:
    rel = m.rels[oid]
    attid = m.attids[oid][name]
    triggers_naming(ov, m, oid, name, "DROP COLUMN")
    views = _dependents(m, lambda d: d[0] == "col" and d[1] == oid and d[2] == attid)
    qname = rel.qname  # a property: computed once, not once per constraint
    fks = [
        i
        for i, c in m.cons.items()
        if c.ref_table == qname and name in c.ref_columns and m.con_rel[i] != oid
    ]
    generated = [c.name for c in rel.columns if name in c.generated_from]
    if (views or fks or generated) and not cascade:
        raise Rejected
    for v in views:
        m.via.setdefault(("rel", v), cause)
        drop_rel(m, v, True, cause)
    for i in fks:
        m.via.setdefault(("con", i), cause)
        del m.cons[i], m.con_rel[i]
    for g in generated:
        if m.rels[oid].column(g) is not None:
            m.via.setdefault(("col", m.attids[oid][g]), cause)
            drop_column(ov, m, oid, g, True, cause)
    for i in m.cons_of(oid):
        if name in m.cons[i].columns:
            m.via.setdefault(("con", i), cause)
            del m.cons[i], m.con_rel[i]
    for i in m.idxs_of(oid):
        idx = m.idxs[i]
        if name in idx.keys or any(name in _expr_names(k) for k in idx.keys):
            m.via.setdefault(("idx", i), cause)
            del m.idxs[i], m.idx_rel[i]
    put_columns(m, oid, [c for c in m.rels[oid].columns if c.name != name])
    _drop_owned_sequences(m, rel.name, [c for c in rel.columns if c.name == name], cause)


def drop_constraint(m: Model, oid: int, name: str, missing_ok: bool, cascade: bool) -> None:
    for i, c in list(m.cons.items()):
        if m.con_rel[i] == oid and c.name == name:
            if c.type in ("p", "u"):
                rel = m.rels[oid]
                qname, columns = rel.qname, set(c.columns)
                fks = [
                    j
                    for j, f in m.cons.items()
                    if f.ref_table == qname and set(f.ref_columns) == columns
                ]
                if fks and not cascade:
                    raise Rejected
                for j in fks:
                    m.via.setdefault(("con", j), f"{rel.qname}.{name}")
                    del m.cons[j], m.con_rel[j]
            del m.cons[i], m.con_rel[i]
            for j in m.idxs_of(oid):
                if m.idxs[j].constraint == name:
                    del m.idxs[j], m.idx_rel[j]
            return
    if not missing_ok:
        raise Rejected


def drop_function(ov: Overlay, m: Model, oid: int, cascade: bool, cause: str) -> None:
    views = _dependents(m, lambda d: d == ("fn", oid, 0))
    if views and not cascade:
        raise Rejected
    for v in views:
        m.via.setdefault(("rel", v), cause)
        drop_rel(m, v, True, cause)
    m.funcs.pop(oid, None)
    drop_dependents(ov, m, Referenced("function", oid), cascade, cause)


def drop_dependents(ov: Overlay, m: Model, ref: Referenced, cascade: bool, cause: str) -> None:
    """What pg_depend says goes with ``ref`` (defaults, generated columns, CHECKs...)."""
    hit = sorted(e for e in m.edges if e.referenced == ref)
    if not cascade and any(not e.auto for e in hit):
        raise Rejected
    m.edges.difference_update(hit)
    for e in hit:
        _drop_dependent(ov, m, e.dependent, cause)


def _drop_dependent(ov: Overlay, m: Model, dep: Dependent, cause: str) -> None:
    h = dep.holder
    on_rel = (Holder.DEFAULT, Holder.COLUMN, Holder.POLICY, Holder.TRIGGER, Holder.RELATION)
    rel = m.rels.get(dep.oid) if h in on_rel else None
    if h is Holder.DEFAULT and rel is not None:
        name = m.col_name(dep.oid, dep.sub)
        col = rel.column(name) if name is not None else None
        if col is not None and not col.identity:
            m.via.setdefault(("default", dep.sub), cause)
            set_column(m, dep.oid, col.name, has_default=False, default=None, default_sequences=())
    elif h is Holder.COLUMN and rel is not None:
        name = m.col_name(dep.oid, dep.sub)
        if name is not None:
            m.via.setdefault(("col", dep.sub), cause)
            drop_column(ov, m, dep.oid, name, True, cause)
    elif h is Holder.CONSTRAINT and dep.oid in m.cons:
        m.via.setdefault(("con", dep.oid), cause)
        del m.cons[dep.oid], m.con_rel[dep.oid]
    elif h is Holder.INDEX and dep.oid in m.idxs:
        m.via.setdefault(("idx", dep.oid), cause)
        owner = m.idxs[dep.oid].constraint
        table = m.idx_rel[dep.oid]
        del m.idxs[dep.oid], m.idx_rel[dep.oid]
        for c in m.cons_of(table):
            if owner and m.cons[c].name == owner:
                del m.cons[c], m.con_rel[c]
    elif h is Holder.POLICY and rel is not None:
        kept = tuple(p for p in rel.policies if p.name != dep.name)
        m.put_rel(dep.oid, dataclasses.replace(rel, policies=kept))
    elif h is Holder.TRIGGER and rel is not None and ov.scope(m).existing(dep.oid):
        raise CannotModel(
            f"CASCADE to trigger {dep.name} on {rel.qname}: what the trigger did is not modelled"
        )
    elif h is Holder.FUNCTION and dep.oid in m.funcs:
        m.via.setdefault(("fn", dep.oid), cause)
        drop_function(ov, m, dep.oid, True, cause)
    elif h is Holder.RELATION and rel is not None:
        m.via.setdefault(("rel", dep.oid), cause)
        drop_rel(m, dep.oid, True, cause)
    elif h is Holder.TYPE:
        drop_type(ov, m, dep.name, True, cause)


def drop_type(ov: Overlay, m: Model, qname: str, cascade: bool, cause: str) -> None:
    """A type pg_depend names: an enum the model keeps, else a type it knows by name only."""
    parts = split_qualified_name(qname)
    e_oid = find_enum(ov, m, parts)
    if e_oid is not None:
        m.via.setdefault(("type", e_oid), cause)
        drop_enum(ov, m, e_oid, cascade, cause)
    else:
        drop_opaque_type(ov, m, parts, cascade)


def drop_enum(ov: Overlay, m: Model, oid: int, cascade: bool, cause: str) -> None:
    e = m.enums[oid]
    types = (e.type_name, e.type_name + "[]")
    cols = [(r, c.name) for r, rel in m.rels.items() for c in rel.columns if c.base_type in types]
    funcs = [
        f
        for f, fn in m.funcs.items()
        if any(a in types for a in fn.arg_types) or fn.return_type in types
    ]
    if (cols or funcs) and not cascade:
        raise Rejected
    for r, name in cols:
        if r in m.rels and m.rels[r].kind in (RelKind.VIEW, RelKind.MATVIEW):
            m.via.setdefault(("rel", r), cause)
            drop_rel(m, r, True, cause)
        elif r in m.rels and m.rels[r].column(name) is not None:
            m.via.setdefault(("col", m.attids[r][name]), cause)
            drop_column(ov, m, r, name, True, cause)
    for f in funcs:
        m.via.setdefault(("fn", f), cause)
        drop_function(ov, m, f, True, cause)
    del m.enums[oid]
    m.label_ids.pop(oid, None)


def drop_schema(ov: Overlay, m: Model, name: str, cascade: bool) -> None:
    rels = [o for o, r in m.rels.items() if r.schema == name]
    funcs = [o for o, f in m.funcs.items() if f.schema == name]
    enums_ = [o for o, e in m.enums.items() if e.schema == name]
    if (rels or funcs or enums_) and not cascade:
        raise Rejected
    for o in rels:
        if o in m.rels:
            m.via.setdefault(("rel", o), name)
            drop_rel(m, o, True, name)
    for o in enums_:
        m.via.setdefault(("type", o), name)
        drop_enum(ov, m, o, True, name)
    for o in funcs:
        if o in m.funcs:
            m.via.setdefault(("fn", o), name)
            drop_function(ov, m, o, True, name)
    m.schema_acls.pop(m.schemas.pop(name), None)


def drop_opaque_type(ov: Overlay, m: Model, names: list[str], cascade: bool) -> None:
    """A type the snapshot does not list as an enum (domain, composite): drop columns
    using it."""
    gone = find_user_type(ov, m, names)
    if gone is not None:
        m.types.discard(gone)
    schemas = [names[-2]] if len(names) > 1 else user_path(ov)
    for s in schemas:
        qn = qualified(s, names[-1])
        cols = [
            (r, c.name)
            for r, rel in m.rels.items()
            for c in rel.columns
            if c.base_type in (qn, qn + "[]")
        ]
        if cols:
            if not cascade:
                raise Rejected
            for r, name in cols:
                if r in m.rels and m.rels[r].column(name) is not None:
                    m.via.setdefault(("col", m.attids[r][name]), qn)
                    drop_column(ov, m, r, name, True, qn)
            return


_WORD = re.compile(r'"([^"]+)"|\b([a-z_][a-z0-9_$]*)\b')


def _expr_names(key: str) -> list[str]:
    """Identifier-looking words of an index expression key."""
    return [a or b for a, b in _WORD.findall(key)]
