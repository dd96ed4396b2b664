"""The startup phase with bytes alone: what the handshake core answers and hands on."""

from __future__ import annotations

import struct

import pytest

from skewguard.wire import handshake as hs
from skewguard.wire import messages as m
from skewguard.wire.errors import ProtocolViolation
from skewguard.wire.framing import MAX_STARTUP_PACKET
from tests.support import rawclient as rc

STARTUP = rc.startup({"user": "app", "database": "shop"})


def _auth(code: int, payload: bytes = b"") -> bytes:
    return rc.message(b"R", struct.pack("!i", code) + payload)


def _sasl_initial(flag: bytes) -> bytes:
    """SASLInitialResponse for SCRAM-SHA-256 whose GS2 header starts with ``flag``."""
    first = flag + b",,n=,r=nonce"
    return rc.message(b"p", b"SCRAM-SHA-256\x00" + struct.pack("!i", len(first)) + first)


def _ready() -> bytes:
    return rc.message(b"Z", b"I")


def _parameter(name: str, value: str) -> bytes:
    return rc.message(b"S", name.encode() + b"\x00" + value.encode() + b"\x00")


def _backend_key(pid: int, key: bytes) -> bytes:
    return rc.message(b"K", struct.pack("!i", pid) + key)


def _started(tls_available: bool = False) -> hs.Handshake:
    shake = hs.Handshake(tls_available=tls_available)
    actions = shake.client_startup(STARTUP)
    assert [type(a) for a in actions] == [hs.Start]
    return shake


def test_a_startup_message_split_at_every_byte_starts_once_with_the_packet_as_sent() -> None:
    for cut in range(1, len(STARTUP)):
        shake = hs.Handshake(tls_available=False)
        assert shake.client_startup(STARTUP[:cut]) == []
        actions = shake.client_startup(STARTUP[cut:])
        assert len(actions) == 1
        start = actions[0]
        assert isinstance(start, hs.Start)
        assert start.packet == STARTUP
        assert start.startup.params == {"user": "app", "database": "shop"}
        assert shake.started


def test_ssl_request_gets_s_and_the_bytes_after_it_go_to_tls() -> None:
    shake = hs.Handshake(tls_available=True)
    assert shake.client_startup(rc.SSL_REQUEST + b"\x16\x03") == [
        hs.ToClient(b"S"),
        hs.StartTls(b"\x16\x03"),
    ]
    assert shake.client_tls
    # inside TLS, a second SSLRequest is a StartupMessage of an unknown protocol
    assert shake.client_startup(rc.SSL_REQUEST) == [hs.Unsupported(m.SSL_REQUEST_CODE)]


def test_ssl_request_without_a_certificate_gets_n_then_the_startup_goes_on() -> None:
    shake = hs.Handshake(tls_available=False)
    assert shake.client_startup(rc.SSL_REQUEST) == [hs.ToClient(b"N")]
    assert [type(a) for a in shake.client_startup(STARTUP)] == [hs.Start]


def test_gssenc_request_gets_n_and_a_second_one_is_an_unsupported_protocol() -> None:
    shake = hs.Handshake(tls_available=True)
    assert shake.client_startup(rc.GSSENC_REQUEST) == [hs.ToClient(b"N")]
    assert shake.client_startup(rc.GSSENC_REQUEST) == [hs.Unsupported(m.GSSENC_REQUEST_CODE)]


def test_plaintext_sent_with_a_refused_ssl_request_is_a_protocol_error() -> None:
    shake = hs.Handshake(tls_available=False)
    actions = shake.client_startup(rc.SSL_REQUEST + STARTUP)
    assert actions[0] == hs.ToClient(b"N")
    error = actions[1]
    assert isinstance(error, hs.ToClient)
    assert rc.error_code(rc.messages_of(error.data)) == "08P01"
    assert actions[2] == hs.Hangup("received unencrypted data after SSL request")


@pytest.mark.parametrize("length", [0, 7, MAX_STARTUP_PACKET + 5])
def test_a_length_postgres_refuses_hangs_up_without_a_reply(length: int) -> None:
    shake = hs.Handshake(tls_available=False)
    actions = shake.client_startup(struct.pack("!i", length))
    assert actions == [hs.Hangup("invalid length of startup packet")]
    assert shake.client_startup(STARTUP) == []  # nothing more is read


def test_a_cancel_request_is_handed_on_only_when_postgres_would_act_on_it() -> None:
    packet = rc.cancel_request(4242, b"\x00\x00\x00\x07")
    action = hs.Handshake(tls_available=False).client_startup(packet)
    assert action == [hs.Cancel(m.CancelRequest(4242, b"\x00\x00\x00\x07"), packet)]
    short = hs.Handshake(tls_available=False).client_startup(rc.cancel_request(1, b"\x01\x02"))
    assert short == [hs.Hangup("cancel request with a 2-byte key ignored", None)]


def test_another_protocol_major_is_forwarded_for_postgres_to_refuse() -> None:
    packet = rc.startup({"user": "app"}, major=2)
    shake = hs.Handshake(tls_available=False)
    assert shake.client_startup(packet) == [hs.Refused(packet)]
    assert not shake.started


def test_auth_responses_go_on_and_anything_else_waits_for_authentication() -> None:
    shake = _started()
    secret = rc.password("s3cret")
    early = rc.query("SELECT 1") + rc.query("DROP TABLE t")
    cut = len(secret) + 3
    assert shake.client_auth((secret + early)[:cut]) == [hs.ToServer(secret)]
    assert shake.holding
    assert shake.client_auth((secret + early)[cut:]) == []
    assert shake.take_held() == early
    assert not shake.holding


def test_a_startup_message_with_its_password_in_one_read_starts_then_relays_it() -> None:
    shake = hs.Handshake(tls_available=False)
    actions = shake.client_startup(STARTUP + rc.password("pw"))
    assert [type(a) for a in actions] == [hs.Start, hs.ToServer]
    assert actions[1] == hs.ToServer(rc.password("pw"))


def test_a_response_after_a_held_message_waits_behind_it() -> None:
    shake = _started()
    held = rc.query("SELECT 1")
    shake.client_auth(held)
    assert shake.client_auth(rc.password("late")) == []  # order kept: held, not relayed
    assert shake.take_held() == held + rc.password("late")


def test_holding_more_than_the_limit_stops_reading() -> None:
    shake = _started()
    chunk = rc.query("SELECT '" + "x" * 60_000 + "'")
    actions: list[hs.Action] = []
    while not actions:
        actions = shake.client_auth(chunk)
    assert actions == [hs.PauseReading()]


@pytest.mark.parametrize("length", [3, -1, (1 << 30) + 1])
def test_a_malformed_auth_response_is_a_protocol_violation(length: int) -> None:
    shake = _started()
    with pytest.raises(ProtocolViolation, match="invalid message length"):
        shake.client_auth(b"p" + struct.pack("!i", length))


def test_channel_binding_is_hidden_and_its_one_impossible_case_explained() -> None:
    offer = _auth(m.AUTH_SASL, b"SCRAM-SHA-256-PLUS\x00SCRAM-SHA-256\x00\x00")
    shake = _started()
    shake.client_tls = shake.server_tls = True
    assert shake.server_bytes(offer) == ([], m.encode_sasl_mechanisms(["SCRAM-SHA-256"]))
    with pytest.raises(ProtocolViolation, match="channel binding cannot cross the proxy"):
        shake.client_auth(_sasl_initial(b"y"))
    plain = _started()
    plain.server_tls = True  # the client is not on TLS: its "y" is harmless
    plain.server_bytes(offer)
    assert plain.client_auth(_sasl_initial(b"y")) == [hs.ToServer(_sasl_initial(b"y"))]


def test_the_server_side_says_key_name_and_ready_once_split_at_every_byte() -> None:
    stream = (
        _auth(m.AUTH_OK)
        + _parameter("application_name", "shop@1")
        + _backend_key(77, b"\x00\x00\x00\x09")
        + _ready()
        + _ready()
    )
    for cut in range(1, len(stream)):
        shake = _started()
        said: list[hs.Action] = []
        relayed = b""
        for part in (stream[:cut], stream[cut:]):
            facts, out = shake.server_bytes(part)
            relayed += out
            said += facts
        assert relayed == stream
        assert said == [
            hs.ApplicationName("shop@1"),
            hs.BackendKey(77, b"\x00\x00\x00\x09"),
            hs.Authenticated(),
        ]
        assert shake.authenticated


def _row(*values: str) -> bytes:
    cells = b"".join(struct.pack("!i", len(v)) + v.encode() for v in values)
    return rc.message(b"D", struct.pack("!h", len(values)) + cells)


ANSWER = (
    rc.message(b"T", b"\x00\x02current_setting\x00" + bytes(18) + b"current_user\x00" + bytes(18))
    + _row('"$user", public', "app")
    + rc.message(b"C", b"SELECT 1\x00")
    + _ready()
)


@pytest.mark.parametrize("cut", range(1, 40))
def test_the_session_is_asked_between_the_servers_ready_and_the_clients(cut: int) -> None:
    """Per-role defaults are PostgreSQL's to say: the proxy asks, the client sees the
    server's startup replies only, ending with its first ReadyForQuery."""
    shake = _started()
    shake.learn_session = True
    hello = _auth(m.AUTH_OK) + _parameter("search_path", "x") + _backend_key(7, b"abcd") + _ready()
    said, out = shake.server_bytes(hello)
    assert said == [hs.BackendKey(7, b"abcd"), hs.ToServer(hs.SESSION_QUERY)]
    assert out == hello[: -len(_ready())] and not shake.authenticated
    facts: list[hs.Action] = []
    for part in (ANSWER[:cut], ANSWER[cut:]):
        got, more = shake.server_bytes(part)
        facts += got
        out += more
    assert facts == [hs.SessionStart('"$user", public', "app"), hs.Authenticated()]
    assert out == hello and shake.authenticated


def test_a_session_not_learned_is_not_asked() -> None:
    shake = _started()
    hello = _auth(m.AUTH_OK) + _ready()
    assert shake.server_bytes(hello) == ([hs.Authenticated()], hello)


def test_a_failed_question_leaves_the_session_unknown() -> None:
    shake = _started()
    shake.learn_session = True
    shake.server_bytes(_auth(m.AUTH_OK) + _ready())
    error = rc.message(b"E", b"SERROR\x00C57014\x00Mcanceling statement\x00\x00")
    notice = rc.message(b"N", b"SNOTICE\x00C00000\x00Mhello\x00\x00")
    said, out = shake.server_bytes(notice + error + _ready())
    assert said == [hs.SessionStart(None, None), hs.Authenticated()]
    assert out == notice + _ready()
