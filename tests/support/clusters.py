"""Throwaway PostgreSQL clusters for the suite, one per available major version."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from skewguard.pgcluster import LocalCluster, PgInstall, embedded_install, system_installs

MD5_USER, MD5_PASSWORD = "md5user", "md5-secret"
SCRAM_USER, SCRAM_PASSWORD = "scramuser", "scram-secret"

HBA = [
    "local all all trust",
    f"host all {MD5_USER} 127.0.0.1/32 md5",
    f"host all {SCRAM_USER} 127.0.0.1/32 scram-sha-256",
    "host all all 127.0.0.1/32 trust",
    "host replication all 127.0.0.1/32 trust",
]


@dataclass
class Certificates:
    """A throwaway CA and a certificate for localhost/127.0.0.1."""

    directory: Path
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, directory: Path) -> Certificates:
        authority = trustme.CA()
        issued = authority.issue_cert("localhost", "127.0.0.1")
        paths = cls(directory, directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
        authority.cert_pem.write_to_path(str(paths.ca))
        issued.cert_chain_pems[0].write_to_path(str(paths.cert))
        issued.private_key_pem.write_to_path(str(paths.key))
        return paths


def available_installs() -> list[PgInstall]:
    """Newest system install and the embedded wheel's (different majors only)."""
    installs: list[PgInstall] = []
    system = system_installs()
    if system:
        installs.append(system[-1])
    embedded = embedded_install()
    if embedded and all(embedded.major != i.major for i in installs):
        installs.append(embedded)
    return installs


def one_major() -> pytest.MarkDecorator:
    """The ``cluster`` fixture on the first available major only (the system's, with TLS),
    for a test of the proxy's own behaviour (its supervisor, admin API, CLI client,
    shutdown), which does not depend on the PostgreSQL major behind it."""
    first = available_installs()[:1]
    ids = [f"pg{install.major}" for install in first]
    return pytest.mark.parametrize("cluster", first, indirect=True, ids=ids)


def start_cluster(install: PgInstall, certs: Certificates) -> LocalCluster:
    root = Path(tempfile.mkdtemp(prefix=f"skewguard-pg{install.major}-"))
    cluster = LocalCluster(install, root / "data")
    cluster.init(
        hba=HBA,
        conf={"wal_level": "logical", "max_wal_senders": "4", "max_connections": "300"},
        ssl_cert=certs.cert if install.supports_ssl else None,
        ssl_key=certs.key if install.supports_ssl else None,
    )
    cluster.start()
    cluster.psql(
        f"SET password_encryption = 'md5'; CREATE ROLE {MD5_USER} LOGIN PASSWORD '{MD5_PASSWORD}';"
        f"SET password_encryption = 'scram-sha-256';"
        f"CREATE ROLE {SCRAM_USER} LOGIN PASSWORD '{SCRAM_PASSWORD}';"
        f"GRANT ALL ON SCHEMA public TO PUBLIC;"
    )
    return cluster
