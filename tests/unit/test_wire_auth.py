"""The client side of password authentication (wire/auth.py), bytes only; the real
exchanges with PostgreSQL are in tests/integration/test_scratch.py."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from skewguard.wire.auth import AuthFailed, ScramClient, md5_response

SERVER_FIRST = b"r=abcdefSERVER,s=" + base64.b64encode(b"sixteen-byte-slt") + b",i=4096"


def _body(message: bytes) -> bytes:
    return message[5:]


def test_md5_answers_as_libpq_does() -> None:
    inner = hashlib.md5(b"secretalice").hexdigest()
    expected = "md5" + hashlib.md5(inner.encode() + b"\x01\x02\x03\x04").hexdigest()
    assert _body(md5_response("alice", "secret", b"\x01\x02\x03\x04")) == (
        expected.encode() + b"\x00"
    )


def test_scram_proof_is_what_a_server_holding_the_password_checks() -> None:
    client = ScramClient("alice", "pencil", nonce="abcdef")
    assert _body(client.first()).endswith(b"n,,n=alice,r=abcdef")
    final = _body(client.final(SERVER_FIRST)).decode()
    without_proof, proof = final.rsplit(",p=", 1)
    assert without_proof == "c=biws,r=abcdefSERVER"
    # the server's side of RFC 5802: ClientKey = proof XOR HMAC(H(ClientKey), AuthMessage)
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", b"sixteen-byte-slt", 4096)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    message = f"n=alice,r=abcdef,{SERVER_FIRST.decode()},{without_proof}".encode()
    signature = hmac.new(stored, message, "sha256").digest()
    key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
    assert hashlib.sha256(key).digest() == stored
    server = hmac.new(hmac.new(salted, b"Server Key", "sha256").digest(), message, "sha256")
    client.verify(b"v=" + base64.b64encode(server.digest()))


def test_scram_refuses_a_server_that_proves_nothing() -> None:
    client = ScramClient("alice", "pencil", nonce="abcdef")
    client.first()
    client.final(SERVER_FIRST)
    with pytest.raises(AuthFailed):
        client.verify(b"v=" + base64.b64encode(b"\x00" * 32))


def test_scram_refuses_a_challenge_not_extending_its_nonce() -> None:
    with pytest.raises(AuthFailed):
        client = ScramClient("alice", "pencil", nonce="abcdef")
        client.first()
        client.final(b"r=other,s=c2l4dGVlbi1ieXRlLXNsdA==,i=4096")
