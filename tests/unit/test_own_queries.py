"""The proxy's own queries: what is sent per transaction status, and how replies are captured."""

from __future__ import annotations

import pytest

from skewguard.relay import own_queries
from skewguard.relay.own_queries import bracketed
from skewguard.wire import messages as m
from skewguard.wire.framing import Message, MessageScanner
from skewguard.wire.replies import ReplyStream


def _sent(status: str, setup: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    plan = bracketed(
        status, "SELECT true", statement_timeout_ms=2000, lock_timeout_ms=500, setup=setup
    )
    assert plan is not None and plan.replies == 3 and plan.query_index == 1
    out = []
    for segment in MessageScanner(None).feed(plan.wire):
        assert isinstance(segment, Message)
        text = m.decode_query(segment.body) if segment.type == 0x51 else ""
        if segment.type == 0x50:
            text = m.decode_parse(segment.body).query
        out.append((chr(segment.type), text))
    return out


def test_in_a_transaction_block_the_query_runs_in_a_savepoint_rolled_back() -> None:
    sent = _sent("T")
    assert [t for t, _ in sent] == ["Q", "P", "B", "E", "S", "Q"]
    assert sent[0][1].startswith("SAVEPOINT skewguard_probe; SET LOCAL statement_timeout = 2000")
    assert "SET LOCAL transaction_read_only = on" in sent[0][1]
    assert sent[1][1] == "SELECT true"  # one Parse: PostgreSQL runs exactly one statement
    assert sent[-1][1] == (
        "ROLLBACK TO SAVEPOINT skewguard_probe; RELEASE SAVEPOINT skewguard_probe"
    )


@pytest.mark.parametrize("status", ["T", "I"])
def test_a_querys_setup_runs_after_the_limits_and_ends_with_them(status: str) -> None:
    begin = _sent(status, setup=('SET LOCAL ROLE "sh""op"',))[0][1]
    assert begin.endswith('SET LOCAL transaction_read_only = on; SET LOCAL ROLE "sh""op"')
    assert "ROLE" not in _sent(status)[0][1]


def test_outside_a_block_the_query_runs_in_its_own_transaction_rolled_back() -> None:
    sent = _sent("I")
    assert sent[0][1].startswith("BEGIN; SET LOCAL statement_timeout = 2000")
    assert sent[-1][1] == "ROLLBACK"


def test_named_leaves_the_clients_unnamed_statement_and_portal_alone() -> None:
    """While an Execute is held: no Query (it would drop them), every Parse, Bind and
    Execute names the proxy's own statement and portal, closed first."""
    plan = bracketed("T", "SELECT true", statement_timeout_ms=1, lock_timeout_ms=1, named=True)
    assert plan is not None and plan.replies == 3 and plan.query_index == 1
    messages = [s for s in MessageScanner(None).feed(plan.wire) if isinstance(s, Message)]
    types = "".join(chr(s.type) for s in messages)
    assert "Q" not in types and types.count("S") == 3
    for segment in messages:
        if segment.type == 0x50:
            assert m.decode_parse(segment.body).name == own_queries.OWN
        elif segment.type == 0x42:
            assert m.decode_bind_target(segment.body) == (own_queries.OWN, own_queries.OWN)
        elif segment.type == 0x45:
            assert m.decode_execute_portal(segment.body) == own_queries.OWN
    parses = [m.decode_parse(s.body).query for s in messages if s.type == 0x50]
    assert parses[0] == "SAVEPOINT skewguard_probe" and "SELECT true" in parses
    assert types.startswith("CCPBE")  # Close S, Close P: the name is free for the Parse


def test_nothing_runs_in_a_failed_transaction() -> None:
    assert bracketed("E", "SELECT 1", statement_timeout_ms=1, lock_timeout_ms=1) is None


def _row(*values: bytes | None) -> bytes:
    body = len(values).to_bytes(2, "big")
    for value in values:
        body += (
            (-1).to_bytes(4, "big", signed=True)
            if value is None
            else (len(value).to_bytes(4, "big") + value)
        )
    return m.frame(b"D", body)


CLIENT_BEFORE = m.frame(b"C", b"DELETE 1\x00") + m.frame(b"Z", b"T")
NOTIFY = m.frame(b"A", b"\x00\x00\x00\x07chan\x00payload\x00")
OWN = (
    m.frame(b"C", b"SAVEPOINT\x00") + m.frame(b"Z", b"T")
    + m.frame(b"1", b"") + m.frame(b"2", b"") + _row(b"t", None) + NOTIFY
    + m.frame(b"C", b"SELECT 1\x00") + m.frame(b"Z", b"T")
    + m.encode_error("25P02", "aborted", severity="ERROR") + m.frame(b"Z", b"T")
)  # fmt: skip
CLIENT_AFTER = m.frame(b"C", b"COMMIT\x00") + m.frame(b"Z", b"I")


@pytest.mark.parametrize("size", [1, 2, 5, 6, 7, 13, 1000])
def test_capture_keeps_the_proxys_replies_and_passes_the_rest(size: int) -> None:
    stream = ReplyStream()
    assert stream.feed(CLIENT_BEFORE) == CLIENT_BEFORE
    capture = stream.arm_capture(3)
    assert stream.capturing
    data = OWN + CLIENT_AFTER
    out = b"".join(stream.feed(data[i : i + size]) for i in range(0, len(data), size))
    assert out == NOTIFY + CLIENT_AFTER  # a notification belongs to the session
    assert capture.done and not stream.filtering
    assert [r.rows for r in capture.results] == [[], [("t", None)], []]
    assert [r.error for r in capture.results] == [None, None, "25P02"]
    assert capture.statuses == [ord("T")] * 3
    assert stream.ready == 5 and chr(stream.status) == "I"


def test_an_error_that_ends_the_connection_reaches_the_client() -> None:
    stream = ReplyStream()
    capture = stream.arm_capture(1)
    fatal = m.encode_error("57P01", "terminating connection", severity="FATAL")
    assert stream.feed(fatal) == fatal
    assert capture.results == [] and not capture.done
