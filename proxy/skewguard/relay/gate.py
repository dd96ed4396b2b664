"""Per-session DDL gate: follows transactions and asks the guard at the right moment.

Other sessions see a transaction's schema changes only at COMMIT, so DDL inside
an explicit transaction is applied to an overlay and forwarded, and the
decision is taken on the net change when COMMIT arrives. A statement outside a
transaction block (or a multi-statement Query, an implicit transaction) is
decided on its own. The gate answers with the text to send instead, or None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from skewguard.ddl import DdlParseError
from skewguard.guard import Guard, PendingChange, Requester
from skewguard.policy import Action, Decision, override_in_comment, raise_statement
from skewguard.statements import Kind, Script

log = logging.getLogger("skewguard.gate")


class TransactionGate:
    def __init__(self, guard: Guard, requester: Callable[[], Requester]) -> None:
        self._guard = guard
        self._requester = requester
        self.in_block = False
        self._pending: PendingChange | None = None
        self._savepoints: list[str] = []  # set since the pending change began

    def must_decide(self, script: Script) -> bool:
        """Whether this text needs the guard (so its message waits for the decision)."""
        if script.error is not None:
            return script.looks_like_ddl
        if script.has_ddl:
            return True
        return self._pending is not None and any(s.kind is Kind.COMMIT for s in script.statements)

    def follow(self, script: Script) -> None:
        """Track transaction control of a text that needs no decision."""
        for statement in script.statements:
            self._control(statement.kind, statement.savepoint)

    async def decide(self, script: Script, sql: str, *, simple: bool) -> str | None:
        """Replacement text when ``sql`` is blocked, else None (forward it as sent)."""
        requester = replace(self._requester(), comment_override=override_in_comment(sql))
        if script.error is not None:
            decision = await self._guard.judge_unparseable(requester, [sql], source="proxy")
            return self._replacement(decision, rollback_first=False)
        was_in_block = self.in_block
        for statement in script.statements:
            kind = statement.kind
            if kind is Kind.DDL:
                if self._pending is None:
                    self._pending = await self._guard.begin(requester)
                    self._savepoints.clear()
                    if self._pending is None:
                        log.warning("catalog unreachable: DDL let through unchecked")
                        continue
                try:
                    self._pending.apply(statement.text)
                except DdlParseError:
                    decision = await self._guard.judge_unparseable(
                        requester, [statement.text], source="proxy"
                    )
                    if decision.action is Action.BLOCK:
                        return self._blocked(decision, simple=simple, was_in_block=was_in_block)
            elif kind is Kind.COMMIT and self._pending is not None:
                pending, self._pending = self._pending, None
                self.in_block = False
                decision = await self._guard.judge(requester, pending, source="proxy")
                if decision.action is Action.BLOCK:
                    return self._blocked(decision, simple=simple, was_in_block=was_in_block)
            else:
                self._control(kind, statement.savepoint)
        if not self.in_block and self._pending is not None:  # an implicit transaction ends
            pending, self._pending = self._pending, None
            decision = await self._guard.judge(requester, pending, source="proxy")
            if decision.action is Action.BLOCK:
                return self._blocked(decision, simple=simple, was_in_block=was_in_block)
        return None

    def _blocked(self, decision: Decision, *, simple: bool, was_in_block: bool) -> str:
        # Through the simple protocol, end the open transaction first so its locks
        # are released before the client hears why; through the extended protocol
        # the transaction stays aborted until the client's ROLLBACK, as on any error.
        rollback_first = simple and was_in_block
        self._pending = None
        self._savepoints.clear()
        if rollback_first:
            self.in_block = False
        return self._replacement(decision, rollback_first=rollback_first) or ""

    @staticmethod
    def _replacement(decision: Decision, *, rollback_first: bool) -> str | None:
        if decision.action is not Action.BLOCK or decision.error is None:
            return None
        statement = raise_statement(*decision.error)
        return f"ROLLBACK; {statement}" if rollback_first else statement

    def _control(self, kind: Kind, savepoint: str) -> None:
        pending = self._pending
        if kind is Kind.BEGIN:
            self.in_block = True
        elif kind is Kind.ROLLBACK or kind is Kind.COMMIT:
            self.in_block = False
            self._pending = None
            self._savepoints.clear()
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
