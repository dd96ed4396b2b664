"""Objects named inside expressions: text search configurations and collations are
learned as written and followed through DROP and RENAME; DROP CAST reaches what uses
its user type."""

from __future__ import annotations

import pytest

from skewguard.analysis import analyze
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import CannotModel, Overlay
from skewguard.ddl.changes import DropNamedObject

SCHEMA = """
CREATE TABLE docs (id int, body text);
CREATE TEXT SEARCH CONFIGURATION app_english (COPY = pg_catalog.english);
CREATE COLLATION app_c FROM "C";
CREATE TYPE cents AS (units bigint, cents int);
CREATE FUNCTION cents_of(t text) RETURNS cents LANGUAGE sql AS 'SELECT (1, 2)::cents';
CREATE CAST (text AS cents) WITH FUNCTION cents_of(text);
"""


def _base() -> CatalogSnapshot:
    overlay = Overlay(
        CatalogSnapshot(schemas=frozenset({"public"}), builtin_functions=frozenset({"to_tsvector"}))
    )
    overlay.apply(SCHEMA)
    return overlay.catalog


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT to_tsvector('App_English', body) FROM docs", {"ts_config:app_english"}),
        (
            "SELECT to_tsvector('public.app_english', body) FROM docs",
            {"ts_config:public.app_english"},
        ),
        ("SELECT 'x'::regconfig", {"ts_config:x"}),
        ("SELECT to_tsvector(body) FROM docs", set()),  # the default configuration
        ("SELECT id FROM docs ORDER BY body COLLATE app_c", {"collation:app_c"}),
        ('SELECT id FROM docs ORDER BY body COLLATE "C"', {'collation:"C"'}),
        ('SELECT id FROM docs ORDER BY body COLLATE pg_catalog."C"', set()),
    ],
)
def test_names_learned_as_written(sql: str, expected: set[str]) -> None:
    facets = analyze(sql, catalog=_base(), search_path=("public",)).facets
    assert {str(f) for f in facets if f.kind.value in ("ts_config", "collation")} == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DROP TEXT SEARCH CONFIGURATION app_english", [("ts_config", "app_english", "")]),
        (
            "ALTER TEXT SEARCH CONFIGURATION public.app_english RENAME TO en2",
            [("ts_config", "public.app_english", "en2")],
        ),
        ("DROP COLLATION app_c", [("collation", "app_c", "")]),
        ("ALTER COLLATION app_c RENAME TO bytes", [("collation", "app_c", "bytes")]),
        ("CREATE INDEX docs_body ON docs (body)", []),
    ],
)
def test_drops_and_renames_are_changes(sql: str, expected: list[tuple[str, str, str]]) -> None:
    overlay = Overlay(_base())
    overlay.apply(sql)
    changes = [c for c in overlay.net_changes() if isinstance(c, DropNamedObject)]
    assert [(c.object_kind, c.subject, c.new_name) for c in changes] == expected


def test_drop_cast_reaches_what_uses_its_user_type() -> None:
    overlay = Overlay(_base())
    with pytest.raises(CannotModel) as caught:
        overlay.apply("DROP CAST (text AS cents)")
    assert caught.value.affects is not None and caught.value.affects.types == {"public.cents"}
