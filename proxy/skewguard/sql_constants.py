"""The value of an SQL expression built from constants alone, as PostgreSQL computes it.

Migration scripts build the DDL they ``EXECUTE`` in a DO block: ``EXECUTE
format('ALTER TABLE %I DROP COLUMN %I', 'orders', 'note')`` or ``'DROP VIEW ' ||
'v'``. When every piece is a constant the statement run is known, and the guard
reads it like any other instead of refusing the block as opaque. Only what can be
computed exactly is: string and integer literals, ``||``, ``format`` with ``%s``,
``%I``, ``%L`` and ``%%`` (positional ``n$`` allowed; flags and widths are not),
``quote_ident`` and ``quote_literal``. Anything else (a variable, a function, a
cast, NULL) is not a constant: None, and the block stays opaque.

An identifier ``%I`` makes is always double-quoted and a literal ``%L`` makes is
always an ``E'…'`` literal: PostgreSQL may leave quotes off where they change
nothing, so both read as the same name and value, under either
``standard_conforming_strings``.
"""

from __future__ import annotations

import re
from typing import Any

import pglast
from pglast import ast

#: One ``format`` specifier: ``%%``, or ``%[n$]type`` with no flags or width.
_SPEC = re.compile(r"%(?:(%)|(?:([1-9][0-9]*)\$)?([sIL]))")

#: Deeper than this, an expression is not worth computing (and Python's stack is kept).
_MAX_DEPTH = 32


def constant_value(expression: str) -> str | None:
    """The text a PL/pgSQL expression (as ``EXECUTE`` takes it) evaluates to when it
    is built from constants only; None for anything computed at run time."""
    try:
        (raw,) = pglast.parse_sql(f"SELECT {expression}")
    except (pglast.parser.ParseError, ValueError):
        return None
    stmt = raw.stmt
    if not isinstance(stmt, ast.SelectStmt) or stmt.fromClause or not stmt.targetList:
        return None
    if len(stmt.targetList) != 1 or stmt.targetList[0].name is not None:
        return None
    return _value(stmt.targetList[0].val, 0)


def _value(node: Any, depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(node, ast.A_Const):
        if node.isnull:
            return None
        if isinstance(node.val, ast.String):
            return str(node.val.sval)
        if isinstance(node.val, ast.Integer):
            return str(node.val.ival)
        return None
    if isinstance(node, ast.A_Expr) and _is_concatenation(node):
        left, right = _value(node.lexpr, depth + 1), _value(node.rexpr, depth + 1)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.FuncCall):
        return _call(node, depth)
    return None


def _is_concatenation(node: Any) -> bool:
    names = [str(n.sval) for n in node.name or ()]
    return names in (["||"], ["pg_catalog", "||"]) and node.lexpr is not None


def _call(node: Any, depth: int) -> str | None:
    names = [str(n.sval) for n in node.funcname or ()]
    if names[:-1] not in ([], ["pg_catalog"]) or node.agg_order or node.agg_filter:
        return None
    if node.over or node.agg_star or node.agg_distinct or node.func_variadic:
        return None
    args = [_value(arg, depth + 1) for arg in node.args or ()]
    if any(arg is None for arg in args) or not args:
        return None
    values = [arg for arg in args if arg is not None]
    name = names[-1]
    if name == "quote_ident" and len(values) == 1:
        return quoted_identifier(values[0])
    if name == "quote_literal" and len(values) == 1:
        return quoted_literal(values[0])
    if name == "format":
        return _format(values[0], values[1:])
    return None


def _format(template: str, args: list[str]) -> str | None:
    """``format(template, args...)``; None for a specifier this module does not compute
    or an argument that is missing (PostgreSQL raises an error there)."""
    out: list[str] = []
    at = 0
    following = 0  # the argument a specifier without n$ takes
    while True:
        percent = template.find("%", at)
        if percent < 0:
            out.append(template[at:])
            return "".join(out)
        out.append(template[at:percent])
        spec = _SPEC.match(template, percent)
        if spec is None:
            return None
        at = spec.end()
        if spec.group(1):
            out.append("%")
            continue
        index = int(spec.group(2)) - 1 if spec.group(2) else following
        if index >= len(args):
            return None
        following = index + 1
        value = args[index]
        kind = spec.group(3)
        out.append(
            value
            if kind == "s"
            else quoted_identifier(value)
            if kind == "I"
            else quoted_literal(value)
        )


def quoted_identifier(name: str) -> str:
    """``name`` as a double-quoted identifier: the same name PostgreSQL's
    ``quote_ident`` gives, quoted or not."""
    return '"' + name.replace('"', '""') + '"'


def quoted_literal(value: str) -> str:
    """``value`` as an escape-string literal: the same value ``quote_literal`` gives."""
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
