"""Differential: before a session starts, the proxy answers exactly what PostgreSQL answers.

Every case is a short script of raw bytes (and SSL/GSS negotiation) played once
straight to PostgreSQL and once through a proxy in front of it; the replies and
the way each connection ends must be the same. ErrorResponses are compared
field by field except PostgreSQL's source position (F, L, R); BackendKeyData
is compared by length. The proxy offers TLS exactly when the cluster does, so
their answers to an SSLRequest can agree.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clusters import Certificates
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration

USER = {"user": "postgres", "database": "postgres"}
SSL_REQUEST = rc.SSL_REQUEST
GSSENC_REQUEST = rc.GSSENC_REQUEST
#: How long a connection may stay silent before it counts as left open by the server.
IDLE = 0.5


def _packet(code: int, body: bytes) -> bytes:
    """An untyped startup packet with any code and body; the length word counts itself."""
    return struct.pack("!ii", 8 + len(body), code) + body


def _startup_body(params: dict[str, str]) -> bytes:
    return b"".join(k.encode() + b"\x00" + v.encode() + b"\x00" for k, v in params.items())


# ---------------------------------------------------------------- the client side


class Skip(Exception):
    """This server build does something the proxy cannot mirror (GSSAPI encryption)."""


@dataclass
class Conversation:
    """A raw connection and a transcript of what came back, step by step."""

    sock: socket.socket
    transcript: list[tuple[str, object]] = field(default_factory=list)
    #: The server answered a request with something else (an error): the script stops.
    stopped: bool = False
    _early: bytes = b""  # bytes read as an answer that were the start of the reply

    @classmethod
    def open(cls, port: int) -> Conversation:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock)

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:  # the server hung up already
            self.transcript.append(("send failed", type(exc).__name__))

    def answer(self) -> bytes:
        """The one-byte answer to an SSLRequest or GSSENCRequest (b"" if closed instead)."""
        try:
            got = self.sock.recv(1)
        except OSError as exc:
            got = b""
            self.transcript.append(("answer failed", type(exc).__name__))
        if got in (b"S", b"N", b"G"):
            self.transcript.append(("answer", got))
        else:  # no answer: the reply (or the end) came instead
            self._early += got
            self.stopped = True
        return got

    def start_tls(self, *, direct: bool = False) -> bool:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if direct:
            context.set_alpn_protocols(["postgresql"])
        try:
            self.sock = context.wrap_socket(self.sock)
        except (OSError, ssl.SSLError):
            # What came instead of a handshake, or how it broke, does not compare across
            # TLS libraries: only that it failed.
            self.transcript.append(("tls", False))
            self.stopped = True
            return False
        self.transcript.append(("tls", True))
        return True

    def shut(self) -> None:
        """Half-close the TCP connection (TLS, if any, stays on for reading)."""
        # SSLSocket.shutdown would also drop TLS, leaving encrypted records to read.
        socket.socket.shutdown(self.sock, socket.SHUT_WR)

    def finish(self) -> None:
        """Read until the server closes (or goes quiet); a session that started is ended."""
        if self.sock.fileno() == -1:  # a failed TLS handshake closed it
            return
        data = bytearray(self._early)
        how = self._read_into(data)
        if how == "open" and _ends_ready(bytes(data)):
            self.send(rc.terminate())
            after = bytearray()
            how = self._read_into(after)
            data += after
        self.transcript.append(("reply", _normalized(bytes(data))))
        self.transcript.append(("end", how))
        self.sock.close()

    def _read_into(self, data: bytearray) -> str:
        self.sock.settimeout(IDLE)
        while True:
            if _ends_ready(bytes(data)):
                return "open"  # a session started: it waits for a query
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return "open"
            except ssl.SSLEOFError:
                return "eof without close_notify"
            except ConnectionResetError:
                return "reset"
            if not chunk:
                return "eof"
            data += chunk


def _ends_ready(data: bytes) -> bool:
    try:
        replies = rc.messages_of(data)
    except ValueError:
        return False
    return bool(replies) and replies[-1].type == "Z"


def _normalized(data: bytes) -> object:
    """Typed messages with what legitimately differs taken out; other bytes as they are."""
    try:
        replies = rc.messages_of(data)
    except (ValueError, struct.error):
        return data  # not version-3 messages: a version-2 error, or a partial message
    out: list[object] = []
    for reply in replies:
        if reply.type == "K":  # another backend: same key length, other values
            out.append(("K", len(reply.body)))
        elif reply.type in "EN":
            fields = {k: v for k, v in reply.fields().items() if k not in "FLR"}
            out.append((reply.type, fields))
        else:
            out.append((reply.type, reply.body))
    return out


# ---------------------------------------------------------------- scripts

Step = Callable[[Conversation], None]


def send(data: bytes) -> Step:
    return lambda c: c.send(data)


def send_slowly(data: bytes, size: int = 1) -> Step:
    """``data`` in many small writes, each its own TCP segment."""

    def step(c: Conversation) -> None:
        for pos in range(0, len(data), size):
            c.send(data[pos : pos + size])
            time.sleep(0.002)

    return step


def negotiate_ssl(request: bytes = SSL_REQUEST) -> Step:
    """Ask for SSL as libpq does: TLS if the answer is 'S'."""

    def step(c: Conversation) -> None:
        c.send(request)
        if c.answer() == b"S":
            c.start_tls()

    return step


def negotiate_gss(c: Conversation) -> None:
    c.send(GSSENC_REQUEST)
    answer_gss(c)


def answer_gss(c: Conversation) -> None:
    if c.answer() == b"G":
        raise Skip("this PostgreSQL build offers GSSAPI encryption; the proxy never does")


def answer(c: Conversation) -> None:
    c.answer()


def direct_tls(c: Conversation) -> None:
    c.start_tls(direct=True)


def shut(c: Conversation) -> None:
    c.shut()


@dataclass(frozen=True)
class Case:
    steps: tuple[Step, ...]
    #: PostgreSQL 16 and older wait for a TLS handshake when bytes came with an SSLRequest
    #: it answered 'S'; 17 feeds them to the handshake, and so does the proxy.
    tls_as_17: bool = False
    #: Direct TLS (no SSLRequest) exists from PostgreSQL 17 on.
    needs_17: bool = False


def case(*steps: Step, tls_as_17: bool = False, needs_17: bool = False) -> Case:
    return Case(steps, tls_as_17, needs_17)


STARTUP = rc.startup(USER)

CASES: dict[str, Case] = {
    # ---- lengths: PostgreSQL logs them and hangs up without a word
    "node-postgres-terminate-first": case(send(rc.terminate() + STARTUP)),
    "http-request": case(send(b"GET / HTTP/1.1\r\nHost: db\r\n\r\n")),
    "length-zero": case(send(b"\x00\x00\x00\x00")),
    "length-7": case(send(struct.pack("!i", 7) + b"abc")),
    "length-negative": case(send(struct.pack("!i", -8) + b"\x00" * 8)),
    "length-10005": case(send(struct.pack("!ii", 10_005, 3 << 16))),
    "length-max-int": case(send(struct.pack("!ii", 0x7FFFFFFF, 3 << 16))),
    "length-10004-then-eof": case(send(struct.pack("!ii", 10_004, 3 << 16)), shut),
    "partial-length-then-eof": case(send(b"\x00\x00"), shut),
    "eof-mid-packet": case(send(STARTUP[:20]), shut),
    "eof-right-after-length": case(send(STARTUP[:4]), shut),
    "connect-and-close": case(shut),
    # ---- the StartupMessage itself
    "split-into-single-bytes": case(send_slowly(STARTUP)),
    "split-header": case(send_slowly(STARTUP[:8], 3), send(STARTUP[8:])),
    "protocol-1.0": case(send(rc.startup(USER, major=1))),
    "protocol-2.0": case(send(rc.startup(USER, major=2))),
    "protocol-2.0-v2-layout": case(
        send(_packet(2 << 16, b"postgres".ljust(64, b"\x00") + b"postgres".ljust(228, b"\x00")))
    ),
    "protocol-4.0": case(send(rc.startup(USER, major=4))),
    "protocol-0.0": case(send(rc.startup(USER, major=0))),
    "protocol-3.1": case(send(rc.startup(USER, minor=1))),
    "protocol-3.2": case(send(rc.startup(USER, minor=2))),
    "protocol-3.3": case(send(rc.startup(USER, minor=3))),
    "protocol-3.99": case(send(rc.startup(USER, minor=99))),
    "protocol-3.9999-grease": case(send(rc.startup(USER, minor=9999))),
    "protocol-3.65535": case(send(rc.startup(USER, minor=0xFFFF))),
    "protocol-4.0-bad-layout": case(send(_packet(4 << 16, b"user\x00"))),
    "no-user": case(send(rc.startup({"database": "postgres"}))),
    "empty-user": case(send(rc.startup({"user": ""}))),
    "no-parameters": case(send(_packet(3 << 16, b"\x00"))),
    "code-only": case(send(_packet(3 << 16, b""))),
    "name-without-value": case(send(_packet(3 << 16, b"user\x00"))),
    "unterminated-value": case(send(_packet(3 << 16, b"user\x00postgres"))),
    "missing-final-nul": case(send(_packet(3 << 16, _startup_body(USER)))),
    "junk-after-terminator": case(send(_packet(3 << 16, _startup_body(USER) + b"\x00junk"))),
    "double-terminator": case(send(_packet(3 << 16, b"\x00\x00"))),
    # PostgreSQL's scan stops on a last byte that is not NUL, and accepts the packet.
    "last-byte-not-nul": case(send(_packet(3 << 16, _startup_body(USER) + b"x"))),
    "unknown-pq-option": case(send(rc.startup({**USER, "_pq_.nosuch": "1"}))),
    "pq-option-without-user": case(send(rc.startup({"_pq_.nosuch": "1"}, minor=9999))),
    "replication-bogus": case(send(rc.startup({**USER, "replication": "bogus"}))),
    "replication-empty": case(send(rc.startup({**USER, "replication": ""}))),
    "replication-f": case(send(rc.startup({**USER, "replication": "f"}))),
    "replication-OFF": case(send(rc.startup({**USER, "replication": "OFF"}))),
    "unknown-parameter": case(send(rc.startup({**USER, "nosuch_guc": "1"}))),
    "bad-parameter-value": case(send(rc.startup({**USER, "work_mem": "lots"}))),
    "options-unknown-setting": case(send(rc.startup({**USER, "options": "-c nosuch=1"}))),
    "options-dangling-c": case(send(rc.startup({**USER, "options": "-c"}))),
    "options-not-a-switch": case(send(rc.startup({**USER, "options": "hello"}))),
    "unknown-database": case(send(rc.startup({"user": "postgres", "database": "nosuch_db"}))),
    "unknown-user": case(send(rc.startup({"user": "nosuch_role"}))),
    "startup-then-eof": case(send(STARTUP), shut),
    # ---- SSLRequest and GSSENCRequest
    "ssl-then-startup": case(negotiate_ssl(), send(STARTUP)),
    "ssl-with-startup-in-the-same-write": case(send(SSL_REQUEST + STARTUP), answer, tls_as_17=True),
    "ssl-request-sent-twice-at-once": case(send(SSL_REQUEST + SSL_REQUEST), answer, tls_as_17=True),
    "ssl-request-with-extra-bytes": case(negotiate_ssl(_packet(80877103, b"abcd")), send(STARTUP)),
    "ssl-twice": case(negotiate_ssl(), negotiate_ssl()),
    "ssl-then-bad-length": case(negotiate_ssl(), send(b"\x00\x00\x00\x01")),
    "ssl-then-cancel": case(negotiate_ssl(), send(rc.cancel_request(1, b"abcd"))),
    "ssl-then-protocol-2.0": case(negotiate_ssl(), send(rc.startup(USER, major=2))),
    "ssl-then-eof": case(negotiate_ssl(), shut),
    "gss": case(negotiate_gss, send(STARTUP)),
    "gss-with-startup-in-the-same-write": case(send(GSSENC_REQUEST + STARTUP), answer_gss),
    "gss-twice": case(negotiate_gss, negotiate_gss),
    "gss-then-ssl": case(negotiate_gss, negotiate_ssl(), send(STARTUP)),
    "ssl-then-gss": case(negotiate_ssl(), negotiate_gss),
    "ssl-gss-ssl-gss-then-startup": case(
        negotiate_ssl(), negotiate_gss, negotiate_ssl(), negotiate_gss, send(STARTUP)
    ),
    "ssl-gss-ssl": case(negotiate_ssl(), negotiate_gss, negotiate_ssl()),
    "gss-ssl-gss": case(negotiate_gss, negotiate_ssl(), negotiate_gss),
    "direct-tls": case(direct_tls, send(STARTUP), needs_17=True),
    "direct-tls-then-ssl-request": case(direct_tls, negotiate_ssl(), send(STARTUP), needs_17=True),
    # ---- CancelRequest: never an answer
    "cancel-unknown-backend": case(send(rc.cancel_request(2_000_000_000, b"abcd"))),
    "cancel-pid-zero": case(send(rc.cancel_request(0, b"abcd"))),
    "cancel-no-key": case(send(rc.cancel_request(1, b""))),
    "cancel-key-3": case(send(rc.cancel_request(1, b"abc"))),
    "cancel-key-32": case(send(rc.cancel_request(1, bytes(32)))),
    "cancel-key-257": case(send(rc.cancel_request(1, bytes(257)))),
    "cancel-code-only": case(send(_packet(80877102, b""))),
    "cancel-then-more": case(send(rc.cancel_request(1, b"abcd") + STARTUP)),
}


def _play(port: int, script: Case) -> list[tuple[str, object]]:
    conversation = Conversation.open(port)
    try:
        for step in script.steps:
            step(conversation)
            if conversation.stopped:
                break
        conversation.finish()
        return conversation.transcript
    finally:
        conversation.sock.close()


@pytest.fixture(scope="module")
def twin(
    cluster: LocalCluster, certs: Certificates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    """A proxy that offers TLS exactly when the cluster does."""
    tls = ["--tls-cert", str(certs.cert), "--tls-key", str(certs.key)]
    logdir = tmp_path_factory.mktemp(f"parity-pg{cluster.install.major}")
    running = ProxyProcess(
        upstream=cluster.url(sslmode="disable"),
        extra_args=tls if cluster.install.supports_ssl else [],
        logfile=logdir / "proxy.log",
    ).start()
    yield running
    assert running.stop() == 0, running.log_tail()


@pytest.mark.parametrize("name", list(CASES))
def test_startup_phase_parity(name: str, cluster: LocalCluster, twin: ProxyProcess) -> None:
    script = CASES[name]
    major = cluster.install.major
    if script.needs_17 and major < 17 and cluster.install.supports_ssl:
        pytest.skip("direct TLS starts in PostgreSQL 17; the proxy offers it in front of any")
    if script.tls_as_17 and major < 17 and cluster.install.supports_ssl:
        pytest.skip("PostgreSQL 16 and older wait for a TLS handshake that never comes")
    try:
        expected = _play(cluster.port, script)
        got = _play(twin.port, script)
    except Skip as exc:
        pytest.skip(str(exc))
    assert got == expected, f"\nPostgreSQL: {expected}\nproxy:      {got}"


# ---------------------------------------------------------------- startup timeout


@pytest.fixture
def short_authentication_timeout(cluster: LocalCluster) -> Iterator[None]:
    """authentication_timeout at its minimum (1s) for the duration of one test."""
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("alter system set authentication_timeout = '1s'")
        conn.execute("select pg_reload_conf()")
    time.sleep(0.2)  # the postmaster rereads its configuration on SIGHUP
    try:
        yield
    finally:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("alter system reset authentication_timeout")
            conn.execute("select pg_reload_conf()")


#: What a client sends before going silent: nothing, half a length word, part of a
#: packet, an SSLRequest (answered, then nothing).
SILENT_CLIENTS = [b"", STARTUP[:2], STARTUP[:12], SSL_REQUEST]


def test_silent_clients_time_out_without_a_word(
    cluster: LocalCluster, short_authentication_timeout: None, tmp_path: Path
) -> None:
    """PostgreSQL's backend just exits when the startup packet takes too long: no reply."""
    proxy = ProxyProcess(
        upstream=cluster.url(sslmode="disable"),
        extra_args=["--startup-timeout", "1s"],
        logfile=tmp_path / "proxy.log",
    ).start()
    try:
        started = time.monotonic()
        waiting = []
        for port in (cluster.port, proxy.port):
            for sent in SILENT_CLIENTS:
                conversation = Conversation.open(port)
                if sent:
                    conversation.send(sent)
                if sent == SSL_REQUEST:
                    conversation.answer()
                waiting.append(conversation)
        outcomes = []
        for conversation in waiting:
            conversation.sock.settimeout(5)
            try:
                data = conversation.sock.recv(100)
            finally:
                conversation.sock.close()
            outcomes.append((data, time.monotonic() - started > 0.8))
        assert outcomes == [(b"", True)] * len(waiting), outcomes
        assert time.monotonic() - started < 4
    finally:
        proxy.stop()


# ---------------------------------------------------------------- where PostgreSQL versions differ


def test_bytes_behind_an_accepted_ssl_request_go_to_the_tls_handshake(proxy: ProxyProcess) -> None:
    """As PostgreSQL 17+ does: 'S', then the plaintext fails as a handshake and the line drops.

    (16 and older wait instead for a handshake that never comes.) Those bytes are
    never read as a startup packet: no session starts, nothing is said in clear.
    """
    conversation = Conversation.open(proxy.port)
    conversation.send(SSL_REQUEST + STARTUP)
    assert conversation.answer() == b"S"
    data = bytearray()
    how = conversation._read_into(data)
    conversation.sock.close()
    assert how in ("eof", "reset"), (how, bytes(data))
    assert bytes(data[:1]) in (b"", b"\x15"), bytes(data)  # at most a TLS alert record
