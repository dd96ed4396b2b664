"""Reading facet subjects back: the table a subject is about, a shape's columns.

Subjects are rendered in a few shapes (``public.users.email``,
``public.users(email,name)``, ``public.users/3``, ``public.t<public.s``); the
rules and the DDL engine both read them, so the parsing lives next to the
facets, below both.
"""

from __future__ import annotations

from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import qualified


def table_of_subject(subject: str) -> str:
    """``public.users`` from ``public.users.email``, ``public.users(email)``, ``.../3``."""
    for sep in ("(", "/", "<"):
        if sep in subject:
            return subject.split(sep, 1)[0]
    parts = split_qualified_name(subject)
    if len(parts) >= 3:
        return qualified(parts[0], parts[1])
    return subject


def shape_columns(subject: str) -> list[str] | None:
    """The column names of ``public.t(a,b)`` (rendered with ident), or None."""
    if "(" not in subject or not subject.endswith(")"):
        return None
    inner = subject[subject.index("(") + 1 : -1]
    if not inner:
        return []
    out: list[str] = []
    cur, quoted = "", False
    for ch in inner:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


__all__ = ["shape_columns", "table_of_subject"]
