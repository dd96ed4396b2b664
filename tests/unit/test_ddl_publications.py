"""Publications and replica identity in the overlay: which tables lose the identity
their published UPDATEs and DELETEs need (ReplicaIdentityLost), and which do not."""

from __future__ import annotations

import pytest

from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import CannotModel, Overlay
from skewguard.ddl.changes import ReplicaIdentityLost

SCHEMA = """
CREATE TABLE orders (id int PRIMARY KEY, ref text NOT NULL, qty int);
CREATE UNIQUE INDEX orders_ref_key ON orders (ref);
CREATE TABLE events (at text, n int);
CREATE SCHEMA audit;
CREATE TABLE audit.trail (what text);
"""


def _lost(setup: str, migration: str) -> dict[str, tuple[bool, bool]]:
    """(updates, deletes) refused from now on, per table, after ``migration``."""
    schema = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    schema.apply(SCHEMA + setup)
    overlay = Overlay(schema.catalog)
    overlay.apply(migration)
    return {
        c.subject: (c.updates, c.deletes)
        for c in overlay.net_changes()
        if isinstance(c, ReplicaIdentityLost)
    }


@pytest.mark.parametrize(
    ("setup", "migration", "lost"),
    [
        ("", "CREATE PUBLICATION p FOR ALL TABLES", {"public.events", "audit.trail"}),
        ("", "CREATE PUBLICATION p FOR TABLE orders, events", {"public.events"}),
        ("", "CREATE PUBLICATION p FOR TABLES IN SCHEMA audit", {"audit.trail"}),
        ("", "CREATE PUBLICATION p FOR ALL TABLES WITH (publish = 'insert')", set()),
        (
            "",
            "ALTER TABLE events REPLICA IDENTITY FULL; CREATE PUBLICATION p FOR ALL TABLES",
            {"audit.trail"},
        ),
        (
            "CREATE PUBLICATION p FOR TABLE orders;",
            "ALTER TABLE orders DROP CONSTRAINT orders_pkey",
            {"public.orders"},
        ),
        (
            "CREATE PUBLICATION p FOR TABLE orders;",
            "ALTER TABLE orders REPLICA IDENTITY NOTHING",
            {"public.orders"},
        ),
        (
            "CREATE PUBLICATION p FOR TABLE events;",
            "ALTER TABLE orders REPLICA IDENTITY NOTHING",
            set(),
        ),
        (
            "CREATE PUBLICATION p FOR TABLE orders;",
            "ALTER TABLE orders REPLICA IDENTITY USING INDEX orders_ref_key;"
            " ALTER TABLE orders DROP CONSTRAINT orders_pkey",
            set(),
        ),
        (
            "CREATE PUBLICATION p FOR TABLE orders;"
            " ALTER TABLE orders REPLICA IDENTITY USING INDEX orders_ref_key;",
            "DROP INDEX orders_ref_key",
            {"public.orders"},
        ),
        (
            "CREATE PUBLICATION p FOR TABLE orders;",
            "ALTER PUBLICATION p DROP TABLE orders; ALTER TABLE orders DROP CONSTRAINT orders_pkey",
            set(),
        ),
        (
            "CREATE PUBLICATION p FOR TABLE orders;",
            "ALTER PUBLICATION p SET TABLE events",
            {"public.events"},
        ),
        (
            "CREATE PUBLICATION p FOR TABLE orders;",
            "ALTER PUBLICATION p RENAME TO q; ALTER PUBLICATION q ADD TABLE events",
            {"public.events"},
        ),
        (
            "CREATE PUBLICATION p FOR TABLE orders;",
            "ALTER TABLE orders RENAME TO purchases;"
            " ALTER TABLE purchases DROP CONSTRAINT orders_pkey",
            {"public.purchases"},
        ),
        (
            "CREATE PUBLICATION p FOR TABLE events;",
            "DROP PUBLICATION p; ALTER TABLE events ADD COLUMN x int",
            set(),
        ),
    ],
)
def test_tables_left_without_the_identity_they_publish_with(
    setup: str, migration: str, lost: set[str]
) -> None:
    assert set(_lost(setup, migration)) == lost


def test_a_partition_without_identity_reaches_updates_through_its_parent() -> None:
    setup = (
        "CREATE TABLE log (at date, n int) PARTITION BY RANGE (at);"
        " CREATE TABLE log_2026 PARTITION OF log FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
    )
    lost = _lost(setup, "CREATE PUBLICATION p FOR TABLE log")
    assert set(lost) == {"public.log", "public.log_2026"}


def test_only_the_published_actions_are_refused() -> None:
    setup = "CREATE PUBLICATION p FOR TABLE events WITH (publish = 'insert');"
    assert _lost(setup, "ALTER PUBLICATION p SET (publish = 'insert, delete')") == {
        "public.events": (False, True)
    }


def test_a_row_filter_on_a_published_table_is_not_judged() -> None:
    with pytest.raises(CannotModel, match="row filter or column list"):
        _lost("", "CREATE PUBLICATION p FOR TABLE orders WHERE (qty > 0)")
    assert (
        _lost("", "CREATE PUBLICATION p FOR TABLE orders WHERE (qty > 0) WITH (publish = 'insert')")
        == {}
    )
