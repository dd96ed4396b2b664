"""A throwaway database with its own proxy in front: the setup many integration tests share."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

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


@dataclass
class Site:
    """A proxied database as a test reaches it: through the proxy or straight."""

    cluster: LocalCluster
    database: str
    proxy: ProxyProcess
    autocommit: bool = True  # of the connections through the proxy
    statement_timeout: str | None = None  # e.g. '60s': a hang fails the test, not the suite

    def via_proxy(self, app: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
        params = {"application_name": app} if app else {}
        url = self.proxy.url(database=self.database, **params)
        return self._bounded(psycopg.connect(url, autocommit=self.autocommit))

    def direct(self) -> psycopg.Connection[tuple[object, ...]]:
        return self._bounded(direct(self.cluster, dbname=self.database))

    def last_decision(self) -> dict[str, object]:
        decisions = json.loads(self.proxy.get("/api/decisions"))["decisions"]
        return decisions[0]  # type: ignore[no-any-return]

    def _bounded(
        self, conn: psycopg.Connection[tuple[object, ...]]
    ) -> psycopg.Connection[tuple[object, ...]]:
        if self.statement_timeout is not None:
            conn.execute(f"SET statement_timeout = '{self.statement_timeout}'")
        return conn


@contextmanager
def proxied_site(
    cluster: LocalCluster,
    workdir: Path,
    prefix: str,
    schema: str,
    *extra_args: str,
    **options: Any,
) -> Iterator[Site]:
    """``proxied_database`` as a :class:`Site` (``options``: its connection settings)."""
    with proxied_database(cluster, workdir, prefix, schema, *extra_args) as (database, proxy):
        yield Site(cluster, database, proxy, **options)
