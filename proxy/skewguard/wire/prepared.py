"""Which SQL each prepared statement of a connection runs.

PostgreSQL keeps one namespace per session for protocol-level (Parse) and
SQL-level (PREPARE) statements. The unnamed statement is replaced by the next
unnamed Parse and destroyed by any simple Query. Tracking this lets analysis
know what a later Bind/Execute runs without looking at those messages.
"""

from __future__ import annotations

import re

from pglast import ast, split
from pglast.parser import ParseError

from skewguard.sql_parse import parse_sql
from skewguard.wire.errors import ProtocolViolation

# An identifier: quoted, or plain (letters incl. any non-ASCII byte, digits, _ and $).
_NAME = rb"(\"(?:[^\"]|\"\")+\"|[A-Za-z_\x80-\xff][\w$\x80-\xff]*)"
# Comments and blanks a statement may start with (one level of /* */ is enough here).
_LEADING = re.compile(rb"(?:\s|--[^\n]*(?:\n|$)|/\*(?:[^*]|\*(?!/))*\*/)*")
# DEALLOCATE [PREPARE] name | ALL, and DISCARD ALL; PREPARE name [(types)] AS stmt
_DEALLOCATE = re.compile(rb"deallocate\s+(?:prepare\s+)?" + _NAME + rb"\s*;?\s*$", re.I)
_DISCARD_ALL = re.compile(rb"discard\s+all\s*;?\s*$", re.I)
# Parameter types may carry typmods: PREPARE p (numeric(10, 2), varchar(20)) AS ...
_PREPARE = re.compile(
    rb"prepare\s+" + _NAME + rb"(?:\s*\((?:[^()]|\([^()]*\))*\)\s*|\s+)as\s+(.*)$", re.I | re.S
)
_SNIFF = re.compile(rb"deallocate|discard|prepare", re.I)


def _ident(raw: bytes) -> str:
    if raw.startswith(b'"'):
        return raw[1:-1].replace(b'""', b'"').decode("utf-8", "replace")
    # PostgreSQL folds only ASCII letters of an unquoted name.
    return raw.lower().decode("utf-8", "replace")


#: Portals of statements the proxy must read (see ``to_read``) one connection may hold
#: open through it (PostgreSQL keeps them until the transaction ends; the proxy must know
#: what each one runs). Portals of plain statements are not kept, so are not counted.
MAX_PORTALS = 10_000
#: Named statements, and characters of their texts, one connection may hold through the
#: proxy: it must know what each one runs (forgetting one would let its Execute pass
#: unread), and one client must not fill the memory every other connection shares.
MAX_STATEMENTS = 100_000
MAX_STATEMENT_CHARS = 64 << 20


def _either(texts: tuple[str, ...]) -> str:
    """One text standing for those a statement name may hold: each statement that parses
    alone (so none can swallow another)."""
    parsed = [text for text in texts if _parses(text)]
    return "\n;\n".join(parsed) if parsed else texts[-1]


def _parses(sql: str) -> bool:
    try:
        parse_sql(sql)
    except ParseError:
        return False
    return True


class PreparedStatements:
    """Statement name → SQL text, and which portals run a text to read at Execute.

    Whether a statement's text must be read (it may be DDL, transaction control
    or a setting change) is decided once, at Parse; a portal keeps the text its
    statement had when it was bound, even if the statement is closed or
    re-parsed later, and only when that text must be read, so an Execute of a
    plain statement costs one dict lookup.
    """

    __slots__ = ("_by_name", "_chars", "_ghosts", "_portals", "_texts", "_to_read", "unsettled")

    def __init__(self) -> None:
        self._by_name: dict[str, str] = {}
        self._texts: dict[str, tuple[str, ...]] = {}  # a name parsed again: every text
        # texts of closed names PostgreSQL may still hold: it skips a Close (or refuses a
        # DEALLOCATE) after an error, and then keeps the statement
        self._ghosts: dict[str, tuple[str, ...]] = {}
        #: names closed since the last ``settle``
        self.unsettled: set[str] = set()
        self._chars = 0  # of every text kept
        self._to_read: set[str] = set()  # statements whose text is read at Execute
        self._portals: dict[str, str | None] = {}

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> str | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def on_parse(self, name: str, sql: str, *, to_read: bool) -> None:
        """A Parse (or SQL PREPARE) of ``name``.

        PostgreSQL refuses a second statement of a name it holds (42P05) and keeps
        the first; when the first failed, it holds the second. Which one it holds is
        not known here, so a name parsed again without a Close runs either text:
        the name stands for both, and both are read (a text that does not parse
        alone is one PostgreSQL never held).
        """
        old = self._by_name.get(name)
        texts: tuple[str, ...] = ()
        if name:
            before = self._cost(name)
            held = self._texts.get(name, (old,) if old is not None else ())
            held += self._ghosts.pop(name, ())
            if any(text != sql for text in held):
                texts = tuple(dict.fromkeys((*held, sql)))
                sql, to_read = _either(texts), True
        else:  # the unnamed statement: one text, never a ghost (the next Parse replaces it)
            before = len(old) if old is not None else 0
        chars = self._chars - before + len(sql) + sum(map(len, texts))
        if old is None and len(self._by_name) >= MAX_STATEMENTS:
            raise ProtocolViolation(
                f"skewguard: more than {MAX_STATEMENTS} prepared statements on one connection"
            )
        if chars > MAX_STATEMENT_CHARS:
            raise ProtocolViolation(
                f"skewguard: prepared statements of one connection over {MAX_STATEMENT_CHARS} "
                "characters"
            )
        self._by_name[name] = sql
        if texts:
            self._texts[name] = texts
        self._chars = chars
        if to_read:
            self._to_read.add(name)
        else:
            self._to_read.discard(name)

    def on_close(self, kind: str, name: str) -> None:
        """Close of a statement ('S') or a portal ('P')."""
        if kind == "P":
            self._portals.pop(name, None)
        else:
            self._close(name)

    def on_bind(self, portal: str, name: str) -> str | None:
        """Bind: ``portal`` now runs statement ``name``'s text (returned; None if unknown)."""
        sql = self._by_name.get(name)
        if name in self._ghosts:  # closed, but PostgreSQL may have skipped or refused that
            sql = _either(self._held(name))
        elif name not in self._to_read:
            # a portal of a plain statement needs no memory: an unknown portal reads as
            # plain, so a client holding many open portals (PostgreSQL keeps them until
            # the transaction ends) only counts those that run text the proxy must read
            self._portals.pop(portal, None)
            return sql
        if portal not in self._portals and len(self._portals) >= MAX_PORTALS:
            raise ProtocolViolation(
                f"skewguard: more than {MAX_PORTALS} open portals on one connection"
            )
        self._portals[portal] = sql
        return sql

    def portal_sql(self, portal: str) -> str | None:
        """The text an Execute of ``portal`` runs, when it must be read (else None)."""
        sql = self._portals.get(portal)
        if sql is not None and self.may_execute_held(sql.encode()):
            return self.expand_executes(sql)
        return sql

    def may_execute_held(self, sql: bytes) -> bool:
        """``sql`` may run, by SQL ``EXECUTE name``, a named statement whose text must be
        read: the namespace is one, so EXECUTE runs a protocol-level DDL statement too."""
        held = len(self._to_read) > ("" in self._to_read) or bool(self._ghosts)
        return held and b"execute" in sql.lower()

    def expand_executes(self, sql: str) -> str:
        """``sql`` with each ``EXECUTE name`` statement replaced by what ``name`` may run,
        when that text must be read (``sql`` itself when there is none)."""
        try:
            parts = split(sql)
        except Exception:  # the server rejects the whole text too
            return sql
        out: list[str] = []
        for part in parts:
            try:
                stmt = parse_sql(part)[0].stmt
            except ParseError:
                stmt = None
            held = self._held(str(stmt.name)) if isinstance(stmt, ast.ExecuteStmt) else ()
            out.append(_either(held) if held else part)
        return ";\n".join(out) if out != list(parts) else sql

    def _held(self, name: str) -> tuple[str, ...]:
        """Every text ``name`` may run, when one must be read (else nothing): its text or
        texts, and those of a Close PostgreSQL may have skipped."""
        ghosts = self._ghosts.get(name, ())
        if name not in self._to_read and not ghosts:
            return ()
        text = self._by_name.get(name)
        texts = self._texts.get(name) or ((text,) if text is not None else ())
        return tuple(dict.fromkeys((*texts, *ghosts)))

    def forget_unnamed(self) -> None:
        """Any simple Query destroys the unnamed statement and the unnamed portal."""
        if "" in self._by_name:  # else it is nowhere: only a named statement leaves ghosts
            self._drop("")
        self._portals.pop("", None)

    def settle(self, *, ran: bool) -> None:
        """PostgreSQL answered the closes since the last settle: ``ran`` when no error
        came since the first of them (then each one closed what it named)."""
        if ran:
            for name in self.unsettled:
                self._chars -= sum(map(len, self._ghosts.pop(name, ())))
        self.unsettled.clear()

    def _close(self, name: str) -> None:
        """A named statement's texts become ghosts until PostgreSQL is known to have
        closed it; the unnamed one is simply gone (any Parse replaces it)."""
        if not name:
            self._drop(name)
            return
        before = self._cost(name)
        texts = self._texts.pop(name, None)
        text = self._by_name.pop(name, None)
        self._to_read.discard(name)
        if text is not None:
            parts = texts or (text,)
            self._ghosts[name] = tuple(dict.fromkeys((*self._ghosts.get(name, ()), *parts)))
        self._chars += self._cost(name) - before
        self.unsettled.add(name)

    def _cost(self, name: str) -> int:
        """Characters kept for ``name``: its text, every text of a name parsed again, and
        the texts it may still hold after a Close."""
        text = self._by_name.get(name)
        kept = (*self._texts.get(name, ()), *self._ghosts.get(name, ()))
        return (len(text) if text else 0) + sum(map(len, kept))

    def _drop(self, name: str) -> None:
        self._chars -= self._cost(name)
        self._texts.pop(name, None)
        self._ghosts.pop(name, None)
        self._by_name.pop(name, None)
        self._to_read.discard(name)

    def on_query(self, sql: bytes) -> None:
        """A simple Query: drops the unnamed statement; tracks SQL-level PREPARE/DEALLOCATE."""
        self.forget_unnamed()
        if _SNIFF.search(sql) is None:
            return
        try:
            statements = [
                s.encode() for s in split(sql.decode("utf-8", "replace"), with_parser=False)
            ]
        except Exception:  # the scanner gave up: the server will reject it too
            return
        for statement in statements:
            self._on_sql_statement(statement)

    def _on_sql_statement(self, statement: bytes) -> None:
        if lead := _LEADING.match(statement):
            statement = statement[lead.end() :]
        if match := _PREPARE.match(statement):
            # SQL-level PREPARE is rare: its text is read at every Execute
            self.on_parse(
                _ident(match.group(1)),
                match.group(2).decode("utf-8", "replace").strip(),
                to_read=True,
            )
        elif match := _DEALLOCATE.match(statement):
            name = _ident(match.group(1))
            if name == "all" and not match.group(1).startswith(b'"'):
                self._forget_all()
            else:
                self.on_close("S", name)
        elif _DISCARD_ALL.match(statement):
            self._forget_all()

    def _forget_all(self) -> None:
        for name in list(self._by_name):
            self._close(name)
        self.unsettled.update(self._ghosts)  # once it ran, no earlier statement is left
