"""The admin port's connection bounds on a real socket: a late request head or body is
cut off, connections past the limit are closed, a slow handler is not."""

from __future__ import annotations

import asyncio

from aiohttp import web

from skewguard.observe.admin_connections import BOUNDS, ConnectionBounds, deadline_off, listen


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(0.6)  # longer than the deadline: handling is not bounded here
    return web.Response(text="done")


async def _serve() -> tuple[web.AppRunner, asyncio.Server, int]:
    app = web.Application(middlewares=[deadline_off])
    app[BOUNDS] = ConnectionBounds(limit=2, deadline=0.3)
    app.router.add_get("/slow", _slow)
    runner = web.AppRunner(app, access_log=None)
    server = await listen(runner, ("127.0.0.1", 0))
    return runner, server, server.sockets[0].getsockname()[1]


async def _closed_after(reader: asyncio.StreamReader) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while await reader.read(4096):
        pass
    return loop.time() - start


def test_a_half_sent_head_is_closed_and_the_limit_holds() -> None:
    async def go() -> None:
        runner, server, port = await _serve()
        try:
            r1, w1 = await asyncio.open_connection("127.0.0.1", port)
            w1.write(b"GET /slow HTTP/1.1\r\nHost: x\r\nX-A: ")
            r2, w2 = await asyncio.open_connection("127.0.0.1", port)
            r3, w3 = await asyncio.open_connection("127.0.0.1", port)  # the third: refused
            assert await asyncio.wait_for(_closed_after(r3), 1) < 0.2
            assert await asyncio.wait_for(_closed_after(r1), 2) < 1.5
            assert await asyncio.wait_for(_closed_after(r2), 1.5) < 1.5  # idle: as late
            r2, w2 = await asyncio.open_connection("127.0.0.1", port)
            w2.write(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = await asyncio.wait_for(r2.read(), 3)
            assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"done")
            for w in (w1, w2, w3):
                w.close()
        finally:
            server.close()
            await runner.cleanup()

    asyncio.run(go())
