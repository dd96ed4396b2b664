"""What an expression asks of the session that evaluates it (pure).

A probe evaluates a new CHECK on a version's constants somewhere else than where the
version writes: another session (the migrating one, or a side connection), another
application_name, TimeZone, DateStyle, time of day. An answer "accepted" there says
nothing about the version's own INSERT when the expression can ask any of these
(``current_setting('application_name')``, ``now()``, ``'today'::date``, a function of
the database's). Only an expression built from the column, constants and builtins
PostgreSQL marks IMMUTABLE that no setting steers, read here by its parse tree, is
known to give the version the same answer; one that also asks who evaluates it
(``current_user``, ``pg_has_role``, ``has_table_privilege``...) gives it the same
answer where the probe runs as the version's role.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import pglast
from pglast import ast, enums

from skewguard.analysis.nodes import walk
from skewguard.sql_parse import parse_sql

#: Builtins PostgreSQL marks IMMUTABLE whose result no setting changes (by name: a
#: schema-qualified call must name pg_catalog).
_FUNCTIONS = frozenset(
    {
        "abs", "btrim", "ceil", "ceiling", "char_length", "character_length", "floor",
        "left", "length", "lower", "ltrim", "md5", "mod", "octet_length", "position",
        "replace", "reverse", "right", "round", "rtrim", "sign", "split_part", "strpos",
        "substr", "substring", "trim", "trunc", "upper", "similar_to_escape",
        "regexp_like", "starts_with", "current_database",
    }
)  # fmt: skip
#: Builtins whose result depends on the current role only (not on session_user).
_ROLE_FUNCTIONS = frozenset(
    {
        "pg_has_role", "has_table_privilege", "has_column_privilege",
        "has_any_column_privilege", "has_database_privilege", "has_schema_privilege",
        "has_function_privilege", "has_sequence_privilege", "has_type_privilege",
        "has_language_privilege", "has_tablespace_privilege", "has_server_privilege",
        "has_foreign_data_wrapper_privilege", "has_parameter_privilege",
    }
)  # fmt: skip
_ROLE_VALUES = frozenset(
    {
        enums.SQLValueFunctionOp.SVFOP_CURRENT_USER,
        enums.SQLValueFunctionOp.SVFOP_CURRENT_ROLE,
        enums.SQLValueFunctionOp.SVFOP_USER,
    }
)


class Asks(IntEnum):
    """What an expression asks of the session evaluating it (the more, the higher)."""

    NOTHING = 0  # the same answer in every session
    ROLE = 1  # the same answer in every session with the same current role
    SESSION = 2  # anything else: settings, time, code of the database's


#: Types whose input and output no setting changes (dates and times read DateStyle and
#: TimeZone, money lc_monetary, reg* types the search_path).
_TYPES = frozenset(
    {
        "int2", "int4", "int8", "smallint", "integer", "int", "bigint", "numeric",
        "decimal", "float4", "float8", "real", "double precision", "text", "varchar",
        "bpchar", "char", "character", "character varying", "bool", "boolean", "name",
    }
)  # fmt: skip
#: Nodes that only combine what is below them.
_PLAIN = (
    ast.ColumnRef, ast.A_Const, ast.String, ast.Integer, ast.Float, ast.Boolean,
    ast.BoolExpr, ast.NullTest, ast.BooleanTest, ast.CaseExpr, ast.CaseWhen,
    ast.CoalesceExpr, ast.MinMaxExpr, ast.A_Expr, ast.TypeCast, ast.TypeName,
    ast.FuncCall, ast.ResTarget, ast.SelectStmt, ast.RawStmt, ast.A_ArrayExpr,
)  # fmt: skip
#: Operators on the plain types above that no setting changes.
_OPERATORS = frozenset(
    {"=", "<>", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "||", "~", "~*",
     "!~", "!~*", "~~", "~~*", "!~~", "!~~*"}
)  # fmt: skip
_KINDS = frozenset(
    {
        enums.A_Expr_Kind.AEXPR_OP, enums.A_Expr_Kind.AEXPR_IN, enums.A_Expr_Kind.AEXPR_LIKE,
        enums.A_Expr_Kind.AEXPR_ILIKE, enums.A_Expr_Kind.AEXPR_NULLIF,
        enums.A_Expr_Kind.AEXPR_BETWEEN, enums.A_Expr_Kind.AEXPR_NOT_BETWEEN,
        enums.A_Expr_Kind.AEXPR_DISTINCT, enums.A_Expr_Kind.AEXPR_NOT_DISTINCT,
        enums.A_Expr_Kind.AEXPR_SIMILAR, enums.A_Expr_Kind.AEXPR_OP_ANY,
        enums.A_Expr_Kind.AEXPR_OP_ALL,
    }
)  # fmt: skip


def _names(names: Any) -> list[str]:
    return [str(n.sval) for n in names or () if isinstance(n, ast.String)]


def _asks(node: Any) -> Asks:
    """What the node itself (not what is below it) asks of the session."""
    if isinstance(node, ast.SQLValueFunction):
        return Asks.ROLE if node.op in _ROLE_VALUES else Asks.SESSION
    if isinstance(node, ast.FuncCall) and _is_builtin(node, _ROLE_FUNCTIONS):
        return Asks.ROLE
    return Asks.NOTHING if isinstance(node, _PLAIN) and _plain_node(node) else Asks.SESSION


def _is_builtin(node: ast.FuncCall, names: frozenset[str]) -> bool:
    called = _names(node.funcname)
    qualified_elsewhere = len(called) > 1 and called[0] != "pg_catalog"
    simple = not (node.agg_star or node.agg_order or node.over or node.agg_filter)
    return bool(called) and called[-1] in names and not qualified_elsewhere and simple


def _plain_node(node: Any) -> bool:
    """The node itself (not what is below it) asks nothing of the session."""
    if isinstance(node, ast.FuncCall):
        return _is_builtin(node, _FUNCTIONS)
    if isinstance(node, ast.TypeName):
        names = _names(node.names)
        elsewhere = len(names) > 1 and names[0] != "pg_catalog"
        return bool(names) and names[-1] in _TYPES and not elsewhere and not node.arrayBounds
    if isinstance(node, ast.A_Expr):
        if node.kind not in _KINDS:
            return False
        names = _names(node.name)
        return all(n in _OPERATORS or n in ("BETWEEN", "NOT BETWEEN") for n in names)
    if isinstance(node, ast.ColumnRef):
        return all(isinstance(f, ast.String) for f in node.fields or ())
    return True


def asks(expression: str) -> Asks:
    """What ``expression`` (a CHECK's, as deparsed) asks of the session evaluating it."""
    try:
        tree = parse_sql(f"SELECT {expression}")
    except pglast.parser.ParseError:
        return Asks.SESSION
    if len(tree) != 1:
        return Asks.SESSION
    return max(map(_asks, walk(tree[0], ast.Node)), default=Asks.NOTHING)


__all__ = ["Asks", "asks"]
