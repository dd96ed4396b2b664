"""SG110 against COPY writers: a text or CSV COPY sends strings the new type's input
function reads, a binary COPY values in the old type's binary form (PostgreSQL's
answers: tests/support/groundtruth_round18.py)."""

from __future__ import annotations

from skewguard.analysis import Facet, analyze
from skewguard.analysis.values import value_facets
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay, Severity
from skewguard.ddl.types import classify_type_change, receives_binary_form
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules.engine import evaluate

SCHEMA = "CREATE TABLE t (id serial, tags text[], qty smallint, memo varchar(20), code text)"
V1, V2, V3 = (VersionKey("db", "app", v) for v in ("1", "2", "3"))


def _before() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return overlay.catalog


BEFORE = _before()


def footprint(*texts: str) -> dict[Facet, Evidence]:
    out: dict[Facet, Evidence] = {}
    for sql in texts:
        result = analyze(sql, catalog=BEFORE)
        for facet in result.facets | value_facets(result.values):
            have = out.get(facet)
            out[facet] = Evidence((have.count if have else 0) + 1, 0.0, 0.0, sql)
    return out


def named(migration: str, **versions: dict[Facet, Evidence]) -> dict[str, Severity]:
    overlay = Overlay(BEFORE)
    overlay.apply(migration)
    keyed = {VersionKey("db", "app", v.removeprefix("v")): f for v, f in versions.items()}
    findings = evaluate(
        overlay.net_changes(),
        keyed,
        catalog_before=BEFORE,
        catalog_after=overlay.catalog,
        probes={},
    )
    return {f.version.version: f.severity for f in findings if f.version is not None}


TAGS_TO_TEXT = "ALTER TABLE t ALTER COLUMN tags TYPE text"


def test_a_text_or_csv_copy_of_an_array_into_text_is_not_named() -> None:
    found = named(
        TAGS_TO_TEXT,
        v1=footprint("COPY t (tags) FROM STDIN"),
        v2=footprint("COPY t (id, tags) FROM STDIN WITH (FORMAT csv)"),
        v3=footprint("COPY t (tags) FROM STDIN (FORMAT binary)"),
    )
    assert found == {"3": Severity.BREAK}


def test_a_copy_writer_that_also_updates_the_column_is_named() -> None:
    # array_append(tags, 'x') meets the new type: the COPY does not speak for it
    found = named(
        TAGS_TO_TEXT,
        v1=footprint("COPY t (tags) FROM STDIN", "UPDATE t SET tags = array_append(tags, 'x')"),
    )
    assert found == {"1": Severity.BREAK}


def test_a_text_copy_into_a_type_whose_input_may_refuse_it_is_named() -> None:
    found = named(
        "ALTER TABLE t ALTER COLUMN code TYPE integer USING code::integer",
        v1=footprint("COPY t (code) FROM STDIN"),
    )
    assert found == {"1": Severity.BREAK}


def test_a_binary_copy_is_named_even_when_the_type_widens() -> None:
    found = named(
        "ALTER TABLE t ALTER COLUMN qty TYPE integer",
        v1=footprint("COPY t (qty, memo) FROM STDIN BINARY"),
        v2=footprint("COPY t (qty, memo) FROM STDIN"),
    )
    assert found == {"1": Severity.BREAK}


def test_a_binary_copy_of_strings_survives_a_longer_varchar_or_text() -> None:
    binary = footprint("COPY t (memo) FROM STDIN (FORMAT binary)")
    assert named("ALTER TABLE t ALTER COLUMN memo TYPE varchar(60)", v1=binary) == {}
    assert named("ALTER TABLE t ALTER COLUMN memo TYPE text", v1=binary) == {}


def test_binary_forms() -> None:
    assert receives_binary_form("numeric(10,2)", "numeric(12,2)")
    assert receives_binary_form("character varying(10)", 'text COLLATE "C"')
    assert receives_binary_form("character varying(10)[]", "character varying(20)[]")
    assert not receives_binary_form("integer", "bigint")
    assert not receives_binary_form("text[]", "text")
    assert not receives_binary_form("text[]", "character varying[]")


def test_integers_into_a_numeric_with_enough_digits_widen() -> None:
    assert classify_type_change("bigint", "numeric(20,0)").widening
    assert classify_type_change("integer", "numeric(12,2)").widening
    assert not classify_type_change("integer", "numeric(11,2)").widening
    assert not classify_type_change("bigint", "numeric(18)").widening
