"""TLS on either leg and password authentication through the proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import trustme

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct_dsn, mask_ports
from tests.support.clusters import MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER, Certificates
from tests.support.proxy import ProxyProcess

UPSTREAM_SSL = "select ssl from pg_stat_ssl where pid = pg_backend_pid()"
NO_CHANNEL_BINDING = (
    "channel binding is required, but server did not offer an authentication method "
    "that supports channel binding"
)


def start_proxy(
    cluster: LocalCluster, certs: Certificates, sslmode: str, logdir: pytest.TempPathFactory
) -> ProxyProcess:
    return ProxyProcess(
        upstream=cluster.url(sslmode=sslmode),
        extra_args=["--tls-cert", str(certs.cert), "--tls-key", str(certs.key)],
        logfile=logdir.mktemp(f"proxy-{sslmode}") / "proxy.log",
    ).start()


@pytest.fixture(scope="module")
def tls_upstream_proxy(
    cluster: LocalCluster, certs: Certificates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    """A proxy with TLS on both legs: client TLS, and upstream sslmode=require."""
    running = start_proxy(cluster, certs, "require", tmp_path_factory)
    yield running
    assert running.stop() == 0, running.log_tail()


def test_upstream_tls(cluster: LocalCluster, tls_upstream_proxy: ProxyProcess) -> None:
    if not cluster.install.supports_ssl:
        pytest.skip("this PostgreSQL is built without SSL")
    with psycopg.connect(tls_upstream_proxy.dsn(sslmode="disable"), autocommit=True) as conn:
        assert conn.execute(UPSTREAM_SSL).fetchone() == (True,)
        assert conn.execute("select 40 + 2").fetchone() == (42,)
        assert not conn.pgconn.ssl_in_use


def test_upstream_plain_by_default(proxy: ProxyProcess) -> None:
    """The shared proxy has sslmode=disable upstream: TLS ends at the proxy."""
    with psycopg.connect(proxy.dsn(sslmode="require"), autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute(UPSTREAM_SSL).fetchone() == (False,)


def test_upstream_require_without_server_ssl(
    cluster: LocalCluster, tls_upstream_proxy: ProxyProcess
) -> None:
    if cluster.install.supports_ssl:
        pytest.skip("this PostgreSQL supports SSL")
    errors = ("skewguard_upstream_errors_total", (("reason", "tls"),))
    before = tls_upstream_proxy.metrics().get(errors, 0.0)
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(tls_upstream_proxy.dsn(sslmode="require"))
    message = str(caught.value)
    assert "skewguard: upstream does not support SSL but sslmode=require" in message
    assert tls_upstream_proxy.metrics()[errors] == before + 1
    assert tls_upstream_proxy.alive


def test_upstream_prefer_follows_server(
    cluster: LocalCluster, certs: Certificates, tmp_path_factory: pytest.TempPathFactory
) -> None:
    running = start_proxy(cluster, certs, "prefer", tmp_path_factory)
    try:
        with psycopg.connect(running.dsn(sslmode="disable"), autocommit=True) as conn:
            assert conn.execute(UPSTREAM_SSL).fetchone() == (cluster.install.supports_ssl,)
    finally:
        assert running.stop() == 0, running.log_tail()


def test_client_verifies_proxy_certificate(proxy: ProxyProcess, certs: Certificates) -> None:
    dsn = proxy.dsn(sslmode="verify-full", sslrootcert=str(certs.ca))
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("select 1").fetchone() == (1,)


@pytest.mark.parametrize(
    ("user", "password"), [(MD5_USER, MD5_PASSWORD), (SCRAM_USER, SCRAM_PASSWORD)]
)
@pytest.mark.parametrize("sslmode", ["disable", "require"])
def test_password_auth_psycopg(
    cluster: LocalCluster, proxy: ProxyProcess, user: str, password: str, sslmode: str
) -> None:
    with psycopg.connect(
        proxy.dsn(user=user, password=password, sslmode=sslmode), autocommit=True
    ) as conn:
        assert conn.pgconn.used_password
        assert conn.pgconn.ssl_in_use == (sslmode == "require")
        assert conn.execute("select current_user").fetchone() == (user,)

    messages = []
    for dsn in (
        direct_dsn(cluster, user=user, password="wrong"),
        proxy.dsn(user=user, password="wrong", sslmode=sslmode),
    ):
        with pytest.raises(psycopg.OperationalError) as caught:
            psycopg.connect(dsn)
        messages.append(mask_ports(str(caught.value), cluster.port, proxy.port))
    assert messages[1] == messages[0]
    assert f'password authentication failed for user "{user}"' in messages[0]


def test_scram_channel_binding_both_legs_tls(
    cluster: LocalCluster, tls_upstream_proxy: ProxyProcess
) -> None:
    """SCRAM channel binding cannot survive TLS termination; the proxy says so clearly.

    The proxy hides SCRAM-SHA-256-PLUS (binding to its certificate could never
    verify). A TLS client then answers "y" (could bind, server seems unable),
    which a server on TLS rightly rejects as a downgrade; the client's proof
    covers that flag, so nobody in the middle can change it. Only
    channel_binding=disable can authenticate over TLS on both legs.
    """
    if not cluster.install.supports_ssl:
        pytest.skip("this PostgreSQL is built without SSL")
    auth = {"user": SCRAM_USER, "password": SCRAM_PASSWORD, "sslmode": "require"}
    # Straight to PostgreSQL over TLS, channel binding works: the server offers -PLUS.
    with psycopg.connect(direct_dsn(cluster, channel_binding="require", **auth)) as conn:
        assert conn.execute(UPSTREAM_SSL).fetchone() == (True,)

    dsn = tls_upstream_proxy.dsn(channel_binding="disable", **auth)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute(UPSTREAM_SSL).fetchone() == (True,)
        assert conn.execute("select current_user").fetchone() == (SCRAM_USER,)

    with pytest.raises(psycopg.OperationalError, match="skewguard: SCRAM channel binding cannot"):
        psycopg.connect(tls_upstream_proxy.dsn(channel_binding="prefer", **auth))
    with pytest.raises(psycopg.OperationalError, match=NO_CHANNEL_BINDING):
        psycopg.connect(tls_upstream_proxy.dsn(channel_binding="require", **auth))
    # md5 has no channel binding: it works over TLS on both legs.
    md5 = tls_upstream_proxy.dsn(user=MD5_USER, password=MD5_PASSWORD, sslmode="require")
    with psycopg.connect(md5) as conn:
        assert conn.execute("select current_user").fetchone() == (MD5_USER,)


def test_scram_channel_binding_client_tls_only(proxy: ProxyProcess) -> None:
    auth = {"user": SCRAM_USER, "password": SCRAM_PASSWORD, "sslmode": "require"}
    with psycopg.connect(proxy.dsn(channel_binding="prefer", **auth), autocommit=True) as conn:
        assert conn.execute("select current_user").fetchone() == (SCRAM_USER,)
    with pytest.raises(psycopg.OperationalError, match=NO_CHANNEL_BINDING):
        psycopg.connect(proxy.dsn(channel_binding="require", **auth))


def test_upstream_verified_against_the_urls_root_certificate(
    cluster: LocalCluster, certs: Certificates, tmp_path: Path
) -> None:
    """sslrootcert in --upstream, as libpq reads it: verify-full against that CA works;
    without it (the system store) or with another CA under sslmode=require (which then
    verifies as verify-ca), the upstream is refused; a missing file fails the start."""
    if not cluster.install.supports_ssl:
        pytest.skip("this PostgreSQL is built without SSL")
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))

    def proxy(**params: str) -> ProxyProcess:
        return ProxyProcess(upstream=cluster.url(**params), logfile=tmp_path / "proxy.log").start()

    verified = proxy(sslmode="verify-full", sslrootcert=str(certs.ca))
    try:
        with psycopg.connect(verified.dsn(sslmode="disable"), autocommit=True) as conn:
            assert conn.execute(UPSTREAM_SSL).fetchone() == (True,)
    finally:
        verified.stop()
    for params in ({"sslmode": "verify-full"}, {"sslmode": "require", "sslrootcert": str(other)}):
        refused = proxy(**params)
        try:
            with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
                psycopg.connect(refused.dsn(sslmode="disable"), connect_timeout=10)
        finally:
            refused.stop()
    with pytest.raises(RuntimeError, match="sslrootcert in --upstream: no such file"):
        proxy(sslmode="verify-ca", sslrootcert=str(tmp_path / "missing.pem"))
