"""Per-session DDL gate: follows transactions and asks the guard at the right moment.

Other sessions see a transaction's schema changes only at COMMIT, so DDL inside
an explicit transaction is applied to an overlay and forwarded, and the
decision is taken on the net change when COMMIT arrives. A statement outside a
transaction block (or a multi-statement Query, an implicit transaction) is
decided on its own. The session calls the gate when PostgreSQL would execute
a text (a Query, or the Execute of a portal), never when it is only parsed,
and corrects the gate's idea of the transaction with the status PostgreSQL
reports in ReadyForQuery.

``decide`` answers with a Refusal to carry out, or None to forward the text as
sent. It never raises and never takes longer than the decision deadline: what
the guard cannot judge is answered by the ``--on-guard-error`` policy.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from skewguard.ddl import CannotModel, DdlParseError
from skewguard.guard import Guard, PendingChange, Requester, Speculation
from skewguard.name_length import cut_otherwise
from skewguard.offload import for_text
from skewguard.policy import Action, Decision, Refusal, override_in_comment
from skewguard.relay.fast_path import FastPathFunctions
from skewguard.replaying import OwnQueryTimeout, ReplayTimeout
from skewguard.sql_start import first_word
from skewguard.statements import Kind, Script, Statement

log = logging.getLogger("skewguard.gate")


def _judged_whole(statement: Statement) -> bool:
    """DDL, transaction control or a SET: nothing in it runs code the guard did not read."""
    if statement.kind is Kind.OPAQUE or statement.runs_code:
        return False
    if statement.kind is not Kind.OTHER:
        return True
    return first_word(statement.text.encode()) in (b"set", b"reset")


#: The setting that decides how a backslash in a plain '…' literal reads.
STANDARD_STRINGS_SQL = "SELECT current_setting('standard_conforming_strings')"


class _Unjudged(Exception):
    """The guard cannot judge the text: (reason label, why)."""

    def __init__(self, reason: str, why: str) -> None:
        super().__init__(why)
        self.reason = reason
        self.why = why


#: The schemas the backend resolves unqualified names in, in order (existing ones only).
SEARCH_PATH_SQL = (
    "SELECT s.name FROM unnest(current_schemas(false)) WITH ORDINALITY AS s(name, n) ORDER BY n"
)


class TransactionGate:
    def __init__(
        self,
        guard: Guard,
        requester: Callable[[], Requester],
        *,
        reported: Callable[[], str | None] = lambda: None,
        server_encoding: Callable[[], str] = lambda: "UTF8",
    ) -> None:
        self._guard = guard
        self._requester = requester
        self._server_encoding = server_encoding
        # standard_conforming_strings as PostgreSQL reported it, when that is still
        # what the held text meets (None: unknown)
        self._reported = reported
        self.in_block = False
        self._pending: PendingChange | None = None
        self._savepoints: list[str] = []  # set since the pending change began
        # DDL already let through in the current implicit transaction (until PostgreSQL
        # reports it ended): a later statement's overlay gets them applied first, as
        # the side connection that reads the catalog cannot see them yet
        self._earlier: list[str] = []
        self._speculation: Speculation | None = None  # a replay out during a decision

    @property
    def pending(self) -> bool:
        """A transaction with schema changes not yet judged is open."""
        return self._pending is not None

    def must_decide(self, script: Script) -> bool:
        """Whether this text needs the guard (so its message waits for the decision)."""
        if script.if_not_standard is not None or script.ambiguous:
            return True  # which reading applies is asked first, or cannot be known
        if script.error is not None:
            return script.looks_like_ddl
        if any(s.kind is Kind.DDL or s.kind is Kind.OPAQUE for s in script.statements):
            return True
        return self._pending is not None and any(s.kind is Kind.COMMIT for s in script.statements)

    def follow(self, script: Script) -> None:
        """Track transaction control of a text that needs no decision."""
        for statement in script.statements:
            self._control(statement.kind, statement.savepoint)

    def observed_status(self, status: str) -> None:
        """PostgreSQL reported the transaction status at a sync point: it is the truth."""
        if status == "I":
            if self._pending is not None:
                log.warning("a transaction with unjudged schema changes ended unseen; dropped")
                self._pending = None
            self.in_block = False
            if self._savepoints or self._earlier:  # at every sync point: mostly empty
                self._savepoints.clear()
                self._earlier.clear()
        else:
            self.in_block = True

    async def decide(
        self, script: Script, sql: str, *, simple: bool, deadline: float
    ) -> Refusal | None:
        """A Refusal when ``sql`` must not run, else None; within ``deadline`` seconds."""
        requester = replace(
            self._requester(),
            comment_override=override_in_comment(sql),
            decide_by=time.monotonic() + deadline,
        )
        was_in_block = self.in_block
        try:
            async with asyncio.timeout(deadline):
                if script.if_not_standard is not None:
                    script = await self._reading(requester, script)
                try:
                    decision = await self._decide(requester, script, sql)
                finally:  # nothing of the client's is sent while the proxy's own is out
                    speculation, self._speculation = self._speculation, None
                    if speculation is not None:
                        await speculation.settled()
        except TimeoutError:
            decision = await self._guard.unjudged(
                requester, [sql], "deadline", f"no decision within {deadline:g} s"
            )
        except _Unjudged as exc:
            decision = await self._guard.unjudged(requester, [sql], exc.reason, exc.why)
        except OwnQueryTimeout as exc:  # the relay has closed the server connection
            decision = await self._guard.unjudged(requester, [sql], "deadline", str(exc))
        except Exception as exc:  # a guard failure is answered, never forwarded silently
            log.exception("DDL guard failed")
            decision = await self._guard.unjudged(
                requester, [sql], "guard-error", f"internal error ({type(exc).__name__})"
            )
        refusal = decision.refusal(refused=sql) if decision is not None else None
        if refusal is None:
            if decision is not None and decision.unjudged is not None:
                self._pending = None  # a net change that cannot be judged is not tracked
            if script.has_ddl and all(map(_judged_whole, script.statements)):
                # a pass covers the whole text: only for texts judged as a whole
                await self._guard.grant_pass(requester, sql)
            return None
        return replace(refusal, rollback_first=self._blocked(simple, was_in_block))

    async def decide_call(
        self, oid: int, functions: FastPathFunctions, *, deadline: float
    ) -> Refusal | None:
        """A FunctionCall: large-object functions pass, any other is opaque code."""
        requester = self._requester()
        text = f'fast-path call of function "{oid}"'  # an OID, not a literal: kept in the audit
        try:
            async with asyncio.timeout(deadline):
                if await functions.is_large_object(requester.database, requester.user, oid):
                    return None
                decision = await self._guard.judge_opaque(requester, text)
        except TimeoutError:
            decision = await self._guard.unjudged(
                requester, [text], "deadline", f"no decision within {deadline:g} s"
            )
        except Exception as exc:  # a guard failure is answered, never forwarded silently
            log.exception("DDL guard failed")
            decision = await self._guard.unjudged(
                requester, [text], "guard-error", f"internal error ({type(exc).__name__})"
            )
        return decision.refusal()  # fails like the call: the transaction is aborted

    async def _decide(self, requester: Requester, script: Script, sql: str) -> Decision | None:
        if script.too_large:
            raise _Unjudged(
                "too-large",
                f"the statement is longer than --max-analysed-statement ({len(sql)} characters)",
            )
        if cut_otherwise(sql, self._server_encoding()):
            raise _Unjudged(
                "quoting",
                "the text names an identifier longer than 63 bytes that PostgreSQL cuts in "
                f"the database's encoding ({self._server_encoding()}) elsewhere than in UTF-8",
            )
        if script.ambiguous:
            raise _Unjudged(
                "quoting",
                "the text reads otherwise in a client_encoding the session is in or may be "
                "switching to",
            )
        if script.error is not None:
            return await self._guard.judge_unparseable(requester, [sql], source="proxy")
        for statement in script.statements:
            kind = statement.kind
            if kind is Kind.DDL:
                if statement.runs_code:  # code that may run DDL when called: opaque too
                    opaque = await self._guard.judge_opaque(requester, statement.text)
                    if opaque.action is Action.BLOCK:
                        return opaque
                decision = await self._apply(requester, statement)
                if decision is not None:
                    return decision
            elif kind is Kind.OPAQUE:
                decision = await self._guard.judge_opaque(requester, statement.text)
                if decision.action is Action.BLOCK:
                    return decision
            elif kind is Kind.COMMIT and self._pending is not None:
                pending, self._pending = self._pending, None
                self.in_block = False
                decision = await self._guard.judge(requester, pending, source="proxy")
                if decision.action is Action.BLOCK:
                    return decision
            else:
                self._control(kind, statement.savepoint)
        if not self.in_block and self._pending is not None:  # an implicit transaction ends
            pending, self._pending = self._pending, None
            decision = await self._guard.judge(requester, pending, source="proxy")
            if decision.action is not Action.BLOCK:
                # until its Sync, a pipeline's next Execute is in the same transaction,
                # where side connections cannot see these changes yet
                self._earlier.extend(pending.texts)
            return decision
        if self._pending is not None:  # judged at a later COMMIT: footprints read then
            self._pending.drop_prefetch()
        return None

    async def _apply(self, requester: Requester, statement: Statement) -> Decision | None:
        """Add one DDL statement to the transaction's change; a Decision only to refuse.

        Outside a transaction block, a statement that provably reaches nothing a
        protected version uses passes without reading the catalog (the screen).
        Inside one, the guard judges at COMMIT what versions use by then, so every
        statement goes into the overlay.
        """
        text = statement.text
        gathered = None
        if self._pending is None and not self.in_block:
            screened = await self._guard.screen(requester, text, statement.node)
            if screened.decision is not None:  # allowed on names alone
                self._earlier.append(text)
                return None
            gathered = screened.gathered
        if not requester.search_path_known:
            requester = await self._ask_search_path(requester)
        if self._pending is None:
            if not self.in_block:  # its replay starts while the catalog is made current
                texts = [*self._earlier, text]
                self._speculation = self._guard.speculate(
                    requester, texts, statement.node, gathered
                )
            # judged at once outside a block: its footprints are read with the catalog
            self._pending = await self._guard.begin(
                requester, prefetch=not self.in_block, gathered=gathered
            )
            self._savepoints.clear()
            if self._pending is None:
                raise _Unjudged("catalog", "the catalog of the database cannot be read")
            self._pending.speculation = self._speculation
            earlier, self._earlier = self._earlier, []
            for passed in earlier:  # they ran first in this implicit transaction
                await self._add(passed)
        return await self._added(requester, text, statement.node)

    async def _add(self, text: str, node: Any = None) -> list[CannotModel]:
        """The overlay takes ``text``; raises _Unjudged for a reach it cannot know.

        A long text is modelled in a worker thread (its session waits): should the
        decision's deadline pass first, the change it was added to is forgotten
        with the refusal, so the thread finishing later changes nothing that counts.
        """
        pending = self._pending
        assert pending is not None
        try:
            return await for_text(len(text), functools.partial(pending.apply, text, node))
        except CannotModel as exc:  # its reach is unknown: any version may notice
            raise _Unjudged("unmodelled", str(exc)) from exc

    async def _added(self, requester: Requester, text: str, node: Any) -> Decision | None:
        assert self._pending is not None
        try:
            unmodelled = await self._add(text, node)
        except DdlParseError:
            decision = await self._guard.judge_unparseable(requester, [text], source="proxy")
            return decision if decision.action is Action.BLOCK else None
        if not self.in_block:
            return None
        try:  # the samples it reaches, replayed before it is forwarded
            await self._guard.baseline(requester, self._pending)
        except ReplayTimeout as exc:
            raise _Unjudged("deadline", str(exc)) from exc
        if unmodelled:
            # forwarded now and judged again at COMMIT; refused now if already in use
            # by a version replay cannot judge
            refusal = await self._guard.judge_unmodelled(requester, [text], unmodelled)
            return refusal if refusal is not None and refusal.action is Action.BLOCK else None
        return None

    async def _reading(self, requester: Requester, script: Script) -> Script:
        """A text that reads otherwise with standard_conforming_strings off: the
        migrating backend says which setting it parses the text with, or, when it
        cannot be asked (an Execute outside a block), the setting PostgreSQL last
        reported for the session."""
        rows = await _ask(requester, STANDARD_STRINGS_SQL)
        setting = rows[0][0] if rows else self._reported()
        if setting == "on":
            return replace(script, if_not_standard=None)
        if setting == "off" and script.if_not_standard is not None:
            return script.if_not_standard
        raise _Unjudged(
            "quoting",
            "the text reads differently with standard_conforming_strings off, and the "
            "session's setting could not be asked",
        )

    async def _ask_search_path(self, requester: Requester) -> Requester:
        """The path in effect, from the migrating backend itself (PostgreSQL's fact, not a
        model of every way to set it); unjudged when it cannot be asked or disagrees with
        the transaction's model so far."""
        rows = await _ask(requester, SEARCH_PATH_SQL) if requester.search_path_askable else None
        if rows is None or any(row[0] is None for row in rows):
            raise _Unjudged(
                "unmodelled", "the session's search_path was set in a way the proxy cannot read"
            )
        path = tuple(str(row[0]) for row in rows)
        if self._pending is not None and tuple(self._pending.overlay.search_path) != path:
            raise _Unjudged(
                "unmodelled",
                "the search_path changed inside the transaction in a way the proxy cannot follow",
            )
        return replace(requester, search_path=path, search_path_known=True)

    def _blocked(self, simple: bool, was_in_block: bool) -> bool:
        """Forget the refused transaction's change; whether to end it before the error.

        Through the simple protocol, the open transaction ends first so its locks
        are released before the client hears why; through the extended protocol
        the transaction stays aborted until the client's ROLLBACK, as on any error.
        """
        rollback_first = simple and (was_in_block or self.in_block)
        self._pending = None
        self._savepoints.clear()
        self._earlier.clear()
        if rollback_first:
            self.in_block = False
        return rollback_first

    def _control(self, kind: Kind, savepoint: str) -> None:
        pending = self._pending
        if kind is Kind.BEGIN:
            self.in_block = True
        elif kind is Kind.ROLLBACK or kind is Kind.COMMIT:
            self.in_block = False
            self._pending = None
            self._savepoints.clear()
            self._earlier.clear()
        elif pending is None:
            return
        elif kind is Kind.SAVEPOINT:
            pending.overlay.savepoint(savepoint)
            self._savepoints.append(savepoint)
        elif savepoint not in self._savepoints:
            if kind is Kind.ROLLBACK_TO:  # the savepoint predates every change: all undone
                self._pending = None
                self._savepoints.clear()
        elif kind is Kind.ROLLBACK_TO:
            pending.overlay.rollback_to(savepoint)
            del self._savepoints[self._savepoints.index(savepoint) + 1 :]
        elif kind is Kind.RELEASE:
            pending.overlay.release(savepoint)
            del self._savepoints[self._savepoints.index(savepoint) :]


async def _ask(requester: Requester, sql: str) -> list[tuple[str | None, ...]] | None:
    """Rows of the proxy's ``sql`` on the migrating backend, in its transaction (None: it
    cannot be asked there now, or gave no answer)."""
    own = requester.own_connection
    if own is None:
        return None
    return await own.query_in_transaction(sql, statement_timeout_ms=1000, lock_timeout_ms=1000)
