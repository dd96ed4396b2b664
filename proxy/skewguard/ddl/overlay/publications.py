"""Publications and replica identity: what makes PostgreSQL refuse an UPDATE or DELETE.

A table a publication publishes updates (or deletes) of needs a replica identity for
them, else every UPDATE (DELETE) of it fails with 55000. The overlay follows the
publications (which tables, ALL TABLES, TABLES IN SCHEMA, the ``publish`` actions) and
each table's REPLICA IDENTITY; the diff reports the tables that lose it
(:class:`~skewguard.ddl.changes.ReplicaIdentityLost`). A row filter or column list on a
table whose updates or deletes are published must cover the replica identity
(42P10): that is not followed, and refused as unmodelled for the table's writers.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.catalog import Publication, RelKind
from skewguard.ddl.affects import Use
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Model
from skewguard.ddl.overlay.names import user_path

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_OBJ = enums.PublicationObjSpecType
_ACTION = enums.AlterPublicationAction


def _actions(options: Any, updates: bool, deletes: bool) -> tuple[bool, bool]:
    """(updates, deletes) after ``WITH (publish = '...')``; unchanged without it."""
    for opt in options or ():
        if str(opt.defname) == "publish" and isinstance(opt.arg, ast.String):
            kinds = {k.strip().lower() for k in str(opt.arg.sval).split(",")}
            return "update" in kinds, "delete" in kinds
    return updates, deletes


def _objects(ov: Overlay, m: Model, specs: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The qualified tables and the schemas ``specs`` (PublicationObjSpec) name. A row
    filter or column list is not followed: it is returned as the table it filters."""
    tables: set[str] = set()
    schemas: set[str] = set()
    for spec in specs or ():
        if spec.pubobjtype == _OBJ.PUBLICATIONOBJ_TABLE and spec.pubtable is not None:
            oid = ov.scope(m).rel(spec.pubtable.relation)
            if oid is None:
                raise Rejected
            tables.add(m.rels[oid].qname)
        elif spec.pubobjtype == _OBJ.PUBLICATIONOBJ_TABLES_IN_SCHEMA and spec.name:
            schemas.add(str(spec.name))
        elif spec.pubobjtype == _OBJ.PUBLICATIONOBJ_TABLES_IN_CUR_SCHEMA:
            path = user_path(ov)
            if path:
                schemas.add(path[0])
    return frozenset(tables), frozenset(schemas)


def _filtered(ov: Overlay, m: Model, pub: Publication, specs: Any) -> None:
    """Refuse a row filter or column list on a table whose updates or deletes it
    publishes: whether they cover the replica identity is not modelled."""
    if not (pub.updates or pub.deletes):
        return
    for spec in specs or ():
        table = spec.pubtable if spec.pubobjtype == _OBJ.PUBLICATIONOBJ_TABLE else None
        if table is None or (table.whereClause is None and not table.columns):
            continue
        oid = ov.scope(m).rel(table.relation)
        qname = m.rels[oid].qname if oid is not None else str(table.relation.relname)
        raise CannotModel(
            f"publication {pub.name}: a row filter or column list on {qname} must cover "
            "its replica identity for UPDATE/DELETE; not modelled",
            affects=ov.scope(m).reach([oid] if oid is not None else [], Use.WRITES, qname),
        )


def create_publication(ov: Overlay, m: Model, node: Any) -> None:
    name = str(node.pubname)
    if name in m.publications:
        raise Rejected
    updates, deletes = _actions(node.options, True, True)
    tables, schemas = _objects(ov, m, node.pubobjects)
    pub = Publication(name, bool(node.for_all_tables), updates, deletes, tables, schemas)
    _filtered(ov, m, pub, node.pubobjects)
    m.publications[name] = pub


def alter_publication(ov: Overlay, m: Model, node: Any) -> None:
    name = str(node.pubname)
    pub = m.publications.get(name)
    if pub is None:
        raise Rejected
    if node.options:  # SET (publish = ...)
        updates, deletes = _actions(node.options, pub.updates, pub.deletes)
        m.publications[name] = dataclasses.replace(pub, updates=updates, deletes=deletes)
        return
    tables, schemas = _objects(ov, m, node.pubobjects)
    if node.action == _ACTION.AP_AddObjects:
        new = dataclasses.replace(pub, tables=pub.tables | tables, schemas=pub.schemas | schemas)
    elif node.action == _ACTION.AP_DropObjects:
        new = dataclasses.replace(pub, tables=pub.tables - tables, schemas=pub.schemas - schemas)
    else:  # SET TABLE / TABLES IN SCHEMA: the list replaces the old one
        new = dataclasses.replace(pub, tables=tables, schemas=schemas)
    if node.action != _ACTION.AP_DropObjects:
        _filtered(ov, m, new, node.pubobjects)
    m.publications[name] = new


def drop_publication(m: Model, name: str, missing_ok: bool) -> None:
    if m.publications.pop(name, None) is None and not missing_ok:
        raise Rejected


def rename_publication(m: Model, name: str, new_name: str) -> None:
    pub = m.publications.pop(name, None)
    if pub is None or new_name in m.publications:
        raise Rejected
    m.publications[new_name] = dataclasses.replace(pub, name=new_name)


def published_renamed(m: Model, old: str, new: str) -> None:
    """A table named FOR TABLE was renamed: the publication keeps it under its new name."""
    for name, pub in list(m.publications.items()):
        if old in pub.tables:
            m.publications[name] = dataclasses.replace(pub, tables=pub.tables - {old} | {new})


def set_replica_identity(m: Model, oid: int, cmd: Any) -> None:
    """ALTER TABLE ... REPLICA IDENTITY DEFAULT | NOTHING | FULL | USING INDEX name."""
    rel = m.rels[oid]
    kind = str(cmd.identity_type)  # d(efault), n(othing), f(ull), i(ndex)
    if rel.kind not in (RelKind.TABLE, RelKind.PARTITIONED, RelKind.MATVIEW):
        raise Rejected
    marked = str(cmd.name) if kind == "i" else None
    if marked is not None and not any(
        m.idxs[i].name == marked and m.idxs[i].unique for i in m.idxs_of(oid)
    ):
        raise Rejected  # PostgreSQL: not an index of the table (or not a unique one)
    for i in m.idxs_of(oid):
        idx = m.idxs[i]
        if idx.replica_identity != (idx.name == marked):
            m.idxs[i] = dataclasses.replace(idx, replica_identity=idx.name == marked)
    m.put_rel(oid, dataclasses.replace(rel, replica_identity=kind))
