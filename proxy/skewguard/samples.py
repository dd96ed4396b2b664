"""Query samples as they may leave the proxy: the statement's shape, not its values.

A footprint keeps one sample statement per facet as evidence, and samples reach
the state store, the admin API, the audit and (for override roles) the 55006
DETAIL. Literal values in them may be anyone's data, so by default every
literal is replaced by a placeholder of its type class (strings ``'?'``,
integers ``0``, other numbers ``0.0``, bit strings ``B'0'``/``X'0'``) and
comments are dropped. PostgreSQL's own lexer (through pglast) finds the
literals, so escape strings, dollar quotes and Unicode escapes are all seen as
PostgreSQL sees them; the shape still parses, which the rules that analyse a
sample again rely on.
"""

from __future__ import annotations

from typing import Any

from pglast.parser import ParseError, scan

#: Placeholders by PostgreSQL lexer token; a placeholder keeps the literal's type class.
_PLACEHOLDERS = {
    "SCONST": "'?'",
    "USCONST": "'?'",
    "ICONST": "0",
    "FCONST": "0.0",
    "BCONST": "B'0'",
    "XCONST": "X'0'",
}
_COMMENTS = frozenset({"C_COMMENT", "SQL_COMMENT"})
#: Only this much of a statement is scanned (a few ms at worst, on the learner's turn of
#: the event loop): a sample is short evidence, kept to footprint.SAMPLE_LIMIT characters.
SCAN_LIMIT = 8 * 1024
#: What stands for text the lexer cannot read at all.
UNREADABLE = "(statement not shown: it could not be read as SQL)"


def sample_shape(sql: str) -> str:
    """``sql`` with literals replaced by placeholders and comments dropped.

    A text cut short (past ``SCAN_LIMIT``) or ending inside a literal keeps the
    part before that literal and ends with `` ...``.
    """
    text = sql[:SCAN_LIMIT]
    cut = len(text) < len(sql)
    try:
        tokens = scan(text)
    except ParseError as exc:  # an unterminated literal, comment or quoted name
        where = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        text, cut = text[:where], True
        try:
            tokens = scan(text)
        except ParseError:
            return UNREADABLE
    parts: list[str] = []
    end = 0
    for token in tokens:
        if token.name in _COMMENTS:
            continue
        if token.start > end and parts:
            parts.append(" ")
        parts.append(_PLACEHOLDERS.get(token.name) or text[token.start : token.end + 1])
        end = token.end + 1
    if not parts:
        return UNREADABLE
    if cut:
        parts.append(" ...")
    return "".join(parts)


#: Where a change's stored form (``Change.to_dict``) holds an SQL expression of the
#: migration's, which may hold literal values: a constraint's definition, a dropped
#: default, an index's predicate and expression keys.
_EXPRESSIONS = {
    "AddConstraint": ("new",),
    "DropDefault": ("old",),
    "ChangeDefault": ("old", "new"),
    "CreateIndex": ("detail", "columns"),
    "DropIndex": ("detail", "columns"),
}


def change_shape(change: dict[str, Any]) -> dict[str, Any]:
    """A stored change with its expressions as shapes (literals as placeholders)."""
    keys = [k for k in _EXPRESSIONS.get(change.get("kind", ""), ()) if change.get(k)]
    if not keys:
        return change
    shaped = dict(change)
    for key in keys:
        value = shaped[key]
        shaped[key] = (
            [sample_shape(v) for v in value] if isinstance(value, list) else sample_shape(value)
        )
    return shaped
