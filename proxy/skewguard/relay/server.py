"""The listener: accepts clients, relays cancels, shuts down gracefully."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time

from skewguard.backstop import PassBook
from skewguard.config import Settings, Upstream, parse_upstream
from skewguard.guard import Guard
from skewguard.identity import IdentityResolver
from skewguard.learning import Learner
from skewguard.observe.metrics import ProxyMetrics
from skewguard.observe.traffic import TrafficBook
from skewguard.relay.session import ClientSession
from skewguard.relay.tls import server_context
from skewguard.relay.upstream import UpstreamLink, connect_upstream

log = logging.getLogger("skewguard.proxy")


class _CancelRelay:
    """Forwards one CancelRequest on a fresh upstream connection, byte for byte."""

    def __init__(self) -> None:
        self.done = asyncio.get_running_loop().create_future()

    def upstream_ready(self) -> None:
        pass  # the link has sent the packet; PostgreSQL closes the connection itself

    def upstream_data(self, data: bytes) -> None:
        pass

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


class Proxy:
    """Everything the sessions share: settings, identity rules, metrics, the live set."""

    def __init__(self, settings: Settings, upstream_url: str) -> None:
        self.settings = settings
        self.upstream: Upstream = parse_upstream(upstream_url)
        self.resolver = IdentityResolver(settings.identity_pattern)
        self.traffic = TrafficBook()
        self.metrics = ProxyMetrics(self.traffic)
        self.sessions: set[ClientSession] = set()
        self.learner: Learner | None = None  # set by the app when analysis is on
        self.guard: Guard | None = None  # likewise
        self.backstop: PassBook | None = None  # likewise: passes for the database-side backstop
        self.tls_context: ssl.SSLContext | None = None
        if settings.tls_cert and settings.tls_key:
            self.tls_context = server_context(settings.tls_cert, settings.tls_key)
        self._server: asyncio.Server | None = None
        self._cancels: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        """Where the proxy listens (the real port when 0 was asked for)."""
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def start(self) -> None:
        host, port = self.settings.listen_address
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientSession(self), host, port, reuse_address=True, backlog=4096
        )
        log.info("listening", extra={"address": f"{self.address[0]}:{self.address[1]}"})

    def relay_cancel(self, packet: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._relay_cancel(packet))
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)

    async def _relay_cancel(self, packet: bytes) -> None:
        self.metrics.cancel_requests.inc()
        relay = _CancelRelay()
        link = UpstreamLink(relay, self.upstream, packet)
        try:
            await connect_upstream(link)
            await asyncio.wait_for(relay.done, timeout=10)
        except (OSError, ConnectionError, TimeoutError) as exc:
            self.metrics.upstream_errors.labels("cancel").inc()
            log.warning("cancel request not delivered: %s", exc)
        finally:
            link.close()

    async def stop(self, grace: float) -> None:
        """Stop accepting; give open connections ``grace`` seconds, then close them."""
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.shut_down()  # a held statement never runs after shutdown began (57P01)
        deadline = time.monotonic() + grace
        if self.sessions:
            log.info("waiting for %d connection(s) to finish", len(self.sessions))
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            session.abort()
        if self._server is not None:
            await self._server.wait_closed()
        for task in list(self._cancels):
            task.cancel()
