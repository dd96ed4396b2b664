"""`run --workers N` listens with SO_REUSEPORT; that must not let it join a port in use."""

from __future__ import annotations

import errno
import socket

import pytest

from skewguard.config import Settings
from skewguard.pgcluster import free_port
from skewguard.workers import listen_sockets


def test_a_second_set_of_workers_cannot_share_the_port() -> None:
    settings = Settings(listen=f"127.0.0.1:{free_port()}", workers=2)
    first = listen_sockets(settings)
    try:
        with pytest.raises(OSError) as refused:
            listen_sockets(settings)  # a second `run --workers 2` on the same --listen
        assert refused.value.errno == errno.EADDRINUSE
    finally:
        for sock in first:
            sock.close()
    again = listen_sockets(settings)  # free again once the first stopped
    assert len(again) == 2 and all(isinstance(s, socket.socket) for s in again)
    for sock in again:
        sock.close()
