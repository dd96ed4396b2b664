"""The compatibility rules (SG1xx) and lock-safety lints (SG2xx).

Each rule module holds the :class:`Rule` metadata (id, name, default severity,
docs, the safe recipe, examples that double as tests) and its check function.
``docs/rules.md`` is generated from :data:`RULES` (``python -m skewguard.rules.docs``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from skewguard.ddl.changes import Change
from skewguard.rules import (
    columns,
    constraints,
    drops,
    enums_functions,
    locks,
    renames,
    rewrite,
    security,
)
from skewguard.rules.base import Context, Example, Hit, Rule

Check = Callable[[Context, Change], Iterable[Hit]]

_MODULES = (drops, renames, columns, constraints, enums_functions, security, rewrite, locks)

RULES: tuple[Rule, ...] = tuple(sorted((r for m in _MODULES for r in m.RULES), key=lambda r: r.id))
CHECKS: dict[str, Check] = {k: v for m in _MODULES for k, v in m.CHECKS.items()}

__all__ = ["CHECKS", "RULES", "Check", "Context", "Example", "Hit", "Rule"]
