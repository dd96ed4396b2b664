"""The proxy's connection to PostgreSQL: TLS per sslmode, then a plain byte stream."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Protocol, cast

from skewguard.config import Upstream
from skewguard.relay.tls import TlsEndpoint, upstream_context
from skewguard.wire.messages import encode_ssl_request

#: Write-buffer limits: pause the other side's reading above HIGH, resume below LOW.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024


class UpstreamOwner(Protocol):
    """What the upstream link reports to (a client session, or a cancel relay)."""

    def upstream_ready(self) -> None: ...
    def upstream_data(self, data: bytes) -> None: ...
    def upstream_failed(self, reason: str, message: str) -> None: ...
    def upstream_closed(self) -> None: ...
    def upstream_pause(self) -> None: ...
    def upstream_resume(self) -> None: ...


class StartupRefusal:
    """Passes PostgreSQL's own refusal of a startup packet back to the client, as bytes.

    A StartupMessage of another protocol major, or with a layout PostgreSQL
    rejects, goes upstream verbatim: only the server knows its own words (the
    protocol range it supports; for 1.x and 2.x, an error in the version-2
    format the proxy does not parse). An answer that does not start with an
    ErrorResponse means the server accepted what the proxy cannot follow, so
    the connection is failed instead of relayed unguarded.
    """

    def __init__(
        self,
        send: Callable[[bytes], None],
        finish: Callable[[], None],
        fail: Callable[[str, str], None],
    ) -> None:
        self._send = send  # to the client (through its TLS, if any)
        self._finish = finish  # PostgreSQL closed: close the client the same way
        self._fail = fail  # (reason, message): fail the client connection
        self._checked = False
        self._refused = False

    def upstream_ready(self) -> None:
        pass

    def upstream_data(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._checked:
            self._checked = True
            if data[:1] != b"E":
                self._refused = True
                self._fail("protocol", "the server accepted a startup packet the proxy cannot read")
                return
        self._send(data)

    def upstream_failed(self, reason: str, message: str) -> None:
        self._fail(reason, message)

    def upstream_closed(self) -> None:
        self._finish()

    def upstream_pause(self) -> None:
        pass

    def upstream_resume(self) -> None:
        pass


class UpstreamLink(asyncio.Protocol):
    """Negotiates TLS as libpq would for the sslmode, sends the first packet, then relays."""

    def __init__(self, owner: UpstreamOwner, target: Upstream, first_packet: bytes) -> None:
        self._owner = owner
        self.target = target
        self._first = first_packet
        self._tls: TlsEndpoint | None = None
        self._awaiting_ssl_answer = False
        self._streaming = False
        self._failed = False
        self.transport: asyncio.Transport | None = None

    @property
    def tls(self) -> bool:
        return self._tls is not None

    @property
    def ready(self) -> bool:
        """True once the first packet is sent and bytes may flow."""
        return self._streaming

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        if self.target.sslmode in ("disable", "allow") or self.target.unix_socket:
            self._begin_stream()
        else:
            self._awaiting_ssl_answer = True
            self.transport.write(encode_ssl_request())

    def data_received(self, data: bytes) -> None:
        if self._streaming and self._tls is None:
            self._owner.upstream_data(data)
            return
        if self._awaiting_ssl_answer:
            self._on_ssl_answer(data)
            return
        assert self._tls is not None and self.transport is not None
        try:
            plain, out = self._tls.receive(data)
        except ssl.SSLError as exc:
            self._fail("tls", f"TLS with the upstream failed: {exc}")
            return
        if out:
            self.transport.write(out)
        if not self._streaming and self._tls.handshake_done:
            self._begin_stream()
        if plain:
            self._owner.upstream_data(plain)

    def _on_ssl_answer(self, data: bytes) -> None:
        self._awaiting_ssl_answer = False
        answer, rest = data[:1], data[1:]
        if rest:
            self._fail("protocol", "upstream sent unencrypted data after its SSL answer")
            return
        assert self.transport is not None
        if answer == b"S":
            target = self.target
            hostname = target.host if target.sslmode == "verify-full" else None
            try:
                context = upstream_context(
                    target.sslmode,
                    rootcert=target.sslrootcert,
                    cert=target.sslcert,
                    key=target.sslkey,
                )
                self._tls = TlsEndpoint(context, server_side=False, server_hostname=hostname)
                self.transport.write(self._tls.start())
            except ssl.SSLError as exc:
                self._fail("tls", f"TLS with the upstream failed: {exc}")
        elif answer == b"N" and self.target.sslmode == "prefer":
            self._begin_stream()
        elif answer == b"N":
            self._fail("tls", f"upstream does not support SSL but sslmode={self.target.sslmode}")
        else:
            self._fail("protocol", f"upstream answered SSLRequest with {answer!r}")

    def _begin_stream(self) -> None:
        self._streaming = True
        self.write(self._first)
        self._owner.upstream_ready()

    def direct_writer(self) -> Callable[[bytes], object]:
        """The fastest way to send: the transport's own write when no TLS is in between."""
        if self._tls is None and self.transport is not None:
            return self.transport.write
        return self.write

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self._tls is not None:
            try:
                data = self._tls.send(data)
            except ssl.SSLError as exc:
                self._fail("tls", f"TLS with the upstream failed: {exc}")
                return
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, reason: str, message: str) -> None:
        self._failed = True
        self._owner.upstream_failed(reason, message)
        self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._failed:
            self._owner.upstream_closed()

    def pause_writing(self) -> None:
        self._owner.upstream_pause()

    def resume_writing(self) -> None:
        self._owner.upstream_resume()


async def connect_upstream(link: UpstreamLink) -> None:
    """Open the link's connection (TCP or unix socket); raises OSError when unreachable."""
    loop = asyncio.get_running_loop()
    target = link.target
    path = target.unix_socket
    if path:
        await loop.create_unix_connection(lambda: link, path)
    else:
        await loop.create_connection(lambda: link, target.host, target.port)
