"""Differential replay: a version's own statements, with its own values, before and after.

PostgreSQL is the judge of what a change breaks. For the values a version
really sends (``replay_samples``), the guard runs each sampled statement on
the migrating connection, inside the migration's transaction, once before the
change is applied and once after it, each under a savepoint that is always
rolled back. Succeeding before and failing after is a break, with
PostgreSQL's SQLSTATE and message as the evidence; failing both times (a
duplicate key because the sampled row exists) is no evidence either way.

This module is pure: it builds the protocol messages of one replay pass and
reads the captured replies. ``Replayer`` in ``replaying.py`` runs them.

A pass, in the transaction status of the connection:

- ``T`` (in the client's block): ``SAVEPOINT skewguard_replay; SET LOCAL
  statement_timeout, lock_timeout`` … ``ROLLBACK TO``/``RELEASE``;
- ``I`` (no block yet): ``BEGIN; SET LOCAL …`` … ``ROLLBACK``; with DDL
  given (an autocommit statement), a trial: the pass, the DDL, the pass
  again, then ``ROLLBACK`` — the real statement is forwarded only after.

Each sample runs as: ``SAVEPOINT skewguard_replay_1; SET LOCAL search_path,
ROLE; SET CONSTRAINTS ALL IMMEDIATE`` (a deferred constraint would fail at the
version's COMMIT; the savepoint's rollback restores the mode); its
Parse/Bind/Execute/Sync (at most one row fetched: a read breaks at planning, a
write runs whole); a write is bound and executed again (``repeat``:
the version sends the same values again, and a new UNIQUE rejects only that)
unless the version also deletes from a table it writes there (what it inserts
may be gone before it inserts it again); ``ROLLBACK TO``/``RELEASE``. The
writes of such a version are ``chained``: they run in one savepoint, in the
order the version first sent them, so what it deletes is what it wrote before
(a row a new foreign key or trigger now keeps), as when it runs.
Everything is written at once (one round trip); PostgreSQL runs it in order.
While an Execute is held (``named``), every statement runs through the
statement and portal ``own_queries.OWN`` instead of Queries and unnamed ones.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pglast
from pglast import ast
from pglast.stream import RawStream

from skewguard.relay.own_queries import OWN, unit
from skewguard.replay_samples import Sample, ShapeKey, statement_class
from skewguard.wire import messages as m
from skewguard.wire.replies import QueryResult

OUTER = "skewguard_replay"
INNER = "skewguard_replay_1"
#: SQLSTATEs that say the replay ran out of time or lock, or could not bind the values
#: as the client did (binary values whose type the server inferred anew), not what the
#: change does to the version.
INCONCLUSIVE = frozenset({"57014", "55P03", "40P01", "25P02", "08P01", "22P03", "26000"})
_SYNC = m.frame(b"S", b"")
#: Statements a trial prepares before its DDL and binds again after it (``KEPT`` + n).
KEPT = "skewguard_kept_"
_ONE_ROW = struct.pack("!i", 1)  # Execute's row limit: a read breaks at planning


@dataclass(frozen=True)
class Trial:
    """One sample to replay, as whom (None: as the migrating role)."""

    key: ShapeKey
    sample: Sample
    role: str | None = None
    repeat: bool = False  # run twice in a pass (see the module's docstring)
    #: Runs in one savepoint with the chained trials of its version next to it, after
    #: them: a version that deletes what it wrote (see the module's docstring).
    chained: bool = False


def _continues(before: Trial | None, trial: Trial | None) -> bool:
    """Whether ``trial`` runs in the savepoint of ``before`` (the trial ahead of it)."""
    return (
        before is not None
        and trial is not None
        and before.chained
        and trial.chained
        and before.key.app_version == trial.key.app_version
    )


@dataclass(frozen=True)
class Outcome:
    """How one run of a sample ended; ``ok`` None: it gave no usable answer."""

    ok: bool | None
    sqlstate: str = ""
    message: str = ""


Runs = tuple[Outcome, ...]  # one sample's runs in one pass (two when it repeats)


@dataclass(frozen=True)
class Plan:
    """The messages of a replay and where each answer is among the ReadyForQuery replies."""

    wire: bytes
    replies: int
    #: per pass, per trial: the reply index of its setup and of each of its runs
    slots: tuple[tuple[tuple[int, tuple[int, ...]], ...], ...]
    ddl: tuple[int, ...] = ()  # the reply indexes of the trial DDL statements
    kept: frozenset[str] = frozenset()  # statements left prepared on the connection
    rebound: frozenset[int] = frozenset()  # reply indexes of runs binding a kept statement
    #: reply indexes of runs preparing anew a statement whose binary values were laid out
    #: for types the server inferred (it may infer others after the change)
    relaid: frozenset[int] = frozenset()


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _setup(trial: Trial, *, savepoint: bool = True) -> list[str]:
    path = ", ".join(ident(s) for s in trial.key.search_path) or "''"
    parts = [f"SAVEPOINT {INNER}"] if savepoint else []
    parts.append(f"SET LOCAL search_path = {path}")
    # a deferred constraint fails at the version's COMMIT: check it at the sample's end
    parts.append("SET CONSTRAINTS ALL IMMEDIATE")
    if trial.role is not None:
        parts.append(f"SET LOCAL ROLE {ident(trial.role)}")
    return parts


def kept_name(sample: Sample) -> str:
    """The name a named sample's statement is kept under (by its text and types)."""
    digest = hashlib.blake2s(sample.sql.encode() + b"\x00" + sample.types, digest_size=8)
    return KEPT + digest.hexdigest()


def trial_text(text: str) -> str:
    """The text a trial runs for the DDL ``text``: DETACH PARTITION ... CONCURRENTLY
    refuses a transaction block (25001) but leaves the schema a plain DETACH leaves, so
    a trial runs that."""
    if "concurrently" not in text.lower():
        return text
    try:
        stmts = pglast.parse_sql(text)
    except pglast.parser.ParseError:
        return text
    changed = False
    for raw in stmts:
        if isinstance(raw.stmt, ast.AlterTableStmt):
            for cmd in raw.stmt.cmds or ():
                if isinstance(cmd.def_, ast.PartitionCmd) and cmd.def_.concurrent:
                    cmd.def_.concurrent, changed = False, True
    return str(RawStream()(stmts)) if changed else text


def _runs(
    trial: Trial, *, named: bool, kept: str | None = None, again: bool = False
) -> list[bytes]:
    """The sample's Parse/Bind/Execute/Sync, and its Bind/Execute/Sync again when the
    trial repeats. ``named``: through the statement and portal ``OWN`` (see own_queries).
    ``kept``: the statement is prepared under that name and kept, as the version's own
    prepared statement is kept across the change; ``again``: it was, so it is only bound."""
    sample = trial.sample
    portal = OWN.encode() + b"\x00" if named else b"\x00"
    statement = kept.encode() + b"\x00" if kept is not None else portal
    parse = m.frame(b"P", statement + sample.sql.encode() + b"\x00" + sample.types)
    bind = m.frame(b"B", portal + statement + sample.values + b"\x00\x00")
    execute = m.frame(b"E", portal + _ONE_ROW)
    close = m.encode_close("P", OWN) if named else b""
    if again:
        first = close + bind + execute + _SYNC
    else:
        own = kept if kept is not None else OWN if named else None
        fresh = m.encode_close("S", own) if own is not None else b""
        first = fresh + close + parse + bind + execute + _SYNC
    return [first, close + bind + execute + _SYNC] if trial.repeat else [first]


def _analysed(trial: Trial, *, named: bool) -> bytes:
    """The sample's statement parsed anew and not run: PostgreSQL analyses it against the
    schema as it is now (a composite's dropped attribute: 42846), as a version's next
    connection does, without writing its rows once more."""
    statement = OWN.encode() + b"\x00" if named else b"\x00"
    fresh = m.encode_close("S", OWN) if named else b""
    sample = trial.sample
    return fresh + m.frame(b"P", statement + sample.sql.encode() + b"\x00" + sample.types) + _SYNC


class _Builder:
    def __init__(self, *, named: bool) -> None:
        self.wire: list[bytes] = []
        self.replies = 0
        self.named = named
        self.rebound: set[int] = set()
        self.relaid: set[int] = set()

    def add(self, message: bytes) -> int:
        """Append one message answered by one ReadyForQuery; its reply index."""
        self.wire.append(message)
        self.replies += 1
        return self.replies - 1

    def statements(self, *sqls: str) -> int:
        """Append statements answered together by one ReadyForQuery; its reply index."""
        return self.add(unit(sqls, named=self.named))

    def replay_pass(
        self, trials: Sequence[Trial], kept: Mapping[int, str], prepared: set[str]
    ) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """One pass; a statement in ``kept`` is prepared under its name unless it is in
        ``prepared`` already (then only bound), and counts as prepared from then on."""
        cleanup = unit(
            [f"ROLLBACK TO SAVEPOINT {INNER}", f"RELEASE SAVEPOINT {INNER}"], named=self.named
        )
        slots = []
        for number, trial in enumerate(trials):
            ahead = trials[number - 1] if number else None
            behind = trials[number + 1] if number + 1 < len(trials) else None
            setup = self.statements(*_setup(trial, savepoint=not _continues(ahead, trial)))
            name = kept.get(number)
            again = name in prepared
            if name is not None:
                prepared.add(name)
            made = _runs(trial, named=self.named, kept=name, again=again)
            runs = tuple(self.add(run) for run in made)
            if again:
                self.rebound.update(runs)
            # the version's other connections (a new one, a pool's next) prepare it
            # anew after the change: a renamed field fails there, not when rebound
            read = statement_class(trial.sample.sql) == "reads"
            if name is not None and read and not trial.repeat:
                anew = self.add(_runs(trial, named=self.named)[0])
                runs += (anew,)
                if not trial.sample.binds_anew:
                    self.relaid.add(anew)
            elif name is not None:  # a write (or a read run twice) is parsed anew, not run
                runs += (self.add(_analysed(trial, named=self.named)),)
            if not _continues(trial, behind):
                self.add(cleanup)
            slots.append((setup, runs))
        return tuple(slots)


def plan(
    status: str,
    trials: Sequence[Trial],
    *,
    statement_timeout_ms: int,
    lock_timeout_ms: int,
    ddl: Sequence[str] = (),
    ddl_timeout_ms: int = 0,
    named: bool = False,
    keep: bool = False,
    prepared: frozenset[str] = frozenset(),
) -> Plan | None:
    """The replay of ``trials`` in transaction status ``status`` (None: it cannot run
    there: a failed transaction, or a trial DDL inside a block). A trial DDL
    statement runs under ``ddl_timeout_ms``. ``named``: the client's unnamed
    statement and portal are left alone (an Execute is held; see own_queries).

    A statement the version binds to a named statement keeps what the version keeps, its
    statement prepared before the change (its parameter types fixed then, as its binary
    values are laid out; a read's ``m = $1`` still compares with the type ``m`` had): a
    trial prepares it before its DDL and binds it again after; in a block, the pass before
    a DDL (``keep``) prepares it and leaves it prepared (``Plan.kept``), and the pass at
    COMMIT binds those (``prepared``) and closes them. A read kept so also runs prepared
    anew in each pass, as the version's next connection prepares it (binary values laid
    out for inferred types may not fit the types inferred anew: ``Plan.relaid``); a kept
    write is also parsed anew, not run (its rows would be written twice)."""
    limits = [
        f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}",
        f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}",
    ]
    if status == "T" and not ddl:
        begin = [f"SAVEPOINT {OUTER}", *limits]
        end = [f"ROLLBACK TO SAVEPOINT {OUTER}", f"RELEASE SAVEPOINT {OUTER}"]
    elif status == "I" and not (ddl and named):  # a trial runs the client's own text
        begin, end = ["BEGIN", *limits], ["ROLLBACK"]
    else:
        return None
    held = {number: kept_name(t.sample) for number, t in enumerate(trials) if t.sample.named}
    kept = {n: name for n, name in held.items() if ddl or keep or name in prepared}
    done = set(prepared)  # prepared statements outlive every rollback
    out = _Builder(named=named)
    out.statements(*begin)
    slots = [out.replay_pass(trials, kept, done)]
    ddl_at: list[int] = []
    if ddl:
        for text in ddl:  # the statement's own time limit, then the replay's again
            timed = f"SET LOCAL statement_timeout = {int(ddl_timeout_ms)};\n{text}"
            ddl_at.append(out.add(m.encode_query(timed)))
            back = f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}"
            ddl_at.append(out.statements(back))
        slots.append(out.replay_pass(trials, kept, done))
    out.statements(*end)
    left = frozenset(done) if keep and not ddl else frozenset()
    if done and not left:
        out.add(b"".join(m.encode_close("S", name) for name in sorted(done)) + _SYNC)
    return Plan(
        b"".join(out.wire),
        out.replies,
        tuple(slots),
        tuple(ddl_at),
        left,
        frozenset(out.rebound),
        frozenset(out.relaid),
    )


def _outcome(result: QueryResult, *, rebound: bool = False, relaid: bool = False) -> Outcome:
    """``rebound``: a kept statement bound again, whose result type the change may have
    changed (0A000): what a version that re-prepares never meets, and the rules judge.
    ``relaid``: prepared anew with binary values laid out for the types inferred before
    (42804: the driver would lay them out for the new ones)."""
    if result.error is None:
        return Outcome(True)
    if (
        result.error in INCONCLUSIVE
        or (rebound and result.error == "0A000")
        or (relaid and result.error == "42804")
    ):
        return Outcome(None, result.error, result.message or "")
    return Outcome(False, result.error, result.message or "")


def outcomes(plan_: Plan, results: Sequence[QueryResult]) -> list[list[Runs]]:
    """Per pass, each trial's runs; a failed trial DDL makes the after pass unusable."""
    ddl_failed = any(results[i].error is not None for i in plan_.ddl)
    out: list[list[Runs]] = []
    for number, slots in enumerate(plan_.slots):
        row: list[Runs] = []
        for setup, runs in slots:
            if (number and ddl_failed) or results[setup].error is not None:
                row.append(tuple(Outcome(None) for _ in runs))
            else:
                row.append(
                    tuple(
                        _outcome(results[i], rebound=i in plan_.rebound, relaid=i in plan_.relaid)
                        for i in runs
                    )
                )
        out.append(row)
    return out


def refused(plan_: Plan, results: Sequence[QueryResult]) -> Outcome | None:
    """The trial DDL statement PostgreSQL refused, first of all (those after it fail
    only because the transaction is aborted); None when the change applied."""
    for index in plan_.ddl:
        result = results[index]
        if result.error is not None:
            return Outcome(False, result.error, result.message or "")
    return None


def broke(before: Runs, after: Runs) -> Outcome | None:
    """The run that succeeded before the change and failed after it (PostgreSQL says
    it breaks); None when there is none."""
    for then, now in zip(before, after, strict=False):
        if then.ok is True and now.ok is False:
            return now
    return None


def clean(after: Runs) -> bool:
    """Every run succeeded after the change: the version's statement still works."""
    return all(o.ok is True for o in after)


_QUOTED = re.compile(r'"([^"]*)"')
_NUMBER = re.compile(r"(?<![\w(.$])-?\d+(?:\.\d+)?(?![\w)])")


def masked(message: str, known: str) -> str:
    """PostgreSQL's message with the values in it hidden: a quoted word or a number
    is kept only when ``known`` (the migration's and the statement shape's text)
    has it, so a name stays and a sampled value becomes ``?``."""

    def quoted(match: re.Match[str]) -> str:
        return match.group(0) if match.group(1) in known else '"?"'

    def number(match: re.Match[str]) -> str:
        return match.group(0) if match.group(0) in known else "?"

    return _NUMBER.sub(number, _QUOTED.sub(quoted, message))


__all__ = [
    "INCONCLUSIVE",
    "KEPT",
    "Outcome",
    "Plan",
    "Runs",
    "Trial",
    "broke",
    "clean",
    "kept_name",
    "masked",
    "outcomes",
    "plan",
    "refused",
]
