"""The client side of PostgreSQL's password authentication, bytes in and bytes out.

The proxy relays its clients' authentication untouched; only its own raw
side connection (``scratch.py``: the trial of ``check --replay``, which needs
the extended protocol with sampled values exactly as sent) authenticates
itself, with the upstream URL's password: cleartext, MD5 or SCRAM-SHA-256
(RFC 5802/7677 through scramp, no channel binding, as libpq with
``channel_binding=prefer`` on a connection whose TLS it does not bind). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import struct

import scramp

from skewguard.wire import messages as m
from skewguard.wire.errors import ProtocolViolation

AUTH_CLEARTEXT = 3
AUTH_MD5 = 5
AUTH_SASL_CONTINUE = 11
AUTH_SASL_FINAL = 12
SCRAM = "SCRAM-SHA-256"


class AuthFailed(Exception):
    """The server asked for what the proxy cannot answer, or proved nothing."""


def password_message(secret: str) -> bytes:
    """PasswordMessage ('p') carrying ``secret``."""
    return m.frame(b"p", secret.encode() + b"\x00")


def md5_response(user: str, password: str, salt: bytes) -> bytes:
    """The answer to AuthenticationMD5Password: md5(md5(password + user) + salt)."""
    inner = hashlib.md5(password.encode() + user.encode(), usedforsecurity=False).hexdigest()
    outer = hashlib.md5(inner.encode() + salt, usedforsecurity=False).hexdigest()
    return password_message("md5" + outer)


class ScramClient:
    """One SCRAM-SHA-256 exchange (the mathematics is scramp's): ``first`` →
    ``final(server_first)`` → ``verify``. PostgreSQL ignores the SCRAM user name (it
    authenticates the startup ``user``); ``user`` is sent as libpq-style clients do."""

    def __init__(self, user: str, password: str, nonce: str | None = None) -> None:
        self._exchange = scramp.ScramClient([SCRAM], user or "-", password, c_nonce=nonce)

    def first(self) -> bytes:
        """SASLInitialResponse: the mechanism and the client-first message."""
        data = self._exchange.get_client_first().encode()
        return m.frame(b"p", SCRAM.encode() + b"\x00" + struct.pack("!i", len(data)) + data)

    def final(self, server_first: bytes) -> bytes:
        """SASLResponse with the proof, from AuthenticationSASLContinue's data."""
        try:
            self._exchange.set_server_first(server_first.decode())
            return m.frame(b"p", self._exchange.get_client_final().encode())
        except (scramp.ScramException, UnicodeDecodeError, ValueError) as exc:
            raise AuthFailed(f"the server's SCRAM challenge is malformed: {exc}") from None

    def verify(self, server_final: bytes) -> None:
        """AuthenticationSASLFinal must carry the server's signature (it knows the password)."""
        try:
            self._exchange.set_server_final(server_final.decode())
        except (scramp.ScramException, UnicodeDecodeError, ValueError) as exc:
            raise AuthFailed(f"the server's SCRAM signature does not match: {exc}") from None


def sasl_data(body: bytes) -> bytes:
    """The data of AuthenticationSASLContinue/Final (after the request code)."""
    if len(body) < 4:
        raise ProtocolViolation("invalid authentication message")
    return body[4:]


__all__ = [
    "AUTH_CLEARTEXT",
    "AUTH_MD5",
    "AUTH_SASL_CONTINUE",
    "AUTH_SASL_FINAL",
    "SCRAM",
    "AuthFailed",
    "ScramClient",
    "md5_response",
    "password_message",
    "sasl_data",
]
