"""docs/http-api.md is generated from the admin routes and must match what the server serves."""

from __future__ import annotations

import re
from pathlib import Path

from skewguard.config import AdminTokens
from skewguard.observe.access import AccessPolicy
from skewguard.observe.admin import ROUTES, build_app
from skewguard.observe.api_docs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "http-api.md"


def test_http_api_md_is_up_to_date() -> None:
    assert DOC.read_text() == render(), (
        "docs/http-api.md is stale: run `python -m skewguard.observe.api_docs > "
        "docs/http-api.md` (or `make docs`)"
    )


def test_every_served_route_is_documented_and_every_documented_route_is_served() -> None:
    # the app only keeps the proxy and store for its handlers: none runs here
    app = build_app(None, None, AccessPolicy(AdminTokens(), loopback_only=True))  # type: ignore[arg-type]
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = set(re.findall(r"^## (GET|POST|PUT|DELETE|PATCH) (\S+)$", render(), re.M))
    assert served == documented


def test_every_route_says_what_it_answers() -> None:
    for method, path, handler in ROUTES:
        assert handler.__doc__ and len(handler.__doc__.split()) >= 10, f"{method} {path}"


def test_access_is_read_off_the_policy() -> None:
    text = render()
    assert "| GET | `/healthz` | open |" in text
    assert "| GET | `/api/versions` | read |" in text
    assert "| POST | `/api/check` | change |" in text
