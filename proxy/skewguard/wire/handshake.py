"""The startup phase of one connection, bytes in and actions out, with no I/O.

From the first packet to the first ReadyForQuery the proxy reads both
directions: it answers SSLRequest and GSSENCRequest itself, hands a
StartupMessage, a CancelRequest or a refused packet to its shell, relays the
client's authentication responses and the server's authentication exchange,
and holds what a client sends before authentication ends (PostgreSQL reads it
only afterwards, so the gate judges it then). It learns the session's
search_path and current user as PostgreSQL set them (per-role and
per-database defaults included, ``ALTER ROLE ... SET role`` too) by asking,
between the server's first ReadyForQuery and the client's. Every answer follows
PostgreSQL's ProcessStartupPacket. :class:`Handshake` keeps that state;
``relay/session.py`` performs the actions it returns (the h11 shape: the
protocol knows nothing of sockets, TLS objects or the event loop, and is
tested with bytes alone).
"""

from __future__ import annotations

from dataclasses import dataclass

from skewguard.wire import messages as m
from skewguard.wire.errors import PROTOCOL_VIOLATION, ProtocolViolation
from skewguard.wire.framing import MAX_MESSAGE, Message, MessageScanner, StartupFramer

#: Client bytes held before authentication ends (and, in the shell, while a statement
#: waits for a decision) before reading stops: backpressure, as a full socket buffer
#: would give.
HOLD_LIMIT = 1 << 20

_AUTH_RESPONSE = 0x70  # 'p': password, SASL and GSS responses
_AUTHENTICATION = 0x52  # 'R'
_BACKEND_KEY_DATA = 0x4B  # 'K'
_PARAMETER_STATUS = 0x53  # 'S'
_READY_FOR_QUERY = 0x5A  # 'Z'
_DATA_ROW = 0x44  # 'D'
#: The answers to the proxy's own startup query the client never sees (the rest,
#: notices and reports, are the session's and go on).
_OWN_REPLIES = frozenset(b"TDCEI")
#: What the proxy asks once a session has started (current_user is a keyword: no
#: search_path can make it another function).
SESSION_QUERY = m.encode_query("SELECT pg_catalog.current_setting('search_path'), current_user")


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class ToClient:
    """Bytes for the client (plaintext: the shell encrypts when the client is on TLS)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ToServer:
    """Bytes for the server, in order (the shell buffers them until it is connected)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the connection without a reply, as PostgreSQL does; ``counted`` is the metric label."""

    why: str
    counted: str | None = "protocol"


@dataclass(frozen=True, slots=True)
class StartTls:
    """'S' was answered: from here the client speaks TLS, and ``rest`` is its first ciphertext."""

    rest: bytes


@dataclass(frozen=True, slots=True)
class Cancel:
    """A CancelRequest PostgreSQL would act on: deliver it, then close."""

    request: m.CancelRequest
    packet: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """A StartupMessage every PostgreSQL refuses: forward it so the client reads that refusal."""

    packet: bytes


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A repeated SSLRequest/GSSENCRequest, read by PostgreSQL as protocol ``code`` (refused)."""

    code: int


@dataclass(frozen=True, slots=True)
class Start:
    """A StartupMessage to open the server connection with (``packet`` as the client sent it)."""

    startup: m.StartupMessage
    packet: bytes


@dataclass(frozen=True, slots=True)
class PauseReading:
    """More than :data:`HOLD_LIMIT` bytes are held: stop reading the client for now."""


@dataclass(frozen=True, slots=True)
class BackendKey:
    """BackendKeyData: what a CancelRequest for this connection must carry."""

    pid: int
    key: bytes


@dataclass(frozen=True, slots=True)
class ApplicationName:
    """The server reported the session's application_name (the identity may come from it)."""

    value: str


@dataclass(frozen=True, slots=True)
class ClientEncoding:
    """The server reported the session's client_encoding (texts are read in it)."""

    value: str


@dataclass(frozen=True, slots=True)
class SessionStart:
    """The session's search_path and current user as PostgreSQL set them at startup (None:
    it would not say)."""

    search_path: str | None
    current_user: str | None


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The first ReadyForQuery: the startup phase is over."""


Action = (
    ToClient
    | ToServer
    | Hangup
    | StartTls
    | Cancel
    | Refused
    | Unsupported
    | Start
    | PauseReading
    | BackendKey
    | ApplicationName
    | ClientEncoding
    | SessionStart
    | Authenticated
)


# ---------------------------------------------------------------- the state machine


class Handshake:
    """What the startup phase has seen so far, and what to do with the next bytes.

    ``tls_available``: the proxy has a certificate, so an SSLRequest gets 'S'.
    The shell sets ``client_tls`` once the client's TLS started and
    ``server_tls`` once the server connection is known to use TLS (the one case
    of SCRAM channel binding that cannot cross the proxy needs both).
    """

    def __init__(self, *, tls_available: bool) -> None:
        self.tls_available = tls_available
        self.client_tls = False
        self.server_tls = False
        self.started = False  # a StartupMessage was handed over: authentication under way
        self.authenticated = False
        #: standard_conforming_strings as the server reported it at startup
        self.standard_strings: str | None = None
        #: the database's encoding (names are cut at 63 bytes of it); fixed at startup
        self.server_encoding = "UTF8"
        self._framer = StartupFramer()
        self._server = MessageScanner(None)
        self._auth_buf = bytearray()  # client bytes during authentication, not yet framed
        self._early: list[bytes] = []  # client messages held until authentication ends
        self._early_bytes = 0
        self._sasl_pending = False  # AuthenticationSASL relayed, SASLInitialResponse not yet
        #: the shell's wish to learn how the session started (one that runs SQL)
        self.learn_session = False
        self._first_ready: bytes | None = None  # the server's, held while the proxy asks
        self._asked: tuple[str | None, ...] = (None, None)

    @property
    def holding(self) -> bool:
        """Client bytes wait for authentication to end."""
        return bool(self._early or self._auth_buf)

    # ------------------------------------------------------------ client -> proxy

    def client_startup(self, data: bytes) -> list[Action]:
        """Bytes (decrypted) before a StartupMessage: answered as ProcessStartupPacket does.

        What PostgreSQL drops without a word (a bad length, an unusable cancel)
        is dropped without a word; a StartupMessage PostgreSQL is sure to refuse
        goes to it as it is, so the client reads PostgreSQL's own refusal.
        """
        framer = self._framer
        try:
            got = framer.feed(data)
        except ProtocolViolation as exc:  # PostgreSQL only logs it (COMMERROR) and hangs up
            return [Hangup(exc.message)]
        if got is None:
            return []
        packet, rest = got
        request = m.decode_startup_packet(packet)
        if isinstance(request, m.CancelRequest):
            framer.finish()
            if request.deliverable:
                return [Cancel(request, packet)]
            return [Hangup(f"cancel request with a {len(request.key)}-byte key ignored", None)]
        if isinstance(request, m.StartupMessage):
            framer.finish()
            if not request.acceptable:  # another protocol major, or a layout it rejects
                return [Refused(packet)]
            self.started = True
            return [Start(request, packet), *self.client_auth(rest)]
        wants_ssl = isinstance(request, m.SSLRequest)
        if framer.ssl_done if wants_ssl else framer.gss_done:
            # Asked again: PostgreSQL reads the packet as a StartupMessage of protocol
            # 1234.5679 (or 1234.5680) and refuses that version.
            framer.finish()
            return [Unsupported(int.from_bytes(packet[4:8], "big"))]
        # 'N' also inside direct TLS, as PostgreSQL answers when SSL is in use already.
        if wants_ssl and self.tls_available and not self.client_tls:
            framer.ssl_done = framer.gss_done = True  # once TLS is on, GSS is settled too
            self.client_tls = True
            # PostgreSQL 17+ hands bytes that came with the request to the TLS
            # handshake, where plaintext fails (16 and older wait for a handshake).
            return [ToClient(b"S"), StartTls(rest)]
        actions: list[Action] = [ToClient(b"N")]  # (the proxy never offers GSSAPI encryption)
        if wants_ssl:
            framer.ssl_done = True
            unencrypted = "received unencrypted data after SSL request"
        else:
            framer.gss_done = True
            unencrypted = "received unencrypted data after GSSAPI encryption request"
        if rest:  # bytes that came with the request, before its answer could be read
            error = m.encode_error(
                PROTOCOL_VIOLATION, unencrypted, detail=m.UNENCRYPTED_DATA_DETAIL
            )
            actions += [ToClient(error), Hangup(unencrypted)]
        return actions

    def client_auth(self, data: bytes) -> list[Action]:
        """Bytes during authentication: responses go on, anything else waits until it ends.

        PostgreSQL reads a message sent before authentication ends only after it
        ends, so holding it and handing it to the gate then keeps its meaning,
        and nothing reaches the server before the proxy can judge it.
        Raises ProtocolViolation for a response PostgreSQL would refuse.
        """
        if self._early:  # something is held already: all that follows waits behind it
            return self._hold(data)
        buf = self._auth_buf
        buf += data
        actions: list[Action] = []
        pos = 0
        while len(buf) - pos >= 5 and buf[pos] == _AUTH_RESPONSE:
            length = int.from_bytes(buf[pos + 1 : pos + 5], "big", signed=True)
            if length < 4 or length > MAX_MESSAGE:
                raise ProtocolViolation(f"invalid message length {length} for message type 0x70")
            stop = pos + 1 + length
            if len(buf) < stop:
                break
            raw = bytes(buf[pos:stop])
            if self._sasl_pending:
                self._sasl_pending = False
                self._check_channel_binding(raw)
            actions.append(ToServer(raw))
            pos = stop
        del buf[:pos]
        if buf and buf[0] != _AUTH_RESPONSE:
            rest = bytes(buf)
            buf.clear()
            actions += self._hold(rest)
        return actions

    def take_held(self) -> bytes:
        """What the client sent before authentication ended, in order (now the gate's)."""
        held = b"".join(self._early) + bytes(self._auth_buf)
        self._early, self._early_bytes = [], 0
        self._auth_buf.clear()
        return held

    def _hold(self, data: bytes) -> list[Action]:
        self._early.append(data)
        self._early_bytes += len(data)
        return [PauseReading()] if self._early_bytes > HOLD_LIMIT else []

    def _check_channel_binding(self, data: bytes) -> None:
        """Explain the one SCRAM case that cannot work through the proxy.

        A TLS client offered only SCRAM-SHA-256 answers "y" (it could bind but
        the server seems unable); an upstream on TLS rejects that as a downgrade
        attack, with a message that points nowhere near the proxy.
        """
        if not (self.client_tls and self.server_tls) or len(data) < 5:
            return
        end = 1 + int.from_bytes(data[1:5], "big")
        if len(data) >= end and m.sasl_initial_gs2_flag(data[5:end]) == "y":  # whole message
            raise ProtocolViolation(
                "skewguard: SCRAM channel binding cannot cross the proxy when both the client "
                "connection and the proxy's connection to PostgreSQL use TLS; connect with "
                "channel_binding=disable, or use sslmode=disable without TLS to the proxy"
            )

    # ------------------------------------------------------------ server -> proxy

    def server_bytes(self, data: bytes) -> tuple[list[Action], bytes]:
        """Authentication and parameters, message by message, up to the first ReadyForQuery.

        What the messages said, and the bytes for the client (to be written after
        those actions). Raises ProtocolViolation for a malformed message.
        """
        out: list[bytes] = []
        said: list[Action] = []
        for segment in self._server.feed(data):
            assert type(segment) is Message
            raw = segment.raw
            mtype = segment.type
            if mtype == _AUTHENTICATION and m.decode_auth_code(segment.body) == m.AUTH_SASL:
                raw = _without_channel_binding(segment)
                self._sasl_pending = True
            elif mtype == _BACKEND_KEY_DATA:
                key_data = m.decode_backend_key_data(segment.body)
                said.append(BackendKey(key_data.pid, key_data.key))
            elif self._first_ready is not None and mtype in _OWN_REPLIES:
                if mtype == _DATA_ROW:
                    self._asked = m.decode_data_row(segment.body)
                continue
            elif mtype == _PARAMETER_STATUS:
                name, value = m.decode_parameter_status(segment.body)
                if name == "application_name":
                    said.append(ApplicationName(value))
                elif name == "client_encoding":
                    said.append(ClientEncoding(value))
                elif name == "standard_conforming_strings":
                    self.standard_strings = value
                elif name == "server_encoding":
                    self.server_encoding = value
            elif mtype == _READY_FOR_QUERY and not self.authenticated:
                if self._first_ready is None and self.learn_session:
                    self.learn_session = False
                    self._first_ready = raw  # the client's, once the answer is in
                    said.append(ToServer(SESSION_QUERY))
                    continue
                if self._first_ready is not None:
                    raw, self._first_ready = self._first_ready, None
                    path, user, *_ = (*self._asked, None, None)
                    said.append(SessionStart(path, user))
                self.authenticated = True
                said.append(Authenticated())
            out.append(raw)
        return said, b"".join(out)


def _without_channel_binding(message: Message) -> bytes:
    """AuthenticationSASL offering only plain SCRAM-SHA-256: the client's TLS never reaches
    the server.

    A TLS client would bind to the proxy's certificate, which the server can
    never match; a plaintext client that is offered -PLUS gives up at once
    (libpq: "server offered SCRAM-SHA-256-PLUS authentication over a non-SSL
    connection").
    """
    mechanisms = m.decode_sasl_mechanisms(message.body)
    kept = [name for name in mechanisms if not name.endswith("-PLUS")]
    if kept == mechanisms:
        return message.raw
    return m.encode_sasl_mechanisms(kept)
