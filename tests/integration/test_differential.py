"""Differential: the same raw protocol script, straight to PostgreSQL and through the proxy.

Every reply byte must be the same, except the contents of BackendKeyData (a
different backend answers each run). The proxy forwards the startup packet
verbatim, so even every ParameterStatus must match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clusters import SCRAM_PASSWORD, SCRAM_USER, Certificates
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration

STARTUP = {"user": "postgres", "database": "postgres", "application_name": "differential@1"}
#: pg_proc OIDs of large-object functions (bootstrap OIDs, stable across versions): the
#: fast-path calls libpq makes, which pass where any other function called by OID is
#: opaque code (a protected version in the database refuses it: test_function_call.py).
LO_CREATE, LO_OPEN, LOWRITE, LOREAD = 715, 952, 955, 954
LARGE_OBJECT = b"4242424"
INV_READ_WRITE = str(0x20000 | 0x40000).encode()


@dataclass(frozen=True)
class Step:
    """Send ``data``, then read replies up to the ``count``-th message of type ``until``."""

    data: bytes
    until: str = "Z"
    count: int = 1


@dataclass(frozen=True)
class Script:
    steps: list[Step]
    startup: dict[str, str] | None = None
    minor: int = 0


def q(sql: str) -> Step:
    return Step(rc.query(sql))


SCRIPTS: dict[str, Script] = {
    "simple-query": Script([q("select 1 as a, 'x'::text as b, null::int as c")]),
    "multi-statement": Script(
        [
            q(
                "create temp table t (a int, b text); insert into t values (1, 'one'), (2, 'two');"
                # Expressions, not bare columns: RowDescription names a bare column's table
                # OID, and each run creates its own temp table.
                " select a + 0 as a, b || '' as b from t order by a; update t set b = upper(b);"
                " select count(*) from t"
            )
        ]
    ),
    "query-with-error": Script(
        [
            q("select 1; select 1/0; select 2"),
            q("select * from no_such_table"),
            q("begin; select 1; select nope"),
            q("select 'ignored in failed transaction'"),
            q("rollback"),
            q("select 'after'"),
        ]
    ),
    "notice-and-parameter-status": Script(
        [
            q("do $$ begin raise notice 'hello %', 42; end $$"),
            q("set application_name = 'differential@2'; set datestyle = 'German'"),
            q("select now()::date = current_date"),
        ]
    ),
    "extended": Script(
        [
            Step(
                rc.parse("select $1::int + 1 as n, $2::text as t", types=[23, 25])
                + rc.bind(["41", "hi"])
                + rc.describe("P")
                + rc.execute()
                + rc.sync()
            ),
            Step(rc.parse("select $1::text") + rc.bind([None]) + rc.execute() + rc.sync()),
            Step(
                rc.parse("select $1::int", "desc_s")
                + rc.describe("S", "desc_s")
                + rc.bind(["5"], statement="desc_s", result_formats=[1])
                + rc.execute()
                + rc.sync()
            ),
        ]
    ),
    "extended-portal-suspended": Script(
        [
            q("begin"),
            Step(
                rc.parse("select g from generate_series(1, 5) g")
                + rc.bind(portal="p1")
                + rc.execute("p1", 2)
                + rc.execute("p1", 2)
                + rc.execute("p1", 2)
                + rc.close("P", "p1")
                + rc.sync()
            ),
            q("commit"),
        ]
    ),
    "pipelined-with-error": Script(
        [
            Step(
                rc.parse("select 1")
                + rc.bind()
                + rc.execute()
                + rc.sync()
                + rc.parse("select 1 / (g - 2) from generate_series(1, 3) g")  # a row, then 22012
                + rc.bind()
                + rc.execute()
                + rc.parse("select 'skipped until sync'")
                + rc.bind()
                + rc.execute()
                + rc.sync()
                + rc.parse("select 3")
                + rc.bind()
                + rc.execute()
                + rc.sync(),
                count=3,
            ),
            Step(
                rc.parse("begin")
                + rc.bind()
                + rc.execute()
                + rc.parse("select nope")
                + rc.bind()
                + rc.execute()
                + rc.sync()
                + rc.parse("select 'in failed transaction'")
                + rc.bind()
                + rc.execute()
                + rc.sync()
                + rc.parse("rollback")
                + rc.bind()
                + rc.execute()
                + rc.sync(),
                count=3,
            ),
        ]
    ),
    "named-statement-reuse-and-close": Script(
        [
            Step(rc.parse("select $1::int * 2", "twice") + rc.sync()),
            Step(
                rc.bind(["1"], statement="twice")
                + rc.execute()
                + rc.bind(["21"], statement="twice")
                + rc.execute()
                + rc.sync()
            ),
            Step(rc.parse("select 'dup'", "twice") + rc.sync()),  # already exists: error
            Step(rc.close("S", "twice") + rc.close("S", "never_existed") + rc.sync()),
            Step(rc.bind(["1"], statement="twice") + rc.execute() + rc.sync()),  # gone: error
            q("prepare sqlprep (int) as select $1 + 100"),
            Step(rc.bind(["1"], statement="sqlprep") + rc.execute() + rc.sync()),
            q("deallocate all"),
            Step(rc.bind(["1"], statement="sqlprep") + rc.execute() + rc.sync()),
        ]
    ),
    "copy-from-stdin": Script(
        [
            q("create temp table c (a int, b text)"),
            Step(rc.query("copy c from stdin"), until="G"),
            Step(
                rc.copy_data(b"1\tone\n2\ttwo\n")
                + rc.copy_data(b"3\tth")
                + rc.copy_data(b"ree\n")
                + b"".join(rc.copy_data(f"{i}\t{'x' * i}\n".encode()) for i in range(4, 400))
                + rc.copy_done()
            ),
            q("select count(*), sum(length(b)) from c"),
        ]
    ),
    "copy-fail": Script(
        [
            q("create temp table c (a int)"),
            Step(rc.query("copy c from stdin"), until="G"),
            Step(rc.copy_data(b"1\n2\n") + rc.copy_fail("changed my mind")),
            Step(rc.query("copy c from stdin"), until="G"),
            Step(rc.copy_data(b"not a number\n") + rc.copy_done()),  # server-side error
            q("select count(*) from c"),
        ]
    ),
    "copy-extended": Script(
        [
            q("create temp table c (a int)"),
            Step(rc.parse("copy c from stdin") + rc.bind() + rc.execute(), until="G"),
            Step(rc.copy_data(b"7\n8\n") + rc.copy_done() + rc.sync()),
            q("select array_agg(a order by a) from c"),
        ]
    ),
    "copy-to-stdout": Script(
        [
            q("copy (select g, repeat('y', g) from generate_series(1, 300) g) to stdout"),
            q("copy (select 1 where false) to stdout (format csv, header)"),
        ]
    ),
    "large-result": Script([q("select repeat('z', 400000), g from generate_series(1, 4) g")]),
    "empty-query": Script(
        [
            q(""),
            q(" ; "),
            Step(rc.parse("") + rc.bind() + rc.execute() + rc.sync()),
        ]
    ),
    "flush-without-sync": Script(
        [
            Step(rc.parse("select 40 + 2") + rc.flush(), until="1"),
            Step(rc.bind() + rc.describe("P") + rc.execute() + rc.flush(), until="C"),
            Step(rc.sync()),
        ]
    ),
    "function-call": Script(
        [
            q("BEGIN"),
            Step(rc.function_call(LO_CREATE, [LARGE_OBJECT])),
            Step(rc.function_call(LO_OPEN, [LARGE_OBJECT, INV_READ_WRITE])),
            Step(rc.function_call(LOWRITE, [b"0", b"abc"])),
            Step(rc.function_call(LOREAD, [b"7", b"10"])),  # no such descriptor: error
            q("ROLLBACK"),
        ]
    ),
    "protocol-3.2": Script([q("select 1")], minor=2),
    "unknown-pq-option": Script(
        [q("select 1")], startup={**STARTUP, "_pq_.skewguard_unknown": "on"}
    ),
    "unknown-pq-option-3.2": Script(
        [q("select 1")], startup={**STARTUP, "_pq_.skewguard_unknown": "on"}, minor=2
    ),
    "startup-error-unknown-database": Script(
        [], startup={"user": "postgres", "database": "no_such_database"}
    ),
}


def _mask(reply: rc.Reply) -> bytes:
    if reply.type == "K":  # BackendKeyData: pid and secret differ per backend
        return reply.raw[:5] + bytes(len(reply.body))
    return reply.raw


def _run(port: int, script: Script, transport: str = "plain") -> list[list[bytes]]:
    """Replies per step (the startup first), masked; the last entry is what came after Terminate."""
    out: list[list[bytes]] = []
    with rc.RawClient("127.0.0.1", port, transport=transport) as client:
        client.send(rc.startup(script.startup or STARTUP, minor=script.minor))
        startup = client.read_until("Z", "E")
        out.append([_mask(r) for r in startup])
        if startup[-1].type == "E":
            out.append([client.read_to_eof()])
            return out
        for step in script.steps:
            client.send(step.data)
            out.append([_mask(r) for r in client.read_until(step.until, count=step.count)])
        client.send(rc.terminate())
        out.append([client.read_to_eof()])
    return out


def _describe(replies: list[bytes]) -> str:
    return " ".join(chr(r[0]) if r else "<eof>" for r in replies)


@pytest.mark.parametrize("transport", rc.TRANSPORTS)
@pytest.mark.parametrize("name", list(SCRIPTS))
def test_same_bytes_direct_and_through_proxy(
    name: str, transport: str, cluster: LocalCluster, proxy: ProxyProcess
) -> None:
    """Plain to PostgreSQL; plain, or TLS that the proxy terminates, to the proxy."""
    script = SCRIPTS[name]
    direct = _run(cluster.port, script)
    proxied = _run(proxy.port, script, transport)
    assert len(direct) == len(proxied)
    for index, (want, got) in enumerate(zip(direct, proxied, strict=True)):
        label = "startup" if index == 0 else f"step {index}"
        assert got == want, f"{name}, {label}: {_describe(want)} vs {_describe(got)}"
    assert direct[-1] == [b""]  # Terminate: the server closes without another word


def _types(replies: list[bytes]) -> str:
    return "".join(chr(r[0]) for r in replies)


EXPECTATIONS: dict[str, Callable[[list[list[bytes]], int], None]] = {}


def _expect(name: str) -> Callable[[Callable[[list[list[bytes]], int], None]], None]:
    def register(check: Callable[[list[list[bytes]], int], None]) -> None:
        EXPECTATIONS[name] = check

    return register


@_expect("pipelined-with-error")
def _pipelined(run: list[list[bytes]], major: int) -> None:
    assert _types(run[1]) == "12DCZ" + "12DEZ" + "12DCZ"  # the error skips to Sync
    assert _types(run[2]) == "12CEZ" + "EZ" + "12CZ"  # still failed after the first Sync


@_expect("flush-without-sync")
def _flush(run: list[list[bytes]], major: int) -> None:
    assert _types(run[1]) == "1"  # Flush delivered ParseComplete without a Sync
    assert _types(run[2]) == "2TDC"
    assert _types(run[3]) == "Z"


@_expect("protocol-3.2")
def _protocol_32(run: list[list[bytes]], major: int) -> None:
    types = _types(run[0])
    if major >= 18:  # speaks 3.2: no negotiation, a 32-byte cancel key
        assert "v" not in types
        key = next(r for r in run[0] if r[:1] == b"K")
        assert len(key) == 5 + 4 + 32
    else:
        assert types.startswith("vR")


@_expect("unknown-pq-option")
def _unknown_option(run: list[list[bytes]], major: int) -> None:
    assert run[0][0][:1] == b"v" and b"_pq_.skewguard_unknown\x00" in run[0][0]


@_expect("copy-fail")
def _copy_fail(run: list[list[bytes]], major: int) -> None:
    assert _types(run[3]) == "EZ"
    assert b"changed my mind" in run[3][0]


@_expect("function-call")
def _function_call(run: list[list[bytes]], major: int) -> None:
    created = b"V" + (4 + 4 + len(LARGE_OBJECT)).to_bytes(4, "big")
    assert run[2][0] == created + len(LARGE_OBJECT).to_bytes(4, "big") + LARGE_OBJECT
    assert run[4][0].endswith(b"3")  # bytes written
    assert _types(run[5]) == "EZ" and run[5][-1].endswith(b"E")


@pytest.mark.parametrize("name", list(EXPECTATIONS))
def test_scripts_exercise_what_they_claim(name: str, cluster: LocalCluster) -> None:
    """Guards the harness: each script really produces the protocol situation it is named for."""
    EXPECTATIONS[name](_run(cluster.port, SCRIPTS[name]), cluster.install.major)


# ---------------------------------------------------------------- SCRAM over a TLS upstream


@pytest.fixture(scope="module")
def tls_upstream_proxy(
    cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    """A proxy whose upstream leg is TLS, so the server offers SCRAM-SHA-256-PLUS.

    The proxy has a certificate of its own (not the server's): a client binding
    to it can never match what the server binds to.
    """
    if not cluster.install.supports_ssl:
        pytest.skip(f"PostgreSQL {cluster.install.major} here is built without SSL")
    directory = tmp_path_factory.mktemp("tls-upstream")
    own = Certificates.make(directory)
    running = ProxyProcess(
        upstream=cluster.url(sslmode="require"),
        extra_args=["--tls-cert", str(own.cert), "--tls-key", str(own.key)],
        logfile=directory / "proxy.log",
    ).start()
    yield running
    assert running.stop() == 0, running.log_tail()


def _scram_outcome(port: int, sslmode: str, channel_binding: str) -> str:
    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            dbname="postgres",
            user=SCRAM_USER,
            password=SCRAM_PASSWORD,
            sslmode=sslmode,
            channel_binding=channel_binding,
            connect_timeout=10,
        ) as conn:
            conn.execute("select 1")
        return "ok"
    except psycopg.OperationalError as exc:
        return str(exc)


#: (client sslmode, channel_binding) → through the proxy, ok or the words of the failure.
#: Channel binding cannot cross the proxy: the client's TLS ends there, so -PLUS is hidden.
SCRAM_CASES = [
    ("disable", "disable", "ok"),
    ("disable", "prefer", "ok"),  # offered -PLUS over plaintext, libpq would refuse at once
    ("require", "disable", "ok"),
    # The client tells the server "I support binding but you did not offer it" and a
    # server that does support it (its own leg is TLS) treats that as a downgrade; the
    # proxy may say so first, in words that name the way out.
    ("require", "prefer", "SCRAM channel binding"),
    ("require", "require", "server did not offer an authentication method that supports"),
]


@pytest.mark.parametrize(("sslmode", "channel_binding", "expected"), SCRAM_CASES)
def test_scram_through_tls_upstream(
    sslmode: str,
    channel_binding: str,
    expected: str,
    cluster: LocalCluster,
    tls_upstream_proxy: ProxyProcess,
) -> None:
    assert _scram_outcome(cluster.port, "require", channel_binding) == "ok"  # direct: fine
    outcome = _scram_outcome(tls_upstream_proxy.port, sslmode, channel_binding)
    if expected == "ok":
        assert outcome == "ok"
    else:
        assert expected in outcome, outcome
    assert tls_upstream_proxy.alive
