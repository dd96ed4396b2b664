"""Session fixtures: real PostgreSQL clusters (system 15 and embedded 18) and proxies."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clusters import Certificates, available_installs, start_cluster
from tests.support.proxy import ProxyProcess, kill_leftovers

INSTALLS = available_installs()


@pytest.fixture(scope="session", autouse=True)
def no_leftover_proxies() -> Iterator[None]:
    """Whatever a test forgot to stop is killed when the session ends."""
    yield
    kill_leftovers()


@pytest.fixture(scope="session")
def certs() -> Iterator[Certificates]:
    directory = Path(tempfile.mkdtemp(prefix="skewguard-certs-"))
    yield Certificates.make(directory)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session", params=INSTALLS, ids=[f"pg{i.major}" for i in INSTALLS])
def cluster(request: pytest.FixtureRequest, certs: Certificates) -> Iterator[LocalCluster]:
    """A throwaway cluster per PostgreSQL major version available on this machine."""
    started = start_cluster(request.param, certs)
    yield started
    started.stop()
    shutil.rmtree(started.datadir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def proxy(
    cluster: LocalCluster, certs: Certificates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    """A proxy with client TLS, in front of the cluster (upstream sslmode=disable)."""
    logdir = tmp_path_factory.mktemp(f"proxy-pg{cluster.install.major}")
    running = ProxyProcess(
        upstream=cluster.url(sslmode="disable"),
        extra_args=["--tls-cert", str(certs.cert), "--tls-key", str(certs.key)],
        logfile=logdir / "proxy.log",
    ).start()
    yield running
    code = running.stop()
    assert code == 0, f"proxy exited with {code}: {running.log_tail()}"
