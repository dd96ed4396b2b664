"""The admin HTTP server: /metrics and /healthz (more endpoints join as features land)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from skewguard.relay.server import Proxy


def build_app(proxy: Proxy) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(proxy.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "connections": len(proxy.sessions)})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


class AdminServer:
    """Runs the admin app on the proxy's event loop."""

    def __init__(self, proxy: Proxy, host: str, port: int) -> None:
        self._runner = web.AppRunner(build_app(proxy), access_log=None)
        self._host = host
        self._port = port
        self._site: web.TCPSite | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._site is not None and self._site._server is not None
        sockets = getattr(self._site._server, "sockets", None) or []
        host, port = sockets[0].getsockname()[:2]
        return host, port

    async def start(self) -> None:
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await self._site.start()

    async def stop(self) -> None:
        await self._runner.cleanup()
