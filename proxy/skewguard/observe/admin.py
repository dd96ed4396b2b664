"""The admin HTTP server: /metrics, /healthz, the JSON API and the status page.

Everything that can reach the admin port is treated as hostile: every request
passes ``AccessPolicy`` first (tokens, the loopback rule, cross-site checks),
bodies and pages are bounded, and answers that can be large are built and
encoded in a worker thread, row by row, so the event loop relaying client
traffic never waits on one long encode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from skewguard import __version__
from skewguard.config import ConfigError, parse_duration
from skewguard.footprint import VersionKey
from skewguard.guard import ReplayUnavailable, Requester, StateUnreadable
from skewguard.identity import Identity
from skewguard.observe import status_page
from skewguard.observe.access import AccessPolicy
from skewguard.observe.admin_connections import BOUNDS, ConnectionBounds, deadline_off, listen
from skewguard.protection import Protection, version_report
from skewguard.relay.server import Proxy
from skewguard.search_path import DEFAULT
from skewguard.side_connection import SIDE_ERRORS, close_side, connect_side
from skewguard.store import Lifecycle, StateStore, StoredVersion
from skewguard.store.base import with_unwritten
from skewguard.waiting import breaking_versions, wait_until_safe

log = logging.getLogger("skewguard.admin")

T = TypeVar("T")

_LIFECYCLE_ACTIONS = {"pin": Lifecycle.PINNED, "retire": Lifecycle.RETIRED, "unpin": None}
#: Largest request body: a lifecycle change is a few bytes; a migration to check may be long.
MAX_BODY = 64 * 1024
MAX_CHECK_BODY = 1024 * 1024
#: Largest page of /api/decisions and /api/versions (``?limit=``), and the default.
MAX_DECISIONS = 1000
MAX_VERSIONS = 500
DEFAULT_DECISIONS = 100
#: Heavy answers (store reads, encoding) built at once; the rest wait their turn, so one
#: worker thread at most competes with the event loop for the GIL.
HEAVY_AT_ONCE = 1


#: How long a reader of the audit waits for the decisions queued before it.
AUDIT_SETTLE = 2.0


@dataclass(slots=True)
class _Context:
    proxy: Proxy
    store: StateStore | None
    policy: AccessPolicy
    heavy: asyncio.Semaphore


_CONTEXT = web.AppKey("context", _Context)


class _Refused(Exception):
    """Ends a request with a JSON ``{"error": message}`` answer (see ``_answer_errors``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _fail(status: int, message: str) -> NoReturn:
    raise _Refused(status, message)


def _context(request: web.Request) -> _Context:
    return request.app[_CONTEXT]


async def _audits_written(request: web.Request) -> None:
    """Decisions made so far are in the audit before it is read (it is written in the
    background, a moment after each decision)."""
    guard = _context(request).proxy.guard
    if guard is not None:
        await guard.settle(AUDIT_SETTLE)


def _state(request: web.Request) -> StateStore:
    context = _context(request)
    if context.store is None or context.proxy.learner is None:
        _fail(503, "footprint learning is off (--analysis off)")
    return context.store


@web.middleware
async def _answer_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except _Refused as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return web.json_response({"error": exc.message}, status=exc.status, headers=headers)
    except web.HTTPException as exc:  # aiohttp's own 404 and 405: the same JSON shape
        if exc.status < 400:
            raise
        allow = exc.headers.get("Allow")
        message = f"{exc.reason.lower()}: {request.method} {request.path}"
        if allow:
            message += f" (allowed: {allow})"
        return web.json_response(
            {"error": message}, status=exc.status, headers={"Allow": allow} if allow else None
        )


@web.middleware
async def _guard_access(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    refusal = _context(request).policy.check(
        request.method,
        request.path,
        host=request.headers.get("Host"),
        origin=request.headers.get("Origin"),
        content_type=request.headers.get("Content-Type"),
        authorization=request.headers.get("Authorization"),
        fetch_site=request.headers.get("Sec-Fetch-Site"),
    )
    if refusal is not None:
        _fail(refusal.status, refusal.message)
    return await handler(request)


async def _json_response(build: Callable[[], Any], request: web.Request) -> web.Response:
    """Build and encode an answer in a worker thread, a bounded number at a time."""
    async with _context(request).heavy:
        body = await asyncio.to_thread(lambda: _encode(build()))
    return web.Response(body=body, content_type="application/json")


def _encode(value: Any) -> bytes:
    """JSON, one list item per encoder call: the GIL is let go between items."""
    if isinstance(value, dict):
        parts = [
            json.dumps(key) + ":" + _encode(item).decode()
            if isinstance(item, list)
            else json.dumps(key) + ":" + json.dumps(item, default=str)
            for key, item in value.items()
        ]
        return ("{" + ",".join(parts) + "}").encode()
    if isinstance(value, list):
        return ("[" + ",".join(json.dumps(item, default=str) for item in value) + "]").encode()
    return json.dumps(value, default=str).encode()


def _int_param(request: web.Request, name: str, default: int | None, top: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        _fail(400, f"{name} must be an integer")
    if value < 0:
        _fail(400, f"{name} must not be negative")
    return min(value, top)


async def _read_json(request: web.Request, limit: int) -> dict[str, Any]:
    """The request's JSON object (an empty body is ``{}``); 413 past ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        _fail(413, f"request body over {limit} bytes")
    raw = b""
    try:
        async with asyncio.timeout(request.app[BOUNDS].deadline):
            while len(raw) <= limit:  # read() answers with what has arrived so far
                chunk = await request.content.read(limit + 1 - len(raw))
                if not chunk:
                    break
                raw += chunk
    except TimeoutError:
        _fail(408, "the request body did not arrive in time")
    if len(raw) > limit:
        _fail(413, f"request body over {limit} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nesting past Python's stack
        _fail(400, "the body is not valid JSON")
    if not isinstance(body, dict):
        _fail(400, "the body must be a JSON object")
    return body


async def _live(proxy: Proxy, state: StateStore) -> list[VersionKey]:
    """One key per open connection, through this proxy and every proxy sharing the state."""
    assert proxy.learner is not None
    live = list(proxy.learner.live_keys())
    try:
        elsewhere = await asyncio.to_thread(
            state.live_elsewhere, proxy.learner.proxy_id, proxy.settings.heartbeat_window
        )
    except Exception:  # the store is down: report this proxy's own connections
        elsewhere = {}
    for key, count in elsewhere.items():
        live.extend([key] * count)
    return live


async def _version_rows(request: web.Request, with_facets: bool) -> list[dict[str, Any]]:
    proxy, state = _context(request).proxy, _state(request)
    assert proxy.learner is not None
    await proxy.learner.flush()
    # while the store is down, what is learned but unwritten stays listed
    fresh = proxy.learner.unwritten_footprints()
    stored: list[StoredVersion] = []
    lifecycle: dict[tuple[str, str], Lifecycle] = {}
    protections: dict[VersionKey, Protection] = {}
    try:
        stored = await asyncio.to_thread(state.versions, with_facets=with_facets)
        lifecycle = await asyncio.to_thread(state.lifecycle)
    except Exception as exc:  # the store's own error: listed from memory meanwhile
        log.warning("state store unreadable, listing unwritten versions only: %s", exc)
    stored = with_unwritten(stored, fresh, with_facets=with_facets)
    if proxy.guard is not None:
        with contextlib.suppress(StateUnreadable):
            protections = await proxy.guard.protections()
    live = await _live(proxy, state)
    return await asyncio.to_thread(
        version_report,
        stored,
        live,
        with_facets=with_facets,
        protections=protections,
        lifecycle=lifecycle,
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of every skewguard metric (docs/operations.md lists them;
    deploy/prometheus/alerts.yml uses them). The protection gauges are worked out when
    asked, so each scrape asks (a state store that does not answer leaves them as were)."""
    proxy = _context(request).proxy
    if proxy.guard is not None:
        with contextlib.suppress(StateUnreadable, TimeoutError):
            await asyncio.wait_for(proxy.guard.protections(), READY_TIMEOUT)
    registry = proxy.metrics.registry
    body = await asyncio.to_thread(generate_latest, registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    """Liveness: ``{"status": "ok", "connections": N}`` while the proxy runs, whatever the
    upstream's state (restart on failure; readiness is /readyz)."""
    return web.json_response({"status": "ok", "connections": len(_context(request).proxy.sessions)})


#: How long /readyz waits for the upstream and for the state store.
READY_TIMEOUT = 3.0


async def readyz(request: web.Request) -> web.Response:
    """Readiness: ``{"status": "ready"}`` while the upstream PostgreSQL answers ``SELECT 1``
    and the state store can be read (3 s each); otherwise 503 with
    ``{"status": "unavailable", "problems": {"upstream"|"state": "…"}}``."""
    context = _context(request)
    upstream = context.proxy.upstream
    problems: dict[str, str] = {}
    try:
        conn = await connect_side(
            upstream,
            database=upstream.database or upstream.user or "postgres",
            user=upstream.user or "postgres",
            application_name="skewguard-ready",
            lock_timeout_ms=int(READY_TIMEOUT * 1000),
            statement_timeout_ms=int(READY_TIMEOUT * 1000),
            connect_timeout=READY_TIMEOUT,
        )
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await close_side(conn)
    except SIDE_ERRORS as exc:
        problems["upstream"] = f"{type(exc).__name__}: {exc}"[:300]
    if context.store is not None:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await asyncio.to_thread(context.store.lifecycle)
        except Exception as exc:  # any failure of the store is "not ready"
            problems["state"] = f"{type(exc).__name__}: {exc}"[:300]
    if problems:
        return web.json_response({"status": "unavailable", "problems": problems}, status=503)
    return web.json_response({"status": "ready"})


async def versions(request: web.Request) -> web.Response:
    """Every (database, app, version) seen, untagged clients as ``(untagged)`` (an app
    tagged without a version has version ``""``): ``{"versions": [...], "next_offset": N|null}``.

    Each row: ``database``, ``app``, ``version``, ``tagged``, ``live_connections``
    (through every proxy sharing the state), ``first_seen``/``last_seen`` (epoch
    seconds), ``protected`` (why: ``pinned``, ``live``, ``recent``, ``rollback-target``;
    null when not), ``lifecycle`` (``pinned``, ``retired`` or null), ``warning`` (null, or
    why the row needs an operator: a retired version that is connected) and ``facets`` (what
    it used: ``facet``, ``kind``, ``subject``, ``count``, ``first_seen``, ``last_seen``,
    ``sample`` — the statement's shape unless --keep-literals). ``?facets=0`` leaves the
    facets out. Paged: ``?limit=`` (default and most 500) and ``?offset=``;
    ``next_offset`` is where the next page starts, null after the last.
    """
    with_facets = request.query.get("facets", "1") not in ("0", "false", "no")
    limit = _int_param(request, "limit", MAX_VERSIONS, MAX_VERSIONS) or 1
    offset = _int_param(request, "offset", 0, 2**31) or 0
    rows = await _version_rows(request, with_facets)
    more = offset + limit < len(rows)
    return await _json_response(
        lambda: {
            "versions": rows[offset : offset + limit],
            "next_offset": offset + limit if more else None,
        },
        request,
    )


async def lifecycle(request: web.Request) -> web.Response:
    """Pin (keep protected), unpin, or retire (stop protecting) ``APP@VERSION``
    (``APP@`` for an app tagged without a version): ``{"app", "version", "action"}``.

    Retiring a version with open connections ends its protection at once, so it
    answers 409 unless the body is ``{"force": true}`` (or ``?force=true``). Not
    refused for a version never seen (one may be pinned before it connects): the
    answer's ``seen`` says whether any database has seen it, so a typo shows.
    """
    state = _state(request)
    name, action = request.match_info["name"], request.match_info["action"]
    app, sep, version = name.partition("@")
    # ``APP@``: an app tagged without a version (skewguard.app alone) is a version too
    if not sep or not app or action not in _LIFECYCLE_ACTIONS:
        _fail(400, "use /api/versions/APP@VERSION/pin|unpin|retire")
    body = await _read_json(request, MAX_BODY)
    force = body.get("force") is True or request.query.get("force") in ("1", "true", "yes")
    live = sum(1 for key in await _live(_context(request).proxy, state) if _owned(key, name))
    if action == "retire" and not force and live:
        _fail(
            409,
            f"{name} is live now ({live} open connection{'s' if live != 1 else ''}): "
            "retiring it ends its protection at once, and DDL that breaks it would pass. "
            "Retire it once it has stopped, or force it: `skewguard versions retire --force`, "
            'or {"force": true} (or ?force=true) in the request.',
        )
    await asyncio.to_thread(state.set_lifecycle, app, version, _LIFECYCLE_ACTIONS[action])
    log.info("version %s: %s", name, action, extra={"peer": request.remote, "forced": force})
    seen = live > 0 or any(_owned(row.key, name) for row in await _seen_versions(request))
    return web.json_response({"app": app, "version": version, "action": action, "seen": seen})


async def _seen_versions(request: web.Request) -> list[StoredVersion]:
    """Every version stored or learned (without facets); the learned ones when the
    store cannot be read (one connected a moment ago may be in neither: ask ``_live``)."""
    proxy, state = _context(request).proxy, _state(request)
    fresh = proxy.learner.unwritten_footprints() if proxy.learner is not None else []
    try:
        stored = await asyncio.to_thread(state.versions, with_facets=False)
    except Exception:  # the answer is a hint for a typo, not a decision
        stored = []
    return with_unwritten(stored, fresh, with_facets=False)


def _owned(key: VersionKey, name: str) -> bool:
    return f"{key.app}@{key.version}" == name


async def decisions(request: web.Request) -> web.Response:
    """Audited DDL decisions, newest first: ``{"decisions": [...], "next_before": ID|null}``.

    Each: ``id``, ``at`` (epoch seconds), ``source`` (``proxy``, or ``check`` for
    /api/check and ``skewguard check``), ``decision`` (``allow``, ``warn``, ``block``),
    ``note``, ``database``, ``role``, ``client`` (app@version), ``peer``,
    ``statements`` (their shape unless --keep-literals), ``changes``, ``findings``
    (``rule``, ``name``, ``severity``, ``change``, ``version``, ``facet``, ``evidence``,
    ``message``, ``hint``), ``override_reason`` and ``error`` (the
    refusal's message, detail and hint). ``?limit=`` (default 100, at most 1000) and
    ``?before=ID`` for the next page, whose ID ``next_before`` gives.
    """
    state = _state(request)
    limit = _int_param(request, "limit", DEFAULT_DECISIONS, MAX_DECISIONS) or 1
    before = _int_param(request, "before", None, 2**62)
    await _audits_written(request)
    async with _context(request).heavy:
        rows = await asyncio.to_thread(state.decision_texts, limit, before)
        body = await asyncio.to_thread(_decisions_page, rows, limit)
    return web.Response(body=body, content_type="application/json")


def _decisions_page(rows: Sequence[tuple[int, str]], limit: int) -> bytes:
    """The page's JSON from the stored texts, spliced rather than parsed and encoded again."""
    items = []
    for row_id, text in rows:
        if text.startswith('{"'):  # an object with keys, as record_decision writes it
            items.append(b'{"id":%d,' % row_id + text[1:].encode())
        else:  # anything else takes the long way
            items.append(json.dumps({"id": row_id, **json.loads(text)}).encode())
    after = rows[-1][0] if len(rows) == limit else None
    return (
        b'{"decisions":[' + b",".join(items) + b'],"next_before":%s}' % (json.dumps(after).encode())
    )


async def check(request: web.Request) -> web.Response:
    """Judge a migration ahead of time; nothing is executed (with ``?replay=1``: only in a
    transaction that is always rolled back). Body (at most 1 MiB):
    ``{"sql": "…", "database": "…", "user": "…"}`` (database and user default to the
    upstream URL's; also ``?database=``, ``?user=``).

    Answers the decision against the protected versions right now: ``decision``,
    ``breaking``, ``note``, ``unjudged``, ``changes``, ``findings`` (each with the
    character ``offset`` of its statement in ``sql``), ``error``, ``database`` and
    ``rejected`` (statements PostgreSQL would refuse in that database, with their offsets). 502
    when the database's catalog cannot be read. Audited as a ``check`` decision.

    ``?wait=DURATION`` (``30``, ``30s``, ``15m``; at most 1h) asks again every second
    while protected versions would break, as ``check --wait-safe`` does, and answers
    once it is safe or the time is up, with ``wait``: ``timed_out``, ``held_back_by``
    (app@version), ``waited_seconds``, ``rounds``. A client that disconnects ends
    its wait; each ask is audited.

    ``?replay=1`` (or ``"replay": true``) also asks PostgreSQL: on a connection of its
    own to the database, the proxy begins a scratch transaction, replays the protected
    versions' sampled statements the migration reaches, applies the migration's
    statements, replays them again and rolls back, always; a statement that succeeds
    before and fails after is a ``replay`` finding with PostgreSQL's SQLSTATE. This
    takes the migration's locks for a moment (within ``lock_timeout``): a migration
    that cannot take them, or that PostgreSQL refuses there, is ``unjudged``
    (``replay``) with PostgreSQL's error. 400 when the proxy samples nothing
    (``--replay none``).
    """
    proxy = _context(request).proxy
    _state(request)
    guard = proxy.guard
    if guard is None:
        _fail(503, "the DDL guard is off")
    wait = _wait_param(request)
    body = await _read_json(request, MAX_CHECK_BODY)
    sql = body.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        _fail(400, 'send {"sql": "...", "database": "...", "user": "..."}')
    database = str(body.get("database") or request.query.get("database", ""))
    replay = body.get("replay") is True or request.query.get("replay") in ("1", "true")
    user = str(body.get("user") or request.query.get("user", ""))
    upstream = proxy.upstream
    user = user or upstream.user or "postgres"
    requester = Requester(
        database=database or upstream.database or user,
        user=user,
        identity=Identity(),
        peer=request.remote or "?",
        search_path=DEFAULT,
    )

    async def judge() -> dict[str, Any]:
        try:
            return (await guard.check(requester, sql, replay=replay)).to_dict()
        except ConnectionError as exc:
            _fail(502, str(exc))
        except ReplayUnavailable as exc:
            _fail(400, str(exc))

    if wait is None:
        answer = await judge()
    else:
        waited = await _unless_gone(
            request,
            wait_until_safe(judge, _still_held, timeout=wait, interval=WAIT_INTERVAL),
        )
        answer = {**waited.result, "wait": waited.summary()}
    return await _json_response(lambda: answer, request)


#: Longest ``POST /api/check?wait=``, and how often a waiting check asks again.
MAX_WAIT = 3600.0
WAIT_INTERVAL = 1.0
#: How often a waiting request looks whether its client is still there.
GONE_POLL = 0.2


def _wait_param(request: web.Request) -> float | None:
    raw = request.query.get("wait")
    if raw is None:
        return None
    try:
        seconds = parse_duration(raw)
    except ConfigError:
        _fail(400, "wait must be a duration such as 30, 30s, 15m")
    if seconds > MAX_WAIT:
        _fail(400, f"wait must be at most {MAX_WAIT:g}s; ask again for longer")
    return seconds


def _still_held(result: dict[str, Any]) -> list[str] | None:
    if not result["breaking"]:
        return None
    return list(breaking_versions(result["findings"])) or None


async def _unless_gone(request: web.Request, work: Awaitable[T]) -> T:
    """``work``'s result; cancelled (and the request ended) once the client disconnects."""
    task = asyncio.ensure_future(work)
    while not task.done():
        transport = request.transport
        if transport is None or transport.is_closing():
            task.cancel()
            log.info("a waiting check ended: its client went away", extra={"peer": request.remote})
            with contextlib.suppress(asyncio.CancelledError):
                await task
            _fail(499, "the client closed the request")  # an answer nobody reads
        await asyncio.wait({task}, timeout=GONE_POLL)
    return task.result()


async def status(request: web.Request) -> web.Response:
    """The status page (HTML, no external assets, refreshes every 10 s): mode and health,
    protected versions and why, the columns each reads and writes, recent decisions with
    blocks highlighted, ``skewguard check`` runs apart."""
    context = _context(request)
    rows: list[dict[str, Any]] = []
    recent: list[dict[str, Any]] = []
    if context.store is not None and context.proxy.learner is not None:
        rows = await _version_rows(request, True)
        await _audits_written(request)
        recent = await asyncio.to_thread(context.store.decisions, 20)
    proxy = context.proxy
    health = status_page.Health(
        mode=proxy.settings.mode,
        analysis=proxy.settings.analysis,
        state_ok=proxy.metrics.registry.get_sample_value("skewguard_state_up") != 0,
        connections=len(proxy.sessions),
        version=__version__,
    )
    async with context.heavy:
        page = await asyncio.to_thread(status_page.render, health, rows, recent)
    return web.Response(text=page, content_type="text/html")


Handler = Callable[[web.Request], Awaitable[web.Response]]

#: Every route, in the order docs/http-api.md lists them (generated from this table and
#: the handlers' docstrings by ``python -m skewguard.observe.api_docs``).
ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/", status),
    ("GET", "/metrics", metrics),
    ("GET", "/healthz", healthz),
    ("GET", "/readyz", readyz),
    ("GET", "/api/versions", versions),
    ("POST", "/api/versions/{name}/{action}", lifecycle),
    ("GET", "/api/decisions", decisions),
    ("POST", "/api/check", check),
)


def build_app(proxy: Proxy, store: StateStore | None, policy: AccessPolicy) -> web.Application:
    app = web.Application(
        middlewares=[deadline_off, _answer_errors, _guard_access], client_max_size=MAX_CHECK_BODY
    )
    app[_CONTEXT] = _Context(proxy, store, policy, asyncio.Semaphore(HEAVY_AT_ONCE))
    app[BOUNDS] = ConnectionBounds()
    for method, path, handler in ROUTES:
        if method == "GET":
            app.router.add_get(path, handler)  # and HEAD
        else:
            app.router.add_route(method, path, handler)
    return app


class AdminServer:
    """Runs the admin app on the proxy's event loop, on HOST:PORT or (a worker of
    ``--workers``, which its supervisor asks) on a Unix socket's path."""

    def __init__(
        self,
        proxy: Proxy,
        store: StateStore | None,
        policy: AccessPolicy,
        address: tuple[str, int] | str,
    ) -> None:
        self._runner = web.AppRunner(build_app(proxy, store, policy), access_log=None)
        self._address = address
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await listen(self._runner, self._address)

    @property
    def where(self) -> str:
        """HOST:PORT it listens on: the port the system chose when given port 0."""
        assert self._server is not None and self._server.sockets
        name = self._server.sockets[0].getsockname()
        if isinstance(name, str):
            return name
        host, port = name[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._runner.cleanup()
