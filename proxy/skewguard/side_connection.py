"""Side connections: the proxy's own short sessions straight to the upstream.

Catalog reads and the guard's probes of existing rows run on them, never
through the proxy, while a client's migration may hold locks. Every side
connection is bounded on the server (``lock_timeout``, ``statement_timeout``,
``idle_in_transaction_session_timeout``) and runs with ``jit=off``: the
catalog queries are short, and JIT compiling them costs far more than running
them. For the same reason plans are generic (``plan_cache_mode``): a kept
connection runs the same parameterised catalog statements again and again, and
planning them anew each time costs more than running them. An idle side
connection ends itself after ``IDLE_SESSION_MS`` (``idle_session_timeout``,
PostgreSQL 14 and later): a kept one would otherwise make a client's
``DROP DATABASE`` (or ``CREATE DATABASE ... TEMPLATE``) fail with "database is
being accessed by other users", which PostgreSQL only waits 5 s out; the next
use reconnects. ``SIDE_ERRORS`` is
every way such a connection can fail, so a caller can fall back (last good
snapshot, unknown probe answer) instead of escaping.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Literal

import asyncpg

from skewguard.config import Upstream
from skewguard.relay.tls import upstream_context

#: Every way connecting or talking over a side connection fails: refused/reset
#: sockets and TLS (OSError, ConnectionError), client-side timeouts, server
#: errors (lock/statement timeouts, terminated backends: PostgresError), a
#: connection that is closed or went away (InterfaceError and its subclasses),
#: and protocol/internal client errors.
SIDE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InternalClientError,
)

#: Idle-in-transaction limit when the caller gives no statement timeout to scale.
_MIN_IDLE_MS = 10_000

#: A side connection idle this long is ended by the server, well within the 5 s
#: a DROP DATABASE waits for the database's other sessions to go.
IDLE_SESSION_MS = 2_000


def ssl_option(upstream: Upstream) -> ssl.SSLContext | Literal[False, "prefer"]:
    """asyncpg's ``ssl=`` for the upstream, following its libpq-style sslmode."""
    mode = upstream.sslmode
    if mode in ("disable", "allow") or upstream.unix_socket:
        return False
    if mode == "prefer":
        return "prefer"
    return upstream_context(
        mode, rootcert=upstream.sslrootcert, cert=upstream.sslcert, key=upstream.sslkey
    )


def side_settings(
    *, application_name: str, lock_timeout_ms: int, statement_timeout_ms: int
) -> dict[str, str]:
    """The server settings every side connection starts with."""
    if lock_timeout_ms <= 0 or statement_timeout_ms <= 0:
        raise ValueError("side connections need positive lock and statement timeouts")
    idle = max(_MIN_IDLE_MS, 2 * statement_timeout_ms)
    return {
        "application_name": application_name,
        "lock_timeout": str(lock_timeout_ms),
        "statement_timeout": str(statement_timeout_ms),
        "idle_in_transaction_session_timeout": str(idle),
        "jit": "off",
        "plan_cache_mode": "force_generic_plan",
    }


async def connect_side(
    upstream: Upstream,
    *,
    database: str,
    user: str,
    application_name: str,
    lock_timeout_ms: int,
    statement_timeout_ms: int,
    connect_timeout: float,
) -> asyncpg.Connection:
    """Open a bounded side connection to ``database`` on the upstream.

    Authenticates with the upstream URL's user and password; ``user`` is the
    role used when the URL names none (the client's own role). Raises one of
    ``SIDE_ERRORS`` when the server cannot be reached or refuses.
    """
    conn: asyncpg.Connection = await asyncpg.connect(
        host=upstream.host,
        port=upstream.port,
        user=upstream.user or user,
        password=upstream.password,
        database=database,
        ssl=ssl_option(upstream),
        timeout=connect_timeout,
        server_settings=side_settings(
            application_name=application_name,
            lock_timeout_ms=lock_timeout_ms,
            statement_timeout_ms=statement_timeout_ms,
        ),
    )
    if conn.get_server_version() >= (14, 0):  # no idle_session_timeout before 14
        try:  # a server silent from now on would hold the caller forever
            async with asyncio.timeout(connect_timeout):
                await conn.execute(f"SET idle_session_timeout = {IDLE_SESSION_MS}")
        except BaseException:
            conn.terminate()
            raise
    return conn


async def close_side(conn: asyncpg.Connection, *, timeout: float = 2.0) -> None:
    """Close politely when the connection answers in time, else drop the socket."""
    if conn.is_closed():
        return
    try:
        await conn.close(timeout=timeout)
    except SIDE_ERRORS:
        conn.terminate()
    except asyncio.CancelledError:
        conn.terminate()
        raise
