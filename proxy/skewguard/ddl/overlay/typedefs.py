"""Types created in the transaction: enums with their labels; domains, composites and ranges
by name only (so columns of them read as the catalog's)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pglast import enums

from skewguard.catalog import EnumType, qualified
from skewguard.ddl.errors import Rejected
from skewguard.ddl.model import Model
from skewguard.ddl.overlay.names import creation_schema, find_enum
from skewguard.ddl.overlay.nodes import name_list
from skewguard.ddl.overlay.operators import create_operator

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_O = enums.ObjectType


def _define_type(ov: Overlay, m: Model, names: list[str]) -> None:
    """CREATE DOMAIN / TYPE: remember the name, so columns of it read as the catalog's."""
    schema = creation_schema(ov, m, names[-2] if len(names) > 1 else None)
    m.types.add(qualified(schema, names[-1]))


def create_domain(ov: Overlay, m: Model, node: Any) -> None:
    _define_type(ov, m, name_list(node.domainname))


def create_composite(ov: Overlay, m: Model, node: Any) -> None:
    rv = node.typevar
    _define_type(ov, m, [n for n in (rv.schemaname, rv.relname) if n])


def create_range(ov: Overlay, m: Model, node: Any) -> None:
    _define_type(ov, m, name_list(node.typeName))


def define(ov: Overlay, m: Model, node: Any) -> None:
    if node.kind == _O.OBJECT_TYPE:
        _define_type(ov, m, name_list(node.defnames))
    elif node.kind == _O.OBJECT_OPERATOR:
        create_operator(ov, m, node)


def create_enum(ov: Overlay, m: Model, node: Any) -> None:
    names = name_list(node.typeName)
    schema = creation_schema(ov, m, names[-2] if len(names) > 1 else None)
    if m.enum_oid(schema, names[-1]) is not None:
        raise Rejected
    labels = tuple(str(v.sval) for v in node.vals or ())
    oid = m.new_oid()
    m.enums[oid] = EnumType(schema, names[-1], qualified(schema, names[-1]), labels)
    m.label_ids[oid] = {label: m.new_oid() for label in labels}


def alter_enum(ov: Overlay, m: Model, node: Any) -> None:
    oid = find_enum(ov, m, name_list(node.typeName))
    if oid is None:
        raise Rejected
    e = m.enums[oid]
    labels = list(e.labels)
    if node.oldVal:
        if node.oldVal not in labels or node.newVal in labels:
            raise Rejected
        labels[labels.index(node.oldVal)] = node.newVal
        ids = m.label_ids[oid]
        ids[node.newVal] = ids.pop(node.oldVal)
    else:
        if node.newVal in labels:
            if node.skipIfNewValExists:
                return
            raise Rejected
        pos = len(labels)
        if node.newValNeighbor and node.newValNeighbor in labels:
            pos = labels.index(node.newValNeighbor) + (1 if node.newValIsAfter else 0)
        labels.insert(pos, node.newVal)
        m.label_ids[oid][node.newVal] = m.new_oid()
    m.enums[oid] = dataclasses.replace(e, labels=tuple(labels))
