"""The marker's and the refresh plan's verdicts from catalog statistics (pure)."""

from __future__ import annotations

from skewguard.catalog_marker import (
    INDEXED_BELOW,
    SOURCES,
    CatalogMarker,
    SourceStats,
    indexed_sources,
    none_lost,
    stats_args,
    stats_sql,
    untouched,
)
from skewguard.catalog_refresh import plan_refresh

MARKER = CatalogMarker(
    xmin=(1 << 32) + 3,
    xmax=(1 << 32) + 5,
    xip=frozenset({(1 << 32) + 3}),
    counts=(7,) * len(SOURCES),
)
SAME = tuple(SourceStats(7, 0, frozenset()) for _ in SOURCES)


def _with(name: str, stats: SourceStats) -> tuple[SourceStats, ...]:
    return tuple(stats if s.name == name else st for s, st in zip(SOURCES, SAME, strict=True))


def test_a_new_row_or_a_lost_row_in_any_catalog_is_a_change() -> None:
    assert untouched(MARKER, SAME)
    for source in SOURCES:
        assert not untouched(MARKER, _with(source.name, SourceStats(7, 1, frozenset())))
        assert not untouched(MARKER, _with(source.name, SourceStats(6, 0, frozenset())))


def test_xmin_is_compared_in_the_32_bit_space() -> None:
    assert stats_args(MARKER) == ("3", str((1 << 32) + 5), [str((1 << 32) + 3)])


def test_few_counted_rows_are_read_through_the_index() -> None:
    counts = tuple(INDEXED_BELOW if s.name == "attribute" else 7 for s in SOURCES)
    marker = CatalogMarker(1, 2, frozenset(), counts)
    indexed = indexed_sources(marker.counts)
    assert "class" in indexed and "attribute" not in indexed
    assert "namespace" not in indexed  # every row counts: the public schema is built in
    assert stats_sql(indexed) != stats_sql(frozenset())


def test_new_relation_rows_are_read_again_alone() -> None:
    plan = plan_refresh(MARKER, _with("attribute", SourceStats(9, 2, frozenset({42}))))
    assert not plan.full and plan.changed == {42} and not plan.reread


def test_lost_rows_are_looked_for_where_they_went() -> None:
    plan = plan_refresh(MARKER, _with("index", SourceStats(6, 0, frozenset())))
    assert not plan.full and plan.lost == {"index"}


def test_a_grown_catalog_of_names_is_read_whole_an_altered_one_is_a_full_read() -> None:
    grown = plan_refresh(MARKER, _with("proc", SourceStats(8, 1, frozenset())))
    assert not grown.full and grown.reread == {"functions"}
    renamed = plan_refresh(MARKER, _with("proc", SourceStats(7, 1, frozenset())))
    assert renamed.full  # a function renamed: defaults and views name it
    assert plan_refresh(MARKER, _with("namespace", SourceStats(6, 0, frozenset()))).full
    assert plan_refresh(MARKER, _with("extension", SourceStats(8, 1, frozenset()))).full
    enum = plan_refresh(MARKER, _with("enum", SourceStats(8, 1, frozenset())))
    assert not enum.full and enum.reread == {"enums"}


def test_no_relation_is_not_a_changed_relation() -> None:
    plan = plan_refresh(MARKER, _with("constraint", SourceStats(8, 1, frozenset({0, 42}))))
    assert plan.changed == {42}  # a new CHECK: conrelid 42, confrelid 0


def test_no_row_went_away_when_the_count_grew_by_every_object_made_since() -> None:
    known = {10: "t", 11: "u"}
    altered = SourceStats(7, 1, frozenset({10}), frozenset({10}))  # t's row rewritten
    assert none_lost(altered, 7, known, frozenset())
    created = SourceStats(8, 2, frozenset({10, 12}), frozenset({10, 12}))  # and v made
    assert none_lost(created, 7, known, frozenset())
    # v made and u dropped: the count is that of an update alone
    swapped = SourceStats(7, 1, frozenset({12}), frozenset({12}))
    assert not none_lost(swapped, 7, known, frozenset())
    # t was read after the marker: it may be the one made, so no proof
    assert not none_lost(altered, 7, known, frozenset({10}))
