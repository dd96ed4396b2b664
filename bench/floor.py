"""``python -m bench.floor``: the bare relay, the floor of what a Python proxy costs.

Two ``asyncio.Protocol``s on uvloop whose ``data_received`` hands the bytes to
the other side's ``transport.write``: no framing, no inspection, no
accounting. The benchmark runs it as a target so skewguard's CPU per
transaction can be read against what moving the same bytes through the same
event loop costs at all (issue #11).

``--mode raw`` and ``--mode splice`` measure the server→client leg without
asyncio transports (issue #11's ``os.splice`` lever): both move bytes between
plain non-blocking sockets from ``loop.add_reader`` callbacks; ``raw`` with
``recv`` + ``send`` (a bytes object per read), ``splice`` with two
``os.splice`` calls through a pipe (no copy to user space). Raw against splice
is what splice alone buys; transport against raw, what the transport layer
costs. Neither handles a slow reader beyond a blocking retry: a benchmark
floor, not a relay.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import signal
import socket
from collections.abc import Callable
from typing import cast

import uvloop

#: Largest read (and pipe transfer) per readiness callback.
CHUNK = 1 << 16


class _Upstream(asyncio.Protocol):
    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()


class _Client(asyncio.Protocol):
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.upstream: asyncio.Transport | None = None
        self.early: list[bytes] = []  # bytes that came before the upstream connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            upstream, _ = await loop.create_connection(
                lambda: _Upstream(self.transport), *self.target
            )
        except OSError:
            self.transport.close()
            return
        self.upstream = upstream
        for chunk in self.early:
            self.upstream.write(chunk)
        self.early = []

    def data_received(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.write(data)
        else:
            self.early.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None:
            self.upstream.close()


def _send_all(sock: socket.socket, data: bytes | memoryview) -> None:
    """Send everything, waiting on a full socket buffer (rare with pgbench's small answers)."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            sock.setblocking(True)
            sock.sendall(view)
            sock.setblocking(False)
            return


class _RawPair:
    """One client and its upstream as plain sockets, moved by add_reader callbacks."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: socket.socket, splice: bool):
        self.loop = loop
        self.client = client
        self.upstream: socket.socket | None = None
        self.pipe = os.pipe() if splice else None

    async def start(self, target: tuple[str, int]) -> None:
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.setblocking(False)
        try:
            await self.loop.sock_connect(upstream, target)
        except OSError:
            upstream.close()
            self.close()
            return
        self.upstream = upstream
        self.loop.add_reader(self.client.fileno(), self._from_client)
        down: Callable[[], None] = self._splice_down if self.pipe else self._recv_down
        self.loop.add_reader(upstream.fileno(), down)

    def _from_client(self) -> None:
        assert self.upstream is not None
        self._pass(self.client, self.upstream)

    def _recv_down(self) -> None:
        assert self.upstream is not None
        self._pass(self.upstream, self.client)

    def _pass(self, source: socket.socket, target: socket.socket) -> None:
        """One read from ``source`` written whole to ``target``; EOF or an error closes both."""
        try:
            data = source.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        _send_all(target, data)

    def _splice_down(self) -> None:
        assert self.upstream is not None and self.pipe is not None
        read_end, write_end = self.pipe
        flags = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
        try:
            moved = os.splice(self.upstream.fileno(), write_end, CHUNK, flags=flags)
        except BlockingIOError:
            return
        except OSError:
            moved = 0
        if moved == 0:
            self.close()
            return
        while moved:
            try:
                moved -= os.splice(read_end, self.client.fileno(), moved, flags=flags)
            except OSError as exc:
                if exc.errno != errno.EAGAIN:
                    self.close()
                    return
                self.client.setblocking(True)  # the client's buffer is full: wait for it
                moved -= os.splice(read_end, self.client.fileno(), moved)
                self.client.setblocking(False)

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            if sock is not None and sock.fileno() >= 0:
                self.loop.remove_reader(sock.fileno())
                sock.close()
        if self.pipe is not None:
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None


async def _serve_raw(
    host: str, port: int, target: tuple[str, int], splice: bool, stop: asyncio.Future[None]
) -> None:
    loop = asyncio.get_running_loop()
    listener = socket.create_server((host, port), backlog=4096)
    listener.setblocking(False)
    pairs: set[asyncio.Task[None]] = set()

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except BlockingIOError:
                return
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(_RawPair(loop, client, splice).start(target))
            pairs.add(task)
            task.add_done_callback(pairs.discard)

    loop.add_reader(listener.fileno(), accept)
    await stop
    loop.remove_reader(listener.fileno())
    listener.close()


async def serve(
    host: str, port: int, upstream_host: str, upstream_port: int, mode: str = "transport"
) -> None:
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    if mode != "transport":
        await _serve_raw(host, port, (upstream_host, upstream_port), mode == "splice", stop)
        return
    server = await loop.create_server(
        lambda: _Client(upstream_host, upstream_port), host, port, backlog=4096
    )
    await stop
    server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-host", default="127.0.0.1")
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--mode", choices=("transport", "raw", "splice"), default="transport")
    args = parser.parse_args(argv)
    uvloop.run(serve(args.host, args.port, args.upstream_host, args.upstream_port, args.mode))


if __name__ == "__main__":
    main()
