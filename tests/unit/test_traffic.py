"""TrafficBook: live counters plus folded totals, summed by identity at scrape time."""

from __future__ import annotations

from skewguard.identity import UNTAGGED, Identity
from skewguard.observe.traffic import Totals, TrafficBook, TrafficStats

A1 = Identity("orders", "1")
A2 = Identity("orders", "2")


def _use(stats: TrafficStats, queries: int, bytes_in: int, bytes_out: int) -> None:
    stats.queries += queries
    stats.bytes_in += bytes_in
    stats.bytes_out += bytes_out


def test_empty() -> None:
    assert TrafficBook().snapshot() == ({}, {})


def test_open_counts_connections_and_live_traffic() -> None:
    book = TrafficBook()
    first, second = book.open(A1), book.open(A1)
    untagged = book.open(UNTAGGED)
    _use(first, 1, 10, 100)
    _use(second, 2, 20, 200)
    totals, open_now = book.snapshot()
    assert totals == {A1: Totals(2, 3, 30, 300), UNTAGGED: Totals(1, 0, 0, 0)}
    assert open_now == {A1: 2, UNTAGGED: 1}
    assert untagged.identity == UNTAGGED


def test_close_folds_and_keeps_totals() -> None:
    book = TrafficBook()
    stats = book.open(A1)
    _use(stats, 4, 40, 400)
    book.close(stats)
    assert book.snapshot() == ({A1: Totals(1, 4, 40, 400)}, {})
    book.close(stats)  # a second close changes nothing
    assert book.snapshot() == ({A1: Totals(1, 4, 40, 400)}, {})
    assert not book.live


def test_close_of_never_opened_stats_is_ignored() -> None:
    book = TrafficBook()
    book.close(TrafficStats(UNTAGGED))  # a session that never sent a StartupMessage
    assert book.snapshot() == ({}, {})


def test_retag_moves_the_connection_and_keeps_history_with_old_identity() -> None:
    book = TrafficBook()
    stats = book.open(UNTAGGED)
    _use(stats, 1, 10, 100)
    book.retag(stats, A1)
    _use(stats, 2, 20, 200)
    totals, open_now = book.snapshot()
    assert totals == {UNTAGGED: Totals(1, 1, 10, 100), A1: Totals(1, 2, 20, 200)}
    assert open_now == {A1: 1}
    book.retag(stats, A2)
    book.retag(stats, A2)  # same identity: no new connection counted
    _use(stats, 3, 30, 300)
    book.close(stats)
    totals, open_now = book.snapshot()
    assert totals == {
        UNTAGGED: Totals(1, 1, 10, 100),
        A1: Totals(1, 2, 20, 200),
        A2: Totals(1, 3, 30, 300),
    }
    assert open_now == {}


def test_snapshot_sums_are_consistent_under_churn() -> None:
    book = TrafficBook()
    identities = [A1, A2, UNTAGGED]
    opened: list[TrafficStats] = []
    grand_queries = 0
    for i in range(300):
        stats = book.open(identities[i % 3])
        _use(stats, i, 2 * i, 3 * i)
        grand_queries += i
        opened.append(stats)
        if i % 5 == 0:
            book.retag(stats, identities[(i + 1) % 3])
        if i % 2 == 0:
            book.close(stats)
    totals, open_now = book.snapshot()
    assert sum(t.queries for t in totals.values()) == grand_queries
    assert sum(t.bytes_in for t in totals.values()) == 2 * grand_queries
    assert sum(t.bytes_out for t in totals.values()) == 3 * grand_queries
    assert sum(open_now.values()) == 150 == len(book.live)
    # A retag counts as a connection of the new identity.
    assert sum(t.connections for t in totals.values()) == 300 + 60
    for stats in opened:
        book.close(stats)
    after, open_after = book.snapshot()
    assert open_after == {}
    assert after == totals  # closing only moves live counts into the folded totals


def test_snapshot_is_a_copy() -> None:
    book = TrafficBook()
    stats = book.open(A1)
    totals, _ = book.snapshot()
    totals[A1].queries += 99
    _use(stats, 1, 1, 1)
    assert book.snapshot()[0][A1] == Totals(1, 1, 1, 1)
