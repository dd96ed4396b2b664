"""ALTER SEQUENCE as the overlay models it: the options that change what nextval returns
make an AlterSequence change (judged by SG133 with a probe); the others change nothing."""

from __future__ import annotations

import pytest

from skewguard.analysis.facets import Facet
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay
from skewguard.ddl.changes import AlterSequence
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules.engine import probes_needed
from skewguard.rules.sequences import sequence_probe

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text);
CREATE TABLE notes (n int DEFAULT nextval('users_id_seq'), body text);
CREATE SEQUENCE spare;
"""


@pytest.fixture(scope="module")
def base() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return overlay.catalog


@pytest.mark.parametrize(
    ("sql", "options"),
    [
        ("ALTER SEQUENCE users_id_seq RESTART WITH 1", (("restart", "1"),)),
        ("ALTER SEQUENCE users_id_seq RESTART", (("restart", ""),)),
        ("ALTER SEQUENCE users_id_seq START 5 RESTART", (("restart", ""), ("start", "5"))),
        ("ALTER SEQUENCE users_id_seq AS smallint", (("as", "int2"),)),
        ("ALTER SEQUENCE users_id_seq NO CYCLE CACHE 20", (("cycle", "false"),)),
        (
            "ALTER SEQUENCE users_id_seq INCREMENT BY -1;"
            " ALTER SEQUENCE users_id_seq MAXVALUE 9223372036854775807",
            (("increment", "-1"), ("maxvalue", "9223372036854775807")),
        ),
    ],
)
def test_what_changes_the_numbers_is_a_change(
    base: CatalogSnapshot, sql: str, options: tuple[tuple[str, str], ...]
) -> None:
    changes = Overlay(base).apply(sql)
    # the key checks the ids alone; notes.n draws from it too but nothing keeps it unique
    assert changes == [
        AlterSequence(
            "public.users_id_seq", options, ("public.users.id",), relation="public.users_id_seq"
        )
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER SEQUENCE users_id_seq CACHE 50",
        "ALTER SEQUENCE users_id_seq AS bigint",
        "ALTER SEQUENCE users_id_seq NO MAXVALUE CYCLE",
        "ALTER SEQUENCE users_id_seq OWNED BY NONE",
        "ALTER SEQUENCE users_id_seq START WITH 100",
        "CREATE SEQUENCE fresh; ALTER SEQUENCE fresh RESTART WITH 5",  # nobody takes from it
        "ALTER SEQUENCE IF EXISTS missing RESTART",
    ],
)
def test_what_leaves_the_numbers_alone_changes_nothing(base: CatalogSnapshot, sql: str) -> None:
    assert not [c for c in Overlay(base).apply(sql) if isinstance(c, AlterSequence)]


def test_the_probe_runs_only_for_a_version_taking_numbers(base: CatalogSnapshot) -> None:
    changes = Overlay(base).apply("ALTER SEQUENCE users_id_seq RESTART")
    [change] = changes
    assert isinstance(change, AlterSequence)
    probe = sequence_probe(change)
    # where a number used again collides: the key's column, compared as its index does
    assert "FROM public.users WHERE id BETWEEN" in probe
    assert "FROM public.users_id_seq q" in probe

    def footprint(*keys: str) -> dict[VersionKey, dict[Facet, Evidence]]:
        ev = Evidence(1, 0.0, 0.0, "")
        return {VersionKey("db", "app", "1"): {Facet.from_key(k): ev for k in keys}}

    taker = footprint("sequence_default:public.users_id_seq", "relation_write:public.users")
    loader = footprint("copy_in:public.users(id,email)", "relation_write:public.users")
    assert probes_needed(changes, taker) == [probe]
    assert probes_needed(changes, loader) == []
