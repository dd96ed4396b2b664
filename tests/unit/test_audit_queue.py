"""Audits written off the decision path: in order, in batches, never silently lost."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from skewguard.audit_queue import AuditQueue
from skewguard.observe.metrics import ProxyMetrics
from skewguard.observe.traffic import TrafficBook
from skewguard.store import SqliteStore


def _entry(n: int) -> dict[str, Any]:
    return {"at": float(n), "decision": "allow", "n": n}


async def test_entries_are_written_in_the_order_of_the_decisions(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    try:
        queue = AuditQueue(store, ProxyMetrics(TrafficBook()))
        first = queue.add(lambda: _entry(0))
        await asyncio.sleep(0)  # the writer has taken the first one
        rest = [queue.add(partial(_entry, n)) for n in range(1, 50)]  # queued meanwhile
        await asyncio.wait_for(asyncio.gather(first, *rest), 10)
        assert [d["n"] for d in reversed(store.decisions(limit=100))] == list(range(50))
        late = queue.add(lambda: _entry(50))
        await queue.settle(10)  # shutdown: what is queued is written
        assert late.done() and store.decisions(limit=1)[0]["n"] == 50
    finally:
        store.close()


async def test_a_refused_write_is_logged_with_its_entries_and_the_decisions_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    store.close()  # a stopped store
    metrics = ProxyMetrics(TrafficBook())
    queue = AuditQueue(store, metrics)
    with caplog.at_level(logging.ERROR, logger="skewguard.guard"):
        written = [queue.add(partial(_entry, n)) for n in range(2)]
        await asyncio.wait_for(asyncio.gather(*written), 10)
    failed = [r for r in caplog.records if "could not audit" in r.getMessage()]
    assert [getattr(r, "entry", None) for r in failed] == [_entry(0), _entry(1)]
