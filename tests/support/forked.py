"""``skewguard`` CLI processes forked from a server that has imported the proxy already.

``python -m skewguard run`` spends ~1.5 s of CPU importing the proxy (aiohttp, psycopg,
asyncpg, pglast, the rules) before it listens, and the suite starts hundreds of proxies.
A forkserver that preloads ``skewguard.app`` once per test process hands out children
that start in milliseconds. Each child is a whole separate process running
``skewguard.cli.main`` with its own argv, environment, working directory and log file,
so a test sees what it would see from ``python -m skewguard``: the same code from the
same entry point, only not re-imported.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from multiprocessing.context import ForkServerContext
from pathlib import Path

_PRELOAD = ["skewguard.app", "skewguard.cli"]
_context: ForkServerContext | None = None


def _forkserver() -> ForkServerContext:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(_PRELOAD)
    return _context


def _main(
    argv: list[str],
    environ: dict[str, str],
    cwd: str,
    logfile: str | None,
    errfile: str | None = None,
) -> None:
    """The child: the log on stdout and stderr (stderr on ``errfile`` when given), the
    caller's environment, then the CLI."""
    for stream, target in ((1, logfile), (2, errfile or logfile)):
        fd = os.open(target or os.devnull, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, stream)
        os.close(fd)
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    sys.argv = ["skewguard", *argv]
    from skewguard.cli import main

    try:
        code = main(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(code)


class ForkedProcess:
    """``subprocess.Popen``'s interface, as far as the tests use it, over a forked child."""

    def __init__(
        self,
        argv: Sequence[str],
        environ: dict[str, str],
        logfile: Path | None,
        errfile: Path | None = None,
    ) -> None:
        files = [str(f) if f else None for f in (logfile, errfile)]
        self._process = _forkserver().Process(
            target=_main, args=(list(argv), environ, os.getcwd(), *files)
        )
        self._process.start()
        assert self._process.pid is not None
        self.pid: int = self._process.pid
        self.args = list(argv)

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(["skewguard", *self.args], timeout or 0.0)
        return code

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def run(
    argv: Sequence[str], environ: dict[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """What ``subprocess.run([sys.executable, "-m", "skewguard", *argv],
    capture_output=True, text=True)`` gives, from a forked child (no ~1.5 s of imports):
    for tests whose subject is what a command does, not how ``python -m skewguard``
    starts (the CLI's own tests still run that)."""
    with tempfile.TemporaryDirectory(prefix="skewguard-cli-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        child = ForkedProcess(argv, dict(os.environ if environ is None else environ), out, err)
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise
        read = [f.read_text(errors="replace") if f.exists() else "" for f in (out, err)]
    return subprocess.CompletedProcess(["skewguard", *argv], code, read[0], read[1])
