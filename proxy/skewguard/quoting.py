"""A text as PostgreSQL reads it with ``standard_conforming_strings = off``.

With the setting off, a backslash in a plain ``'…'`` literal escapes the next
character, so ``'x\\''`` ends one quote later than pglast (which reads the
setting's default, on) thinks: ``SELECT 'x\\''; DROP TABLE t; --'`` is one
harmless SELECT to pglast and a SELECT then a DROP to a session that turned the
setting off. :func:`with_escape_strings` rewrites the text so that a reader
assuming *on* sees what such a session runs: every plain (and ``N``) literal
becomes an ``E'…'`` literal, whose backslashes escape under either setting.
Comments, quoted identifiers and dollar quotes are read as PostgreSQL's scanner
reads them, so only literals change.
"""

from __future__ import annotations

import re

_DOLLAR_QUOTE = re.compile(r"\$([A-Za-z\x80-\U0010ffff_][A-Za-z\x80-\U0010ffff_0-9]*)?\$")
_PARAMETER = re.compile(r"\$[0-9]+")
_WORD = re.compile(r"[A-Za-z\x80-\U0010ffff_][A-Za-z\x80-\U0010ffff_0-9$]*")
_NUMBER = re.compile(r"[0-9][0-9_.]*")


def with_escape_strings(sql: str) -> str | None:
    """``sql`` rewritten so that its plain literals read as they do with the setting off;
    None when the text does not lex (an unterminated literal, comment or quote)."""
    out: list[str] = []
    i, n = 0, len(sql)
    j: int | None
    while i < n:
        c = sql[i]
        nxt = sql[i + 1 : i + 2]
        if c == "-" and nxt == "-":  # to the end of the line (LF or CR)
            ends = [at for at in (sql.find("\n", i), sql.find("\r", i)) if at >= 0]
            j = min(ends) if ends else n
        elif c == "/" and nxt == "*":
            j = _comment_end(sql, i + 2)
        elif c == '"':
            j = _quoted_end(sql, i + 1, '"', backslash=False)
        elif c == "$":
            match = _DOLLAR_QUOTE.match(sql, i)
            if match is not None:
                close = sql.find(match.group(0), match.end())
                j = None if close < 0 else close + len(match.group(0))
            else:
                param = _PARAMETER.match(sql, i)
                j = param.end() if param is not None else i + 1
        elif c == "'":
            j = _quoted_end(sql, i + 1, "'", backslash=True)
            if j is not None:
                out.append("E")
        elif c in "eE" and nxt == "'":
            j = _quoted_end(sql, i + 2, "'", backslash=True)
        elif c in "nN" and nxt == "'":  # a national literal reads like a plain one
            j = _quoted_end(sql, i + 2, "'", backslash=True)
            if j is not None:
                out.append("E" + sql[i + 1 : j])
                i = j
                continue
        elif c in "bBxX" and nxt == "'":  # bit strings: no escapes under either setting
            j = _quoted_end(sql, i + 2, "'", backslash=False)
        elif c in "uU" and sql[i + 1 : i + 3] in ("&'", '&"'):
            # PostgreSQL refuses U&'…' with the setting off; U&"…" is an identifier
            j = _quoted_end(sql, i + 3, sql[i + 2], backslash=False)
        elif (word := _WORD.match(sql, i)) is not None:
            j = word.end()
        elif (number := _NUMBER.match(sql, i)) is not None:
            j = number.end()
        else:
            j = i + 1
        if j is None:
            return None
        out.append(sql[i:j])
        i = j
    return "".join(out)


def _comment_end(sql: str, pos: int) -> int | None:
    """After a block comment whose body starts at ``pos`` (comments nest)."""
    depth = 1
    while depth:
        close = sql.find("*/", pos)
        if close < 0:
            return None
        opening = sql.find("/*", pos, close)
        if opening >= 0:
            depth, pos = depth + 1, opening + 2
        else:
            depth, pos = depth - 1, close + 2
    return pos


def _quoted_end(sql: str, pos: int, quote: str, *, backslash: bool) -> int | None:
    """After the quote that ends a quoted text whose body starts at ``pos`` (a doubled
    quote is one quote character; with ``backslash``, a backslash escapes the next)."""
    n = len(sql)
    while pos < n:
        c = sql[pos]
        if backslash and c == "\\":
            pos += 2
        elif c == quote:
            if sql[pos + 1 : pos + 2] == quote:
                pos += 2
            else:
                return pos + 1
        else:
            pos += 1
    return None
