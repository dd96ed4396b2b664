"""A cancel while a statement is held reaches what PostgreSQL is running (#15).

The client pipelines a long statement and DDL: the DDL waits for the guard,
which waits for PostgreSQL to answer what came before. A cancel then is for
the running statement, as it would be without the proxy: that one fails with
57014 and the DDL runs after it, exactly as PostgreSQL answers directly.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration


def _pipeline_and_cancel(port: int, table: str) -> list[tuple[str, str | None]]:
    with rc.RawClient("127.0.0.1", port) as client:
        replies = client.startup({"user": "postgres", "database": "postgres"})
        key_data = next(r for r in replies if r.type == "K")
        pid = struct.unpack_from("!i", key_data.body)[0]
        client.send(rc.query("SELECT pg_sleep(30)"), rc.query(f"CREATE TABLE {table} (id int)"))
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as cancel:
            cancel.sendall(rc.cancel_request(pid, key_data.body[4:]))
            cancel.settimeout(10)
            assert cancel.recv(1) == b""
        return [(r.type, r.fields().get("C")) for r in client.read_ready(2)]


def test_cancel_reaches_the_running_statement_not_the_held_one(
    cluster: LocalCluster, proxy: ProxyProcess
) -> None:
    direct_table, proxied_table = unique("direct"), unique("proxied")
    expected = _pipeline_and_cancel(cluster.port, direct_table)
    got = _pipeline_and_cancel(proxy.port, proxied_table)
    assert got == expected
    assert [code for kind, code in got if kind == "E"] == ["57014"]
    with direct(cluster) as conn:
        conn.execute(f"DROP TABLE {direct_table}")
        conn.execute(f"DROP TABLE {proxied_table}")  # it ran after the cancelled one
