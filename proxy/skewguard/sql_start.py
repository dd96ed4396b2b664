"""The first word of a statement, read exactly as PostgreSQL's scanner reads it.

The hot path decides from this word whether a text can be DDL, so it must
never see a different word than PostgreSQL does: ``--`` comments end at LF *or*
CR, block comments nest (``/* /* */ still a comment */``), and an identifier
runs over letters, digits, ``_``, ``$`` and every non-ASCII byte. Anything
unusual (an unterminated comment, a quoted or escaped word, a byte the
scanner would not skip) gives None: the caller then parses the text.
"""

from __future__ import annotations

import re

#: Blanks every supported PostgreSQL major skips (PostgreSQL 16 added \v; a text
#: starting with \v is left to the parser).
_BLANKS = frozenset(b" \t\n\r\f")
_WORD_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_") | frozenset(
    range(0x80, 0x100)
)
_WORD_REST = _WORD_START | frozenset(b"0123456789$")


def skip_blanks(sql: bytes, pos: int = 0) -> int | None:
    """Position after the blanks and comments at ``pos``; None for an unterminated comment."""
    end = len(sql)
    while pos < end:
        byte = sql[pos]
        if byte in _BLANKS:
            pos += 1
        elif byte == 0x2D and sql[pos + 1 : pos + 2] == b"-":  # -- to the end of the line
            lf, cr = sql.find(b"\n", pos), sql.find(b"\r", pos)
            ends = [at for at in (lf, cr) if at >= 0]
            pos = min(ends) if ends else end
        elif byte == 0x2F and sql[pos + 1 : pos + 2] == b"*":  # /* nested */
            depth, pos = 1, pos + 2
            while depth:
                close = sql.find(b"*/", pos)
                if close < 0:
                    return None
                opening = sql.find(b"/*", pos, close + 1)
                if opening >= 0:
                    depth, pos = depth + 1, opening + 2
                else:
                    depth, pos = depth - 1, close + 2
        else:
            break
    return pos


#: A word right at the start (no blanks or comments before it): the common case, read
#: in C; the same bytes as ``_WORD_START`` then ``_WORD_REST``.
_LEADING_WORD = re.compile(rb"[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*")


def first_word(sql: bytes) -> bytes | None:
    """The statement's first keyword, lower-cased; None when it is not a plain ASCII word."""
    leading = _LEADING_WORD.match(sql)
    if leading is not None:
        word = leading.group()
        return word.lower() if word.isascii() else None
    pos = skip_blanks(sql)
    if pos is None or pos >= len(sql) or sql[pos] not in _WORD_START:
        return None
    start = pos
    end = len(sql)
    while pos < end and sql[pos] in _WORD_REST:
        pos += 1
    word = sql[start:pos]
    if not word.isascii():
        return None  # PostgreSQL folds only ASCII: no keyword has other bytes
    return word.lower()
