"""Connections are tagged app@version three ways and counted under that identity in /metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import psql, tool_env, unique, wait_for
from tests.support.clusters import MD5_PASSWORD, MD5_USER, one_major
from tests.support.proxy import ProxyProcess

pytestmark = one_major()

UNTAGGED = "(untagged)"


def counts(proxy: ProxyProcess, app: str, version: str) -> tuple[float, float, float]:
    """(connections opened, connections open now, statements) for one identity."""
    metrics = proxy.metrics()
    labels = (("app", app), ("version", version))
    return (
        metrics.get(("skewguard_client_connections_total", labels), 0.0),
        metrics.get(("skewguard_client_connections_active", labels), 0.0),
        metrics.get(("skewguard_queries_total", labels), 0.0),
    )


def closed(proxy: ProxyProcess, app: str, version: str) -> bool:
    return counts(proxy, app, version)[1] == 0


def run_statements(conn: psycopg.Connection[tuple[object, ...]], n: int) -> None:
    for i in range(n):
        assert conn.execute(f"select {i}").fetchone() == (i,)


def test_application_name(proxy: ProxyProcess) -> None:
    app = unique("appname")
    with psycopg.connect(proxy.url(application_name=f"{app}@1.2.3"), autocommit=True) as conn:
        run_statements(conn, 7)
        assert counts(proxy, app, "1.2.3") == (1, 1, 7)
    wait_for(lambda: closed(proxy, app, "1.2.3"))
    assert counts(proxy, app, "1.2.3") == (1, 0, 7)


def test_startup_options(proxy: ProxyProcess) -> None:
    app = unique("optapp")
    options = f"-c skewguard.app={app} -c skewguard.version=2.0-rc.1"
    # Options win over an application_name that would match the pattern too.
    dsn = proxy.dsn(options=options, application_name="other@9")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("show skewguard.app").fetchone() == (app,)
        run_statements(conn, 3)
        assert counts(proxy, app, "2.0-rc.1") == (1, 1, 4)
    assert counts(proxy, "other", "9")[0] == 0
    wait_for(lambda: closed(proxy, app, "2.0-rc.1"))

    # application_name set through options counts like the startup parameter.
    with psycopg.connect(proxy.dsn(options=f"-c application_name={app}@opt"), autocommit=True):
        assert counts(proxy, app, "opt")[:2] == (1, 1)


def test_set_application_name_later(proxy: ProxyProcess) -> None:
    app = unique("setapp")
    before = counts(proxy, UNTAGGED, UNTAGGED)
    with psycopg.connect(proxy.url(), autocommit=True) as conn:
        run_statements(conn, 2)
        untagged = counts(proxy, UNTAGGED, UNTAGGED)
        assert untagged[0] == before[0] + 1
        assert untagged[2] >= before[2] + 2
        conn.execute(f"set application_name = '{app}@3.1'")  # extended protocol (Parse)
        run_statements(conn, 4)
        assert counts(proxy, app, "3.1") == (1, 1, 4)
        # A simple-protocol SET (psql's way) to another version moves the connection again.
        conn.pgconn.exec_(f"set application_name to '{app}@3.2'".encode())
        run_statements(conn, 1)
        # The statement that changes the identity still counts for the old one.
        assert counts(proxy, app, "3.1") == (1, 0, 5)
        assert counts(proxy, app, "3.2") == (1, 1, 1)
        # RESET goes back to the startup identity: untagged.
        conn.execute("reset application_name")
        assert counts(proxy, app, "3.2") == (1, 0, 2)
        assert counts(proxy, UNTAGGED, UNTAGGED)[0] == untagged[0] + 1


def test_psql_and_asyncpg_identities(proxy: ProxyProcess, psql_bin: str) -> None:
    app = unique("tools")
    done = psql(
        psql_bin,
        proxy.dsn(application_name=f"{app}@psql-1"),
        "-c",
        "select 1",
        "-c",
        f"set application_name = '{app}@psql-2'",
        "-c",
        "select 2",
        env=tool_env(),
    )
    assert done.returncode == 0, done.stderr
    wait_for(lambda: closed(proxy, app, "psql-2"))
    assert counts(proxy, app, "psql-1") == (1, 0, 2)
    assert counts(proxy, app, "psql-2") == (1, 0, 1)

    async def use_asyncpg() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=proxy.port,
            user="postgres",
            database="postgres",
            ssl=False,
            server_settings={"application_name": f"{app}@asyncpg"},
        )
        try:
            assert await conn.fetchval("select current_setting('application_name')") == (
                f"{app}@asyncpg"
            )
            assert counts(proxy, app, "asyncpg")[:2] == (1, 1)
        finally:
            await conn.close()

    asyncio.run(use_asyncpg())
    wait_for(lambda: closed(proxy, app, "asyncpg"))


@pytest.mark.parametrize("name", ["no-version", "", "sp ace@1", "@1.0"])
def test_names_that_do_not_match_are_untagged(proxy: ProxyProcess, name: str) -> None:
    before = counts(proxy, UNTAGGED, UNTAGGED)
    with psycopg.connect(proxy.url(), application_name=name, autocommit=True) as conn:
        run_statements(conn, 1)
        after = counts(proxy, UNTAGGED, UNTAGGED)
    assert after[0] == before[0] + 1
    assert after[1] >= 1
    assert after[2] == before[2] + 1
    apps = {dict(labels)["app"] for metric, labels in proxy.metrics() if metric.endswith("_active")}
    assert not apps & {name, "sp ace", "sp", ""}


def _versions_named(proxy: ProxyProcess, app: str) -> list[tuple[str, str, str]]:
    return [key for key in proxy.versions() if key[1] == app]


@pytest.mark.parametrize("how", ["unknown-role", "wrong-password"])
def test_a_failed_login_counts_no_identity(how: str, proxy: ProxyProcess) -> None:
    """Versions, series and live counts start when PostgreSQL accepts the session."""
    app = unique("evil")
    if how == "unknown-role":
        url = proxy.url(user="nosuchrole", application_name=f"{app}@123")
    else:
        url = proxy.url(user=MD5_USER, application_name=f"{app}@123", password="wrong")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=10).close()
    # A good login after it, so the proxy has surely handled the failed one.
    good = unique("good")
    with psycopg.connect(proxy.url(application_name=f"{good}@1"), autocommit=True) as conn:
        conn.execute("select 1")
    wait_for(lambda: any(key[1] == good for key in proxy.versions()))
    assert counts(proxy, app, "123") == (0, 0, 0)
    assert not any(labels and ("app", app) in labels for _, labels in proxy.metrics())
    assert _versions_named(proxy, app) == []


def test_app_role_binds_a_tag_to_its_role(cluster: LocalCluster, tmp_path: Path) -> None:
    """--app-role shop=md5user: shop@999 from another role protects nothing."""
    proxy = ProxyProcess(
        upstream=cluster.url(),
        extra_args=["--app-role", f"shop={MD5_USER}"],
        logfile=tmp_path / "proxy.log",
    ).start()
    try:
        with psycopg.connect(proxy.url(application_name="shop@999"), autocommit=True) as c:
            c.execute("select 1")
        url = proxy.url(user=MD5_USER, application_name="shop@1", password=MD5_PASSWORD)
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("select 1")
        seen = {(key[1], key[2]) for key in proxy.versions()}
        assert ("shop", "1") in seen
        assert ("shop", "999") not in seen
    finally:
        proxy.stop()


def test_identity_changes_of_a_connection_are_logged_up_to_a_bound(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """``SET application_name`` in a loop: the first changes are logged, then one line
    says the rest are not (each switch was a log line), while each switch still counts."""
    logfile = tmp_path / "proxy.log"
    proxy = ProxyProcess(upstream=cluster.url(), logfile=logfile).start()
    app = unique("flood")
    try:
        with psycopg.connect(proxy.url(application_name=f"{app}@0"), autocommit=True) as conn:
            for i in range(1, 31):
                conn.execute(f"SET application_name = '{app}@{i}'")
                conn.execute("select 1")
            assert counts(proxy, app, "30")[1] == 1  # the last claim is the one counted
    finally:
        proxy.stop()
    lines = logfile.read_text().splitlines()
    changes = [line for line in lines if "identity change" in line and app in line]
    assert len(changes) == 3, changes
    assert sum("identity changes of this connection past 3" in line for line in lines) == 1
