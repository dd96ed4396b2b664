"""The compatibility rules (SG1xx) and lock-safety lints (SG2xx).

Each rule is one :class:`Rule` in its module: id, name, default severity, docs,
the safe recipe, the change types it covers, its check, and examples that
double as tests. :data:`RULES` below is the one registry; ``docs/rules.md`` is
generated from it (``python -m skewguard.rules.docs``).
"""

from __future__ import annotations

from typing import Any

from skewguard.rules import (
    columns,
    constraints,
    deferral,
    drops,
    enums_functions,
    locks,
    named,
    operators,
    ordering,
    renames,
    replication,
    rewrite,
    security,
    sequences,
)
from skewguard.rules.base import Context, Example, Hit, Rule

#: Every rule, in id order (the order findings and docs list them in).
RULES: tuple[Rule[Any], ...] = (
    drops.DROP_RELATION,  # SG101
    drops.DROP_COLUMN,  # SG102
    drops.DROP_FUNCTION,  # SG103
    drops.DROP_TYPE,  # SG104
    drops.DROP_SCHEMA,  # SG105
    renames.RENAME_RELATION,  # SG106
    renames.RENAME_COLUMN,  # SG107
    renames.RENAME_SCHEMA,  # SG108
    renames.REPLACE_RELATION,  # SG109
    columns.TYPE_CHANGE,  # SG110
    columns.SET_NOT_NULL,  # SG111
    columns.ADD_COLUMN_SHAPE,  # SG112
    columns.AMBIGUOUS,  # SG113
    constraints.NEW_CONSTRAINT,  # SG114
    constraints.ARBITER,  # SG115
    enums_functions.ENUM_LABEL,  # SG116
    enums_functions.ENUM_ADD,  # SG117
    enums_functions.OVERLOAD,  # SG118
    security.RLS,  # SG119
    security.REVOKE,  # SG120
    rewrite.INSTEAD_RULE,  # SG121
    columns.NOW_GENERATED,  # SG122
    enums_functions.REPLACED_FUNCTION,  # SG123
    renames.SHADOWED,  # SG124
    renames.FUNCTION_SHADOWED,  # SG125
    enums_functions.RECREATED_ENUM,  # SG126
    ordering.REORDERED,  # SG127
    constraints.INLINED_ARBITER,  # SG128
    operators.DROP_OPERATOR,  # SG129
    deferral.DEFERRAL_LOST,  # SG130
    replication.REPLICA_IDENTITY,  # SG131
    named.NAMED_OBJECT,  # SG132
    sequences.SEQUENCE_NUMBERS,  # SG133
    locks.INDEX_LOCK,  # SG201
    locks.REWRITE,  # SG202
    locks.VALIDATION,  # SG203
    locks.LOCK_TIMEOUT,  # SG204
)

__all__ = ["RULES", "Context", "Example", "Hit", "Rule"]
