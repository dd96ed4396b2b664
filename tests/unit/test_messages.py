"""Codecs of the startup packets and the messages the proxy reads or writes."""

from __future__ import annotations

import struct

import pytest

from skewguard.wire import messages as m
from skewguard.wire.errors import ProtocolViolation
from tests.support import rawclient as rc

# ---------------------------------------------------------------- startup packets


def _packet(code: int, body: bytes) -> bytes:
    return struct.pack("!ii", 8 + len(body), code) + body


STARTUPS = [
    pytest.param(
        rc.startup({"user": "app", "database": "db"}),
        m.StartupMessage(3, 0, {"user": "app", "database": "db"}),
        id="plain",
    ),
    pytest.param(
        rc.startup(
            {
                "user": "app",
                "options": "-c skewguard.app=orders -c skewguard.version=1.2",
                "application_name": "orders@1.2",
                "_pq_.compression": "on",
            },
            minor=2,
        ),
        m.StartupMessage(
            3,
            2,
            {
                "user": "app",
                "options": "-c skewguard.app=orders -c skewguard.version=1.2",
                "application_name": "orders@1.2",
                "_pq_.compression": "on",
            },
        ),
        id="3.2-with-pq-option",
    ),
    pytest.param(rc.startup({}), m.StartupMessage(3, 0, {}), id="no-params"),
    pytest.param(
        rc.startup({"user": "x", "empty": ""}),
        m.StartupMessage(3, 0, {"user": "x", "empty": ""}),
        id="empty-value",
    ),
    pytest.param(
        rc.startup({"user": "ünïcødé", "application_name": "app@1.0+ß"}),
        m.StartupMessage(3, 0, {"user": "ünïcødé", "application_name": "app@1.0+ß"}),
        id="utf8",
    ),
    pytest.param(
        _packet(3 << 16, b"user\x00a\x00user\x00b\x00\x00"),
        m.StartupMessage(3, 0, {"user": "b"}),
        id="duplicate-last-wins",
    ),
    pytest.param(
        rc.startup({"user": "x"}, major=4, minor=1),
        m.StartupMessage(4, 1, {"user": "x"}),
        id="unknown-version-is-forwarded",
    ),
    pytest.param(rc.SSL_REQUEST, m.SSLRequest(), id="ssl"),
    pytest.param(rc.GSSENC_REQUEST, m.GSSENCRequest(), id="gssenc"),
    pytest.param(
        rc.cancel_request(4242, b"\x01\x02\x03\x04"),
        m.CancelRequest(4242, b"\x01\x02\x03\x04"),
        id="cancel-4",
    ),
    pytest.param(
        rc.cancel_request(7, bytes(range(32))), m.CancelRequest(7, bytes(range(32))), id="cancel-32"
    ),
    pytest.param(
        rc.cancel_request(-1, bytes(range(256))),
        m.CancelRequest(-1, bytes(range(256))),
        id="cancel-256",
    ),
]


@pytest.mark.parametrize(("packet", "expected"), STARTUPS)
def test_decode_startup_packet(packet: bytes, expected: m.StartupPacket) -> None:
    assert m.decode_startup_packet(packet) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("t", True),
        ("tr", True),
        ("yes", True),
        ("y", True),
        ("on", True),
        ("ON", True),
        ("1", True),
        ("false", False),
        ("f", False),
        ("FA", False),
        ("no", False),
        ("n", False),
        ("off", False),
        ("of", False),
        ("OFF", False),
        ("0", False),
        ("o", None),  # ambiguous
        ("onn", None),
        ("offf", None),
        ("truee", None),
        ("10", None),
        ("", None),
        (" true", None),
        ("bogus", None),
        ("tru\u00e9", None),
    ],
)
def test_parse_bool_is_postgres_parse_bool(value: str, expected: bool | None) -> None:
    assert m.parse_bool(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ("database", True),
        ("true", True),
        ("on", True),
        ("1", True),
        ("y", True),
        ("false", False),
        ("f", False),  # PostgreSQL starts a normal backend: the proxy must guard it
        ("OFF", False),
        ("0", False),
        ("DATABASE", False),  # not "database" (case matters) and not a boolean: refused
        ("bogus", False),
        ("", False),
    ],
)
def test_startup_replication_flag_follows_postgres(value: str | None, expected: bool) -> None:
    params = {"user": "u"} | ({"replication": value} if value is not None else {})
    assert m.StartupMessage(3, 0, params).replication is expected


def test_acceptable_startup_messages() -> None:
    assert m.StartupMessage(3, 0, {"user": "u"}).acceptable
    assert m.StartupMessage(3, 9999, {"user": "u"}).acceptable  # negotiated down by the server
    assert not m.StartupMessage(2, 0, {"user": "u"}).acceptable
    assert not m.StartupMessage(4, 0, {"user": "u"}).acceptable
    assert not m.StartupMessage(3, 0, {"user": "u"}, layout_ok=False).acceptable


#: Layouts as PostgreSQL's ProcessStartupPacket reads them: (body after the code, the
#: parameters it takes, whether it accepts the layout).
LAYOUTS = [
    pytest.param(b"", {}, False, id="no-terminator"),
    pytest.param(b"\x00", {}, True, id="terminator-only"),
    pytest.param(b"user", {}, False, id="unterminated-name"),
    pytest.param(b"user\x00", {}, False, id="name-without-value"),
    pytest.param(b"user\x00bob", {"user": "bob"}, False, id="unterminated-value"),
    pytest.param(b"user\x00bob\x00", {"user": "bob"}, False, id="missing-final-nul"),
    pytest.param(b"user\x00bob\x00\x00", {"user": "bob"}, True, id="well-formed"),
    pytest.param(b"user\x00bob\x00\x00junk", {"user": "bob"}, False, id="trailing-junk"),
    pytest.param(b"\x00\x00", {}, False, id="double-terminator"),
    # The scan stops on the last byte whatever it is, so a non-NUL last byte passes.
    pytest.param(b"user\x00bob\x00x", {"user": "bob"}, True, id="last-byte-not-nul"),
    pytest.param(b"user\x00bob\x00xy", {"user": "bob"}, False, id="two-stray-bytes"),
    pytest.param(b"user\x00\x00\x00", {"user": ""}, True, id="empty-value"),
    pytest.param(b"a\x00\x00b\x00c\x00\x00", {"a": "", "b": "c"}, True, id="empty-then-more"),
]


@pytest.mark.parametrize(("body", "params", "layout_ok"), LAYOUTS)
def test_startup_layout_as_postgres_reads_it(
    body: bytes, params: dict[str, str], layout_ok: bool
) -> None:
    decoded = m.decode_startup_packet(_packet(3 << 16, body))
    assert decoded == m.StartupMessage(3, 0, params, layout_ok=layout_ok)


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        pytest.param(
            struct.pack("!ii", 12, m.SSL_REQUEST_CODE) + b"xxxx", m.SSLRequest(), id="ssl-long"
        ),
        pytest.param(
            struct.pack("!ii", 12, m.GSSENC_REQUEST_CODE) + b"xxxx",
            m.GSSENCRequest(),
            id="gss-long",
        ),
        pytest.param(
            _packet(m.CANCEL_REQUEST_CODE, b""), m.CancelRequest(0, b""), id="cancel-bare"
        ),
        pytest.param(rc.cancel_request(1, b""), m.CancelRequest(1, b""), id="cancel-no-key"),
        pytest.param(rc.cancel_request(1, b"abc"), m.CancelRequest(1, b"abc"), id="cancel-key-3"),
        pytest.param(
            rc.cancel_request(1, bytes(257)), m.CancelRequest(1, bytes(257)), id="cancel-key-257"
        ),
        pytest.param(
            struct.pack("!iI", 9, 0xFFFF0001) + b"\x00",
            m.StartupMessage(0xFFFF, 1, {}),
            id="code-with-high-bit",
        ),
    ],
)
def test_odd_startup_packets_are_classified_by_code(
    packet: bytes, expected: m.StartupPacket
) -> None:
    """PostgreSQL reads the code alone for the special requests; the rest is ignored."""
    assert m.decode_startup_packet(packet) == expected


@pytest.mark.parametrize(
    ("key_length", "deliverable"),
    [(0, False), (3, False), (4, True), (32, True), (256, True), (257, False)],
)
def test_cancel_keys_postgres_can_use(key_length: int, deliverable: bool) -> None:
    assert m.CancelRequest(1, bytes(key_length)).deliverable is deliverable


def test_shorter_than_a_code_is_refused() -> None:
    with pytest.raises(ProtocolViolation, match="length") as info:
        m.decode_startup_packet(b"\x00\x00\x00\x04")
    assert info.value.sqlstate == "08P01"


def test_encode_startup_and_ssl_request_match_independent_encoder() -> None:
    params = {"user": "u", "database": "d", "_pq_.x": "y"}
    assert m.encode_startup_message(params) == rc.startup(params)
    assert m.encode_startup_message(params, minor=2) == rc.startup(params, minor=2)
    assert m.encode_ssl_request() == rc.SSL_REQUEST
    decoded = m.decode_startup_packet(m.encode_startup_message(params, minor=2))
    assert decoded == m.StartupMessage(3, 2, params)


# ---------------------------------------------------------------- typed messages


def _body(raw: bytes) -> bytes:
    assert struct.unpack_from("!i", raw, 1)[0] == len(raw) - 1
    return raw[5:]


def test_frame() -> None:
    assert m.frame(b"Q", b"select 1\x00") == rc.query("select 1")
    assert m.frame(b"S", b"") == rc.sync()


def test_decode_query() -> None:
    assert m.decode_query(_body(rc.query("select 'é'"))) == "select 'é'"
    with pytest.raises(ProtocolViolation):
        m.decode_query(b"select 1")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (rc.parse("select 1"), m.Parse("", "select 1")),
        (rc.parse("select $1", "stmt", [23]), m.Parse("stmt", "select $1")),
        (rc.parse("select $1, $2", "Q q", [23, 25]), m.Parse("Q q", "select $1, $2")),
    ],
)
def test_decode_parse(raw: bytes, expected: m.Parse) -> None:
    assert m.decode_parse(_body(raw)) == expected


def test_decode_parse_truncated() -> None:
    with pytest.raises(ProtocolViolation):
        m.decode_parse(b"name\x00select 1")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (rc.close("S", "s1"), m.Close("S", "s1")),
        (rc.close("P", ""), m.Close("P", "")),
        (rc.close("S", ""), m.Close("S", "")),
    ],
)
def test_decode_close(raw: bytes, expected: m.Close) -> None:
    assert m.decode_close(_body(raw)) == expected


@pytest.mark.parametrize("body", [b"", b"S", b"Sname"])
def test_decode_close_malformed(body: bytes) -> None:
    with pytest.raises(ProtocolViolation):
        m.decode_close(body)


@pytest.mark.parametrize(
    "mechanisms",
    [["SCRAM-SHA-256"], ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"], [], ["X", "Y", "Z"]],
)
def test_sasl_mechanisms_round_trip(mechanisms: list[str]) -> None:
    raw = m.encode_sasl_mechanisms(mechanisms)
    assert raw[:1] == b"R"
    body = _body(raw)
    assert m.decode_auth_code(body) == m.AUTH_SASL
    assert m.decode_sasl_mechanisms(body) == mechanisms


def test_sasl_mechanisms_as_postgres_sends_them() -> None:
    body = struct.pack("!i", 10) + b"SCRAM-SHA-256-PLUS\x00SCRAM-SHA-256\x00\x00"
    assert m.decode_sasl_mechanisms(body) == ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]
    assert m.encode_sasl_mechanisms(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]) == rc.message(
        b"R", body
    )


@pytest.mark.parametrize(("code", "name"), [(0, "ok"), (3, "cleartext"), (5, "md5"), (10, "sasl")])
def test_decode_auth_code(code: int, name: str) -> None:
    assert m.decode_auth_code(struct.pack("!i", code) + b"salt") == code


def test_decode_auth_code_short() -> None:
    with pytest.raises(ProtocolViolation):
        m.decode_auth_code(b"\x00\x00")


@pytest.mark.parametrize("key_length", [4, 32, 256])
def test_backend_key_data(key_length: int) -> None:
    key = bytes(i % 251 for i in range(key_length))
    body = struct.pack("!i", 31337) + key
    assert m.decode_backend_key_data(body) == m.BackendKeyData(31337, key)


@pytest.mark.parametrize("key_length", [0, 3, 257])
def test_backend_key_data_bad_lengths(key_length: int) -> None:
    with pytest.raises(ProtocolViolation):
        m.decode_backend_key_data(struct.pack("!i", 1) + bytes(key_length))


def test_parameter_status() -> None:
    assert m.decode_parameter_status(b"application_name\x00orders@1.2\x00") == (
        "application_name",
        "orders@1.2",
    )
    assert m.decode_parameter_status(b"application_name\x00\x00") == ("application_name", "")
    with pytest.raises(ProtocolViolation):
        m.decode_parameter_status(b"application_name\x00orders")


def test_negotiate_protocol_version() -> None:
    body = struct.pack("!ii", (3 << 16) | 0, 2) + b"_pq_.a\x00_pq_.b\x00"
    assert m.decode_negotiate_protocol_version(body) == m.NegotiateProtocolVersion(
        0, ["_pq_.a", "_pq_.b"]
    )
    body = struct.pack("!ii", (3 << 16) | 2, 0)
    assert m.decode_negotiate_protocol_version(body) == m.NegotiateProtocolVersion(2, [])
    with pytest.raises(ProtocolViolation):
        m.decode_negotiate_protocol_version(b"\x00\x03")
    with pytest.raises(ProtocolViolation):  # says two options, carries one
        m.decode_negotiate_protocol_version(struct.pack("!ii", 3 << 16, 2) + b"_pq_.a\x00")


@pytest.mark.parametrize(
    ("sqlstate", "message", "detail", "hint", "severity"),
    [
        ("08P01", "invalid message length", None, None, "FATAL"),
        ("55006", "skewguard: blocked", "orders@1.2 reads users.email", "expand first", "ERROR"),
        ("08006", "ünïcødé ✓", "", "", "FATAL"),
    ],
)
def test_error_round_trip(
    sqlstate: str, message: str, detail: str | None, hint: str | None, severity: str
) -> None:
    raw = m.encode_error(sqlstate, message, severity=severity, detail=detail, hint=hint)
    assert raw[:1] == b"E"
    fields = m.decode_error_fields(_body(raw))
    expected = {"S": severity, "V": severity, "C": sqlstate, "M": message}
    if detail:
        expected["D"] = detail
    if hint:
        expected["H"] = hint
    assert fields == expected
    assert rc.Reply("E", raw).fields() == expected  # independent decoder agrees


def test_decode_error_fields_from_postgres() -> None:
    body = b"SERROR\x00VERROR\x00C22012\x00Mdivision by zero\x00Fint.c\x00L841\x00Rint4div\x00\x00"
    assert m.decode_error_fields(body) == {
        "S": "ERROR",
        "V": "ERROR",
        "C": "22012",
        "M": "division by zero",
        "F": "int.c",
        "L": "841",
        "R": "int4div",
    }


@pytest.mark.parametrize(("status", "char"), [(b"I", "I"), (b"T", "T"), (b"E", "E")])
def test_ready_status(status: bytes, char: str) -> None:
    assert m.decode_ready_status(status) == char


@pytest.mark.parametrize("body", [b"", b"II"])
def test_ready_status_malformed(body: bytes) -> None:
    with pytest.raises(ProtocolViolation):
        m.decode_ready_status(body)


def test_function_call_oid_and_data_rows_decode() -> None:
    call = m.frame(b"F", (4294967295).to_bytes(4, "big") + b"\x00\x00\x00\x00\x00\x00")
    assert m.decode_function_call_oid(call[5:]) == 4294967295  # an OID is unsigned
    with pytest.raises(ProtocolViolation):
        m.decode_function_call_oid(b"\x00\x01")
    row = b"\x00\x02" + b"\x00\x00\x00\x01t" + b"\xff\xff\xff\xff"
    assert m.decode_data_row(row) == ("t", None)
    with pytest.raises(ProtocolViolation):
        m.decode_data_row(b"\x00\x01\x00\x00\x00\x09t")


def test_session_params_name_what_postgresql_connects_to() -> None:
    """An empty database is the user's; names past 63 bytes are cut as PostgreSQL cuts
    them (so a padded name still finds, and is judged as, the real database)."""
    long_db = "d" * 63
    startup = m.StartupMessage(3, 0, {"user": "u" * 70, "database": long_db + "padding"})
    assert startup.session_params == {"user": "u" * 63, "database": long_db}
    assert m.StartupMessage(3, 0, {"user": "app", "database": ""}).session_params == {
        "user": "app",
        "database": "app",
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"\x00\x00rest", ("", "")),
        (b"p\x00\x00rest", ("p", "")),
        (b"\x00s1\x00rest", ("", "s1")),
        (b"p\x00s1\x00", ("p", "s1")),
    ],
)
def test_bind_target_in_place(body: bytes, expected: tuple[str, str]) -> None:
    framed = b"B\x00\x00\x00\x00" + body + b"S\x00\x00\x00\x04"
    assert m.decode_bind_target(body) == expected
    assert m.decode_bind_target(framed, 5, 5 + len(body)) == expected


@pytest.mark.parametrize("body", [b"", b"p", b"p\x00s1", b"\x00s1"])
def test_bind_target_ends_with_its_message(body: bytes) -> None:
    """A name is never read past the message's end, though a NUL follows there."""
    framed = b"B\x00\x00\x00\x00" + body + b"\x00\x00S\x00\x00\x00\x04"
    with pytest.raises(ProtocolViolation):
        m.decode_bind_target(framed, 5, 5 + len(body))


@pytest.mark.parametrize(("body", "expected"), [(b"\x00\x00\x00\x00\x00", ""), (b"c1\x00", "c1")])
def test_execute_portal_in_place(body: bytes, expected: str) -> None:
    framed = b"E\x00\x00\x00\x00" + body + b"S\x00\x00\x00\x04"
    assert m.decode_execute_portal(body) == expected
    assert m.decode_execute_portal(framed, 5, 5 + len(body)) == expected


@pytest.mark.parametrize("body", [b"", b"c1"])
def test_execute_portal_ends_with_its_message(body: bytes) -> None:
    framed = b"E\x00\x00\x00\x00" + body + b"\x00S\x00\x00\x00\x04"
    with pytest.raises(ProtocolViolation):
        m.decode_execute_portal(framed, 5, 5 + len(body))
