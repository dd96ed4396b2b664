"""The `skewguard versions` table: a FACETS count only when the facets were fetched."""

from __future__ import annotations

from typing import Any

from skewguard.versions_cli import _table


def _row(facets: list[dict[str, Any]] | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "database": "app",
        "app": "shop",
        "version": "1",
        "live_connections": 2,
        "protected": "live",
        "first_seen": 0.0,
        "last_seen": 0.0,
    }
    if facets is not None:
        row["facets"] = facets
    return row


def test_without_facets_there_is_no_facets_column() -> None:
    header, line = _table([_row(None)], with_facets=False).splitlines()
    assert header.split() == ["DATABASE", "APP", "VERSION", "LIVE", "PROTECTED", "FIRST", "SEEN",
                              "LAST", "SEEN"]  # fmt: skip
    assert line.split()[:5] == ["app", "shop", "1", "2", "live"]
    assert len(line.split()) == 9  # two dates of two words each, no count


def test_with_facets_the_count_and_the_footprint_follow() -> None:
    facet = {"facet": "column_read:public.users.email", "count": 3, "last_seen": 0.0}
    text = _table([_row([facet, {**facet, "facet": "relation_read:public.users"}])], True)
    header, line, *rest = text.splitlines()
    assert header.split()[-1] == "FACETS" and line.split()[-1] == "2"
    assert "shop@1 on app:" in rest
    assert any(r.strip().startswith("column_read:public.users.email  x3") for r in rest)
