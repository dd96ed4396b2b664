"""Pure pieces of footprint learning: literal keys, search_path, batches, the SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from skewguard.analysis import Facet, FacetKind
from skewguard.footprint import FootprintBatch, VersionKey
from skewguard.identity import Identity
from skewguard.registry import version_report
from skewguard.search_path import DEFAULT, parse_path, startup_path
from skewguard.shapes import literal_key
from skewguard.statements import read_script
from skewguard.store import SqliteStore, open_store


@pytest.mark.parametrize(
    ("sql", "key"),
    [
        ("SELECT a FROM t WHERE id = 42", "SELECT a FROM t WHERE id = 0"),
        ("SELECT a FROM t WHERE x = 1.5 AND y = 2e10", "SELECT a FROM t WHERE x = 0.0 AND y = 0.0"),
        ("SELECT 'it''s' || E'\\n' FROM t2", "SELECT '' || '' FROM t2"),
        ("SELECT $1, $12 FROM t3 WHERE c4 = 7", "SELECT $1, $12 FROM t3 WHERE c4 = 0"),
        ("SELECT $$a 1$$, $tag$b$tag$", "SELECT '', ''"),
        ('SELECT "col1" FROM "t1"', 'SELECT "col1" FROM "t1"'),
        ("SELECT x::varchar(20) FROM t", "SELECT x::varchar(0) FROM t"),
        ("SELECT 1.5, 2e10, x1, t2.c3, 4.5e-3, b = 1.", "SELECT 0.0, 0.0, x1, t2.c3, 0.0, b = 0.0"),
        ("SELECT 1.5, 2e10, x1 FROM t WHERE s = 'x1'", "SELECT 0.0, 0.0, x1 FROM t WHERE s = ''"),
        ("select x.1, 1e5x", "select x.1, 1e5x"),
    ],
)
def test_literal_key(sql: str, key: str) -> None:
    assert literal_key(sql) == key


def test_literal_key_is_shared_by_texts_differing_in_literals() -> None:
    assert literal_key("UPDATE t SET a = 'x' WHERE id = 1") == literal_key(
        "UPDATE t SET a = 'yy' WHERE id = 2000"
    )


@pytest.mark.parametrize(
    ("sql", "path"),
    [
        ("SET search_path TO app, public", ("app", "public")),
        ('SET search_path = "App", public', ("App", "public")),
        ("SET SESSION search_path TO billing", ("billing",)),
        ("RESET search_path", ("startup",)),
        ("SET search_path TO DEFAULT", ("startup",)),
        ("RESET ALL", ("startup",)),
        ("DISCARD ALL", ("startup",)),
        ("SET LOCAL search_path TO tx_only", None),
        ("SET application_name = 'x@1'", None),
        ("SELECT 1", None),
        ("SET search_path TO a; SET search_path TO b", ("b",)),
        ("not sql at all", None),
    ],
)
def test_search_path_change(sql: str, path: tuple[str, ...] | None) -> None:
    assert read_script(sql).search_path(("startup",)) == path


def test_startup_search_path() -> None:
    assert startup_path({}) == DEFAULT
    assert startup_path({"options": "-c search_path=app,public"}) == ("app", "public")
    assert parse_path('"$user", public, "Mixed"') == ("$user", "public", "Mixed")


KEY = VersionKey("db", "shop", "1")
READ = Facet(FacetKind.COLUMN_READ, "public.users.email")
WRITE = Facet(FacetKind.COLUMN_WRITE, "public.users.name")


def test_batch_accumulates_counts_and_times() -> None:
    batch = FootprintBatch()
    batch.record(KEY, frozenset({READ}), 3, 10.0, "select email from users")
    batch.record(KEY, frozenset({READ, WRITE}), 2, 12.0, "update users set name = email")
    evidence = batch.facets[KEY]
    assert (evidence[READ].count, evidence[READ].first_seen, evidence[READ].last_seen) == (
        5,
        10,
        12,
    )
    assert evidence[READ].sample == "select email from users"
    assert evidence[WRITE].count == 2
    assert batch.seen[KEY] == (10.0, 12.0)


def test_sqlite_store_merges_batches_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(str(path))
    first = FootprintBatch()
    first.record(KEY, frozenset({READ}), 2, 100.0, "q1")
    store.write(first)
    second = FootprintBatch()
    second.record(KEY, frozenset({READ, WRITE}), 1, 50.0, "q2")
    second.saw_version(VersionKey("db", "", ""), 70.0)
    store.write(second)
    store.close()

    reopened = SqliteStore(str(path))
    versions = {v.key: v for v in reopened.versions()}
    reopened.close()
    assert set(versions) == {KEY, VersionKey("db", "", "")}
    shop = versions[KEY]
    assert (shop.first_seen, shop.last_seen) == (50.0, 100.0)
    read = shop.facets[READ]
    assert (read.count, read.first_seen, read.last_seen, read.sample) == (3, 50.0, 100.0, "q1")
    assert shop.facets[WRITE].count == 1


def test_version_report_adds_live_connections_and_untagged(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    batch = FootprintBatch()
    batch.record(KEY, frozenset({READ}), 1, 1.0, "q")
    store.write(batch)
    live = [KEY, KEY, VersionKey.of("db", Identity())]
    rows = version_report(store.versions(), live)
    store.close()
    by_app = {(r["app"], r["version"]): r for r in rows}
    assert by_app[("shop", "1")]["live_connections"] == 2
    assert by_app[("shop", "1")]["facets"][0]["facet"] == READ.key
    untagged = by_app[("(untagged)", "(untagged)")]
    assert (untagged["live_connections"], untagged["tagged"], untagged["facets"]) == (1, False, [])
