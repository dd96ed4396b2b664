"""DROP statements: each object kind to its drop (:mod:`.cascade`), or to why it is
harmless or not modelled."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.catalog import RelKind, qualified
from skewguard.ddl.affects import Use
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Holder, Model, Referenced
from skewguard.ddl.overlay.cascade import (
    drop_dependents,
    drop_enum,
    drop_function,
    drop_opaque_type,
    drop_rel,
    drop_schema,
    drop_type,
)
from skewguard.ddl.overlay.existing_triggers import drop_existing_trigger
from skewguard.ddl.overlay.named import named_gone
from skewguard.ddl.overlay.names import (
    find_by_names,
    find_enum,
    find_index,
    find_user_type,
    functions_of,
    temporary_answers,
    user_path,
)
from skewguard.ddl.overlay.nodes import FUNC_OBJECTS, REL_OBJECTS, kind_word, name_list
from skewguard.ddl.overlay.operators import drop_operator
from skewguard.ddl.overlay.publications import drop_publication

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_O = enums.ObjectType


def _drop_collation(ov: Overlay, m: Model, names: list[str], cascade: bool) -> None:
    named_gone(m, "collation", names)
    schemas = [names[-2]] if len(names) > 1 else user_path(ov)
    for s in schemas:
        ref = Referenced("collation", name=qualified(s, names[-1]))
        if any(e.referenced == ref for e in m.edges):
            drop_dependents(ov, m, ref, cascade, ref.name)
            return


def _drop_cast(ov: Overlay, m: Model, obj: Any) -> None:
    """DROP CAST: statements use a cast implicitly (by assignment, or picked by a
    function call) as well as by name, so only where it can matter is known: where the
    source or target is a user type, what uses or names that type."""
    types = [name_list(t.names) for t in obj]
    what = f"DROP CAST ({' AS '.join('.'.join(n) for n in types)})"
    user = [n for n in types if find_user_type(ov, m, n) or find_enum(ov, m, n) is not None]
    if not user:
        raise CannotModel(f"{what}: a cast between built-in types; its users are not known")
    scope = ov.scope(m)
    affects = scope.type_reach(user[0], Use.ANY)
    for names in user[1:]:
        affects = affects.merge(scope.type_reach(names, Use.ANY))
    raise CannotModel(
        f"{what}: implicit and assignment uses of a cast are not learned", affects=affects
    )


def _drop_extension(ov: Overlay, m: Model, name: str, cascade: bool, missing_ok: bool) -> None:
    if name in m.opaque_extensions:  # created in this transaction
        m.opaque_extensions.discard(name)
        return
    if not m.extensions_known:
        raise CannotModel(f"DROP EXTENSION {name}: its members are not in the catalog snapshot")
    if name not in m.extensions:
        if missing_ok:
            return
        raise Rejected
    ref = Referenced("extension", name=name)
    members = sorted(e for e in m.edges if e.referenced == ref)
    m.edges.difference_update(members)
    for e in members:  # members go with it; what depends on them needs CASCADE
        dep = e.dependent
        if dep.holder is Holder.FUNCTION and dep.oid in m.funcs:
            m.via.setdefault(("fn", dep.oid), name)
            drop_function(ov, m, dep.oid, cascade, name)
        elif dep.holder is Holder.RELATION and dep.oid in m.rels:
            m.via.setdefault(("rel", dep.oid), name)
            drop_rel(m, dep.oid, cascade, name)
        elif dep.holder is Holder.TYPE:
            drop_type(ov, m, dep.name, cascade, name)
    m.extensions.discard(name)


def _drop_rule(ov: Overlay, m: Model, names: list[str], missing_ok: bool) -> None:
    oid = find_by_names(ov, m, names[:-1], missing_ok)
    if oid is None:
        return
    rel = m.rels[oid]
    rule = next((r for r in rel.rules if r.name == names[-1]), None)
    if rule is None:
        if missing_ok:
            return
        raise Rejected
    if rel.kind == RelKind.VIEW and rule.instead and ov.scope(m).existing(oid):
        raise CannotModel(
            f"DROP RULE {rule.name} ON {rel.qname}: whether the view still takes "
            "writes is not modelled",
            affects=ov.scope(m).reach([oid], Use.WRITES, rel.qname),
        )
    kept = tuple(r for r in rel.rules if r.name != rule.name)
    m.put_rel(oid, dataclasses.replace(rel, rules=kept))


def drop(ov: Overlay, m: Model, node: Any) -> None:
    cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
    missing_ok = bool(node.missing_ok)
    t = node.removeType
    for obj in node.objects or ():
        if t in REL_OBJECTS:
            names = name_list(obj)
            if temporary_answers(ov, m, names[-2] if len(names) > 1 else None, names[-1]):
                ov._temporary -= {names[-1]}  # the session's own: nobody else sees it
                continue
            oid = find_by_names(ov, m, names, missing_ok)
            if oid is not None:
                drop_rel(m, oid, cascade, m.rel_qname(oid))
        elif t == _O.OBJECT_INDEX:
            oid = find_index(ov, m, name_list(obj))
            if oid is None:
                if missing_ok:
                    continue
                raise Rejected
            if m.idxs[oid].constraint:
                raise Rejected  # the index backs a constraint
            if node.concurrent:
                m.concurrent.add(("drop", oid))
            del m.idxs[oid], m.idx_rel[oid]
        elif t == _O.OBJECT_SCHEMA:
            name = str(obj.sval)
            if name not in m.schemas:
                if missing_ok:
                    continue
                raise Rejected
            drop_schema(ov, m, name, cascade)
        elif t in FUNC_OBJECTS:
            for oid in functions_of(ov, m, obj, missing_ok):
                drop_function(ov, m, oid, cascade, m.funcs[oid].signature)
        elif t in (_O.OBJECT_TYPE, _O.OBJECT_DOMAIN):
            names = name_list(obj.names) if isinstance(obj, ast.TypeName) else name_list(obj)
            oid = find_enum(ov, m, names)
            if oid is not None:
                drop_enum(ov, m, oid, cascade, m.enums[oid].type_name)
            elif t == _O.OBJECT_DOMAIN or len(names) >= 1:
                drop_opaque_type(ov, m, names, cascade)
        elif t == _O.OBJECT_POLICY:
            names = name_list(obj)
            rel_oid = find_by_names(ov, m, names[:-1], missing_ok)
            if rel_oid is None:
                continue
            rel = m.rels[rel_oid]
            kept = tuple(p for p in rel.policies if p.name != names[-1])
            if len(kept) == len(rel.policies) and not missing_ok:
                raise Rejected
            m.put_rel(rel_oid, dataclasses.replace(rel, policies=kept))
        elif t == _O.OBJECT_RULE:
            _drop_rule(ov, m, name_list(obj), missing_ok)
        elif t == _O.OBJECT_TRIGGER:
            names = name_list(obj)
            rel_oid = find_by_names(ov, m, names[:-1], missing_ok)
            if rel_oid is not None and ov.scope(m).existing(rel_oid):
                drop_existing_trigger(ov, m, rel_oid, names[-1])
        elif t == _O.OBJECT_EXTENSION:
            _drop_extension(ov, m, str(obj.sval), cascade, missing_ok)
        elif t == _O.OBJECT_COLLATION:
            _drop_collation(ov, m, name_list(obj), cascade)
        elif t == _O.OBJECT_OPERATOR:
            drop_operator(ov, m, obj, cascade, missing_ok)
        elif t == _O.OBJECT_PUBLICATION:
            drop_publication(m, str(obj.sval), missing_ok)
        elif t == _O.OBJECT_TSCONFIGURATION:
            named_gone(m, "ts_config", name_list(obj))
        elif t == _O.OBJECT_CAST:
            _drop_cast(ov, m, obj)
        elif t in _DROP_HARMLESS or (t in _DROP_HARMLESS_UNLESS_CASCADE and not cascade):
            continue
        else:
            what = kind_word(t) + (" ... CASCADE" if cascade else "")
            raise CannotModel(f"DROP {what}: what depends on it is not modelled")


# DROP of objects nothing a version runs depends on, CASCADE or not.
_DROP_HARMLESS = frozenset(
    {
        _O.OBJECT_EVENT_TRIGGER,
        _O.OBJECT_STATISTIC_EXT,
        _O.OBJECT_TRANSFORM,
    }
)


# Harmless alone; with CASCADE they take indexes, foreign tables or functions along.
_DROP_HARMLESS_UNLESS_CASCADE = frozenset(
    {
        _O.OBJECT_OPCLASS,
        _O.OBJECT_OPFAMILY,
        _O.OBJECT_FDW,
        _O.OBJECT_FOREIGN_SERVER,
        _O.OBJECT_LANGUAGE,
        _O.OBJECT_ACCESS_METHOD,
        _O.OBJECT_CONVERSION,
        _O.OBJECT_TSPARSER,
        _O.OBJECT_TSTEMPLATE,
    }
)
