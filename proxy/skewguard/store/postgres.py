"""State in a ``skewguard`` schema of a PostgreSQL database, shared by every proxy.

Same blocking interface and merge semantics as ``SqliteStore`` (counts add,
first_seen is the earliest, last_seen the latest, the first sample stays), with
``INSERT … ON CONFLICT`` so any number of proxies can write at once. Rows are
written in key order, so two proxies merging the same versions cannot deadlock.

The schema is created on first use and versioned: ``skewguard.schema_version``
holds one row per applied step of ``MIGRATIONS``; a later release appends steps
and every proxy applies the missing ones (under an advisory lock) when it
connects. Each step also records the oldest schema version a proxy may know
and still use the store (an added table or nullable column leaves older
proxies working): during skewguard's own rolling upgrade, proxies of the
previous release keep sharing the state unless a step says they cannot. A
store that needs a newer skewguard is refused (``StateSchemaTooNew``), at start
with a clear error rather than a proxy that runs without its state.

One synchronous psycopg connection, guarded by a lock (the proxy calls from
worker threads). A lost connection is dropped and the next call reconnects;
the failed call raises ``StateStoreError`` so the caller keeps its data and
retries. Reads retry once on a fresh connection when a reused one turns out
dead; writes never retry by themselves (a lost COMMIT would count twice).

Heartbeat times are the database server's clock, so proxies on hosts with
skewed clocks still agree on which heartbeats are fresh.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

from skewguard.config import MAX_VERSION_FACETS
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.store.base import (
    Lifecycle,
    StateStoreError,
    StoredVersion,
    add_facet_rows,
    assemble_versions,
    copies,
    warn_trimmed,
)

log = logging.getLogger("skewguard.store")

T = TypeVar("T")
Connection = psycopg.Connection[TupleRow]

SCHEMA = "skewguard"

#: Connection settings used unless the URL sets them: fail fast, notice dead peers.
CONNECT_DEFAULTS = {
    "application_name": "skewguard-state",
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    # a stalled state database (a lock, an overloaded server) fails a call in bounded
    # time instead of holding a worker thread, a decision or the shutdown forever
    "options": "-c statement_timeout=15s -c lock_timeout=5s"
    " -c idle_in_transaction_session_timeout=60s",
}

#: A proxy silent for this long is forgotten (deleted with its live counts).
FORGET_PROXY_AFTER = 86_400.0
#: How often one store instance sweeps forgotten proxies (seconds).
SWEEP_EVERY = 60.0


class StateSchemaTooNew(StateStoreError):
    """The state schema was migrated by a newer skewguard that this one cannot follow."""


@dataclass(frozen=True, slots=True)
class Step:
    """One migration of the state schema."""

    sql: str
    #: The oldest schema version a proxy may know and still read and write the store once
    #: this step is applied (None: only proxies that know this step).
    oldest_reader: int | None = None


#: Step N (1-based) brings the schema from version N-1 to N. Append; never edit a step.
MIGRATIONS: tuple[Step, ...] = (
    Step(
        """
    CREATE TABLE skewguard.versions (
        database   text NOT NULL,
        app        text NOT NULL,
        version    text NOT NULL,
        first_seen double precision NOT NULL,
        last_seen  double precision NOT NULL,
        PRIMARY KEY (database, app, version)
    );
    CREATE TABLE skewguard.facets (
        database   text NOT NULL,
        app        text NOT NULL,
        version    text NOT NULL,
        facet      text NOT NULL,
        count      bigint NOT NULL,
        first_seen double precision NOT NULL,
        last_seen  double precision NOT NULL,
        sample     text NOT NULL,
        PRIMARY KEY (database, app, version, facet)
    );
    CREATE TABLE skewguard.lifecycle (
        app     text NOT NULL,
        version text NOT NULL,
        state   text NOT NULL CHECK (state IN ('pinned', 'retired')),
        at      double precision NOT NULL,
        PRIMARY KEY (app, version)
    );
    CREATE TABLE skewguard.decisions (
        id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at       double precision NOT NULL,
        decision text NOT NULL,
        body     json NOT NULL
    );
    CREATE TABLE skewguard.proxies (
        proxy_id   text PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now(),
        beat_at    timestamptz NOT NULL
    );
    CREATE TABLE skewguard.proxy_live (
        proxy_id    text NOT NULL REFERENCES skewguard.proxies ON DELETE CASCADE,
        database    text NOT NULL,
        app         text NOT NULL,
        version     text NOT NULL,
        connections integer NOT NULL,
        PRIMARY KEY (proxy_id, database, app, version)
    );
    """
    ),
    # 2: facets may hold written constants (write_value); a proxy that predates them
    # refuses this store at connect instead of failing to read it at a decision.
    Step(
        """
    COMMENT ON COLUMN skewguard.facets.facet IS
        'kind:subject; write_value subjects hold literal values an application wrote';
    """
    ),
    # 3: each step says which older proxies may go on using the store (see Step).
    Step(
        """
    ALTER TABLE skewguard.schema_version ADD COLUMN oldest_reader integer;
    COMMENT ON COLUMN skewguard.schema_version.oldest_reader IS
        'the oldest schema version a proxy may know and still use the store after this step '
        '(NULL: only proxies that know this step)';
    """,
        oldest_reader=2,
    ),
    # 4: reads fetch only what changed since the last one. Every version and facet row
    # carries the id of the transaction that last wrote it (stamped by a trigger, so
    # proxies of earlier releases, which write without it, stamp it too); any delete of
    # either bumps a generation that makes every reader read everything again.
    Step(
        """
    ALTER TABLE skewguard.versions ADD COLUMN IF NOT EXISTS xid xid8;
    ALTER TABLE skewguard.facets ADD COLUMN IF NOT EXISTS xid xid8;
    CREATE INDEX IF NOT EXISTS facets_xid ON skewguard.facets (xid);
    CREATE TABLE IF NOT EXISTS skewguard.generation (
        one bool PRIMARY KEY DEFAULT true CHECK (one),
        n   bigint NOT NULL
    );
    INSERT INTO skewguard.generation (n) VALUES (0) ON CONFLICT DO NOTHING;
    CREATE OR REPLACE FUNCTION skewguard.stamp_xid() RETURNS trigger LANGUAGE plpgsql AS
        $$BEGIN NEW.xid := pg_current_xact_id(); RETURN NEW; END$$;
    CREATE OR REPLACE FUNCTION skewguard.next_generation() RETURNS trigger LANGUAGE plpgsql AS
        $$BEGIN UPDATE skewguard.generation SET n = n + 1; RETURN NULL; END$$;
    DROP TRIGGER IF EXISTS stamp_xid ON skewguard.versions;
    CREATE TRIGGER stamp_xid BEFORE INSERT OR UPDATE ON skewguard.versions
        FOR EACH ROW EXECUTE FUNCTION skewguard.stamp_xid();
    DROP TRIGGER IF EXISTS stamp_xid ON skewguard.facets;
    CREATE TRIGGER stamp_xid BEFORE INSERT OR UPDATE ON skewguard.facets
        FOR EACH ROW EXECUTE FUNCTION skewguard.stamp_xid();
    DROP TRIGGER IF EXISTS next_generation ON skewguard.versions;
    CREATE TRIGGER next_generation AFTER DELETE OR TRUNCATE ON skewguard.versions
        FOR EACH STATEMENT EXECUTE FUNCTION skewguard.next_generation();
    DROP TRIGGER IF EXISTS next_generation ON skewguard.facets;
    CREATE TRIGGER next_generation AFTER DELETE OR TRUNCATE ON skewguard.facets
        FOR EACH STATEMENT EXECUTE FUNCTION skewguard.next_generation();
    """,
        oldest_reader=2,
    ),
)
#: The first step whose row records its oldest_reader (the step that adds the column).
_READERS_RECORDED = 3

_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('skewguard.schema'))"

_UPSERT_VERSION = """
INSERT INTO skewguard.versions AS v (database, app, version, first_seen, last_seen)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (database, app, version) DO UPDATE SET
    first_seen = least(v.first_seen, excluded.first_seen),
    last_seen = greatest(v.last_seen, excluded.last_seen)
"""

_UPSERT_FACET = """
INSERT INTO skewguard.facets AS f
    (database, app, version, facet, count, first_seen, last_seen, sample)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (database, app, version, facet) DO UPDATE SET
    count = f.count + excluded.count,
    first_seen = least(f.first_seen, excluded.first_seen),
    last_seen = greatest(f.last_seen, excluded.last_seen)
"""


_COUNT_FACETS = (
    "SELECT count(*) FROM skewguard.facets WHERE database = %s AND app = %s AND version = %s"
)

#: Past the bound, the facets first seen last go (ties: by name).
_TRIM_FACETS = """
DELETE FROM skewguard.facets WHERE ctid IN (
    SELECT ctid FROM skewguard.facets WHERE database = %s AND app = %s AND version = %s
    ORDER BY first_seen, facet OFFSET %s)
"""


_VERSION_COLUMNS = "database, app, version, first_seen, last_seen"
_FACET_COLUMNS = "database, app, version, facet, count, first_seen, last_seen, sample"

#: One read's snapshot: its xmin (every transaction then still running, or later, has an
#: id at or past it) and the delete generation.
_SNAPSHOT = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, n FROM skewguard.generation"


@dataclass(slots=True)
class _KeptRead:
    """The versions as of a read, with what the next read fetches from."""

    xmin: str  # the read's snapshot xmin (xid8 as text)
    generation: int
    versions: dict[VersionKey, StoredVersion]


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgres://", "postgresql://"))


class PostgresStore:
    """The shared backend for ``--state postgresql://…``."""

    def __init__(
        self, url: str, *, connect: bool = True, max_facets: int = MAX_VERSION_FACETS
    ) -> None:
        self.max_facets = max_facets
        self._trimmed: set[VersionKey] = set()  # warned about (once each)
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise ValueError(f"bad --state URL: {exc}") from None
        for key, value in CONNECT_DEFAULTS.items():
            params.setdefault(key, value)
        self._conninfo = make_conninfo("", **params)
        host = params.get("host") or "localhost"
        port = params.get("port") or 5432
        self.where = f"postgresql://{host}:{port}/{params.get('dbname') or ''}"
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._kept: _KeptRead | None = None  # the last read with facets, merged into since
        self._swept = 0.0
        if connect:
            try:
                with self._lock:
                    self._connection()
            except StateSchemaTooNew:  # fatal: no retry can make this skewguard newer
                raise
            except StateStoreError as exc:  # not fatal: every call reconnects
                log.warning("state store not reachable yet (will retry): %s", exc)

    # ------------------------------------------------------------ connection handling

    def _connection(self) -> Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self._conn = None
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, prepare_threshold=None)
        except psycopg.Error as exc:
            raise StateStoreError(f"state store {self.where}: {_oneline(exc)}") from exc
        try:
            _migrate(conn, self.where)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, psycopg.Error):
                raise StateStoreError(
                    f"state store {self.where}: cannot prepare schema {SCHEMA}: {_oneline(exc)}"
                ) from exc
            raise
        self._conn = conn
        return conn

    def _call(self, work: Callable[[Connection], T], *, idempotent: bool) -> T:
        with self._lock:
            reused = self._conn is not None and not self._conn.closed
            conn = self._connection()
            try:
                return work(conn)
            except psycopg.Error as exc:
                lost = conn.closed
                if lost:
                    self._conn = None
                if not (lost and reused and idempotent):
                    raise StateStoreError(f"state store {self.where}: {_oneline(exc)}") from exc
                log.info("state store connection lost; reconnecting: %s", _oneline(exc))
            conn = self._connection()  # a read on a connection found dead: once more
            try:
                return work(conn)
            except psycopg.Error as exc:
                if conn.closed:
                    self._conn = None
                raise StateStoreError(f"state store {self.where}: {_oneline(exc)}") from exc

    # ------------------------------------------------------------ footprints

    def write(self, batch: FootprintBatch) -> None:
        versions = sorted(
            (k.database, k.app, k.version, first, last) for k, (first, last) in batch.seen.items()
        )
        facets = sorted(
            (k.database, k.app, k.version, facet.key, e.count, e.first_seen, e.last_seen, e.sample)
            for k, owned in batch.facets.items()
            for facet, e in owned.items()
        )

        def work(conn: Connection) -> None:
            with conn.transaction(), conn.cursor() as cur:
                if versions:
                    cur.executemany(_UPSERT_VERSION, versions)
                if facets:
                    cur.executemany(_UPSERT_FACET, facets)
                for key in batch.facets:  # keep at most max_facets per version (the oldest)
                    where = (key.database, key.app, key.version)
                    row = cur.execute(_COUNT_FACETS, where).fetchone()
                    count = int(row[0]) if row else 0
                    if count > self.max_facets:
                        cur.execute(_TRIM_FACETS, (*where, self.max_facets))
                        warn_trimmed(key, count, self.max_facets, self._trimmed)

        self._call(work, idempotent=False)

    def versions(self, *, with_facets: bool = True) -> list[StoredVersion]:
        """Every version (copies: callers merge into them). After a first full read, only
        the rows written since (by any proxy) are fetched and merged into the kept read:
        rows whose writing transaction is at or past the last read's snapshot xmin, so a
        transaction still running then is read again once it commits. A delete anywhere
        (a trim, an operator's) moves the generation: everything is read again."""

        def work(conn: Connection) -> list[StoredVersion]:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                row = cur.execute(_SNAPSHOT).fetchone()
                assert row is not None
                xmin, generation = str(row[0]), int(row[1])
                kept = self._kept
                current = kept is not None and kept.generation == generation
                if current and kept is not None and _merge_changed(cur, kept):
                    kept.xmin = xmin
                    return copies(kept.versions.values(), with_facets)
                rows = cur.execute(
                    f"SELECT {_VERSION_COLUMNS} FROM skewguard.versions "
                    "ORDER BY database, app, version"
                ).fetchall()
                if not with_facets and kept is None:  # no facets wanted: none kept either
                    return assemble_versions(rows, [])
                facet_rows = cur.execute(
                    f"SELECT {_FACET_COLUMNS} FROM skewguard.facets ORDER BY facet"
                ).fetchall()
            read = assemble_versions(rows, facet_rows)
            self._kept = _KeptRead(xmin, generation, {v.key: v for v in read})
            return copies(self._kept.versions.values(), with_facets)

        return self._call(work, idempotent=True)

    # ------------------------------------------------------------ lifecycle and audit

    def lifecycle(self) -> dict[tuple[str, str], Lifecycle]:
        def work(conn: Connection) -> list[TupleRow]:
            return conn.execute("SELECT app, version, state FROM skewguard.lifecycle").fetchall()

        rows = self._call(work, idempotent=True)
        return {(app, version): Lifecycle(state) for app, version, state in rows}

    def set_lifecycle(self, app: str, version: str, state: Lifecycle | None) -> None:
        def work(conn: Connection) -> None:
            if state is None:
                conn.execute(
                    "DELETE FROM skewguard.lifecycle WHERE app = %s AND version = %s",
                    (app, version),
                )
            else:
                conn.execute(
                    "INSERT INTO skewguard.lifecycle (app, version, state, at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (app, version) DO UPDATE "
                    "SET state = excluded.state, at = excluded.at",
                    (app, version, state.value, time.time()),
                )

        self._call(work, idempotent=True)  # setting a state twice is the same as once

    def record_decision(self, decision: dict[str, Any]) -> None:
        self.record_decisions([decision])

    def record_decisions(self, decisions: Sequence[dict[str, Any]]) -> None:
        rows = [(d["at"], d["decision"], json.dumps(d, default=str)) for d in decisions]

        def work(conn: Connection) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO skewguard.decisions (at, decision, body)"
                    " VALUES (%s, %s, %s::json)",
                    rows,
                )

        self._call(work, idempotent=False)

    def change_mark(self) -> None:
        """Other proxies write here unseen: every read asks the server."""
        return None

    def decisions(self, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
        return [{"id": i, **json.loads(body)} for i, body in self.decision_texts(limit, before)]

    def decision_texts(self, limit: int = 100, before: int | None = None) -> list[tuple[int, str]]:
        def work(conn: Connection) -> list[TupleRow]:
            return conn.execute(
                "SELECT id, body::text FROM skewguard.decisions WHERE id < %s "
                "ORDER BY id DESC LIMIT %s",
                (before if before is not None else 2**63 - 1, limit),
            ).fetchall()

        rows = self._call(work, idempotent=True)
        return [(int(row_id), str(body)) for row_id, body in rows]

    def prune_decisions(self, older_than: float, keep: int) -> int:
        def work(conn: Connection) -> int:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("DELETE FROM skewguard.decisions WHERE at < %s", (older_than,))
                gone = cur.rowcount
                if keep > 0:
                    cur.execute(
                        "DELETE FROM skewguard.decisions WHERE id <= (SELECT id FROM "
                        "skewguard.decisions ORDER BY id DESC LIMIT 1 OFFSET %s)",
                        (keep,),
                    )
                    gone += cur.rowcount
            return gone

        return self._call(work, idempotent=True)  # deleting twice deletes nothing more

    # ------------------------------------------------------------ heartbeats

    def heartbeat(self, proxy_id: str, live: Mapping[VersionKey, int]) -> None:
        rows = sorted((proxy_id, k.database, k.app, k.version, n) for k, n in live.items() if n > 0)
        now = time.monotonic()
        sweep = now - self._swept >= SWEEP_EVERY

        def work(conn: Connection) -> None:
            with conn.transaction(), conn.cursor() as cur:
                if sweep:
                    cur.execute(
                        "DELETE FROM skewguard.proxies "
                        "WHERE beat_at < now() - make_interval(secs => %s)",
                        (FORGET_PROXY_AFTER,),
                    )
                cur.execute(
                    "INSERT INTO skewguard.proxies (proxy_id, beat_at) VALUES (%s, now()) "
                    "ON CONFLICT (proxy_id) DO UPDATE SET beat_at = excluded.beat_at",
                    (proxy_id,),
                )
                cur.execute("DELETE FROM skewguard.proxy_live WHERE proxy_id = %s", (proxy_id,))
                if rows:
                    cur.executemany(
                        "INSERT INTO skewguard.proxy_live "
                        "(proxy_id, database, app, version, connections) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        rows,
                    )

        self._call(work, idempotent=True)  # the same heartbeat twice is one heartbeat
        if sweep:
            self._swept = now

    def live_elsewhere(self, proxy_id: str, within: float) -> dict[VersionKey, int]:
        def work(conn: Connection) -> list[TupleRow]:
            return conn.execute(
                "SELECT l.database, l.app, l.version, sum(l.connections) "
                "FROM skewguard.proxy_live l JOIN skewguard.proxies p USING (proxy_id) "
                "WHERE p.proxy_id <> %s AND p.beat_at > now() - make_interval(secs => %s) "
                "GROUP BY l.database, l.app, l.version",
                (proxy_id, float(within)),
            ).fetchall()

        rows = self._call(work, idempotent=True)
        return {VersionKey(db, app, ver): int(n) for db, app, ver, n in rows}

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _merge_changed(cur: psycopg.Cursor[TupleRow], kept: _KeptRead) -> bool:
    """Fetch the rows written since ``kept``'s read and merge them in (their values
    replace the kept ones); False, with nothing merged, when a full read is needed
    instead (a version new since: facets it had before are not fetched)."""
    since = (kept.xmin,)
    rows = cur.execute(
        f"SELECT {_VERSION_COLUMNS} FROM skewguard.versions WHERE xid >= %s::xid8", since
    ).fetchall()
    if any(VersionKey(db, app, ver) not in kept.versions for db, app, ver, _, _ in rows):
        return False
    facet_rows = cur.execute(
        f"SELECT {_FACET_COLUMNS} FROM skewguard.facets WHERE xid >= %s::xid8", since
    ).fetchall()
    for db, app, ver, first, last in rows:
        known = kept.versions[VersionKey(db, app, ver)]
        known.first_seen, known.last_seen = first, last
    touched = {VersionKey(db, app, ver) for db, app, ver, *_ in facet_rows} & kept.versions.keys()
    sizes = {key: len(kept.versions[key].facets) for key in touched}
    add_facet_rows(kept.versions, facet_rows)
    for key, size in sizes.items():  # rows are only added here (a delete reads all)
        kept.versions[key].changed(keys=len(kept.versions[key].facets) != size)
    return True


def _migrate(conn: Connection, where: str) -> None:
    """Create the schema, or bring it up to ``len(MIGRATIONS)``; one proxy at a time.

    A schema already past this release is used when every step beyond it says
    proxies knowing ``len(MIGRATIONS)`` may still use it; otherwise refused.
    """
    target = len(MIGRATIONS)
    if _schema_version(conn) == target:  # the usual case: nothing to lock or create
        return
    with conn.transaction():
        conn.execute(_SCHEMA_LOCK)
        current = _schema_version(conn)  # again: another proxy may have done it meanwhile
        if current is None:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.execute(
                f"CREATE TABLE {SCHEMA}.schema_version ("
                "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            current = 0
        if current > target:
            _check_readable(conn, current, target, where)
            return
        for number in range(current + 1, target + 1):
            step = MIGRATIONS[number - 1]
            conn.execute(step.sql)
            if number >= _READERS_RECORDED:
                conn.execute(
                    f"INSERT INTO {SCHEMA}.schema_version (version, oldest_reader) VALUES (%s, %s)",
                    (number, step.oldest_reader),
                )
            else:
                conn.execute(
                    f"INSERT INTO {SCHEMA}.schema_version (version) VALUES (%s)", (number,)
                )
            log.info("state schema %s migrated to version %d", SCHEMA, number)


def _check_readable(conn: Connection, current: int, target: int, where: str) -> None:
    """Raise ``StateSchemaTooNew`` unless every step past ``target`` lets this release in."""
    row = conn.execute(
        f"SELECT max(coalesce(oldest_reader, version)) FROM {SCHEMA}.schema_version "
        "WHERE version > %s",
        (target,),
    ).fetchone()
    needed = int(row[0]) if row and row[0] is not None else current
    if needed > target:
        raise StateSchemaTooNew(
            f"state store {where}: schema {SCHEMA} is at version {current}, newer than this "
            f"skewguard understands (it knows version {target}; the store needs a skewguard "
            f"that knows version {needed} or later): upgrade skewguard"
        )
    log.info(
        "state schema %s is at version %d, newer than this skewguard's %d; "
        "its newer steps leave it usable by this release",
        SCHEMA,
        current,
        target,
    )


def _schema_version(conn: Connection) -> int | None:
    """The applied version, or None when the schema (or its version table) is missing."""
    exists = conn.execute(f"SELECT to_regclass('{SCHEMA}.schema_version') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.schema_version").fetchone()
    return int(row[0]) if row else 0


def _oneline(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
