"""`skewguard run` given something it cannot use: one line naming the setting and what to
do, exit 2, no traceback — the first thing a new user meets when a port is taken."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from skewguard.pgcluster import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def taken() -> Iterator[str]:
    """A loopback address another process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def _run(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    defaults = {
        "--upstream": f"postgresql://postgres@127.0.0.1:{free_port()}/postgres",
        "--listen": f"127.0.0.1:{free_port()}",
        "--admin-listen": f"127.0.0.1:{free_port()}",
        "--state": str(tmp_path / "state.db"),
    }
    given = dict(zip(flags[::2], flags[1::2], strict=True))
    argv = [arg for pair in {**defaults, **given}.items() for arg in pair]
    return subprocess.run(
        [sys.executable, "-m", "skewguard", "run", *argv],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("skewguard:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("flag", ["--listen", "--admin-listen"])
def test_an_address_in_use_names_the_flag(tmp_path: Path, taken: str, flag: str) -> None:
    line = _one_line(_run(tmp_path, flag, taken))
    assert f"{flag} {taken}: cannot listen: another process listens there" in line
    assert line.endswith(f"choose another {flag}")


def test_an_address_of_no_interface(tmp_path: Path) -> None:
    line = _one_line(_run(tmp_path, "--listen", f"192.0.2.1:{free_port()}"))  # TEST-NET-1
    assert "no network interface of this machine has that address" in line


def test_a_state_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    line = _one_line(_run(tmp_path, "--state", str(tmp_path / "file" / "state.db")))
    assert f"cannot create the folder of state file {tmp_path / 'file' / 'state.db'}" in line
    assert line.endswith("check --state")


def test_a_missing_tls_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "none.crt", tmp_path / "none.key"
    line = _one_line(_run(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key)))
    assert f"cannot load TLS certificate {cert}" in line and "No such file" in line


def test_a_bad_config_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[run]\nmode = "enforce\n')
    assert f"cannot read config file {broken}" in _one_line(_run(tmp_path, "--config", str(broken)))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[run]\nmod = "enforce"\n')
    assert "unknown setting(s) in [run]: mod" in _one_line(_run(tmp_path, "--config", str(unknown)))
