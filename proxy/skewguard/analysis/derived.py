"""Output expressions whose result type follows their columns' types, and how it follows.

A named prepared statement returning ``sum(v)`` fails its next EXECUTE after ``v``
goes numeric -> int (0A000 "cached plan must not change result type": sum(int) is a
bigint), as one returning ``v`` itself does; one returning ``count(*)``, ``v::text``,
``v > 0`` or ``v || 'x'`` does not: their type is their own. :func:`derived` turns
such an output into a *type expression* over the columns it reads: aggregates
(sum/avg/min/max), unary minus and abs, arithmetic (``+ - * / %``) and the common
type of COALESCE / GREATEST / LEAST / CASE results, over columns and constants, so
``a + b``, ``coalesce(a, b, 0.5)`` and ``CASE WHEN .. THEN a ELSE b END`` count.
:func:`result_type` resolves one as PostgreSQL does (checked against ``pg_typeof`` and
held statements on 15 and 18): int4 + int8 is an int8 whatever int4 becomes below it,
the common type keeps a typmod only when every input has the same type and typmod
(``coalesce(a, b)`` of two varchar(40)s is a varchar(40); with ``'x'`` it is a plain
varchar), a string category's common type depends on the order (CASE puts its ELSE
first), and collations combine. A type outside the tables is unknown (None).

A facet's subject is ``column|<expression>``: one column and a chain of unary classes
innermost first (``public.t.v|sum,mix_int``: ``coalesce(sum(v), 0)``), or ``=`` and a
tree naming every column (``public.t.a|=add(public.t.a;public.t.b)``), one facet per
column it names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice, product
from typing import Any

from pglast import ast, enums

#: A type expression: a column subject (it has a dot), a constant's type (no dot), or
#: (node, arguments) with node one of _UNARY, "common" (COALESCE...), "add" (+ - * /),
#: "mod" (%).
TypeExpr = str | tuple[str, tuple["TypeExpr", ...]]

#: unary class -> result type by the operand's type (typmod stripped); a type not
#: listed passes through unchanged, unless the class is in _CLOSED (then it is unknown).
_UNARY: dict[str, dict[str, str]] = {
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
}
_CLOSED = frozenset({"sum", "avg"})
#: the chain classes of one column with a constant, as the trees they stand for
_BINARY_CLASSES = {
    "mix_int": ("common", "integer"),
    "op_int": ("add", "integer"),
    "op_num": ("add", "numeric"),
}
_AGGREGATES = {"sum": "sum", "avg": "avg", "min": "min", "max": "min", "abs": "same"}
_ARITHMETIC = {"+": "add", "-": "add", "*": "add", "/": "add", "%": "mod"}
_TYPMOD = re.compile(r"\(\s*\d+\s*(?:,\s*-?\d+\s*)?\)")
_MAX_TREES = 8  # combinations of a leaf's several sources (a union below) kept
#: nodes of one expression kept: its text goes into a subject for each column it names
MAX_NODES = 24

#: the numeric category in implicit-cast order (each casts implicitly to those after)
_NUMERIC = ("smallint", "integer", "bigint", "numeric", "real", "double precision")
#: the string category: text is preferred; every pair casts implicitly but name to the
#: two padded/limited ones
_STRING = frozenset({"text", "character varying", "character", "name"})
_STRING_ONE_WAY = frozenset({("name", "character varying"), ("name", "character")})
#: date/time: each casts implicitly to those after; timestamptz is preferred
_DATETIME = ("date", "timestamp without time zone", "timestamp with time zone")
_PREFERRED = frozenset({"double precision", "text", "timestamp with time zone"})
#: types whose own collation is not the default: their combinations are not modelled
_OPAQUE = frozenset({"name"})
UNKNOWN = "unknown"  # a string literal or NULL: takes the other inputs' type


@dataclass(frozen=True)
class _Type:
    base: str  # format_type without the typmod ("character varying")
    typmod: str = ""  # "(40)", "(10,2)"
    collation: str = ""  # an explicit one ('"C"'), "" for the type's own, "?" mixed

    def __str__(self) -> str:
        text = self.base + self.typmod
        return f"{text} COLLATE {self.collation}" if self.collation else text


def parse_type(type_name: str) -> _Type:
    """A ``format_type`` name, maybe with `` COLLATE c``."""
    name, _, collation = type_name.partition(" COLLATE ")
    name = " ".join(name.split())
    found = _TYPMOD.search(name)
    typmod = found.group(0).replace(" ", "") if found else ""
    base = " ".join(_TYPMOD.sub("", name).split())
    return _Type("character" if base == "bpchar" else base, typmod, collation)


# --- from the parse tree ------------------------------------------------------


def derived(node: Any, leaf: Callable[[Any], Iterable[TypeExpr]]) -> list[TypeExpr]:
    """The type expressions of output ``node`` when its result type follows its columns'
    types; ``leaf`` gives those of a column reference or a subquery (none: unknown).
    Empty for any other expression, and for one of constants only."""
    trees = _trees(node, leaf)
    return [t for t in trees or () if not isinstance(t, str) and columns(t) and small(t)]


def small(tree: TypeExpr) -> bool:
    """At most MAX_NODES nodes (a COALESCE of a thousand columns is not kept)."""
    budget = [MAX_NODES]

    def walk(t: TypeExpr) -> bool:
        budget[0] -= 1
        return budget[0] >= 0 and (isinstance(t, str) or all(walk(a) for a in t[1]))

    return walk(tree)


def _trees(node: Any, leaf: Callable[[Any], Iterable[TypeExpr]]) -> list[TypeExpr] | None:
    const = _constant(node)
    if const is not None:
        return [const]
    if isinstance(node, ast.ColumnRef | ast.SubLink):
        found = list(islice(leaf(node), _MAX_TREES + 1))
        return found if 0 < len(found) <= _MAX_TREES else None
    shape = _shape(node)
    if shape is None:
        return None
    kind, args = shape
    parts = [_trees(a, leaf) for a in args]
    if any(p is None for p in parts):
        return None
    combos = list(islice(product(*(p or () for p in parts)), _MAX_TREES + 1))
    if len(combos) > _MAX_TREES:
        return None
    return [(kind, tuple(c)) for c in combos]


def _shape(node: Any) -> tuple[str, list[Any]] | None:
    """The node kind of an expression whose type follows its arguments', and those."""
    if isinstance(node, ast.FuncCall):
        names = [getattr(n, "sval", None) for n in node.funcname or ()]
        if len(names) == 2 and names[0] != "pg_catalog":
            return None
        kind = _AGGREGATES.get(str(names[-1]))
        args = node.args or ()
        if kind is None or len(args) != 1 or node.agg_star:
            return None
        return kind, [args[0]]
    if isinstance(node, ast.A_Expr):
        name = [getattr(n, "sval", None) for n in node.name or ()]
        if node.kind == enums.A_Expr_Kind.AEXPR_NULLIF:
            return "nullif", [node.lexpr, node.rexpr]
        if node.kind != enums.A_Expr_Kind.AEXPR_OP or not name or name[-1] not in _ARITHMETIC:
            return None
        if node.lexpr is None:  # unary minus
            return ("same", [node.rexpr]) if name[-1] == "-" else None
        return _ARITHMETIC[str(name[-1])], [node.lexpr, node.rexpr]
    if isinstance(node, ast.CoalesceExpr | ast.MinMaxExpr):
        return "common", list(node.args or ())
    if isinstance(node, ast.CaseExpr):  # PostgreSQL resolves the ELSE first
        return "common", [node.defresult, *(w.result for w in node.args or ())]
    return None


def _constant(node: Any) -> str | None:
    """The type of an input whose type is its own: a constant (``unknown`` for a string
    or NULL), a cast to a type without a typmod, ``count(...)``; None otherwise."""
    if node is None:
        return UNKNOWN  # CASE without ELSE
    if isinstance(node, ast.FuncCall):
        names = [getattr(n, "sval", None) for n in node.funcname or ()]
        plain = len(names) == 1 or names[0] == "pg_catalog"
        return "bigint" if plain and names[-1] == "count" else None
    if isinstance(node, ast.TypeCast):
        typ: Any = node.typeName
        names = [getattr(n, "sval", None) for n in typ.names or ()]
        if typ.typmods or typ.arrayBounds or len(names) > 2:
            return None
        return _CAST_NAMES.get(str(names[-1])) if names[0] in ("pg_catalog", names[-1]) else None
    if not isinstance(node, ast.A_Const):
        return None
    if node.isnull or isinstance(node.val, ast.String):
        return UNKNOWN
    if isinstance(node.val, ast.Integer):
        return "integer"
    if isinstance(node.val, ast.Float):  # an integer too long for int4 is an int8
        digits = str(node.val.fval)
        return "bigint" if digits.isdigit() and int(digits) < 2**63 else "numeric"
    return None


_CAST_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "numeric": "numeric",
    "float4": "real",
    "float8": "double precision",
    "text": "text",
    "varchar": "character varying",
    "bpchar": "character",
}


def columns(tree: TypeExpr) -> set[str]:
    """The column subjects a type expression names."""
    if isinstance(tree, str):
        return {tree} if "." in tree else set()
    return set().union(*(columns(a) for a in tree[1]))


# --- subjects ---------------------------------------------------------------------


def encode(tree: TypeExpr) -> str:
    """The subject text of a type expression, without its column: a chain of classes
    over one column (``sum,mix_int``) when it is one, else ``=`` and the tree."""
    chain = _chain(tree)
    return ",".join(chain) if chain is not None else "=" + _tree_text(tree)


def _chain(tree: TypeExpr) -> list[str] | None:
    classes: list[str] = []
    while not isinstance(tree, str):
        kind, args = tree
        inner = [a for a in args if not isinstance(a, str) or "." in a]
        consts = {a for a in args if isinstance(a, str) and "." not in a}
        if len(inner) != 1:
            return None
        if kind in _UNARY and len(args) == 1:
            classes.append(kind)
        elif kind == "common" and consts <= {UNKNOWN}:
            classes.append("same")
        elif kind == "common" and consts == {"integer"} | (consts & {UNKNOWN}):
            classes.append("mix_int")
        elif kind == "add" and len(args) == 2 and consts in ({"integer"}, {"numeric"}):
            classes.append("op_int" if consts == {"integer"} else "op_num")
        else:
            return None
        tree = inner[0]
    return classes[::-1]


def _tree_text(tree: TypeExpr) -> str:
    if isinstance(tree, str):
        return tree
    return f"{tree[0]}({';'.join(_tree_text(a) for a in tree[1])})"


def decode(column: str, text: str) -> TypeExpr | None:
    """The type expression of a subject's ``column`` and its text after ``|``."""
    if not text.startswith("="):
        tree: TypeExpr = column
        for cls in text.split(","):
            if cls in _UNARY:
                tree = (cls, (tree,))
            elif cls in _BINARY_CLASSES:
                kind, const = _BINARY_CLASSES[cls]
                tree = (kind, (tree, const))
            else:
                return None
        return tree
    parsed, rest = _parse(text[1:])
    return parsed if parsed is not None and not rest else None


def _parse(text: str) -> tuple[TypeExpr | None, str]:
    head = re.match(r"[^;()]*", text)
    token = head.group(0) if head else ""
    rest = text[len(token) :]
    if not rest.startswith("("):
        return (token or None), rest
    args: list[TypeExpr] = []
    rest = rest[1:]
    while True:
        arg, rest = _parse(rest)
        if arg is None:
            return None, rest
        args.append(arg)
        if rest.startswith(";"):
            rest = rest[1:]
        elif rest.startswith(")"):
            return (token, tuple(args)), rest[1:]
        else:
            return None, rest


# --- resolving ----------------------------------------------------------------------


def result_type(tree: TypeExpr, types: Callable[[str], str | None]) -> str | None:
    """The result type of ``tree`` with each column's type from ``types`` (a
    ``format_type`` name, maybe with a collation); None when unknown."""
    found = _resolve(tree, types)
    return None if found is None else str(found)


def _resolve(tree: TypeExpr, types: Callable[[str], str | None]) -> _Type | None:
    if isinstance(tree, str):
        if "." not in tree:
            return _Type(tree)
        named = types(tree)
        found = parse_type(named) if named is not None else None
        return found if found is not None and found.base not in _OPAQUE else None
    kind, args = tree
    inputs = [_resolve(a, types) for a in args]
    if any(i is None for i in inputs):
        return None
    known = [i for i in inputs if i is not None]
    if kind in _UNARY and len(known) == 1:
        table, (one,) = _UNARY[kind], known
        if one.base in table:
            return _Type(table[one.base], "", one.collation)
        return None if kind in _CLOSED else _Type(one.base, "", one.collation)
    if kind == "common":
        return _common(known)
    if kind in ("add", "mod") and len(known) == 2:
        return _arithmetic(kind, known[0], known[1])
    if kind == "nullif" and len(known) == 2:
        return _nullif(known[0], known[1])
    return None


def _nullif(left: _Type, right: _Type) -> _Type | None:
    """The left side as its ``=`` operator with the right takes it: itself (typmod
    too) with a literal, one of its own type, or a number it has an operator with;
    a varchar goes through text's operator."""
    if left.base == "character varying" and right.base in (UNKNOWN, "character varying", "text"):
        return _Type("text", "", left.collation)
    ints = ("smallint", "integer", "bigint")
    floats = ("real", "double precision")
    if (
        right.base in (UNKNOWN, left.base)
        or (left.base in ints and right.base in ints)
        or (left.base in floats and right.base in floats)
        or (left.base == "numeric" and right.base in ints)
    ):
        return left
    if left.base in ints and right.base == "numeric":
        return _Type("numeric")
    return None


def _common(inputs: list[_Type]) -> _Type | None:
    """PostgreSQL's select_common_type and select_common_typmod, for the categories here."""
    typed = [i for i in inputs if i.base != UNKNOWN]
    if not typed:
        return _Type("text")
    collation = _collation(typed)
    if all(i.base == typed[0].base for i in typed):  # a literal among them has no typmod
        same_mod = len(typed) == len(inputs) and all(i.typmod == typed[0].typmod for i in typed)
        return _Type(typed[0].base, typed[0].typmod if same_mod else "", collation)
    first = typed[0].base
    category = next((c for c in (_NUMERIC, _STRING, _DATETIME) if first in c), None)
    if category is None or any(i.base not in category for i in typed):
        return None
    candidate = first
    for other in (i.base for i in typed[1:]):
        if (
            candidate not in _PREFERRED
            and _implicit(candidate, other)
            and not _implicit(other, candidate)
        ):
            candidate = other
    return _Type(candidate, "", collation if candidate in _STRING else "")


def _implicit(source: str, target: str) -> bool:
    if source == target:
        return True
    for ordered in (_NUMERIC, _DATETIME):
        if source in ordered and target in ordered:
            return ordered.index(source) < ordered.index(target)
    return source in _STRING and target in _STRING and (source, target) not in _STRING_ONE_WAY


def _collation(inputs: list[_Type]) -> str:
    explicit = {i.collation for i in inputs} - {""}
    return "" if not explicit else explicit.pop() if len(explicit) == 1 else "?"


def _arithmetic(kind: str, left: _Type, right: _Type) -> _Type | None:
    """``+ - * /`` (``add``) or ``%`` (``mod``) of two numbers; an unknown literal takes
    the other side's type."""
    a = right.base if left.base == UNKNOWN else left.base
    b = left.base if right.base == UNKNOWN else right.base
    if a not in _NUMERIC or b not in _NUMERIC:
        return None
    floats = {a, b} & {"real", "double precision"}
    if floats:
        if kind == "mod":
            return None
        return _Type("real" if a == b == "real" else "double precision")
    return _Type(max(a, b, key=_NUMERIC.index))


def result_type_changes(
    tree: TypeExpr, column: str, old: str, new: str, others: Callable[[str, bool], str | None]
) -> bool:
    """Whether ``tree``'s result type differs when ``column`` goes ``old`` -> ``new`` and
    the other columns are as ``others(subject, after)`` says; unknown: when the
    column's base types differ."""
    before = result_type(tree, lambda c: old if c == column else others(c, False))
    after = result_type(tree, lambda c: new if c == column else others(c, True))
    if before is None or after is None:
        return _untyped(old) != _untyped(new)
    return before != after


def _untyped(type_name: str) -> _Type:
    found = parse_type(type_name)
    return _Type(found.base, "", found.collation)


__all__ = [
    "TypeExpr",
    "columns",
    "decode",
    "derived",
    "encode",
    "parse_type",
    "result_type",
    "result_type_changes",
    "small",
]
