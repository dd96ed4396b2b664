"""Every node of a pglast parse tree of one kind, read through the slots that can hold nodes.

pglast's ``Visitor`` and a walk of every ``__slots__`` entry also read each
scalar field (names, flags, locations): on a DDL statement about five times the
work. A slot can hold a node when pglast types it as a list, a tuple or a node.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from pglast import ast

N = TypeVar("N", bound=ast.Node)


_CHILD_SLOTS: dict[type, tuple[str, ...]] = {}


def _child_slots(cls: type) -> tuple[str, ...]:
    """The slots of ``cls`` that may hold a node or a list of them."""
    known = _CHILD_SLOTS.get(cls)
    if known is not None:
        return known
    out = []
    slots = getattr(cls, "__slots__", None)
    for name, info in slots.items() if isinstance(slots, dict) else ():
        kinds = info.py_type if isinstance(info.py_type, tuple) else (info.py_type,)
        if any(k is list or k is tuple or (isinstance(k, type) and issubclass(k, ast.Node))
               for k in kinds):  # fmt: skip
            out.append(name)
    _CHILD_SLOTS[cls] = found = tuple(out)
    return found


def walk(node: Any, kind: type[N]) -> Iterator[N]:
    """Every ``kind`` node under ``node`` (a node, or lists and tuples of them), ``node``
    itself included."""
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, list | tuple):
            pending.extend(current)
        elif isinstance(current, ast.Node):
            if isinstance(current, kind):
                yield current
            for slot in _child_slots(type(current)):
                value = getattr(current, slot, None)
                if value is not None:
                    pending.append(value)
