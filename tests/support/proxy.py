"""A real ``skewguard run`` process for tests to talk through."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from skewguard.pgcluster import free_port
from tests.support.forked import ForkedProcess


class PortTaken(RuntimeError):
    """The proxy could not bind a port chosen for it."""


#: Every proxy process a test started, so none outlives the test session.
STARTED: list[ForkedProcess] = []


def kill_leftovers() -> None:
    for process in STARTED:
        if process.poll() is None:
            process.kill()
            process.wait()
    STARTED.clear()


@dataclass
class ProxyProcess:
    """``skewguard run`` in a process of its own (forked ready-imported: forked.py), on
    free loopback ports."""

    upstream: str
    extra_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    admin_host: str = "127.0.0.1"  # where the admin server listens; tests reach it on 127.0.0.1
    logfile: Path | None = None
    state: Path | None = None  # the SQLite state file; a fresh temporary one when None
    process: ForkedProcess | None = None

    def start(self, timeout: float = 60.0) -> ProxyProcess:
        try:
            return self._start(timeout)
        except PortTaken:
            # A port picked as free was taken (by an ephemeral client port) before the
            # proxy bound it: pick two new ones, once.
            self.port, self.admin_port = free_port(), free_port()
            return self._start(timeout)

    def _start(self, timeout: float) -> ProxyProcess:
        if self.state is None:
            self.state = Path(tempfile.mkdtemp(prefix="skewguard-state-")) / "state.db"
        args = [
            "run",
            "--upstream", self.upstream,
            "--listen", f"127.0.0.1:{self.port}",
            "--admin-listen", f"{self.admin_host}:{self.admin_port}",
            "--shutdown-grace", "2s",
            "--state", str(self.state),
            *self.extra_args,
        ]  # fmt: skip
        self.process = ForkedProcess(args, {**os.environ, **self.env}, self.logfile)
        STARTED.append(self.process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_tail()
                last_line = tail.strip().rsplit("\n", 1)[-1]
                if "address already in use" in last_line:
                    raise PortTaken(tail)
                raise RuntimeError(f"proxy exited with {self.process.returncode}: {tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.admin_port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"proxy did not start: {self.log_tail()}")

    def log_tail(self) -> str:
        if self.logfile and self.logfile.exists():
            return self.logfile.read_text(errors="replace")[-4000:]
        return ""

    def url(self, user: str = "postgres", database: str = "postgres", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        base = f"postgresql://{user}@127.0.0.1:{self.port}/{database}"
        return f"{base}?{query}" if query else base

    def dsn(self, **params: str) -> str:
        """A libpq keyword DSN (psycopg, psql) through the proxy."""
        merged = {
            "host": "127.0.0.1",
            "port": str(self.port),
            "user": "postgres",
            "dbname": "postgres",
            **params,
        }
        return " ".join(f"{k}='{v}'" for k, v in merged.items())

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.admin_url + path, timeout=5) as response:
            return str(response.read().decode())

    def versions(self, *, facets: bool = True) -> dict[tuple[str, str, str], dict[str, Any]]:
        """/api/versions keyed by (database, app, version), every page of it."""
        rows: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = json.loads(
                self.get(f"/api/versions?offset={offset}" + ("" if facets else "&facets=0"))
            )
            rows.extend(page["versions"])
            offset = page["next_offset"]
        return {(r["database"], r["app"], r["version"]): r for r in rows}

    def footprint(self, database: str, app: str, version: str) -> set[str]:
        """The facet keys learned for one version."""
        row = self.versions().get((database, app, version))
        return {f["facet"] for f in row["facets"]} if row else set()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Samples from /metrics keyed by (name, sorted labels)."""
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(self.get("/metrics")):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def stop(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def restarted(self) -> ProxyProcess:
        """A new process with the same ports, state and options (this one must be gone)."""
        return ProxyProcess(
            upstream=self.upstream,
            extra_args=self.extra_args,
            env=self.env,
            port=self.port,
            admin_port=self.admin_port,
            admin_host=self.admin_host,
            logfile=self.logfile,
            state=self.state,
        ).start()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None
