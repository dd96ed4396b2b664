"""pglast's parse with room on the stack for the text it is given.

pglast builds its Python tree from PostgreSQL's by C recursion, one call per level, and a
left-deep chain (``1+1+1…``, ``UNION``, ``JOIN``, ``::`` casts) nests one level every few
bytes with no limit from PostgreSQL's grammar (unlike parentheses, which its parser stack
bounds): about 24,000 levels of ``+1`` (48 kB) overflow an 8 MiB stack and end the whole
process with SIGSEGV, not with an error. So a text short enough to fit any thread's stack
is parsed where it is, and a longer one on a thread whose stack grows with its length.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pglast
from pglast.parser import ParseError

#: Texts up to this many bytes nest at most ~2,000 levels (about 1 MiB of stack).
_IN_PLACE = 4096
#: Stack per byte of text for the deeper ones: the worst measured is ~180 (``+1`` chains,
#: ~360 bytes per level); the rest is margin, and only what is used is ever touched.
_STACK_PER_BYTE = 512
_STACK_BASE = 16 << 20
_spawning = threading.Lock()  # threading.stack_size is process-wide


def parse_sql(sql: str) -> tuple[Any, ...]:
    """``pglast.parse_sql``, which cannot overflow the C stack; ParseError as it raises."""
    if len(sql) <= _IN_PLACE // 4:  # four UTF-8 bytes per character at most
        return pglast.parse_sql(sql)
    size = len(sql.encode())
    if size <= _IN_PLACE:
        return pglast.parse_sql(sql)
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(pglast.parse_sql(sql))
        except Exception as exc:  # ParseError and whatever else pglast raises
            outcome.append(exc)

    thread = threading.Thread(target=run, name="skewguard-parse", daemon=True)
    with _spawning:
        previous = threading.stack_size(_STACK_BASE + _STACK_PER_BYTE * size)
        try:
            thread.start()
        except (RuntimeError, MemoryError) as exc:  # no memory for the stack
            raise ParseError(f"too large to read here ({exc})", 0) from exc
        finally:
            threading.stack_size(previous)
    thread.join()
    result: tuple[Any, ...] | Exception = outcome[0]
    if isinstance(result, Exception):
        raise result
    return result


#: Texts longer than this are parsed a statement at a time (``parse_statements``).
SPLIT_ABOVE = 16384


def parse_statements(sql: str) -> Iterator[Any]:
    """``parse_sql``'s statements (ParseError at once, as it raises), for a long text
    parsed one at a time as they are taken: pglast builds a tree holding the GIL, and
    a worker thread holding the trees of ``SELECT 1;`` x 100,000 at once held the event
    loop (every session) for ~1 s (the build, the garbage collector walking them, their
    release); one statement's tree at a time lets the loop in between. Locations are
    then each statement's own."""
    if len(sql) <= SPLIT_ABOVE:
        return iter(parse_sql(sql))
    pieces = pglast.parser.split(sql, with_parser=True)
    return (raw for piece in pieces for raw in parse_sql(piece))
