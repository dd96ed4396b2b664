"""Literal-insensitive keys for statement texts, so the analysis cache stays small.

Applications that inline values (``WHERE id = 42``) send a new text per call.
Replacing numbers and quoted strings by placeholders of the same type class
maps all those texts to one key, with a regex instead of a parse. Statements
whose facets depend on a literal's value (an enum label written, a search_path
set) are marked literal-sensitive by the caller and never shared this way.
"""

from __future__ import annotations

import re

# Order matters: quoted strings first (they may contain digits), then numbers that
# are not part of an identifier or a $n parameter.
_LITERALS = re.compile(
    r"""(?P<str>(?:[eEbBxXnN]|[uU]&)?'(?:[^']|'')*')"""
    r"""|(?P<dollar>\$(?P<tag>[A-Za-z_]\w*)?\$.*?\$(?P=tag)?\$)"""
    r"""|(?P<num>(?<![\w$.])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?![\w.]))""",
    re.S,
)


def _placeholder(match: re.Match[str]) -> str:
    if match.group("num") is not None:
        text = match.group("num")
        return "0.0" if ("." in text or "e" in text or "E" in text) else "0"
    return "''"


# Texts without quotes or dollar signs (the common inlined-number case) need only
# the number pattern: one pass, the callback runs per number found.
_NUMBER = re.compile(r"(?<![\w$.])\d+(\.\d*)?([eE][+-]?\d+)?(?![\w.])")


def _number(match: re.Match[str]) -> str:
    return "0" if match.group(1) is None and match.group(2) is None else "0.0"


def literal_key(sql: str) -> str:
    """``sql`` with every literal replaced by a placeholder of its kind."""
    if "'" in sql or "$" in sql:
        return _LITERALS.sub(_placeholder, sql)
    return _NUMBER.sub(_number, sql)
