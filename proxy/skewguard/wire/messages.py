"""Codecs for the messages the proxy reads or writes.

Only what the proxy needs is decoded; everything else is relayed as bytes.
Decoders take a message body (after the type byte and length) or, for the
untyped startup packets, the whole packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from skewguard.wire.errors import ProtocolViolation

PROTOCOL_3_0 = 3 << 16
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
#: PostgreSQL 17+ direct SSL: the first byte of a TLS ClientHello record.
TLS_HANDSHAKE_BYTE = 0x16

AUTH_OK = 0
AUTH_SASL = 10

_I32 = struct.Struct("!i")
_I32x2 = struct.Struct("!ii")
_I16 = struct.Struct("!h")


def _cstring(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.find(b"\x00", pos)
    if end < 0:
        raise ProtocolViolation("missing string terminator in message")
    return buf[pos:end].decode("utf-8", "replace"), end + 1


# ---------------------------------------------------------------- startup packets


@dataclass(frozen=True, slots=True)
class SSLRequest:
    pass


@dataclass(frozen=True, slots=True)
class GSSENCRequest:
    pass


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """Carries the backend pid and a secret key of 4 to 256 bytes (protocol 3.2)."""

    pid: int
    key: bytes


@dataclass(frozen=True, slots=True)
class StartupMessage:
    """Protocol version and parameters; ``_pq_.`` protocol options included as sent."""

    major: int
    minor: int
    params: dict[str, str] = field(default_factory=dict)

    @property
    def replication(self) -> bool:
        value = self.params.get("replication", "").lower()
        return value not in ("", "false", "off", "no", "0")


StartupPacket = SSLRequest | GSSENCRequest | CancelRequest | StartupMessage


def decode_startup_packet(packet: bytes) -> StartupPacket:
    """Classify a complete startup packet (length word included)."""
    length = len(packet)
    if length < 8:
        raise ProtocolViolation("invalid length of startup packet")
    (code,) = _I32.unpack_from(packet, 4)
    if code == SSL_REQUEST_CODE:
        if length != 8:
            raise ProtocolViolation("invalid length of SSLRequest")
        return SSLRequest()
    if code == GSSENC_REQUEST_CODE:
        if length != 8:
            raise ProtocolViolation("invalid length of GSSENCRequest")
        return GSSENCRequest()
    if code == CANCEL_REQUEST_CODE:
        if not 16 <= length <= 12 + 256:
            raise ProtocolViolation("invalid length of CancelRequest")
        (pid,) = _I32.unpack_from(packet, 8)
        return CancelRequest(pid, packet[12:])
    major, minor = code >> 16, code & 0xFFFF
    params: dict[str, str] = {}
    pos = 8
    while pos < length and packet[pos] != 0:
        key, pos = _cstring(packet, pos)
        if pos >= length:
            raise ProtocolViolation("invalid startup packet layout: expected terminator")
        value, pos = _cstring(packet, pos)
        params[key] = value
    if pos != length - 1:
        raise ProtocolViolation("invalid startup packet layout: expected terminator as last byte")
    return StartupMessage(major, minor, params)


def encode_startup_message(params: dict[str, str], *, minor: int = 0) -> bytes:
    body = b"".join(k.encode() + b"\x00" + v.encode() + b"\x00" for k, v in params.items())
    body += b"\x00"
    return _I32x2.pack(8 + len(body), PROTOCOL_3_0 | minor) + body


def encode_ssl_request() -> bytes:
    return _I32x2.pack(8, SSL_REQUEST_CODE)


# ---------------------------------------------------------------- typed messages


def frame(mtype: bytes, body: bytes) -> bytes:
    """Build a typed message from its type byte and body."""
    return mtype + _I32.pack(len(body) + 4) + body


def decode_query(body: bytes) -> str:
    """Query ('Q'): the SQL text."""
    return _cstring(body, 0)[0]


@dataclass(frozen=True, slots=True)
class Parse:
    name: str
    query: str


def decode_parse(body: bytes) -> Parse:
    """Parse ('P'): statement name and SQL (parameter types are not needed)."""
    name, pos = _cstring(body, 0)
    query, _ = _cstring(body, pos)
    return Parse(name, query)


def replace_parse_query(body: bytes, query: str) -> bytes:
    """A Parse message like ``body``'s (same name, same parameter types) running ``query``."""
    name_end = body.find(b"\x00")
    query_end = body.find(b"\x00", name_end + 1)
    if name_end < 0 or query_end < 0:
        raise ProtocolViolation("invalid Parse message")
    return frame(b"P", body[: name_end + 1] + query.encode() + body[query_end:])


def decode_bind_statement(body: bytes) -> str:
    """Bind ('B'): the name of the prepared statement it executes."""
    _, pos = _cstring(body, 0)
    return _cstring(body, pos)[0]


def decode_bind_target(body: bytes) -> tuple[str, str]:
    """Bind ('B'): (portal, prepared statement) it binds."""
    portal, pos = _cstring(body, 0)
    return portal, _cstring(body, pos)[0]


def decode_execute_portal(body: bytes) -> str:
    """Execute ('E'): the portal it runs."""
    return _cstring(body, 0)[0]


def encode_parse(name: str, query: str) -> bytes:
    """Parse ('P') with no declared parameter types."""
    return frame(b"P", name.encode() + b"\x00" + query.encode() + b"\x00\x00\x00")


def encode_bind(portal: str, statement: str) -> bytes:
    """Bind ('B') without parameters, every result column in text."""
    return frame(b"B", portal.encode() + b"\x00" + statement.encode() + b"\x00" + b"\x00" * 6)


def encode_execute(portal: str) -> bytes:
    """Execute ('E') of every row of ``portal``."""
    return frame(b"E", portal.encode() + b"\x00" + b"\x00" * 4)


@dataclass(frozen=True, slots=True)
class Close:
    kind: str  # "S" statement or "P" portal
    name: str


def decode_close(body: bytes) -> Close:
    if len(body) < 2:
        raise ProtocolViolation("invalid Close message")
    return Close(chr(body[0]), _cstring(body, 1)[0])


def decode_auth_code(body: bytes) -> int:
    """Authentication ('R'): the request code."""
    if len(body) < 4:
        raise ProtocolViolation("invalid authentication message")
    return int(_I32.unpack_from(body, 0)[0])


def decode_sasl_mechanisms(body: bytes) -> list[str]:
    """AuthenticationSASL: the list of mechanisms the server offers."""
    mechanisms: list[str] = []
    pos = 4
    while pos < len(body) and body[pos] != 0:
        name, pos = _cstring(body, pos)
        mechanisms.append(name)
    return mechanisms


def encode_sasl_mechanisms(mechanisms: list[str]) -> bytes:
    body = _I32.pack(AUTH_SASL) + b"".join(m.encode() + b"\x00" for m in mechanisms) + b"\x00"
    return frame(b"R", body)


def sasl_initial_gs2_flag(body: bytes) -> str | None:
    """SASLInitialResponse ('p'): the SCRAM GS2 channel-binding flag ('n', 'y' or 'p').

    'y' means "I could bind, but the server does not offer binding"; a server
    that has TLS on the connection rejects it as a downgrade.
    """
    _, pos = _cstring(body, 0)
    if len(body) < pos + 5:
        return None
    (length,) = _I32.unpack_from(body, pos)
    return chr(body[pos + 4]) if length > 0 else None


@dataclass(frozen=True, slots=True)
class BackendKeyData:
    pid: int
    key: bytes


def decode_backend_key_data(body: bytes) -> BackendKeyData:
    if not 8 <= len(body) <= 4 + 256:
        raise ProtocolViolation("invalid BackendKeyData message")
    return BackendKeyData(int(_I32.unpack_from(body, 0)[0]), bytes(body[4:]))


def decode_parameter_status(body: bytes) -> tuple[str, str]:
    name, pos = _cstring(body, 0)
    value, _ = _cstring(body, pos)
    return name, value


@dataclass(frozen=True, slots=True)
class NegotiateProtocolVersion:
    newest_minor: int
    unrecognized: list[str]


def decode_negotiate_protocol_version(body: bytes) -> NegotiateProtocolVersion:
    if len(body) < 8:
        raise ProtocolViolation("invalid NegotiateProtocolVersion message")
    newest, count = _I32x2.unpack_from(body, 0)
    options: list[str] = []
    pos = 8
    for _ in range(count):
        name, pos = _cstring(body, pos)
        options.append(name)
    return NegotiateProtocolVersion(newest & 0xFFFF, options)


# ---------------------------------------------------------------- errors

#: ErrorResponse field codes used by the proxy.
FIELD_SEVERITY = "S"
FIELD_SEVERITY_V = "V"
FIELD_CODE = "C"
FIELD_MESSAGE = "M"
FIELD_DETAIL = "D"
FIELD_HINT = "H"


def encode_error(
    sqlstate: str,
    message: str,
    *,
    severity: str = "FATAL",
    detail: str | None = None,
    hint: str | None = None,
) -> bytes:
    """An ErrorResponse ('E') as PostgreSQL would send it."""
    fields = [
        (FIELD_SEVERITY, severity),
        (FIELD_SEVERITY_V, severity),
        (FIELD_CODE, sqlstate),
        (FIELD_MESSAGE, message),
    ]
    if detail:
        fields.append((FIELD_DETAIL, detail))
    if hint:
        fields.append((FIELD_HINT, hint))
    body = b"".join(code.encode() + text.encode() + b"\x00" for code, text in fields) + b"\x00"
    return frame(b"E", body)


def decode_error_fields(body: bytes) -> dict[str, str]:
    """ErrorResponse / NoticeResponse: field code → text."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(body) and body[pos] != 0:
        code = chr(body[pos])
        text, pos = _cstring(body, pos + 1)
        fields[code] = text
    return fields


def decode_ready_status(body: bytes) -> str:
    """ReadyForQuery ('Z'): 'I' idle, 'T' in transaction, 'E' failed transaction."""
    if len(body) != 1:
        raise ProtocolViolation("invalid ReadyForQuery message")
    return chr(body[0])


__all__ = [
    "AUTH_OK",
    "AUTH_SASL",
    "PROTOCOL_3_0",
    "TLS_HANDSHAKE_BYTE",
    "BackendKeyData",
    "CancelRequest",
    "Close",
    "GSSENCRequest",
    "NegotiateProtocolVersion",
    "Parse",
    "SSLRequest",
    "StartupMessage",
    "StartupPacket",
    "decode_auth_code",
    "decode_backend_key_data",
    "decode_bind_statement",
    "decode_close",
    "decode_error_fields",
    "decode_negotiate_protocol_version",
    "decode_parameter_status",
    "decode_parse",
    "decode_query",
    "decode_ready_status",
    "decode_sasl_mechanisms",
    "decode_startup_packet",
    "encode_error",
    "encode_sasl_mechanisms",
    "encode_ssl_request",
    "encode_startup_message",
    "frame",
    "replace_parse_query",
    "sasl_initial_gs2_flag",
]
