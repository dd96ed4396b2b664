"""A text that reads otherwise with standard_conforming_strings off, sent as an Execute.

Outside a transaction block the proxy cannot ask the backend for the setting
before the Execute runs; it takes the one PostgreSQL last reported
(ParameterStatus) instead of refusing a plain SELECT as "cannot judge". psycopg's
own suite found it: an escaped bytea literal through ``PGconn.exec_params``.
"""

from __future__ import annotations

import pytest
from psycopg import pq

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct_dsn
from tests.support.proxy import ProxyProcess

DATA = bytes(range(256))


def _run(dsn: str, setting: bytes) -> tuple[pq.ExecStatus, bytes | None]:
    conn = pq.PGconn.connect(dsn.encode())
    try:
        assert conn.status == pq.ConnStatus.OK, conn.error_message
        conn.exec_(b"SET standard_conforming_strings = " + setting)
        escaped = pq.Escaping().escape_bytea(DATA)  # without a connection: \\ escapes
        res = conn.exec_params(b"select '%s'::bytea" % escaped, [], result_format=1)
        value = res.get_value(0, 0) if res.status == pq.ExecStatus.TUPLES_OK else None
        return pq.ExecStatus(res.status), value
    finally:
        conn.finish()


@pytest.mark.parametrize("setting", [b"on", b"off"])
def test_escaped_literal_execute_reads_as_directly(
    cluster: LocalCluster, proxy: ProxyProcess, setting: bytes
) -> None:
    expected = _run(direct_dsn(cluster), setting)
    assert expected[0] == pq.ExecStatus.TUPLES_OK  # PostgreSQL runs it with either setting
    assert _run(proxy.dsn(sslmode="require"), setting) == expected
