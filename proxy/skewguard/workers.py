"""``run --workers N``: N proxy processes, one event loop each, under one supervisor.

The supervisor opens the listening sockets itself and keeps them. On TCP each
worker inherits its own SO_REUSEPORT socket, so the kernel spreads new
connections over the workers by their addresses; one socket that every worker
accepts on would go mostly to whichever worker woke last (an idle app's pool
opened one connection after another landed on one worker). A connection that
arrives while a worker restarts waits in that worker's queue, which the
supervisor still holds, and the new worker accepts it. A Unix-domain address
(which SO_REUSEPORT does not spread) is one socket shared by every worker. It
restarts a worker that dies (with
backoff), forwards SIGTERM/SIGINT (each worker drains as a lone proxy does) and
SIGHUP, and serves the one admin endpoint (observe/fanout.py), which asks the
workers over their private Unix sockets.

Each worker is a whole proxy with its own learner and guard. They keep one
truth the way sidecars do (peers.py): before a decision, every other worker
writes what it has learned: over NOTIFY with a PostgreSQL store, over Unix
datagrams in the supervisor's directory with a SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from skewguard.app import banner
from skewguard.config import (
    Settings,
    WorkerSlot,
    admin_socket,
    cannot_listen,
    parse_upstream,
)
from skewguard.observe.fanout import FanOut, WorkerView
from skewguard.relay.server import refuse_live_socket

log = logging.getLogger("skewguard.workers")

#: How long a worker may take from its start to serving its admin socket.
WORKER_START_TIMEOUT = 60.0
#: A restart's first delay, doubled for each quick death in a row, and the largest.
RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 30.0
#: A worker that ran this long before it died restarts after the first delay again.
STABLE_AFTER = 30.0
#: Beyond --shutdown-grace, what a worker gets to write its last footprints before SIGKILL.
FINAL_WRITE_ALLOWANCE = 30.0


def restart_delay(quick_deaths: int) -> float:
    """Seconds before a restart after ``quick_deaths`` deaths in a row (each soon after start)."""
    return float(min(MAX_RESTART_DELAY, RESTART_DELAY * 2 ** max(0, quick_deaths - 1)))


def listen_sockets(settings: Settings) -> list[socket.socket]:
    """One listening socket per worker (TCP), or one shared by all (Unix domain)."""
    address = settings.listen_address
    if isinstance(address, str):
        refuse_live_socket(address)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address)  # stale: no process serves it
        shared = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        shared.bind(address)
        return [_listening(shared)] * settings.workers
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port:  # SO_REUSEPORT would join a port another proxy serves: refuse it like one worker
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    socks: list[socket.socket] = []
    try:
        for _ in range(settings.workers):
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]  # port 0: the others join the one it was given
            _listening(sock)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


def _listening(sock: socket.socket) -> socket.socket:
    """Listening, and not inheritable: a worker gets only its own through ``pass_fds``
    (uvloop's spawn leaves every inheritable descriptor open in the child, so a worker
    would keep its siblings' sockets listening after they closed them)."""
    sock.listen(4096)
    return sock


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    quick_deaths: int = 0


class Supervisor:
    """Starts, watches and stops the workers; ``run`` returns the exit status."""

    def __init__(self, settings: Settings, upstream_url: str, argv: Sequence[str]) -> None:
        self.settings = settings
        self._upstream_url = upstream_url
        self._argv = list(argv)  # this command's own arguments: each worker runs them
        self._workers = [_Worker(i) for i in range(settings.workers)]
        self._run_dir = tempfile.mkdtemp(prefix="skewguard-workers-")  # mode 0700
        self._socks: list[socket.socket] = []  # worker i accepts on self._socks[i]
        self._stopping = asyncio.Event()
        self._keepers: list[asyncio.Task[None]] = []
        self.restarts = 0

    def view(self) -> list[WorkerView]:
        """What the admin endpoint reports about each worker."""
        return [
            WorkerView(
                index=w.index,
                pid=w.process.pid if w.process is not None else None,
                running=w.process is not None and w.process.returncode is None,
                admin_path=admin_socket(self._run_dir, w.index),
            )
            for w in self._workers
        ]

    async def _spawn(self, worker: _Worker) -> asyncio.subprocess.Process:
        listen_fd = self._socks[worker.index].fileno()
        path = admin_socket(self._run_dir, worker.index)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a dead predecessor's: its existence means "ready"
        slot = WorkerSlot(worker.index, listen_fd, self._run_dir)
        env = {**os.environ, **slot.environ(), "SKEWGUARD_UPSTREAM": self._upstream_url}
        worker.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "skewguard",
            *self._argv,
            env=env,
            pass_fds=(listen_fd,),
        )
        worker.started = time.monotonic()
        log.info("worker %d started", worker.index, extra={"pid": worker.process.pid})
        return worker.process

    async def _ready(self, worker: _Worker, timeout: float) -> bool:
        """Whether the worker serves its admin socket before ``timeout`` (False: it died)."""
        process = worker.process
        assert process is not None
        path = admin_socket(self._run_dir, worker.index)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.returncode is None:
            try:
                _, writer = await asyncio.open_unix_connection(path)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return True
        return False

    async def _keep(self, worker: _Worker) -> None:
        """Restart the worker whenever it dies, until the supervisor stops."""
        while True:
            assert worker.process is not None
            code = await worker.process.wait()
            if self._stopping.is_set():
                return
            ran = time.monotonic() - worker.started
            worker.quick_deaths = 1 if ran >= STABLE_AFTER else worker.quick_deaths + 1
            delay = restart_delay(worker.quick_deaths)
            self.restarts += 1
            log.error(
                "worker %d (pid %d) exited with status %s after %.1f s; restarting in %.1f s",
                worker.index,
                worker.process.pid,
                code,
                ran,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return
            try:
                await self._spawn(worker)
            except OSError as exc:  # tried again after the next delay
                log.error("worker %d could not be started again: %s", worker.index, exc)

    async def run(self) -> int:
        try:
            return await self._run()
        finally:
            shutil.rmtree(self._run_dir, ignore_errors=True)

    async def _run(self) -> int:
        try:
            self._socks = listen_sockets(self.settings)
        except OSError as exc:
            raise cannot_listen("--listen", self.settings.listen, exc) from None
        for worker in self._workers:
            await self._spawn(worker)
        started = await asyncio.gather(
            *(self._ready(w, WORKER_START_TIMEOUT) for w in self._workers)
        )
        if not all(started):
            failed = ", ".join(
                str(w.index) for w, ok in zip(self._workers, started, strict=True) if not ok
            )
            print(f"skewguard: worker(s) {failed} could not start (see above)", file=sys.stderr)
            await self._stop_workers()
            self._close_listener()
            return 2
        fanout = FanOut(self.view, lambda: self.restarts, self.settings.workers)
        try:
            await fanout.start(self.settings.admin_address)
        except OSError as exc:
            await self._stop_workers()
            self._close_listener()
            raise cannot_listen("--admin-listen", self.settings.admin_listen, exc) from None
        self._keepers = [asyncio.create_task(self._keep(w)) for w in self._workers]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._signal_all, signal.SIGHUP)
        name = self._socks[0].getsockname()
        address = name if isinstance(name, str) else (name[0], name[1])
        print(banner(address, parse_upstream(self._upstream_url), self.settings.admin_listen))
        print(f"  {self.settings.workers} workers", flush=True)
        await self._stopping.wait()
        log.info("shutting down %d workers", self.settings.workers)
        self._close_listener()  # new clients are refused from now on
        status = await self._stop_workers()
        for keeper in self._keepers:
            keeper.cancel()
        await fanout.stop()
        return status

    def _signal_all(self, sig: int) -> None:
        for worker in self._workers:
            if worker.process is not None and worker.process.returncode is None:
                worker.process.send_signal(sig)

    def _close_listener(self) -> None:
        if not self._socks:
            return
        address = self.settings.listen_address
        for sock in self._socks:
            sock.close()
        self._socks = []
        if isinstance(address, str):
            with contextlib.suppress(OSError):
                os.unlink(address)

    async def _stop_workers(self) -> int:
        """SIGTERM every worker and wait for it (SIGKILL past its grace); 0 when all exit 0."""
        self._stopping.set()
        self._signal_all(signal.SIGTERM)
        limit = self.settings.shutdown_grace + FINAL_WRITE_ALLOWANCE
        codes = await asyncio.gather(*(self._ended(w, limit) for w in self._workers))
        return 0 if all(code == 0 for code in codes) else 1

    async def _ended(self, worker: _Worker, limit: float) -> int:
        """The worker's exit status once it has ended (killed after ``limit`` seconds)."""
        if worker.process is None:
            return 0
        try:
            return await asyncio.wait_for(worker.process.wait(), limit)
        except TimeoutError:
            log.error("worker %d did not stop in %.0f s: killed", worker.index, limit)
            worker.process.kill()
            return await worker.process.wait()
