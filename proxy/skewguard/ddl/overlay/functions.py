"""CREATE FUNCTION / PROCEDURE: the signature, and the body of a trigger function that only
fills NEW's fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.catalog import BODY_LIMIT, FuncKind, Function, inline_key
from skewguard.ddl.errors import Rejected
from skewguard.ddl.model import Model
from skewguard.ddl.opaque import replaced_trigger_function
from skewguard.ddl.overlay.names import arg_types, creation_schema, user_path
from skewguard.ddl.overlay.nodes import name_list
from skewguard.ddl.triggers import row_filler
from skewguard.ddl.types import format_type

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay


def create_function(ov: Overlay, m: Model, node: Any) -> None:
    replaced_trigger_function(ov.scope(m), node)
    names = name_list(node.funcname)
    schema = creation_schema(ov, m, names[-2] if len(names) > 1 else None)
    cat = m.to_catalog()
    params = node.parameters or ()
    args = arg_types(ov, cat, params, ())
    modes = enums.FunctionParameterMode
    n_defaults = sum(1 for p in params if p.defexpr is not None)
    outputs = (modes.FUNC_PARAM_OUT, modes.FUNC_PARAM_TABLE)
    input_names = tuple(str(p.name or "") for p in params if p.mode not in outputs)
    variadic = any(p.mode == modes.FUNC_PARAM_VARIADIC for p in params)
    out_columns = tuple(
        f"{p.name or ''} {format_type(p.argType, cat, user_path(ov))[1]}"
        for p in params
        if p.mode in (*outputs, modes.FUNC_PARAM_INOUT)
    )
    # since PostgreSQL 14 a CALL passes an argument for each OUT parameter of a procedure
    has_out = any(p.mode == modes.FUNC_PARAM_OUT for p in params)
    call_types = (
        tuple(format_type(p.argType, cat, user_path(ov))[1] for p in params)
        if node.is_procedure and has_out
        else ()
    )
    if node.returnType is not None:
        ret = format_type(node.returnType, cat, user_path(ov))[1]
        setof = bool(node.returnType.setof)
    else:
        ret, setof = ("void" if node.is_procedure else "record"), False
    options = {str(o.defname): o.arg for o in node.options or ()}
    source, language = options.get("as"), options.get("language")
    plpgsql = isinstance(language, ast.String) and str(language.sval).lower() == "plpgsql"
    fn = Function(
        schema,
        names[-1],
        args,
        ret,
        kind=FuncKind.PROCEDURE if node.is_procedure else FuncKind.FUNCTION,
        n_defaults=n_defaults,
        variadic=variadic,
        returns_set=setof,
        trigger_body=str(source[0].sval) if ret == "trigger" and plpgsql and source else None,
        body=_body(node, options) if ret != "trigger" else None,
        arg_names=input_names,
        out_columns=out_columns,
        inline_key=_inline_key(node, options),
        call_types=call_types,
    )
    for oid, f in m.funcs.items():
        if f.signature == fn.signature:
            if not node.replace:
                raise Rejected
            m.funcs[oid] = fn
            _remember_filler(ov, fn)
            return
    m.funcs[m.new_oid()] = fn
    _remember_filler(ov, fn)


def _body(node: Any, options: dict[str, Any]) -> tuple[str, str] | None:
    """The routine's language and source as the catalog reads them (``Function.body``): a
    BEGIN ATOMIC body's source is empty."""
    language = options.get("language")
    lang = str(language.sval).lower() if isinstance(language, ast.String) else "sql"
    source = options.get("as")
    text = "" if node.sql_body is not None or not source else str(source[0].sval)
    return (lang, text) if lang in ("sql", "plpgsql") and len(text) <= BODY_LIMIT else None


def _inline_key(node: Any, options: dict[str, Any]) -> str | None:
    """The function's :func:`~skewguard.catalog.inline_key`, as PostgreSQL stores it."""
    language = options.get("language")
    lang = str(language.sval) if isinstance(language, ast.String) else "sql"
    source = options.get("as")
    body = None if node.sql_body is not None or not source else str(source[0].sval)
    volatility = options.get("volatility")
    strict = options.get("strict")
    security = options.get("security")
    return inline_key(
        language=lang if language is not None or node.sql_body is not None else "",
        body=body,
        volatility=str(volatility.sval)[0] if isinstance(volatility, ast.String) else "v",
        strict=isinstance(strict, ast.Boolean) and bool(strict.boolval),
        plain=not node.is_procedure
        and not (isinstance(security, ast.Boolean) and security.boolval)
        and "set" not in options,
    )


def _remember_filler(ov: Overlay, fn: Function) -> None:
    """Keep a trigger function's body when it only fills NEW's fields (CREATE TRIGGER
    with it is then judged harmless where that holds)."""
    filler = row_filler("plpgsql", fn.trigger_body) if fn.trigger_body else None
    if filler is None:
        ov._fillers.pop(fn.signature, None)
    else:
        ov._fillers[fn.signature] = filler
