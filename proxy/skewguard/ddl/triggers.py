"""Trigger functions whose only effect is to fill columns of the row being written.

The expand/contract dual write of a column rename is a BEFORE ROW trigger on
INSERT/UPDATE running ``NEW.full_name := NEW.name; RETURN NEW``. Such a trigger
cannot make a writer's statement fail when every value it assigns already has
the target column's type (or becomes ``text``), cannot be NULL where the target
is NOT NULL, and lands in a column no constraint or unique index checks: the
row is then accepted exactly when it was accepted before. Anything else in the
body (SQL, RAISE, EXECUTE, a function call, a cast, a variable initialised on
entry, RETURN of anything but NEW) makes :func:`row_filler` answer None, and the
trigger stays unmodelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pglast
from pglast import ast, enums

from skewguard.catalog import Column, Constraint, Index, Relation
from skewguard.sql_parse import parse_sql

_TEXTUAL = frozenset({"text", "character varying", "character"})
_COMPARISONS = frozenset({"=", "<>", "!="})
# Clauses that make "SELECT <expression>" more than an expression.
_CLAUSES = (
    "distinctClause",
    "intoClause",
    "fromClause",
    "whereClause",
    "groupClause",
    "havingClause",
    "windowClause",
    "valuesLists",
    "sortClause",
    "limitOffset",
    "limitCount",
    "lockingClause",
    "withClause",
)
_RETURN = re.compile(r"\breturn\b", re.IGNORECASE)
_RETURN_NEW = re.compile(r"\breturn\s+new\s*;", re.IGNORECASE)
_ASSIGN = re.compile(r"^\s*new\s*\.\s*(?:\"[^\"]+\"|[\w$]+)\s*:?=(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Value:
    """An assigned value: the row's columns it copies (``new.x``/``old.x``) and
    whether it may be NULL or a string literal."""

    columns: tuple[tuple[str, str], ...]  # (record, column)
    null: bool = False
    text_literal: bool = False


@dataclass(frozen=True)
class RowFiller:
    """A trigger function that only assigns fields of NEW, then returns NEW."""

    assignments: tuple[tuple[str, Value], ...]  # (target column, value)
    reads: frozenset[tuple[str, str]]  # (record, column) read in conditions
    compared: frozenset[tuple[str, str]]  # column pairs compared with each other


def row_filler(language: str, body: str) -> RowFiller | None:
    """The body of a PL/pgSQL function if it only fills NEW's fields; else None."""
    if language.lower() != "plpgsql":
        return None
    tag = "$sg$"
    while tag in body:
        tag = tag[:-1] + "x$"
    sql = f"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS {tag}{body}{tag}"
    try:
        function = pglast.parse_plpgsql(sql)[0]["PLpgSQL_function"]
    except Exception:
        return None
    datums = function.get("datums", [])
    if any(_runs_on_entry(d) for d in datums):
        return None
    reader = _Reader(datums)
    top = function.get("action", {}).get("PLpgSQL_stmt_block", {})
    statements = top.get("body", [])
    if top.get("exceptions") or not statements or not _returns_new(statements[-1], body):
        return None
    if not reader.statements(statements[:-1]):
        return None
    return RowFiller(tuple(reader.assignments), frozenset(reader.reads), frozenset(reader.compared))


def _runs_on_entry(datum: dict[str, Any]) -> bool:
    """A declared variable whose initialisation runs code (or fails: NOT NULL)."""
    var = datum.get("PLpgSQL_var", {})
    return "default_val" in var or bool(var.get("notnull"))


def condition_filler(node: Any) -> RowFiller | None:
    """A trigger's WHEN clause as the fields it reads, if it is a test that cannot fail."""
    reads: set[tuple[str, str]] = set()
    compared: set[tuple[str, str]] = set()
    if not _condition(node, reads, compared):
        return None
    return RowFiller((), frozenset(reads), frozenset(compared))


def _returns_new(statement: dict[str, Any], body: str) -> bool:
    """The statement is the body's only RETURN, and it returns NEW (the parse tree does
    not tell a returned NEW from OLD: the text does)."""
    ret = statement.get("PLpgSQL_stmt_return")
    if ret is None or "expr" in ret:
        return False
    return len(_RETURN.findall(body)) == 1 and _RETURN_NEW.search(body) is not None


class _Reader:
    def __init__(self, datums: Sequence[dict[str, Any]]) -> None:
        self.datums = datums
        self.assignments: list[tuple[str, Value]] = []
        self.reads: set[tuple[str, str]] = set()
        self.compared: set[tuple[str, str]] = set()

    def statements(self, statements: Sequence[dict[str, Any]]) -> bool:
        return all(self.statement(s) for s in statements)

    def statement(self, statement: dict[str, Any]) -> bool:
        if "PLpgSQL_stmt_assign" in statement:
            return self.assign(statement["PLpgSQL_stmt_assign"])
        if "PLpgSQL_stmt_if" in statement:
            node = statement["PLpgSQL_stmt_if"]
            branches = [(node.get("cond"), node.get("then_body", []))]
            for elsif in node.get("elsif_list", []):
                e = elsif["PLpgSQL_if_elsif"]
                branches.append((e.get("cond"), e.get("stmts", [])))
            return all(self.condition(c) and self.statements(b) for c, b in branches) and (
                self.statements(node.get("else_body", []))
            )
        block = statement.get("PLpgSQL_stmt_block")
        if block is not None and not block.get("exceptions"):
            return self.statements(block.get("body", []))
        return False

    def assign(self, node: dict[str, Any]) -> bool:
        varno = node.get("varno", 0)
        if not 0 <= varno < len(self.datums):
            return False
        field = self.datums[varno].get("PLpgSQL_recfield")
        if field is None or field.get("recparentno", 0) != 0:
            return False  # only fields of NEW
        match = _ASSIGN.match(node.get("expr", {}).get("PLpgSQL_expr", {}).get("query", ""))
        value = _value(_expression(match.group(1))) if match else None
        if value is None:
            return False
        self.assignments.append((str(field["fieldname"]), value))
        return True

    def condition(self, cond: Any) -> bool:
        query = (cond or {}).get("PLpgSQL_expr", {}).get("query", "")
        expr = _expression(query)
        return expr is not None and _condition(expr, self.reads, self.compared)


def _expression(text: str) -> Any:
    try:
        raw = parse_sql(f"SELECT {text}")
    except Exception:
        return None
    stmt: Any = raw[0].stmt if raw and len(raw) == 1 else None
    if not isinstance(stmt, ast.SelectStmt) or any(getattr(stmt, c) for c in _CLAUSES):
        return None
    targets: Any = stmt.targetList or ()
    return targets[0].val if len(targets) == 1 else None


def _row_field(node: Any) -> tuple[str, str] | None:
    if not isinstance(node, ast.ColumnRef):
        return None
    fields = [f.sval for f in node.fields or () if isinstance(f, ast.String)]
    if len(fields) == 2 == len(node.fields or ()) and fields[0] in ("new", "old"):
        return (str(fields[0]), str(fields[1]))
    return None


def _value(node: Any) -> Value | None:
    field = _row_field(node)
    if field is not None:
        return Value((field,))
    if isinstance(node, ast.A_Const):
        if node.isnull:
            return Value((), null=True)
        return Value((), text_literal=True) if isinstance(node.val, ast.String) else None
    if isinstance(node, ast.CoalesceExpr):
        parts = [_value(a) for a in node.args or ()]
        known = [p for p in parts if p is not None]
        if not known or len(known) != len(parts):
            return None
        return Value(
            tuple(c for p in known for c in p.columns),
            null=any(p.null for p in known),
            text_literal=any(p.text_literal for p in known),
        )
    return None


def _condition(node: Any, reads: set[tuple[str, str]], compared: set[tuple[str, str]]) -> bool:
    """A test that cannot fail: NULL tests, (in)equality of two row fields or of
    TG_OP and a string, combined with AND/OR/NOT."""
    if isinstance(node, ast.BoolExpr):
        return all(_condition(a, reads, compared) for a in node.args or ())
    if isinstance(node, ast.NullTest | ast.BooleanTest):
        field = _row_field(node.arg)
        if field is not None:
            reads.add(field)
        return field is not None
    if isinstance(node, ast.A_Expr):
        kind = node.kind
        names = [str(n.sval) for n in node.name or () if isinstance(n, ast.String)]
        comparison = kind in (
            enums.A_Expr_Kind.AEXPR_DISTINCT,
            enums.A_Expr_Kind.AEXPR_NOT_DISTINCT,
        ) or (kind == enums.A_Expr_Kind.AEXPR_OP and len(names) == 1 and names[0] in _COMPARISONS)
        if not comparison:
            return False
        left, right = _row_field(node.lexpr), _row_field(node.rexpr)
        if left is not None and right is not None:
            reads.update((left, right))
            compared.add((left[1], right[1]))
            return True
        return _is_tg_op(node.lexpr) and isinstance(node.rexpr, ast.A_Const)
    return False


def _is_tg_op(node: Any) -> bool:
    fields: Any = node.fields if isinstance(node, ast.ColumnRef) else ()
    return len(fields) == 1 and isinstance(fields[0], ast.String) and fields[0].sval == "tg_op"


def _checked(constraints: Sequence[Constraint], indexes: Sequence[Index]) -> Callable[[str], bool]:
    """Whether a constraint or a unique index checks a column's values."""
    checked = {c for con in constraints for c in con.columns}
    unique = {k for i in indexes if i.unique for k in i.keys}
    return lambda column: (
        column in checked or any(column in re.findall(r"[\w$]+", k) for k in unique)
    )


def harm(
    filler: RowFiller,
    rel: Relation,
    constraints: Sequence[Constraint],
    indexes: Sequence[Index],
) -> str | None:
    """Why the filler's assignments could make a write to ``rel`` fail; None: they cannot."""
    checked = _checked(constraints, indexes)
    for record, name in sorted(filler.reads):
        if rel.column(name) is None:
            return f"reads {record.upper()}.{name}, which {rel.qname} does not have"
    for a, b in sorted(filler.compared):
        if not _same_type(rel.column(a), rel.column(b)):
            return f"compares {a} and {b}, of different types"
    for target, value in filler.assignments:
        col = rel.column(target)
        if col is None:
            return f"assigns NEW.{target}, which {rel.qname} does not have"
        if col.generated or col.identity:
            return f"assigns the generated/identity column {target}"
        if checked(target):
            return f"assigns {target}, which a constraint or unique index checks"
        why = _fits(col, value, rel)
        if why is not None:
            return f"assigns NEW.{target}: {why}"
    return None


def loss_harm(
    filler: RowFiller,
    rel: Relation,
    constraints: Sequence[Constraint],
    indexes: Sequence[Index],
) -> str | None:
    """Why a write to ``rel`` could fail once the filler no longer runs (DROP TRIGGER);
    None: it cannot. Without the filler a column keeps what the writer gave it, or
    its default: only a NOT NULL, a constraint or a unique index can then refuse it."""
    checked = _checked(constraints, indexes)
    for target, _ in filler.assignments:
        col = rel.column(target)
        if col is None:
            continue
        if col.not_null:
            return f"its function fills {target}, which is NOT NULL"
        if checked(target):
            return f"its function fills {target}, which a constraint or unique index checks"
    return None


def _fits(target: Column, value: Value, rel: Relation) -> str | None:
    if value.text_literal and target.type_name != "text":
        return "a string literal into a column that is not text"
    for _, name in value.columns:
        source = rel.column(name)
        if source is None:
            return f"copies {name}, which the table does not have"
        if not _same_type(source, target) and not (
            target.type_name == "text" and source.base_type in _TEXTUAL
        ):
            return f"copies {source.name} ({source.type_name}) into {target.type_name}"
    if target.not_null:
        only = rel.column(value.columns[0][1]) if len(value.columns) == 1 else None
        if value.null or value.text_literal or only is None or not only.not_null:
            return "the value may be NULL and the column is NOT NULL"
    return None


def _same_type(a: Column | None, b: Column | None) -> bool:
    return a is not None and b is not None and a.type_name == b.type_name


__all__ = [
    "RowFiller",
    "Value",
    "condition_filler",
    "harm",
    "loss_harm",
    "row_filler",
]
