"""The one admin endpoint of ``run --workers N``, served by the supervisor.

Every worker runs the whole admin app on a Unix socket in the supervisor's
private directory. Here each request of ``admin.ROUTES`` is answered from them:

- ``/metrics``: every worker's exposition, merged (counters and most gauges
  summed; see ``merge_expositions``), plus the supervisor's own worker gauges;
- ``/healthz``: the supervisor runs; with every worker's connections;
- ``/readyz``: ready only when every worker is;
- everything else goes to one running worker. Its answers are about the whole
  proxy: versions and live counts come from the store, where every worker
  heartbeats, and a decision there asks the other workers first (peers.py).

Access is checked by the worker that answers (the same ``AccessPolicy``), with
the client's own headers; a refusal is passed back as it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from skewguard.observe.admin import MAX_CHECK_BODY, ROUTES
from skewguard.observe.admin_connections import BOUNDS, ConnectionBounds, deadline_off, listen

log = logging.getLogger("skewguard.admin")

#: Request headers a worker's AccessPolicy and handlers read.
FORWARDED_HEADERS = ("Host", "Origin", "Content-Type", "Authorization", "Accept")
#: Response headers passed back.
RETURNED_HEADERS = ("Content-Type", "WWW-Authenticate")
#: How long /metrics, /healthz and /readyz wait for a worker (/readyz itself takes up to 3 s
#: for each of the upstream and the store).
ASK_TIMEOUT = 8.0

#: Gauges that are the same fact seen by every worker, or a worst case: not summed.
LOWEST = frozenset({"skewguard_state_up", "process_max_fds", "process_start_time_seconds"})
HIGHEST = frozenset(
    {
        "skewguard_protected_versions",
        "skewguard_retired_versions_live",
        "skewguard_build_info",
        "python_info",
    }
)


@dataclass(frozen=True, slots=True)
class WorkerView:
    index: int
    pid: int | None
    running: bool
    admin_path: str


def _combine(family: Metric, sample_name: str) -> Callable[[float, float], float]:
    if sample_name.endswith("_created") or family.name in LOWEST:
        return min
    if family.name in HIGHEST:
        return max
    return lambda a, b: a + b


def merge_expositions(texts: Iterable[str]) -> list[Metric]:
    """One set of families from every worker's /metrics: each sample (name and labels)
    summed across workers, except creation times and the gauges in LOWEST (the smallest)
    and HIGHEST (the largest)."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            kept = families.setdefault(
                family.name,
                Metric(family.name, family.documentation, family.type, family.unit),
            )
            table = values.setdefault(kept.name, {})
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                if key in table:
                    table[key] = _combine(kept, sample.name)(table[key], sample.value)
                else:
                    table[key] = sample.value
    for name, family in families.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
    return list(families.values())


class _Merged(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def exposition(families: Sequence[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(families))
    return generate_latest(registry)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=self.body, headers=self.headers)


class FanOut:
    """The supervisor's admin server."""

    def __init__(
        self, workers: Callable[[], list[WorkerView]], restarts: Callable[[], int], size: int
    ) -> None:
        self._workers = workers
        self._restarts = restarts
        self._size = size
        self._turn = 0
        app = web.Application(middlewares=[deadline_off], client_max_size=MAX_CHECK_BODY)
        app[BOUNDS] = ConnectionBounds()
        aggregated = {"/metrics": self.metrics, "/healthz": self.healthz, "/readyz": self.readyz}
        for method, path, _ in ROUTES:
            handler = aggregated.get(path, self.forward)
            if method == "GET":
                app.router.add_get(path, handler)
            else:
                app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        self._server: asyncio.Server | None = None

    async def start(self, address: tuple[str, int]) -> None:
        self._server = await listen(self._runner, address)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._runner.cleanup()

    async def _ask(
        self,
        worker: WorkerView,
        request: web.Request,
        body: bytes | None = None,
        timeout: float | None = ASK_TIMEOUT,
    ) -> _Answer:
        """``request`` as the worker answers it (raises OSError, aiohttp.ClientError,
        TimeoutError when it cannot)."""
        headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
        connector = aiohttp.UnixConnector(path=worker.admin_path)
        async with (
            aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=timeout),
                auto_decompress=False,
            ) as session,
            session.request(
                request.method,
                f"http://worker{request.path_qs}",
                headers=headers,
                data=body,
                allow_redirects=False,
            ) as answer,
        ):
            returned = {h: answer.headers[h] for h in RETURNED_HEADERS if h in answer.headers}
            return _Answer(answer.status, await answer.read(), returned)

    def _running(self) -> list[WorkerView]:
        return [w for w in self._workers() if w.running]

    async def _ask_all(self, request: web.Request) -> dict[int, _Answer | str]:
        """Each worker's answer, or why there is none (by worker index)."""
        workers = self._workers()

        async def one(worker: WorkerView) -> _Answer | str:
            if not worker.running:
                return "not running (restarting)"
            try:
                return await self._ask(worker, request)
            except (OSError, aiohttp.ClientError, TimeoutError) as exc:
                return f"no answer: {type(exc).__name__}: {exc}"[:300]

        answers = await asyncio.gather(*(one(w) for w in workers))
        return {w.index: a for w, a in zip(workers, answers, strict=True)}

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """To one running worker (in turn): a decision or a store read is the same from any."""
        try:
            async with asyncio.timeout(request.app[BOUNDS].deadline):
                body = await request.read() if request.can_read_body else None
        except TimeoutError:
            return web.json_response(
                {"error": "the request body did not arrive in time"}, status=408
            )
        running = self._running()
        if not running:
            return web.json_response({"error": "no worker is running"}, status=503)
        self._turn = (self._turn + 1) % len(running)
        worker = running[self._turn]
        try:  # a waiting check may take up to its ?wait=; the worker bounds it
            return (await self._ask(worker, request, body, timeout=None)).response()
        except (OSError, aiohttp.ClientError) as exc:
            return web.json_response({"error": f"worker {worker.index}: {exc}"}, status=502)

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        """Every worker's metrics merged, with skewguard_workers{state} and restarts."""
        answers = await self._ask_all(request)
        texts = []
        for answer in answers.values():
            if isinstance(answer, _Answer):
                if answer.status != 200:  # refused (a token): every worker says the same
                    return answer.response()
                texts.append(answer.body.decode())
        families = await asyncio.to_thread(merge_expositions, texts)
        workers = GaugeMetricFamily(
            "skewguard_workers", "Worker processes (--workers), by state", labels=("state",)
        )
        answering = sum(1 for a in answers.values() if isinstance(a, _Answer))
        workers.add_metric(["configured"], self._size)
        workers.add_metric(["answering"], answering)
        restarts = CounterMetricFamily(
            "skewguard_worker_restarts", "Worker processes restarted after they died"
        )
        restarts.add_metric([], self._restarts())
        body = await asyncio.to_thread(exposition, [*families, workers, restarts])
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        """Liveness of the supervisor, which restarts workers itself: 200 while it runs."""
        answers = await self._ask_all(request)
        connections = 0
        workers = []
        for worker in self._workers():
            answer = answers[worker.index]
            entry: dict[str, object] = {"worker": worker.index, "pid": worker.pid}
            if isinstance(answer, _Answer) and answer.status == 200:
                count = int(json.loads(answer.body).get("connections", 0))
                connections += count
                entry |= {"status": "ok", "connections": count}
            else:
                entry["status"] = answer if isinstance(answer, str) else f"HTTP {answer.status}"
            workers.append(entry)
        return web.json_response({"status": "ok", "connections": connections, "workers": workers})

    async def readyz(self, request: web.Request) -> web.StreamResponse:
        """Ready only when every worker is."""
        answers = await self._ask_all(request)
        problems: dict[str, object] = {}
        for index, answer in answers.items():
            if isinstance(answer, str):
                problems[f"worker {index}"] = answer
            elif answer.status != 200:
                problems[f"worker {index}"] = json.loads(answer.body).get("problems", answer.status)
        if problems:
            return web.json_response({"status": "unavailable", "problems": problems}, status=503)
        return web.json_response({"status": "ready", "workers": len(answers)})
