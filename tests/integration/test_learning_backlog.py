"""The learning backlog under a storm of distinct statement shapes: bounded, shed oldest
duplicates first, traffic never waits, and the counts are in /metrics."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.proxy import ProxyProcess
from tests.support.sites import proxied_database

pytestmark = pytest.mark.integration

BOUND = 200


def _shed(proxy: ProxyProcess) -> dict[str, float]:
    samples = proxy.metrics()
    return {
        reason: samples.get(("skewguard_learning_shed_texts_total", (("reason", reason),)), -1)
        for reason in ("duplicate", "distinct")
    }


def _backlog(proxy: ProxyProcess) -> float:
    return proxy.metrics().get(("skewguard_learning_backlog_texts", ()), -1)


def test_a_storm_of_distinct_shapes_stays_bounded(cluster: LocalCluster, tmp_path: Path) -> None:
    schema = "CREATE TABLE users (id int PRIMARY KEY, email text, name text)"
    with proxied_database(
        cluster, tmp_path, "storm", schema, "--max-learning-backlog", str(BOUND)
    ) as (database, proxy):
        assert _shed(proxy) == {"duplicate": 0, "distinct": 0}  # present before any storm
        assert _backlog(proxy) == 0
        highest = [0.0]
        stop = threading.Event()

        def watch() -> None:  # /metrics while the storm runs: the gauge never passes the bound
            while not stop.is_set():
                highest[0] = max(highest[0], _backlog(proxy))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        answered = 0
        try:
            with psycopg.connect(
                proxy.url(database=database, application_name="shop@1"), autocommit=True
            ) as app:
                for n in range(3000):
                    # a new shape each time, and one shape with a new literal each time
                    app.execute(f"SELECT id AS c{n} FROM users").fetchall()
                    app.execute(f"SELECT email FROM users WHERE id = {n}").fetchall()
                    answered += 2
                app.execute("SELECT name FROM users").fetchall()  # after the storm
        finally:
            stop.set()
            watcher.join()
        assert answered == 6000
        shed = _shed(proxy)
        assert shed["duplicate"] > 0 and shed["distinct"] > 0, shed
        assert highest[0] <= BOUND
        # what the storm left is still learned: the folded shape and the query after it
        footprint = proxy.footprint(database, "shop", "1")
        assert "column_read:public.users.email" in footprint
        assert "column_read:public.users.name" in footprint
        assert _backlog(proxy) == 0  # all taken by the learner once the storm is over
