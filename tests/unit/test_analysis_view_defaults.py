"""An INSERT through an automatically updatable view takes the defaults of the table
below it for what it leaves out: ``nextval`` runs there (SG133 names such a writer when
a sequence restarts into the table's keys; tests/support/groundtruth_round18.py)."""

from __future__ import annotations

import pytest

from skewguard.analysis import FacetKind, analyze
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay

SCHEMA = """
CREATE TABLE notes (id serial PRIMARY KEY, body text, hidden bool DEFAULT false);
CREATE VIEW visible AS SELECT id, body FROM notes WHERE NOT hidden;
CREATE VIEW bodies AS SELECT body FROM notes;
CREATE VIEW visible_bodies AS SELECT id, body FROM visible;
CREATE VIEW counted AS SELECT body, count(*) AS n FROM notes GROUP BY body;
"""


@pytest.fixture(scope="module")
def catalog() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return overlay.catalog


def _sequences(sql: str, catalog: CatalogSnapshot) -> set[str]:
    facets = analyze(sql, catalog=catalog).facets
    return {f.subject for f in facets if f.kind is FacetKind.SEQUENCE_DEFAULT}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("INSERT INTO visible (body) VALUES ($1)", {"public.notes_id_seq"}),
        ("INSERT INTO visible (id, body) VALUES (7, $1)", set()),
        ("INSERT INTO visible VALUES (DEFAULT, 'x')", {"public.notes_id_seq"}),
        ("INSERT INTO bodies (body) VALUES ('x')", {"public.notes_id_seq"}),  # id not shown
        ("INSERT INTO visible_bodies (body) VALUES ('x')", {"public.notes_id_seq"}),
        ("INSERT INTO notes (id, body) VALUES (1, 'x')", set()),
    ],
)
def test_an_insert_through_a_view_takes_the_tables_defaults(
    sql: str, expected: set[str], catalog: CatalogSnapshot
) -> None:
    assert _sequences(sql, catalog) == expected


def test_a_view_that_takes_no_insert_adds_nothing(catalog: CatalogSnapshot) -> None:
    assert _sequences("INSERT INTO counted (body) VALUES ('x')", catalog) == set()
