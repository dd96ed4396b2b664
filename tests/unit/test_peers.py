"""The peers' listener connects with what --state says, URL or keyword string."""

from __future__ import annotations

from skewguard.peers import asyncpg_params


def test_url_and_keywords() -> None:
    url = "postgresql://sg:pw@db.internal:6543/state?sslmode=verify-full&connect_timeout=3"
    assert asyncpg_params(url) == {"dsn": url, "timeout": 3.0}
    words = asyncpg_params("host=/run/pg port=6543 dbname=state user=sg sslmode=verify-full")
    assert words == {
        "timeout": 5.0,
        "host": "/run/pg",
        "user": "sg",
        "port": 6543,
        "database": "state",
        "ssl": "verify-full",
    }
