"""The server's side of a relayed connection: where its replies end, and a block's filter.

PostgreSQL ends every reply to a Query, Sync or FunctionCall with exactly one
ReadyForQuery carrying the transaction status (``I`` idle, ``T`` in a block,
``E`` in a failed block). Counting them against what the client sent tells
the proxy, as a fact from PostgreSQL rather than an inference, whether the
backend has answered everything and in which transaction state it is.

The stream is walked header to header and never copied, except while a block
is being carried out at an Execute: the proxy then sends its own Parse, Bind
and Execute of a statement that raises the error, and the ParseComplete and
BindComplete they produce are taken out of the stream before the client sees
them, so the client reads exactly what PostgreSQL would send for a failing
Execute.

The proxy also runs queries of its own on the connection (``arm_capture``),
only when PostgreSQL has answered everything the client sent: every reply up
to their ReadyForQuery messages is then the proxy's, kept for it and never
passed on, except a NotificationResponse or ParameterStatus, which belong to
the session rather than to a query, and an error that ends the connection.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from skewguard.wire import messages as m
from skewguard.wire.errors import ProtocolViolation
from skewguard.wire.framing import MAX_MESSAGE

_INT32 = struct.Struct("!i")
READY_FOR_QUERY = 0x5A  # 'Z'
PARSE_COMPLETE = 0x31  # '1'
BIND_COMPLETE = 0x32  # '2'
ERROR_RESPONSE = 0x45  # 'E'
DATA_ROW = 0x44  # 'D'
PARAMETER_STATUS = 0x53  # 'S'
#: Asynchronous messages of the session, passed on even during a capture.
_SESSION_MESSAGES = frozenset(b"AS")  # NotificationResponse, ParameterStatus
_SESSION_ENDING = frozenset({"FATAL", "PANIC"})


class ReplyStream:
    """Tracks ReadyForQuery in the server's byte stream; filters a block's extra replies."""

    __slots__ = (
        "_carry",
        "_filter",
        "_parameter",
        "_queued",
        "_skip",
        "client_encoding",
        "errors",
        "errors_at_ready",
        "ready",
        "standard_strings",
        "status",
    )

    def __init__(self, client_encoding: str = "UTF8") -> None:
        self.ready = 0  # ReadyForQuery messages seen
        self.status = ord("I")  # the transaction status of the last one
        self.errors = 0  # ErrorResponse messages passed through (replay samples only successes)
        self.errors_at_ready = 0  # ``errors`` at the last ReadyForQuery
        #: the session's client_encoding as PostgreSQL last reported it (ParameterStatus)
        self.client_encoding = client_encoding
        #: standard_conforming_strings as last reported after startup (None: not since):
        #: how the session reads a backslash in a plain '…' literal
        self.standard_strings: str | None = None
        self._skip = 0  # bytes of the current message still to come
        self._carry = b""  # a message header (plus status byte) split across chunks
        self._parameter: bytearray | None = None  # a ParameterStatus split across chunks
        self._filter: _Filter | None = None
        self._queued: _Filter | None = None  # armed once the current filter is done

    @property
    def skipping(self) -> bool:
        """An error came since the last ReadyForQuery: PostgreSQL skips what the
        client sends until its next Sync."""
        return self.errors != self.errors_at_ready

    @property
    def filtering(self) -> bool:
        return self._filter is not None

    @property
    def encoding_known(self) -> bool:
        """No ParameterStatus is half read (one that may change client_encoding)."""
        return self._parameter is None

    def _note_parameter(self, raw: bytes) -> None:
        name, _, rest = raw[5:].partition(b"\x00")
        if name == b"client_encoding":
            self.client_encoding = rest.partition(b"\x00")[0].decode("ascii", "replace")
        elif name == b"standard_conforming_strings":
            self.standard_strings = rest.partition(b"\x00")[0].decode("ascii", "replace")

    def _more_parameter(self, data: bytes) -> None:
        """Add the next bytes of a split ParameterStatus; note it once whole."""
        assert self._parameter is not None
        self._parameter += data
        if len(self._parameter) >= 5:
            size = 1 + self._length(bytes(self._parameter[:5]), 0)
            if len(self._parameter) >= size:
                self._note_parameter(bytes(self._parameter[:size]))
                self._parameter = None

    @property
    def capturing(self) -> bool:
        """The proxy's own queries are still being answered."""
        return isinstance(self._filter, Capture)

    def arm_block(self, after_ready: int, marker: str) -> None:
        """Drop the ParseComplete/BindComplete just before the error whose message is ``marker``.

        ``after_ready``: ReadyForQuery messages still due before the injected
        messages are answered (replies to what the client sent earlier).
        """
        self._filter = _BlockFilter(after_ready, marker)

    def arm_refusal(self, after_ready: int, marker: str, *, queued: bool = False) -> None:
        """Pass the refusal's ErrorResponse (message ``marker``) without its CONTEXT.

        PostgreSQL adds "PL/pgSQL function inline_code_block line 1 at RAISE" to the
        error the proxy's DO block raises; the client should read the refusal only.
        ``queued``: start once the current filter (a capture) is done.
        """
        stripper = _ContextStripper(after_ready, marker)
        if queued and self._filter is not None:
            self._queued = stripper
        else:
            self._filter = stripper

    def arm_settle(self) -> Settle:
        """Pass the replies to what the client sent, but keep back the ReadyForQuery that
        answers the proxy's own Sync after them (see ``Settle``)."""
        settle = Settle()
        self._filter = settle
        return settle

    def arm_drop_error(self) -> None:
        """Keep back the next ErrorResponse: the one the proxy provoked (see ``Settle``)."""
        self._filter = _DropError()

    def arm_capture(self, queries: int) -> Capture:
        """Keep the replies to the proxy's next ``queries`` Query messages from the client.

        Armed only when every earlier ReadyForQuery has been seen, so what comes
        next answers the proxy's own messages.
        """
        capture = Capture(queries)
        self._filter = capture
        return capture

    def feed(self, data: bytes) -> bytes:
        """Account for a chunk from the server; return the bytes to pass to the client."""
        block = self._filter
        if block is None:
            self.walk(data)
            return data
        done = b""
        if self._skip:  # the rest of a message that began before the block was armed
            take = min(self._skip, len(data))
            done, data = data[:take], data[take:]
            if self._parameter is not None:
                self._more_parameter(done)
            self._skip -= take
            if self._skip or not data:
                return done
        if self._carry:  # a header begun before the block was armed: its bytes are sent
            carry = self._carry
            need = (6 if carry[0] == READY_FOR_QUERY else 5) - len(carry)
            if len(data) < need:
                self._carry += data
                return done + data
            head = carry + data[:need]
            self._carry = b""
            length = self._length(head, 0)
            if head[0] == READY_FOR_QUERY:
                done += block.on_message(head, self)[len(carry) :]
                data = data[need:]
            else:
                remaining = 1 + length - len(carry)
                take = min(remaining, len(data))
                if head[0] == PARAMETER_STATUS:
                    self._parameter = bytearray(carry)
                    self._more_parameter(data[:take])
                done, data = done + data[:take], data[take:]
                self._skip = remaining - take
                if self._skip:
                    return done
            if block.done:
                self._filter, self._queued = self._queued, None
                return done + (self.feed(data) if data else b"")
            if not data:
                return done
        return done + self._feed_filtering(block, data)

    def walk(self, data: bytes) -> None:
        """Move over ``data``'s messages, counting ReadyForQuery: ``feed`` with no filter armed."""
        pos = 0
        end = len(data)
        if self._carry:
            carry = self._carry
            need = (6 if carry[0] == READY_FOR_QUERY else 5) - len(carry)
            head = carry + data[:need]
            if len(head) < 5 or (head[0] == READY_FOR_QUERY and len(head) < 6):
                self._carry = head
                return
            self._carry = b""
            length = self._length(head, 0)
            if head[0] == READY_FOR_QUERY:
                self.ready += 1
                self.status = head[5]
                self.errors_at_ready = self.errors
            elif head[0] == ERROR_RESPONSE:
                self.errors += 1
            pos = 1 + length - len(carry)
            if head[0] == PARAMETER_STATUS:
                self._parameter = bytearray(carry)
                self._more_parameter(data[:pos])
        else:
            pos = self._skip
            if self._parameter is not None:
                self._more_parameter(data[:pos])
        self._skip = 0
        unpack = _INT32.unpack_from  # the length check inlined: this loop runs per message
        while pos < end:
            left = end - pos
            if left < 5 or (left < 6 and data[pos] == READY_FOR_QUERY):
                self._carry = data[pos:]
                return
            (length,) = unpack(data, pos + 1)
            if length < 4 or length > MAX_MESSAGE:
                raise ProtocolViolation(f"invalid message length {length} from the server")
            kind = data[pos]
            if kind == READY_FOR_QUERY:
                self.ready += 1
                self.status = data[pos + 5]
                self.errors_at_ready = self.errors
            elif kind == ERROR_RESPONSE:
                self.errors += 1
            elif kind == PARAMETER_STATUS:
                if pos + 1 + length <= end:
                    self._note_parameter(data[pos : pos + 1 + length])
                else:
                    self._parameter = bytearray(data[pos:])
            pos += 1 + length
        self._skip = pos - end

    @staticmethod
    def _length(buf: bytes, pos: int) -> int:
        (length,) = _INT32.unpack_from(buf, pos + 1)
        if length < 4 or length > MAX_MESSAGE:
            raise ProtocolViolation(f"invalid message length {length} from the server")
        return int(length)

    def _feed_filtering(self, block: _Filter, data: bytes) -> bytes:
        block.buffer += data
        buffer = bytes(block.buffer)
        out: list[bytes] = []
        pos = 0
        while True:
            if len(buffer) - pos < 5:
                break
            (length,) = _INT32.unpack_from(buffer, pos + 1)
            stop = pos + 1 + length
            if length < 4 or stop > len(buffer):
                if length < 4:
                    raise ProtocolViolation(f"invalid message length {length} from the server")
                break
            if buffer[pos] == PARAMETER_STATUS:
                self._note_parameter(buffer[pos:stop])
            out.append(block.on_message(buffer[pos:stop], self))
            pos = stop
            if block.done:
                self._filter, self._queued = self._queued, None
                rest = buffer[stop:]
                block.buffer.clear()
                out.append(block.release())
                out.append(self.feed(rest) if rest else b"")
                return b"".join(out)
        del block.buffer[:pos]
        return b"".join(out)


@dataclass
class QueryResult:
    """What one of the proxy's own Query messages returned (text values)."""

    rows: list[tuple[str | None, ...]] = field(default_factory=list)
    error: str | None = None  # the SQLSTATE of its ErrorResponse
    message: str | None = None  # and its message


class _Filter:
    """Reads whole messages while armed: ``on_message`` says what the client gets."""

    __slots__ = ("buffer", "done")

    def __init__(self) -> None:
        self.buffer = bytearray()  # the start of a message not yet whole
        self.done = False

    def release(self) -> bytes:
        """What the filter still holds back, when it is done."""
        return b""

    def on_message(self, raw: bytes, stream: ReplyStream) -> bytes:
        raise NotImplementedError

    @staticmethod
    def _count_ready(raw: bytes, stream: ReplyStream) -> None:
        stream.ready += 1
        stream.status = raw[5]
        stream.errors_at_ready = stream.errors


class Capture(_Filter):
    """The replies to the proxy's own Query messages, one QueryResult per ReadyForQuery."""

    __slots__ = ("_current", "_due", "results", "statuses")

    def __init__(self, queries: int) -> None:
        super().__init__()
        self._due = queries
        self._current = QueryResult()
        self.results: list[QueryResult] = []
        self.statuses: list[int] = []  # the transaction status after each

    def on_message(self, raw: bytes, stream: ReplyStream) -> bytes:
        mtype = raw[0]
        if mtype == READY_FOR_QUERY:
            self._count_ready(raw, stream)
            self.results.append(self._current)
            self.statuses.append(raw[5])
            self._current = QueryResult()
            self._due -= 1
            self.done = self._due == 0
        elif mtype == DATA_ROW:
            self._current.rows.append(m.decode_data_row(raw[5:]))
        elif mtype == ERROR_RESPONSE:
            fields = m.decode_error_fields(raw[5:])
            self._current.error = fields.get(m.FIELD_CODE, "")
            self._current.message = fields.get(m.FIELD_MESSAGE, "")
            if fields.get(m.FIELD_SEVERITY_V) in _SESSION_ENDING:
                return raw  # the connection ends: the client must read why
        elif mtype in _SESSION_MESSAGES:
            return raw
        return b""


class Settle(_Filter):
    """The client's replies up to the proxy's own Sync, whose ReadyForQuery is kept.

    A held Execute comes after Parse and Bind messages already sent; their
    answers are the client's. After them, nothing is under way at the server and
    the proxy's own statements may run there (inside a transaction block, where a
    Sync ends nothing). ``failed``: one of those answers was an error, after which
    PostgreSQL would have skipped the client's messages up to its own Sync; the
    proxy then provokes an error of its own (kept back: ``arm_drop_error``) so
    PostgreSQL skips them again.
    """

    __slots__ = ("failed",)

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def on_message(self, raw: bytes, stream: ReplyStream) -> bytes:
        mtype = raw[0]
        if mtype == READY_FOR_QUERY:
            self._count_ready(raw, stream)
            self.done = True
            return b""
        if mtype == ERROR_RESPONSE:
            stream.errors += 1
            self.failed = True
        return raw


class _DropError(_Filter):
    """Keeps back the next ErrorResponse (the proxy's own), passes what comes before it."""

    __slots__ = ()

    def on_message(self, raw: bytes, stream: ReplyStream) -> bytes:
        if raw[0] == ERROR_RESPONSE:
            self.done = True
            return b""
        return raw


class _Refusal(_Filter):
    """Finds the proxy's refusal (the ErrorResponse whose message is ``marker``) in the
    reply due after ``after_ready`` more ReadyForQuery messages."""

    __slots__ = ("after_ready", "marker")

    def __init__(self, after_ready: int, marker: str) -> None:
        super().__init__()
        self.after_ready = after_ready
        self.marker = marker

    def _reply_ended(self, raw: bytes, stream: ReplyStream) -> bool:
        """Count a ReadyForQuery; True when it ends the refusal's reply."""
        self._count_ready(raw, stream)
        if self.after_ready > 0:
            self.after_ready -= 1
            return False
        return True

    def _is_refusal(self, raw: bytes) -> bool:
        return m.decode_error_fields(raw[5:]).get(m.FIELD_MESSAGE, "") == self.marker


class _BlockFilter(_Refusal):
    """Takes the injected Parse/Bind's ParseComplete and BindComplete out before the refusal."""

    __slots__ = ("held",)

    def __init__(self, after_ready: int, marker: str) -> None:
        super().__init__(after_ready, marker)
        self.held: list[bytes] = []  # a trailing run of ParseComplete/BindComplete

    def release(self) -> bytes:
        held, self.held = self.held, []
        return b"".join(held)

    def on_message(self, raw: bytes, stream: ReplyStream) -> bytes:
        """What to pass for one whole message; may hold it back for a moment."""
        mtype = raw[0]
        if mtype == READY_FOR_QUERY:
            if self._reply_ended(raw, stream):
                self.done = True  # the injected messages were skipped (an earlier error)
            return self.release() + raw
        if self.after_ready > 0:
            return raw
        if mtype in (PARSE_COMPLETE, BIND_COMPLETE):
            self.held.append(raw)
            return self.held.pop(0) if len(self.held) > 2 else b""
        if (
            mtype == ERROR_RESPONSE
            and len(self.held) == 2
            and self.held[0][0] == PARSE_COMPLETE
            and self.held[1][0] == BIND_COMPLETE
            and self._is_refusal(raw)
        ):
            self.held = []
            self.done = True
            return without_context(raw)
        return self.release() + raw


class _ContextStripper(_Refusal):
    """Passes everything; the refusal's ErrorResponse loses its CONTEXT ('W') field."""

    __slots__ = ()

    def on_message(self, raw: bytes, stream: ReplyStream) -> bytes:
        mtype = raw[0]
        if mtype == READY_FOR_QUERY:
            # the refusal's reply ended (without it: an earlier error ended the text)
            self.done = self._reply_ended(raw, stream)
        elif mtype == ERROR_RESPONSE and self.after_ready == 0 and self._is_refusal(raw):
            return without_context(raw)
        return raw


def without_context(raw: bytes) -> bytes:
    """An ErrorResponse without its CONTEXT ('W') field, otherwise as it was."""
    fields = m.decode_error_fields(raw[5:])
    fields.pop("W", None)
    body = b"".join(code.encode() + text.encode() + b"\0" for code, text in fields.items())
    body += b"\0"
    return raw[:1] + _INT32.pack(4 + len(body)) + body
