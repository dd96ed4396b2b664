"""Catalog snapshots per database, read through asyncpg side connections.

The side connection goes straight to the upstream with the service credentials
of the upstream URL (the client's own user when the URL names none), never
through the proxy. A snapshot is reused until it is older than ``max_age`` or a
caller needs one read after a given moment; a failed load keeps the last good
snapshot. Times are wall-clock (``time.time()``), comparable with when a
statement was observed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Literal

import asyncpg

from skewguard.catalog import CatalogSnapshot, load_catalog
from skewguard.config import Upstream
from skewguard.relay.tls import upstream_context

log = logging.getLogger("skewguard.catalog")


@dataclass(slots=True)
class _Entry:
    snapshot: CatalogSnapshot
    loaded_at: float


class CatalogCache:
    def __init__(self, upstream: Upstream, *, max_age: float = 30.0) -> None:
        self.upstream = upstream
        self._max_age = max_age
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def ssl_option(self) -> ssl.SSLContext | Literal[False, "prefer"]:
        mode = self.upstream.sslmode
        if mode in ("disable", "allow") or self.upstream.unix_socket:
            return False
        if mode == "prefer":
            return "prefer"
        return upstream_context(mode)

    async def get(
        self, database: str, user: str, *, newer_than: float | None = None
    ) -> tuple[CatalogSnapshot | None, bool]:
        """(snapshot or None, whether it changed since the previous load).

        ``newer_than``: reload unless the snapshot was read at or after that time.
        """
        lock = self._locks.setdefault(database, asyncio.Lock())
        async with lock:
            entry = self._entries.get(database)
            if entry is not None:
                young = time.time() - entry.loaded_at < self._max_age
                if young and (newer_than is None or entry.loaded_at >= newer_than):
                    return entry.snapshot, False
            started = time.time()
            snapshot = await self._load(database, user)
            if snapshot is None:
                return (entry.snapshot if entry else None), False
            changed = entry is not None and entry.snapshot != snapshot
            self._entries[database] = _Entry(snapshot, started)
            return snapshot, changed

    async def _load(self, database: str, user: str) -> CatalogSnapshot | None:
        target = self.upstream
        try:
            conn = await asyncpg.connect(
                host=target.host,
                port=target.port,
                user=target.user or user,
                password=target.password,
                database=database,
                ssl=self.ssl_option(),
                timeout=10,
                server_settings={"application_name": "skewguard-catalog"},
            )
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot read the catalog of %s: %s", database, exc)
            return None
        try:
            return await load_catalog(conn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot read the catalog of %s: %s", database, exc)
            return None
        finally:
            await conn.close()
