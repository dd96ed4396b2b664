"""TLS on top of an existing connection, driven by the session itself.

The proxy terminates client TLS after an SSLRequest and also for PostgreSQL
17's direct SSL, where the first bytes read are already the ClientHello. An
``ssl.SSLObject`` over memory BIOs handles both alike (and the upstream leg
too): bytes read from the socket go in, plaintext and bytes to send come out.
No bytes are ever read past the point where TLS starts.
"""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path

ALPN_POSTGRESQL = "postgresql"


class TlsEndpoint:
    """One side of a TLS session over a transport the caller owns."""

    __slots__ = ("_in", "_obj", "_out", "handshake_done")

    def __init__(
        self, context: ssl.SSLContext, *, server_side: bool, server_hostname: str | None = None
    ) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = context.wrap_bio(
            self._in, self._out, server_side=server_side, server_hostname=server_hostname
        )
        self.handshake_done = False

    def start(self) -> bytes:
        """Begin the handshake (client side sends first); return bytes to send."""
        self._handshake()
        return self._out.read()

    def receive(self, data: bytes) -> tuple[bytes, bytes]:
        """Feed ciphertext read from the socket; return (plaintext, bytes to send)."""
        self._in.write(data)
        if not self.handshake_done:
            self._handshake()
            if not self.handshake_done:
                return b"", self._out.read()
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self._obj.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), self._out.read()

    def send(self, plaintext: bytes) -> bytes:
        """Encrypt bytes for the peer."""
        self._obj.write(plaintext)
        return self._out.read()

    def close_notify(self) -> bytes:
        """Begin a TLS shutdown; return the close_notify alert to send (b"" if none).

        Peers such as libpq's cancel connection treat an EOF without it as an error.
        """
        if not self.handshake_done:
            return b""
        with contextlib.suppress(ssl.SSLError):  # incl. want-read: the peer's is not awaited
            self._obj.unwrap()
        return self._out.read()

    @property
    def alpn(self) -> str | None:
        return self._obj.selected_alpn_protocol()

    def _handshake(self) -> None:
        try:
            self._obj.do_handshake()
        except ssl.SSLWantReadError:
            return
        self.handshake_done = True


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The context for client-facing TLS; advertises the ``postgresql`` ALPN."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(Path(cert), Path(key))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from exc
    context.set_alpn_protocols([ALPN_POSTGRESQL])
    return context


def upstream_context(
    sslmode: str,
    *,
    rootcert: str | None = None,
    cert: str | None = None,
    key: str | None = None,
) -> ssl.SSLContext:
    """The context for the upstream leg; verification follows libpq's sslmode.

    As libpq: ``sslrootcert`` names the CA file to verify against (``system``: the
    system store), and with one, ``require`` verifies the chain as ``verify-ca``
    does; ``sslcert``/``sslkey`` present a client certificate.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_alpn_protocols([ALPN_POSTGRESQL])
    if sslmode == "require" and rootcert not in (None, "system"):
        sslmode = "verify-ca"
    if sslmode in ("verify-full", "verify-ca"):
        context.check_hostname = sslmode == "verify-full"
        if rootcert is None or rootcert == "system":
            context.load_default_certs()
        else:
            context.load_verify_locations(cafile=rootcert)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None and key is not None:
        context.load_cert_chain(cert, key)
    return context
