"""State in one SQLite file: the default for a single proxy."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skewguard.config import MAX_VERSION_FACETS
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.store.base import (
    Lifecycle,
    StoredVersion,
    assemble_versions,
    copies,
    merge_written,
    warn_trimmed,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    database   TEXT NOT NULL,
    app        TEXT NOT NULL,
    version    TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen  REAL NOT NULL,
    PRIMARY KEY (database, app, version)
);
CREATE TABLE IF NOT EXISTS facets (
    database   TEXT NOT NULL,
    app        TEXT NOT NULL,
    version    TEXT NOT NULL,
    facet      TEXT NOT NULL,
    count      INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen  REAL NOT NULL,
    sample     TEXT NOT NULL,
    PRIMARY KEY (database, app, version, facet)
);
CREATE TABLE IF NOT EXISTS lifecycle (
    app     TEXT NOT NULL,
    version TEXT NOT NULL,
    state   TEXT NOT NULL,
    at      REAL NOT NULL,
    PRIMARY KEY (app, version)
);
CREATE TABLE IF NOT EXISTS decisions (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       REAL NOT NULL,
    decision TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS proxies (
    proxy_id TEXT PRIMARY KEY,
    beat_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS proxy_live (
    proxy_id    TEXT NOT NULL REFERENCES proxies ON DELETE CASCADE,
    database    TEXT NOT NULL,
    app         TEXT NOT NULL,
    version     TEXT NOT NULL,
    connections INTEGER NOT NULL,
    PRIMARY KEY (proxy_id, database, app, version)
);
"""

#: How long opening the file may wait for another process that holds it.
OPEN_TIMEOUT = 10.0

#: A proxy silent for this long is forgotten (its rows are deleted by the next heartbeat).
FORGET_PROXY_AFTER = 86_400.0

_UPSERT_VERSION = """
INSERT INTO versions (database, app, version, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (database, app, version) DO UPDATE SET
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen)
"""

_UPSERT_FACET = """
INSERT INTO facets (database, app, version, facet, count, first_seen, last_seen, sample)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (database, app, version, facet) DO UPDATE SET
    count = count + excluded.count,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen)
"""


_COUNT_FACETS = "SELECT count(*) FROM facets WHERE database = ? AND app = ? AND version = ?"

#: Past the bound, the facets first seen last go (ties: by name).
_TRIM_FACETS = """
DELETE FROM facets WHERE rowid IN (
    SELECT rowid FROM facets WHERE database = ? AND app = ? AND version = ?
    ORDER BY first_seen, facet LIMIT -1 OFFSET ?)
"""


class SqliteStore:
    """One connection, used from one worker thread at a time (guarded by a lock)."""

    def __init__(self, path: str, *, max_facets: int = MAX_VERSION_FACETS) -> None:
        self.path = Path(path)
        self.max_facets = max_facets
        self._trimmed: set[VersionKey] = set()  # warned about (once each)
        if self.path.parent != Path():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ValueError(
                    f"cannot create the folder of state file {self.path}: {exc.filename}: "
                    f"{exc.strerror}; check --state"
                ) from None
        self._lock = threading.Lock()
        # this connection's writes of footprints and lifecycle (data_version counts others')
        self._changes = 0
        # the last full read: data_version then, and the versions with this connection's
        # writes since applied to them (write-through), so a write costs what it wrote
        self._read: tuple[int, dict[VersionKey, StoredVersion]] | None = None
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        """Connect and prepare the file. Another process preparing it at the same moment
        (the workers of one ``run --workers N``, a CLI command) can make SQLite answer
        "locked" at once, without its busy wait: that is tried again until OPEN_TIMEOUT."""
        deadline = time.monotonic() + OPEN_TIMEOUT
        while True:
            db: sqlite3.Connection | None = None
            try:
                db = sqlite3.connect(
                    self.path, timeout=OPEN_TIMEOUT, check_same_thread=False, isolation_level=None
                )
                (mode,) = db.execute("PRAGMA journal_mode").fetchone()
                if str(mode).lower() != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
                db.executescript(SCHEMA)
                return db
            except sqlite3.OperationalError as exc:
                if db is not None:
                    db.close()
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise ValueError(
                        f"cannot open state file {self.path}: {exc}; check --state"
                    ) from exc
                time.sleep(0.05)
            except sqlite3.Error as exc:
                if db is not None:
                    db.close()
                raise ValueError(f"cannot open state file {self.path}: {exc}") from exc

    def write(self, batch: FootprintBatch) -> None:
        versions = [
            (k.database, k.app, k.version, first, last) for k, (first, last) in batch.seen.items()
        ]
        facets = [
            (k.database, k.app, k.version, facet.key, e.count, e.first_seen, e.last_seen, e.sample)
            for k, owned in batch.facets.items()
            for facet, e in owned.items()
        ]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_UPSERT_VERSION, versions)
                self._db.executemany(_UPSERT_FACET, facets)
                trimmed = [key for key in batch.facets if self._trim(key)]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            finally:
                self._changes += 1
                kept, self._read = self._read, None
            # another connection's commit since the kept read: versions() sees it in
            # data_version and reads everything again (this merge is then thrown away)
            if kept is not None and not trimmed and merge_written(kept[1], batch):
                self._read = kept

    def _trim(self, key: VersionKey) -> bool:
        """Keep at most ``max_facets`` of the version's facets (the oldest); whether any went."""
        where = (key.database, key.app, key.version)
        (count,) = self._db.execute(_COUNT_FACETS, where).fetchone()
        if count <= self.max_facets:
            return False
        self._db.execute(_TRIM_FACETS, (*where, self.max_facets))
        warn_trimmed(key, count, self.max_facets, self._trimmed)
        return True

    def versions(self, *, with_facets: bool = True) -> list[StoredVersion]:
        """Every version (copies: callers merge into them). Read again only when another
        connection changed the file since (or this one trimmed): every decision asks, and
        the facets grow with the versions; this connection's own writes are applied to
        the kept read as they commit."""
        with self._lock:
            (changed_elsewhere,) = self._db.execute("PRAGMA data_version").fetchone()
            if self._read is None or self._read[0] != changed_elsewhere:
                rows = self._db.execute(
                    "SELECT database, app, version, first_seen, last_seen FROM versions "
                    "ORDER BY database, app, version"
                ).fetchall()
                facet_rows = self._db.execute(
                    "SELECT database, app, version, facet, count, first_seen, last_seen, sample "
                    "FROM facets ORDER BY facet"
                ).fetchall()
                read = assemble_versions(rows, facet_rows)
                self._read = (changed_elsewhere, {v.key: v for v in read})
            return copies(self._read[1].values(), with_facets)

    def change_mark(self) -> tuple[int, int] | None:
        """``PRAGMA data_version`` (other connections' commits) and this connection's own
        changes; None while a worker thread holds the connection (never waits)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            (changed_elsewhere,) = self._db.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            return None
        finally:
            self._lock.release()
        return changed_elsewhere, self._changes

    def lifecycle(self) -> dict[tuple[str, str], Lifecycle]:
        with self._lock:
            rows = self._db.execute("SELECT app, version, state FROM lifecycle").fetchall()
        return {(app, version): Lifecycle(state) for app, version, state in rows}

    def set_lifecycle(self, app: str, version: str, state: Lifecycle | None) -> None:
        with self._lock:
            if state is None:
                self._db.execute(
                    "DELETE FROM lifecycle WHERE app = ? AND version = ?", (app, version)
                )
            else:
                self._db.execute(
                    "INSERT INTO lifecycle (app, version, state, at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (app, version) DO UPDATE "
                    "SET state = excluded.state, at = excluded.at",
                    (app, version, state.value, time.time()),
                )
            self._changes += 1

    def record_decision(self, decision: dict[str, Any]) -> None:
        self.record_decisions([decision])

    def record_decisions(self, decisions: Sequence[dict[str, Any]]) -> None:
        rows = [(d["at"], d["decision"], json.dumps(d, default=str)) for d in decisions]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO decisions (at, decision, body) VALUES (?, ?, ?)", rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def decisions(self, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
        return [{"id": i, **json.loads(body)} for i, body in self.decision_texts(limit, before)]

    def decision_texts(self, limit: int = 100, before: int | None = None) -> list[tuple[int, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, body FROM decisions WHERE id < ? ORDER BY id DESC LIMIT ?",
                (before if before is not None else 2**63 - 1, limit),
            ).fetchall()
        return [(int(row_id), str(body)) for row_id, body in rows]

    def prune_decisions(self, older_than: float, keep: int) -> int:
        with self._lock:
            gone = self._db.execute("DELETE FROM decisions WHERE at < ?", (older_than,)).rowcount
            if keep > 0:
                gone += self._db.execute(
                    "DELETE FROM decisions WHERE id <= "
                    "(SELECT id FROM decisions ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (keep,),
                ).rowcount
        return gone

    def heartbeat(self, proxy_id: str, live: Mapping[VersionKey, int]) -> None:
        now = time.time()
        rows = [(proxy_id, k.database, k.app, k.version, n) for k, n in live.items() if n > 0]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "DELETE FROM proxies WHERE beat_at < ?", (now - FORGET_PROXY_AFTER,)
                )
                self._db.execute(
                    "INSERT INTO proxies (proxy_id, beat_at) VALUES (?, ?) "
                    "ON CONFLICT (proxy_id) DO UPDATE SET beat_at = excluded.beat_at",
                    (proxy_id, now),
                )
                self._db.execute("DELETE FROM proxy_live WHERE proxy_id = ?", (proxy_id,))
                self._db.executemany(
                    "INSERT INTO proxy_live (proxy_id, database, app, version, connections) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def live_elsewhere(self, proxy_id: str, within: float) -> dict[VersionKey, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT l.database, l.app, l.version, sum(l.connections) "
                "FROM proxy_live l JOIN proxies p USING (proxy_id) "
                "WHERE p.proxy_id <> ? AND p.beat_at > ? "
                "GROUP BY l.database, l.app, l.version",
                (proxy_id, time.time() - within),
            ).fetchall()
        return {VersionKey(db, app, ver): int(n) for db, app, ver, n in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection holds the file for now."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)
