"""Session fixtures: real PostgreSQL clusters (system 15 and embedded 18) and proxies."""

from __future__ import annotations

import compileall
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import skewguard
from skewguard.pgcluster import LocalCluster, PgInstall
from tests.support.clusters import Certificates, available_installs, start_cluster
from tests.support.proxy import ProxyProcess, kill_leftovers

INSTALLS = available_installs()


def pytest_configure(config: pytest.Config) -> None:
    """Bytecode is written (into the git-ignored ``__pycache__``) even under
    ``PYTHONDONTWRITEBYTECODE``, which would otherwise make every run pay again:

    - the suite starts hundreds of ``skewguard`` processes (proxies, the CLI), each of
      which compiled the package's ~150 modules, ~0.6 s of CPU apiece: the xdist
      controller compiles them once (workers find it done);
    - each pytest process rewrote and compiled every test module's asserts while
      collecting, ~9 s of CPU per process: pytest keeps them when it may write.

    A tree that is not writable only misses the saving."""
    sys.dont_write_bytecode = False
    if not hasattr(config, "workerinput"):
        compileall.compile_dir(Path(skewguard.__file__).parent, quiet=2)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadfile`` with ground truth's majors as separate units (SpreadMajors)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.support.scheduling import SpreadMajors  # xdist is there: it calls this

    return SpreadMajors(config, log)


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
def cluster(
    request: pytest.FixtureRequest, certs: Certificates, started_clusters: dict[int, LocalCluster]
) -> LocalCluster:
    """A throwaway cluster per PostgreSQL major version available on this machine."""
    install: PgInstall = request.param
    if install.major not in started_clusters:
        started_clusters[install.major] = start_cluster(install, certs)
    return started_clusters[install.major]


@pytest.fixture(scope="session")
def started_clusters() -> Iterator[dict[int, LocalCluster]]:
    """The clusters started so far, by major, stopped when the session ends. pytest tears
    a parametrized session fixture down whenever the next test wants the other major
    (an xdist worker running whole files alternates), so ``cluster`` keeps them here."""
    started: dict[int, LocalCluster] = {}
    yield started
    for running in started.values():
        running.stop()
        shutil.rmtree(running.datadir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def proxy(
    cluster: LocalCluster,
    certs: Certificates,
    tmp_path_factory: pytest.TempPathFactory,
    started_proxies: dict[int, ProxyProcess],
) -> ProxyProcess:
    """A proxy with client TLS, in front of the cluster (upstream sslmode=disable)."""
    major = cluster.install.major
    if major not in started_proxies:
        logdir = tmp_path_factory.mktemp(f"proxy-pg{major}")
        started_proxies[major] = ProxyProcess(
            upstream=cluster.url(sslmode="disable"),
            extra_args=["--tls-cert", str(certs.cert), "--tls-key", str(certs.key)],
            logfile=logdir / "proxy.log",
        ).start()
    return started_proxies[major]


@pytest.fixture(scope="session")
def started_proxies(
    started_clusters: dict[int, LocalCluster],
) -> Iterator[dict[int, ProxyProcess]]:
    """The shared proxies started so far, by major (kept for the session, as the clusters
    they front are); each must exit cleanly at the end."""
    started: dict[int, ProxyProcess] = {}
    yield started
    exits = {major: running.stop() for major, running in started.items()}
    failed = {major: started[major].log_tail() for major, code in exits.items() if code != 0}
    assert not failed, f"proxies exited uncleanly: {exits} {failed}"
