"""The admin HTTP server: /metrics, /healthz, the JSON API and the status page."""

from __future__ import annotations

import asyncio
import html
import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from skewguard.guard import Requester
from skewguard.identity import Identity
from skewguard.registry import version_report
from skewguard.relay.server import Proxy
from skewguard.search_path import DEFAULT
from skewguard.store import Lifecycle, StateStore

_LIFECYCLE_ACTIONS = {"pin": Lifecycle.PINNED, "retire": Lifecycle.RETIRED, "unpin": None}


def build_app(proxy: Proxy, store: StateStore | None) -> web.Application:
    def need_state() -> StateStore:
        if store is None or proxy.learner is None:
            raise web.HTTPServiceUnavailable(text="footprint learning is off (--analysis off)")
        return store

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(proxy.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "connections": len(proxy.sessions)})

    async def version_rows(with_facets: bool) -> list[dict[str, Any]]:
        state = need_state()
        assert proxy.learner is not None
        await proxy.learner.flush()
        stored = await asyncio.to_thread(state.versions, with_facets=with_facets)
        lifecycle = await asyncio.to_thread(state.lifecycle)
        protections = {}
        if proxy.guard is not None:
            for database in {v.key.database for v in stored}:
                protections.update(await proxy.guard.protections(database))
        live = list(proxy.learner.live_keys())
        try:  # connections through the other proxies that share the state
            elsewhere = await asyncio.to_thread(
                state.live_elsewhere, proxy.learner.proxy_id, proxy.settings.heartbeat_window
            )
        except Exception:  # the store is down: report this proxy's own connections
            elsewhere = {}
        for key, count in elsewhere.items():
            live.extend([key] * count)
        return version_report(
            stored,
            live,
            with_facets=with_facets,
            protections=protections,
            lifecycle=lifecycle,
        )

    async def versions(request: web.Request) -> web.Response:
        """Versions with live connections, protection and footprints; ``?facets=0`` omits them."""
        with_facets = request.query.get("facets", "1") not in ("0", "false", "no")
        return web.json_response({"versions": await version_rows(with_facets)})

    async def lifecycle(request: web.Request) -> web.Response:
        """POST /api/versions/APP@VERSION/{pin,unpin,retire}."""
        state = need_state()
        name, action = request.match_info["name"], request.match_info["action"]
        app, sep, version = name.partition("@")
        if not sep or not app or not version or action not in _LIFECYCLE_ACTIONS:
            raise web.HTTPBadRequest(text="use /api/versions/APP@VERSION/pin|unpin|retire")
        await asyncio.to_thread(state.set_lifecycle, app, version, _LIFECYCLE_ACTIONS[action])
        return web.json_response({"app": app, "version": version, "action": action})

    async def decisions(request: web.Request) -> web.Response:
        state = need_state()
        try:
            limit = max(1, min(int(request.query.get("limit", "100")), 10_000))
        except ValueError:
            raise web.HTTPBadRequest(text="limit must be an integer") from None
        rows = await asyncio.to_thread(state.decisions, limit)
        return web.json_response({"decisions": rows})

    async def check(request: web.Request) -> web.Response:
        """POST SQL (text/plain, or JSON {"sql", "database", "user"}) → the decision JSON."""
        need_state()
        if proxy.guard is None:
            raise web.HTTPServiceUnavailable(text="the DDL guard is off")
        if request.content_type == "application/json":
            body = await request.json()
            sql = str(body.get("sql", ""))
            database = str(body.get("database") or "")
            user = str(body.get("user") or "")
        else:
            sql = await request.text()
            database = request.query.get("database", "")
            user = request.query.get("user", "")
        upstream = proxy.upstream
        user = user or upstream.user or "postgres"
        requester = Requester(
            database=database or upstream.database or user,
            user=user,
            identity=Identity(),
            peer=request.remote or "?",
            search_path=DEFAULT,
        )
        try:
            decision = await proxy.guard.check(requester, sql)
        except ConnectionError as exc:
            raise web.HTTPBadGateway(text=str(exc)) from None
        return web.json_response(decision.to_dict())

    async def status(_: web.Request) -> web.Response:
        rows = await version_rows(False) if store is not None and proxy.learner else []
        recent = await asyncio.to_thread(store.decisions, 20) if store is not None else []
        return web.Response(text=_status_page(rows, recent), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", status)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/versions", versions)
    app.router.add_post("/api/versions/{name}/{action}", lifecycle)
    app.router.add_get("/api/decisions", decisions)
    app.router.add_post("/api/check", check)
    return app


def _status_page(rows: list[dict[str, Any]], recent: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            value = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value))
        return f"<td>{html.escape(str(value if value is not None else '-'))}</td>"

    version_lines = "".join(
        "<tr>" + "".join(cell(r[k]) for k in
                         ("database", "app", "version", "live_connections", "protected",
                          "lifecycle", "last_seen")) + "</tr>"
        for r in rows
    )  # fmt: skip
    decision_lines = "".join(
        "<tr>" + "".join(cell(d.get(k)) for k in ("at", "decision", "database", "client", "note"))
        + cell("; ".join(d.get("statements", []))[:300]) + "</tr>"
        for d in recent
    )  # fmt: skip
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>skewguard</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;"
        "border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
        "<h1>skewguard</h1><h2>Versions</h2><table><tr><th>database</th><th>app</th>"
        "<th>version</th><th>live</th><th>protected</th><th>lifecycle</th><th>last seen (UTC)</th>"
        f"</tr>{version_lines}</table><h2>Recent DDL decisions</h2><table><tr><th>at (UTC)</th>"
        "<th>decision</th><th>database</th><th>client</th><th>why</th><th>statements</th></tr>"
        f"{decision_lines}</table></body></html>"
    )


class AdminServer:
    """Runs the admin app on the proxy's event loop."""

    def __init__(self, proxy: Proxy, store: StateStore | None, host: str, port: int) -> None:
        self._runner = web.AppRunner(build_app(proxy, store), access_log=None)
        self._host = host
        self._port = port
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await self._site.start()

    async def stop(self) -> None:
        await self._runner.cleanup()
