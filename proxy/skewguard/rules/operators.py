"""User operators dropped or moved: statements name them and resolve them at each planning."""

from __future__ import annotations

from collections.abc import Iterator

from skewguard.analysis.facets import Facet
from skewguard.analysis.facets import FacetKind as F
from skewguard.catalog import split_operator_signature
from skewguard.ddl.changes import DropOperator
from skewguard.ddl.findings import Severity
from skewguard.rules._text import breaks, risks
from skewguard.rules.base import (
    Context,
    Example,
    Hit,
    Rule,
    first_per_version,
    found_through_paths,
)


def check_drop_operator(ctx: Context, change: DropOperator) -> Iterator[Hit]:
    schema, name, _ = split_operator_signature(change.subject)
    what = f"DROP OPERATOR {change.subject}"
    moved = ""
    if change.moved_to:
        new_schema, _, _ = split_operator_signature(change.moved_to)
        moved = f"{new_schema}.{name}"
        what = f"moving operator {change.subject} to {new_schema}"
    # the facet names the operator, not its argument types: another overload of the
    # name left where it was may be the one the statement takes
    overloads = any(split_operator_signature(o)[:2] == (schema, name) for o in ctx.after.operators)
    for v, f, ev in first_per_version(ctx.exact((F.OPERATOR,), f"{schema}.{name}")):
        if moved and found_through_paths(ctx, v, ev.sample, Facet(F.OPERATOR, moved)):
            continue
        if overloads:
            why = f"another {name} in {schema} stays; its argument types may not take the call"
            yield Hit(Severity.RISK, risks(what, v, f, why), v, f, ev)
        else:
            yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


_EQ = (
    "CREATE TABLE t (sku text);"
    " CREATE FUNCTION ci_eq(a text, b text) RETURNS boolean LANGUAGE sql IMMUTABLE"
    " AS 'SELECT lower(a) = lower(b)';"
    " CREATE OPERATOR === (LEFTARG = text, RIGHTARG = text, FUNCTION = ci_eq);"
    " CREATE SCHEMA app"
)

DROP_OPERATOR = Rule(
    id="SG129",
    name="drop-operator-in-use",
    severity=Severity.BREAK,
    summary="DROP OPERATOR or SET SCHEMA of a user operator a version's statements name",
    doc="A statement resolves an operator by name and argument types when it is planned: "
    "once the operator is gone from where the statement's qualified name or search_path "
    "finds it, the statement fails with 42883 (operator does not exist). Built-in operators "
    "(pg_catalog's) are not followed. Only the operator's name is learned: when another "
    "overload of the name stays in the schema, the version is reported as a risk.",
    breaks="Statements naming the operator (``a === b``, ``OPERATOR(s.===)``, ``= ANY``).",
    recipe="Create the operator where the versions will find it (a schema on their "
    "search_path) before moving it, move the versions to it, then drop the old one.",
    covers=(DropOperator,),
    examples=(
        Example(
            _EQ, "SELECT count(*) FROM t WHERE sku === 'a'", "DROP OPERATOR === (text, text)", True
        ),
        Example(
            _EQ,
            "SELECT count(*) FROM t WHERE sku = 'a'",
            "DROP OPERATOR === (text, text)",
            False,
            "no statement names it",
        ),
        Example(
            _EQ,
            "SET search_path = public, app; SELECT count(*) FROM t WHERE sku === 'a'",
            "ALTER OPERATOR === (text, text) SET SCHEMA app",
            False,
            "the version's search_path lists the schema it moves to",
        ),
        Example(
            _EQ,
            "SELECT count(*) FROM t WHERE sku OPERATOR(public.===) 'a'",
            "ALTER OPERATOR === (text, text) SET SCHEMA app",
            True,
            "the qualified name is gone",
        ),
    ),
    check=check_drop_operator,
)

__all__ = ["DROP_OPERATOR"]
