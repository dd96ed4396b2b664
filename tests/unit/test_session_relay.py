"""The relay's client leg: every chunking forwards the same bytes and tracks the same state.

A read of whole messages is inspected in place and forwarded as it came; a
read that cuts a message goes through the MessageScanner. Both must give the
bytes PostgreSQL would have received and the same view of the session (sync
points, prepared statements and portals, statement counts), and a statement
the guard must judge must split the stream exactly where it starts.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from skewguard.backlog import DEFAULT_MAX_TEXTS, MAX_CHARS, Backlog
from skewguard.config import Settings
from skewguard.footprint import VersionKey
from skewguard.learning import StatementLog
from skewguard.literal_keys import literal_key
from skewguard.relay import session as session_module
from skewguard.relay.session import READ_OFF_LOOP_ABOVE, ClientSession, Phase
from skewguard.statements import Script, read_script
from skewguard.wire.framing import Message, Segment
from tests.support import rawclient as rc

PIPELINE = [
    rc.parse("select $1::int", "s1"),
    rc.bind(["7"], statement="s1"),
    rc.describe("P"),
    rc.execute(),
    rc.sync(),
    rc.parse("select 2"),
    rc.bind([]),
    rc.execute(),
    rc.close("S", "s1"),
    rc.flush(),
]
SIMPLE = [rc.query("select 1"), rc.query("select 2"), rc.query("prepare p as select 3")]
COPY = [
    rc.query("copy t from stdin"),
    rc.copy_data(b"1\tone\n" * 50),
    rc.copy_done(),
    rc.bind([], statement="p"),
    rc.execute(),
    rc.sync(),
]
STREAMS = {"pipeline": PIPELINE, "simple": SIMPLE, "copy": COPY}
#: A DDL statement in the middle of a pipelined read: the guard must judge it first.
HELD = [rc.query("select 1"), rc.query("alter table t add column c int"), *PIPELINE]


class _Gate:
    """Judges DDL (what the real TransactionGate decides is tested elsewhere)."""

    def must_decide(self, script: Script) -> bool:
        return script.has_ddl

    def follow(self, script: Script) -> None:
        pass


class _Session(ClientSession):
    """A session on the hot path whose upstream is a list and whose holds are recorded."""

    def __init__(self, *, gate: bool = False) -> None:
        super().__init__(cast(Any, SimpleNamespace(settings=Settings(), tls_context=None)))
        self.phase = Phase.READY
        self.sent: list[bytes] = []
        self._send_upstream = self.sent.append
        backlog = Backlog(DEFAULT_MAX_TEXTS, MAX_CHARS, literal_key)
        self.statement_log = StatementLog(VersionKey("db", "app", "1"), "u", ("public",), backlog)
        self._gate = cast(Any, _Gate()) if gate else None
        self.held_message: Message | None = None
        self.held_script: Script | None = None

    def _hold(self, message: Message, script: Script, rest: list[Segment]) -> None:
        self._held = rest
        self.held_message = message
        self.held_script = script

    def state(self) -> tuple[object, ...]:
        assert self.statement_log is not None
        return (
            self._syncs,
            self._unsynced,
            self.prepared.names(),
            dict(self.prepared._portals),
            dict(self.statement_log.counts),
            self.stats.queries,
            self.stats.bytes_in,
        )


def _chunkings(data: bytes) -> Iterator[list[bytes]]:
    yield [data]
    for cut in range(1, len(data)):
        yield [data[:cut], data[cut:]]
    yield [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(len(data))
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(2, 10)))
        yield [data[a:b] for a, b in itertools.pairwise([0, *cuts, len(data)])]


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_every_chunking_forwards_the_stream_and_tracks_the_same_state(name: str) -> None:
    data = b"".join(STREAMS[name])
    whole = _Session()
    whole.data_received(data)
    assert whole.sent == [data]  # one read of whole messages: one write, the read itself
    assert whole.sent[0] is data
    for chunks in _chunkings(data):
        session = _Session()
        for chunk in chunks:
            session.data_received(chunk)
        assert b"".join(session.sent) == data, [len(c) for c in chunks]
        assert session.state() == whole.state(), [len(c) for c in chunks]


def test_a_held_statement_splits_every_chunking_where_it_starts() -> None:
    data = b"".join(HELD)
    before = len(HELD[0])
    held = HELD[1]
    for chunks in _chunkings(data):
        session = _Session(gate=True)
        for chunk in chunks:
            session.data_received(chunk)
        assert session.held_message is not None, [len(c) for c in chunks]
        assert session.held_message.raw == held
        assert b"".join(session.sent) == data[:before], [len(c) for c in chunks]
        # released as ClientSession._decide does once the guard allows it
        rest, later = session._held, session._held_raw
        assert rest is not None
        session._held, session._held_raw = None, []
        session._forward(rest)
        for chunk in later:
            session._scan_and_forward(chunk)
        after = data[:before] + data[before + len(held) :]
        assert b"".join(session.sent) == after, [len(c) for c in chunks]
        assert session._scanner.idle


def test_an_invalid_length_forwards_nothing_of_its_read() -> None:
    session = _Session()
    closed: list[str] = []
    session.fail_client = lambda sqlstate, message, *, reason, detail=None, hint=None: (  # type: ignore[method-assign]
        closed.append(reason)
    )
    session.data_received(rc.sync() + rc.query("select 1") + b"Q\x00\x00\x00\x02")
    assert closed == ["protocol"]
    assert session.sent == []


def _failing(session: _Session) -> list[str]:
    """The reasons ``session`` failed its client with, recorded instead of closing."""
    closed: list[str] = []
    session.fail_client = lambda sqlstate, message, *, reason, detail=None, hint=None: (  # type: ignore[method-assign]
        closed.append(reason)
    )
    return closed


BAD_LENGTHS = [0, 3, -1, -(2**31), (1 << 30) - 1, 2**31 - 1]


@pytest.mark.parametrize("length", BAD_LENGTHS)
@pytest.mark.parametrize("mtype", [b"B", b"Q", b"d"], ids=["bind", "query", "copy-data"])
def test_an_invalid_length_after_whole_messages_forwards_nothing(length: int, mtype: bytes) -> None:
    session = _Session()
    closed = _failing(session)
    header = mtype + length.to_bytes(4, "big", signed=True)
    session.data_received(rc.bind([], statement="p") + rc.execute() + rc.sync() + header + b"xx")
    assert closed == ["protocol"]
    assert session.sent == []


def test_a_bind_is_read_within_its_own_length() -> None:
    """A Bind whose names run past its end is refused, though the next message holds a NUL."""
    session = _Session()
    closed = _failing(session)
    session.data_received(rc.message(b"B", b"portal") + rc.sync())
    assert closed == ["protocol"]
    assert session.sent == []


def test_a_read_that_cuts_copy_data_is_one_write() -> None:
    """The cut message's bytes the relay does not read go on with the read, as it came."""
    data = rc.query("copy t from stdin") + rc.copy_data(b"1\tone\n" * 100)
    session = _Session()
    read = data[:-7]
    session.data_received(read)
    assert session.sent == [read]
    assert session.sent[0] is read
    assert session._unsynced
    session.data_received(data[-7:] + rc.copy_done())
    assert b"".join(session.sent) == data + rc.copy_done()
    assert session._scanner.idle


#: One DDL statement longer than the hot path reads on the event loop.
LONG_DDL = (
    "alter table t add constraint c check (a in ("
    + ", ".join(str(i) for i in range(READ_OFF_LOOP_ABOVE // 4))
    + ")) not valid"
)
LONG_DDL_STREAMS = {
    "execute": [rc.parse(LONG_DDL, "s"), rc.bind([], statement="s"), rc.execute(), rc.sync()],
    "query": [rc.query(LONG_DDL)],
}


@pytest.mark.parametrize("untagged", [False, True], ids=["tagged", "untagged"])
@pytest.mark.parametrize("name", sorted(LONG_DDL_STREAMS))
def test_one_long_statement_is_not_read_on_the_event_loop(
    name: str, untagged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Parse, Execute or Query of one long DDL statement is held with its read left to
    a worker thread (``_read_then_go_on``): read at Parse or Execute on the loop, a
    900 kB statement held every other session 1.5 s (and its decision 12 s more)."""
    reads: list[str] = []

    def recorded(sql: str, **kwargs: Any) -> Script:
        reads.append(sql)
        return read_script(sql, **kwargs)

    monkeypatch.setattr(session_module, "read_script", recorded)
    stream = LONG_DDL_STREAMS[name]
    session = _Session(gate=True)
    if untagged:  # an untagged session's DDL is not learned: it was read at Parse
        backlog = Backlog(DEFAULT_MAX_TEXTS, MAX_CHARS, literal_key)
        session.statement_log = StatementLog(VersionKey("db", "", ""), "u", ("public",), backlog)
    session.data_received(b"".join(stream))
    assert reads == []
    held = session.held_message
    assert held is not None and held.raw == stream[-2 if name == "execute" else 0]
    assert b"".join(session.sent) == b"".join(stream[:-2] if name == "execute" else [])
    assert session._deferred is not None
    sql, read = session._deferred
    assert sql == LONG_DDL
    script = read()  # what _read_then_go_on runs in a worker thread
    assert script.has_ddl and reads == [LONG_DDL]


def test_a_long_text_ambiguous_in_one_session_is_not_cached_for_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Read off the loop while an SJIS switch is unanswered, a long text that hides a
    DROP from UTF-8 readers is ambiguous for this session only: cached, it made the
    same text from a plain UTF-8 session refused as unjudgeable."""
    text = (
        b"SELECT 1; " * (READ_OFF_LOOP_ABOVE // 10) + b"SELECT E'\x95\\'; " + b"DROP TABLE t; --'"
    )
    session = _Session(gate=True)
    session._encoding_set = True
    session._encodings_in_flight.add("SJIS")
    session._encodings_until = 99  # the switch is not answered yet
    session.data_received(rc.message(b"Q", text + b"\x00"))
    assert session._deferred is not None and session.held_message is not None
    sql, read = session._deferred
    monkeypatch.setattr(session, "_on_statement", lambda script, ready_index: None)
    monkeypatch.setattr(session, "_carry_out", lambda message, refusal: None)
    monkeypatch.setattr(session, "_release_held", lambda: None)
    asyncio.run(session._read_then_go_on(session.held_message, sql, read))
    assert read().ambiguous
    assert session_module._SCRIPTS.get(sql) is None
