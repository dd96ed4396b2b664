"""The CLI's calls of a running proxy's admin API, with the admin token."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from skewguard.config import ADMIN_TOKEN_ENV, client_admin_token


class AdminError(OSError):
    """The admin API refused or could not be reached; the message says why."""


def add_token_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--admin-token-file",
        metavar="FILE",
        help="file holding the admin API token sent with --admin (default: "
        f"$SKEWGUARD_ADMIN_TOKEN_FILE, or the token itself in ${ADMIN_TOKEN_ENV}; "
        "the read token's file or variable is enough for reads)",
    )


def call(
    admin: str,
    path: str,
    *,
    token_file: str | None,
    body: dict[str, Any] | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """GET ``path`` (or POST ``body`` as JSON) and return the JSON answer."""
    headers = {"Accept": "application/json"}
    token = client_admin_token(token_file)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(
        admin.rstrip("/") + path, data=data, headers=headers, method="POST" if data else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as exc:
        raise AdminError(f"{admin}: admin API answered {exc.code}: {_reason(exc)}") from None
    except urllib.error.URLError as exc:
        raise AdminError(f"cannot reach the proxy's admin API at {admin}: {exc.reason}") from None
    return answer


def _reason(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["error"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)


def fetch_versions(
    admin: str, *, token_file: str | None, with_facets: bool = True
) -> list[dict[str, Any]]:
    """Every row of the proxy's /api/versions, page after page."""
    rows: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = call(
            admin,
            f"/api/versions?facets={int(with_facets)}&offset={offset}",
            token_file=token_file,
        )
        rows.extend(page["versions"])
        offset = page.get("next_offset")
    return rows
