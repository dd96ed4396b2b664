"""Incremental framing of the two kinds of PostgreSQL packets.

Startup-phase packets carry no type byte (length, then payload); every later
message is a type byte, a length that counts itself, then the body. Both framers
accept arbitrary chunks and validate lengths the way PostgreSQL does, so a
hostile or broken peer is stopped before the proxy buffers anything large.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from skewguard.wire.errors import ProtocolViolation

#: PostgreSQL's MAX_STARTUP_PACKET_LENGTH: the most a startup packet may carry after
#: its length word (so the whole packet is at most 10004 bytes).
MAX_STARTUP_PACKET = 10_000
#: PostgreSQL's PQ_LARGE_MESSAGE_LIMIT (MaxAllocSize - 1 = 1 GiB - 2), compared with
#: the length word (which counts itself); nothing legitimate is larger.
MAX_MESSAGE = (1 << 30) - 2
#: How far into a message's body the two leading names of a head-surfaced message (a
#: Bind's portal and statement) are looked for; past it the message is held whole.
NAMES_WITHIN = 64 << 10

_INT32 = struct.Struct("!i")


class StartupFramer:
    """Collects the untyped startup-phase packets (StartupMessage, SSLRequest...) one by one.

    It also carries what PostgreSQL's ProcessStartupPacket carries from one
    packet to the next (ssl_done, gss_done): whether an SSLRequest or a
    GSSENCRequest was answered already; a second one is not honoured. Both stay
    set once set (PostgreSQL since the fix for alternating requests recursing
    without bound). After the packet that ends the startup phase PostgreSQL reads
    nothing more: ``finish``.
    """

    __slots__ = ("_buf", "finished", "gss_done", "ssl_done")

    def __init__(self) -> None:
        self._buf = bytearray()
        self.ssl_done = False
        self.gss_done = False
        self.finished = False

    def feed(self, data: bytes) -> tuple[bytes, bytes] | None:
        """Add bytes; return ``(packet, rest)`` once a whole packet is in, else None.

        ``packet`` includes its length word; ``rest`` is whatever followed it. A
        length PostgreSQL refuses raises ProtocolViolation as soon as the length
        word is in, before anything is buffered (PostgreSQL then hangs up without
        a reply: the caller must not answer).
        """
        if self.finished:
            return None
        self._buf += data
        if len(self._buf) < 4:
            return None
        (length,) = _INT32.unpack_from(self._buf, 0)
        if length < 8 or length - 4 > MAX_STARTUP_PACKET:
            self.finish()
            raise ProtocolViolation("invalid length of startup packet")
        if len(self._buf) < length:
            return None
        packet = bytes(self._buf[:length])
        rest = bytes(self._buf[length:])
        self._buf.clear()
        return packet, rest

    def finish(self) -> None:
        """The startup phase is over: drop what is buffered and ignore what comes."""
        self.finished = True
        self._buf.clear()


@dataclass(slots=True)
class Message:
    """One complete typed message: its type byte and its raw bytes (header included).

    For a type the scanner surfaces by its head (``MessageScanner(heads=...)``), ``raw``
    may end after the two leading names; the rest of the body follows as bytes.

    Not frozen: a frozen dataclass's ``__init__`` costs twice as much, and one
    is built per message the relay reads.
    """

    type: int
    raw: bytes

    @property
    def body(self) -> bytes:
        return self.raw[5:]


#: An item the scanner hands back: bytes to pass through untouched, or a message to inspect.
Segment = bytes | Message


def invalid_length(mtype: int, length: int) -> ProtocolViolation:
    return ProtocolViolation(f"invalid message length {length} for message type {mtype:#04x}")


class MessageScanner:
    """Splits a stream of typed messages, surfacing only the types asked for.

    Bytes of every other message pass through as slices of the chunk they came
    in, with no per-message copy: a run of uninteresting messages is one slice,
    and the body of a large uninteresting message (COPY data, a big Bind) is
    passed on as it arrives, never buffered. Interesting messages are held until
    complete and returned whole, so the caller may inspect or replace them; those of
    the ``heads`` types (Bind: what it binds is in its names, a parameter may be a GiB)
    only until their two leading names are in, the rest passing through as it comes.
    """

    __slots__ = ("_header", "_heads", "_held", "_held_need", "_interesting", "_skip")

    def __init__(
        self, interesting: frozenset[int] | None, *, heads: frozenset[int] = frozenset()
    ) -> None:
        """``interesting=None`` surfaces every message."""
        self._interesting = interesting
        self._heads = heads
        self._skip = 0  # body bytes of an uninteresting message still to pass through
        self._header = b""  # a partial 5-byte header carried from the previous chunk
        self._held: bytearray | None = None  # a partial interesting message
        self._held_need = 0

    @property
    def idle(self) -> bool:
        """True when the stream sits on a message boundary."""
        return not (self._skip or self._header or self._held is not None)

    def feed(self, data: bytes) -> list[Segment]:
        out: list[Segment] = []
        pos = 0
        end = len(data)
        if self._held is not None:
            held = self._held
            take = min(self._held_need, end)
            searched = len(held) - 5
            held += data[:take]
            self._held_need -= take
            pos = take
            if self._held_need:
                names = None
                if held[0] in self._heads and searched < NAMES_WITHIN:
                    names = _names_end(held, 5, len(held))
                if names is None:
                    return out
                self._held, self._skip, self._held_need = None, self._held_need, 0
                out.append(Message(held[0], bytes(held[:names])))
                if names < len(held):
                    out.append(bytes(held[names:]))
                return out
            raw = bytes(held)
            self._held = None
            out.append(Message(raw[0], raw))
        start = pos  # beginning of the current pass-through run
        if self._skip:
            take = min(self._skip, end - pos)
            self._skip -= take
            pos += take
        if self._header:
            need = 5 - len(self._header)
            head = self._header + data[pos : pos + need]
            if len(head) < 5:
                self._header = head
                return out
            self._header = b""
            pos, start = self._begin(head, data, pos + need, out)
        interesting = self._interesting
        unpack = _INT32.unpack_from
        while pos < end and not self._skip:
            if end - pos < 5:
                if pos > start:
                    out.append(data[start:pos])
                self._header = data[pos:]
                return out
            mtype = data[pos]
            (length,) = unpack(data, pos + 1)
            if length < 4 or length > MAX_MESSAGE:
                raise invalid_length(mtype, length)
            stop = pos + 1 + length
            if interesting is not None and mtype not in interesting:
                if stop <= end:
                    pos = stop
                else:
                    self._skip = stop - end
                    pos = end
                continue
            if pos > start:
                out.append(data[start:pos])
            if stop <= end:
                out.append(Message(mtype, data[pos:stop]))
                pos = start = stop
            elif mtype in self._heads and (names := _names_end(data, pos + 5, end)) is not None:
                out.append(Message(mtype, data[pos:names]))
                self._skip = stop - end
                pos, start = end, names
            else:
                self._held = bytearray(data[pos:])
                self._held_need = stop - end
                return out
        if pos > start:
            out.append(data[start:pos])
        return out

    def _begin(self, head: bytes, data: bytes, pos: int, out: list[Segment]) -> tuple[int, int]:
        """Handle a message whose header straddled two chunks; return (pos, run start)."""
        mtype = head[0]
        (length,) = _INT32.unpack_from(head, 1)
        if length < 4 or length > MAX_MESSAGE:
            raise invalid_length(mtype, length)
        body_len = length - 4
        avail = len(data) - pos
        if self._interesting is not None and mtype not in self._interesting:
            out.append(head)
            take = min(body_len, avail)
            self._skip = body_len - take
            return pos + take, pos
        if avail >= body_len:
            out.append(Message(mtype, head + data[pos : pos + body_len]))
            return pos + body_len, pos + body_len
        if mtype in self._heads and (names := _names_end(data, pos, len(data))) is not None:
            out.append(Message(mtype, head + data[pos:names]))
            self._skip = body_len - avail
            return len(data), names
        self._held = bytearray(head + data[pos:])
        self._held_need = body_len - avail
        return len(data), len(data)


def _names_end(buf: bytes | bytearray, body: int, end: int) -> int | None:
    """Where the two NUL-terminated names that open a body at ``buf[body]`` end, when
    both are within ``buf[body:end]`` (and NAMES_WITHIN of the body's start)."""
    stop = min(end, body + NAMES_WITHIN)
    first = buf.find(b"\0", body, stop)
    if first < 0:
        return None
    second = buf.find(b"\0", first + 1, stop)
    return None if second < 0 else second + 1
