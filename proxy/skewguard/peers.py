"""One truth across proxies: before a decision, every live peer writes what it has learned.

Sidecar proxies share a PostgreSQL state store, but each writes what it learns
about once a second: a version seen at proxy A a moment before a DROP sent
through proxy B would be invisible to B's decision. So B asks first: it
NOTIFYs ``skewguard_flush`` with the database, every peer LISTENing analyses
that database's pending statements, writes them and NOTIFYs
``skewguard_flushed``; B waits for the peers that heartbeat recently, within
a share of the decision's deadline, then reads the store. A peer that does not
answer in time does not block the decision (its versions stay protected by
their heartbeats and what it wrote before); the miss is logged and counted.

The workers of one ``--workers`` supervisor sharing a SQLite file ask each other
the same way over Unix datagram sockets (siblings.py); with a PostgreSQL store
they are sidecars like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg
from psycopg.conninfo import conninfo_to_dict

log = logging.getLogger("skewguard.peers")

REQUEST = "skewguard_flush"
ANSWER = "skewguard_flushed"
#: How long a peer may spend on a flush it was asked for.
PEER_FLUSH_BUDGET = 2.0


def asyncpg_params(conninfo: str) -> dict[str, Any]:
    """asyncpg.connect() arguments for a libpq URL or keyword string (the --state value).

    A URL goes to asyncpg as it is (it reads sslmode, sslrootcert, ... there); a
    keyword string is translated.
    """
    params = conninfo_to_dict(conninfo)
    timeout = float(params.get("connect_timeout") or 5)
    if conninfo.startswith(("postgresql://", "postgres://")):
        return {"dsn": conninfo, "timeout": timeout}
    out: dict[str, Any] = {"timeout": timeout}
    for libpq, ours in (("host", "host"), ("user", "user"), ("password", "password")):
        if params.get(libpq):
            out[ours] = params[libpq]
    if params.get("port"):
        out["port"] = int(str(params["port"]).split(",")[0])
    if params.get("dbname"):
        out["database"] = params["dbname"]
    if params.get("sslmode"):
        out["ssl"] = str(params["sslmode"])
    return out


class Peers(Protocol):
    """Who else learns for the same store, asked to write it before a decision."""

    async def ask(self, database: str, *, within: float, budget: float) -> set[str]:
        """The peers that had not flushed ``database`` within ``budget`` seconds."""

    async def close(self) -> None: ...


class PeerFlush:
    """Asks peers to flush before a decision, and flushes when a peer asks."""

    def __init__(
        self,
        conninfo: str,
        proxy_id: str,
        flush: Callable[[str, float], Awaitable[bool]],
    ) -> None:
        self._params = asyncpg_params(conninfo)
        self.proxy_id = proxy_id
        self._flush = flush  # Learner.flush_for_decision(database, monotonic deadline)
        self._conn: asyncpg.Connection | None = None
        self._waiting: dict[str, tuple[set[str], asyncio.Event]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one statement at a time on the listening connection

    async def start(self) -> None:
        """Connect and LISTEN; a failure is logged and retried at the next ask."""
        try:
            conn = await asyncpg.connect(
                **self._params,
                server_settings={"application_name": "skewguard-peers"},
            )
            await conn.add_listener(REQUEST, self._on_request)
            await conn.add_listener(ANSWER, self._on_answer)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("cannot listen for peers on the state database: %s", exc)
            return
        self._conn = conn

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
            self._conn = None

    async def ask(self, database: str, *, within: float, budget: float) -> set[str]:
        """Ask every peer that heartbeat ``within`` seconds to flush ``database``; the ones
        that had not answered in ``budget`` seconds (all of them when unreachable)."""
        if self._conn is None or self._conn.is_closed():
            await self.start()
        conn = self._conn
        if conn is None:
            return {"(state database unreachable)"}
        request = uuid.uuid4().hex
        done = asyncio.Event()
        peers: set[str] = set()
        try:
            async with asyncio.timeout(budget):
                async with self._lock:
                    rows = await conn.fetch(
                        "SELECT proxy_id FROM skewguard.proxies WHERE proxy_id <> $1 "
                        "AND beat_at > now() - make_interval(secs => $2)",
                        self.proxy_id,
                        float(within),
                    )
                peers = {str(r[0]) for r in rows}
                log.debug("asking peers to flush %s: %s", database, ", ".join(sorted(peers)))
                if not peers:
                    return set()
                self._waiting[request] = (set(peers), done)
                async with self._lock:
                    await conn.execute(
                        "SELECT pg_notify($1, $2)",
                        REQUEST,
                        json.dumps([request, self.proxy_id, database]),
                    )
                await done.wait()
        except TimeoutError:
            pass
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("cannot ask peers to flush: %s", exc)
        finally:
            missing, _ = self._waiting.pop(request, (set(peers), done))
        if missing:
            log.info("peers did not flush in %.1fs: %s", budget, ", ".join(sorted(missing)))
        return missing

    def _on_request(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            request, asker, database = (str(part) for part in json.loads(payload))
        except (ValueError, TypeError):
            log.warning("ignored a malformed flush request on %s", REQUEST)
            return
        if asker == self.proxy_id:
            return
        task = asyncio.get_running_loop().create_task(self._answer(request, database))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: str, database: str) -> None:
        complete = await self._flush(database, time.monotonic() + PEER_FLUSH_BUDGET)
        log.debug("flushed %s for a peer (complete: %s)", database, complete)
        conn = self._conn
        if not complete or conn is None:
            return  # the asker times out on us and says so
        try:
            async with self._lock:
                await conn.execute(
                    "SELECT pg_notify($1, $2)", ANSWER, json.dumps([request, self.proxy_id])
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("cannot answer a peer's flush request: %s", exc)

    def _on_answer(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            request, peer = (str(part) for part in json.loads(payload))
        except (ValueError, TypeError):
            return
        waiting = self._waiting.get(request)
        if waiting is None:
            return
        missing, done = waiting
        missing.discard(peer)
        if not missing:
            done.set()
