"""Prometheus metrics of the proxy, on a registry of its own."""

from __future__ import annotations

import platform
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from skewguard import __version__
from skewguard.observe.traffic import TrafficBook

LABELS = ("app", "version")


class _TrafficCollector(Collector):
    def __init__(self, book: TrafficBook) -> None:
        self._book = book

    def collect(self) -> Iterator[Metric]:
        totals, open_now = self._book.snapshot()
        opened = CounterMetricFamily(
            "skewguard_client_connections", "Client connections opened, by identity", labels=LABELS
        )
        active = GaugeMetricFamily(
            "skewguard_client_connections_active", "Client connections open now", labels=LABELS
        )
        queries = CounterMetricFamily(
            "skewguard_queries",
            "Statements run: simple Query messages and extended-protocol Binds, by identity",
            labels=LABELS,
        )
        traffic = CounterMetricFamily(
            "skewguard_bytes",
            "Bytes relayed, by identity and direction",
            labels=(*LABELS, "direction"),
        )
        for identity, t in sorted(totals.items(), key=lambda item: item[0].labels):
            labels = list(identity.labels)
            opened.add_metric(labels, t.connections)
            active.add_metric(labels, open_now.get(identity, 0))
            queries.add_metric(labels, t.queries)
            traffic.add_metric([*labels, "client_to_server"], t.bytes_in)
            traffic.add_metric([*labels, "server_to_client"], t.bytes_out)
        yield from (opened, active, queries, traffic)


#: Why the guard could not judge a statement (label values of skewguard_unjudged_statements).
UNJUDGED_REASONS = (
    "deadline",
    "catalog",
    "state",
    "probe",
    "unmodelled",
    "opaque",
    "guard-error",
)


class ProxyMetrics:
    """Everything /metrics shows; events that are rare enough use plain counters."""

    def __init__(self, book: TrafficBook) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_TrafficCollector(book))
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, RSS, open fds
        PlatformCollector(registry=self.registry)
        Info("skewguard_build", "The running skewguard", registry=self.registry).info(
            {"version": __version__, "python": platform.python_version()}
        )
        self.client_errors = Counter(
            "skewguard_client_errors",
            "Client connections ended by an error, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "skewguard_upstream_errors",
            "Failures reaching or talking to the upstream PostgreSQL, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.cancel_requests = Counter(
            "skewguard_cancel_requests",
            "CancelRequests relayed to the upstream",
            registry=self.registry,
        )
        self.tls_handshakes = Counter(
            "skewguard_tls_handshakes",
            "Client TLS sessions terminated, by kind (sslrequest or direct)",
            ["kind"],
            registry=self.registry,
        )
        self.statements_analyzed = Counter(
            "skewguard_statements_analyzed",
            "Distinct statement texts parsed and resolved (analysis cache misses)",
            registry=self.registry,
        )
        self.analysis_failures = Counter(
            "skewguard_analysis_failures",
            "Statements that could not be analysed (they are forwarded all the same), by reason",
            ["reason"],
            registry=self.registry,
        )
        self.missing_references = Counter(
            "skewguard_missing_references",
            "Statements referring to a relation, column, function or enum label the schema "
            "lacks (new code running before its migration), by identity",
            LABELS,
            registry=self.registry,
        )
        self.state_up = Gauge(
            "skewguard_state_up",
            "1 when the last write to the state store succeeded, 0 when it failed",
            registry=self.registry,
        )
        self.state_up.set(1)
        self.state_errors = Counter(
            "skewguard_state_write_errors",
            "Failed writes to the state store (batches are kept and retried)",
            registry=self.registry,
        )
        self.ddl_decisions = Counter(
            "skewguard_ddl_decisions",
            "DDL decisions by outcome (allow, warn, block) and rule (none when no finding)",
            ["decision", "rule"],
            registry=self.registry,
        )
        self.unjudged = Counter(
            "skewguard_unjudged_statements",
            "Statements the guard could not judge (deadline, catalog, state, probe, "
            "unmodelled, opaque, guard-error), by reason and what was done (block, warn, allow)",
            ["reason", "decision"],
            registry=self.registry,
        )
        for reason in UNJUDGED_REASONS:  # present at 0 so the first increase() is seen
            for outcome in ("block", "warn", "allow"):
                self.unjudged.labels(reason, outcome)
        self.protected_versions = Gauge(
            "skewguard_protected_versions",
            "Versions protected from breaking DDL, by why (live, recent, rollback-target, pinned)",
            ["protection"],
            registry=self.registry,
        )
