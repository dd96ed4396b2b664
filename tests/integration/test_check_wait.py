"""``POST /api/check?wait=DURATION``: the contract step's wait over HTTP, like --wait-safe."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from skewguard.observe.admin import WAIT_INTERVAL
from skewguard.pgcluster import LocalCluster
from tests.support.clients import wait_for
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess
from tests.support.sites import proxied_database

pytestmark = [pytest.mark.integration, one_major()]

DROP_EMAIL = "ALTER TABLE users DROP COLUMN email"


@pytest.fixture
def shop(cluster: LocalCluster, tmp_path: Path) -> Iterator[tuple[str, ProxyProcess]]:
    """A proxy whose state knows shop@1 (gone now, protected as recent), which reads email."""
    schema = "CREATE TABLE users (id int PRIMARY KEY, email text)"
    with proxied_database(cluster, tmp_path, "waithttp", schema) as (database, proxy):
        with psycopg.connect(
            proxy.url(database=database, application_name="shop@1"), autocommit=True
        ) as app:
            app.execute("SELECT email FROM users").fetchall()
        proxy.versions()  # flushed into the state
        yield database, proxy


async def _check(
    proxy: ProxyProcess, database: str, wait: str, timeout: float = 30
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.post(
            f"{proxy.admin_url}/api/check",
            params={"wait": wait},
            json={"sql": DROP_EMAIL, "database": database},
        ) as response,
    ):
        return response.status, await response.json()


def _checks_audited(proxy: ProxyProcess) -> int:
    decisions = json.loads(proxy.get("/api/decisions?limit=1000"))["decisions"]
    return sum(1 for d in decisions if d["source"] == "check")


def test_a_wait_that_times_out_names_the_holders(shop: tuple[str, ProxyProcess]) -> None:
    database, proxy = shop
    started = time.monotonic()
    status, answer = asyncio.run(_check(proxy, database, "2.5s"))
    assert status == 200, answer
    assert 2 <= time.monotonic() - started < 10
    assert answer["breaking"] and answer["decision"] == "block"
    wait = answer["wait"]
    assert wait["timed_out"] is True
    assert wait["held_back_by"] == ["shop@1"]
    assert wait["rounds"] >= 2 and wait["waited_seconds"] >= 1
    assert _checks_audited(proxy) == wait["rounds"]  # each ask is audited


def test_a_wait_returns_once_the_holder_is_retired(shop: tuple[str, ProxyProcess]) -> None:
    database, proxy = shop

    async def scenario() -> tuple[float, tuple[int, dict[str, Any]]]:
        waiting = asyncio.ensure_future(_check(proxy, database, "60s"))
        while not await asyncio.to_thread(_checks_audited, proxy):  # its first round
            await asyncio.sleep(0.05)
        assert not waiting.done()  # held back by shop@1
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{proxy.admin_url}/api/versions/shop@1/retire", json={}) as retired,
        ):
            assert retired.status == 200
        retired_at = time.monotonic()
        result = await waiting
        return time.monotonic() - retired_at, result

    after, (status, answer) = asyncio.run(scenario())
    assert status == 200, answer
    assert after < 5
    assert answer["breaking"] is False and answer["decision"] == "allow"
    assert answer["wait"]["timed_out"] is False and answer["wait"]["held_back_by"] == []
    assert answer["wait"]["rounds"] >= 2


def test_a_client_that_goes_away_ends_its_wait(shop: tuple[str, ProxyProcess]) -> None:
    database, proxy = shop
    with pytest.raises(TimeoutError):
        asyncio.run(_check(proxy, database, "60s", timeout=2.5))
    # the proxy notices within a fraction of a second
    wait_for(lambda: "a waiting check ended: its client went away" in proxy.log_tail())
    asked = _checks_audited(proxy)
    assert asked >= 2
    time.sleep(2 * WAIT_INTERVAL)
    assert _checks_audited(proxy) == asked  # no one asks any more


def test_a_bad_wait_is_refused(shop: tuple[str, ProxyProcess]) -> None:
    database, proxy = shop
    for wait in ("soon", "-1", "2h"):
        status, answer = asyncio.run(_check(proxy, database, wait))
        assert status == 400, wait
        assert "wait must be" in answer["error"], wait
