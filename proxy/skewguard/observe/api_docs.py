"""Generate docs/http-api.md from the admin routes: ``python -m skewguard.observe.api_docs``.

The routes table in admin.py and its handlers' docstrings are the reference, so a
route cannot be added or changed without the page following (a unit test compares).
Who may call each route comes from access.py, the code that enforces it.
"""

from __future__ import annotations

import inspect
import re
import sys

from skewguard.config import AdminTokens
from skewguard.observe.access import AccessPolicy
from skewguard.observe.admin import ROUTES

#: Asked which token a route needs: a policy with both tokens, reachable from anywhere.
_READ_TOKEN = "r" * 32
_PROBE = AccessPolicy(AdminTokens(write="w" * 32, read=_READ_TOKEN), loopback_only=False)


def access(method: str, path: str) -> str:
    """Which privilege the route needs, as ``AccessPolicy.check`` itself decides it."""
    if _PROBE.check(method, path, host="admin.example") is None:
        return "open: no token, whatever the configuration (a probe)"
    read = _PROBE.check(method, path, host="admin.example", authorization=f"Bearer {_READ_TOKEN}")
    if read is None:
        return "read: the read or write token when a read token is configured, else open"
    return (
        "change: the write token; without one configured, only on a loopback-only admin "
        "listener. `Content-Type: application/json`, an `Origin` (when sent) equal to the "
        "`Host`, a `Sec-Fetch-Site` (when sent) of `same-origin` or `none`"
    )


def _markdown(docstring: str) -> str:
    """reStructuredText literals (````x````) as Markdown code spans."""
    return re.sub(r"``(.+?)``", r"`\1`", docstring, flags=re.DOTALL)


def render() -> str:
    lines = [
        "# skewguard admin HTTP API",
        "",
        "Generated from the routes of `skewguard/observe/admin.py` and their docstrings by "
        "`python -m skewguard.observe.api_docs`; do not edit by hand.",
        "",
        "The admin server listens on `--admin-listen` (default `127.0.0.1:9632`). Tokens "
        'travel as `Authorization: Bearer <token>`; every error is JSON `{"error": "…"}` '
        "(400 bad input, 401 missing or wrong token, 403 refused, 404 no such path, 405 "
        "wrong method, 409 conflict, 413 body too large, 415 not JSON, 503 learning off). "
        "Request bodies are at most 64 KiB (1 MiB for `/api/check`). "
        "docs/security.md explains the access rules.",
        "",
        "| method | path | access |",
        "|---|---|---|",
    ]
    lines += [
        f"| {method} | `{path}` | {access(method, path).split(':', 1)[0]} |"
        for method, path, _ in ROUTES
    ]
    lines.append("")
    for method, path, handler in ROUTES:
        lines += [
            f"## {method} {path}",
            "",
            f"Access: {access(method, path)}.",
            "",
            _markdown(inspect.getdoc(handler) or ""),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
