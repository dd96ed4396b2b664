"""The admin HTTP server: /metrics, /healthz and the JSON API."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from skewguard.registry import version_report
from skewguard.relay.server import Proxy
from skewguard.store import StateStore


def build_app(proxy: Proxy, store: StateStore | None) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(proxy.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "connections": len(proxy.sessions)})

    async def versions(request: web.Request) -> web.Response:
        """Versions with live connections and footprints; ``?facets=0`` omits footprints."""
        if store is None or proxy.learner is None:
            raise web.HTTPServiceUnavailable(text="footprint learning is off (--analysis off)")
        await proxy.learner.flush()
        with_facets = request.query.get("facets", "1") not in ("0", "false", "no")
        stored = await asyncio.to_thread(store.versions, with_facets=with_facets)
        rows = version_report(stored, proxy.learner.live_keys(), with_facets=with_facets)
        return web.json_response({"versions": rows})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/versions", versions)
    return app


class AdminServer:
    """Runs the admin app on the proxy's event loop."""

    def __init__(self, proxy: Proxy, store: StateStore | None, host: str, port: int) -> None:
        self._runner = web.AppRunner(build_app(proxy, store), access_log=None)
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
