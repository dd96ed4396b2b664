"""FunctionCall ('F', the fast path): which function an OID names.

The fast path calls a function by OID, with no SQL the guard could read, so a
call could run any function, DDL included. libpq uses it for large objects
only; those functions of ``pg_catalog`` are known to change no schema and
pass. Every other call goes to the opaque-code policy. PostgreSQL's own
functions have OIDs below FirstNormalObjectId, fixed for the life of the
cluster, so what the catalog says about one is kept; a user object's OID
(above it) is never a pg_catalog function and needs no look-up.
"""

from __future__ import annotations

import logging

from skewguard.config import Upstream
from skewguard.side_connection import SIDE_ERRORS, close_side, connect_side

log = logging.getLogger("skewguard.fast_path")

#: What libpq's large-object API calls through the fast path (fe-lobj.c).
LARGE_OBJECT_FUNCTIONS = frozenset(
    {
        "lo_open",
        "lo_close",
        "loread",
        "lowrite",
        "lo_lseek",
        "lo_lseek64",
        "lo_tell",
        "lo_tell64",
        "lo_truncate",
        "lo_truncate64",
        "lo_creat",
        "lo_create",
        "lo_unlink",
    }
)
#: PostgreSQL's FirstNormalObjectId: OIDs of objects created after initdb start here.
FIRST_NORMAL_OID = 16384

_LOOKUP_SQL = (
    "SELECT p.proname::text FROM pg_catalog.pg_proc p "
    "WHERE p.oid = $1::oid AND p.pronamespace = 'pg_catalog'::regnamespace"
)
_LOOKUP_TIMEOUT_MS = 2000


class FastPathFunctions:
    """Whether an OID is one of pg_catalog's large-object functions, per database."""

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream
        self._known: dict[tuple[str, int], bool] = {}

    def known(self, database: str, oid: int) -> bool | None:
        """The answer without asking the server (None: it must be asked)."""
        if oid >= FIRST_NORMAL_OID:
            return False
        return self._known.get((database, oid))

    async def is_large_object(self, database: str, user: str, oid: int) -> bool:
        """Asks the catalog once per OID; False when it cannot be asked."""
        answer = self.known(database, oid)
        if answer is not None:
            return answer
        try:
            conn = await connect_side(
                self._upstream,
                database=database,
                user=user,
                application_name="skewguard-fast-path",
                lock_timeout_ms=_LOOKUP_TIMEOUT_MS,
                statement_timeout_ms=_LOOKUP_TIMEOUT_MS,
                connect_timeout=_LOOKUP_TIMEOUT_MS / 1000,
            )
        except SIDE_ERRORS as exc:
            log.warning("cannot look up fast-path function %d: %s", oid, exc)
            return False
        try:
            name = await conn.fetchval(_LOOKUP_SQL, oid)
        except SIDE_ERRORS as exc:
            log.warning("cannot look up fast-path function %d: %s", oid, exc)
            return False
        finally:
            await close_side(conn)
        answer = name in LARGE_OBJECT_FUNCTIONS
        self._known[(database, oid)] = answer
        return answer
