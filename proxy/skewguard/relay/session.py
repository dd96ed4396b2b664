"""One client connection and its upstream connection.

The session parses the startup phase in both directions (so it can answer
SSLRequest, terminate TLS, learn the identity and strip SCRAM channel binding
that cannot work through a proxy), then becomes a relay: client bytes are
framed only to look at Query, Parse, Bind and Close (a DDL statement waits
there for the guard's decision), and server bytes are a plain byte pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
import struct
from collections.abc import Callable, Sequence
from dataclasses import replace
from enum import Enum, auto
from typing import TYPE_CHECKING, cast

from skewguard.footprint import VersionKey
from skewguard.guard import Requester
from skewguard.identity import UNTAGGED, Identity, startup_settings
from skewguard.learning import StatementLog
from skewguard.observe.traffic import TrafficStats
from skewguard.offload import LONG_TEXT
from skewguard.policy import Mode, Refusal, unjudged_decision
from skewguard.relay.gate import TransactionGate
from skewguard.relay.own_queries import bracketed
from skewguard.relay.recent import Recent
from skewguard.relay.tls import ALPN_POSTGRESQL, TlsEndpoint
from skewguard.relay.upstream import HIGH_WATER, LOW_WATER, UpstreamLink, connect_upstream
from skewguard.replay_samples import Owner, SessionSampler
from skewguard.replaying import OwnQueryTimeout
from skewguard.search_path import DEFAULT, parse_path, startup_path
from skewguard.sql_start import first_word
from skewguard.statements import (
    RESET,
    ROLE_SETTINGS,
    UNKNOWN,
    Kind,
    Script,
    needs_reading,
    read_script,
    same_effect,
)
from skewguard.temporary import TemporaryRelations
from skewguard.wire import handshake as hs
from skewguard.wire import messages as m
from skewguard.wire.encodings import ANY, UNREADABLE, character_set, decode, readings
from skewguard.wire.errors import PROTOCOL_VIOLATION, ProtocolViolation
from skewguard.wire.framing import (
    MAX_MESSAGE,
    Message,
    MessageScanner,
    Segment,
    invalid_length,
)
from skewguard.wire.prepared import PreparedStatements
from skewguard.wire.replies import QueryResult, ReplyStream

if TYPE_CHECKING:
    from skewguard.relay.server import Proxy

log = logging.getLogger("skewguard.session")

CONNECTION_FAILURE = "08006"
QUERY_CANCELED = "57014"
ADMIN_SHUTDOWN = "57P01"
TOO_MANY_CONNECTIONS = "53300"
_INT32 = struct.Struct("!i")
#: Query, Parse, Close, Bind, Execute, Sync, FunctionCall: what the relay looks at.
_CLIENT_MESSAGES = frozenset(b"QPCBESF")
#: Read by their names alone: a Bind passes on as it arrives (a parameter may be 1 GiB).
_BY_HEAD = frozenset(b"B")
#: Client bytes buffered while a statement waits for a decision before the proxy
#: stops reading: the same bound as before authentication ends.
HOLD_LIMIT = hs.HOLD_LIMIT
#: How much longer than its statement_timeout the proxy's own query may take to answer.
_OWN_QUERY_SLACK = 1.0
#: Identity changes of one connection logged; past them one line says the rest are not
#: (``SET application_name`` in a loop wrote a log line per statement).
LOGGED_RETAGS = 3


_SYNC = m.frame(b"S", b"")
#: An Execute that fails at once: PostgreSQL then skips messages up to the next Sync.
_EXECUTE_NO_PORTAL = m.encode_execute("skewguard_no_portal")


#: What a held FunctionCall carries in place of a text (it is judged by its OID).
_FUNCTION_CALL = Script()


#: Parse body -> (statement name, text, whether the text must be read).
_PARSES: Recent[bytes, tuple[str, str, bool]] = Recent()
#: A text that must be read -> what it does (BEGIN, COMMIT, SET ... come again and again).
_SCRIPTS: Recent[str, Script] = Recent()
#: A Query or Execute text longer than this that must be read is read in a worker
#: thread while its session is held: the read of 100,000 `SELECT 1;` held every
#: session ~1 s, that of one 900 kB DDL statement 1.5 s.
READ_OFF_LOOP_ABOVE = LONG_TEXT
#: Stands for the script of a Query or Execute whose read is deferred to a worker thread.
_READ_LATER = Script(())
#: What a held message gets when the client cancels it (PostgreSQL's own words).
_USER_CANCEL = Refusal("canceling statement due to user request", "", "", sqlstate=QUERY_CANCELED)


def _parse_reads(query: bytes) -> bool:
    """A Parse's text must be read at Execute: the sniff says so, or it is an SQL
    ``EXECUTE`` of a statement that may be DDL by the time it runs."""
    return needs_reading(query) or first_word(query) == b"execute"


def _read_parse(body: bytes, encoding: str | None) -> tuple[str, str, bool]:
    """Parse's statement name and text, and whether the text must be read."""
    if encoding is not None:  # a session whose texts do not read as UTF-8: uncached
        m.decode_parse(body)  # the message's layout is checked as for any Parse
        name, _, rest = body.partition(b"\x00")
        query = rest.partition(b"\x00")[0]
        return decode(name, encoding), decode(query, encoding), _parse_reads(query)
    known = _PARSES.get(body)
    if known is None:
        parse = m.decode_parse(body)
        known = (parse.name, parse.query, _parse_reads(parse.query.encode()))
        _PARSES.put(body, known)
    return known


#: Transaction control that undoes the settings made since a savepoint or BEGIN.
_UNDOING = frozenset({Kind.ROLLBACK, Kind.ROLLBACK_TO})


class Phase(Enum):
    STARTUP = auto()  # waiting for a startup packet (possibly inside TLS)
    CONNECTING = auto()  # StartupMessage received, upstream being opened
    AUTH = auto()  # upstream relaying authentication until ReadyForQuery
    READY = auto()  # the hot path
    RAW = auto()  # replication: relayed untouched in both directions
    CLOSED = auto()


class ClientSession(asyncio.Protocol):
    """Relays one client connection to its own upstream connection."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.phase = Phase.STARTUP
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.params: dict[str, str] = {}
        self.database = ""
        self.statement_log: StatementLog | None = None  # None: not learning (yet)
        self.identity = UNTAGGED
        self._retags = 0  # identity changes seen (LOGGED_RETAGS of them logged)
        self._claimed: set[Identity] = set()  # learned under (--max-session-versions)
        # a Query or Execute read off the loop: its text and its read (READ_OFF_LOOP_ABOVE)
        self._deferred: tuple[str, Callable[[], Script]] | None = None
        self.stats = TrafficStats(UNTAGGED)  # counted once the StartupMessage names the identity
        self.prepared = PreparedStatements()
        self.backend_pid: int | None = None
        self.backend_key: bytes | None = None  # BackendKeyData's secret, for cancels
        self._tls: TlsEndpoint | None = None
        self._tls_kind = ""
        self._seen_first_bytes = False
        self._handshake = hs.Handshake(tls_available=proxy.tls_context is not None)
        self._scanner = MessageScanner(_CLIENT_MESSAGES, heads=_BY_HEAD)
        self._upstream: UpstreamLink | None = None
        self._pending: list[bytes] = []  # client bytes received before the upstream is ready
        self._replication = False  # a walsender: physical ones are a byte pipe
        # replication=database: a logical walsender also runs SQL from a simple Query,
        # so its text goes through the gate like any other session's
        self._sql_walsender = False
        self._gate: TransactionGate | None = None  # None: no DDL guard on this connection
        self._sampler: SessionSampler | None = None  # None: not sampling values for replay
        self._owner: tuple[StatementLog, Owner] | None = None  # whose samples, per log
        self._held: list[Segment] | None = None  # scanned client input waiting on a decision
        self._held_is_query = False  # what waits is a simple Query (not an Execute)
        self._held_settled = False  # a held Execute after which the proxy may query (_settle)
        self._held_raw: list[bytes] = []  # client input received while waiting
        self._held_bytes = 0
        self._replies = ReplyStream()  # ReadyForQuery in the server's stream
        self._syncs = 0  # Query, Sync and FunctionCall messages sent upstream: each gets a Z
        self._control_since_sync = False  # transaction control followed since the last one
        self._unsynced = False  # extended-protocol messages sent since the last of those
        self._executes_since_sync = 0  # Execute messages since the last of those
        self._own_waiter: asyncio.Future[None] | None = None  # the proxy's own query under way
        self._own_lost = False  # it got no answer in time: the server connection is dropped
        self._sync_waiter: asyncio.Future[None] | None = None
        self._cancel_requested = False
        self._session_override: str | None = None  # SET skewguard.allow = '…'
        self._lock_timeout_set = False
        self._temporary = TemporaryRelations()  # the names its pg_temp holds
        self._local_path: tuple[str, ...] | None = None  # SET LOCAL search_path
        self._local_path_ready = 0  # the ReadyForQuery that ends the transaction it was set in
        self._path_known = True
        self._path_unknown_here = False
        # the search_path the session started with, as PostgreSQL set it (handshake);
        # UNKNOWN when it would not say: the backend is asked when DDL comes
        self._startup_path: tuple[str, ...] = DEFAULT
        # current_user may not be the login user: a "$user" in the path is not known
        self._role_moved = False
        # current_user as PostgreSQL said at session start (None: the login user), and
        # whether it is unknown (a text may have moved it since, or PostgreSQL would not
        # say): then only the backend knows it
        self._start_role: str | None = None
        self._role_unknown = False
        # client_encoding values texts sent but not yet answered may have set, and the
        # ReadyForQuery that answers the last of them: until then a text is read each way
        self._encodings_in_flight: set[str] = set()
        self._encodings_until = 0
        self._encoding_set = False  # a SET LOCAL may be undone at the transaction's end
        self._reported: tuple[str, str | None] = ("UTF8", None)  # (reported, character_set(it))
        self._query_sql = ""  # the last Query's text, as read
        # a session-wide search_path change not yet known to have stuck: the errors passed
        # when it was sent, and the ReadyForQuery that answers it
        self._path_from: int | None = None
        self._path_until = 0
        # closes of prepared statements not yet answered: the errors passed when the first
        # was sent, and the ReadyForQuery that answers the last one
        self._closes_from: int | None = None
        self._closes_until = 0
        self._task: asyncio.Task[None] | None = None  # connecting or deciding (kept referenced)
        # Bound transport.write of each side once its leg is a plain byte pipe (None before
        # that, with TLS, and from the moment that side closes).
        self._send_client: Callable[[bytes], object] | None = None
        self._send_upstream: Callable[[bytes], object] | None = None
        self._client_eof = False  # the client half-closed during authentication

    # ------------------------------------------------------------ client side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        peer = self.transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "local")
        self._startup_timer = asyncio.get_running_loop().call_later(
            self.proxy.settings.startup_timeout, self._startup_timed_out
        )
        if len(self.proxy.sessions) >= 2 * self.proxy.max_client_conn:
            # a flood of sockets that never start: dropped before they cost anything
            self.proxy.refuse_connection(self.peer)
            self.close()
            return
        self.proxy.sessions.add(self)

    def _startup_timed_out(self) -> None:
        """Like authentication_timeout, for a client that never sends its StartupMessage.

        PostgreSQL's backend just exits then (StartupPacketTimeoutHandler): no reply.
        """
        if self.phase is Phase.STARTUP:
            self.proxy.metrics.client_errors.labels("timeout").inc()
            log.warning("connection ended: no startup packet in time", extra={"peer": self.peer})
            self.close()

    def eof_received(self) -> bool:
        """The client shut down its sending side: pass that on and keep the reply path open."""
        upstream = self._upstream
        transport = upstream.transport if upstream is not None else None
        if self._held is not None:
            # The client left while its statement waits: nothing it sent is run after
            # it has gone; closing the upstream connection makes PostgreSQL roll back.
            self._abandon_held("client closed the connection while its statement was held")
            return False
        if self._tls is None and (self.phase is Phase.CONNECTING or self.phase is Phase.AUTH):
            # PostgreSQL answers the StartupMessage and only then reads the EOF.
            self._client_eof = True
            self._handshake.learn_session = False  # no statement of the client's comes
            self._eof_upstream()
            return True
        if (
            self.phase is Phase.READY
            and self._tls is None
            and transport
            and transport.can_write_eof()
        ):
            transport.write_eof()
            return True
        return False

    def data_received(self, data: bytes) -> None:
        if self.phase is Phase.READY and self._tls is None:
            self._relay_client(data)
            return
        try:
            if self._tls is not None:
                data = self._decrypt(data)
            elif not self._seen_first_bytes:
                self._seen_first_bytes = True
                if data[:1] == bytes([m.TLS_HANDSHAKE_BYTE]) and self.proxy.tls_context is not None:
                    self._start_tls("direct")
                    data = self._decrypt(data)
            if not data:
                return
            if self.phase is Phase.READY:
                self._relay_client(data)
            elif self.phase is Phase.STARTUP:
                self._on_startup_bytes(data)
            elif self.phase is Phase.AUTH or self.phase is Phase.CONNECTING:
                self._on_auth_bytes(data)
            elif self.phase is Phase.RAW:
                self._write_upstream(data)
        except ProtocolViolation as exc:
            self.fail_client(exc.sqlstate, exc.message, reason="protocol")
        except ssl.SSLError as exc:
            self.fail_client(PROTOCOL_VIOLATION, f"TLS error: {exc.reason}", reason="tls")

    def _relay_client(self, data: bytes) -> None:
        """The hot path: inspect statements, forward them; DDL waits for the guard.

        A read that starts on a message boundary is walked in place, one header
        at a time (no per-message object for a Parse, Bind, Execute or Sync),
        and forwarded as it came: one write, no copy. A message the read cuts
        goes to the scanner.
        """
        self.stats.bytes_in += len(data)
        if self._held is not None or not self._scanner.idle:
            self._scan_and_forward(data)
            return
        pos = 0
        end = len(data)
        last = -1  # the type of the last whole message
        unpack = _INT32.unpack_from
        try:
            while end - pos >= 5:
                mtype = data[pos]
                (length,) = unpack(data, pos + 1)
                if length < 4 or length > MAX_MESSAGE:
                    raise invalid_length(mtype, length)
                stop = pos + 1 + length
                if stop > end:
                    break
                if mtype == 0x42:  # Bind
                    self._on_bind(data, pos + 5, stop)
                elif mtype == 0x53:  # Sync
                    self._on_sync()
                elif mtype == 0x50:  # Parse
                    self._on_parse(data[pos + 5 : stop])
                elif mtype in _CLIENT_MESSAGES:
                    if mtype == 0x45:
                        script = self._on_execute(data, pos + 5, stop)
                    else:
                        script = self._on_client_message(Message(mtype, data[pos:stop]))
                    if script is not None:
                        rest = self._scanner.feed(data[stop:]) if stop < end else []
                        if pos:
                            self._write_upstream(data[:pos])
                        self._unsynced = mtype == 0x45  # else a Query or FunctionCall
                        self._hold(Message(mtype, data[pos:stop]), script, rest)
                        return
                pos = stop
                last = mtype
            tail = self._scanner.feed(data[pos:]) if pos < end else []
        except ProtocolViolation as exc:
            self.fail_client(exc.sqlstate, exc.message, reason="protocol")
            return
        if any(type(segment) is Message for segment in tail):  # a Bind's head
            if pos:
                self._write_upstream(data[:pos])
            self._forward(tail)
            return
        if last != -1:  # a Describe, Flush, COPY data...: not a sync point
            self._unsynced = last != 0x53 and last != 0x51 and last != 0x46
        if tail:  # a cut message the relay does not read: its bytes go on at once
            self._unsynced = True
            pos += sum(len(segment) for segment in tail if type(segment) is bytes)
        if pos:
            self._write_upstream(data if pos == end else data[:pos])

    def _scan_and_forward(self, data: bytes) -> None:
        if self._held is not None:  # a decision is pending: keep the order
            self._held_raw.append(data)
            self._held_bytes += len(data)
            if self._held_bytes > HOLD_LIMIT and self.transport is not None:
                self.transport.pause_reading()
            return
        try:
            segments = self._scanner.feed(data)
        except ProtocolViolation as exc:
            self.fail_client(exc.sqlstate, exc.message, reason="protocol")
            return
        self._forward(segments)

    def _forward(self, segments: list[Segment]) -> None:
        """Write segments upstream in order, stopping at a message the guard must judge."""
        out: list[bytes] = []
        for index, segment in enumerate(segments):
            if type(segment) is Message:
                try:
                    script = self._on_client_message(segment)
                except ProtocolViolation as exc:
                    self.fail_client(exc.sqlstate, exc.message, reason="protocol")
                    return
                if script is not None:
                    if out:
                        self._write_upstream(b"".join(out))
                    self._hold(segment, script, segments[index + 1 :])
                    return
                out.append(segment.raw)
            else:
                self._unsynced = True  # Describe, Flush, COPY data...: not a sync point
                out.append(cast(bytes, segment))
        if out:
            self._write_upstream(out[0] if len(out) == 1 else b"".join(out))

    def _on_client_message(self, message: Message) -> Script | None:
        """Track one message; return its script when the guard must judge it first.

        Statements are followed when PostgreSQL runs them: a Query at once, a
        prepared statement at the Execute of its portal (never at Parse, which
        runs nothing; named statements outlive transactions).
        """
        mtype = message.type
        self._unsynced = mtype != 0x51 and mtype != 0x53 and mtype != 0x46
        if mtype == 0x45:  # Execute
            return self._on_execute(message.raw, 5, len(message.raw))
        if mtype == 0x42:
            self._on_bind(message.raw, 5, len(message.raw))
            return None
        if mtype == 0x53:
            self._on_sync()
            return None
        if mtype == 0x46:  # FunctionCall: ends with a Z; a function named by OID runs
            self._syncs += 1
            self._control_since_sync = False
            if self._gate is None:
                return None
            oid = m.decode_function_call_oid(message.body)
            if self.proxy.fast_path.known(self.database, oid):
                return None
            return _FUNCTION_CALL
        if mtype == 0x51:  # Query
            self._syncs += 1
            self._control_since_sync = False
            raw = message.raw[5:-1]
            self.stats.queries += 1
            executes = self.prepared.may_execute_held(raw)
            reading = executes or needs_reading(raw)
            # PREPARE / DEALLOCATE / DISCARD start a statement with a word the sniff reads
            if reading:
                self.prepared.on_query(raw)
                self._closing(self._syncs)
            else:
                self.prepared.forget_unnamed()
            encodings = self._encodings()
            if len(encodings) == 1 and self._unanswered() and not raw.isascii():
                # a function an unanswered text called may have set client_encoding
                encodings = (encodings[0], ANY)
            sql = self._query_sql = decode(raw, encodings[0])
            if executes:
                sql = self._query_sql = self.prepared.expand_executes(sql)
            if reading:
                if self._read_later(sql):
                    read = functools.partial(self._query_script, raw, sql, encodings, cached=False)
                    self._deferred = (sql, read)
                    return _READ_LATER  # held: read in a worker thread (_read_then_go_on)
                script = self._query_script(raw, sql, encodings)
                self._record(sql, script)
                return self._on_statement(script, self._syncs)
            self._record(sql)
            if self._sampler is not None:
                self._sample_query(sql)
            return None
        if mtype == 0x50:
            self._on_parse(message.body)
            return None
        close = m.decode_close(message.body)  # Close
        self.prepared.on_close(close.kind, close.name)
        self._closing(self._syncs + 1)
        return None

    def _query_script(
        self, raw: bytes, sql: str, encodings: tuple[str | None, ...], *, cached: bool = True
    ) -> Script:
        """What a Query's text does, read in each encoding the server may read it in
        (``cached=False`` in a worker thread)."""
        script = self._read(sql, cached=cached)
        if len(encodings) > 1 and (
            ("\ufffd" in sql and script.may_change_schema)
            or not all(
                same_effect(script, self._read(other, cached=cached))
                for other in readings(raw, encodings)[1:]
            )
        ):  # names or statements that read otherwise in an encoding it may be in
            script = replace(script, ambiguous=True)
        return script

    def _on_execute(self, buf: bytes, start: int, stop: int) -> Script | None:
        """Execute (body ``buf[start:stop]``): its script when the portal's text must be read."""
        self._executes_since_sync += 1
        sql = self.prepared.portal_sql(m.decode_execute_portal(buf, start, stop))
        if sql is None:  # a plain statement (the sniff ran at Parse), or unknown
            return None
        if self._read_later(sql):
            self._deferred = (sql, functools.partial(self._read, sql, cached=False))
            return _READ_LATER  # held: read in a worker thread (_read_then_go_on)
        return self._on_statement(self._read(sql), self._syncs + 1)

    def _read_later(self, sql: str) -> bool:
        """``sql`` is too long to read on the event loop (and was not read before)."""
        return len(sql) > READ_OFF_LOOP_ABOVE and _SCRIPTS.get(sql) is None

    def _on_parse(self, body: bytes) -> None:
        """Parse: nothing runs yet; the text is counted and its statement followed."""
        name, query, to_read = _read_parse(body, self._encodings()[0])
        self.prepared.on_parse(name, query, to_read=to_read)
        if name and self.statement_log is not None:
            self.statement_log.named.add(query)
        # an untagged session's DDL is not learned: known by reading it, unless it is too
        # long to read on the loop (then it is learned, its analysis in a worker thread)
        read = to_read and self._untagged_log() and not self._read_later(query)
        self._record(query, self._read(query) if read else None)
        if self._sampler is not None:
            owned = self._sample_owner() is not None  # an untagged session samples nothing
            self._sampler.on_parse(name, query, body, wanted=owned)

    def _on_bind(self, buf: bytes, start: int, stop: int) -> None:
        """Bind (body ``buf[start:stop]``): one execution of a prepared statement."""
        self.stats.queries += 1
        portal, name = m.decode_bind_target(buf, start, stop)
        sql = self.prepared.on_bind(portal, name)
        if sql is None:
            return
        if name and self.statement_log is not None:
            self._record(sql)
        if self._sampler is not None:
            owner = self._sample_owner()
            if owner is not None:  # answered by the next Sync's ReadyForQuery
                body = buf[start:stop]
                self._sampler.on_bind(owner, name, sql, body, self._syncs + 1, self._replies.errors)

    def _closing(self, ready_index: int) -> None:
        """Note closes of prepared statements answered by ReadyForQuery ``ready_index``."""
        if self.prepared.unsettled:
            if self._closes_from is None:
                self._closes_from = self._replies.errors
            self._closes_until = max(self._closes_until, ready_index)

    def _on_sync(self) -> None:
        """Sync: PostgreSQL answers everything before it with one ReadyForQuery."""
        self._unsynced = False
        self._executes_since_sync = 0
        self._syncs += 1
        self._control_since_sync = False

    def _on_statement(self, script: Script, ready_index: int) -> Script | None:
        """A text PostgreSQL is about to run: settings, transaction control, the gate.

        ``ready_index``: the ReadyForQuery that will end the text's reply.
        """
        self._apply_settings(script, ready_index)
        changes = script.client_encodings
        if changes or (self._encoding_set and script.has_transaction_control):
            self._encoding_set = True
            self._encodings_in_flight.update(changes or [ANY])
            self._encodings_until = max(self._encodings_until, ready_index)
        if script.local_search_path is not None:
            self._local_path_ready = ready_index
        gate = self._gate
        if gate is not None and gate.must_decide(script):
            return script  # its temporary relations count once it is let through
        self._follow_temporary(script)
        if gate is None:
            return None
        if script.has_transaction_control:
            self._control_since_sync = True
            gate.follow(script)
        return None

    def _follow_temporary(self, script: Script) -> None:
        """A text that runs: the temporary relations it makes, drops or renames."""
        changes = [s.temporary for s in script.statements if s.temporary is not None]
        if changes and self._temporary.apply(changes):
            self._temporary_changed()

    def _temporary_changed(self) -> None:
        """Later statements resolve names against the new temporary relations."""
        learner, statement_log = self.proxy.learner, self.statement_log
        if learner is not None and statement_log is not None:
            key, path = statement_log.key, statement_log.search_path
            temporary = self._temporary
            self.statement_log = learner.rotate(
                statement_log, key, path, temporary.names, temporary.shapes
            )

    def _encodings(self) -> tuple[str | None, ...]:
        """The client encodings the next text may be read in by the server, as
        wire.encodings names them (None: ASCII-safe), the likeliest first: the one
        PostgreSQL last reported, then any a text not yet answered may have set."""
        replies = self._replies
        if replies.client_encoding != self._reported[0]:
            self._reported = (replies.client_encoding, character_set(replies.client_encoding))
        reported = self._reported[1]
        if self._encodings_in_flight and replies.ready >= self._encodings_until:
            self._encodings_in_flight.clear()
        if not replies.encoding_known:
            return (reported, ANY)
        if not self._encodings_in_flight:
            return (reported,)
        others = (
            ANY if value == ANY else character_set(value) for value in self._encodings_in_flight
        )
        return (reported, *others)

    def _unanswered(self) -> bool:
        """Something the client sent before the current Query is not answered yet."""
        return self._replies.ready + 1 < self._syncs or self._executes_since_sync > 0

    def _read(self, sql: str, *, cached: bool = True) -> Script:
        """``read_script`` of ``sql``; ``cached=False`` in a worker thread (the cache
        is the loop's)."""
        limit = self.proxy.settings.max_analysed_statement
        if len(sql) > limit:
            return read_script(sql, limit=limit)  # not parsed: "too large"
        script = _SCRIPTS.get(sql) if cached else None
        if script is None:
            script = read_script(sql)
            if cached:
                _SCRIPTS.put(sql, script)
        if self._reported[1] in UNREADABLE and "\ufffd" in sql and script.may_change_schema:
            return replace(script, ambiguous=True)  # names the proxy cannot read
        return script

    def _untagged_log(self) -> bool:
        return self.statement_log is not None and not self.statement_log.key.app

    def _record(self, sql: str, script: Script | None = None) -> None:
        """Count the statement for footprint learning (analysed later, off this path).

        An untagged session's schema changes are not: it protects nothing, and in a
        migration every statement is a new text whose analysis would take the CPU
        the relay and the guard need (``script``: the text read already).
        """
        statement_log = self.statement_log
        if statement_log is not None:
            if script is not None and script.only_ddl and not statement_log.key.app:
                return
            if len(sql) > self.proxy.settings.max_analysed_statement:
                # relayed untouched: a 100 MB literal is not worth a parse (nor the memory)
                self.proxy.metrics.analysis_failures.labels("too-long").inc()
                return
            statement_log.add(sql)

    # ------------------------------------------------------------ replay samples

    def _sample_owner(self) -> Owner | None:
        """Who runs statements now (None: untagged, or not learning: nothing to protect;
        or the session holds temporary relations, which a replay's session would not)."""
        slog = self.statement_log
        if slog is None or not slog.key.app or slog.temporary:
            return None
        owner = self._owner
        if owner is None or owner[0] is not slog:  # a new log: a new identity or path
            key = slog.key
            owner = self._owner = (
                slog,
                Owner(key.database, key.app, key.version, slog.user, slog.search_path),
            )
        return owner[1]

    def _sample_query(self, sql: str) -> None:
        owner = self._sample_owner()
        if owner is not None and self._sampler is not None:
            self._sampler.on_query(owner, sql, self._syncs, self._replies.errors)

    def _apply_settings(self, script: Script, ready_index: int) -> None:
        """Follow what a statement does to identity, search_path, overrides and lock_timeout.

        ``ready_index``: the ReadyForQuery that will end the text's reply.
        """
        change = script.application_name
        if change is not None:
            resolver = self.proxy.resolver
            if change.reset:
                self._retag(resolver.from_startup(self.params))
            else:
                self._retag(resolver.from_application_name(change.value, user=self._user))
        path = script.search_path(self._startup_path)
        if path is not None:
            self._path_known = path != UNKNOWN
            # PostgreSQL skips a SET after an error and undoes it with its transaction or
            # savepoint: the path is the session's once it stuck (_at_sync_point)
            if self._path_from is None:
                self._path_from = self._replies.errors
            self._path_until = max(self._path_until, ready_index)
        if any(s.kind in _UNDOING for s in script.statements):
            if self._path_from is not None:
                self._path_known, self._path_from = False, None
            if self._local_path is not None:
                self._local_path = UNKNOWN
        # an unreadable change in this very text has not run yet: the backend cannot tell
        self._path_unknown_here = UNKNOWN in (path, script.local_search_path)
        if script.moves_role:
            self._role_moved = self._path_unknown_here = self._role_unknown = True
        current = self.statement_log
        if path not in (None, UNKNOWN) and current is not None and path != current.search_path:
            assert path is not None
            self._rotate_log(self.identity, path)
        local = script.local_search_path
        if local is not None:
            self._local_path = local
        for statement in script.statements:
            if statement.override is not None:
                self._session_override = statement.override or None
            if statement.lock_timeout is not None:
                self._lock_timeout_set = statement.lock_timeout

    @property
    def _user(self) -> str:
        return self.params.get("user", "")

    def _requester(self) -> Requester:
        log_ = self.statement_log
        path = log_.search_path if log_ else self._startup_path
        local = self._local_path
        if local is not None and local != UNKNOWN:
            path = self._startup_path if local == RESET else local
        return Requester(
            database=self.database,
            user=self._user,
            identity=self.identity,
            peer=self.peer,
            search_path=path,
            session_override=self._session_override,
            lock_timeout_set=self._lock_timeout_set,
            backend_pid=self.backend_pid,
            search_path_known=(
                self._path_known
                and UNKNOWN not in (local, path)
                and not (self._role_moved and "$user" in path)
            ),
            search_path_askable=not self._path_unknown_here,
            temporary=self._temporary.names,
            role=self._start_role,
            role_moved=self._role_unknown,
            own_connection=self if self._can_query_own() else None,
        )

    def _hold(self, message: Message, script: Script, rest: list[Segment]) -> None:
        """Stop forwarding until the guard decides on ``message``; keep order.

        Reading goes on (up to HOLD_LIMIT) so a client that leaves meanwhile is
        noticed at once.
        """
        self._held = rest
        self._held_is_query = message.type == 0x51
        self._held_settled = False
        self._held_raw = []
        self._held_bytes = 0
        self._cancel_requested = False
        if message.type == 0x51 or message.type == 0x46:
            self._syncs -= 1  # counted again when it (or its refusal) is sent
        text = self._query_sql if message.type == 0x51 else ""
        loop = asyncio.get_running_loop()
        if script is _READ_LATER:
            assert self._deferred is not None
            sql, read = self._deferred
            self._deferred = None
            self._task = loop.create_task(self._read_then_go_on(message, sql, read))
        else:
            self._task = loop.create_task(self._decide(message, script, text))

    async def _read_then_go_on(
        self, message: Message, sql: str, read: Callable[[], Script]
    ) -> None:
        """A long Query or Execute text that must be read, read in a worker thread while
        the session is held (what the client sends meanwhile waits behind it, in order);
        then on as a text read at once: judged, or forwarded. Parsing holds the GIL, but
        the interpreter switches threads every few ms, so other sessions are served."""
        try:
            script = await asyncio.to_thread(read)
        except asyncio.CancelledError:
            if not self._cancel_requested or self.phase is Phase.CLOSED:
                raise
            self._carry_out(message, _USER_CANCEL)
            self._release_held()
            return
        if self.phase is Phase.CLOSED:
            return
        if not script.ambiguous:  # ambiguous in this session's encodings, not in others'
            _SCRIPTS.put(sql, script)
        if message.type == 0x51:  # a prepared statement's text was learned at its Parse
            self._record(sql, script)
        # a Query's ReadyForQuery (_hold uncounted it), or the next Sync's
        judged = self._on_statement(script, self._syncs + 1)
        if judged is not None:
            await self._decide(message, judged, sql)
            return
        self._carry_out(message, None)
        self._release_held()

    async def _decide(self, message: Message, script: Script, text: str) -> None:
        """``text``: a held Query's text, as it was read."""
        assert self._gate is not None
        simple = message.type == 0x51
        if simple:
            sql = text
        elif message.type == 0x45:
            sql = self.prepared.portal_sql(m.decode_execute_portal(message.body)) or ""
        else:  # a FunctionCall: judged by its OID
            sql = ""
        deadline = self.proxy.settings.decision_timeout
        loop = asyncio.get_running_loop()
        started = loop.time()
        refusal: Refusal | None
        try:
            await self._until_answered(deadline)
            remaining = max(0.0, deadline - (loop.time() - started))
            if message.type == 0x46:
                oid = m.decode_function_call_oid(message.body)
                fast_path = self.proxy.fast_path
                refusal = await self._gate.decide_call(oid, fast_path, deadline=remaining)
            elif message.type == 0x45 and not await self._settle(remaining):
                refusal = None  # PostgreSQL skips it: an earlier message of the client's failed
            else:
                remaining = max(0.0, deadline - (loop.time() - started))
                refusal = await self._gate.decide(script, sql, simple=simple, deadline=remaining)
        except asyncio.CancelledError:
            if not self._cancel_requested or self.phase is Phase.CLOSED:
                raise
            refusal = _USER_CANCEL
        if self.phase is Phase.CLOSED:
            return
        if self._own_lost:
            self._refuse_and_close(refusal)
            return
        self._carry_out(message, refusal)
        if refusal is None:
            self._follow_temporary(script)
        self._release_held()

    def _release_held(self) -> None:
        """Forward what waited behind the held message, in order (it may hold again)."""
        held, chunks = self._held or [], self._held_raw
        self._held, self._held_raw, self._held_bytes = None, [], 0
        self._forward(held)
        for chunk in chunks:
            if self.transport is None or self.transport.is_closing():
                return  # the connection ended meanwhile (a protocol error, or the client left)
            self._scan_and_forward(chunk)
        if self._held is None and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    async def _until_answered(self, timeout: float) -> None:
        """Wait until PostgreSQL has answered everything sent before the held statement.

        Then the transaction status it reported is the truth the gate starts from.
        """
        if self._replies.ready < self._syncs:
            self._sync_waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._sync_waiter), timeout)
            except TimeoutError:
                return  # the gate's own deadline answers "cannot judge"
            finally:
                self._sync_waiter = None
        if self._gate is not None and not self._control_since_sync:
            self._gate.observed_status(chr(self._replies.status))

    async def _settle(self, timeout: float) -> bool:
        """Before a held Execute inside a transaction block: have PostgreSQL answer the
        client's messages sent before it (its Parse, Bind...) with a Sync of the
        proxy's, so the proxy may run its own statements there (the replay's
        baseline), as after a held Query. Inside a block a Sync ends nothing; their
        answers go to the client, the Sync's ReadyForQuery does not (``Settle``).

        False when one of them failed: PostgreSQL would skip the Execute and what
        follows up to the client's Sync, and skips them still (``arm_drop_error``).
        """
        gate = self._gate
        if (
            gate is None
            or not gate.in_block
            or self.phase is not Phase.READY
            or self._replies.ready != self._syncs
            or self._replies.filtering
        ):
            return True
        if self._unsynced:
            skipping = self._replies.skipping  # an error already answered an earlier message
            settle = self._replies.arm_settle()
            self._send_client = None  # replies go through the filter until it is done
            self._syncs += 1
            waiter = self._own_waiter = asyncio.get_running_loop().create_future()
            self._write_upstream(_SYNC)
            try:
                async with asyncio.timeout(timeout):
                    await waiter
            except TimeoutError:
                self._lose_upstream(timeout)
                return True  # the decision ends in _refuse_and_close
            finally:
                self._own_waiter = None
            self._unsynced = False
            if skipping or settle.failed:
                self._replies.arm_drop_error()
                self._send_client = None
                self._write_upstream(_EXECUTE_NO_PORTAL)
                return False
        self._held_settled = self._replies.status == 0x54  # T: still in the block
        return True

    def _can_query_own(self) -> bool:
        """A simple Query (or a settled Execute) is held and PostgreSQL has answered all
        the client sent before it.

        Then nothing of the client's is under way at the server (no unsynced
        extended-protocol messages, whose implicit transaction or unnamed
        portal a query of the proxy's would end).
        """
        held = self._held is not None and (self._held_is_query or self._held_settled)
        return (
            held
            and self.phase is Phase.READY
            and not self._replication  # a walsender refuses the extended protocol
            and not self._own_lost
            and not self._unsynced
            and self._replies.ready == self._syncs
            and not self._replies.filtering
        )

    def _standard_strings(self) -> str | None:
        """standard_conforming_strings as PostgreSQL last reported it, when nothing the
        client sent before the held message can still change it (None otherwise).

        The server reports every change (ParameterStatus) before the ReadyForQuery
        of the statement that made it, so with every earlier reply in and no other
        Execute since the last Sync, the report is the setting the held text meets.
        """
        replies = self._replies
        if replies.ready != self._syncs or replies.filtering or self._executes_since_sync > 1:
            return None
        return replies.standard_strings

    async def query_in_transaction(
        self,
        sql: str,
        *,
        statement_timeout_ms: int,
        lock_timeout_ms: int,
        setup: Sequence[str] = (),
    ) -> list[tuple[str | None, ...]] | None:
        """Run the proxy's ``sql`` on this backend, in the client's transaction, unseen.

        Its rows (text), or None when it gives no answer: an error, a failed
        transaction, or a connection that cannot take it now; OwnQueryTimeout
        when PostgreSQL does not answer in time (see ``exchange``). The
        client's transaction is left as it was (see own_queries).
        """
        if not self._can_query_own():
            return None
        plan = bracketed(
            chr(self._replies.status),
            sql,
            statement_timeout_ms=statement_timeout_ms,
            lock_timeout_ms=lock_timeout_ms,
            named=self.keeps_unnamed,
            setup=setup,
        )
        if plan is None:
            return None
        results = await self.exchange(
            plan.wire, plan.replies, timeout=statement_timeout_ms / 1000 + _OWN_QUERY_SLACK
        )
        if results is None:
            return None
        answer: QueryResult = results[plan.query_index]
        if answer.error is not None:
            # not its text: a probe carries the versions' written values
            log.info("the proxy's own query failed (%s)", answer.error)
            return None
        return answer.rows

    @property
    def keeps_unnamed(self) -> bool:
        """The client's unnamed statement and portal must outlive the proxy's own
        messages: an Execute is held (see own_queries)."""
        return not self._held_is_query

    @property
    def own_status(self) -> str:
        """The transaction status PostgreSQL last reported (I, T or E)."""
        return chr(self._replies.status)

    async def exchange(
        self, wire: bytes, replies: int, *, timeout: float
    ) -> list[QueryResult] | None:
        """Send the proxy's own messages (``replies`` ReadyForQuery answers); their
        results, unseen by the client, or None when they cannot run now.
        The messages must leave the transaction status as they found it.

        Without an answer in ``timeout``, their replies may still come at any
        time and be taken for the client's: the server connection is dropped at
        once (PostgreSQL rolls the transaction back), the held statement's
        decision is refused and the client's connection closed after it
        (``_refuse_and_close``). Raises OwnQueryTimeout then.
        """
        if not self._can_query_own():
            return None
        status = self._replies.status
        capture = self._replies.arm_capture(replies)
        self._send_client = None  # replies go through the capture until it is done
        self._syncs += replies
        waiter = self._own_waiter = asyncio.get_running_loop().create_future()
        self._write_upstream(wire)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            self._lose_upstream(timeout)
            raise OwnQueryTimeout(
                "the connection to the server is closed (its transaction is rolled back)"
            ) from None
        finally:
            self._own_waiter = None
        if capture.statuses[-1] != status:
            log.error(
                "the proxy's own query changed the transaction status from %s to %s",
                chr(status),
                chr(capture.statuses[-1]),
                extra={"peer": self.peer, "errors": [r.error for r in capture.results]},
            )
        return capture.results

    def _lose_upstream(self, timeout: float) -> None:
        """The proxy's own messages got no answer in ``timeout``: their replies could
        come at any time and be taken for the client's, so the server connection
        ends now (PostgreSQL rolls the transaction back)."""
        log.warning(
            "the proxy's own query got no answer within %.1f s: the server connection is closed",
            timeout,
            extra={"peer": self.peer, "identity": str(self.identity)},
        )
        self._own_lost = True
        self._send_upstream = None
        if self._upstream is not None:
            self._upstream.abort()

    def _refuse_and_close(self, refusal: Refusal | None) -> None:
        """The held statement, after its server connection was dropped (see ``exchange``):
        the client reads why, then its connection ends, as after a FATAL error. The
        guard's refusal says it; where the guard allowed (warn mode, an override),
        nothing ran either, and the client is told that it cannot be judged."""
        if refusal is None:
            decision = unjudged_decision(
                "deadline",
                "the proxy's own statements on this connection got no answer in time; "
                "the connection to the server is closed (its transaction is rolled back)",
                mode=Mode.ENFORCE,
                on_error="block",
            )
            refusal = decision.refusal()
            assert refusal is not None
        self.fail_client(
            refusal.sqlstate,
            refusal.message,
            reason="own-query-timeout",
            detail=refusal.detail,
            hint=refusal.hint,
        )

    def _carry_out(self, message: Message, refusal: Refusal | None) -> None:
        """Forward the held message, or what makes PostgreSQL refuse it in its place."""
        # Ending the transaction first is the proxy's own query when it can be: the
        # client then reads only the error, as from a COMMIT that fails.
        own_rollback = refusal is not None and refusal.rollback_first and self._can_query_own()
        if message.type == 0x51 or message.type == 0x46:
            self._syncs += 1
        if refusal is None:
            self._write_upstream(message.raw)
        elif own_rollback:
            self._replies.arm_capture(1)
            self._send_client = None
            self._syncs += 1
            raising = replace(refusal, rollback_first=False).statement
            self._replies.arm_refusal(0, refusal.message, queued=True)
            self._write_upstream(m.encode_query("ROLLBACK") + m.encode_query(raising))
        elif message.type == 0x51 or message.type == 0x46:
            # a refused FunctionCall: the raising Query answers with the same E, Z
            self._replies.arm_refusal(self._syncs - 1 - self._replies.ready, refusal.message)
            self._send_client = None
            self._write_upstream(m.encode_query(refusal.statement))
        else:
            # An Execute: run the raising statement in its place. Its ParseComplete and
            # BindComplete are taken out of the reply so the client sees only the error.
            self._replies.arm_block(self._syncs - self._replies.ready, refusal.message)
            self._send_client = None
            injected = m.encode_parse("", refusal.statement) + m.encode_bind("", "")
            self._write_upstream(injected + m.encode_execute(""))

    def held_cancel_target(self) -> asyncio.Task[None] | None:
        """The held statement's decision, if a CancelRequest arriving now is for it.

        It is when nothing the client sent before it is running at the server.
        Otherwise the cancel is for what runs there, as it would be without the
        proxy (PostgreSQL gets it), and the held statement runs after it. Read
        when the cancel arrives: once PostgreSQL has taken it, the cancelled
        statement's answer may already be in.
        """
        task = self.deciding
        if task is None or (self._replies.ready < self._syncs and not self._replies.capturing):
            return None
        return task

    def cancel_held(self, target: asyncio.Task[None]) -> bool:
        """Fail the held statement with 57014, unrun, if ``target`` still decides on it."""
        if target is not self.deciding:
            return False
        self._cancel_requested = True
        target.cancel()
        return True

    def _abandon_held(self, why: str) -> None:
        """Drop a held statement and both connections (the client is gone or must go)."""
        log.info("held statement dropped: %s", why, extra={"peer": self.peer})
        task = self._task
        self._held, self._held_raw = None, []
        if task is not None and not task.done():
            task.cancel()
        if self._upstream is not None:
            self._upstream.abort()
        self.close()

    def shut_down(self) -> bool:
        """Proxy shutdown: a session whose statement is held ends now, like PostgreSQL's 57P01.

        Returns whether it did; other sessions get the grace period.
        """
        if self._held is None or self.phase is Phase.CLOSED:
            return False
        with contextlib.suppress(ssl.SSLError):
            shutdown = "terminating connection due to administrator command"
            self._client_write(m.encode_error(ADMIN_SHUTDOWN, shutdown))
        self._abandon_held("proxy shutting down")
        return True

    def _count_identity(self) -> None:
        """PostgreSQL accepted the session: only now does its identity count.

        A failed login (unknown role, wrong password) creates no version, no
        metric series and no live connection of the name it claimed.
        """
        stats = self.stats
        self.stats = self.proxy.traffic.open(self.identity)
        self.stats.bytes_in, self.stats.bytes_out = stats.bytes_in, stats.bytes_out
        learner = self.proxy.learner
        if learner is not None and not self._replication:
            key = VersionKey.of(self.database, self.identity)
            user = self.params.get("user", "")
            path = DEFAULT if self._startup_path == UNKNOWN else self._startup_path
            temporary = self._temporary
            self.statement_log = learner.open(key, user, path, temporary.names, temporary.shapes)
            self._claimed.add(self.identity)

    def _retag(self, identity: Identity) -> None:
        if identity == self.identity:
            return
        self._retags += 1
        if self._retags <= LOGGED_RETAGS:
            log.info(
                "identity change",
                extra={"peer": self.peer, "from": str(self.identity), "to": str(identity)},
            )
        elif self._retags == LOGGED_RETAGS + 1:
            log.info(
                "identity changes of this connection past %d are not logged",
                LOGGED_RETAGS,
                extra={"peer": self.peer},
            )
        self.identity = identity
        if self.phase not in (Phase.READY, Phase.RAW):
            return  # not counted yet: _count_identity opens it under the final name
        self.proxy.traffic.retag(self.stats, identity)
        if self.statement_log is not None and self._may_learn_as(identity):
            self._rotate_log(identity, self.statement_log.search_path)

    def _may_learn_as(self, identity: Identity) -> bool:
        """Whether the connection may learn under one more identity; past
        --max-session-versions it stops learning (a loop of SET application_name would
        claim a version each time, and every decision weighs every version)."""
        claimed = self._claimed
        if identity in claimed or len(claimed) < self.proxy.settings.max_session_versions:
            claimed.add(identity)
            return True
        learner, statement_log = self.proxy.learner, self.statement_log
        if learner is not None and statement_log is not None:
            learner.close(statement_log)
        self.statement_log = None
        self.proxy.metrics.learning_stopped.labels("versions").inc()
        log.warning(
            "connection claimed more than %d versions: its statements are no longer learned",
            len(claimed),
            extra={"peer": self.peer, "to": str(identity)},
        )
        return False

    def _rotate_log(self, identity: Identity, search_path: tuple[str, ...]) -> None:
        learner = self.proxy.learner
        if learner is not None and self.statement_log is not None:
            key = VersionKey.of(self.database, identity)
            self.statement_log = learner.rotate(self.statement_log, key, search_path)

    def _decrypt(self, data: bytes) -> bytes:
        assert self._tls is not None and self.transport is not None
        was_done = self._tls.handshake_done
        plain, out = self._tls.receive(data)
        if out:
            self.transport.write(out)
        if not was_done and self._tls.handshake_done:
            self.proxy.metrics.tls_handshakes.labels(self._tls_kind).inc()
            if self._tls_kind == "direct" and self._tls.alpn != ALPN_POSTGRESQL:
                raise ProtocolViolation(
                    "direct SSL connection requires ALPN protocol negotiation of "
                    f'"{ALPN_POSTGRESQL}"'
                )
        return plain

    def _start_tls(self, kind: str) -> None:
        assert self.proxy.tls_context is not None
        self._tls = TlsEndpoint(self.proxy.tls_context, server_side=True)
        self._tls_kind = kind
        self._handshake.client_tls = True

    def _on_startup_bytes(self, data: bytes) -> None:
        self._perform(self._handshake.client_startup(data))

    def _on_auth_bytes(self, data: bytes) -> None:
        self._perform(self._handshake.client_auth(data))

    def _perform(self, actions: list[hs.Action]) -> None:
        """Carry out what the handshake decided, in order; nothing after the connection ends."""
        for action in actions:
            if self.phase is Phase.CLOSED:
                return
            match action:
                case hs.ToClient(data):
                    self._client_write(data)
                case hs.ToServer(data):
                    self._write_upstream(data)
                case hs.Start(startup, packet):
                    self._on_startup_message(startup, packet)
                case hs.StartTls(rest):
                    self._start_tls("sslrequest")
                    plain = self._decrypt(rest) if rest else b""
                    if plain:
                        self._on_startup_bytes(plain)
                case hs.Cancel(request, packet):
                    self._startup_timer.cancel()  # the relay has its own deadline
                    # The client's cancel connection closes once PostgreSQL closed the proxy's.
                    self.proxy.relay_cancel(request, packet, then=self.close)
                case hs.Refused(packet):  # PostgreSQL's own refusal, verbatim
                    link = self.proxy.refusal_link(
                        packet, self._client_write, self.close, self.upstream_failed
                    )
                    self._upstream = link
                    self._task = asyncio.get_running_loop().create_task(self._connect(link))
                case hs.Unsupported(code):
                    self.proxy.answer_unsupported_protocol(
                        code, self._client_write, self.close, self.upstream_failed
                    )
                case hs.Hangup(why, counted):
                    if counted is None:
                        log.info("%s", why, extra={"peer": self.peer})
                    else:
                        self.proxy.metrics.client_errors.labels(counted).inc()
                        log.warning("connection ended: %s", why, extra={"peer": self.peer})
                    self.close()
                case hs.PauseReading():
                    if self.transport is not None:
                        self.transport.pause_reading()
                case hs.BackendKey(pid, key):
                    self.backend_pid, self.backend_key = pid, key
                case hs.ClientEncoding(value):
                    self._replies.client_encoding = value
                case hs.ApplicationName(value):
                    if not self.identity.tagged:
                        identity = self.proxy.resolver.from_application_name(value, user=self._user)
                        self._retag(identity)
                case hs.SessionStart(path, current_user):
                    self._startup_path = UNKNOWN if path is None else parse_path(path)
                    self._path_known = path is not None
                    if current_user != self._user:  # ALTER ROLE ... SET role: "$user" moved
                        self._role_moved = True
                    self._start_role = None if current_user == self._user else current_user
                    self._role_unknown = current_user is None
                case hs.Authenticated():
                    raw = self._replication and not self._sql_walsender
                    self.phase = Phase.RAW if raw else Phase.READY
                    self._replies.standard_strings = self._handshake.standard_strings
                    self._count_identity()
                    if self._tls is None and self.transport is not None:
                        self._send_client = self.transport.write

    def _release_early(self) -> None:
        """Authentication ended: what the client sent meanwhile goes through the gate."""
        early = self._handshake.take_held()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
        if early:
            self._relay_client(early)

    def _on_startup_message(self, startup: m.StartupMessage, packet: bytes) -> None:
        self._startup_timer.cancel()
        if len(self.proxy.admitted) >= self.proxy.max_client_conn:
            # PostgreSQL's answer once max_connections is reached (after TLS, as there)
            self.proxy.refuse_connection(self.peer)
            self._client_write(
                m.encode_error(TOO_MANY_CONNECTIONS, "sorry, too many clients already")
            )
            self.close()
            return
        self.proxy.admitted.add(self)
        self.params = startup.session_params
        self.identity = self.proxy.resolver.from_startup(self.params)
        self._role_moved = not ROLE_SETTINGS.isdisjoint(startup_settings(self.params))
        self._role_unknown = self._role_moved  # until PostgreSQL says (SessionStart)
        self._replication = startup.replication
        self._sql_walsender = startup.params.get("replication") == "database"
        self.database = self.params["database"]
        self._startup_path = startup_path(self.params)
        # per-role and per-database defaults apply too: PostgreSQL is asked for the path
        self._handshake.learn_session = self._sql_walsender or not self._replication
        if self.proxy.guard is not None and (self._sql_walsender or not self._replication):
            self._gate = TransactionGate(
                self.proxy.guard,
                self._requester,
                reported=self._standard_strings,
                server_encoding=lambda: self._handshake.server_encoding,
            )
            if self.proxy.guard.samples is not None and not self._replication:
                self._sampler = SessionSampler(self.proxy.guard.samples)
        self.phase = Phase.CONNECTING
        self._upstream = UpstreamLink(self, self.proxy.upstream, packet)
        self._task = asyncio.get_running_loop().create_task(self._connect(self._upstream))

    async def _connect(self, link: UpstreamLink) -> None:
        target = self.proxy.upstream
        try:
            await connect_upstream(link)
        except OSError as exc:
            self.proxy.metrics.upstream_errors.labels("connect").inc()
            self.fail_client(
                CONNECTION_FAILURE,
                f"skewguard: cannot reach the upstream PostgreSQL at {target.host}:{target.port}: "
                f"{exc.strerror or exc}",
                reason="upstream",
            )
            return
        if self.phase is Phase.CLOSED:
            link.abort()

    # ------------------------------------------------------------ upstream side

    def upstream_ready(self) -> None:
        if self.phase is Phase.CONNECTING:
            self.phase = Phase.AUTH
        if self._upstream is not None:
            self._handshake.server_tls = self._upstream.tls
        pending, self._pending = self._pending, []
        for chunk in pending:
            self._write_upstream(chunk)
        if self._client_eof:
            self._eof_upstream()

    def upstream_data(self, data: bytes) -> None:
        try:
            send = self._send_client
            if send is not None:  # the byte pipe (no filter armed): only ReadyForQuery is counted
                self.stats.bytes_out += len(data)
                replies = self._replies
                replies.walk(data)
                send(data)
                if self._sampler is not None and self._sampler.waiting:
                    self._sampler.settle(replies.ready, replies.errors)
                if replies.ready == self._syncs:
                    self._at_sync_point()
                return
            if self.phase is Phase.READY:
                self.stats.bytes_out += len(data)
                replies = self._replies
                data = replies.feed(data)
                if data:
                    self._client_write(data)
                if self._sampler is not None and self._sampler.waiting:
                    # a filter's replies are not counted: what it covered is not kept
                    self._sampler.settle(replies.ready, replies.errors, certain=False)
                if not replies.filtering and self._tls is None and self.transport is not None:
                    self._send_client = self.transport.write
                if replies.ready == self._syncs:
                    self._at_sync_point()
                return
            if self.phase is Phase.RAW:
                self.stats.bytes_out += len(data)
                self._client_write(data)
                return
            self._on_startup_reply(data)
        except ProtocolViolation as exc:
            self.proxy.metrics.upstream_errors.labels("protocol").inc()
            self.fail_client(
                exc.sqlstate,
                f"skewguard: upstream protocol error: {exc.message}",
                reason="upstream",
            )

    def _at_sync_point(self) -> None:
        """PostgreSQL has answered everything sent so far: its status is the truth."""
        replies = self._replies
        if replies.status == 0x49 and replies.ready >= self._local_path_ready:
            self._local_path = None  # the transaction of the SET LOCAL is over
        if replies.status == 0x49 and self._temporary.transaction_ended():
            self._temporary_changed()  # ON COMMIT DROP relations are gone
        if self._path_from is not None and replies.ready >= self._path_until:
            if replies.errors != self._path_from:  # perhaps never run: PostgreSQL says
                self._path_known, self._path_from = False, None
            elif replies.status == 0x49:  # committed, or run outside a transaction
                self._path_from = None
        if self._closes_from is not None and replies.ready >= self._closes_until:
            # no error since the first close was sent: PostgreSQL ran every one of them
            self.prepared.settle(ran=replies.errors == self._closes_from)
            self._closes_from = None
        own = self._own_waiter
        if own is not None:  # the proxy's own query is answered (the client's all were)
            if not own.done():
                own.set_result(None)
            return
        waiter = self._sync_waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
            return
        gate = self._gate
        if gate is not None and self._held is None and not self._control_since_sync:
            gate.observed_status(chr(self._replies.status))

    def _on_startup_reply(self, data: bytes) -> None:
        """Authentication and parameters: parsed message by message until ReadyForQuery."""
        said, payload = self._handshake.server_bytes(data)
        self.stats.bytes_out += len(payload)
        self._perform(said)
        self._client_write(payload)
        if self.phase is Phase.READY and self._handshake.holding:
            self._release_early()
        if self._client_eof:
            self._eof_upstream()

    def _eof_upstream(self) -> None:
        """Pass a client's EOF during authentication on once nothing it sent is held."""
        upstream = self._upstream
        if self._handshake.holding or upstream is None or not upstream.ready:
            return
        transport = upstream.transport
        if transport is not None and transport.can_write_eof():
            transport.write_eof()
            self._client_eof = False
        elif self.phase is Phase.READY:  # a TLS upstream: end as PostgreSQL would on the EOF
            self.close()

    def upstream_failed(self, reason: str, message: str) -> None:
        self._send_upstream = None
        self.proxy.metrics.upstream_errors.labels(reason).inc()
        self.fail_client(CONNECTION_FAILURE, f"skewguard: {message}", reason="upstream")

    def upstream_closed(self) -> None:
        if self._own_lost and self.deciding is not None:
            return  # dropped by exchange: the decision answers the client, then closes
        self.close()

    def upstream_pause(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def upstream_resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # ------------------------------------------------------------ flow control

    def pause_writing(self) -> None:
        if self._upstream is not None and self._upstream.transport is not None:
            self._upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        upstream = self._upstream
        if upstream and upstream.transport and not upstream.transport.is_closing():
            upstream.transport.resume_reading()

    # ------------------------------------------------------------ writing and ending

    def _write_upstream(self, data: bytes) -> None:
        send = self._send_upstream
        if send is not None:
            send(data)
            return
        upstream = self._upstream
        if upstream is not None and upstream.ready:
            upstream.write(data)
            self._send_upstream = upstream.direct_writer()
        else:
            self._pending.append(data)

    def _client_write(self, data: bytes) -> None:
        if self._tls is not None:
            data = self._tls.send(data)
        self._client_write_raw(data)

    def _client_write_raw(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def fail_client(
        self,
        sqlstate: str,
        message: str,
        *,
        reason: str,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        """End this connection with an ErrorResponse; every other connection goes on."""
        if self.phase is Phase.CLOSED:
            return
        self.proxy.metrics.client_errors.labels(reason).inc()
        log.warning(
            "connection ended: %s",
            message,
            extra={"peer": self.peer, "identity": str(self.identity), "sqlstate": sqlstate},
        )
        with contextlib.suppress(ssl.SSLError):
            self._client_write(m.encode_error(sqlstate, message, detail=detail, hint=hint))
        if self._upstream is not None:
            self._upstream.abort()
        self.close()

    def close(self) -> None:
        self._send_client = self._send_upstream = None
        if self.phase is not Phase.CLOSED:
            self.phase = Phase.CLOSED
            if self.transport is not None:
                if self._tls is not None:
                    self._client_write_raw(self._tls.close_notify())
                self.transport.close()
            if self._upstream is not None:
                self._upstream.close()

    @property
    def deciding(self) -> asyncio.Task[None] | None:
        """The decision on a held statement, while it runs."""
        task = self._task
        return task if self._held is not None and task is not None and not task.done() else None

    def abort(self) -> None:
        """Drop both legs at once (shutdown after the grace period); no decision goes on."""
        task = self.deciding
        self._held, self._held_raw = None, []
        if task is not None:
            task.cancel()
        self._send_client = self._send_upstream = None
        self.phase = Phase.CLOSED
        if self.transport is not None:
            self.transport.abort()
        if self._upstream is not None:
            self._upstream.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._send_client = self._send_upstream = None
        self._startup_timer.cancel()
        task = self._task
        if self._held is not None and task is not None and not task.done():
            task.cancel()  # the client is gone: its held statement never runs
            self._held, self._held_raw = None, []
        if self.phase is not Phase.CLOSED:
            self.phase = Phase.CLOSED
            if self._upstream is not None:
                self._upstream.close()
        self.proxy.sessions.discard(self)
        self.proxy.admitted.discard(self)
        self.proxy.traffic.close(self.stats)
        if self.statement_log is not None and self.proxy.learner is not None:
            self.proxy.learner.close(self.statement_log)
            self.statement_log = None
