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
#: PostgreSQL's DETAIL when bytes came behind an SSLRequest or GSSENCRequest.
UNENCRYPTED_DATA_DETAIL = (
    "This could be either a client-software bug or evidence of an attempted "
    "man-in-the-middle attack."
)
#: The longest cancel key protocol 3.2 allows.
MAX_CANCEL_KEY = 256
#: PG_PROTOCOL_GREASE's minor (3.9999): a version no server will ever support, so
#: asking for it makes any server answer NegotiateProtocolVersion with its newest.
GREASE_MINOR = 9999
#: PostgreSQL 17+ direct SSL: the first byte of a TLS ClientHello record.
TLS_HANDSHAKE_BYTE = 0x16

AUTH_OK = 0
AUTH_SASL = 10

_I32 = struct.Struct("!i")
_I32x2 = struct.Struct("!ii")
_I16 = struct.Struct("!h")


def _cstring(buf: bytes, pos: int, stop: int | None = None) -> tuple[str, int]:
    end = buf.find(b"\x00", pos, stop)
    if end == pos:  # the unnamed statement or portal: the commonest name
        return "", end + 1
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
    """Carries the backend pid and the secret key, as many bytes as the packet holds."""

    pid: int
    key: bytes

    @property
    def deliverable(self) -> bool:
        """A key of 4 to 256 bytes (protocol 3.2); PostgreSQL ignores any other packet."""
        return 4 <= len(self.key) <= MAX_CANCEL_KEY


#: PostgreSQL's NAMEDATALEN: names are at most 63 bytes.
NAMEDATALEN = 64


@dataclass(frozen=True, slots=True)
class StartupMessage:
    """Protocol version and parameters; ``_pq_.`` protocol options included as sent.

    ``params`` are what PostgreSQL's ProcessStartupPacket reads from the same
    bytes; ``layout_ok`` is False when it would refuse their layout.
    """

    major: int
    minor: int
    params: dict[str, str] = field(default_factory=dict)
    layout_ok: bool = True

    @property
    def replication(self) -> bool:
        """Whether PostgreSQL starts a walsender: "database", or a boolean that parses true.

        A value it cannot parse makes it refuse the connection; here that counts as
        False, so the proxy never mistakes a normal session for an unguarded pipe.
        """
        value = self.params.get("replication")
        if value is None:
            return False
        return value == "database" or parse_bool(value) is True

    @property
    def session_params(self) -> dict[str, str]:
        """``params`` with the user and database names the session gets: an empty
        database is the user's, and both are cut to NAMEDATALEN - 1 bytes, as
        ProcessStartupPacket cuts them (a longer name finds the shorter one's
        database or role)."""
        params = dict(self.params)
        params["database"] = params.get("database") or params.get("user", "")
        for key in ("user", "database"):
            if key in params:
                raw = params[key].encode()
                if len(raw) >= NAMEDATALEN:
                    params[key] = raw[: NAMEDATALEN - 1].decode("utf-8", "replace")
        return params

    @property
    def acceptable(self) -> bool:
        """False when every PostgreSQL from 14 on refuses it before authentication.

        Another protocol major (2.0 gets a version-2 error the proxy does not
        parse) or a layout PostgreSQL rejects.
        """
        return self.major == 3 and self.layout_ok


StartupPacket = SSLRequest | GSSENCRequest | CancelRequest | StartupMessage


def parse_bool(value: str) -> bool | None:
    """PostgreSQL's parse_bool: any unique prefix of true/false/yes/no, on/off, 1/0.

    None when PostgreSQL would not accept the value. Case folding is ASCII only,
    as in pg_strncasecmp.
    """
    if not value or not value.isascii():
        return None
    word = value.lower()
    first = word[0]
    if first == "t" and "true".startswith(word):
        return True
    if first == "f" and "false".startswith(word):
        return False
    if first == "y" and "yes".startswith(word):
        return True
    if first == "n" and "no".startswith(word):
        return False
    if first == "o":  # "o" alone is ambiguous: at least two letters
        if word == "on":
            return True
        if len(word) >= 2 and "off".startswith(word):
            return False
    if word in ("1", "0"):
        return word == "1"
    return None


def decode_startup_packet(packet: bytes) -> StartupPacket:
    """Classify a complete startup packet (length word included), as PostgreSQL does.

    PostgreSQL looks only at the code for SSLRequest and GSSENCRequest (so extra
    bytes are ignored), and reads a StartupMessage with its own loop: a NUL sits
    after the buffer, a name without a value ends the scan, and the scan must stop
    on the last byte. The decoder never refuses a StartupMessage; ``layout_ok``
    says whether PostgreSQL would.
    """
    length = len(packet)
    if length < 8:
        raise ProtocolViolation("invalid length of startup packet")
    (code,) = _I32.unpack_from(packet, 4)
    if code == CANCEL_REQUEST_CODE:
        if length < 12:
            return CancelRequest(0, b"")
        (pid,) = _I32.unpack_from(packet, 8)
        return CancelRequest(pid, packet[12:])
    if code == SSL_REQUEST_CODE:
        return SSLRequest()
    if code == GSSENC_REQUEST_CODE:
        return GSSENCRequest()
    major, minor = (code >> 16) & 0xFFFF, code & 0xFFFF
    # ProcessStartupPacket's buffer: the packet after its length word, plus a NUL.
    buf = packet[4:] + b"\x00"
    size = length - 4
    params: dict[str, str] = {}
    offset = 4
    while offset < size:
        name_end = buf.index(b"\x00", offset)
        if name_end == offset:
            break  # the terminator
        value_at = name_end + 1
        if value_at >= size:
            break  # a name without a value: the layout check below refuses it
        value_end = buf.index(b"\x00", value_at)
        params[buf[offset:name_end].decode("utf-8", "replace")] = buf[value_at:value_end].decode(
            "utf-8", "replace"
        )
        offset = value_end + 1
    return StartupMessage(major, minor, params, layout_ok=offset == size - 1)


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


def decode_bind_target(buf: bytes, start: int = 0, stop: int | None = None) -> tuple[str, str]:
    """Bind ('B') whose body is ``buf[start:stop]``: (portal, prepared statement) it binds.

    Read in place: the relay walks a client read without slicing out each message.
    """
    middle = buf.find(b"\x00", start, stop)
    end = buf.find(b"\x00", middle + 1, stop) if middle >= 0 else -1
    if end < 0:
        raise ProtocolViolation("missing string terminator in message")
    # each name read here, not by _cstring: this runs at every execution of a statement
    portal = buf[start:middle].decode("utf-8", "replace") if middle > start else ""
    return portal, buf[middle + 1 : end].decode("utf-8", "replace") if end > middle + 1 else ""


def decode_execute_portal(buf: bytes, start: int = 0, stop: int | None = None) -> str:
    """Execute ('E') whose body is ``buf[start:stop]``: the portal it runs."""
    if start < len(buf) and buf[start] == 0 and (stop is None or start < stop):
        return ""  # the unnamed portal, at nearly every Execute
    return _cstring(buf, start, stop)[0]


def encode_parse(name: str, query: str) -> bytes:
    """Parse ('P') with no declared parameter types."""
    return frame(b"P", name.encode() + b"\x00" + query.encode() + b"\x00\x00\x00")


def encode_bind(portal: str, statement: str) -> bytes:
    """Bind ('B') without parameters, every result column in text."""
    return frame(b"B", portal.encode() + b"\x00" + statement.encode() + b"\x00" + b"\x00" * 6)


def encode_execute(portal: str) -> bytes:
    """Execute ('E') of every row of ``portal``."""
    return frame(b"E", portal.encode() + b"\x00" + b"\x00" * 4)


def encode_close(kind: str, name: str) -> bytes:
    """Close ('C') of statement (``S``) or portal (``P``) ``name``; no error if it is absent."""
    return frame(b"C", kind.encode() + name.encode() + b"\x00")


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


def decode_data_row(body: bytes) -> tuple[str | None, ...]:
    """DataRow ('D') in text format: each column's value, None for NULL."""
    if len(body) < 2:
        raise ProtocolViolation("invalid DataRow message")
    (count,) = _I16.unpack_from(body, 0)
    pos = 2
    values: list[str | None] = []
    for _ in range(count):
        if len(body) < pos + 4:
            raise ProtocolViolation("invalid DataRow message")
        (length,) = _I32.unpack_from(body, pos)
        pos += 4
        if length < 0:
            values.append(None)
            continue
        if len(body) < pos + length:
            raise ProtocolViolation("invalid DataRow message")
        values.append(body[pos : pos + length].decode("utf-8", "replace"))
        pos += length
    return tuple(values)


def decode_function_call_oid(body: bytes) -> int:
    """FunctionCall ('F'): the OID of the function it calls."""
    if len(body) < 4:
        raise ProtocolViolation("invalid FunctionCall message")
    return int(_I32.unpack_from(body, 0)[0]) & 0xFFFFFFFF


def encode_query(sql: str) -> bytes:
    """Query ('Q') of ``sql``."""
    return frame(b"Q", sql.encode() + b"\x00")


def decode_ready_status(body: bytes) -> str:
    """ReadyForQuery ('Z'): 'I' idle, 'T' in transaction, 'E' failed transaction."""
    if len(body) != 1:
        raise ProtocolViolation("invalid ReadyForQuery message")
    return chr(body[0])


__all__ = [
    "AUTH_OK",
    "AUTH_SASL",
    "GREASE_MINOR",
    "MAX_CANCEL_KEY",
    "PROTOCOL_3_0",
    "TLS_HANDSHAKE_BYTE",
    "UNENCRYPTED_DATA_DETAIL",
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
    "decode_data_row",
    "decode_error_fields",
    "decode_function_call_oid",
    "decode_negotiate_protocol_version",
    "decode_parameter_status",
    "decode_parse",
    "decode_query",
    "decode_ready_status",
    "decode_sasl_mechanisms",
    "decode_startup_packet",
    "encode_error",
    "encode_query",
    "encode_sasl_mechanisms",
    "encode_ssl_request",
    "encode_startup_message",
    "frame",
    "parse_bool",
    "replace_parse_query",
    "sasl_initial_gs2_flag",
]
