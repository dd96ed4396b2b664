"""What the extractor learns about each write: the constants, what else is written,
UPDATE targets and each INSERT's conflict handling; and reading a text's constants
through the slots of its literal-insensitive shape."""

from __future__ import annotations

import pytest

from skewguard.analysis import FacetKind, analyze
from skewguard.analysis.values import Slot, slots_of, value_facets, values_of
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay
from skewguard.literal_keys import literal_key, literal_texts, marked_key

SCHEMA = """
CREATE TABLE t (id int, qty int, note text, tags int[], flag boolean, d date);
CREATE TABLE s (id int, qty int);
"""


def _catalog() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return overlay.catalog


CATALOG = _catalog()


def _of(sql: str, kind: FacetKind) -> set[str]:
    result = analyze(sql, catalog=CATALOG)
    assert result.error is None, result.detail
    return set(result.of_kind(kind))


@pytest.mark.parametrize(
    ("sql", "values"),
    [
        (
            "INSERT INTO t (id, qty) VALUES (1, -5), (2, NULL)",
            [("id", "n:1"), ("qty", "n:-5"), ("id", "n:2"), ("qty", "null")],
        ),
        (
            "INSERT INTO t (note, flag, d) VALUES ('it''s', true, '2024-01-31'::date)",
            [("note", "s:it's"), ("flag", "b:true"), ("d", "s:2024-01-31")],
        ),
        ("INSERT INTO t VALUES (7, 1.50)", [("id", "n:7"), ("qty", "n:1.50")]),
        ("UPDATE t SET qty = 3, note = $1 WHERE id = 9", [("qty", "n:3")]),
        ("UPDATE t SET (id, qty) = (1, 2)", [("id", "n:1"), ("qty", "n:2")]),
        (
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET qty = 4 "
            "WHEN NOT MATCHED THEN INSERT (id, qty) VALUES (s.id, 5)",
            [("qty", "n:4"), ("qty", "n:5")],
        ),
        ("SELECT qty FROM t WHERE qty = 3", []),
    ],
)
def test_constants_written(sql: str, values: list[tuple[str, str]]) -> None:
    result = analyze(sql, catalog=CATALOG)
    assert [(c.removeprefix("public.t."), v) for c, v in result.values] == values


@pytest.mark.parametrize(
    ("sql", "other"),
    [
        ("INSERT INTO t (id, qty) VALUES ($1, $2)", {"id", "qty"}),
        ("INSERT INTO t (id, qty) VALUES (1, DEFAULT)", {"qty"}),
        ("INSERT INTO t (id, qty) SELECT id, qty FROM s", {"id", "qty"}),
        ("UPDATE t SET qty = qty + 1, note = lower(note)", {"qty", "note"}),
        ("UPDATE t SET tags[1] = 4", {"tags"}),
        ("UPDATE t SET (id, qty) = (SELECT 1, 2)", {"id", "qty"}),
        ("COPY t (id, note) FROM STDIN", {"id", "note"}),
        ("COPY t FROM STDIN", {"id", "qty", "note", "tags", "flag", "d"}),
        ("INSERT INTO t (id, qty) VALUES (1, 2)", set()),
    ],
)
def test_writes_that_are_not_constants(sql: str, other: set[str]) -> None:
    assert _of(sql, FacetKind.WRITE_OTHER) == {f"public.t.{c}" for c in other}


@pytest.mark.parametrize(
    ("sql", "supplied"),
    [
        ("INSERT INTO t (id, qty) VALUES ($1, 2)", {"id", "qty"}),
        ("INSERT INTO t (id, qty) VALUES (DEFAULT, 2)", {"qty"}),
        ("INSERT INTO t (id, qty) VALUES (DEFAULT, 1), (2, DEFAULT)", {"id", "qty"}),
        ("INSERT INTO t VALUES (DEFAULT, NULL)", {"qty"}),
        ("INSERT INTO t (id, qty) SELECT id, qty FROM s", {"id", "qty"}),
        ("INSERT INTO t (id, qty) OVERRIDING SYSTEM VALUE VALUES (1, 2)", set()),
        ("INSERT INTO t (id, qty) OVERRIDING USER VALUE SELECT id, qty FROM s", set()),
        ("INSERT INTO t DEFAULT VALUES", set()),
        ("UPDATE t SET id = DEFAULT, qty = 3", {"qty"}),
        ("UPDATE t SET (id, qty) = (SELECT 1, 2)", {"id", "qty"}),
        ("UPDATE t SET tags[1] = 4", {"tags"}),
        ("INSERT INTO t (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = excluded.id", {"id"}),
        (
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET id = s.id "
            "WHEN NOT MATCHED THEN INSERT (id, qty) OVERRIDING SYSTEM VALUE VALUES (s.id, 5)",
            {"id"},
        ),
        ("COPY t (id, note) FROM STDIN", set()),
        ("COPY t FROM STDIN", set()),
    ],
)
def test_values_of_the_statements_own(sql: str, supplied: set[str]) -> None:
    # what an identity ALWAYS refuses (428C9); DEFAULT, OVERRIDING and COPY it takes
    assert _of(sql, FacetKind.VALUE_SUPPLIED) == {f"public.t.{c}" for c in supplied}


def test_updates_are_told_apart_from_inserts() -> None:
    assert _of("UPDATE t SET qty = 1", FacetKind.COLUMN_UPDATE) == {"public.t.qty"}
    assert _of(
        "INSERT INTO t (id, qty) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET qty = 3",
        FacetKind.COLUMN_UPDATE,
    ) == {"public.t.qty"}
    assert _of("INSERT INTO t (id, qty) VALUES (1, 2)", FacetKind.COLUMN_UPDATE) == set()


@pytest.mark.parametrize(
    ("tail", "handling"),
    [
        ("", "none"),
        (" ON CONFLICT DO NOTHING", "nothing"),
        (" ON CONFLICT (qty, id) DO NOTHING", "nothing(id,qty)"),
        (" ON CONFLICT (id) DO UPDATE SET qty = excluded.qty", "update(id)"),
        (" ON CONFLICT ON CONSTRAINT t_pkey DO NOTHING", "nothing@t_pkey"),
        (" ON CONFLICT (id) WHERE qty > 0 DO NOTHING", "nothing(partial)"),
    ],
)
def test_each_insert_records_its_conflict_handling(tail: str, handling: str) -> None:
    sql = "INSERT INTO t (id, qty) VALUES (1, 2)" + tail
    assert _of(sql, FacetKind.INSERT_CONFLICT) == {f"public.t|{handling}"}


def test_a_merge_insert_handles_no_conflict() -> None:
    sql = "MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)"
    assert _of(sql, FacetKind.INSERT_CONFLICT) == {"public.t|none"}


def _slots(sql: str) -> tuple[Slot, ...]:
    return slots_of(analyze(marked_key(sql), catalog=CATALOG).values)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "INSERT INTO t (id, qty, note) VALUES (1, -5, 'a') /* 99 */",
            "INSERT INTO t (id, qty, note) VALUES (22, -7, 'it''s') /* 99 */",
        ),
        (
            "UPDATE t SET qty = 2.5, note = $$x$$, flag = true WHERE id = 3",
            "UPDATE t SET qty = 10.25, note = $$y 'z'$$, flag = true WHERE id = 4",
        ),
        (
            "INSERT INTO t (id, note) VALUES (1, NULL), (2, 'b')",
            "INSERT INTO t (id, note) VALUES (3, NULL), (4, '')",
        ),
    ],
)
def test_texts_of_one_shape_read_their_own_constants(first: str, second: str) -> None:
    assert literal_key(first) == literal_key(second)
    slots = _slots(first)
    for sql in (first, second):
        assert values_of(sql, slots) == list(analyze(sql, catalog=CATALOG).values)


def test_escape_strings_are_not_decoded_from_text() -> None:
    sql = "INSERT INTO t (id, note) VALUES (1, E'a\\nb')"
    assert values_of(sql, _slots(sql)) == [("public.t.id", "n:1"), ("public.t.note", None)]


def test_value_facets_keep_constants_and_mark_the_rest() -> None:
    facets = value_facets([("public.t.qty", "n:1"), ("public.t.note", None)])
    assert {f.key for f in facets} == {
        "write_value:public.t.qty|n:1",
        "write_other:public.t.note",
    }
    long = value_facets([("public.t.note", "s:" + "x" * 300)])
    assert {f.key for f in long} == {"write_other:public.t.note"}


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t (id, note) VALUES (1, 'a') -- it's 2\n",
        "INSERT INTO \"t 2\" (id, \"x'y\") VALUES (3, $q$it's$q$) /* 4 '5' /* 6 */ */",
        "UPDATE t SET note = E'a\\'b', qty = 1.5e3, id = -7 WHERE x1 = $1",
        "SELECT 1",
    ],
)
def test_marked_key_marks_exactly_what_literal_key_replaces(sql: str) -> None:
    assert literal_key(marked_key(sql)) == literal_key(sql)
    assert len(literal_texts(sql)) == marked_key(sql).count("\ue000") + sum(
        1 for text in literal_texts(sql) if text[0].isdigit()
    )
