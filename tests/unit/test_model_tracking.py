"""The overlay's model records what it touches, and comparing models looks only at that."""

from __future__ import annotations

import pytest

from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay
from skewguard.ddl.diff import diff
from skewguard.ddl.model import Model, Tracked, changes

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, n int DEFAULT 0);
CREATE UNIQUE INDEX users_email_idx ON users (email);
CREATE VIEW active AS SELECT id, email FROM users WHERE n > 0;
CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id));
CREATE TABLE quiet (id int PRIMARY KEY, note text);
"""

CHANGES = [
    "ALTER TABLE users RENAME COLUMN email TO mail",
    "ALTER TABLE users RENAME TO people",
    "DROP INDEX users_email_idx",
    "ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey",
    "ALTER TABLE users ADD CONSTRAINT n_pos CHECK (n >= 0)",
    "DROP TABLE orders",
    "ALTER TABLE users DROP COLUMN email CASCADE",
    "CREATE INDEX ON users (n)",
]


@pytest.fixture(scope="module")
def base() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return overlay.catalog


def test_tracked_records_every_way_a_key_changes() -> None:
    d: Tracked[int, str] = Tracked({1: "a", 2: "b", 3: "c"})
    assert not d.touched
    d[4] = "d"
    del d[1]
    d.pop(2)
    d.setdefault(5, "e")
    copy = d.copy()
    copy[6] = "f"
    assert d.touched == {1, 2, 4, 5}
    assert copy.touched == {1, 2, 4, 5, 6} and dict(copy) == {3: "c", 4: "d", 5: "e", 6: "f"}


@pytest.mark.parametrize("sql", CHANGES)
def test_copies_compare_by_what_they_touched_as_a_whole_comparison_would(
    base: CatalogSnapshot, sql: str
) -> None:
    overlay = Overlay(base)
    overlay.apply(sql)
    before, after = Model.of(base), overlay._state
    quick = changes(before, after)
    unrelated = Model.from_catalog(base)  # another lineage: everything is compared
    unrelated.rels, unrelated.cons, unrelated.idxs = before.rels, before.cons, before.idxs
    unrelated.con_rel, unrelated.idx_rel = before.con_rel, before.idx_rel
    whole = changes(unrelated, after)
    assert (quick.rels, quick.cons, quick.idxs) == (whole.rels, whole.cons, whole.idxs)
    assert quick.rels  # each of these changes a relation
    quiet = before.rel_oid("public", "quiet")
    assert quiet not in quick.rels


@pytest.mark.parametrize("sql", CHANGES)
def test_the_after_catalog_equals_a_whole_conversion(base: CatalogSnapshot, sql: str) -> None:
    overlay = Overlay(base)
    overlay.apply(sql)
    reused = overlay.catalog  # reuses the snapshot's objects for what did not change
    whole = overlay._state.copy()
    whole.origin = None
    assert reused == whole.to_catalog()
    assert diff(Model.of(base), overlay._state) == overlay.net_changes()


@pytest.fixture(scope="module")
def wide() -> CatalogSnapshot:
    """SCHEMA among 40 other tables with keys and indexes: few relations change, so the
    after catalog is spliced into the snapshot's own rather than converted whole."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    overlay.apply(
        "".join(
            f"CREATE TABLE f{n} (id int PRIMARY KEY, users_id int REFERENCES users (id), v text);"
            f" CREATE INDEX f{n}_v ON f{n} (v);"
            for n in range(40)
        )
    )
    return overlay.catalog


@pytest.mark.parametrize(
    "sql",
    [
        *CHANGES,
        "CREATE TABLE a_first (id int PRIMARY KEY)",
        "CREATE TABLE zz_last (id int PRIMARY KEY); CREATE INDEX ON zz_last (id)",
        "ALTER TABLE f7 RENAME TO zz_f7",
        "ALTER TABLE f7 ADD COLUMN w int UNIQUE",
        "DROP TABLE users CASCADE",
        "ALTER INDEX f3_v RENAME TO a_f3_v",
    ],
)
def test_a_spliced_after_catalog_equals_a_whole_conversion(wide: CatalogSnapshot, sql: str) -> None:
    overlay = Overlay(wide)
    overlay.apply(sql)
    spliced = overlay.catalog
    whole = overlay._state.copy()
    whole.origin = None
    converted = whole.to_catalog()
    assert spliced == converted
    assert spliced.relations_by_name() == converted.relations_by_name()


def test_a_copy_shares_the_per_relation_column_ids_until_it_changes_them(
    base: CatalogSnapshot,
) -> None:
    model = Model.of(base)
    copy = model.copy()
    users = copy.rel_oid("public", "users")
    assert users is not None and copy.attids[users] is model.attids[users]
    Overlay(base).apply("ALTER TABLE users RENAME COLUMN email TO mail")
    assert "email" in model.attids[users]  # the shared model is never changed
