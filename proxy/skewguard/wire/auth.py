"""The client side of PostgreSQL's password authentication, bytes in and bytes out.

The proxy relays its clients' authentication untouched; only its own raw
side connection (``scratch.py``: the trial of ``check --replay``, which needs
the extended protocol with sampled values exactly as sent) authenticates
itself, with the upstream URL's password: cleartext, MD5 or SCRAM-SHA-256
(RFC 5802/7677, no channel binding, as libpq with ``channel_binding=prefer``
on a connection whose TLS it does not bind). Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct

from skewguard.wire import messages as m
from skewguard.wire.errors import ProtocolViolation

AUTH_CLEARTEXT = 3
AUTH_MD5 = 5
AUTH_SASL_CONTINUE = 11
AUTH_SASL_FINAL = 12
SCRAM = "SCRAM-SHA-256"
_GS2 = "n,,"  # no channel binding, no authorization identity


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


def _hmac(key: bytes, text: bytes) -> bytes:
    return hmac.new(key, text, hashlib.sha256).digest()


class ScramClient:
    """One SCRAM-SHA-256 exchange: ``first`` → ``final(server_first)`` → ``verify``."""

    def __init__(self, password: str, nonce: str | None = None) -> None:
        self._password = password.encode()
        self._nonce = nonce or base64.b64encode(secrets.token_bytes(18)).decode()
        self._bare = f"n=,r={self._nonce}"
        self._server_signature = b""

    def first(self) -> bytes:
        """SASLInitialResponse: the mechanism and the client-first message."""
        data = (_GS2 + self._bare).encode()
        return m.frame(b"p", SCRAM.encode() + b"\x00" + struct.pack("!i", len(data)) + data)

    def final(self, server_first: bytes) -> bytes:
        """SASLResponse with the proof, from AuthenticationSASLContinue's data."""
        text = server_first.decode()
        fields = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
        nonce, salt, rounds = fields.get("r", ""), fields.get("s"), fields.get("i", "")
        if not nonce.startswith(self._nonce) or salt is None or not rounds.isdigit():
            raise AuthFailed("the server's SCRAM challenge is malformed")
        salted = hashlib.pbkdf2_hmac("sha256", self._password, base64.b64decode(salt), int(rounds))
        client_key = _hmac(salted, b"Client Key")
        binding = base64.b64encode(_GS2.encode()).decode()
        without_proof = f"c={binding},r={nonce}"
        message = f"{self._bare},{text},{without_proof}".encode()
        signature = _hmac(hashlib.sha256(client_key).digest(), message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), message)
        answer = f"{without_proof},p={base64.b64encode(proof).decode()}"
        return m.frame(b"p", answer.encode())

    def verify(self, server_final: bytes) -> None:
        """AuthenticationSASLFinal must carry the server's signature (it knows the password)."""
        text = server_final.decode()
        if not text.startswith("v=") or not hmac.compare_digest(
            base64.b64decode(text[2:]), self._server_signature
        ):
            raise AuthFailed("the server's SCRAM signature does not match")


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
