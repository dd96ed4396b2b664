"""The listener: accepts clients, relays cancels, shuts down gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import logging
import os
import resource
import socket
import ssl
import time
from collections.abc import Callable, Coroutine

from skewguard.backstop import PassBook
from skewguard.config import ConfigError, Settings, Upstream, parse_upstream
from skewguard.guard import Guard
from skewguard.identity import IdentityResolver
from skewguard.learning import Learner
from skewguard.observe.metrics import ProxyMetrics
from skewguard.observe.traffic import TrafficBook
from skewguard.relay.fast_path import FastPathFunctions
from skewguard.relay.session import ClientSession
from skewguard.relay.tls import server_context
from skewguard.relay.upstream import StartupRefusal, UpstreamLink, connect_upstream
from skewguard.siblings import Siblings
from skewguard.side_connection import ssl_option
from skewguard.wire import messages as m
from skewguard.wire.errors import ProtocolViolation
from skewguard.wire.framing import Message, MessageScanner
from skewguard.wire.messages import CancelRequest

log = logging.getLogger("skewguard.proxy")


#: How long PostgreSQL gets to take a cancel (or answer a probe) and close the connection.
UPSTREAM_EXCHANGE_TIMEOUT = 10.0

#: How long the other workers of --workers get to say whether a cancel key is one of theirs.
CANCEL_OWNER_BUDGET = 1.0

#: How long shutdown waits for cancelled decisions to end.
DECISIONS_END_TIMEOUT = 2.0

#: What PostgreSQL says to a startup packet whose protocol major it does not speak
#: (ProcessStartupPacket; the same text in 15 and 18), with ERRCODE_FEATURE_NOT_SUPPORTED.
UNSUPPORTED_PROTOCOL = "unsupported frontend protocol {}.{}: server supports 3.0 to 3.{}"
FEATURE_NOT_SUPPORTED = "0A000"


def refuse_live_socket(path: str) -> None:
    """A socket file another process still serves is in use; a stale one is replaced.

    (asyncio would unlink any socket file at the path, taking over a running proxy's.)
    """
    if not os.path.exists(path):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return
    raise OSError(errno.EADDRINUSE, f"address already in use: {path} (another process serves it)")


class _Exchange:
    """Sends one packet on a fresh upstream connection; keeps the answer until PostgreSQL closes."""

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.received = bytearray()

    def upstream_ready(self) -> None:
        pass  # the link has sent the packet; PostgreSQL closes the connection itself

    def upstream_data(self, data: bytes) -> None:
        self.received += data

    def upstream_failed(self, reason: str, message: str) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(message))

    def upstream_closed(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def upstream_pause(self) -> None:
        pass

    def upstream_resume(self) -> None:
        pass


#: File descriptors kept for everything but client connections (listeners, the state
#: store, side connections, logs).
FD_RESERVE = 64


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (as pgbouncer does); the result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (OSError, ValueError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return soft


def _resolver(settings: Settings) -> IdentityResolver:
    return IdentityResolver(
        settings.identity_pattern,
        migrator_apps=settings.migrator_apps,
        migrator_roles=settings.migrator_roles,
        app_roles=settings.app_role,
    )


class Proxy:
    """Everything the sessions share: settings, identity rules, metrics, the live set."""

    def __init__(self, settings: Settings, upstream_url: str) -> None:
        self.settings = settings
        self.upstream: Upstream = parse_upstream(upstream_url)
        try:  # a CA or key file that cannot be loaded fails the start, not each connection
            ssl_option(self.upstream)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"--upstream TLS files cannot be loaded: {exc}") from exc
        self.fast_path = FastPathFunctions(self.upstream)
        self.resolver = _resolver(settings)
        self._fd_limit = raise_fd_limit()
        self._refusal_logged = 0.0
        self.traffic = TrafficBook()
        self.metrics = ProxyMetrics(
            self.traffic, max_tracked_versions=settings.max_tracked_versions
        )
        self.sessions: set[ClientSession] = set()
        self.admitted: set[ClientSession] = set()  # past their StartupMessage: the cap counts these
        self.learner: Learner | None = None  # set by the app when analysis is on
        self.guard: Guard | None = None  # likewise
        self.backstop: PassBook | None = None  # likewise: passes for the database-side backstop
        self.siblings: Siblings | None = None  # the other workers of --workers, if any
        self.tls_context: ssl.SSLContext | None = None
        if settings.tls_cert and settings.tls_key:
            self.tls_context = server_context(settings.tls_cert, settings.tls_key)
        self._server: asyncio.Server | None = None
        self._inherited = False
        self._tasks: set[asyncio.Task[None]] = set()  # cancels and probes under way
        # the cancel under way for each backend key: another one for it waits for that one
        self._cancelling: dict[tuple[int, bytes], asyncio.Task[None]] = {}

    @property
    def address(self) -> tuple[str, int] | str:
        """Where the proxy listens (the real port when 0 was asked for), or its socket's path."""
        assert self._server is not None
        name = self._server.sockets[0].getsockname()
        if isinstance(name, str):
            return name
        return name[0], name[1]

    @property
    def max_client_conn(self) -> int:
        """How many client connections are served at once (--max-client-conn, or what the
        process's file descriptors allow: two per client, some for everything else).

        Each of ``--workers`` N serves a share of --max-client-conn (rounded down), so
        that together they never serve more."""
        if self.settings.max_client_conn:
            return max(1, self.settings.max_client_conn // self.settings.workers)
        return max(16, (self._fd_limit - FD_RESERVE) // 2)

    def refuse_connection(self, peer: str) -> None:
        """Count a connection refused at the cap; log at most once per second."""
        self.metrics.client_errors.labels("too_many_clients").inc()
        now = time.monotonic()
        if now - self._refusal_logged > 1.0:
            self._refusal_logged = now
            log.warning(
                "client refused: %d connections, the --max-client-conn limit",
                len(self.sessions),
                extra={"peer": peer},
            )

    def reconfigure(self, settings: Settings) -> None:
        """Take over reloaded settings (SIGHUP): identity rules apply to new sessions."""
        self.settings = settings
        self.resolver = _resolver(settings)

    async def start(self, inherited: socket.socket | None = None) -> None:
        """Listen on the address, or accept on ``inherited``, a socket the supervisor of
        ``--workers`` listens on and keeps (it also removes a Unix socket's file)."""
        address = self.settings.listen_address
        loop = asyncio.get_running_loop()
        if inherited is not None:
            self._inherited = True
            self._server = await loop.create_server(lambda: ClientSession(self), sock=inherited)
            return
        if isinstance(address, str):
            refuse_live_socket(address)
            self._server = await loop.create_unix_server(
                lambda: ClientSession(self), address, backlog=4096
            )
            log.info("listening", extra={"address": f"unix:{address}"})
            return
        host, port = address
        self._server = await loop.create_server(
            lambda: ClientSession(self), host, port, reuse_address=True, backlog=4096
        )
        log.info("listening", extra={"address": f"{host}:{self.address[1]}"})

    def _spawn(self, work: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _exchange(self, packet: bytes) -> bytes:
        """Send ``packet`` on a fresh upstream connection; return all PostgreSQL sent back.

        Returns once PostgreSQL has closed the connection; raises OSError,
        ConnectionError or TimeoutError when it cannot be reached or does not close.
        """
        exchange = _Exchange()
        link = UpstreamLink(exchange, self.upstream, packet)
        try:
            await connect_upstream(link)
            await asyncio.wait_for(exchange.done, timeout=UPSTREAM_EXCHANGE_TIMEOUT)
        finally:
            link.close()
        return bytes(exchange.received)

    def relay_cancel(
        self, request: CancelRequest, packet: bytes, then: Callable[[], object]
    ) -> None:
        """Deliver a CancelRequest as PostgreSQL would, then call ``then``.

        PostgreSQL closes a cancel connection only after it has signalled the
        backend, and libpq and asyncpg wait for that close before they send the
        next statement; so the client's cancel connection may close (``then``)
        only once PostgreSQL has closed the proxy's, or that failed or timed out.
        Closing it earlier lets the next statement overtake the cancel, which
        then kills that statement instead.

        Only a key PostgreSQL gave a session of this proxy (or of another worker)
        reaches the server, as pgbouncer forwards only its clients' keys: a guessed
        one costs PostgreSQL no connection, and cannot reach the proxy's own side
        connections or clients that do not come through it. One cancel per key is
        under way at a time; another for it ends with that one (a flood of one key
        costs PostgreSQL one connection at a time).
        """
        key = (request.pid, request.key)
        task = self._cancelling.get(key)
        if task is None:
            task = self._cancelling[key] = self._spawn(self._relay_cancel(request, packet))
            task.add_done_callback(lambda _: self._cancelling.pop(key, None))
        task.add_done_callback(lambda _: then())

    async def _relay_cancel(self, request: CancelRequest, packet: bytes) -> None:
        fail_held = self.held_cancel(request.pid, request.key)
        elsewhere = None  # a session of another worker of --workers, perhaps
        if self._session_of(request) is None:
            if self.siblings is not None:
                elsewhere = await self.siblings.mark_cancel(
                    request.pid, request.key, budget=CANCEL_OWNER_BUDGET
                )
            if elsewhere is None:
                self.metrics.cancel_requests_unmatched.inc()
                log.info("a cancel request for a key no session holds was dropped")
                return
        self.metrics.cancel_requests.inc()
        try:
            await self._exchange(packet)
        except (OSError, ConnectionError, TimeoutError) as exc:
            self.metrics.upstream_errors.labels("cancel").inc()
            log.warning("cancel request not delivered: %s", exc)
        # A statement the guard holds has not reached PostgreSQL: the proxy fails it
        # itself. Only now, so that the client, once told, cannot send a statement
        # the cancel just forwarded might still reach.
        if fail_held is not None:
            fail_held()
        elif elsewhere is not None and self.siblings is not None:
            self.siblings.fire_cancel(elsewhere)

    def held_cancel(self, pid: int, key: bytes) -> Callable[[], object] | None:
        """What fails the held statement of the session with this backend key, when a
        CancelRequest arriving now is for it (``ClientSession.held_cancel_target``)."""
        session = self._session_of(CancelRequest(pid, key))
        held = session.held_cancel_target() if session is not None else None
        if session is None or held is None:
            return None
        return lambda: session.cancel_held(held)

    def knows_cancel_key(self, pid: int, key: bytes) -> bool:
        """A live session of this proxy has backend key (pid, key)."""
        return self._session_of(CancelRequest(pid, key)) is not None

    def _session_of(self, request: CancelRequest) -> ClientSession | None:
        """The live session PostgreSQL gave this pid and secret key (compared in constant time)."""
        for session in self.sessions:
            key = session.backend_key
            if (
                session.backend_pid == request.pid
                and key is not None
                and hmac.compare_digest(key, request.key)
            ):
                return session
        return None

    def refusal_link(
        self,
        packet: bytes,
        send: Callable[[bytes], None],
        finish: Callable[[], None],
        fail: Callable[[str, str], None],
    ) -> UpstreamLink:
        """A link (not yet connected) that shows the client PostgreSQL's refusal of ``packet``."""
        return UpstreamLink(StartupRefusal(send, finish, fail), self.upstream, packet)

    def answer_unsupported_protocol(
        self,
        code: int,
        send: Callable[[bytes], None],
        finish: Callable[[], None],
        fail: Callable[[str, str], None],
    ) -> None:
        """Refuse a packet PostgreSQL reads as an unknown protocol version, in its words.

        A second SSLRequest or GSSENCRequest (codes 1234.5679, 1234.5680) falls
        through in ProcessStartupPacket to the protocol check. Its message names
        the newest version the server speaks, which the proxy asks the upstream
        for: it answers NegotiateProtocolVersion to a request for 3.9999.
        """
        self._spawn(self._answer_unsupported_protocol(code, send, finish, fail))

    async def _answer_unsupported_protocol(
        self,
        code: int,
        send: Callable[[bytes], None],
        finish: Callable[[], None],
        fail: Callable[[str, str], None],
    ) -> None:
        try:
            newest = await self._newest_minor()
        except (OSError, ConnectionError, TimeoutError, ProtocolViolation) as exc:
            fail("connect", f"cannot ask the upstream PostgreSQL for its protocol range: {exc}")
            return
        major, minor = (code >> 16) & 0xFFFF, code & 0xFFFF
        message = UNSUPPORTED_PROTOCOL.format(major, minor, newest)
        send(m.encode_error(FEATURE_NOT_SUPPORTED, message))
        finish()

    async def _newest_minor(self) -> int:
        """The newest 3.x minor version the upstream speaks."""
        probe = m.encode_startup_message({}, minor=m.GREASE_MINOR)
        for segment in MessageScanner(None).feed(await self._exchange(probe)):
            if isinstance(segment, Message) and segment.type == 0x76:  # 'v'
                return m.decode_negotiate_protocol_version(segment.body).newest_minor
        raise ConnectionError("the upstream did not answer with NegotiateProtocolVersion")

    async def stop(self, grace: float) -> None:
        """Stop accepting; give open connections ``grace`` seconds, then close them.

        Returns once no decision of a session is still running.
        """
        if self._server is not None:
            self._server.close()
        deciding = self._decisions()
        for session in list(self.sessions):
            session.shut_down()  # a held statement never runs after shutdown began (57P01)
        deadline = time.monotonic() + grace
        await asyncio.sleep(0)  # the sessions just ended are gone
        if self.sessions:
            log.info("waiting for %d connection(s) to finish", len(self.sessions))
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        deciding |= self._decisions()
        for session in list(self.sessions):
            session.abort()
        if self._server is not None:
            await self._server.wait_closed()
            address = self.settings.listen_address
            if isinstance(address, str) and not self._inherited:
                with contextlib.suppress(OSError):
                    os.unlink(address)  # as PostgreSQL removes its socket when it stops
        for task in list(self._tasks):
            task.cancel()
        if deciding:  # cancelled: over before anything they use (the store) is closed
            await asyncio.wait(deciding, timeout=DECISIONS_END_TIMEOUT)

    def _decisions(self) -> set[asyncio.Task[None]]:
        return {task for session in self.sessions if (task := session.deciding) is not None}
