"""Prometheus metrics of the proxy, on a registry of its own."""

from __future__ import annotations

import platform
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from skewguard import __version__
from skewguard.backlog import Backlog
from skewguard.identity import Identity
from skewguard.observe.traffic import Totals, TrafficBook

LABELS = ("app", "version")
#: The label pair of identities past --max-tracked-versions.
OTHER_LABELS = ("(other)", "(other)")


class IdentityLabels:
    """Label values per identity, at most ``limit`` distinct tagged ones.

    Any role that can log in may tag itself with a new app@version on every
    connection; each would be a new series in every per-identity metric. Past the
    limit, new identities share the ``(other)`` labels (counted in ``folded``).
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._kept: set[Identity] = set()
        self.folded = 0  # label lookups that fell to (other)

    def __call__(self, identity: Identity) -> tuple[str, str]:
        if not identity.tagged or identity in self._kept:
            return identity.labels
        if len(self._kept) < self.limit:
            self._kept.add(identity)
            return identity.labels
        self.folded += 1
        return OTHER_LABELS


class _TrafficCollector(Collector):
    def __init__(self, book: TrafficBook, labels: IdentityLabels) -> None:
        self._book = book
        self._labels = labels

    def collect(self) -> Iterator[Metric]:
        by_identity, open_by_identity = self._book.snapshot()
        totals: dict[tuple[str, str], Totals] = {}
        open_now: dict[tuple[str, str], int] = {}
        for identity, t in by_identity.items():
            key = self._labels(identity)
            sum_ = totals.setdefault(key, Totals())
            sum_.connections += t.connections
            sum_.queries += t.queries
            sum_.bytes_in += t.bytes_in
            sum_.bytes_out += t.bytes_out
        for identity, n in open_by_identity.items():
            key = self._labels(identity)
            open_now[key] = open_now.get(key, 0) + n
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
        for key, t in sorted(totals.items()):
            labels = list(key)
            opened.add_metric(labels, t.connections)
            active.add_metric(labels, open_now.get(key, 0))
            queries.add_metric(labels, t.queries)
            traffic.add_metric([*labels, "client_to_server"], t.bytes_in)
            traffic.add_metric([*labels, "server_to_client"], t.bytes_out)
        yield from (opened, active, queries, traffic)


class _BacklogCollector(Collector):
    """What waits to be learned, and what was shed to keep it bounded (backlog.py)."""

    def __init__(self, backlog: Backlog) -> None:
        self._backlog = backlog

    def collect(self) -> Iterator[Metric]:
        backlog = self._backlog
        yield GaugeMetricFamily(
            "skewguard_learning_backlog_texts",
            "Distinct statement texts waiting in the sessions' logs for the learner",
            value=backlog.texts,
        )
        yield GaugeMetricFamily(
            "skewguard_learning_backlog_chars",
            "Characters of the distinct statement texts waiting for the learner",
            value=backlog.chars,
        )
        shed = CounterMetricFamily(
            "skewguard_learning_shed_texts",
            "Texts shed from a full learning backlog: folded into a newer text of the same "
            "shape (duplicate: the shape's evidence kept) or dropped unlearned (distinct)",
            labels=("reason",),
        )
        shed.add_metric(["duplicate"], backlog.folded)
        shed.add_metric(["distinct"], backlog.dropped)
        yield shed


#: Why the guard could not judge a statement (label values of skewguard_unjudged_statements).
UNJUDGED_REASONS = (
    "deadline",
    "catalog",
    "state",
    "probe",
    "unmodelled",
    "opaque",
    "guard-error",
    "too-large",
    "footprint",
)


class ProxyMetrics:
    """Everything /metrics shows; events that are rare enough use plain counters."""

    def __init__(self, book: TrafficBook, *, max_tracked_versions: int = 1000) -> None:
        self.registry = CollectorRegistry()
        self.identity_labels = IdentityLabels(max_tracked_versions)
        self.registry.register(_TrafficCollector(book, self.identity_labels))
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
        self.cancel_requests_unmatched = Counter(
            "skewguard_cancel_requests_unmatched",
            "CancelRequests for a backend key no session holds: dropped, never sent upstream",
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
        self.learning_stopped = Counter(
            "skewguard_learning_stopped_sessions",
            "Client connections whose statements are no longer learned, by reason (versions: "
            "more app@version identities than --max-session-versions)",
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
        self.replay_passes = Counter(
            "skewguard_replay_passes",
            "Replay passes run on a migrating connection (one round trip each: a baseline, "
            "the pass before COMMIT, or an autocommit statement's trial)",
            registry=self.registry,
        )
        self.replay_statements = Counter(
            "skewguard_replay_statements",
            "Runs of sampled statements in replay passes (a write runs twice per pass)",
            registry=self.registry,
        )
        self.replay_breaks = Counter(
            "skewguard_replay_breaks",
            "Versions whose sampled statement succeeded before a change and failed after it",
            registry=self.registry,
        )
        self.replay_overturned = Counter(
            "skewguard_replay_overturned",
            "Rule findings (SG103, SG110, SG111, SG114, SG115) overturned because every sampled "
            "write (SG103: call) replayed clean",
            registry=self.registry,
        )
        self.replay_speculation = Counter(
            "skewguard_replay_speculation",
            "Trials of an autocommit statement started while the catalog was refreshed: "
            "taken, or redone because the current catalog picked other trials",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("taken", "redone"):
            self.replay_speculation.labels(outcome)
        self.replay_deadline = Counter(
            "skewguard_replay_deadline",
            "Replays not run or not finished within the decision's deadline (the decision is "
            "then 'cannot judge')",
            registry=self.registry,
        )
        self.replay_seconds = Histogram(
            "skewguard_replay_duration_seconds",
            "Time of one replay pass, from sending it to its last answer",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.protected_versions = Gauge(
            "skewguard_protected_versions",
            "Versions protected from breaking DDL, by why (live, recent, rollback-target, pinned)",
            ["protection"],
            registry=self.registry,
        )
        self.retired_live_versions = Gauge(
            "skewguard_retired_versions_live",
            "Versions an operator retired that are connected again: not protected, so DDL "
            "may break them (unpin brings the protection back)",
            registry=self.registry,
        )

    def watch_backlog(self, backlog: Backlog) -> None:
        """Show the learning backlog (the learner calls this once, at its start)."""
        self.registry.register(_BacklogCollector(backlog))
