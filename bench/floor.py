"""``python -m bench.floor``: the bare relay, the floor of what a Python proxy costs.

Two ``asyncio.Protocol``s on uvloop whose ``data_received`` hands the bytes to
the other side's ``transport.write``: no framing, no inspection, no
accounting. The benchmark runs it as a target so skewguard's CPU per
transaction can be read against what moving the same bytes through the same
event loop costs at all (issue #11).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import cast

import uvloop


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


async def serve(host: str, port: int, upstream_host: str, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Client(upstream_host, upstream_port), host, port, backlog=4096
    )
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    await stop
    server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-host", default="127.0.0.1")
    parser.add_argument("--upstream-port", type=int, required=True)
    args = parser.parse_args(argv)
    uvloop.run(serve(args.host, args.port, args.upstream_host, args.upstream_port))


if __name__ == "__main__":
    main()
