"""MessageScanner and StartupFramer: every chunking gives the same messages and bytes."""

from __future__ import annotations

import itertools
import random
import struct
from collections.abc import Iterator, Sequence

import pytest

from skewguard.wire.errors import ProtocolViolation
from skewguard.wire.framing import (
    MAX_MESSAGE,
    MAX_STARTUP_PACKET,
    NAMES_WITHIN,
    Message,
    MessageScanner,
    Segment,
    StartupFramer,
)
from skewguard.wire.messages import decode_bind_target
from tests.support import rawclient as rc

QPC = frozenset(b"QPC")

# ---------------------------------------------------------------- streams

SIMPLE = [rc.query("select 1"), rc.query("select 2; select 3")]
EXTENDED = [
    rc.parse("select $1::int", "s1"),
    rc.bind(["7"], statement="s1"),
    rc.describe("P"),
    rc.execute(),
    rc.close("S", "s1"),
    rc.sync(),
]
COPY = [
    rc.query("copy t from stdin"),
    rc.copy_data(b"1\tone\n"),
    rc.copy_data(b""),
    rc.copy_data(b"2\ttwo\n" * 20),
    rc.copy_done(),
    rc.sync(),
    rc.terminate(),
]
#: Header-only messages back to back, then an interesting one.
TINY = [rc.sync(), rc.flush(), rc.sync(), rc.query(""), rc.sync()]

STREAMS = {"simple": SIMPLE, "extended": EXTENDED, "copy": COPY, "tiny": TINY}


def _split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _scan(chunks: Sequence[bytes], interesting: frozenset[int] | None) -> list[Segment]:
    scanner = MessageScanner(interesting)
    out: list[Segment] = []
    for chunk in chunks:
        out += scanner.feed(chunk)
    assert scanner.idle
    return out


def _joined(segments: Sequence[Segment]) -> bytes:
    return b"".join(s.raw if isinstance(s, Message) else s for s in segments)


def _surfaced(segments: Sequence[Segment]) -> list[bytes]:
    return [s.raw for s in segments if isinstance(s, Message)]


def _chunkings(data: bytes) -> Iterator[list[bytes]]:
    """Whole; every single cut; every pair of cuts (short streams); byte at a time; random."""
    yield [data]
    for cut in range(1, len(data)):
        yield _split(data, [cut])
    if len(data) <= 80:
        for a, b in itertools.combinations(range(1, len(data)), 2):
            yield _split(data, [a, b])
    yield [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(len(data))
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 12))))
        yield _split(data, cuts)


@pytest.mark.parametrize("name", sorted(STREAMS))
@pytest.mark.parametrize("interesting", [QPC, None], ids=["QPC", "all"])
def test_every_chunking_gives_same_messages_and_bytes(
    name: str, interesting: frozenset[int] | None
) -> None:
    messages = STREAMS[name]
    data = b"".join(messages)
    expected = [raw for raw in messages if interesting is None or raw[0] in interesting]
    for chunks in _chunkings(data):
        segments = _scan(chunks, interesting)
        assert _joined(segments) == data, [len(c) for c in chunks]
        assert _surfaced(segments) == expected, [len(c) for c in chunks]
        for segment in segments:
            if isinstance(segment, Message):
                assert segment.type == segment.raw[0]
                assert segment.body == segment.raw[5:]
            else:
                assert segment  # no empty pass-through slices


def test_each_feed_passes_through_exactly_its_own_uninteresting_bytes() -> None:
    """Bytes of uninteresting messages leave with the chunk they arrived in."""
    data = b"".join(rc.copy_data(bytes([i]) * i) for i in range(1, 40)) + rc.sync()
    for cut_size in (1, 2, 3, 5, 7, 64):
        scanner = MessageScanner(QPC)
        for chunk in _split(data, range(cut_size, len(data), cut_size)):
            out = scanner.feed(chunk)
            # Header bytes straddling a boundary are held (at most 4 of them).
            assert not any(isinstance(s, Message) for s in out)
            assert len(chunk) - 4 <= len(_joined(out)) <= len(chunk) + 4
        assert scanner.idle


def test_large_uninteresting_body_is_not_buffered() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB of CopyData
    data = rc.copy_data(body)
    scanner = MessageScanner(QPC)
    first = scanner.feed(data[:5])
    assert first == [data[:5]]
    assert not scanner.idle
    for pos in range(5, len(data), 65536):
        chunk = data[pos : pos + 65536]
        out = scanner.feed(chunk)
        assert out == [chunk]  # the very same bytes, immediately
        assert out[0] is chunk or out[0] == chunk
    assert scanner.idle


def test_interesting_message_is_held_until_complete() -> None:
    raw = rc.query("select " + "x" * 1000)
    scanner = MessageScanner(QPC)
    for pos in range(0, len(raw) - 1, 100):
        assert scanner.feed(raw[pos : min(pos + 100, len(raw) - 1)]) == []
        assert not scanner.idle
    assert scanner.feed(raw[-1:]) == [Message(ord("Q"), raw)]
    assert scanner.idle


def test_idle_tracks_message_boundaries() -> None:
    scanner = MessageScanner(None)
    assert scanner.idle
    raw = rc.query("select 1")
    scanner.feed(raw[:3])
    assert not scanner.idle
    scanner.feed(raw[3:])
    assert scanner.idle
    scanner.feed(b"")
    assert scanner.idle


BQ = frozenset(b"BQ")


def _by_head(chunks: Sequence[bytes]) -> tuple[list[Segment], int]:
    """Segments of a Bind-by-head scan, and the most of a Bind the scanner held at once."""
    scanner = MessageScanner(BQ, heads=frozenset(b"B"))
    out: list[Segment] = []
    most = 0
    for chunk in chunks:
        out += scanner.feed(chunk)
        held = scanner._held  # what the scanner keeps of a Bind is the point here
        most = max(most, len(held) if held is not None and held[0] == ord("B") else 0)
    assert scanner.idle
    return out, most


def test_a_bind_surfaces_by_its_names_and_its_parameters_pass_through() -> None:
    """A 1 GiB bytea parameter must not be buffered whole (it was, twice over)."""
    bind = rc.bind(["v" * 3000], portal="p1", statement="s1")
    data = rc.query("select 1") + bind + rc.sync()
    for chunks in _chunkings(data):
        segments, most = _by_head(chunks)
        assert _joined(segments) == data, [len(c) for c in chunks]
        (query, head) = [s for s in segments if isinstance(s, Message)]
        assert query.raw == rc.query("select 1")
        assert head.type == ord("B")
        assert bind.startswith(head.raw)
        assert decode_bind_target(head.raw, 5) == ("p1", "s1")
        assert most < len(b"B\0\0\0\0p1\0s1\0")  # never the parameter


def test_a_bind_is_held_no_longer_than_its_names() -> None:
    bind = rc.bind(["v" * 100_000], portal="p", statement="s")
    _, most = _by_head([bind[i : i + 1000] for i in range(0, len(bind), 1000)])
    assert most < 1000 + 10
    _, most = _by_head([bind[:3], bind[3:8], bind[8:]])
    assert most <= 8


def test_a_bind_whose_names_run_past_the_search_is_held_whole() -> None:
    bind = rc.bind(["v"], portal="p" * (NAMES_WITHIN + 1), statement="s")
    for chunks in ([bind], [bind[:100], bind[100:]], _split(bind, range(4096, len(bind), 4096))):
        segments, _ = _by_head(chunks)
        assert _surfaced(segments) == [bind]


def _header(mtype: bytes, length: int) -> bytes:
    return mtype + struct.pack("!i", length)


BAD_LENGTHS = [0, 3, -1, -(2**31), MAX_MESSAGE + 1, 2**31 - 1]


@pytest.mark.parametrize("length", BAD_LENGTHS)
@pytest.mark.parametrize("mtype", [b"Q", b"d"], ids=["interesting", "uninteresting"])
@pytest.mark.parametrize("cut", [None, 1, 3], ids=["whole", "split1", "split3"])
def test_invalid_lengths_raise(length: int, mtype: bytes, cut: int | None) -> None:
    data = rc.sync() + _header(mtype, length) + b"xxxx"
    scanner = MessageScanner(QPC)
    with pytest.raises(ProtocolViolation) as info:
        if cut is None:
            scanner.feed(data)
        else:  # the bad header straddles two chunks
            split_at = len(rc.sync()) + cut
            scanner.feed(data[:split_at])
            scanner.feed(data[split_at:])
    assert info.value.sqlstate == "08P01"
    assert "invalid message length" in info.value.message


@pytest.mark.parametrize("length", [4, 5, MAX_MESSAGE])
def test_boundary_lengths_are_accepted(length: int) -> None:
    scanner = MessageScanner(QPC)
    head = _header(b"d", length)
    assert _joined(scanner.feed(head)) == head
    assert scanner.idle == (length == 4)


def test_max_message_is_postgres_large_message_limit() -> None:
    assert MAX_MESSAGE == 0x3FFFFFFF - 1  # PQ_LARGE_MESSAGE_LIMIT = MaxAllocSize - 1


# ---------------------------------------------------------------- StartupFramer


def _startup_packet(length: int) -> bytes:
    return struct.pack("!ii", length, 3 << 16) + b"\x00" * (length - 8)


@pytest.mark.parametrize("length", [-1, 0, 4, 7, MAX_STARTUP_PACKET + 5, 2**31 - 1])
def test_startup_framer_rejects_bad_lengths(length: int) -> None:
    framer = StartupFramer()
    with pytest.raises(ProtocolViolation, match="invalid length of startup packet"):
        framer.feed(struct.pack("!i", length))


@pytest.mark.parametrize("length", [8, 9, 300, MAX_STARTUP_PACKET + 4])
def test_startup_framer_accepts_postgres_lengths(length: int) -> None:
    packet = _startup_packet(length)
    assert StartupFramer().feed(packet) == (packet, b"")


def test_startup_framer_partial_and_rest() -> None:
    packet = _startup_packet(40)
    trailer = rc.query("select 1")
    data = packet + trailer
    for cut in range(len(packet)):
        framer = StartupFramer()
        if cut:
            assert framer.feed(data[:cut]) is None
        got = framer.feed(data[cut : len(packet)])
        assert got == (packet, b"")
    # Byte by byte: nothing until the last byte; the rest comes back whole.
    framer = StartupFramer()
    for i in range(len(packet) - 1):
        assert framer.feed(data[i : i + 1]) is None
    assert framer.feed(data[len(packet) - 1 :]) == (packet, trailer)


def test_startup_framer_is_reusable_after_a_packet() -> None:
    framer = StartupFramer()
    ssl = rc.SSL_REQUEST
    assert framer.feed(ssl) == (ssl, b"")
    packet = _startup_packet(12)
    assert framer.feed(packet[:6]) is None
    assert framer.feed(packet[6:]) == (packet, b"")


def test_startup_framer_stops_at_a_bad_length_and_reads_nothing_more() -> None:
    framer = StartupFramer()
    with pytest.raises(ProtocolViolation):
        framer.feed(struct.pack("!i", 3))
    assert framer.finished
    assert framer.feed(_startup_packet(12)) is None


def test_startup_framer_finish_drops_the_rest() -> None:
    framer = StartupFramer()
    packet = _startup_packet(16)
    assert framer.feed(packet[:5]) is None
    framer.finish()
    assert framer.feed(packet[5:]) is None
    assert framer.feed(packet) is None


def test_startup_framer_negotiation_flags_start_clear() -> None:
    framer = StartupFramer()
    assert (framer.ssl_done, framer.gss_done, framer.finished) == (False, False, False)
