"""``python -m bench.relay_path``: the relay's own Python work per pgbench -S transaction.

One transaction's client reads (simple Query; Parse/Bind/Describe/Execute/Sync
for the extended protocol; Bind/Execute/Sync for a prepared statement; the
seven prepared statements of pgbench's TPC-B-like script, BEGIN to END; the 20
statements of bench/orm's five scripts, each script once, as ``-M extended`` sends
them, with as many rows in a reply as a statement's LIMIT) through
``ClientSession.data_received`` and the server's replies through
``upstream_data``, with both legs' writes replaced by no-ops, learning, the
guard's transaction gate and replay sampling on, untagged as pgbench's
connections are: the user-space work skewguard adds to a bare relay, without
sockets, the kernel or uvloop. CPU time of this thread, best of the repeats (the least
disturbed by other work on the machine). Needs no PostgreSQL.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import time
from types import SimpleNamespace
from typing import Any, cast

from bench.pgbench import ORM_DIR, ORM_SCRIPTS
from skewguard.backlog import DEFAULT_MAX_TEXTS, MAX_CHARS, Backlog
from skewguard.config import Settings
from skewguard.footprint import VersionKey
from skewguard.learning import StatementLog
from skewguard.literal_keys import literal_key
from skewguard.relay import session as relay_session
from skewguard.relay.gate import TransactionGate
from skewguard.replay_samples import SampleBook, SessionSampler
from tests.support import rawclient as rc

SELECT = "SELECT abalance FROM pgbench_accounts WHERE aid = {};"
_ROW = rc.message(b"D", b"\x00\x01\x00\x00\x00\x04" + b"1234")
_DONE = rc.message(b"C", b"SELECT 1\x00") + rc.message(b"Z", b"I")
_COLUMNS = rc.message(b"T", b"\x00\x01abalance\x00" + b"\x00" * 18)

#: The TPC-B-like script of pgbench, as prepared statements (pgbench -M prepared).
TPCB = (
    "BEGIN;",
    "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
    "SELECT abalance FROM pgbench_accounts WHERE aid = $1;",
    "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;",
    "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2;",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
    "VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);",
    "END;",
)
_TPCB_STATUS = [b"T"] * 6 + [b"I"]


def _orm_exchange(sql: str, status: bytes) -> tuple[bytes, bytes]:
    """One statement of bench/orm as ``pgbench -M extended`` sends it (every ``:var`` a
    parameter of an unnamed Parse) and a reply of as many rows as its LIMIT (else one)."""
    params = re.findall(r"(?<!:):\w+", sql)
    for i, name in enumerate(params, 1):
        sql = sql.replace(name, f"${i}", 1)
    request = rc.parse(sql) + rc.bind(["7"] * len(params)) + rc.describe("P") + rc.execute()
    verb = sql.split(None, 1)[0].rstrip(";").upper()
    if verb == "SELECT":
        limit = re.search(r"LIMIT (\d+)", sql)
        rows = int(limit.group(1)) if limit else 1
        body = _COLUMNS + _ROW * rows + rc.message(b"C", b"SELECT %d\x00" % rows)
    else:
        body = rc.message(b"n") + rc.message(b"C", verb.encode() + b"\x00")
    reply = rc.message(b"1") + rc.message(b"2") + body + rc.message(b"Z", status)
    return request + rc.sync(), reply


def _orm() -> list[tuple[bytes, bytes]]:
    """Every script of the ORM-like workload once, in ORM_SCRIPTS order."""
    exchanges = []
    for name in ORM_SCRIPTS:
        status = b"I"
        for line in (ORM_DIR / f"{name}.sql").read_text().splitlines():
            if not line or line.startswith(("--", "\\")):
                continue
            verb = line.split(None, 1)[0].rstrip(";").upper()
            status = {"BEGIN": b"T", "COMMIT": b"I"}.get(verb, status)
            exchanges.append(_orm_exchange(line, status))
    return exchanges


#: protocol -> the (client read, server reply) pairs of one transaction
TRANSACTIONS: dict[str, list[tuple[bytes, bytes]]] = {
    "simple": [(rc.query(SELECT.format(48213)), _COLUMNS + _ROW + _DONE)],
    "extended": [
        (
            rc.parse(SELECT.format("$1"))
            + rc.bind(["48213"])
            + rc.describe("P")
            + rc.execute()
            + rc.sync(),
            rc.message(b"1") + rc.message(b"2") + _COLUMNS + _ROW + _DONE,
        )
    ],
    "prepared": [
        (
            rc.bind(["48213"], statement="P0_1") + rc.execute() + rc.sync(),
            rc.message(b"2") + _ROW + _DONE,
        )
    ],
    "tpcb-prepared": [
        (
            rc.bind(["1", "2"], statement=f"T{i}") + rc.execute() + rc.sync(),
            rc.message(b"2") + rc.message(b"C", b"UPDATE 1\x00") + rc.message(b"Z", status),
        )
        for i, status in enumerate(_TPCB_STATUS)
    ],
    "orm-extended": _orm(),  # five transactions: each script of bench/orm once
}


def _session() -> relay_session.ClientSession:
    # only the proxy's settings and whether it has TLS are read on this path
    proxy = SimpleNamespace(settings=Settings(), tls_context=None)
    session = relay_session.ClientSession(cast(Any, proxy))
    session.phase = relay_session.Phase.READY
    session._send_upstream = len
    session._send_client = len
    backlog = Backlog(DEFAULT_MAX_TEXTS, MAX_CHARS, literal_key)
    key = VersionKey("bench", "", "")  # pgbench's application_name carries no version
    # the gate and the sampler as a guarded session has them (no decision is asked for)
    session._gate = TransactionGate(cast(Any, None), session._requester)
    session._sampler = SessionSampler(SampleBook(max_shapes=10_000, max_bytes=32 << 20))
    session.statement_log = StatementLog(key, "postgres", ("public",), backlog)
    prepare = [rc.parse(SELECT.format("$1"), "P0_1")]
    prepare += [rc.parse(sql, f"T{i}") for i, sql in enumerate(TPCB)]
    session.data_received(b"".join(prepare) + rc.sync())
    session.upstream_data(rc.message(b"1") * len(prepare) + rc.message(b"Z", b"I"))
    return session


def per_transaction_ns(protocol: str, n: int = 50_000, repeats: int = 9) -> float:
    exchanges = TRANSACTIONS[protocol]
    session = _session()
    receive, answer = session.data_received, session.upstream_data
    best = float("inf")
    gc.disable()
    try:
        for _ in range(repeats):
            started = time.thread_time()
            for _ in range(n):
                for request, reply in exchanges:
                    receive(request)
                    answer(reply)
            best = min(best, (time.thread_time() - started) / n * 1e9)
    finally:
        gc.enable()
    if session._syncs != session._replies.ready:
        raise RuntimeError(f"{protocol}: the session lost count of its sync points")
    return best


def run(n: int = 50_000, repeats: int = 9) -> dict[str, float]:
    return {protocol: per_transaction_ns(protocol, n, repeats) for protocol in TRANSACTIONS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_path", description=__doc__)
    parser.add_argument("-n", type=int, default=50_000, help="transactions per repeat")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.n, args.repeats)
    if args.json:
        print(json.dumps(result))
    else:
        print("  ".join(f"{name} {ns:.0f} ns/txn" for name, ns in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
