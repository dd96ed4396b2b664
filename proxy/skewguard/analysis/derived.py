"""Output expressions whose result type follows one column's type, and how it follows.

A named prepared statement returning ``sum(v)`` fails its next EXECUTE after ``v``
goes numeric -> int (0A000 "cached plan must not change result type": sum(int) is a
bigint), as one returning ``v`` itself does; one returning ``count(*)``, ``v::text``,
``v > 0`` or ``v || 'x'`` does not: their type is their own. :func:`derived` names
the operand and the *class* of such an expression (aggregates, unary minus and abs,
COALESCE / GREATEST / LEAST / CASE / NULLIF with constants, arithmetic with a
constant); :func:`derived_type` maps a column type through a chain of classes, as
PostgreSQL resolves them (checked with ``pg_typeof``). The typmod never survives
these expressions, so ``varchar(40) -> varchar(10)`` changes none of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pglast import ast, enums

#: class -> result type by the operand's type (typmod stripped); a type not listed
#: passes through unchanged, unless the class is in _CLOSED (then it is unknown).
_CLASSES: dict[str, dict[str, str]] = {
    "sum": {
        "smallint": "bigint",
        "integer": "bigint",
        "bigint": "numeric",
        "numeric": "numeric",
        "real": "real",
        "double precision": "double precision",
        "money": "money",
        "interval": "interval",
    },
    "avg": {
        "smallint": "numeric",
        "integer": "numeric",
        "bigint": "numeric",
        "numeric": "numeric",
        "real": "double precision",
        "double precision": "double precision",
        "interval": "interval",
    },
    # min/max and NULLIF resolve varchar to text's own function or operator
    "min": {"character varying": "text"},
    "same": {},
    # the common type with an integer constant (COALESCE(v, 0), GREATEST, CASE ... ELSE 0)
    "mix_int": {"smallint": "integer"},
    # an operator with an integer constant (v + 1): real + int4 is float8's
    "op_int": {"smallint": "integer", "real": "double precision"},
    # an operator with a numeric constant (v * 2.5)
    "op_num": {
        "smallint": "numeric",
        "integer": "numeric",
        "bigint": "numeric",
        "real": "double precision",
    },
}
_CLOSED = frozenset({"sum", "avg"})
_AGGREGATES = {"sum": "sum", "avg": "avg", "min": "min", "max": "min", "abs": "same"}
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})
_TYPMOD = re.compile(r"\(\s*\d+\s*(?:,\s*-?\d+\s*)?\)")


def derived(node: Any) -> tuple[Any, str] | None:
    """The operand of ``node`` and its class, when ``node``'s result type is a function
    of that one operand's type; None for any other expression."""
    if isinstance(node, ast.FuncCall):
        names = [getattr(n, "sval", None) for n in node.funcname or ()]
        if len(names) == 2 and names[0] != "pg_catalog":
            return None
        kind = _AGGREGATES.get(str(names[-1]))
        args = node.args or ()
        if kind is None or len(args) != 1 or node.agg_star:
            return None
        return args[0], kind
    if isinstance(node, ast.A_Expr):
        name = [getattr(n, "sval", None) for n in node.name or ()]
        if node.kind == enums.A_Expr_Kind.AEXPR_NULLIF:
            return (node.lexpr, "min") if _constant(node.rexpr) is not None else None
        if node.kind != enums.A_Expr_Kind.AEXPR_OP or not name or name[-1] not in _ARITHMETIC:
            return None
        if node.lexpr is None:  # unary minus
            return node.rexpr, "same"
        for operand, other in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
            const = _constant(other)
            if const in ("int", "num") and _constant(operand) is None:
                return operand, f"op_{const}"
        return None
    if isinstance(node, ast.CoalesceExpr | ast.MinMaxExpr):
        return _common(list(node.args or ()))
    if isinstance(node, ast.CaseExpr):
        results = [w.result for w in node.args or ()]
        return _common([*results, node.defresult])
    return None


def _common(args: list[Any]) -> tuple[Any, str] | None:
    """One non-constant among ``args`` (the others constants): the common type's class."""
    operands = [a for a in args if _constant(a) is None]
    kinds = {_constant(a) for a in args} - {None}
    if len(operands) != 1 or "num" in kinds:
        return None
    return operands[0], "mix_int" if "int" in kinds else "same"


def _constant(node: Any) -> str | None:
    """``int``, ``num`` or ``unknown`` (a string or NULL) for a constant; None otherwise."""
    if node is None:
        return "unknown"  # CASE without ELSE
    if not isinstance(node, ast.A_Const):
        return None
    if node.isnull or isinstance(node.val, ast.String):
        return "unknown"
    if isinstance(node.val, ast.Integer):
        return "int"
    if isinstance(node.val, ast.Float):
        return "num"
    return None


def derived_type(type_name: str, classes: Sequence[str]) -> str | None:
    """The result type of ``classes`` (innermost first) over a column of ``type_name``
    (a ``format_type`` name, maybe with `` COLLATE c``); None when unknown."""
    name, _, collation = type_name.partition(" COLLATE ")
    current = " ".join(_TYPMOD.sub("", name).split())
    for cls in classes:
        table = _CLASSES.get(cls)
        if table is None:
            return None
        if current in table:
            current = table[current]
        elif cls in _CLOSED:
            return None
    return f"{current} COLLATE {collation}" if collation else current


def result_type_changes(classes: Sequence[str], old: str, new: str) -> bool:
    """Whether the expression's result type differs between a column of ``old`` and one of
    ``new`` (unknown: when the base types differ)."""
    before, after = derived_type(old, classes), derived_type(new, classes)
    if before is None or after is None:
        return derived_type(old, ["same"]) != derived_type(new, ["same"])
    return before != after


__all__ = ["derived", "derived_type", "result_type_changes"]
