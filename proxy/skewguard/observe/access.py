"""Who may do what on the admin API. Pure: every refusal is tested without sockets.

Reads (GET, HEAD) and changes (every other method: pin, unpin, retire, check)
are separate privileges. A change needs the write token; without one configured
it is allowed only when the admin listener is loopback-only. Reads are open
unless a read token is configured (the write token grants reads too).

Changes are also refused when they look cross-site: no Host header, an Origin
that is not the Host, a browser's ``Sec-Fetch-Site`` other than same-origin or
none (a user's own navigation), or a body that is not ``application/json`` (a browser
sends a form or text/plain POST anywhere without asking first). Whatever is let
in by the loopback rule alone (no token asked) must name a loopback Host, so a
web page that rebinds its own DNS name to 127.0.0.1 gets nothing either.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from skewguard.config import ADMIN_READ_TOKEN_ENV, ADMIN_TOKEN_ENV, AdminTokens

#: Liveness and readiness probes answer everyone: they say nothing about the data.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
READ_METHODS = frozenset({"GET", "HEAD"})
#: Sec-Fetch-Site values of a request a page of the admin server itself (or no page) made.
_OWN_FETCHES = frozenset({"same-origin", "none"})

NO_WRITE_TOKEN = (
    "changes through the admin API need a token when it listens beyond loopback: start "
    f"skewguard with --admin-token-file FILE (or {ADMIN_TOKEN_ENV}) and send "
    "'Authorization: Bearer <token>'"
)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # HTTP status
    message: str


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    tokens: AdminTokens
    loopback_only: bool  # every address the admin server listens on is a loopback one

    def check(
        self,
        method: str,
        path: str,
        *,
        host: str | None,
        origin: str | None = None,
        content_type: str | None = None,
        authorization: str | None = None,
        fetch_site: str | None = None,
    ) -> Refusal | None:
        """None when the request may go on; otherwise why not."""
        if path in OPEN_PATHS:
            return None
        token = _bearer(authorization)
        if method.upper() in READ_METHODS:
            return self._read(token, host)
        if fetch_site is not None and fetch_site.strip().lower() not in _OWN_FETCHES:
            return Refusal(403, f"cross-site request refused: Sec-Fetch-Site {fetch_site}")
        return self._change(token, host, origin, content_type)

    def _read(self, token: str | None, host: str | None) -> Refusal | None:
        read, write = self.tokens.read, self.tokens.write
        if read is None:
            return self._tokenless(host)
        if token is None:
            return Refusal(
                401,
                "admin API reads need a token: send 'Authorization: Bearer <token>' with the "
                f"--admin-read-token-file token (or {ADMIN_READ_TOKEN_ENV}, or the write token)",
            )
        if _matches(token, read) or (write is not None and _matches(token, write)):
            return None
        return Refusal(401, "wrong admin API token")

    def _change(
        self, token: str | None, host: str | None, origin: str | None, content_type: str | None
    ) -> Refusal | None:
        if not host:
            return Refusal(400, "a Host header is required")
        if origin is not None and not same_origin(origin, host):
            return Refusal(403, f"cross-origin request refused: Origin {origin} is not {host}")
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            return Refusal(415, "changes must be sent with Content-Type: application/json")
        write = self.tokens.write
        if write is None:
            if not self.loopback_only:
                return Refusal(403, NO_WRITE_TOKEN)
            return self._tokenless(host)
        if token is None:
            return Refusal(
                401,
                "admin API changes need a token: send 'Authorization: Bearer <token>' with "
                f"the --admin-token-file token (or {ADMIN_TOKEN_ENV})",
            )
        if _matches(token, write):
            return None
        if self.tokens.read is not None and _matches(token, self.tokens.read):
            return Refusal(403, "this token grants reads only; changes need the write token")
        return Refusal(401, "wrong admin API token")

    def _tokenless(self, host: str | None) -> Refusal | None:
        """A request no token was asked for: on a loopback listener, only for loopback names."""
        if self.loopback_only and not loopback_host(host):
            return Refusal(
                403,
                f"Host {host!r} is not a loopback name; this admin API listens on loopback "
                "only and is reached as localhost, 127.0.0.1 or [::1]",
            )
        return None

    @property
    def warning(self) -> str | None:
        """What an operator should hear at start about this configuration, if anything."""
        if self.loopback_only:
            return None
        gaps = []
        if self.tokens.write is None:
            gaps.append("changes are refused (no --admin-token-file)")
        if self.tokens.read is None and self.tokens.write is None:
            gaps.append("reads are open to anyone who can connect (no --admin-read-token-file)")
        elif self.tokens.read is None:
            gaps.append("reads need no token (no --admin-read-token-file)")
        if not gaps:
            return None
        return "the admin API listens beyond loopback: " + "; ".join(gaps)


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _split_host(host: str) -> tuple[str, int | None]:
    """``name[:port]`` or ``[v6][:port]`` → (name, port)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    return name.lower(), int(port) if port.isdigit() else None


def loopback_host(host: str | None) -> bool:
    """Whether a Host header names this machine's loopback (never resolved through DNS)."""
    if not host:
        return False
    name, _ = _split_host(host.strip())
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's Origin header is the admin server's own Host."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False  # "null" (sandboxed pages, file:) and anything odd
    default = 443 if parts.scheme == "https" else 80
    name, port = _split_host(host.strip())
    return (parts.hostname.lower(), parts.port or default) == (name, port or default)


def loopback_listener(host: str) -> bool:
    """Whether binding ``host`` listens on loopback addresses only (names are resolved)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)
