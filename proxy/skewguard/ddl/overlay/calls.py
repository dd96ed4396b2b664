"""The functions an expression calls, kept as the pg_depend edges PostgreSQL records (so
DROP FUNCTION ... CASCADE takes defaults, CHECKs, indexes and policies along)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pglast import ast

from skewguard.ddl.model import Dependent, Edge, Model, Referenced
from skewguard.ddl.overlay.names import user_path
from skewguard.ddl.overlay.nodes import name_list

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay


def record_calls(ov: Overlay, m: Model, dependent: Dependent, expr: Any) -> None:
    """Edges from ``dependent`` to the functions ``expr`` calls (as pg_depend has them)."""
    for fn in _called(ov, m, expr):
        m.edges.add(Edge(dependent, Referenced("function", fn)))


def _called(ov: Overlay, m: Model, node: Any) -> set[int]:
    found: set[int] = set()
    if isinstance(node, ast.FuncCall):
        names = name_list(node.funcname)
        schemas = [names[-2]] if len(names) > 1 else user_path(ov)
        n_args = len(node.args or ())
        found.update(
            o
            for o, f in m.funcs.items()
            if f.name == names[-1] and f.schema in schemas and f.accepts_arity(n_args)
        )
    if isinstance(node, tuple | list):
        for x in node:
            found |= _called(ov, m, x)
    elif isinstance(node, ast.Node):
        for a in getattr(type(node), "__slots__", ()):
            found |= _called(ov, m, getattr(node, a, None))
    return found
