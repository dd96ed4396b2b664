"""Bounds on the admin port's connections: how many at once, and how long a request may take
to arrive.

aiohttp reads a request's head with no deadline: a client that sends half a header line and
waits holds its connection, a file descriptor of the process that also accepts the
PostgreSQL clients, for as long as it likes; enough of them exhaust the descriptors and
the proxy accepts no one. Here each connection must send a whole request head within
``REQUEST_DEADLINE`` of connecting or of its previous answer (the body: within the same
time, see ``admin._read_json``), and past ``MAX_CONNECTIONS`` open at once a new one is
closed at once. The handler's own time (a ``?wait=`` check) is not bounded here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

#: Admin connections open at once; more are closed as they come.
MAX_CONNECTIONS = 256
#: Seconds a connection has to send a request head (and then its body).
REQUEST_DEADLINE = 10.0


class ConnectionBounds:
    """The admin server's open connections, each with its request deadline."""

    def __init__(self, limit: int = MAX_CONNECTIONS, deadline: float = REQUEST_DEADLINE) -> None:
        self.limit = limit
        self.deadline = deadline
        self._open: dict[Any, _Bounded] = {}  # aiohttp's handler -> its wrapper

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server``: ``factory``'s protocols, bounded."""
        return lambda: _Bounded(self, factory())

    def handling(self, handler: Any, busy: bool) -> None:
        """A request of ``handler``'s connection reached (True) or left (False) its handler:
        no deadline while it is handled, a new one for the next request after."""
        bounded = self._open.get(handler)
        if bounded is not None:
            bounded.arm(not busy)

    def __len__(self) -> int:
        return len(self._open)


#: Where an app keeps its ``ConnectionBounds``.
BOUNDS = web.AppKey("connection_bounds", ConnectionBounds)


@web.middleware
async def deadline_off(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The request head arrived: its connection's deadline waits until it is answered."""
    bounds = request.app[BOUNDS]
    bounds.handling(request.protocol, True)
    try:
        return await handler(request)
    finally:
        bounds.handling(request.protocol, False)


async def listen(runner: web.AppRunner, address: tuple[str, int] | str) -> asyncio.Server:
    """Serve ``runner``'s app (its ``BOUNDS`` set) on a TCP address or a Unix socket's path,
    aiohttp's protocol wrapped in the bounds (aiohttp's own sites take no wrapper)."""
    await runner.setup()
    assert runner.server is not None
    factory = runner.app[BOUNDS].wrap(runner.server)
    loop = asyncio.get_running_loop()
    if isinstance(address, str):
        return await loop.create_unix_server(factory, address)
    host, port = address
    return await loop.create_server(factory, host, port, reuse_address=True)


class _Bounded(asyncio.Protocol):
    """aiohttp's protocol of one connection, closed when its request is late."""

    def __init__(self, bounds: ConnectionBounds, inner: asyncio.Protocol) -> None:
        self._bounds = bounds
        self._inner = inner
        self._transport: Any = None  # uvloop's transports are not asyncio.Transport
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        if len(self._bounds) >= self._bounds.limit:
            transport.abort()
            return
        self._transport = transport
        self._bounds._open[self._inner] = self
        self.arm(True)
        self._inner.connection_made(transport)

    def arm(self, on: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if on and self._transport is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._bounds.deadline, self._transport.abort)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return  # refused: the inner protocol never saw it
        self.arm(False)
        self._bounds._open.pop(self._inner, None)
        self._inner.connection_lost(exc)
