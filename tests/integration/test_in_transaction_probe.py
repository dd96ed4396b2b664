"""Probes of existing rows run on the migrating connection, inside its transaction (#8).

At the COMMIT of ``BEGIN; …; ALTER TABLE t ADD CONSTRAINT …; COMMIT`` the
migration holds ACCESS EXCLUSIVE on ``t``: a probe on a side connection waits
on that lock, times out and answers nothing (the finding falls to "risk":
breaks missed, every such COMMIT slower). On the migrating connection the
probe sees what the transaction sees (its own DELETE of the violating rows)
and waits on nothing; the client never sees it, its transaction is left as it
was, and an error in the probe does not abort it.

Replay is off here (``--replay none``): the probes are what a decision has when
no sampled value can be replayed. With replay on, a writer whose sampled values
all pass the new constraint is not named (the last test).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clients import direct, unique
from tests.support.sites import Site, proxied_site

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE items (id int PRIMARY KEY, qty int, code text);
INSERT INTO items VALUES (1, 5, 'a'), (2, 0, 'b'), (3, 7, 'b');
"""
#: The writer a protected version runs (its writes of qty and code are what a constraint checks).
WRITE = "INSERT INTO items (id, qty, code) VALUES (%s, %s, %s)"
#: Before, a probe waited PROBE_LOCK_TIMEOUT_MS (500 ms) on the migration's lock.
FAST = 0.4


@pytest.fixture
def site(cluster: LocalCluster, tmp_path: Path) -> Iterator[Site]:
    with proxied_site(
        cluster, tmp_path, "probe", SCHEMA, "--replay", "none", autocommit=False
    ) as found:
        yield found


@pytest.fixture
def replaying_site(cluster: LocalCluster, tmp_path: Path) -> Iterator[Site]:
    with proxied_site(cluster, tmp_path, "probe", SCHEMA, autocommit=False) as found:
        yield found


@pytest.fixture
def writer(site: Site) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A live version that writes qty and code (protected while connected)."""
    with site.via_proxy("shop@1") as conn:
        conn.autocommit = True
        conn.execute(WRITE, (100, 1, "z"))
        conn.execute("DELETE FROM items WHERE id = 100")
        yield conn


def _commit_time(conn: psycopg.Connection[tuple[object, ...]]) -> float:
    started = time.monotonic()
    conn.commit()
    return time.monotonic() - started


def _constraints(site: Site) -> set[str]:
    with site.direct() as conn:
        rows = conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'items'::regclass"
        ).fetchall()
    return {str(r[0]) for r in rows}


def _finding_messages(decision: dict[str, object]) -> list[str]:
    """What SG114 (new constraint against writers) says: its probe's answer."""
    findings = decision["findings"]
    assert isinstance(findings, list)
    return [str(f["message"]) for f in findings if f["rule"] == "SG114"]


@pytest.mark.usefixtures("writer")
def test_check_after_the_migrations_own_delete_is_allowed_at_once(site: Site) -> None:
    with site.via_proxy() as conn:
        conn.execute("DELETE FROM items WHERE qty <= 0")
        conn.execute("ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0)")
        took = _commit_time(conn)
    assert "qty_positive" in _constraints(site)
    decision = site.last_decision()
    assert decision["decision"] == "allow"
    messages = _finding_messages(decision)
    assert messages and all("no existing row violates it" in text for text in messages)
    assert took < FAST, f"COMMIT took {took:.3f} s: the probe waited on the migration's lock"


@pytest.mark.usefixtures("writer")
def test_unique_after_the_migrations_own_delete_is_allowed_at_once(site: Site) -> None:
    with site.via_proxy() as conn:
        conn.execute("DELETE FROM items WHERE id = 3")  # the duplicate code 'b'
        conn.execute("ALTER TABLE items ADD CONSTRAINT items_code_key UNIQUE (code)")
        took = _commit_time(conn)
    assert "items_code_key" in _constraints(site)
    decision = site.last_decision()
    assert decision["decision"] == "allow"
    messages = _finding_messages(decision)
    assert messages and all("no existing row violates it" in text for text in messages)
    assert took < FAST, f"COMMIT took {took:.3f} s"


@pytest.mark.usefixtures("writer")
def test_check_that_rows_in_the_transaction_still_violate_is_blocked(site: Site) -> None:
    with site.via_proxy() as conn:
        conn.execute("UPDATE items SET qty = 9 WHERE id = 1")
        conn.execute("ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID")
        started = time.monotonic()
        with pytest.raises(errors.ObjectInUse) as blocked:
            conn.commit()  # one result: the error, as from a COMMIT PostgreSQL refuses
        took = time.monotonic() - started
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert "shop@1" in (blocked.value.diag.message_detail or "")
    assert took < FAST, f"the refusal took {took:.3f} s"
    assert "qty_positive" not in _constraints(site)
    with site.direct() as conn:  # nothing of the transaction was committed
        assert conn.execute("SELECT qty FROM items WHERE id = 1").fetchone() == (5,)
    assert site.last_decision()["decision"] == "block"


@pytest.mark.usefixtures("writer")
def test_a_failing_probe_leaves_the_clients_transaction_intact(site: Site) -> None:
    # The probe evaluates 100 / qty on the row with qty = 0: division by zero.
    with site.via_proxy() as conn:
        conn.execute("INSERT INTO items VALUES (4, 4, 'd')")
        conn.execute("ALTER TABLE items ADD CONSTRAINT qty_ratio CHECK (100 / qty > 0) NOT VALID")
        conn.commit()  # no answer: a risk, allowed; the transaction commits whole
    assert "qty_ratio" in _constraints(site)
    with site.direct() as conn:
        assert conn.execute("SELECT qty FROM items WHERE id = 4").fetchone() == (4,)
    messages = _finding_messages(site.last_decision())
    assert messages and all("rows not probed" in text for text in messages)
    assert "the proxy's own query failed (22012)" in site.proxy.log_tail()


def _replies(port: int, database: str, queries: list[str], *, split: bool) -> list[bytes]:
    """The raw replies to ``queries`` after startup: one write each, or all in one."""
    with rc.RawClient("127.0.0.1", port) as client:
        client.startup({"user": "postgres", "database": database})
        if split:
            out: list[bytes] = []
            for sql in queries:
                client.send(rc.query(sql))
                out += [r.raw for r in client.read_ready()]
            return out
        client.send(*(rc.query(sql) for sql in queries))
        return [r.raw for r in client.read_ready(len(queries))]


MIGRATION = [
    "BEGIN",
    "DELETE FROM items WHERE qty <= 0",
    "SAVEPOINT mine",  # the client's own savepoint survives the proxy's
    "ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0)",
    "COMMIT",
    "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
    " current_setting('transaction_read_only'), count(*) FROM items",
    # outside a transaction block: the probe runs in a read-only transaction of its own
    "ALTER TABLE items ADD CONSTRAINT qty_small CHECK (qty < 100) NOT VALID",
    "SELECT current_setting('statement_timeout'), current_setting('transaction_read_only')",
    # a failed transaction: no probe; COMMIT answers ROLLBACK as PostgreSQL does
    "BEGIN",
    "ALTER TABLE items ADD CONSTRAINT items_code_key UNIQUE (code)",
    "COMMIT",
    "SELECT conname FROM pg_constraint WHERE conrelid = 'items'::regclass ORDER BY 1",
]


@pytest.mark.parametrize("split", [True, False], ids=["one-by-one", "pipelined"])
@pytest.mark.usefixtures("writer")
def test_replies_are_byte_identical_to_direct(site: Site, split: bool) -> None:
    # The same migration on a copy of the database, straight to PostgreSQL.
    twin = unique("twin")
    with direct(site.cluster) as conn:
        conn.execute(f"CREATE DATABASE {twin}")
    try:
        with direct(site.cluster, dbname=twin) as conn:
            conn.execute(SCHEMA + "INSERT INTO items VALUES (5, 1, 'b');")
        with site.direct() as conn:
            conn.execute("INSERT INTO items VALUES (5, 1, 'b')")
        port = site.cluster.port
        expected = _replies(port, twin, MIGRATION, split=split)
        got = _replies(site.proxy.port, site.database, MIGRATION, split=split)
    finally:
        with direct(site.cluster) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {twin} WITH (FORCE)")
    assert got == expected
    decisions = json.loads(site.proxy.get("/api/decisions"))["decisions"]
    answers = {
        name: _finding_messages(d)
        for d in decisions
        for name in ("qty_positive", "qty_small", "items_code_key")
        if any(name in text for text in d["statements"])
    }
    assert all("no existing row violates it" in t for t in answers["qty_positive"])
    assert all("no existing row violates it" in t for t in answers["qty_small"])
    # in the failed transaction nothing ran: no answer
    assert all("rows not probed" in t for t in answers["items_code_key"])
    assert all(answers.values())


def test_with_replay_a_writer_whose_values_pass_is_not_named(replaying_site: Site) -> None:
    """The rows still violate, but shop@1's own insert (qty = 1) replays clean after the
    change, as running it again on PostgreSQL shows: the constraint is allowed."""
    site = replaying_site
    with site.via_proxy("shop@1") as writer:
        writer.autocommit = True
        writer.execute(WRITE, (100, 1, "z"))
        writer.execute("DELETE FROM items WHERE id = 100")
        with site.via_proxy() as conn:
            conn.execute("ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID")
            conn.commit()
        writer.execute(WRITE, (100, 1, "z"))  # still works
    assert "qty_positive" in _constraints(site)
    decision = site.last_decision()
    assert decision["decision"] == "allow"
    assert any("overturned by replay" in text for text in _finding_messages(decision))
