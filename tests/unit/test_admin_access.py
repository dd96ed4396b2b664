"""The admin API's access rules, request by request (pure: no server)."""

from __future__ import annotations

import pytest

from skewguard.config import AdminTokens
from skewguard.observe.access import (
    AccessPolicy,
    loopback_host,
    loopback_listener,
    same_origin,
)

WRITE = "w" * 24
READ = "r" * 24
JSON = "application/json"
HOST = "10.1.2.3:9632"


def _change(policy: AccessPolicy, **headers: str | None) -> int | None:
    args: dict[str, str | None] = {"host": HOST, "content_type": JSON, **headers}
    refusal = policy.check("POST", "/api/versions/shop@1/pin", **args)
    return refusal.status if refusal else None


def _read(policy: AccessPolicy, path: str = "/api/versions", **headers: str | None) -> int | None:
    args: dict[str, str | None] = {"host": HOST, **headers}
    refusal = policy.check("GET", path, **args)
    return refusal.status if refusal else None


EXPOSED_NO_TOKENS = AccessPolicy(AdminTokens(), loopback_only=False)
EXPOSED = AccessPolicy(AdminTokens(write=WRITE, read=READ), loopback_only=False)
LOOPBACK = AccessPolicy(AdminTokens(), loopback_only=True)


def test_without_a_token_changes_are_refused_beyond_loopback() -> None:
    refusal = EXPOSED_NO_TOKENS.check("POST", "/api/check", host=HOST, content_type=JSON)
    assert refusal is not None and refusal.status == 403
    assert "--admin-token-file" in refusal.message and "SKEWGUARD_ADMIN_TOKEN" in refusal.message
    assert _read(EXPOSED_NO_TOKENS) is None  # reads stay open without a read token


def test_the_write_token_is_needed_for_changes() -> None:
    assert _change(EXPOSED, authorization=f"Bearer {WRITE}") is None
    assert _change(EXPOSED, authorization=f"bearer  {WRITE} ") is None
    assert _change(EXPOSED) == 401
    assert _change(EXPOSED, authorization="Bearer " + "x" * 24) == 401
    assert _change(EXPOSED, authorization=f"Basic {WRITE}") == 401
    assert _change(EXPOSED, authorization=f"Bearer {READ}") == 403  # reads only


def test_cross_site_changes_are_refused_even_with_the_token() -> None:
    token = f"Bearer {WRITE}"
    assert _change(EXPOSED, authorization=token, origin="http://evil.example") == 403
    assert _change(EXPOSED, authorization=token, origin="null") == 403
    assert _change(EXPOSED, authorization=token, origin=f"http://{HOST}") is None
    for form in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain", None):
        assert _change(EXPOSED, authorization=token, content_type=form) == 415
    assert (
        _change(EXPOSED, authorization=token, content_type="application/json; charset=utf-8")
        is None
    )
    assert _change(EXPOSED, authorization=token, host=None) == 400
    for site in ("cross-site", "same-site", "CROSS-SITE"):  # a page elsewhere made it
        assert _change(EXPOSED, authorization=token, fetch_site=site) == 403
        assert _change(LOOPBACK, host="127.0.0.1:9632", fetch_site=site) == 403
    for site in ("same-origin", "none"):
        assert _change(EXPOSED, authorization=token, fetch_site=site) is None


def test_reads_with_a_read_token() -> None:
    assert _read(EXPOSED) == 401
    assert _read(EXPOSED, authorization=f"Bearer {READ}") is None
    assert _read(EXPOSED, authorization=f"Bearer {WRITE}") is None  # write grants reads
    assert _read(EXPOSED, authorization="Bearer nope-nope-nope-nope") == 401
    assert _read(EXPOSED, "/metrics") == 401 and _read(EXPOSED, "/") == 401
    assert _read(EXPOSED, "/healthz") is None  # liveness probes carry no token


def test_a_write_token_alone_leaves_reads_open() -> None:
    policy = AccessPolicy(AdminTokens(write=WRITE), loopback_only=False)
    assert _read(policy) is None
    assert _change(policy) == 401


def test_loopback_listener_without_tokens_serves_loopback_hosts_only() -> None:
    assert _change(LOOPBACK, host="127.0.0.1:9632") is None
    assert _change(LOOPBACK, host="localhost:9632") is None
    assert _change(LOOPBACK, host="[::1]:9632") is None
    assert _change(LOOPBACK, host="rebound.example:9632") == 403  # DNS rebinding
    assert _read(LOOPBACK, host="rebound.example:9632") == 403
    assert _change(LOOPBACK, host="127.0.0.1:9632", content_type="text/plain") == 415
    assert _change(LOOPBACK, host="127.0.0.1:9632", origin="http://evil.example") == 403


def test_start_warning_says_what_is_exposed() -> None:
    assert LOOPBACK.warning is None
    assert EXPOSED.warning is None
    warning = EXPOSED_NO_TOKENS.warning or ""
    assert "changes are refused" in warning and "reads are open" in warning


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1:1", True), ("127.8.9.1", True), ("localhost", True), ("[::1]:9", True),
     ("10.0.0.1:1", False), ("127.0.0.1.evil.example", False), ("", False), (None, False)],
)  # fmt: skip
def test_loopback_host(host: str | None, loopback: bool) -> None:
    assert loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [("http://a.example:9632", "a.example:9632", True), ("http://A.example", "a.example:80", True),
     ("https://a.example", "a.example:443", True), ("http://a.example:1", "a.example:2", False),
     ("http://b.example:9632", "a.example:9632", False), ("null", "a.example", False)],
)  # fmt: skip
def test_same_origin(origin: str, host: str, same: bool) -> None:
    assert same_origin(origin, host) is same


def test_loopback_listener() -> None:
    assert loopback_listener("127.0.0.1") and loopback_listener("::1")
    assert loopback_listener("localhost")
    assert not loopback_listener("0.0.0.0") and not loopback_listener("::")
