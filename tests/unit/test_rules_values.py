"""Rules that judge by the values versions write: only the versions whose values break
are named (the probes' answers are given here; test_rule_examples.py runs them on
PostgreSQL)."""

from __future__ import annotations

import pytest

from skewguard.analysis import Facet, FacetKind, analyze
from skewguard.analysis.values import value_facets
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl import Finding, Overlay, Severity
from skewguard.ddl.changes import AddColumn, AddConstraint
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules.columns import default_probes
from skewguard.rules.constraints import value_probes
from skewguard.rules.engine import evaluate, probes_needed
from skewguard.rules.values import column_values, fits

SCHEMA = "CREATE TABLE t (id serial, qty int, email text, title varchar(100))"
V1, V2, V3 = (VersionKey("db", "app", v) for v in ("1", "2", "3"))


def _before() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return overlay.catalog


BEFORE = _before()


def footprint(*texts: str) -> dict[Facet, Evidence]:
    """What the learner records for one run of each text."""
    out: dict[Facet, Evidence] = {}
    for sql in texts:
        result = analyze(sql, catalog=BEFORE)
        for facet in result.facets | value_facets(result.values):
            have = out.get(facet)
            out[facet] = Evidence((have.count if have else 0) + 1, 0.0, 0.0, sql)
    return out


def judge(
    migration: str, versions: dict[VersionKey, dict[Facet, Evidence]], answer: object
) -> list[Finding]:
    """Evaluate with every probe answered by ``answer(sql)``."""
    overlay = Overlay(BEFORE)
    overlay.apply(migration)
    changes = overlay.net_changes()
    needed = probes_needed(changes, versions, overlay.catalog)
    probes = {p: answer(p.sql) for p in needed}  # type: ignore[operator]
    return evaluate(
        changes, versions, catalog_before=BEFORE, catalog_after=overlay.catalog, probes=probes
    )


def named(findings: list[Finding]) -> dict[VersionKey, Severity]:
    return {f.version: f.severity for f in findings if f.version is not None}


CHECK = "ALTER TABLE t ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID"


def test_a_check_names_only_the_version_whose_constant_fails() -> None:
    versions = {
        V1: footprint("INSERT INTO t (qty) VALUES (0)"),
        V2: footprint("INSERT INTO t (qty) VALUES (5)", "UPDATE t SET qty = 7 WHERE id = 1"),
        V3: footprint("UPDATE t SET qty = $1 WHERE id = $2"),
    }
    # PostgreSQL's answers: V1's constants fail; existing rows fail too (V1 wrote one)
    findings = judge(CHECK, versions, lambda sql: "jsonb_to_recordset" not in sql or '"0"' in sql)
    assert named(findings) == {V1: Severity.BREAK, V3: Severity.BREAK}


def test_findings_never_carry_a_written_constant() -> None:
    versions = {V1: footprint("INSERT INTO t (qty, title) VALUES (-424242, 'marker-xyzzy')")}
    check = "ALTER TABLE t ADD CONSTRAINT c CHECK (qty > 0); ALTER TABLE t ALTER title TYPE char(3)"
    findings = judge(check, versions, lambda sql: True)
    assert {f.rule for f in findings if f.severity is Severity.BREAK} == {"SG110", "SG114"}
    for f in findings:
        assert f.facet is None or f.facet.kind is not FacetKind.WRITE_VALUE
        text = f"{f.message} {f.to_dict().get('facet')}"
        assert "424242" not in text and "xyzzy" not in text


def test_a_check_leaves_a_parameter_writer_a_risk_without_violating_rows() -> None:
    versions = {V1: footprint("INSERT INTO t (qty) VALUES ($1)")}
    assert named(judge(CHECK, versions, lambda sql: False)) == {V1: Severity.RISK}


def test_a_check_on_constants_is_asked_as_each_role_the_version_runs_as() -> None:
    """PostgreSQL evaluates a CHECK as the writer: a version seen as two roles is cleared
    only when the constants pass as both, and broken when they fail as one."""
    roles = {Facet(FacetKind.ROLE, r): Evidence(1, 0.0, 0.0, "") for r in ("shop", "ops")}
    versions = {V1: {**footprint("INSERT INTO t (qty) VALUES (5)"), **roles}}
    check = "ALTER TABLE t ADD CONSTRAINT c CHECK (qty > 0 OR current_user = 'admin') NOT VALID"
    overlay = Overlay(BEFORE)
    overlay.apply(check)
    [change] = overlay.net_changes()
    assert isinstance(change, AddConstraint)
    own = value_probes(change, versions, overlay.catalog)[V1]
    assert [p.role for p in own] == ["ops", "shop"] and own[0].sql == own[1].sql

    def answers(by_role: dict[str | None, bool | None]) -> dict[VersionKey, Severity]:
        changes = overlay.net_changes()
        probes = {p: by_role.get(p.role) for p in probes_needed(changes, versions, overlay.catalog)}
        return named(
            evaluate(
                changes, versions, catalog_before=BEFORE, catalog_after=overlay.catalog,
                probes=probes,
            )
        )  # fmt: skip

    assert answers({None: False, "ops": False, "shop": False}) == {}
    assert answers({None: False, "ops": False, "shop": True}) == {V1: Severity.BREAK}
    assert answers({None: False, "ops": False, "shop": None}) == {V1: Severity.RISK}


def test_a_check_asking_the_session_is_not_judged_by_a_probe_elsewhere() -> None:
    """Neither the constants' probe nor the rows' (as the migrating session) answers for
    the version: it stays a risk whatever they say."""
    versions = {V1: footprint("INSERT INTO t (qty) VALUES (5)")}
    check = (
        "ALTER TABLE t ADD CONSTRAINT c CHECK (qty > 0 OR "
        "current_setting('application_name') = 'x') NOT VALID"
    )
    for answer in (True, False):
        assert named(judge(check, versions, lambda sql, a=answer: a)) == {V1: Severity.RISK}


def test_a_check_on_two_columns_is_not_evaluated_on_constants() -> None:
    overlay = Overlay(BEFORE)
    overlay.apply("ALTER TABLE t ADD CONSTRAINT c CHECK (qty > id)")
    [change] = overlay.net_changes()
    assert isinstance(change, AddConstraint)
    versions = {V1: footprint("INSERT INTO t (id, qty) VALUES (1, 2)")}
    assert value_probes(change, versions, overlay.catalog) == {}


def test_constants_learned_before_values_were_kept_are_not_complete() -> None:
    facets = footprint("INSERT INTO t (qty) VALUES (5)")
    write = Facet(FacetKind.COLUMN_WRITE, "public.t.qty")
    assert column_values(facets, "public.t.qty") == (frozenset({"n:5"}), True)
    facets[write] = Evidence(3, 0.0, 0.0, "")  # two writes seen before values were kept
    assert column_values(facets, "public.t.qty") == (frozenset({"n:5"}), False)


UNIQUE = "ALTER TABLE t ADD CONSTRAINT t_email_key UNIQUE (email)"


def test_a_unique_spares_versions_whose_inserts_absorb_duplicates() -> None:
    versions = {
        V1: footprint("INSERT INTO t (email) VALUES ('a') ON CONFLICT DO NOTHING"),
        V2: footprint(
            "INSERT INTO t (email) VALUES ('b') ON CONFLICT (email) DO UPDATE SET qty = 1"
        ),
        V3: footprint("INSERT INTO t (email) VALUES ('c') ON CONFLICT (id) DO NOTHING"),
    }
    assert named(judge(UNIQUE, versions, lambda sql: False)) == {V3: Severity.RISK}


def test_a_unique_breaks_a_version_inserting_a_constant_already_there() -> None:
    versions = {
        V1: footprint("INSERT INTO t (email) VALUES ('c')"),
        V2: footprint("INSERT INTO t (email) VALUES ('d')", "INSERT INTO t (email) VALUES ($1)"),
    }
    taken = "JOIN jsonb_to_recordset"
    findings = judge(UNIQUE, versions, lambda sql: taken in sql and '"c"' in sql)
    assert named(findings) == {V1: Severity.BREAK, V2: Severity.RISK}


def test_a_unique_is_not_absorbed_when_the_key_is_updated() -> None:
    versions = {
        V1: footprint(
            "INSERT INTO t (email) VALUES ('a') ON CONFLICT DO NOTHING",
            "UPDATE t SET email = 'z' WHERE id = 1",
        )
    }
    assert named(judge(UNIQUE, versions, lambda sql: False)) == {V1: Severity.RISK}


@pytest.mark.parametrize(
    ("migration", "writes", "broken"),
    [
        ("ALTER TABLE t ALTER title TYPE varchar(20)", "UPDATE t SET title = 'short'", False),
        ("ALTER TABLE t ALTER title TYPE varchar(5)", "UPDATE t SET title = 'longer'", True),
        ("ALTER TABLE t ALTER title TYPE varchar(5)", "UPDATE t SET title = $1", True),
        ("ALTER TABLE t ALTER qty TYPE smallint", "INSERT INTO t (qty) VALUES (-32768)", False),
        ("ALTER TABLE t ALTER qty TYPE smallint", "INSERT INTO t (qty) VALUES (32768)", True),
        ("ALTER TABLE t ALTER email TYPE integer USING 0", "UPDATE t SET email = '12'", False),
        ("ALTER TABLE t ALTER email TYPE integer USING 0", "UPDATE t SET email = 'x'", True),
    ],
)
def test_a_retype_names_only_writers_whose_values_do_not_fit(
    migration: str, writes: str, broken: bool
) -> None:
    findings = judge(migration, {V1: footprint(writes)}, lambda sql: None)
    assert (named(findings).get(V1) is Severity.BREAK) == broken


@pytest.mark.parametrize(
    ("value", "type_name", "fit"),
    [
        ("null", "smallint", True),
        ("n:32767", "smallint", True),
        ("n:-2147483649", "integer", False),
        ("s: 42 ", "bigint", True),
        ("n:1.5", "integer", None),
        ("s:abc  ", "character varying(3)", True),
        ("s:abcd", "character(3)", False),
        ("s:anything", "text", True),
        ("n:5", "character varying(3)", None),
        ("s:2024-01-01", "date", None),
    ],
)
def test_fits(value: str, type_name: str, fit: bool | None) -> None:
    assert fits(value, type_name) is fit


def test_a_held_statement_is_named_before_a_writer_replay_may_clear() -> None:
    """A version that both writes the column and keeps a statement returning it prepared
    breaks on the held statement (0A000) whatever it writes: that finding, which a clean
    replay of the writes cannot overturn, is the one named."""
    held = footprint("UPDATE t SET qty = $1")
    held[Facet(FacetKind.PREPARED_RESULT, "public.t.qty")] = Evidence(1, 0.0, 0.0, "SELECT qty")
    findings = judge("ALTER TABLE t ALTER qty TYPE smallint", {V1: held}, lambda sql: None)
    assert [f.facet.kind for f in findings if f.version == V1 and f.facet] == [
        FacetKind.PREPARED_RESULT
    ]


def test_a_new_not_null_columns_default_is_probed_as_each_inserting_versions_role() -> None:
    roles = {Facet(FacetKind.ROLE, r): Evidence(1, 0.0, 0.0, "") for r in ("shop", "ops")}
    writer = {**footprint("INSERT INTO t (qty) VALUES (5)"), **roles}
    reader = footprint("SELECT qty FROM t")
    versions = {V1: writer, V2: reader}
    migration = (
        "ALTER TABLE t ADD COLUMN c text NOT NULL DEFAULT CASE WHEN current_user = 'x' THEN 'y' END"
    )
    overlay = Overlay(BEFORE)
    overlay.apply(migration)
    [change] = overlay.net_changes()
    assert isinstance(change, AddColumn)
    probes = default_probes(change, versions, overlay.catalog)
    assert list(probes) == [V1] and [p.role for p in probes[V1]] == ["ops", "shop"]
    assert "IS NULL" in probes[V1][0].sql
    assert named(judge(migration, versions, lambda sql: True)) == {V1: Severity.BREAK}
    assert named(judge(migration, versions, lambda sql: False)) == {}
    assert named(judge(migration, versions, lambda sql: None)) == {}
    plain = "ALTER TABLE t ADD COLUMN c text NOT NULL"
    assert named(judge(plain, versions, lambda sql: None)) == {V1: Severity.BREAK}


def test_a_default_made_to_matter_by_not_null_is_probed_for_omitting_versions() -> None:
    versions = {V1: footprint("INSERT INTO t (email) VALUES ('a')")}
    nullable = "ALTER TABLE t ALTER COLUMN qty SET DEFAULT nullif(1, 1)"
    assert named(judge(nullable, versions, lambda sql: True)) == {}
    made = "ALTER TABLE t ALTER COLUMN qty SET DEFAULT nullif(1, 1), ALTER COLUMN qty SET NOT NULL"
    assert named(judge(made, versions, lambda sql: True)) == {V1: Severity.BREAK}
    assert named(judge(made, versions, lambda sql: False)) == {}


def test_an_expression_asking_nothing_of_the_session_is_probed_as_the_migrating_one() -> None:
    """No role switch to be refused (a side connection may use a version's role only
    where the database holds no code to leave it with): the answer is the same."""
    roles = {Facet(FacetKind.ROLE, "shop"): Evidence(1, 0.0, 0.0, "")}
    versions = {V1: {**footprint("INSERT INTO t (qty) VALUES (5)"), **roles}}
    overlay = Overlay(BEFORE)
    overlay.apply(CHECK)
    [change] = overlay.net_changes()
    assert isinstance(change, AddConstraint)
    assert [p.role for p in value_probes(change, versions, overlay.catalog)[V1]] == [None]
    overlay = Overlay(BEFORE)
    overlay.apply("ALTER TABLE t ADD COLUMN c text NOT NULL DEFAULT nullif('a', 'a')")
    [added] = overlay.net_changes()
    assert isinstance(added, AddColumn)
    assert [p.role for p in default_probes(added, versions, overlay.catalog)[V1]] == [None]
