"""The guard never hangs a migration (issue #8), through a real proxy.

``BEGIN; ALTER TABLE t ADD COLUMN c int; UPDATE t SET c = 1; COMMIT;`` holds
ACCESS EXCLUSIVE on ``t`` until COMMIT, and COMMIT waits for the guard's
decision. While the lock is held, applications read ``t`` (through the proxy
and directly) and a new version names what the migration creates: the learner
analyses those texts and reads the catalog meanwhile. Were a catalog read to
wait on ``t``'s lock, the decision would wait on it and COMMIT never come (a
hang lasts until something times out: > 30 s). COMMIT must be answered within
a few seconds and the blocked readers resume right after.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import wait_for
from tests.support.sites import Site, proxied_site

pytestmark = pytest.mark.integration

#: A hang is > 30 s; anything under this is an answer.
ANSWERED = 10.0

SCHEMA = """
CREATE TABLE t (id serial PRIMARY KEY, note text DEFAULT 'n', n int NOT NULL DEFAULT 0
                CHECK (n >= 0));
CREATE INDEX t_note ON t (lower(note)) WHERE n >= 0;
CREATE VIEW t_view AS SELECT id, note FROM t;
INSERT INTO t (note) SELECT 'row ' || g FROM generate_series(1, 100) AS g;
"""


@pytest.fixture
def site(cluster: LocalCluster, tmp_path: Path) -> Iterator[Site]:
    with proxied_site(cluster, tmp_path, "hang", SCHEMA, statement_timeout="60s") as found:
        yield found


@dataclass
class Reader:
    """Runs one query on its own connection in a thread; records when it finished."""

    name: str
    connect: Callable[[], psycopg.Connection[tuple[object, ...]]]
    sql: str
    finished: float | None = None
    error: BaseException | None = None
    rows: list[tuple[object, ...]] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> Reader:
        conn = self.connect()  # connected before the lock: only the query waits

        def run() -> None:
            try:
                with conn:
                    self.rows = conn.execute(self.sql).fetchall()
            except BaseException as exc:  # reported by the test
                self.error = exc
            self.finished = time.monotonic()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)


def _in_thread(work: Callable[[], None], timeout: float) -> float:
    """Run ``work`` and return how long it took; fail (not hang) past ``timeout``."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    took = time.monotonic() - started
    assert not thread.is_alive(), f"no answer within {timeout:.0f} s (the guard hung it)"
    if errors:
        raise errors[0]
    return took


def _learned(site: Site, app: str, sql: str) -> None:
    with site.via_proxy(app) as conn:
        conn.execute(sql).fetchall()


def _flush_while_locked(site: Site, waiting: int) -> None:
    """Once ``waiting`` sessions wait for t's lock, the learner analyses what every
    session sent and reads the catalog (the admin version read flushes it, as its
    once-a-second flush would): were a catalog read to wait on the lock, the read would
    not come back (it gives up after 5 s: a failure, not a hang)."""
    wait_for(lambda: _lock_waiters(site) >= waiting)
    site.proxy.versions()


def _lock_waiters(site: Site) -> int:
    with site.direct() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    assert row is not None and isinstance(row[0], int)
    return row[0]


def test_commit_is_answered_while_applications_read_the_locked_table(site: Site) -> None:
    _learned(site, "shop@1", "SELECT id, note FROM t WHERE id = 1")
    migration = psycopg.connect(site.proxy.url(database=site.database))  # a transaction
    try:
        migration.execute("ALTER TABLE t ADD COLUMN c int")
        migration.execute("UPDATE t SET c = 1")
        readers = [
            Reader("old version via proxy", lambda: site.via_proxy("shop@1"),
                   "SELECT id, note FROM t WHERE id = 2").start(),
            Reader("new version via proxy", lambda: site.via_proxy("shop@2"),
                   "SELECT c FROM t WHERE id = 3").start(),
            Reader("old version via view", lambda: site.via_proxy("shop@1"),
                   "SELECT note FROM t_view WHERE id = 4").start(),
            Reader("direct", site.direct, "SELECT count(*) FROM t").start(),
        ]  # fmt: skip
        _flush_while_locked(site, waiting=len(readers))
        assert all(r.finished is None for r in readers), "the readers wait for the lock"

        took = _in_thread(migration.commit, timeout=45)
        committed = time.monotonic()
        assert took < ANSWERED
    finally:
        migration.close()

    for reader in readers:
        reader.join(ANSWERED)
        assert reader.error is None, f"{reader.name}: {reader.error}"
        assert reader.finished is not None, f"{reader.name} still waits after COMMIT"
        assert reader.finished - committed < ANSWERED
    assert readers[1].rows == [(1,)] and readers[3].rows == [(100,)]
    with site.direct() as conn:
        assert conn.execute("SELECT count(*) FROM t WHERE c = 1").fetchone() == (100,)
    # the decision was made (and audited), not given up on
    decisions = json.loads(site.proxy.get("/api/decisions"))["decisions"]
    assert decisions and decisions[0]["decision"] == "allow", decisions[:1]
    assert "ALTER TABLE t ADD COLUMN c int" in decisions[0]["statements"]


def test_a_query_naming_what_an_open_migration_creates_does_not_hang_it(site: Site) -> None:
    migration = psycopg.connect(site.proxy.url(database=site.database))
    try:
        migration.execute("CREATE TABLE t_new (id int PRIMARY KEY, t_id int REFERENCES t)")
        migration.execute("ALTER TABLE t ADD COLUMN c int DEFAULT 7")
        # a new version already deployed names the new table: it does not exist yet for
        # anybody else, so the learner re-reads the catalog while t is locked
        with site.via_proxy("shop@3") as app:
            for attempt in range(3):
                with pytest.raises(psycopg.errors.UndefinedTable):
                    app.execute(f"SELECT id FROM t_new WHERE id = {attempt}")
        _flush_while_locked(site, waiting=0)
        took = _in_thread(migration.commit, timeout=45)
        assert took < ANSWERED
    finally:
        migration.close()
    with site.via_proxy("shop@3") as app:
        assert app.execute("SELECT count(*) FROM t_new").fetchone() == (0,)
        assert app.execute("SELECT DISTINCT c FROM t").fetchall() == [(7,)]
