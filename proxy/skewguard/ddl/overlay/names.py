"""Names resolved as PostgreSQL resolves them for the session: the search_path, relations,
indexes, enums, column types and function signatures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pglast import enums

from skewguard.catalog import CatalogSnapshot, qualified
from skewguard.ddl.errors import Rejected
from skewguard.ddl.model import Model
from skewguard.ddl.overlay.nodes import name_list
from skewguard.ddl.types import format_type
from skewguard.temporary import is_temp_schema, made_temporary

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay


def user_path(ov: Overlay) -> list[str]:
    out: list[str] = []
    for s in ov._path:
        if s == "$user":
            if ov._user is not None:
                out.append(ov._user)
        elif s != "pg_catalog" and not s.startswith("pg_temp"):
            out.append(s)
    return out


def creation_schema(ov: Overlay, m: Model, schema: str | None) -> str:
    if schema is not None:
        if schema not in m.schemas:
            raise Rejected
        return schema
    for s in user_path(ov):
        if s in m.schemas:
            return s
    raise Rejected


def new_relation(ov: Overlay, m: Model, rv: Any, if_not_exists: bool) -> tuple[str, str] | None:
    """Schema and name of the relation a CREATE makes; None when it makes none other
    sessions see (temporary, or IF NOT EXISTS and the name is taken)."""
    if made_temporary(rv):
        ov._temporary |= {str(rv.relname)}
        return None  # temporary: invisible to every other session
    schema = creation_schema(ov, m, rv.schemaname)
    name = str(rv.relname)
    if m.rel_oid(schema, name) is not None:
        if if_not_exists:
            return None
        raise Rejected
    return schema, name


def temporary_answers(ov: Overlay, m: Model, schema: str | None, name: str) -> bool:
    """``schema.name`` (unqualified: None) finds the session's temporary relation:
    pg_temp is searched first unless the search_path lists it after a schema that
    holds the name."""
    if schema is not None:
        return is_temp_schema(schema)
    if name not in ov._temporary:
        return False
    if not any(is_temp_schema(s) for s in ov._path):
        return True  # not listed: searched first
    for s in ov._path:
        if is_temp_schema(s):
            return True
        if m.rel_oid((ov._user or "") if s == "$user" else s, name) is not None:
            return False
    return True


def find_rel(ov: Overlay, m: Model, schema: str | None, name: str) -> int | None:
    """The modelled relation a name finds (None: none, or the session's temporary one)."""
    if temporary_answers(ov, m, schema, name):
        return None
    if schema is not None:
        return m.rel_oid(schema, name)
    for s in user_path(ov):
        oid = m.rel_oid(s, name)
        if oid is not None:
            return oid
    return None


def find_rv(ov: Overlay, m: Model, rv: Any, missing_ok: bool = False) -> int | None:
    oid = find_rel(ov, m, rv.schemaname, str(rv.relname))
    if oid is None and not missing_ok:
        raise Rejected
    return oid


def find_by_names(ov: Overlay, m: Model, names: list[str], missing_ok: bool) -> int | None:
    schema = names[-2] if len(names) > 1 else None
    oid = find_rel(ov, m, schema, names[-1])
    if oid is None and not missing_ok:
        raise Rejected
    return oid


def find_index(ov: Overlay, m: Model, names: list[str]) -> int | None:
    schema = names[-2] if len(names) > 1 else None
    schemas = [schema] if schema else user_path(ov)
    for s in schemas:
        for oid, i in m.idxs.items():
            t = m.rels[m.idx_rel[oid]]
            if i.name == names[-1] and t.schema == s:
                return oid
    return None


def find_enum(ov: Overlay, m: Model, names: list[str]) -> int | None:
    schemas = [names[-2]] if len(names) > 1 else user_path(ov)
    for s in schemas:
        oid = m.enum_oid(s, names[-1])
        if oid is not None:
            return oid
    return None


def find_user_type(ov: Overlay, m: Model, names: list[str]) -> str | None:
    """The qualified name of the user type (not an enum) ``names`` resolves to."""
    schemas = [names[-2]] if len(names) > 1 else user_path(ov)
    return next((q for s in schemas if (q := qualified(s, names[-1])) in m.types), None)


def column_type(ov: Overlay, m: Model, tn: Any) -> tuple[str, str]:
    full, base = format_type(tn, m.types_catalog(), user_path(ov))
    plain = base.removesuffix("[]")
    if "." not in plain and m.types:  # a domain/composite created through the overlay
        names = name_list(tn.names)
        schemas = [names[-2]] if len(names) > 1 else user_path(ov)
        for s in schemas:
            q = qualified(s, plain)
            if q in m.types:
                return full.replace(plain, q, 1), base.replace(plain, q, 1)
    return full, base


def column_collation(cd: Any) -> str:
    """The collation a ColumnDef's COLLATE names ("": none, or the type's own default),
    as ``Column.collation`` holds it."""
    clause = getattr(cd, "collClause", None)
    if clause is None:
        return ""
    name = name_list(clause.collname)[-1]
    return "" if name == "default" else name


def functions_of(ov: Overlay, m: Model, owa: Any, missing_ok: bool) -> list[int]:
    names = name_list(owa.objname)
    schemas = [names[-2]] if len(names) > 1 else user_path(ov)
    cat = m.to_catalog()
    for s in schemas:
        found = [o for o, f in m.funcs.items() if f.schema == s and f.name == names[-1]]
        if not found:
            continue
        if owa.args_unspecified:
            return found
        wanted = arg_types(ov, cat, owa.objfuncargs or (), owa.objargs or ())
        # a procedure is named by its input arguments or, since PostgreSQL 14, by all of
        # them, OUT ones included (as a CALL passes them)
        exact = [o for o in found if wanted in (m.funcs[o].arg_types, m.funcs[o].positional_types)]
        if exact:
            return exact
    if missing_ok:
        return []
    raise Rejected


def arg_types(ov: Overlay, cat: CatalogSnapshot, params: Any, types: Any) -> tuple[str, ...]:
    out: list[str] = []
    if params:
        for p in params:
            if p.mode in (
                enums.FunctionParameterMode.FUNC_PARAM_OUT,
                enums.FunctionParameterMode.FUNC_PARAM_TABLE,
            ):
                continue
            out.append(format_type(p.argType, cat, user_path(ov))[1])
        return tuple(out)
    return tuple(format_type(t, cat, user_path(ov))[1] for t in types)
