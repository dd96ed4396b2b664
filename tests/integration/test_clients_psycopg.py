"""psycopg 3 (libpq 18) through the proxy: protocols, pipelines, cursors, COPY, notify, cancel."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, direct_dsn, unique, wait_backend_active
from tests.support.proxy import ProxyProcess

VALUES: tuple[Any, ...] = (
    42,
    2**40,
    Decimal("12345.678901"),
    3.5,
    "text with ünïcødé and 'quotes'",
    b"\x00\x01\xfe\xff",
    True,
    None,
    dt.date(2024, 2, 29),
    dt.datetime(2024, 2, 29, 12, 30, 15, 123456, tzinfo=dt.UTC),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    [1, 2, 3],
    {"a": [1, None, "x"]},
)


def params() -> tuple[Any, ...]:
    return tuple(Jsonb(v) if isinstance(v, dict) else v for v in VALUES)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_extended_query_round_trip(proxy: ProxyProcess, binary: bool) -> None:
    query = "select " + ", ".join(["%s"] * len(VALUES))
    with psycopg.connect(proxy.url(), sslmode="require", autocommit=True) as conn:
        row = conn.execute(query, params(), binary=binary).fetchone()
        assert row == VALUES
        # A 4 MB parameter and a 12 MB result cross the relay intact.
        blob = bytes(range(256)) * (4 * 4096)
        got = conn.execute("select %b::bytea, md5(%b::bytea)", (blob, blob), binary=binary)
        assert got.fetchone() == (blob, _md5(blob))
        size = conn.execute("select length(repeat('x', 12000000))", binary=binary).fetchone()
        assert size == (12_000_000,)


def _md5(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data).hexdigest()


def test_simple_query_protocol(proxy: ProxyProcess) -> None:
    with psycopg.connect(proxy.url(), autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        cur = conn.cursor()
        cur.execute("select " + ", ".join(["%s"] * len(VALUES)), params())
        assert cur.fetchone() == VALUES
        # Several statements in one Query message: one result set each.
        cur.execute("select 1 as a; select 'two' as b, 2; values (3), (4)")
        sets = [cur.fetchall()]
        while cur.nextset():
            sets.append(cur.fetchall())
        assert sets == [[(1,)], [("two", 2)], [(3,), (4,)]]
        # Straight libpq PQexec too.
        result = conn.pgconn.exec_(b"select 40 + 2; select 'last'")
        assert result.get_value(0, 0) == b"last"


def test_prepared_statements_are_reused(proxy: ProxyProcess) -> None:
    with psycopg.connect(proxy.url(), autocommit=True, prepare_threshold=0) as conn:
        for i in range(5):
            assert conn.execute("select %s::int * 2", (i,)).fetchone() == (i * 2,)
        prepared = conn.execute(
            "select count(*) from pg_prepared_statements where statement = 'select $1::int * 2'"
        ).fetchone()
        assert prepared == (1,)
        conn.execute("deallocate all")
        assert conn.execute("select %s::int * 2", (21,)).fetchone() == (42,)


def run_pipeline(dsn: str, table: str) -> tuple[list[type[Exception]], list[int]]:
    """An error in the middle of a pipeline, in autocommit and in a transaction."""
    raised: list[type[Exception]] = []
    insert = sql.SQL("insert into {} (id) values (%s)").format(sql.Identifier(table))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("truncate {}").format(sql.Identifier(table)))
        try:
            with conn.pipeline() as pipeline:
                conn.execute(insert, (1,))
                conn.execute(insert, (2,))
                pipeline.sync()  # 1 and 2 form their own implicit transaction
                conn.execute(insert, (3,))
                conn.execute("select 1 / 0")
                conn.execute(insert, (4,))
        except psycopg.Error as exc:
            raised.append(type(exc))
        conn.execute(insert, (5,))  # the connection is usable again

        conn.autocommit = False
        try:
            with conn.pipeline():
                conn.execute(insert, (6,))
                conn.execute(insert, (6,))  # duplicate key
                conn.execute(insert, (7,))
        except psycopg.Error as exc:
            raised.append(type(exc))
        conn.rollback()
        with conn.pipeline():
            conn.execute(insert, (8,))
            conn.execute("select pg_sleep(0)")
        conn.commit()
        rows = conn.execute(
            sql.SQL("select id from {} order by id").format(sql.Identifier(table))
        ).fetchall()
    return raised, [r[0] for r in rows]


def test_pipeline_error_midway_matches_direct(
    cluster: LocalCluster, proxy: ProxyProcess, table: str
) -> None:
    plain = run_pipeline(direct_dsn(cluster), table)
    proxied = run_pipeline(proxy.dsn(), table)
    assert proxied == plain
    assert plain == ([errors.DivisionByZero, errors.UniqueViolation], [1, 2, 5, 8])


def test_server_side_cursor_fetches_in_batches(proxy: ProxyProcess) -> None:
    with psycopg.connect(proxy.url(), sslmode="require") as conn:
        with conn.cursor(name="batches") as cur:
            cur.execute("select g, repeat('x', g % 97) from generate_series(1, 5000) g")
            assert conn.execute("select name from pg_cursors").fetchall() == [("batches",)]
            sizes = []
            total = 0
            while rows := cur.fetchmany(700):
                sizes.append(len(rows))
                total += sum(r[0] for r in rows)
                assert all(r[1] == "x" * (r[0] % 97) for r in rows)
        assert sizes == [700] * 7 + [100]
        assert total == 5000 * 5001 // 2
        conn.commit()

        with conn.cursor(name="held", withhold=True) as cur:
            cur.execute("select g from generate_series(1, 10) g")
            conn.commit()  # a WITH HOLD cursor outlives its transaction
            cur.scroll(5, mode="absolute")
            assert cur.fetchall() == [(6,), (7,), (8,), (9,), (10,)]


def test_copy_in_and_out(cluster: LocalCluster, proxy: ProxyProcess, table: str) -> None:
    expected = [(i, None if i % 10 == 0 else f"note {i}\t\\ \n ü") for i in range(1, 20001)]
    with psycopg.connect(proxy.url(), autocommit=True) as conn, conn.cursor() as cur:
        with cur.copy(sql.SQL("copy {} (id, note) from stdin").format(sql.Identifier(table))) as cp:
            for row in expected[:10000]:
                cp.write_row(row)
        copy_binary = sql.SQL("copy {} (id, note) from stdin (format binary)").format(
            sql.Identifier(table)
        )
        with cur.copy(copy_binary) as cp:
            cp.set_types(["int4", "text"])
            for row in expected[10000:]:
                cp.write_row(row)
        with direct(cluster) as check:
            assert check.execute(f"select count(*), count(note) from {table}").fetchone() == (
                20000,
                18000,
            )
        for fmt in ("text", "binary"):
            out = sql.SQL("copy (select id, note from {} order by id) to stdout (format {})")
            with cur.copy(out.format(sql.Identifier(table), sql.SQL(fmt))) as cp:
                cp.set_types(["int4", "text"])
                assert list(cp.rows()) == expected

        # A client-side failure mid-COPY sends CopyFail: nothing is loaded, the session goes on.
        with pytest.raises(ZeroDivisionError):  # noqa: SIM117
            with cur.copy(sql.SQL("copy {} from stdin").format(sql.Identifier(table))) as cp:
                cp.write_row((30000, "never"))
                raise ZeroDivisionError("client gave up")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert conn.execute(f"select count(*) from {table}").fetchone() == (20000,)


def test_listen_notify_reaches_idle_listener(cluster: LocalCluster, proxy: ProxyProcess) -> None:
    channel = unique("chan")
    big = "p" * 7000
    with psycopg.connect(proxy.url(), sslmode="require", autocommit=True) as listener:
        listener.execute(sql.SQL("listen {}").format(sql.Identifier(channel)))
        with direct(cluster) as notifier:
            notifier.execute("select pg_notify(%s, 'first')", (channel,))
            notifier.execute("select pg_notify(%s, %s)", (channel, big))
            notifier_pid = notifier.info.backend_pid
        got = list(listener.notifies(timeout=10, stop_after=2))
    assert [(n.channel, n.payload, n.pid) for n in got] == [
        (channel, "first", notifier_pid),
        (channel, big, notifier_pid),
    ]


CANCEL_CASES = [
    pytest.param({"sslmode": "disable"}, "cancel", id="plain-cancel"),
    pytest.param({"sslmode": "disable"}, "cancel_safe", id="plain-cancel_safe"),
    pytest.param({"sslmode": "require"}, "cancel", id="tls-cancel"),
    pytest.param({"sslmode": "require"}, "cancel_safe", id="tls-cancel_safe"),
    pytest.param({"sslmode": "require", "sslnegotiation": "direct"}, "cancel_safe", id="direct"),
]


@pytest.mark.parametrize(("conninfo", "how"), CANCEL_CASES)
def test_cancel_interrupts_query(
    cluster: LocalCluster, proxy: ProxyProcess, conninfo: dict[str, str], how: str
) -> None:
    cancels = ("skewguard_cancel_requests_total", ())
    before = proxy.metrics().get(cancels, 0.0)
    with psycopg.connect(proxy.dsn(**conninfo), autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use == (conninfo["sslmode"] == "require")
        pid = conn.info.backend_pid
        failure: list[BaseException] = []

        def cancel_when_running() -> None:
            try:
                wait_backend_active(cluster, pid, "pg_sleep")
                if how == "cancel_safe":
                    conn.cancel_safe(timeout=5)
                else:
                    conn.cancel()
            except BaseException as exc:  # reported by the test thread
                failure.append(exc)

        worker = threading.Thread(target=cancel_when_running)
        worker.start()
        with pytest.raises(errors.QueryCanceled, match="canceling statement due to user request"):
            conn.execute("select pg_sleep(30)")
        worker.join()
        assert not failure, failure
        assert conn.execute("select 'still usable'").fetchone() == ("still usable",)
    assert proxy.metrics()[cancels] == before + 1


def test_replication_connection(cluster: LocalCluster, proxy: ProxyProcess) -> None:
    systems = []
    for dsn in (direct_dsn(cluster), proxy.dsn(sslmode="require")):
        with psycopg.connect(dsn, replication="database", autocommit=True) as conn:
            result = conn.pgconn.exec_(b"IDENTIFY_SYSTEM")
            assert result.status == psycopg.pq.ExecStatus.TUPLES_OK, result.error_message
            systems.append((result.get_value(0, 0), result.get_value(0, 3)))
    assert systems[1] == systems[0]
    assert systems[0][1] == b"postgres"


@pytest.mark.parametrize("sslmode", ["disable", "require"])
def test_server_terminated_connection_reports_fatal(
    cluster: LocalCluster, proxy: ProxyProcess, sslmode: str
) -> None:
    messages = []
    for dsn in (direct_dsn(cluster, sslmode="disable"), proxy.dsn(sslmode=sslmode)):
        with psycopg.connect(dsn, autocommit=True) as conn:
            with direct(cluster) as admin:
                admin.execute("select pg_terminate_backend(%s)", (conn.info.backend_pid,))
            with pytest.raises(psycopg.OperationalError) as caught:
                conn.execute("select 1")
            messages.append(str(caught.value).splitlines()[0])
            assert conn.closed
    assert messages[1] == messages[0]
    assert "terminating connection due to administrator command" in messages[0]
