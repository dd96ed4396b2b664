"""A session's temporary relations: followed from its statements, resolved first."""

from __future__ import annotations

import pytest

from skewguard.analysis import analyze
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Overlay
from skewguard.statements import read_script
from skewguard.temporary import MAX_TRACKED, TemporaryChange, TemporaryRelations


def _change(sql: str) -> TemporaryChange | None:
    (statement,) = read_script(sql).statements
    return statement.temporary


@pytest.mark.parametrize(
    ("sql", "change"),
    [
        ("CREATE TEMP TABLE s (a int)", TemporaryChange(made=("s",))),
        ("CREATE TEMPORARY TABLE IF NOT EXISTS s (a int)", TemporaryChange(made=("s",))),
        ("CREATE TABLE pg_temp.s (a int)", TemporaryChange(made=("s",))),
        ("CREATE TEMP TABLE s (a int) ON COMMIT DROP", TemporaryChange(("s",), at_commit=("s",))),
        ("CREATE TEMP TABLE s AS SELECT 1 AS a", TemporaryChange(made=("s",))),
        ("SELECT 1 AS a INTO TEMP s", TemporaryChange(made=("s",))),
        ("CREATE TEMP VIEW v AS SELECT 1 AS a", TemporaryChange(made=("v",))),
        ("CREATE TEMP SEQUENCE q", TemporaryChange(made=("q",))),
        ("DROP TABLE s, public.t, pg_temp.u", TemporaryChange(dropped=("s", "u"))),
        ("ALTER TABLE s RENAME TO s2", TemporaryChange(renamed=(("s", "s2"),))),
        ("DISCARD TEMP", TemporaryChange(discard=True)),
        ("DISCARD ALL", TemporaryChange(discard=True)),
        ("CREATE TABLE s (a int)", None),
        ("DROP TABLE public.t", None),
        ("ALTER TABLE public.t RENAME TO u", None),
        ("DISCARD PLANS", None),
    ],
)  # fmt: skip
def test_what_a_statement_does_to_the_session_s_temporary_names(
    sql: str, change: TemporaryChange | None
) -> None:
    assert _change(sql) == change


def test_the_names_follow_creates_drops_renames_commits_and_discards() -> None:
    temporary = TemporaryRelations()
    assert temporary.apply(
        [TemporaryChange(made=("a",)), TemporaryChange(made=("b",), at_commit=("b",))]
    )
    assert temporary.names == {"a", "b"}
    assert temporary.transaction_ended() and temporary.names == {"a"}
    assert not temporary.transaction_ended()  # nothing more to drop
    assert temporary.apply([TemporaryChange(renamed=(("a", "c"), ("zz", "y")))])
    assert temporary.names == {"c"}  # a name the session does not hold is not a temporary one
    assert not temporary.apply([TemporaryChange(dropped=("nope",))])
    assert temporary.apply([TemporaryChange(discard=True)]) and not temporary.names


def test_past_the_bound_new_names_are_not_followed() -> None:
    temporary = TemporaryRelations()
    temporary.apply([TemporaryChange(made=(f"t{i}",)) for i in range(MAX_TRACKED + 5)])
    assert len(temporary.names) == MAX_TRACKED


def _catalog() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply("CREATE TABLE staging (id int, v text); CREATE TABLE other (id int)")
    return overlay.catalog


CATALOG = _catalog()
DROPPED = "DropTable(public.staging)"


@pytest.mark.parametrize(
    ("sql", "path", "temporary", "used"),
    [
        ("INSERT INTO staging VALUES (1, 'a')", ("public",), set(), True),
        ("INSERT INTO staging VALUES (1, 'a')", ("public",), {"staging"}, False),
        ("INSERT INTO public.staging VALUES (1, 'a')", ("public",), {"staging"}, True),
        ("SELECT * FROM pg_temp.staging", ("public",), set(), False),
        # pg_temp listed after public: the real table answers first
        ("SELECT * FROM staging", ("public", "pg_temp"), {"staging"}, True),
        ("SELECT * FROM staging", ("pg_temp", "public"), {"staging"}, False),
    ],
)
def test_a_temporary_name_is_not_the_schema_s(
    sql: str, path: tuple[str, ...], temporary: set[str], used: bool
) -> None:
    facets = analyze(sql, search_path=path, catalog=CATALOG, temporary=frozenset(temporary))
    assert any("public.staging" in f.subject for f in facets.facets) is used


def test_a_temporary_name_is_not_learned_as_a_missing_relation() -> None:
    facets = analyze("SELECT * FROM tmpx", catalog=CATALOG, temporary=frozenset({"tmpx"}))
    assert not facets.facets
    assert analyze("SELECT * FROM tmpx", catalog=CATALOG).facets  # public.tmpx, missing


@pytest.mark.parametrize(
    ("sql", "temporary", "changes"),
    [
        ("DROP TABLE staging", {"staging"}, []),
        ("DROP TABLE staging", set(), [DROPPED]),
        ("DROP TABLE staging, other", {"staging"}, ["DropTable(public.other)"]),
        # the second DROP finds the real table once the temporary one is gone
        ("DROP TABLE staging; DROP TABLE staging", {"staging"}, [DROPPED]),
        # in the order PostgreSQL runs them: the temporary table comes after the drop
        ("DROP TABLE staging; CREATE TEMP TABLE staging (a int)", set(), [DROPPED]),
        ("CREATE TEMP TABLE staging (a int); DROP TABLE staging", set(), []),
        ("ALTER TABLE staging ADD COLUMN z int NOT NULL", {"staging"}, []),
        ("ALTER TABLE staging RENAME TO s2; DROP TABLE staging", {"staging"}, [DROPPED]),
        ("ALTER TABLE staging RENAME COLUMN v TO w", {"staging"}, []),
        ("DROP TABLE pg_temp.staging", set(), []),
    ],
)  # fmt: skip
def test_ddl_on_the_session_s_temporary_relation_changes_nothing_modelled(
    sql: str, temporary: set[str], changes: list[str]
) -> None:
    overlay = Overlay(CATALOG, temporary=frozenset(temporary))
    overlay.apply(sql)
    assert [str(c) for c in overlay.net_changes()] == changes


def test_a_savepoint_rolled_back_to_restores_the_temporary_names() -> None:
    overlay = Overlay(CATALOG)
    overlay.savepoint("s")
    overlay.apply("CREATE TEMP TABLE staging (a int)")
    overlay.rollback_to("s")
    overlay.apply("DROP TABLE staging")
    assert [str(c) for c in overlay.net_changes()] == [DROPPED]
