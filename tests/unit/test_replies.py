"""ReplyStream: ReadyForQuery counted on every chunking; a block's extra replies filtered."""

from __future__ import annotations

import pytest

from skewguard.wire import messages as m
from skewguard.wire.replies import ReplyStream

PARSE_COMPLETE = m.frame(b"1", b"")
BIND_COMPLETE = m.frame(b"2", b"")
ROW = m.frame(b"D", b"\x00\x01\x00\x00\x00\x03abc")
DONE = m.frame(b"C", b"SELECT 1\x00")


def ready(status: bytes) -> bytes:
    return m.frame(b"Z", status)


STREAM = PARSE_COMPLETE + BIND_COMPLETE + ROW * 3 + DONE + ready(b"T") + DONE + ready(b"I")


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6, 7, 11, 64])
def test_ready_counted_on_every_chunking(size: int) -> None:
    stream = ReplyStream()
    out = b"".join(stream.feed(chunk) for chunk in _chunks(STREAM, size))
    assert out == STREAM
    assert stream.ready == 2
    assert chr(stream.status) == "I"


OURS = m.encode_error("55006", "skewguard: no", severity="ERROR")


@pytest.mark.parametrize("size", [1, 4, 9, 1000])
def test_block_filter_drops_only_the_injected_completions(size: int) -> None:
    earlier = PARSE_COMPLETE + BIND_COMPLETE + DONE + ready(b"I")  # a reply still due
    client_own = PARSE_COMPLETE + BIND_COMPLETE  # the client's Parse/Bind of the DDL
    injected = PARSE_COMPLETE + BIND_COMPLETE + OURS + ready(b"I")
    stream = ReplyStream()
    stream.arm_block(1, "skewguard: no")
    out = b"".join(stream.feed(chunk) for chunk in _chunks(earlier + client_own + injected, size))
    assert out == earlier + client_own + OURS + ready(b"I")
    assert not stream.filtering
    assert stream.ready == 2


def test_block_filter_ends_at_ready_when_postgresql_skipped_the_injection() -> None:
    failed = m.encode_error("22012", "division by zero", severity="ERROR") + ready(b"I")
    stream = ReplyStream()
    stream.arm_block(0, "skewguard: no")
    assert stream.feed(PARSE_COMPLETE + failed + ROW) == PARSE_COMPLETE + failed + ROW
    assert not stream.filtering


def test_armed_in_the_middle_of_a_message() -> None:
    stream = ReplyStream()
    first = stream.feed(ROW[:4])
    stream.arm_block(0, "skewguard: no")
    rest = ROW[4:] + PARSE_COMPLETE + BIND_COMPLETE + OURS + ready(b"I")
    assert first + stream.feed(rest) == ROW + OURS + ready(b"I")


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 5, 6, 8])
def test_armed_after_any_partial_message(cut: int) -> None:
    before = ROW + ready(b"T")
    stream = ReplyStream()
    first = stream.feed(before[:cut])
    stream.arm_block(0 if cut > len(ROW) + 5 else 1, "skewguard: no")
    rest = before[cut:] + PARSE_COMPLETE + BIND_COMPLETE + OURS + ready(b"I")
    out = first
    for chunk in _chunks(rest, 3):
        out += stream.feed(chunk)
    assert out == before + OURS + ready(b"I")
    assert stream.ready == 2


@pytest.mark.parametrize("size", [1, 3, 6, 1000])
def test_settle_passes_the_clients_replies_and_keeps_the_proxys_ready(size: int) -> None:
    described = m.frame(b"n", b"")  # NoData: the client's Describe of the DDL portal
    stream = ReplyStream()
    settle = stream.arm_settle()
    out = b"".join(
        stream.feed(c)
        for c in _chunks(PARSE_COMPLETE + BIND_COMPLETE + described + ready(b"T") + DONE, size)
    )
    assert out == PARSE_COMPLETE + BIND_COMPLETE + described + DONE
    assert not settle.failed and not stream.filtering
    assert stream.ready == 1 and chr(stream.status) == "T"


def test_settle_notes_a_failure_and_the_provoked_error_is_kept_back() -> None:
    failed = m.encode_error("08P01", "bind message supplies 1 parameters", severity="ERROR")
    stream = ReplyStream()
    settle = stream.arm_settle()
    assert stream.feed(PARSE_COMPLETE + failed + ready(b"E")) == PARSE_COMPLETE + failed
    assert settle.failed and stream.errors == 1
    stream.arm_drop_error()
    provoked = m.encode_error("25P02", "current transaction is aborted", severity="ERROR")
    # what PostgreSQL then sends: the provoked error, then (the client's messages skipped)
    # the ReadyForQuery of the client's own Sync
    assert stream.feed(provoked + ready(b"E")) == ready(b"E")
    assert not stream.filtering and stream.ready == 2


def _parameter(name: bytes, value: bytes) -> bytes:
    return m.frame(b"S", name + b"\x00" + value + b"\x00")


ENCODING_STREAM = (
    DONE + _parameter(b"TimeZone", b"UTC") + _parameter(b"client_encoding", b"SJIS") + DONE
)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6, 7, 11, 13, 64])
def test_client_encoding_followed_on_every_chunking(size: int) -> None:
    """Texts are read in the client_encoding PostgreSQL reports, wherever reads split."""
    stream = ReplyStream()
    assert stream.client_encoding == "UTF8"
    for chunk in _chunks(ENCODING_STREAM + ready(b"I"), size):
        stream.feed(chunk)
    assert stream.client_encoding == "SJIS" and stream.encoding_known
    assert stream.ready == 1


def test_a_split_report_is_not_known_until_whole() -> None:
    stream = ReplyStream()
    report = _parameter(b"client_encoding", b"GBK")
    stream.feed(DONE + report[:9])
    assert not stream.encoding_known and stream.client_encoding == "UTF8"
    stream.feed(report[9:])
    assert stream.encoding_known and stream.client_encoding == "GBK"


def test_client_encoding_followed_while_filtering() -> None:
    stream = ReplyStream()
    stream.arm_block(after_ready=1, marker="skewguard:")
    stream.feed(_parameter(b"client_encoding", b"BIG5") + ready(b"I"))
    assert stream.client_encoding == "BIG5"


OFF = _parameter(b"standard_conforming_strings", b"off")
ON = _parameter(b"standard_conforming_strings", b"on")
OTHER = _parameter(b"TimeZone", b"UTC")


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6, 7, 11, 29, 64, 1000])
def test_standard_strings_follow_every_report_on_every_chunking(size: int) -> None:
    stream = ReplyStream()
    assert stream.standard_strings is None
    out = b""
    for chunk in _chunks(ROW + OFF + DONE + OTHER + ready(b"I"), size):
        out += stream.feed(chunk)
    assert stream.standard_strings == "off"
    for chunk in _chunks(ON + DONE + ready(b"I") + OTHER, size):
        out += stream.feed(chunk)
    assert stream.standard_strings == "on"
    assert stream.ready == 2


@pytest.mark.parametrize("cut", range(1, 40))
def test_standard_strings_reported_across_a_filter_being_armed(cut: int) -> None:
    before = ROW + OFF + DONE + ready(b"T")
    stream = ReplyStream()
    first = stream.feed(before[:cut])
    stream.arm_block(1 if cut < len(before) else 0, "skewguard: no")
    rest = before[cut:] + ON + PARSE_COMPLETE + BIND_COMPLETE + OURS + ready(b"I")
    out = first + b"".join(stream.feed(chunk) for chunk in _chunks(rest, 4))
    assert out == before + ON + OURS + ready(b"I")
    assert stream.standard_strings == "on"
    assert stream.ready == 2


@pytest.mark.parametrize("size", [1, 2, 5, 6, 64])
def test_skipping_from_an_error_until_the_next_ready(size: int) -> None:
    """An error before any Sync (a flushed Execute that failed): PostgreSQL skips the
    client's messages until its Sync, so the proxy must not end that with one of its own."""
    failed = m.encode_error("42703", 'column "error" does not exist', severity="ERROR")
    stream = ReplyStream()
    for chunk in _chunks(PARSE_COMPLETE + BIND_COMPLETE + failed, size):
        stream.feed(chunk)
    assert stream.skipping
    for chunk in _chunks(ready(b"E"), size):
        stream.feed(chunk)
    assert not stream.skipping and stream.ready == 1
    settle = stream.arm_settle()
    stream.feed(failed + ready(b"E"))
    assert settle.failed and not stream.skipping
