"""The backstop's own objects: no statement through the proxy may change them.

``skewguard backstop install`` puts a schema ``skewguard_backstop`` and event triggers
``skewguard_backstop_*`` in the database (:mod:`skewguard.backstop`). A client that
disables, drops, renames or replaces one of them (or its functions) through the proxy
leaves every other path unguarded, so any statement naming one is refused as
unmodelled; the backstop is changed with ``skewguard backstop install|uninstall``,
which connects to PostgreSQL directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast

#: The backstop's schema and the prefix of its event triggers' names.
BACKSTOP_PREFIX = "skewguard_backstop"
#: Fields that hold text, not a name (COMMENT ... IS, SECURITY LABEL ... IS).
_TEXTS = frozenset({"comment", "label"})


def names_backstop(node: Any) -> bool:
    """``node`` names an object (a schema, event trigger, function...) of the backstop."""
    return any(name.startswith(BACKSTOP_PREFIX) for name in _names(node))


def _names(node: Any) -> Iterator[str]:
    """Every identifier in ``node``; constants (a COMMENT's text, a default) are not names."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _names(item)
    elif isinstance(node, ast.Node) and not isinstance(node, ast.A_Const):
        for slot in type(node).__slots__:  # type: ignore[attr-defined]
            if slot not in _TEXTS:
                yield from _names(getattr(node, slot, None))
