"""The status page: health first, blocks highlighted, CI checks apart, every value escaped."""

from __future__ import annotations

from typing import Any

from skewguard.observe.status_page import Health, render

HEALTH = Health(mode="warn", analysis="on", state_ok=False, connections=3, version="0.1.0")


def _row(version: str, protected: str | None, facets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "database": "app",
        "app": "shop",
        "version": version,
        "live_connections": 1,
        "protected": protected,
        "lifecycle": None,
        "last_seen": 1.0,
        "facets": facets,
    }


def _facet(kind: str, subject: str) -> dict[str, Any]:
    return {"facet": f"{kind}:{subject}", "kind": kind, "subject": subject, "count": 1}


def test_health_versions_matrix_and_decisions() -> None:
    rows = [
        _row("1", "live", [_facet("column_read", "public.users.email")]),
        _row("2", "recent", [_facet("column_write", "public.users.email")]),
        _row("0", None, [_facet("column_read", "public.users.gone")]),
    ]
    recent = [
        {"at": 2.0, "decision": "block", "source": "proxy", "database": "app", "client": "-",
         "note": "breaks", "statements": ["ALTER TABLE users DROP COLUMN email"],
         "findings": [{"rule": "SG102"}]},
        {"at": 1.0, "decision": "allow", "source": "check", "database": "app", "client": "-",
         "note": "ok", "statements": ["ALTER TABLE users ADD COLUMN x int"], "findings": []},
    ]  # fmt: skip
    page = render(HEALTH, rows, recent)
    assert "mode: <b class='bad'>warn</b>" in page
    assert "state store: <span class='bad'>failing</span>" in page
    assert "<td>shop</td><td>1</td>" in page
    assert "<th>shop@1</th><th>shop@2</th>" in page  # only protected versions in the matrix
    assert "public.users.gone" not in page
    assert "<td class='m'>R</td><td class='m'>W</td>" in page
    assert "<tr class='block'>" in page and "<td>SG102</td>" in page
    decisions, checks = page.split("<h2>CI checks</h2>")
    assert "DROP COLUMN email" in decisions and "ADD COLUMN x" in checks
    assert "http-equiv='refresh'" in page


def test_values_are_escaped() -> None:
    rows = [_row("<script>", "live", [])]
    page = render(HEALTH, rows, [])
    assert "<script>" not in page and "&lt;script&gt;" in page
