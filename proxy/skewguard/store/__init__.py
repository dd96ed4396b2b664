"""Where footprints, versions and decisions persist: SQLite (default) or a shared PostgreSQL."""

from skewguard.config import MAX_VERSION_FACETS
from skewguard.store.base import (
    Lifecycle,
    StateStore,
    StateStoreError,
    StoredVersion,
    default_proxy_id,
)
from skewguard.store.postgres import PostgresStore, is_postgres_url
from skewguard.store.sqlite import SqliteStore

__all__ = [
    "Lifecycle",
    "PostgresStore",
    "SqliteStore",
    "StateStore",
    "StateStoreError",
    "StoredVersion",
    "default_proxy_id",
    "is_postgres_url",
    "open_store",
]


def open_store(location: str, *, max_facets: int = MAX_VERSION_FACETS) -> StateStore:
    """A store for ``--state``: a SQLite file path, or a postgresql:// URL (shared state);
    ``max_facets``: the distinct facets one version keeps."""
    if is_postgres_url(location):
        return PostgresStore(location, max_facets=max_facets)
    return SqliteStore(location, max_facets=max_facets)
