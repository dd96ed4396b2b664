"""A throwaway database with its own proxy in front: the setup many integration tests share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess


def create_database(cluster: LocalCluster, prefix: str, schema: str) -> str:
    """A new database named ``prefix_…`` with ``schema`` applied straight to PostgreSQL."""
    database = unique(prefix)
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    with direct(cluster, dbname=database) as conn:
        conn.execute(schema)
    return database


@contextmanager
def proxied_database(
    cluster: LocalCluster, workdir: Path, prefix: str, schema: str, *extra_args: str
) -> Iterator[tuple[str, ProxyProcess]]:
    """(database, proxy): ``schema`` applied directly, a proxy with its own state in
    ``workdir``; both gone afterwards (the database dropped even with open sessions)."""
    database = create_database(cluster, prefix, schema)
    proxy = ProxyProcess(
        upstream=cluster.url(database=database, sslmode="disable"),
        state=workdir / "state.db",
        logfile=workdir / "proxy.log",
        extra_args=list(extra_args),
    ).start()
    try:
        yield database, proxy
    finally:
        proxy.stop()
        with direct(cluster) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
