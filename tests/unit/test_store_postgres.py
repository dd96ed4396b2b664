"""The PostgreSQL store without a server: URLs, laziness, errors (the rest is integration)."""

from __future__ import annotations

import pytest

from skewguard.footprint import FootprintBatch
from skewguard.pgcluster import free_port
from skewguard.store import PostgresStore, StateStoreError, is_postgres_url, open_store


def test_urls_choose_the_backend() -> None:
    assert is_postgres_url("postgresql://h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url("skewguard.db") and not is_postgres_url("/var/lib/x.db")


def test_an_unreachable_store_opens_and_every_call_raises_a_connection_error() -> None:
    url = f"postgresql://skewguard:secret@127.0.0.1:{free_port()}/state?connect_timeout=2"
    store = open_store(url)  # the proxy starts even when the state database is down
    assert isinstance(store, PostgresStore)
    for call in (store.versions, store.lifecycle, store.decisions):
        with pytest.raises(StateStoreError) as failed:
            call()
        assert isinstance(failed.value, OSError)  # the CLIs report it as a connection error
        assert "secret" not in str(failed.value)  # the password is not echoed
    with pytest.raises(StateStoreError):
        store.write(FootprintBatch())
    with pytest.raises(StateStoreError):
        store.heartbeat("a", {})
    store.close()


def test_a_malformed_url_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="bad --state URL"):
        PostgresStore("postgresql://h/db?nosuchoption=1", connect=False)
