"""Names PostgreSQL cuts where the proxy's parser does not.

PostgreSQL keeps the first 63 bytes of an identifier (NAMEDATALEN - 1), counted in
the database's encoding; pglast counts them in UTF-8. In a LATIN1 database a column
named with 40 accented letters is 40 bytes and kept whole, but the parser cuts it to
31 letters (62 bytes in UTF-8): the guard would judge a DROP of a column that does
not exist (and pass it) while PostgreSQL drops the one a version reads. Where the
database is not UTF-8, a text naming such an identifier is not judged.
"""

from __future__ import annotations

from pglast.parser import ParseError, scan

#: The bytes PostgreSQL keeps of a name.
NAME_BYTES = 63


def cut_otherwise(text: str, server_encoding: str) -> bool:
    """Whether ``text`` names an identifier PostgreSQL, in a database of
    ``server_encoding``, may cut elsewhere than the parser (which counts UTF-8 bytes).

    A plain or quoted identifier longer than 63 bytes in UTF-8 with a non-ASCII
    character (ASCII is one byte in every server encoding); a ``U&`` one longer than
    63 bytes as written (its escapes may stand for any character)."""
    if server_encoding.upper().replace("-", "") in ("UTF8", "UNICODE"):
        return False
    try:
        tokens = scan(text)
    except ParseError:
        return False  # judged as unparseable elsewhere
    for token in tokens:
        written = text[token.start : token.end + 1]
        if token.name == "UIDENT" and len(written.encode()) > NAME_BYTES:
            return True
        if token.name == "IDENT" and not written.isascii():
            name = written[1:-1].replace('""', '"') if written.startswith('"') else written
            if len(name.encode()) > NAME_BYTES:
                return True
    return False
