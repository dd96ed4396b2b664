"""Small readers of pglast nodes the appliers share: names, deparsed text, column references."""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import Any

from pglast import ast, enums
from pglast.stream import RawStream

from skewguard.catalog import RelKind

_O = enums.ObjectType


REL_OBJECTS = {
    _O.OBJECT_TABLE: RelKind.TABLE,
    _O.OBJECT_VIEW: RelKind.VIEW,
    _O.OBJECT_MATVIEW: RelKind.MATVIEW,
    _O.OBJECT_SEQUENCE: RelKind.SEQUENCE,
    _O.OBJECT_FOREIGN_TABLE: RelKind.FOREIGN,
}


FUNC_OBJECTS = (_O.OBJECT_FUNCTION, _O.OBJECT_PROCEDURE, _O.OBJECT_ROUTINE, _O.OBJECT_AGGREGATE)


def deparse(node: Any) -> str:
    try:
        return str(RawStream()(node))
    except Exception:
        return "?"


def name_list(nodes: Iterable[Any] | None) -> list[str]:
    return [str(n.sval) for n in nodes or () if isinstance(n, ast.String)]


def column_refs(node: Any) -> list[str]:
    """Names of the columns an expression refers to (last field), in order."""
    found: list[str] = []

    def walk(n: Any) -> None:
        if isinstance(n, ast.ColumnRef):
            fields = name_list(n.fields)
            if fields and fields[-1] not in found:
                found.append(fields[-1])
            return
        if isinstance(n, tuple | list):
            for x in n:
                walk(x)
        elif isinstance(n, ast.Node):
            for attr in getattr(type(n), "__slots__", ()):
                walk(getattr(n, attr, None))

    walk(node)
    return found


def has_call(node: Any, names: frozenset[str]) -> bool:
    if isinstance(node, ast.FuncCall):
        fn = name_list(node.funcname)
        if fn and fn[-1] in names:
            return True
    if isinstance(node, tuple | list):
        return any(has_call(x, names) for x in node)
    if isinstance(node, ast.Node):
        return any(
            has_call(getattr(node, a, None), names) for a in getattr(type(node), "__slots__", ())
        )
    return False


def kind_word(t: Any) -> str:
    """``OBJECT_FOREIGN_SERVER`` -> ``FOREIGN SERVER``."""
    return str(t.name).removeprefix("OBJECT_").replace("_", " ")


def unique_name(base: str, taken: Container[str]) -> str:
    """PostgreSQL's choice for a generated name: ``base``, else ``base1``, ``base2``..."""
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}{n}"
    return name
