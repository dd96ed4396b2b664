"""Per-connection traffic counters, summed by identity only when scraped.

The hot path adds to plain integer slots on a connection's own ``TrafficStats``;
nothing is locked or looked up per message. A scrape sums the live connections
with the totals folded in from closed ones (or from before an identity change).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from skewguard.identity import Identity


class TrafficStats:
    """Counters of one connection under its current identity."""

    __slots__ = ("bytes_in", "bytes_out", "identity", "queries")

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.queries = 0
        self.bytes_in = 0  # client → server
        self.bytes_out = 0  # server → client


@dataclass(slots=True)
class Totals:
    connections: int = 0
    queries: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class TrafficBook:
    """Live connections' stats plus the folded totals, by identity."""

    def __init__(self) -> None:
        self.live: set[TrafficStats] = set()
        self._folded: defaultdict[Identity, Totals] = defaultdict(Totals)

    def open(self, identity: Identity) -> TrafficStats:
        stats = TrafficStats(identity)
        self.live.add(stats)
        self._folded[identity].connections += 1
        return stats

    def retag(self, stats: TrafficStats, identity: Identity) -> None:
        """The connection changed identity: what it did so far stays with the old one."""
        if identity == stats.identity:
            return
        self._fold(stats)
        stats.identity = identity
        self._folded[identity].connections += 1

    def close(self, stats: TrafficStats) -> None:
        if stats in self.live:
            self._fold(stats)
            self.live.discard(stats)

    def _fold(self, stats: TrafficStats) -> None:
        totals = self._folded[stats.identity]
        totals.queries += stats.queries
        totals.bytes_in += stats.bytes_in
        totals.bytes_out += stats.bytes_out
        stats.queries = stats.bytes_in = stats.bytes_out = 0

    def snapshot(self) -> tuple[dict[Identity, Totals], dict[Identity, int]]:
        """(totals by identity including live connections, open connections by identity)."""
        totals = {
            identity: Totals(t.connections, t.queries, t.bytes_in, t.bytes_out)
            for identity, t in self._folded.items()
        }
        open_now: defaultdict[Identity, int] = defaultdict(int)
        for stats in self.live:
            t = totals.setdefault(stats.identity, Totals())
            t.queries += stats.queries
            t.bytes_in += stats.bytes_in
            t.bytes_out += stats.bytes_out
            open_now[stats.identity] += 1
        return totals, dict(open_now)
