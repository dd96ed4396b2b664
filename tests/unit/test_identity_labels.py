"""Per-identity metric series are bounded: identities past the limit share (other)."""

from __future__ import annotations

from prometheus_client import generate_latest

from skewguard.identity import Identity
from skewguard.observe.metrics import OTHER_LABELS, IdentityLabels, ProxyMetrics
from skewguard.observe.traffic import TrafficBook


def test_labels_past_the_limit_are_other() -> None:
    labels = IdentityLabels(limit=2)
    assert labels(Identity("a", "1")) == ("a", "1")
    assert labels(Identity("b", "1")) == ("b", "1")
    assert labels(Identity("c", "1")) == OTHER_LABELS
    assert labels(Identity("a", "1")) == ("a", "1")  # kept ones stay
    assert labels(Identity()) == Identity().labels  # untagged is one pair already
    assert labels.folded == 1


def test_the_scrape_sums_folded_identities_into_one_series() -> None:
    book = TrafficBook()
    metrics = ProxyMetrics(book, max_tracked_versions=1)
    for version in range(5):
        stats = book.open(Identity("shop", str(version)))
        stats.queries += 2
    text = generate_latest(metrics.registry).decode()
    assert 'skewguard_queries_total{app="shop",version="0"} 2.0' in text
    assert 'skewguard_queries_total{app="(other)",version="(other)"} 8.0' in text
    assert 'skewguard_client_connections_active{app="(other)",version="(other)"} 4.0' in text
    assert text.count('skewguard_queries_total{app="shop"') == 1
