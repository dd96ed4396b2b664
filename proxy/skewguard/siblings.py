"""What the workers of one ``--workers`` supervisor tell each other.

Each worker binds ``peer-INDEX.sock``, a Unix datagram socket in the
supervisor's private directory, and sends to the others there:

- ``flush``/``flushed``: before a decision, with a SQLite store, every other
  worker writes what it has learned of the database (as ``PeerFlush`` does over
  NOTIFY for proxies sharing a PostgreSQL store);
- ``cancel``/``owner``/``fire``: a CancelRequest accepted by one worker for a
  session of another. Each other worker answers whether one of its sessions has
  that backend key; only then does the accepting worker send it to PostgreSQL
  (a guessed key never reaches the server). A statement the guard holds has not
  reached PostgreSQL, so the worker serving the session fails it, after
  PostgreSQL took the cancel, as a lone proxy does.

A socket nobody reads any more (a worker that died and is being restarted)
refuses the datagram: that worker has nothing left to write and no session.
Datagrams on a Unix socket are neither lost nor reordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger("skewguard.siblings")

#: Largest datagram (a request names one database, or carries a cancel key).
DATAGRAM_MAX = 4096
#: How long a peer may spend on a flush it was asked for.
FLUSH_BUDGET = 2.0
#: A cancel whose ``fire`` did not come within this long (its sender died) is forgotten.
CANCEL_KEPT = 60.0

#: ``held(pid, key)``: what fails the held statement of the session with that backend key,
#: when a cancel arriving now is for it (Proxy.held_cancel).
HeldCancel = Callable[[int, bytes], Callable[[], object] | None]
#: ``known(pid, key)``: whether a session of this worker has that backend key.
KnownKey = Callable[[int, bytes], bool]


class Siblings:
    """This worker's end; implements peers.Peers for the guard."""

    def __init__(
        self,
        run_dir: str,
        name: str,
        flush: Callable[[str, float], Awaitable[bool]] | None,
        held: HeldCancel,
        *,
        known: KnownKey,
    ) -> None:
        self._dir = Path(run_dir)
        self.name = name
        self._flush = flush  # Learner.flush_for_decision (None: analysis is off)
        self._held = held
        self._known = known
        self._sock: socket.socket | None = None
        self._waiting: dict[str, set[str]] = {}
        self._answered: dict[str, asyncio.Event] = {}
        self._owned: set[str] = set()  # cancel requests another worker has the session of
        self._cancels: dict[str, tuple[float, Callable[[], object]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _path(self, name: str) -> str:
        return str(self._dir / f"peer-{name}.sock")

    async def start(self) -> None:
        path = self._path(self.name)
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()  # this worker's predecessor's
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(path)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        self._sock = sock

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _others(self) -> list[str]:
        names = (p.name[len("peer-") : -len(".sock")] for p in self._dir.glob("peer-*.sock"))
        return sorted(name for name in names if name != self.name)

    def _send(self, name: str, message: list[str]) -> bool:
        """Whether ``name``'s socket took the datagram."""
        if self._sock is None:
            return False
        try:
            self._sock.sendto(json.dumps(message).encode(), self._path(name))
        except OSError as exc:
            if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                log.warning("cannot reach worker %s: %s", name, exc)
            return False
        return True

    def _broadcast(self, message: list[str]) -> set[str]:
        return {name for name in self._others() if self._send(name, message)}

    async def ask(self, database: str, *, within: float, budget: float) -> set[str]:
        """Ask every other worker to flush ``database``; those that had not in ``budget`` s."""
        request = uuid.uuid4().hex
        answered = self._answered[request] = asyncio.Event()
        waiting = self._waiting[request] = set()
        try:
            waiting |= self._broadcast(["flush", request, self.name, database])
            if waiting:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(budget):
                        await answered.wait()
        finally:
            del self._waiting[request], self._answered[request]
        if waiting:
            log.info("workers did not flush in %.1fs: %s", budget, ", ".join(sorted(waiting)))
        return set(waiting)

    async def mark_cancel(self, pid: int, key: bytes, *, budget: float) -> str | None:
        """Tell the others a CancelRequest for (pid, key) arrived: the id ``fire_cancel``
        takes when one of them has that session, None when none says so in ``budget`` s."""
        request = uuid.uuid4().hex
        answered = self._answered[request] = asyncio.Event()
        waiting = self._waiting[request] = set()
        try:
            waiting |= self._broadcast(["cancel", request, self.name, str(pid), key.hex()])
            if waiting:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(budget):
                        await answered.wait()
            return request if request in self._owned else None
        finally:
            del self._waiting[request], self._answered[request]
            self._owned.discard(request)

    def fire_cancel(self, request: str) -> None:
        """PostgreSQL has taken the cancel: the worker holding its statement fails it now."""
        self._broadcast(["fire", request, self.name])

    def _readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(DATAGRAM_MAX)
            except (BlockingIOError, InterruptedError):
                return
            try:
                kind, request, sender, *rest = (str(part) for part in json.loads(data))
                self._on(kind, request, sender, rest)
            except (ValueError, TypeError):
                log.warning("ignored a malformed datagram from a worker")

    def _on(self, kind: str, request: str, sender: str, rest: list[str]) -> None:
        if kind == "flush":
            task = asyncio.get_running_loop().create_task(self._answer(request, sender, rest[0]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif kind == "flushed" and request in self._waiting:
            self._waiting[request].discard(sender)
            if not self._waiting[request]:
                self._answered[request].set()
        elif kind == "owner" and request in self._waiting:
            self._waiting[request].discard(sender)
            if rest[0] == "1":
                self._owned.add(request)
            if rest[0] == "1" or not self._waiting[request]:
                self._answered[request].set()
        elif kind == "cancel":
            now = time.monotonic()
            for stale in [r for r, (at, _) in self._cancels.items() if now - at > CANCEL_KEPT]:
                del self._cancels[stale]
            pid, key = int(rest[0]), bytes.fromhex(rest[1])
            self._send(sender, ["owner", request, self.name, "1" if self._known(pid, key) else "0"])
            fail = self._held(pid, key)
            if fail is not None:
                log.info("a cancel accepted by worker %s is for a statement held here", sender)
                self._cancels[request] = (now, fail)
        elif kind == "fire" and request in self._cancels:
            _, fail = self._cancels.pop(request)
            fail()

    async def _answer(self, request: str, asker: str, database: str) -> None:
        complete = True
        if self._flush is not None:
            complete = await self._flush(database, time.monotonic() + FLUSH_BUDGET)
        if complete:  # else the asker times out on us and says so
            self._send(asker, ["flushed", request, self.name])
