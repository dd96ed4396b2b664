"""A raw-protocol side connection: where ``check --replay`` tries a migration.

A replay sends a version's statements with its values exactly as the client
sent them (Parse with its parameter types, Bind with its formats and bytes),
which no driver API does; so ``check --replay`` runs the same replayer as a
live decision (``replaying.Replayer``) on a connection that speaks the wire
protocol itself, in place of the migrating client's backend
(``replaying.MigratingConnection``). It is a side connection like any other
(``side_connection.side_settings``: lock_timeout, statement_timeout,
idle_in_transaction_session_timeout), authenticates with the upstream URL's
password (``wire.auth``) and goes through TLS as the relay's own upstream
link does (``relay.upstream``).

What runs there always ends in ROLLBACK (``replay.plan``); closing sends
Terminate, or drops the socket when a reply is still due, and PostgreSQL
rolls back whatever is open either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from skewguard.config import Upstream
from skewguard.relay.own_queries import bracketed
from skewguard.relay.upstream import UpstreamLink, connect_upstream
from skewguard.replaying import OwnQueryTimeout
from skewguard.side_connection import side_settings
from skewguard.wire import auth
from skewguard.wire import messages as m
from skewguard.wire.errors import ProtocolViolation
from skewguard.wire.replies import Capture, QueryResult, ReplyStream

log = logging.getLogger("skewguard.scratch")

_TERMINATE = m.frame(b"X", b"")
_LOST = "the scratch connection to the server is closed (its transaction is rolled back)"


class ScratchConnection:
    """The proxy's own raw connection to one database (a ``MigratingConnection``)."""

    def __init__(self, upstream: Upstream, *, database: str, user: str) -> None:
        self._upstream = upstream
        self._user = user
        self._database = database
        self._link: UpstreamLink | None = None
        self._inbox = bytearray()  # startup-phase bytes not read yet
        self._arrived = asyncio.Event()
        self._replies = ReplyStream()
        self._capture: Capture | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._started = False  # past the first ReadyForQuery
        self._lost: str | None = None

    # ---------------------------------------------------------------- UpstreamOwner

    def upstream_ready(self) -> None:
        pass

    def upstream_data(self, data: bytes) -> None:
        if not self._started:
            self._inbox += data
            self._arrived.set()
            return
        try:
            self._replies.feed(data)
        except ProtocolViolation as exc:
            self._lose(f"the server sent what the proxy cannot read: {exc}")
            return
        capture, waiter = self._capture, self._waiter
        if capture is not None and capture.done and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def upstream_failed(self, reason: str, message: str) -> None:
        self._lose(message)

    def upstream_closed(self) -> None:
        self._lose(_LOST)

    def upstream_pause(self) -> None:
        pass

    def upstream_resume(self) -> None:
        pass

    def _lose(self, why: str) -> None:
        self._lost = self._lost or why
        self._arrived.set()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(OwnQueryTimeout(why))

    # ---------------------------------------------------------------- startup

    async def open(self, settings: dict[str, str]) -> None:
        """Connect, authenticate and wait for the first ReadyForQuery.
        Raises ConnectionError (or OSError) when that fails."""
        params = {"user": self._user, "database": self._database, **settings}
        self._link = UpstreamLink(self, self._upstream, m.encode_startup_message(params))
        await connect_upstream(self._link)
        scram: auth.ScramClient | None = None
        while True:
            kind, body = await self._message()
            if kind == b"E":
                fields = m.decode_error_fields(body)
                code, text = fields.get(m.FIELD_CODE, ""), fields.get(m.FIELD_MESSAGE, "")
                raise ConnectionError(f"the server refused the connection: {code} {text}")
            if kind == b"Z":
                self._started = True
                self._replies.status = body[0] if body else ord("I")
                return
            if kind == b"R":
                scram = self._authenticate(body, scram)

    def _authenticate(self, body: bytes, scram: auth.ScramClient | None) -> auth.ScramClient | None:
        code = m.decode_auth_code(body)
        password = self._upstream.password
        if code == m.AUTH_OK:
            return scram
        if password is None:
            raise ConnectionError("the server asks for a password; the upstream URL has none")
        if code == auth.AUTH_CLEARTEXT:
            self._send(auth.password_message(password))
        elif code == auth.AUTH_MD5:
            self._send(auth.md5_response(self._user, password, body[4:8]))
        elif code == m.AUTH_SASL and auth.SCRAM in m.decode_sasl_mechanisms(body):
            scram = auth.ScramClient(self._user, password)
            self._send(scram.first())
        elif code == auth.AUTH_SASL_CONTINUE and scram is not None:
            self._send(scram.final(auth.sasl_data(body)))
        elif code == auth.AUTH_SASL_FINAL and scram is not None:
            try:
                scram.verify(auth.sasl_data(body))
            except auth.AuthFailed as exc:
                raise ConnectionError(str(exc)) from None
        else:
            raise ConnectionError(f"authentication method {code} is not supported here")
        return scram

    async def _message(self) -> tuple[bytes, bytes]:
        """The next whole startup-phase message (type, body)."""
        while True:
            if len(self._inbox) >= 5:
                length = int.from_bytes(self._inbox[1:5], "big")
                if length < 4 or length > 1 << 20:
                    raise ConnectionError("the server sent an invalid message during startup")
                if len(self._inbox) >= 1 + length:
                    kind, body = bytes(self._inbox[:1]), bytes(self._inbox[5 : 1 + length])
                    del self._inbox[: 1 + length]
                    return kind, body
            if self._lost is not None:
                raise ConnectionError(self._lost)
            self._arrived.clear()
            await self._arrived.wait()

    def _send(self, data: bytes) -> None:
        assert self._link is not None
        self._link.write(data)

    # ---------------------------------------------------------------- MigratingConnection

    @property
    def own_status(self) -> str:
        return chr(self._replies.status)

    @property
    def keeps_unnamed(self) -> bool:
        return False  # nobody else's statement or portal lives here

    async def exchange(
        self, wire: bytes, replies: int, *, timeout: float
    ) -> list[QueryResult] | None:
        """Send ``wire``; the results of its ``replies`` ReadyForQuery answers.
        Without them in ``timeout`` the connection is dropped: OwnQueryTimeout."""
        if self._lost is not None:
            raise OwnQueryTimeout(self._lost)
        if self._waiter is not None:
            return None  # one exchange at a time
        capture = self._capture = self._replies.arm_capture(replies)
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self._send(wire)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            self._lose(_LOST)
            self.abort()
            raise OwnQueryTimeout(_LOST) from None
        except asyncio.CancelledError:  # its replies are due still: nothing may follow
            self._lose(_LOST)
            self.abort()
            raise
        finally:
            self._waiter = self._capture = None
        return capture.results

    async def query_in_transaction(
        self,
        sql: str,
        *,
        statement_timeout_ms: int,
        lock_timeout_ms: int,
        setup: Sequence[str] = (),
    ) -> list[tuple[str | None, ...]] | None:
        """Rows of ``sql`` run in a read-only transaction rolled back after it."""
        made = bracketed(
            self.own_status,
            sql,
            statement_timeout_ms=statement_timeout_ms,
            lock_timeout_ms=lock_timeout_ms,
            setup=setup,
        )
        if made is None:
            return None
        results = await self.exchange(
            made.wire, made.replies, timeout=statement_timeout_ms / 1000 + 1
        )
        answer = results[made.query_index] if results else None
        return answer.rows if answer is not None and answer.error is None else None

    # ---------------------------------------------------------------- the end

    def abort(self) -> None:
        """Drop the socket: PostgreSQL rolls back whatever transaction is open."""
        if self._link is not None:
            self._link.abort()

    def close(self) -> None:
        """Terminate (PostgreSQL rolls back an open transaction), or drop the socket
        when a reply is still due."""
        if self._link is None:
            return
        if self._lost is None and self._waiter is None and self._started:
            self._link.write(_TERMINATE)
            self._link.close()
        else:
            self.abort()
        self._lost = self._lost or _LOST


@contextlib.asynccontextmanager
async def scratch_connection(
    upstream: Upstream,
    *,
    database: str,
    user: str,
    lock_timeout_ms: int,
    statement_timeout_ms: int,
    connect_timeout: float,
) -> AsyncIterator[ScratchConnection]:
    """A raw side connection to ``database`` (the upstream URL's user, else ``user``),
    closed on the way out whatever happens (cancellation included). Raises
    ConnectionError when it cannot be opened in ``connect_timeout``."""
    conn = ScratchConnection(upstream, database=database, user=upstream.user or user)
    settings = side_settings(
        application_name="skewguard-check-replay",
        lock_timeout_ms=lock_timeout_ms,
        statement_timeout_ms=statement_timeout_ms,
    )
    try:
        try:
            async with asyncio.timeout(connect_timeout):
                await conn.open(settings)
        except (TimeoutError, OSError, ProtocolViolation, auth.AuthFailed) as exc:
            why = str(exc) or f"no answer within {connect_timeout:.1f} s"
            raise ConnectionError(f"cannot open the scratch connection: {why}") from None
        yield conn
    finally:
        conn.close()


__all__ = ["ScratchConnection", "scratch_connection"]
