"""Schemas, the session's search_path (SET) and extensions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Model

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay


def set_variable(ov: Overlay, m: Model, node: Any) -> None:
    if (node.name or "").lower() != "search_path":
        return
    if node.kind == enums.VariableSetKind.VAR_SET_VALUE:
        values = [
            str(a.val.sval)
            for a in node.args or ()
            if isinstance(a, ast.A_Const) and isinstance(a.val, ast.String)
        ]
        ov._path = tuple(values)


_R = enums.RoleSpecType


def _owner_name(ov: Overlay, role: Any) -> str | None:
    """The schema name ``CREATE SCHEMA AUTHORIZATION role`` takes: the role's name."""
    if role is None:
        raise Rejected
    if role.roletype == _R.ROLESPEC_CSTRING:
        return str(role.rolename)
    if role.roletype in (_R.ROLESPEC_CURRENT_USER, _R.ROLESPEC_CURRENT_ROLE):
        return ov._user
    return None  # SESSION_USER: not followed


def create_schema(ov: Overlay, m: Model, node: Any) -> None:
    name = node.schemaname or _owner_name(ov, node.authrole)
    if name is None:
        raise CannotModel(
            "CREATE SCHEMA AUTHORIZATION: the schema is named after a role not known here"
        )
    if name in m.schemas:
        if node.if_not_exists:
            return
        raise Rejected
    m.schemas[name] = m.new_oid()
    saved = ov._path
    ov._path = (name,)
    try:
        for elt in node.schemaElts or ():
            ov._statement(m, elt)
    finally:
        ov._path = saved


def create_extension(ov: Overlay, m: Model, node: Any) -> None:
    name = str(node.extname)
    if name in m.extensions or name in m.opaque_extensions:
        if node.if_not_exists:
            return
        raise Rejected
    m.opaque_extensions.add(name)
