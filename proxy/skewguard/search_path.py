"""The search_path a session resolves names with, and statements that change it.

Analysis resolves unqualified names per session, so the relay follows
``SET search_path`` (and RESET/DISCARD ALL) as statements pass. Values set in
the startup ``options`` are honoured; per-role or per-database defaults set with
ALTER ROLE/DATABASE are not seen and the server default ``"$user", public`` is
assumed.
"""

from __future__ import annotations

import pglast
from pglast import ast, enums

from skewguard.identity import parse_options

DEFAULT = ("$user", "public")


def parse_path(text: str) -> tuple[str, ...]:
    """``'"$user", public'`` → ("$user", "public"); quoted names keep their case."""
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        if len(name) >= 2 and name[0] == name[-1] == '"':
            names.append(name[1:-1].replace('""', '"'))
        else:
            names.append(name.lower())
    return tuple(names)


def startup_path(params: dict[str, str]) -> tuple[str, ...]:
    """The session's initial search_path from its startup packet."""
    value = parse_options(params.get("options", "")).get("search_path")
    return parse_path(value) if value is not None else DEFAULT


def search_path_change(sql: str, reset_to: tuple[str, ...]) -> tuple[str, ...] | None:
    """The search_path after ``sql`` runs, or None when it does not change it."""
    try:
        statements = pglast.parse_sql(sql)
    except pglast.parser.ParseError:
        return None
    result: tuple[str, ...] | None = None
    kind = enums.VariableSetKind
    for raw in statements:
        stmt = raw.stmt
        if isinstance(stmt, ast.DiscardStmt) and stmt.target == enums.DiscardMode.DISCARD_ALL:
            result = reset_to
        elif not isinstance(stmt, ast.VariableSetStmt) or stmt.is_local:
            continue
        elif stmt.kind == kind.VAR_RESET_ALL:
            result = reset_to
        elif stmt.name != "search_path":
            continue
        elif stmt.kind in (kind.VAR_RESET, kind.VAR_SET_DEFAULT):
            result = reset_to
        elif stmt.kind == kind.VAR_SET_VALUE:
            names = []
            for arg in stmt.args or ():
                if isinstance(arg, ast.A_Const) and isinstance(arg.val, ast.String):
                    names.append(str(arg.val.sval))
            # SET search_path TO a, "B" arrives as separate constants, already case-folded
            result = tuple(names)
    return result
