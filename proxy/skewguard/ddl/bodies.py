"""What a routine's source names: PostgreSQL plans an SQL or PL/pgSQL string body at each
call (PL/pgSQL at its first call in a session), not when the tables it names change, so
a change of what a body names reaches the versions calling the routine."""

from __future__ import annotations

import re

from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import Function

_WORD = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_\x80-\uffff][\w$\x80-\uffff]*)')


def body_words(body: str) -> frozenset[str]:
    """The names a source may use, as the catalog spells them: unquoted words folded to
    lower case, quoted ones as written (a superset: keywords and strings too)."""
    return frozenset(
        quoted.replace('""', '"') if quoted else bare.lower()
        for quoted, bare in _WORD.findall(body)
    )


def names_column(body: str, column: str) -> bool:
    """The function source names ``column`` (as a word, in any case): a DROP or RENAME of
    the column may make the function fail when it runs. PL/pgSQL bodies are compiled
    at their first call in a session, not checked against the table."""
    word = re.escape(column)
    return re.search(rf'(?<![\w$"]){word}(?![\w$"])|"{word}"', body, re.IGNORECASE) is not None


def body_names(fn: Function, relation: str, column: str = "") -> bool:
    """Whether the SQL or PL/pgSQL source of ``fn`` names ``relation`` (and ``column``),
    as words: PostgreSQL plans a string body at each call, after the change, so a call
    fails when what the body names is gone or has another type (a BEGIN ATOMIC body is
    empty: PostgreSQL tracks its dependencies and refuses the change itself)."""
    parts = split_qualified_name(relation)
    body = fn.body[1] if fn.body else ""
    return (
        len(parts) == 2
        and names_column(body, parts[1])
        and (not column or names_column(body, column))
    )


__all__ = ["body_names", "body_words", "names_column"]
