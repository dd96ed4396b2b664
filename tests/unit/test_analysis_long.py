"""The learner's analysis of a long text builds one statement's tree at a time: pglast
holds the GIL while it builds a tree, so the whole tree of a 900 kB text built in the
worker thread held the event loop (every session) for about a second."""

from __future__ import annotations

from typing import Any

import pglast
import pytest

from skewguard import sql_parse
from skewguard.analysis import analyze
from skewguard.catalog import build_catalog

CATALOG = build_catalog(
    schemas=[{"schema": "public"}],
    columns=[
        {
            "schema": "public",
            "relation": "users",
            "relkind": "r",
            "column": column,
            "type_name": "text",
            "base_type": "text",
            "not_null": False,
            "has_default": False,
            "default_expr": None,
            "identity": "",
            "generated": "",
            "default_seq_schemas": None,
            "default_seq_names": None,
        }
        for column in ("id", "email")
    ],
)
TEXT = "SELECT email FROM users; SET search_path = other, public; SELECT 1; " * 2_000


def test_a_long_text_is_never_parsed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    lengths: list[int] = []
    real = pglast.parse_sql

    def counting(sql: str) -> tuple[Any, ...]:
        lengths.append(len(sql))
        return real(sql)

    monkeypatch.setattr(pglast, "parse_sql", counting)
    analysis = analyze(TEXT, catalog=CATALOG)
    assert analysis.error is None and len(analysis.statements) == 6_000
    assert lengths and max(lengths) < 100


def test_a_long_text_analyses_as_its_whole_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    pieces = analyze(TEXT, catalog=CATALOG)
    monkeypatch.setattr(sql_parse, "SPLIT_ABOVE", 10**9)
    whole = analyze(TEXT, catalog=CATALOG)
    assert pieces == whole
    assert pieces.facets and pieces.search_path


def test_a_long_text_that_does_not_parse_is_a_syntax_error() -> None:
    assert analyze(TEXT + "SELECT (;", catalog=CATALOG).error == "syntax"
