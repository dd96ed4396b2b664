"""A tiny raw-socket PostgreSQL client for protocol-level tests.

The encoders here are written independently of ``skewguard.wire`` on purpose:
tests that check the proxy's codec must not build their input with it.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PROTOCOL_3_0 = 3 << 16
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
GSSENC_REQUEST = struct.pack("!ii", 8, 80877104)


# ---------------------------------------------------------------- encoders


def _cstr(text: str | bytes) -> bytes:
    return (text.encode() if isinstance(text, str) else text) + b"\x00"


def message(mtype: bytes, body: bytes = b"") -> bytes:
    """A typed message: type byte, length (counting itself), body."""
    return mtype + struct.pack("!i", len(body) + 4) + body


def startup(params: dict[str, str], *, minor: int = 0, major: int = 3) -> bytes:
    body = b"".join(_cstr(k) + _cstr(v) for k, v in params.items()) + b"\x00"
    return struct.pack("!ii", len(body) + 8, (major << 16) | minor) + body


def cancel_request(pid: int, key: bytes) -> bytes:
    return struct.pack("!iii", 12 + len(key), 80877102, pid) + key


def query(sql: str) -> bytes:
    return message(b"Q", _cstr(sql))


def parse(sql: str, name: str = "", types: Sequence[int] = ()) -> bytes:
    body = _cstr(name) + _cstr(sql) + struct.pack("!h", len(types))
    body += b"".join(struct.pack("!i", oid) for oid in types)
    return message(b"P", body)


def bind(
    params: Sequence[str | None] = (),
    *,
    portal: str = "",
    statement: str = "",
    result_formats: Sequence[int] = (),
) -> bytes:
    body = _cstr(portal) + _cstr(statement) + struct.pack("!h", 0)  # all parameters text
    body += struct.pack("!h", len(params))
    for value in params:
        if value is None:
            body += struct.pack("!i", -1)
        else:
            data = value.encode()
            body += struct.pack("!i", len(data)) + data
    body += struct.pack("!h", len(result_formats))
    body += b"".join(struct.pack("!h", f) for f in result_formats)
    return message(b"B", body)


def describe(kind: str = "P", name: str = "") -> bytes:
    return message(b"D", kind.encode() + _cstr(name))


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return message(b"E", _cstr(portal) + struct.pack("!i", max_rows))


def close(kind: str, name: str = "") -> bytes:
    return message(b"C", kind.encode() + _cstr(name))


def sync() -> bytes:
    return message(b"S")


def flush() -> bytes:
    return message(b"H")


def terminate() -> bytes:
    return message(b"X")


def copy_data(data: bytes) -> bytes:
    return message(b"d", data)


def copy_done() -> bytes:
    return message(b"c")


def copy_fail(reason: str) -> bytes:
    return message(b"f", _cstr(reason))


def function_call(oid: int, args: Iterable[bytes]) -> bytes:
    """FunctionCall ('F') with text arguments and a text result."""
    values = list(args)
    body = struct.pack("!ih", oid, 1) + struct.pack("!h", 0) + struct.pack("!h", len(values))
    body += b"".join(struct.pack("!i", len(v)) + v for v in values)
    body += struct.pack("!h", 0)
    return message(b"F", body)


def password(secret: str) -> bytes:
    return message(b"p", _cstr(secret))


# ---------------------------------------------------------------- decoding


@dataclass(frozen=True)
class Reply:
    """One backend message: type byte (as a str) and its raw bytes, header included."""

    type: str
    raw: bytes

    @property
    def body(self) -> bytes:
        return self.raw[5:]

    def fields(self) -> dict[str, str]:
        """ErrorResponse / NoticeResponse fields by code."""
        out: dict[str, str] = {}
        for part in self.body.split(b"\x00"):
            if part:
                out[chr(part[0])] = part[1:].decode(errors="replace")
        return out


class ConnectionClosed(Exception):
    """The peer closed the connection before a whole message arrived."""

    def __init__(self, partial: bytes) -> None:
        super().__init__(f"connection closed ({len(partial)} stray bytes)")
        self.partial = partial


#: How a RawClient reaches the server: plain, TLS after an SSLRequest, or direct TLS (PG17+).
TRANSPORTS = ("plain", "sslrequest", "direct")


def _tls_context(alpn: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if alpn:
        context.set_alpn_protocols(["postgresql"])
    return context


class RawClient:
    """A blocking socket with message-level reads; nothing hidden, nothing parsed for you."""

    def __init__(
        self, host: str, port: int, *, timeout: float = 10.0, transport: str = "plain"
    ) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if transport == "sslrequest":
            sock.sendall(SSL_REQUEST)
            answer = sock.recv(1)
            if answer != b"S":
                sock.close()
                raise ConnectionError(f"server answered SSLRequest with {answer!r}")
            sock = _tls_context(alpn=False).wrap_socket(sock)
        elif transport == "direct":
            sock = _tls_context(alpn=True).wrap_socket(sock)
        elif transport != "plain":
            raise ValueError(f"unknown transport {transport!r}")
        self.sock = sock
        self._buf = bytearray()
        self.received = bytearray()  # every byte read, in order

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, *chunks: bytes) -> None:
        self.sock.sendall(b"".join(chunks))

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLZeroReturnError, ssl.SSLEOFError):
            data = b""
        if not data:
            return False
        self._buf += data
        self.received += data
        return True

    def read_bytes(self, count: int) -> bytes:
        while len(self._buf) < count:
            if not self._fill():
                raise ConnectionClosed(bytes(self._buf))
        out = bytes(self._buf[:count])
        del self._buf[:count]
        return out

    def read_message(self) -> Reply:
        header = self.read_bytes(5)
        (length,) = struct.unpack_from("!i", header, 1)
        body = self.read_bytes(length - 4)
        return Reply(chr(header[0]), header + body)

    def read_until(self, *types: str, count: int = 1) -> list[Reply]:
        """Messages up to and including the ``count``-th one whose type is in ``types``."""
        out: list[Reply] = []
        seen = 0
        while seen < count:
            reply = self.read_message()
            out.append(reply)
            if reply.type in types:
                seen += 1
        return out

    def read_ready(self, count: int = 1) -> list[Reply]:
        """Messages up to the ``count``-th ReadyForQuery."""
        return self.read_until("Z", count=count)

    def startup(self, params: dict[str, str], *, minor: int = 0) -> list[Reply]:
        """Send a StartupMessage and read until ReadyForQuery or an ErrorResponse."""
        self.send(startup(params, minor=minor))
        return self.read_until("Z", "E")

    def read_to_eof(self, timeout: float = 5.0) -> bytes:
        """Everything the peer sends until it closes (raises TimeoutError if it does not)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("peer did not close the connection")
            self.sock.settimeout(remaining)
            if not self._fill():
                break
        out = bytes(self._buf)
        self._buf.clear()
        return out

    def close(self) -> None:
        self.sock.close()


def messages_of(data: bytes) -> list[Reply]:
    """Split a byte string of whole typed messages."""
    out: list[Reply] = []
    pos = 0
    while pos + 5 <= len(data):
        (length,) = struct.unpack_from("!i", data, pos + 1)
        out.append(Reply(chr(data[pos]), data[pos : pos + 1 + length]))
        pos += 1 + length
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} trailing bytes are not a whole message")
    return out


def error_code(replies: Sequence[Reply]) -> str | None:
    """SQLSTATE of the first ErrorResponse among ``replies``."""
    for reply in replies:
        if reply.type == "E":
            return reply.fields().get("C")
    return None
