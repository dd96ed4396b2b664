"""RENAME and SET SCHEMA: a name changes everywhere the model keeps it."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import EnumType, ident, qualified, split_operator_signature
from skewguard.ddl.affects import Affects, Use
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Holder, Model, Referenced
from skewguard.ddl.overlay.alter_table import descendants
from skewguard.ddl.overlay.columns import put_columns
from skewguard.ddl.overlay.existing_triggers import triggers_naming
from skewguard.ddl.overlay.named import named_gone
from skewguard.ddl.overlay.names import (
    find_enum,
    find_index,
    find_rv,
    find_user_type,
    functions_of,
    user_path,
)
from skewguard.ddl.overlay.nodes import FUNC_OBJECTS, REL_OBJECTS, kind_word, name_list
from skewguard.ddl.overlay.operators import move_operator, move_signature
from skewguard.ddl.overlay.publications import published_renamed, rename_publication

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_O = enums.ObjectType


def rename(ov: Overlay, m: Model, node: Any) -> None:
    t = node.renameType
    new = str(node.newname)
    if t in REL_OBJECTS or t == _O.OBJECT_INDEX:
        oid = find_rv(ov, m, node.relation, True)
        if oid is not None and t != _O.OBJECT_INDEX:
            rel = m.rels[oid]
            if m.rel_oid(rel.schema, new) is not None:
                raise Rejected
            m.put_rel(oid, dataclasses.replace(rel, name=new))
            published_renamed(m, rel.qname, m.rels[oid].qname)
            return
        names = [n for n in (node.relation.schemaname, node.relation.relname) if n]
        idx = find_index(ov, m, [str(n) for n in names])
        if idx is None:
            if oid is not None:  # ALTER INDEX on a table name: PostgreSQL renames it
                rel = m.rels[oid]
                m.put_rel(oid, dataclasses.replace(rel, name=new))
                return
            if node.missing_ok:
                return
            raise Rejected
        old = m.idxs[idx]
        m.idxs[idx] = dataclasses.replace(old, name=new, constraint=new if old.constraint else "")
        for i, c in m.cons.items():  # renaming a constraint's index renames it
            if m.con_rel[i] == m.idx_rel[idx] and c.name == old.constraint and old.constraint:
                m.cons[i] = dataclasses.replace(c, name=new)
    elif t == _O.OBJECT_COLUMN:
        oid = find_rv(ov, m, node.relation, bool(node.missing_ok))
        if oid is None:
            return
        old_name = str(node.subname)
        _rename_column(ov, m, oid, old_name, new)
        if node.relation.inh:  # unless ONLY: inherited columns are renamed too
            for child in descendants(ov, m, oid):
                if m.rels[child].column(old_name) is not None:
                    _rename_column(ov, m, child, old_name, new)
    elif t in (_O.OBJECT_TABCONSTRAINT, _O.OBJECT_DOMCONSTRAINT):
        if node.relation is None:
            return
        oid = find_rv(ov, m, node.relation, bool(node.missing_ok))
        if oid is None:
            return
        for i in m.cons_of(oid):
            c = m.cons[i]
            if c.name == node.subname:
                m.cons[i] = dataclasses.replace(c, name=new)
                for j in m.idxs_of(oid):
                    if m.idxs[j].constraint == c.name:
                        m.idxs[j] = dataclasses.replace(m.idxs[j], name=new, constraint=new)
                return
        raise Rejected
    elif t == _O.OBJECT_SCHEMA:
        old_schema = str(node.subname)
        if old_schema not in m.schemas or new in m.schemas:
            raise Rejected
        m.schemas[new] = m.schemas.pop(old_schema)
        _move_schema_objects(m, old_schema, new)
    elif t in FUNC_OBJECTS:
        for oid in functions_of(ov, m, node.object, bool(node.missing_ok)):
            m.funcs[oid] = dataclasses.replace(m.funcs[oid], name=new)
    elif t in (_O.OBJECT_TYPE, _O.OBJECT_DOMAIN, _O.OBJECT_ATTRIBUTE):
        names = name_list(node.object) if node.object is not None else []
        if t == _O.OBJECT_ATTRIBUTE and node.relation is not None:
            names = [n for n in (node.relation.schemaname, node.relation.relname) if n]
        e_oid = find_enum(ov, m, names) if t == _O.OBJECT_TYPE else None
        if e_oid is not None:
            e = m.enums[e_oid]
            _retype_enum(m, e_oid, dataclasses.replace(e, name=new))
        elif ov.scope(m).type_used(names):
            raise CannotModel(
                f"ALTER {kind_word(t)} {'.'.join(names)} RENAME: types used by "
                "columns are followed only for enums",
                affects=ov.scope(m).type_reach(names, Use.ANY),
            )
        elif t != _O.OBJECT_ATTRIBUTE and (known := find_user_type(ov, m, names)) is not None:
            _move_type(m, known, None, new)
    elif t == _O.OBJECT_RULE:
        oid = find_rv(ov, m, node.relation, bool(node.missing_ok))
        if oid is not None:
            rel = m.rels[oid]
            rules = tuple(
                dataclasses.replace(r, name=new) if r.name == node.subname else r for r in rel.rules
            )
            m.put_rel(oid, dataclasses.replace(rel, rules=rules))
    elif t == _O.OBJECT_PUBLICATION:
        rename_publication(m, str(node.object.sval), new)
    elif t == _O.OBJECT_TSCONFIGURATION:
        named_gone(m, "ts_config", name_list(node.object), new)
    elif t == _O.OBJECT_COLLATION and not _collation_held(ov, m, name_list(node.object)):
        named_gone(m, "collation", name_list(node.object), new)
    elif t in _RENAME_HARMLESS:
        return
    elif t == _O.OBJECT_ROLE:  # sessions logging in under the old name fail
        role = str(node.subname)
        raise CannotModel(
            "ALTER ROLE ... RENAME: roles are not modelled",
            affects=Affects(Use.ANY, f"role {role}", roles=frozenset({role})),
        )
    elif t == _O.OBJECT_DATABASE:  # sessions connecting by the old name fail
        database = str(node.subname)
        raise CannotModel(
            f"renaming database {database}",
            affects=Affects(Use.ANY, f"database {database}", databases=frozenset({database})),
        )
    elif t not in (_O.OBJECT_POLICY,):
        raise CannotModel(f"ALTER {kind_word(t)} ... RENAME: not modelled")
    if t == _O.OBJECT_POLICY:
        oid = find_rv(ov, m, node.relation, bool(node.missing_ok))
        if oid is not None:
            rel = m.rels[oid]
            pols = tuple(
                dataclasses.replace(p, name=new) if p.name == node.subname else p
                for p in rel.policies
            )
            m.put_rel(oid, dataclasses.replace(rel, policies=pols))


def _rename_column(ov: Overlay, m: Model, oid: int, old_name: str, new: str) -> None:
    rel = m.rels[oid]
    if rel.column(old_name) is None or rel.column(new) is not None:
        raise Rejected
    triggers_naming(ov, m, oid, old_name, "RENAME COLUMN")
    ids = dict(m.attids[oid])  # copies of the model share the old one
    ids[new] = ids.pop(old_name)
    m.attids[oid] = ids
    cols = [
        dataclasses.replace(
            c,
            name=new if c.name == old_name else c.name,
            generated_from=tuple(new if x == old_name else x for x in c.generated_from),
        )
        for c in rel.columns
    ]
    m.put_rel(oid, dataclasses.replace(rel, columns=tuple(cols)))
    for i in m.cons_of(oid):
        c = m.cons[i]
        m.cons[i] = dataclasses.replace(
            c, columns=tuple(new if x == old_name else x for x in c.columns)
        )
    for i in m.idxs_of(oid):
        ix = m.idxs[i]
        m.idxs[i] = dataclasses.replace(
            ix, keys=tuple(new if x == old_name else x for x in ix.keys)
        )
    qname = rel.qname
    for i, c in m.cons.items():
        if c.ref_table == qname:
            m.cons[i] = dataclasses.replace(
                c, ref_columns=tuple(new if x == old_name else x for x in c.ref_columns)
            )


def _retype_enum(m: Model, oid: int, new: EnumType) -> None:
    """Rename/move an enum: its type text changes in every column and function."""
    old_t = m.enums[oid].type_name
    new_t = qualified(new.schema, new.name)
    m.enums[oid] = dataclasses.replace(new, type_name=new_t)

    def sub(text: str) -> str:
        if text == old_t:
            return new_t
        if text == old_t + "[]":
            return new_t + "[]"
        return text

    for r, rel in list(m.rels.items()):
        if any(sub(c.base_type) != c.base_type for c in rel.columns):
            cols = [
                dataclasses.replace(c, base_type=sub(c.base_type), type_name=sub(c.type_name))
                for c in rel.columns
            ]
            m.put_rel(r, dataclasses.replace(rel, columns=tuple(cols)))
    for f, fn in list(m.funcs.items()):
        m.funcs[f] = dataclasses.replace(
            fn, arg_types=tuple(sub(a) for a in fn.arg_types), return_type=sub(fn.return_type)
        )


def _move_schema_objects(m: Model, old: str, new: str) -> None:
    for oid, rel in list(m.rels.items()):
        if rel.schema == old:
            m.put_rel(oid, dataclasses.replace(rel, schema=new))
    for oid, f in list(m.funcs.items()):
        if f.schema == old:
            m.funcs[oid] = dataclasses.replace(f, schema=new)
    for oid, e in list(m.enums.items()):
        if e.schema == old:
            _retype_enum(m, oid, dataclasses.replace(e, schema=new))
    for t in [t for t in m.types if split_qualified_name(t)[0] == old]:
        _move_type(m, t, new, None)
    for signature in sorted(m.operators):
        schema, name, args = split_operator_signature(signature)
        if schema == ident(old):
            move_signature(m, signature, f"{ident(new)}.{name}{args}")


def _move_type(m: Model, old: str, schema: str | None, name: str | None) -> None:
    """A user type (not an enum) no column uses, renamed or moved: only its name in a
    statement's text (a cast) breaks."""
    parts = split_qualified_name(old)
    new = qualified(schema or parts[0], name or parts[-1])
    m.types.discard(old)
    m.types.add(new)
    first = next((k for k, v in m.type_moves.items() if v == old), old)
    m.type_moves[first] = new


def set_schema(ov: Overlay, m: Model, node: Any) -> None:
    new = str(node.newschema)
    if new not in m.schemas:
        raise Rejected
    t = node.objectType
    if t in REL_OBJECTS:
        oid = find_rv(ov, m, node.relation, bool(node.missing_ok))
        if oid is None:
            return
        rel = m.rels[oid]
        if m.rel_oid(new, rel.name) is not None:
            raise Rejected
        m.put_rel(oid, dataclasses.replace(rel, schema=new))
        for seq in {s for c in rel.columns for s in c.default_sequences}:
            parts = split_qualified_name(seq)  # owned sequences move along
            s_oid = m.rel_oid(parts[0], parts[1]) if len(parts) == 2 else None
            if s_oid is not None and m.rels[s_oid].name.startswith(rel.name + "_"):
                m.put_rel(s_oid, dataclasses.replace(m.rels[s_oid], schema=new))
                moved = qualified(new, m.rels[s_oid].name)
                cols = [
                    dataclasses.replace(
                        c,
                        default_sequences=tuple(
                            moved if x == seq else x for x in c.default_sequences
                        ),
                    )
                    for c in m.rels[oid].columns
                ]
                put_columns(m, oid, cols)
    elif t in FUNC_OBJECTS:
        for oid in functions_of(ov, m, node.object, bool(node.missing_ok)):
            m.funcs[oid] = dataclasses.replace(m.funcs[oid], schema=new)
    elif t in (_O.OBJECT_TYPE, _O.OBJECT_DOMAIN):
        names = name_list(
            node.object.names if isinstance(node.object, ast.TypeName) else node.object
        )
        e_oid = find_enum(ov, m, names) if t == _O.OBJECT_TYPE else None
        if e_oid is not None:
            _retype_enum(m, e_oid, dataclasses.replace(m.enums[e_oid], schema=new))
        elif ov.scope(m).type_used(names):
            raise CannotModel(
                f"ALTER {kind_word(t)} {'.'.join(names)} SET SCHEMA: types used by "
                "columns are followed only for enums",
                affects=ov.scope(m).type_reach(names, Use.ANY),
            )
        elif (known := find_user_type(ov, m, names)) is not None:
            _move_type(m, known, new, None)
    elif t == _O.OBJECT_OPERATOR:
        move_operator(ov, m, node.object, new, bool(node.missing_ok))
    elif t == _O.OBJECT_EXTENSION:
        _move_extension(ov, m, str(node.object.sval), new, bool(node.missing_ok))
    elif t not in _SET_SCHEMA_HARMLESS:
        raise CannotModel(f"ALTER {kind_word(t)} ... SET SCHEMA: not modelled")


def _move_extension(ov: Overlay, m: Model, name: str, new: str, missing_ok: bool) -> None:
    """ALTER EXTENSION ... SET SCHEMA: its member functions, relations and types move (as
    each one's own SET SCHEMA would); a member type that columns use is not followed."""
    if name in m.opaque_extensions or not m.extensions_known:
        raise CannotModel(f"ALTER EXTENSION {name} SET SCHEMA: its members are not known")
    if name not in m.extensions:
        if missing_ok:
            return
        raise Rejected
    ref = Referenced("extension", name=name)
    for e in sorted(e for e in m.edges if e.referenced == ref):
        dep = e.dependent
        if dep.holder is Holder.FUNCTION and dep.oid in m.funcs:
            m.funcs[dep.oid] = dataclasses.replace(m.funcs[dep.oid], schema=new)
        elif dep.holder is Holder.RELATION and dep.oid in m.rels:
            m.put_rel(dep.oid, dataclasses.replace(m.rels[dep.oid], schema=new))
        elif dep.holder is Holder.TYPE:
            names = split_qualified_name(dep.name)
            if ov.scope(m).type_used(names):
                raise CannotModel(
                    f"ALTER EXTENSION {name} SET SCHEMA: its type {dep.name} is used by "
                    "columns, which are followed only for enums",
                    affects=ov.scope(m).type_reach(names, Use.ANY),
                )
            if dep.name not in m.types:
                continue
            _move_type(m, dep.name, new, None)
            moved = dataclasses.replace(dep, name=qualified(new, names[-1]))
            m.edges.discard(e)
            m.edges.add(dataclasses.replace(e, dependent=moved))


def _collation_held(ov: Overlay, m: Model, names: list[str]) -> bool:
    """Some column, index or constraint uses the collation (a rename changes them)."""
    schemas = [names[-2]] if len(names) > 1 else user_path(ov)
    held = {Referenced("collation", name=qualified(s, names[-1])) for s in schemas}
    return any(e.referenced in held for e in m.edges)


# Objects no client statement names, whose RENAME changes nothing a version sees.
_RENAME_HARMLESS = frozenset(
    {
        _O.OBJECT_TRIGGER,
        _O.OBJECT_EVENT_TRIGGER,
        _O.OBJECT_SUBSCRIPTION,
        _O.OBJECT_STATISTIC_EXT,
        _O.OBJECT_TABLESPACE,
        _O.OBJECT_FDW,
        _O.OBJECT_FOREIGN_SERVER,
        _O.OBJECT_OPCLASS,
        _O.OBJECT_OPFAMILY,
        _O.OBJECT_LANGUAGE,
        _O.OBJECT_CONVERSION,
        _O.OBJECT_TSPARSER,
        _O.OBJECT_TSTEMPLATE,
        _O.OBJECT_DOMCONSTRAINT,
    }
)


_SET_SCHEMA_HARMLESS = frozenset(
    {
        _O.OBJECT_OPCLASS,
        _O.OBJECT_OPFAMILY,
        _O.OBJECT_CONVERSION,
        _O.OBJECT_STATISTIC_EXT,
        _O.OBJECT_TSPARSER,
        _O.OBJECT_TSTEMPLATE,
    }
)
