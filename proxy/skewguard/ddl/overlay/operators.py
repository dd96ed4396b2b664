"""User operators: created, dropped and moved by their signature.

An operator is named in a statement's text (``a === b``, ``OPERATOR(s.===)``) and
resolved at each planning, so a version breaks when the operator it names is gone
from where its search_path (or its qualified name) finds it. What depends on an
operator inside the schema (a view, an index, a constraint) is not followed: a
DROP ... CASCADE with such dependents is refused as unmodelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skewguard.catalog import ident, operator_signature, split_operator_signature
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Model
from skewguard.ddl.overlay.names import column_type, creation_schema, user_path
from skewguard.ddl.overlay.nodes import name_list

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay


def _arg(ov: Overlay, m: Model, tn: Any) -> str | None:
    return None if tn is None else column_type(ov, m, tn)[1]


def create_operator(ov: Overlay, m: Model, node: Any) -> None:
    """CREATE OPERATOR: a new signature (PostgreSQL refuses one that exists)."""
    names = name_list(node.defnames)
    args = {str(d.defname).lower(): d.arg for d in node.definition or ()}
    schema = creation_schema(ov, m, names[-2] if len(names) > 1 else None)
    left, right = _arg(ov, m, args.get("leftarg")), _arg(ov, m, args.get("rightarg"))
    signature = operator_signature(schema, names[-1], left, right)
    if signature in m.operators:
        raise Rejected
    m.operators.add(signature)


def find_operator(ov: Overlay, m: Model, owa: Any, missing_ok: bool) -> str | None:
    """The signature ``owa`` (an ObjectWithArgs) names: the first schema of the path
    that has it, unless qualified. None when it does not exist and ``missing_ok``."""
    names = name_list(owa.objname)
    args = tuple(owa.objargs or ())
    left, right = (_arg(ov, m, a) for a in (*args, None, None)[:2])
    schemas = [names[-2]] if len(names) > 1 else user_path(ov)
    for schema in schemas:
        signature = operator_signature(schema, names[-1], left, right)
        if signature in m.operators:
            return signature
    if missing_ok:
        return None
    raise Rejected


def drop_operator(ov: Overlay, m: Model, owa: Any, cascade: bool, missing_ok: bool) -> None:
    signature = find_operator(ov, m, owa, missing_ok)
    if signature is None:
        return
    if cascade and signature in m.held_operators:
        raise CannotModel(f"DROP OPERATOR {signature} CASCADE: what depends on it is not modelled")
    m.operators.discard(signature)


def move_operator(ov: Overlay, m: Model, owa: Any, new_schema: str, missing_ok: bool) -> None:
    """ALTER OPERATOR ... SET SCHEMA: the signature moves; the diff tells it from a drop."""
    signature = find_operator(ov, m, owa, missing_ok)
    if signature is None:
        return
    _, name, args = split_operator_signature(signature)
    moved = f"{ident(new_schema)}.{name}{args}"
    if moved in m.operators:
        raise Rejected
    move_signature(m, signature, moved)


def move_signature(m: Model, signature: str, moved: str) -> None:
    """The operator ``signature`` is ``moved`` now (its schema moved or was renamed)."""
    m.operators.discard(signature)
    m.operators.add(moved)
    first = next((k for k, v in m.operator_moves.items() if v == signature), signature)
    m.operator_moves[first] = moved
