"""The one /metrics of ``--workers``: every worker's exposition merged."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from skewguard.observe.fanout import exposition, merge_expositions
from skewguard.workers import MAX_RESTART_DELAY, RESTART_DELAY, restart_delay

WORKER_0 = """\
# HELP skewguard_queries_total Statements run
# TYPE skewguard_queries_total counter
skewguard_queries_total{app="shop",version="1"} 10.0
skewguard_queries_created{app="shop",version="1"} 1000.0
# HELP skewguard_client_connections_active Client connections open now
# TYPE skewguard_client_connections_active gauge
skewguard_client_connections_active{app="shop",version="1"} 3.0
# HELP skewguard_state_up 1 when the last write succeeded
# TYPE skewguard_state_up gauge
skewguard_state_up 1.0
# HELP skewguard_protected_versions Versions protected
# TYPE skewguard_protected_versions gauge
skewguard_protected_versions{protection="live"} 2.0
# HELP process_start_time_seconds Start time
# TYPE process_start_time_seconds gauge
process_start_time_seconds 500.0
"""

WORKER_1 = """\
# HELP skewguard_queries_total Statements run
# TYPE skewguard_queries_total counter
skewguard_queries_total{app="shop",version="1"} 5.0
skewguard_queries_created{app="shop",version="1"} 900.0
skewguard_queries_total{app="cart",version="2"} 7.0
# HELP skewguard_client_connections_active Client connections open now
# TYPE skewguard_client_connections_active gauge
skewguard_client_connections_active{app="shop",version="1"} 4.0
# HELP skewguard_state_up 1 when the last write succeeded
# TYPE skewguard_state_up gauge
skewguard_state_up 0.0
# HELP skewguard_protected_versions Versions protected
# TYPE skewguard_protected_versions gauge
skewguard_protected_versions{protection="live"} 3.0
# HELP process_start_time_seconds Start time
# TYPE process_start_time_seconds gauge
process_start_time_seconds 400.0
"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_and_connection_gauges_add_up() -> None:
    merged = samples(exposition(merge_expositions([WORKER_0, WORKER_1])).decode())
    shop = (("app", "shop"), ("version", "1"))
    assert merged[("skewguard_queries_total", shop)] == 15
    assert merged[("skewguard_queries_total", (("app", "cart"), ("version", "2")))] == 7
    assert merged[("skewguard_client_connections_active", shop)] == 7


def test_shared_facts_and_worst_cases_are_not_summed() -> None:
    merged = samples(exposition(merge_expositions([WORKER_0, WORKER_1])).decode())
    assert merged[("skewguard_state_up", ())] == 0  # one worker cannot write: not up
    assert merged[("skewguard_protected_versions", (("protection", "live"),))] == 3
    assert merged[("process_start_time_seconds", ())] == 400
    assert merged[("skewguard_queries_created", (("app", "shop"), ("version", "1")))] == 900


def test_one_worker_is_passed_through() -> None:
    assert samples(exposition(merge_expositions([WORKER_0])).decode()) == samples(WORKER_0)


def test_restarts_back_off_to_a_ceiling() -> None:
    delays = [restart_delay(n) for n in range(1, 12)]
    assert delays[0] == RESTART_DELAY
    assert delays == sorted(delays)
    assert delays[-1] == MAX_RESTART_DELAY
