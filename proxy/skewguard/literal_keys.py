"""Literal-insensitive keys for statement texts, so the analysis cache stays small.

Applications that inline values (``WHERE id = 42``) send a new text per call.
Replacing numbers and quoted strings by placeholders of the same type class
maps all those texts to one key. Statements whose facets depend on a literal's
value (an enum label written, a search_path set) are marked literal-sensitive
by the caller and never shared this way.

Two different statements must never get the same key (they would share each
other's analysis), so the text is tokenized as PostgreSQL's scanner reads it:
comments (``--`` to LF or CR, nested ``/* */``) and quoted identifiers are kept
verbatim, ``E''`` strings honour backslash escapes, dollar quotes end at their
own tag. The scan jumps with ``str.find``: time and memory are linear in the
text, whatever its size (a regex with a repeated group keeps a frame per
character: ~140 bytes per byte of a 100 MB literal).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

#: Where a token the key cares about may start.
_INTERESTING = re.compile(r"""['"$0-9]|--|/\*""")
_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\U0010ffff][\w$\x80-\U0010ffff]*)?\$")
_ESCAPED_END = re.compile(r"['\\]")
_PREFIXES = frozenset("eEbBxXnN")
#: Texts with none of these hold no string, quoted name or comment: numbers are
#: their only literals, replaced in one regex pass (single-character repeats only).
_QUOTES_OR_COMMENTS = re.compile(r"""['"$]|--|/\*""")
_BARE_NUMBER = re.compile(r"(?<![\w$.])\d+(\.\d*)?([eE][+-]?\d+)?(?![\w.])")


def _number(match: re.Match[str]) -> str:
    return "0" if match.group(1) is None and match.group(2) is None else "0.0"


def _is_word_char(ch: str) -> bool:
    return ch != "" and (ch.isalnum() or ch in "_$" or ch >= "\x80")


def _string_end(sql: str, pos: int, *, backslashes: bool) -> int:
    """Index after the string literal whose opening quote is at ``pos`` (len if unterminated)."""
    end = len(sql)
    at = pos + 1
    while True:
        if backslashes:
            found = _ESCAPED_END.search(sql, at)
            close = found.start() if found else -1
        else:
            close = sql.find("'", at)
        if close < 0:
            return end
        if sql[close] == "\\":
            at = close + 2
        elif sql.startswith("'", close + 1):
            at = close + 2  # '' is a quote inside the string
        else:
            return close + 1


def _comment_end(sql: str, pos: int) -> int:
    """Index after the comment starting at ``pos`` (len if unterminated)."""
    end = len(sql)
    if sql.startswith("--", pos):
        ends = [at for at in (sql.find("\n", pos), sql.find("\r", pos)) if at >= 0]
        return min(ends) if ends else end
    depth, at = 1, pos + 2
    while depth:
        close = sql.find("*/", at)
        if close < 0:
            return end
        opening = sql.find("/*", at, close + 1)
        if opening >= 0:
            depth, at = depth + 1, opening + 2
        else:
            depth, at = depth - 1, close + 2
    return at


def literal_key(sql: str) -> str:
    """``sql`` with every literal replaced by a placeholder of its kind."""
    if _QUOTES_OR_COMMENTS.search(sql) is None:
        return _BARE_NUMBER.sub(_number, sql)
    return _rewrite(sql, _scan(sql), lambda _, text: _placeholder(text))


def _placeholder(literal: str) -> str:
    if not literal[0].isdigit():
        return "''"
    return "0.0" if ("." in literal or "e" in literal or "E" in literal) else "0"


def _rewrite(sql: str, spans: Iterable[tuple[int, int]], replace: Callable[[int, str], str]) -> str:
    """``sql`` with the k-th literal span replaced by ``replace(k, literal)``."""
    out: list[str] = []
    copied = 0  # sql[:copied] is in out
    for ordinal, (start, end) in enumerate(spans):
        out.append(sql[copied:start])
        out.append(replace(ordinal, sql[start:end]))
        copied = end
    out.append(sql[copied:])
    return "".join(out)


def _spans(sql: str) -> Iterator[tuple[int, int]]:
    """Where the literals :func:`literal_key` replaces are, in order."""
    if _QUOTES_OR_COMMENTS.search(sql) is None:
        return (m.span() for m in _BARE_NUMBER.finditer(sql))
    return _scan(sql)


def _scan(sql: str) -> Iterator[tuple[int, int]]:
    """The literal spans of a text with quotes or comments, read as PostgreSQL does."""
    pos = 0
    while (found := _INTERESTING.search(sql, pos)) is not None:
        start = found.start()
        ch = sql[start]
        before = sql[start - 1] if start else ""
        if ch == "'":
            prefix = start
            if before in _PREFIXES and (start < 2 or not _is_word_char(sql[start - 2])):
                prefix = start - 1
            elif before == "&" and sql[start - 2 : start - 1] in ("u", "U"):
                if start < 3 or not _is_word_char(sql[start - 3]):
                    prefix = start - 2
            elif before and _is_word_char(before):
                prefix = -1  # not a string start PostgreSQL would read: keep verbatim
            backslashes = prefix == start - 1 and before in "eE"
            pos = _string_end(sql, start, backslashes=backslashes)
            if prefix >= 0:
                yield prefix, pos
        elif ch == '"':
            close = start
            while True:  # "" is a quote inside a quoted identifier
                close = sql.find('"', close + 1)
                if close < 0 or not sql.startswith('"', close + 1):
                    break
                close += 1
            pos = len(sql) if close < 0 else close + 1
        elif ch in "-/":
            pos = _comment_end(sql, start)
        elif ch == "$":
            tag = _DOLLAR_TAG.match(sql, start)
            if tag is None or (before and _is_word_char(before)):
                pos = start + 1  # a $n parameter, or part of an identifier
            else:
                close = sql.find(tag.group(), tag.end())
                pos = len(sql) if close < 0 else close + len(tag.group())
                yield start, pos
        else:
            number = _NUMBER.match(sql, start)
            assert number is not None  # a digit starts every match of _NUMBER
            pos = number.end()
            after = sql[pos : pos + 1]
            if before == "." or _is_word_char(before) or after == "." or _is_word_char(after):
                # part of an identifier, a $n parameter or a qualified name: keep it whole
                while pos < len(sql) and _is_word_char(sql[pos]):
                    pos += 1
                continue
            yield start, pos


#: First number a marker uses: an int4, so a marked text parses to the same node types.
MARK_BASE = 1_000_000
#: A private-use character no application string starts with, then the literal's ordinal.
MARK_CHAR = "\ue000"


def literal_texts(sql: str) -> list[str]:
    """Every literal :func:`literal_key` replaces, in order, as written."""
    return [sql[start:end] for start, end in _spans(sql)]


def marked_key(sql: str) -> str:
    """``sql`` with the k-th literal replaced by a marker that says k.

    Numbers become ``MARK_BASE + k`` (with ``.5`` for non-integers) and strings
    ``'<MARK_CHAR>k'``: a marked text has the literal-insensitive shape of
    :func:`literal_key`, and where a literal lands in its analysis says which
    literal of any text of that shape it is.
    """

    def mark(ordinal: int, literal: str) -> str:
        if not literal[0].isdigit():
            return f"'{MARK_CHAR}{ordinal}'"
        fraction = "." in literal or "e" in literal or "E" in literal
        return f"{MARK_BASE + ordinal}{'.5' if fraction else ''}"

    return _rewrite(sql, _spans(sql), mark)
