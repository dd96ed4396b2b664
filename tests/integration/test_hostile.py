"""Hostile and broken clients: each loses only its own connection, and nothing leaks.

After every case the proxy process is alive, a normal client still works, no
client connection is counted as active, and (for clients that vanished with a
statement running) the upstream backend leaves pg_stat_activity.
"""

from __future__ import annotations

import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clusters import MD5_USER
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration

PROTOCOL_VIOLATION = "08P01"
STARTUP = {"user": "postgres", "database": "postgres"}


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _active_connections(proxy: ProxyProcess) -> float:
    return sum(
        value
        for (name, _), value in proxy.metrics().items()
        if name == "skewguard_client_connections_active"
    )


def _backends(cluster: LocalCluster, application_name: str) -> int:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where application_name = %s",
            (application_name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _proxy_errors(data: bytes) -> list[dict[str, str]]:
    """ErrorResponses in what the proxy sent before closing."""
    return [r.fields() for r in rc.messages_of(data) if r.type == "E"]


def _assert_rejected(data: bytes, message: str | None = None) -> None:
    errors = _proxy_errors(data)
    assert len(errors) == 1, data
    assert errors[0]["C"] == PROTOCOL_VIOLATION, errors[0]
    assert errors[0]["S"] == "FATAL"
    if message is not None:
        assert message in errors[0]["M"], errors[0]


def _connect(proxy: ProxyProcess) -> rc.RawClient:
    return rc.RawClient("127.0.0.1", proxy.port, timeout=10)


def _ready(proxy: ProxyProcess, **params: str) -> rc.RawClient:
    client = _connect(proxy)
    replies = client.startup({**STARTUP, **params})
    assert replies[-1].type == "Z", replies
    return client


@pytest.fixture
def healthy_after(proxy: ProxyProcess) -> Iterator[None]:
    """After the test: the proxy lives, serves a normal client, and counts no open connection."""
    logfile = proxy.logfile
    log_start = logfile.stat().st_size if logfile and logfile.exists() else 0
    yield
    assert proxy.alive, proxy.log_tail()
    with _ready(proxy, application_name="hostile-check@1") as client:
        client.send(rc.query("select 42"))
        replies = client.read_ready()
        assert [r.type for r in replies] == ["T", "D", "C", "Z"]
        assert replies[1].body.endswith(b"42")
        client.send(rc.terminate())
        assert client.read_to_eof() == b""
    _wait_for(lambda: _active_connections(proxy) == 0, "no active client connections")
    if logfile and logfile.exists():
        with open(logfile, "rb") as log:
            log.seek(log_start)
            written = log.read().decode(errors="replace")
        assert "Traceback" not in written, written[-3000:]


# ---------------------------------------------------------------- before startup

GARBAGE_FIRST_PACKETS = {
    "http-request": b"GET / HTTP/1.1\r\nHost: db\r\n\r\n",
    "zero-length": b"\x00\x00\x00\x00",
    "length-below-minimum": struct.pack("!i", 7) + b"abc",
    "negative-length": struct.pack("!i", -8) + b"\x00" * 8,
    "oversized-length": struct.pack("!ii", 10_005, 3 << 16),
    "huge-length": struct.pack("!ii", 0x7FFFFFFF, 3 << 16),
    "bad-layout": struct.pack("!ii", 13, 3 << 16) + b"user\x00",
    "cancel-key-too-short": struct.pack("!iii", 15, 80877102, 1) + b"abc",
}


def _first_packet_reply(port: int, packet: bytes) -> bytes:
    """What a server says to ``packet`` sent as a connection's first bytes, until it closes."""
    with rc.RawClient("127.0.0.1", port, timeout=10) as client:
        client.send(packet)
        return client.read_to_eof()


def _shape(reply: bytes) -> list[tuple[str, str]]:
    """A reply as (type, SQLSTATE) pairs."""
    messages = rc.messages_of(reply)
    return [(r.type, r.fields().get("C", "") if r.type == "E" else "") for r in messages]


@pytest.mark.parametrize("name", list(GARBAGE_FIRST_PACKETS))
def test_garbage_first_packet(
    name: str, cluster: LocalCluster, proxy: ProxyProcess, healthy_after: None
) -> None:
    """The proxy answers a broken first packet as PostgreSQL does (mostly: silence, then close)."""
    packet = GARBAGE_FIRST_PACKETS[name]
    direct = _first_packet_reply(cluster.port, packet)
    proxied = _first_packet_reply(proxy.port, packet)
    assert _shape(proxied) == _shape(direct), (proxied, direct)


def test_oversized_startup_packet_is_refused_before_it_is_buffered(
    proxy: ProxyProcess, healthy_after: None
) -> None:
    with _connect(proxy) as client:
        client.send(struct.pack("!ii", 1_000_000, 3 << 16))  # the body never comes
        assert client.read_to_eof() == b""  # PostgreSQL closes without a word, and so do we


def test_truncated_startup_packet_then_close(proxy: ProxyProcess, healthy_after: None) -> None:
    with _connect(proxy) as client:
        client.send(rc.startup({**STARTUP, "application_name": "truncated@1"})[:20])
        client.sock.shutdown(socket.SHUT_WR)
        assert client.read_to_eof() == b""  # a clean close, nothing to say


def test_client_vanishes_without_a_word(proxy: ProxyProcess, healthy_after: None) -> None:
    with _connect(proxy) as client:
        client.send(b"\x00\x00")
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # closed with a RST: the fixture checks the proxy shrugged it off


def test_plaintext_after_tls_accepted(proxy: ProxyProcess, healthy_after: None) -> None:
    with _connect(proxy) as client:
        client.send(rc.SSL_REQUEST)
        assert client.read_bytes(1) == b"S"
        client.send(rc.startup(STARTUP))  # not a ClientHello
        client.read_to_eof()  # a TLS alert at most, then the proxy closes


def test_garbage_direct_tls_handshake(proxy: ProxyProcess, healthy_after: None) -> None:
    with _connect(proxy) as client:
        client.send(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 64)
        client.read_to_eof()


def test_cancel_request_for_unknown_backend(proxy: ProxyProcess, healthy_after: None) -> None:
    with _connect(proxy) as client:
        client.send(rc.cancel_request(2_000_000_000, b"\x01\x02\x03\x04"))
        assert client.read_to_eof() == b""


# ---------------------------------------------------------------- after startup


@pytest.mark.parametrize(
    "header",
    [
        struct.pack("!ci", b"Q", -5),
        struct.pack("!ci", b"d", 3),
        struct.pack("!ci", b"Q", 0x40000000),  # 1 GiB
        struct.pack("!ci", b"d", 0x7FFFFFFF),
    ],
    ids=["negative", "below-minimum", "over-1GiB", "max-int"],
)
def test_bad_message_length_after_startup(
    header: bytes, proxy: ProxyProcess, healthy_after: None
) -> None:
    with _ready(proxy) as client:
        client.send(header)
        _assert_rejected(client.read_to_eof(), "invalid message length")


def test_bad_length_behind_a_good_message(proxy: ProxyProcess, healthy_after: None) -> None:
    """The proxy stops before forwarding anything of a chunk holding a bad header."""
    with _ready(proxy) as client:
        client.send(rc.query("select 1") + struct.pack("!ci", b"P", 2))
        _assert_rejected(client.read_to_eof(), "invalid message length")


def _wait_for_backend_state(cluster: LocalCluster, application_name: str, query: str) -> None:
    def running() -> bool:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity"
                " where application_name = %s and state = 'active' and query like %s",
                (application_name, query + "%"),
            ).fetchone()
        return row is not None and row[0] == 1

    _wait_for(running, f"{query!r} to run upstream")


def test_client_vanishes_mid_query(
    cluster: LocalCluster, proxy: ProxyProcess, healthy_after: None
) -> None:
    name = f"hostile-sleep-{uuid.uuid4().hex[:8]}"
    # The backend notices a closed socket during pg_sleep only when it checks for it.
    client = _ready(proxy, application_name=name, options="-c client_connection_check_interval=100")
    client.send(rc.query("select pg_sleep(60)"))
    _wait_for_backend_state(cluster, name, "select pg_sleep")
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    _wait_for(lambda: _backends(cluster, name) == 0, "the sleeping backend to go away")


def test_client_vanishes_mid_copy_from_stdin(
    cluster: LocalCluster, proxy: ProxyProcess, healthy_after: None
) -> None:
    name = f"hostile-copy-{uuid.uuid4().hex[:8]}"
    table = name.replace("-", "_")
    with psycopg.connect(cluster.url(), autocommit=True) as conn:  # DDL straight to PostgreSQL
        conn.execute(f"create table {table} (a int, b text)")
    try:
        client = _ready(proxy, application_name=name)
        client.send(rc.query(f"copy {table} from stdin"))
        assert client.read_until("G")[-1].type == "G"
        client.send(rc.copy_data(b"1\tone\n") + rc.copy_data(b"2\ttw"))  # mid-row, mid-stream
        _wait_for_backend_state(cluster, name, f"copy {table} from stdin")
        client.close()
        _wait_for(lambda: _backends(cluster, name) == 0, "the COPY backend to go away")
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            assert conn.execute(f"select count(*) from {table}").fetchone() == (0,)
    finally:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(f"drop table if exists {table}")


def test_client_leaves_during_authentication(proxy: ProxyProcess, healthy_after: None) -> None:
    with _connect(proxy) as client:
        client.send(rc.startup({"user": MD5_USER, "database": "postgres"}))
        request = client.read_message()
        assert request.type == "R" and request.body[:4] == struct.pack("!i", 5)  # md5 password
    # closed with the password never sent


def test_client_leaves_right_after_startup(proxy: ProxyProcess, healthy_after: None) -> None:
    for _ in range(10):  # gone while the proxy is still opening its upstream connection
        with _connect(proxy) as client:
            client.send(rc.startup({**STARTUP, "application_name": "gone@1"}))


def test_wrong_password_is_postgres_own_error(proxy: ProxyProcess, healthy_after: None) -> None:
    with _connect(proxy) as client:
        client.send(rc.startup({"user": MD5_USER, "database": "postgres"}))
        assert client.read_message().type == "R"
        client.send(rc.password("md5" + "0" * 32))
        error = client.read_message()
        assert error.type == "E" and error.fields()["C"] == "28P01"
        assert client.read_to_eof() == b""


def test_many_hostile_clients_at_once(proxy: ProxyProcess, healthy_after: None) -> None:
    clients = [_connect(proxy) for _ in range(20)]
    packets = list(GARBAGE_FIRST_PACKETS.values())
    for index, client in enumerate(clients):
        if index % 2:
            client.send(packets[index % len(packets)])
        else:
            client.send(rc.startup({**STARTUP, "application_name": "crowd@1"}))
    for index, client in enumerate(clients):
        with client:
            if index % 2:
                client.read_to_eof()  # whatever PostgreSQL would say (see above), then closed
            else:
                assert client.read_until("Z", "E")[-1].type == "Z"
