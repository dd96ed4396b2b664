"""Where footprints, versions and decisions persist (SQLite by default)."""

from skewguard.store.base import Lifecycle, StateStore, StoredVersion
from skewguard.store.sqlite import SqliteStore

__all__ = ["Lifecycle", "SqliteStore", "StateStore", "StoredVersion", "open_store"]


def open_store(location: str) -> StateStore:
    """A store for ``--state``: a SQLite file path (a postgresql:// URL is not yet supported)."""
    if location.startswith(("postgres://", "postgresql://")):
        raise ValueError(
            "--state postgresql://… (shared state) is not available yet; use a SQLite file path"
        )
    return SqliteStore(location)
