"""A session's temporary relations: followed from its statements, resolved first."""

from __future__ import annotations

import pytest

from skewguard.analysis import FacetKind, analyze
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
        ("CREATE TEMP TABLE s (LIKE app.t INCLUDING ALL) ON COMMIT DROP",
         TemporaryChange(("s",), at_commit=("s",), like=(("s", ("app", "t")),))),
        ("CREATE TEMP TABLE s (LIKE t, x int)", TemporaryChange(made=("s",))),
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


def test_the_shapes_of_tables_made_like_another_follow_their_names() -> None:
    temporary = TemporaryRelations()
    like = TemporaryChange(made=("s",), like=(("s", ("t",)),))
    assert temporary.apply([like, TemporaryChange(made=("u",), like=(("u", ("v",)),))])
    assert temporary.shapes == {("s", ("t",)), ("u", ("v",))}
    assert temporary.apply(
        [TemporaryChange(renamed=(("s", "s2"),)), TemporaryChange(dropped=("u",))]
    )
    assert temporary.shapes == {("s2", ("t",))}
    # made again without LIKE: no shape; a shape alone changing counts as a change
    assert temporary.apply([TemporaryChange(made=("s2",))]) and not temporary.shapes
    assert temporary.apply([TemporaryChange(made=("s2",), like=(("s2", ("w",)),))])
    assert temporary.apply([TemporaryChange(made=("c",), at_commit=("c",), like=(("c", ("t",)),))])
    assert temporary.transaction_ended() and temporary.shapes == {("s2", ("w",))}
    assert temporary.apply([TemporaryChange(discard=True)]) and not temporary.shapes


def test_copy_into_a_staging_table_made_like_a_table_is_learned_against_its_shape() -> None:
    like = [("tmp", ("staging",))]  # a temporary tmp made (LIKE staging)

    def shapes(sql: str, temporary: frozenset[str] = frozenset({"tmp"})) -> set[str]:
        a = analyze(sql, catalog=CATALOG, temporary=temporary, temporary_like=like)
        return set(a.of_kind(FacetKind.COPY_SHAPE))

    assert shapes("COPY tmp FROM STDIN") == {"public.staging"}
    assert shapes("COPY pg_temp.tmp (v, id) FROM STDIN") == {"public.staging(v,id)"}
    assert shapes("COPY tmp TO STDOUT") == set()
    # made in the same text: the same
    assert shapes("CREATE TEMP TABLE t2 (LIKE other); COPY t2 FROM STDIN") == {"public.other"}
    # a table of the schema that the path finds before pg_temp is not the staging table
    path_first = analyze(
        "COPY tmp FROM STDIN",
        search_path=("public", "pg_temp"),
        catalog=CATALOG,
        temporary=frozenset({"tmp"}),
        temporary_like=like,
    )
    assert path_first.of_kind(FacetKind.COPY_SHAPE) == {"public.staging"}  # no public.tmp
    # nothing copies the shape of a relation the catalog lacks
    gone = analyze("COPY tmp FROM STDIN", catalog=CATALOG, temporary=frozenset({"tmp"}),
                   temporary_like=[("tmp", ("nope",))])  # fmt: skip
    assert not gone.of_kind(FacetKind.COPY_SHAPE)


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
