"""offload's thread pool: work and its errors come back; the exit does not wait for it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from skewguard.offload import DaemonPool, in_thread


async def test_work_runs_in_another_thread_and_its_error_comes_back() -> None:
    assert await in_thread(threading.get_ident) != threading.get_ident()

    def fails() -> None:
        raise ValueError("bad text")

    with pytest.raises(ValueError, match="bad text"):
        await in_thread(fails)


def test_the_pool_starts_no_more_threads_than_its_limit() -> None:
    pool = DaemonPool(2)
    release = threading.Event()
    futures = [pool.submit(release.wait, 10) for _ in range(5)]
    names = [t for t in threading.enumerate() if t.name == "skewguard-offload"]
    release.set()
    assert all(f.result(10) for f in futures)
    assert pool._threads == 2
    assert all(t.daemon for t in names)


def test_the_exit_does_not_wait_for_work_still_running() -> None:
    """A process whose loop stopped waiting for a long analysis ends at once (a default
    executor's thread would be joined: 30 s here)."""
    code = (
        "import asyncio, time\n"
        "from skewguard.offload import in_thread\n"
        "async def main():\n"
        "    try:\n"
        "        await asyncio.wait_for(in_thread(lambda: time.sleep(30)), 0.2)\n"
        "    except TimeoutError:\n"
        "        pass\n"
        "asyncio.run(main())\n"
    )
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True, timeout=25)
    assert time.monotonic() - began < 10
