"""The proxy answers like PostgreSQL for the simplest client and shuts down cleanly."""

from __future__ import annotations

import psycopg

from tests.support.proxy import ProxyProcess


def test_query_through_proxy(proxy: ProxyProcess) -> None:
    with psycopg.connect(proxy.url(application_name="smoke@1")) as conn:
        row = conn.execute("select current_setting('application_name'), 40 + 2").fetchone()
    assert row == ("smoke@1", 42)
