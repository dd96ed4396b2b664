"""The raw side connection ``check --replay`` tries migrations on: it authenticates as
libpq would (trust, MD5, SCRAM-SHA-256, over TLS too), its own queries leave the
transaction as they found it, and a statement without answer drops it in time."""

from __future__ import annotations

import asyncio
import time

import pytest

from skewguard.config import parse_upstream
from skewguard.pgcluster import LocalCluster
from skewguard.replaying import OwnQueryTimeout
from skewguard.scratch import scratch_connection
from skewguard.wire import messages as m
from tests.support.clients import direct
from tests.support.clusters import MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER

pytestmark = pytest.mark.integration


async def _whoami(url: str) -> tuple[str, str]:
    async with scratch_connection(
        parse_upstream(url),
        database="postgres",
        user="postgres",
        lock_timeout_ms=500,
        statement_timeout_ms=2000,
        connect_timeout=5,
    ) as conn:
        rows = await conn.query_in_transaction(
            "SELECT current_user, current_setting('lock_timeout')",
            statement_timeout_ms=1000,
            lock_timeout_ms=1000,
        )
        assert conn.own_status == "I"
    assert rows is not None
    user, lock_timeout = rows[0]
    assert user is not None and lock_timeout is not None
    return user, lock_timeout


@pytest.mark.parametrize(
    ("user", "password"),
    [("postgres", None), (MD5_USER, MD5_PASSWORD), (SCRAM_USER, SCRAM_PASSWORD)],
    ids=["trust", "md5", "scram"],
)
def test_authenticates_as_the_upstream_url_says(
    cluster: LocalCluster, user: str, password: str | None
) -> None:
    url = cluster.url(user=user, password=password, sslmode="disable")
    assert asyncio.run(_whoami(url)) == (user, "1s")  # 1000 ms, as PostgreSQL shows it


def test_over_tls(cluster: LocalCluster) -> None:
    if not cluster.install.supports_ssl:
        pytest.skip("this PostgreSQL build has no TLS")
    url = cluster.url(user=SCRAM_USER, password=SCRAM_PASSWORD, sslmode="require")
    assert asyncio.run(_whoami(url))[0] == SCRAM_USER


def test_a_wrong_password_is_a_connection_error(cluster: LocalCluster) -> None:
    url = cluster.url(user=SCRAM_USER, password="wrong", sslmode="disable")
    with pytest.raises(ConnectionError, match="28P01"):
        asyncio.run(_whoami(url))


async def _stuck(url: str) -> float:
    """A statement that sleeps past the exchange's timeout: the socket is dropped."""
    async with scratch_connection(
        parse_upstream(url),
        database="postgres",
        user="postgres",
        lock_timeout_ms=500,
        statement_timeout_ms=10_000,
        connect_timeout=5,
    ) as conn:
        started = time.monotonic()
        with pytest.raises(OwnQueryTimeout):
            await conn.exchange(m.encode_query("BEGIN; SELECT pg_sleep(5)"), 1, timeout=0.3)
        took = time.monotonic() - started
        with pytest.raises(OwnQueryTimeout):  # nothing more can be asked there
            await conn.exchange(m.encode_query("SELECT 1"), 1, timeout=1)
    return took


def test_no_answer_in_time_drops_the_connection(cluster: LocalCluster) -> None:
    assert asyncio.run(_stuck(cluster.url(sslmode="disable"))) < 1
    deadline = time.monotonic() + 10
    with direct(cluster) as conn:  # the backend goes once its sleep ends: nothing stays
        while conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            "'skewguard-check-replay'"
        ).fetchone() != (0,):
            assert time.monotonic() < deadline
            time.sleep(0.1)
