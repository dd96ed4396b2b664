"""CASCADE closures the overlay follows: pg_depend edges, pg_inherits, rewrite rules."""

from __future__ import annotations

import pytest

from skewguard.catalog import (
    CatalogSnapshot,
    Column,
    Dependency,
    Function,
    Relation,
    RelKind,
)
from skewguard.ddl import CannotModel, Change, Overlay
from skewguard.ddl.changes import AttachPartition, CreateRule, DetachPartition, DropDefault

SCHEMA = """
CREATE FUNCTION f() RETURNS text LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION g(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x';
CREATE TABLE codes (id int, code text NOT NULL DEFAULT f(), tag text DEFAULT f());
CREATE TABLE t (id int, c int CHECK (g(c) > 0), n2 int GENERATED ALWAYS AS (g(id)) STORED);
CREATE INDEX t_expr ON t (g(id));
CREATE POLICY p ON t USING (g(id) > 0);
CREATE VIEW v AS SELECT g(id) AS x FROM t;
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE dims AS (w int, h int);
CREATE TABLE stock (id int, qty posint, size dims, note text COLLATE nocase);
CREATE TABLE m (day int, v int) PARTITION BY RANGE (day);
CREATE TABLE m_1 PARTITION OF m (v WITH OPTIONS NOT NULL) FOR VALUES FROM (0) TO (10);
CREATE TABLE base (id int);
CREATE TABLE child (extra int) INHERITS (base);
CREATE TABLE audit (id int, msg text);
"""


@pytest.fixture(scope="module")
def base() -> CatalogSnapshot:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(SCHEMA)
    return overlay.catalog


def changes(base: CatalogSnapshot, sql: str) -> list[Change]:
    overlay = Overlay(base)
    overlay.apply(sql)
    return overlay.net_changes()


def net(base: CatalogSnapshot, sql: str) -> list[str]:
    return [str(c) for c in changes(base, sql)]


def test_the_snapshot_keeps_the_edges(base: CatalogSnapshot) -> None:
    assert {(d.kind, d.relation, d.name, d.ref) for d in base.dependencies} == {
        ("default", "public.codes", "code", "public.f()"),
        ("default", "public.codes", "tag", "public.f()"),
        ("constraint", "public.t", "t_c_check", "public.g(integer)"),
        ("column", "public.t", "n2", "public.g(integer)"),
        ("index", "public.t", "t_expr", "public.g(integer)"),
        ("policy", "public.t", "p", "public.g(integer)"),
        ("column", "public.stock", "note", "public.nocase"),
    }
    m_1 = base.relation("public", "m_1")
    assert m_1 is not None and m_1.parents == ("public.m",) and m_1.partition
    assert m_1.column("v").not_null  # type: ignore[union-attr]
    child = base.relation("public", "child")
    assert child is not None and child.parents == ("public.base",) and not child.partition
    assert child.column_names == ("id", "extra")


def test_drop_function_cascade_drops_the_default(base: CatalogSnapshot) -> None:
    found = changes(base, "DROP FUNCTION f() CASCADE")
    assert [str(c) for c in found] == [
        "DropDefault(public.codes.code)",
        "DropDefault(public.codes.tag)",
        "DropFunction(public.f())",
    ]
    code, tag = found[0], found[1]
    assert isinstance(code, DropDefault) and isinstance(tag, DropDefault)
    assert code.via == "public.f()" and code.not_null and code.cascade
    assert not tag.not_null


def test_drop_function_without_cascade_is_refused_by_postgres(base: CatalogSnapshot) -> None:
    assert net(base, "DROP FUNCTION f()") == []
    assert net(base, "DROP FUNCTION g(int)") == []


def test_drop_function_cascade_reaches_every_kind_of_dependent(base: CatalogSnapshot) -> None:
    found = {str(c): c.via for c in changes(base, "DROP FUNCTION g(int) CASCADE")}
    assert found == {
        "DropColumn(public.t.n2)": "public.g(integer)",
        "DropView(public.v)": "public.g(integer)",
        "DropConstraint(public.t.t_c_check)": "public.g(integer)",
        "DropIndex(public.t_expr)": "public.g(integer)",
        "DropFunction(public.g(integer))": "",
    }
    after = Overlay(base)
    after.apply("DROP FUNCTION g(int) CASCADE")
    t = after.catalog.relation("public", "t")
    assert t is not None and t.policies == ()


def test_replacing_a_default_forgets_its_function(base: CatalogSnapshot) -> None:
    sql = "ALTER TABLE codes ALTER code SET DEFAULT 'x'; DROP FUNCTION f() CASCADE"
    assert net(base, sql) == [
        "ChangeDefault(public.codes.code)",
        "DropDefault(public.codes.tag)",
        "DropFunction(public.f())",
    ]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DROP DOMAIN posint CASCADE", ["DropColumn(public.stock.qty)", "DropType(public.posint)"]),
        ("DROP TYPE dims CASCADE", ["DropColumn(public.stock.size)", "DropType(public.dims)"]),
        (
            "DROP COLLATION nocase CASCADE",
            ["DropColumn(public.stock.note)", "DropNamedObject(nocase)"],
        ),
        ("DROP DOMAIN posint", []),
        ("DROP TYPE dims", []),
        ("DROP COLLATION nocase", []),
    ],
)
def test_drop_type_domain_collation(base: CatalogSnapshot, sql: str, expected: list[str]) -> None:
    assert net(base, sql) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DROP TABLE m", ["DropTable(public.m)", "DropTable(public.m_1)"]),
        ("DROP TABLE m_1", ["DetachPartition(public.m_1)", "DropTable(public.m_1)"]),
        ("DROP TABLE child", ["DropTable(public.child)"]),  # an inheritance child routes nothing
        ("DROP TABLE base", []),
        ("DROP TABLE base CASCADE", ["DropTable(public.base)", "DropTable(public.child)"]),
        (
            "ALTER TABLE m DROP COLUMN v",
            ["DropColumn(public.m.v)", "DropColumn(public.m_1.v)"],
        ),
        (
            "ALTER TABLE base ADD COLUMN note text NOT NULL",
            ["AddColumn(public.base.note)", "AddColumn(public.child.note)"],
        ),
        (
            "ALTER TABLE base RENAME id TO key",
            ["RenameColumn(public.base.id)", "RenameColumn(public.child.id)"],
        ),
        ("ALTER TABLE ONLY base RENAME id TO key", ["RenameColumn(public.base.id)"]),
        (
            "ALTER TABLE base ALTER id TYPE bigint",
            ["AlterColumnType(public.base.id)", "AlterColumnType(public.child.id)"],
        ),
    ],
)
def test_inheritance_and_partitions(base: CatalogSnapshot, sql: str, expected: list[str]) -> None:
    assert sorted(net(base, sql)) == sorted(expected)


def test_a_dropped_partition_leaves_its_parent_without_a_home_for_its_rows(
    base: CatalogSnapshot,
) -> None:
    detached = [c for c in changes(base, "DROP TABLE m_1") if isinstance(c, DetachPartition)]
    assert [(c.subject, c.relation) for c in detached] == [("public.m_1", "public.m")]


@pytest.mark.parametrize(
    ("sql", "partition"),
    [
        ("CREATE TABLE m_2 PARTITION OF m FOR VALUES FROM (10) TO (20)", "public.m_2"),
        (
            "CREATE TABLE m_2 (LIKE m);"
            " ALTER TABLE m ATTACH PARTITION m_2 FOR VALUES FROM (10) TO (20)",
            "public.m_2",
        ),
        ("CREATE TABLE m_def PARTITION OF m DEFAULT", "public.m_def"),
    ],
)
def test_a_new_partition_narrows_what_the_others_take(
    base: CatalogSnapshot, sql: str, partition: str
) -> None:
    """A row written straight into a default partition for the new bounds fails (23514)."""
    added = [c for c in changes(base, sql) if isinstance(c, AttachPartition)]
    assert [(c.subject, c.relation) for c in added] == [(partition, "public.m")]


def test_an_unrelated_table_is_no_new_partition(base: CatalogSnapshot) -> None:
    assert not [
        c for c in changes(base, "CREATE TABLE m_2 (LIKE m)") if isinstance(c, AttachPartition)
    ]


def test_the_cascade_through_a_partitioned_parent_names_its_cause(base: CatalogSnapshot) -> None:
    partition = [c for c in changes(base, "DROP TABLE m") if c.subject == "public.m_1"]
    assert partition[0].via == "public.m"


def test_create_rule(base: CatalogSnapshot) -> None:
    (rule,) = changes(base, "CREATE RULE mute AS ON INSERT TO audit DO INSTEAD NOTHING")
    assert str(rule) == "CreateRule(public.audit.mute)"
    assert isinstance(rule, CreateRule)
    assert rule.event == "insert" and rule.instead and rule.nothing
    (also,) = changes(base, "CREATE RULE a AS ON UPDATE TO audit WHERE old.id > 0 DO ALSO NOTHING")
    assert isinstance(also, CreateRule) and not also.instead and also.conditional
    # a rule on a table made in the same transaction: nobody else writes it
    assert net(
        base, "CREATE TABLE n (id int); CREATE RULE r AS ON INSERT TO n DO INSTEAD NOTHING"
    ) == ["CreateRelation(public.n)"]
    # disabled, then enabled again: the rule rewrites writes again
    overlay = Overlay(base)
    overlay.apply("CREATE RULE mute AS ON INSERT TO audit DO INSTEAD NOTHING")
    overlay.apply("ALTER TABLE audit DISABLE RULE mute")
    assert overlay.net_changes() == []
    overlay.apply("ALTER TABLE audit ENABLE RULE mute")
    assert [str(c) for c in overlay.net_changes()] == ["CreateRule(public.audit.mute)"]


def _with_extension(known: bool) -> CatalogSnapshot:
    citext = "public.citext"
    return CatalogSnapshot(
        schemas=frozenset({"public"}),
        relations=(
            Relation(
                "public",
                "users",
                RelKind.TABLE,
                (Column("id", "integer", "integer"), Column("email", citext, citext)),
            ),
        ),
        functions=(Function("public", "citext_eq", (citext, citext), "boolean"),),
        dependencies=(
            Dependency(
                "function",
                "",
                f"public.citext_eq({citext},{citext})",
                "extension",
                "citext",
                auto=True,
            ),
            Dependency("type", "", citext, "extension", "citext", auto=True),
        ),
        extensions=frozenset({"citext"}) if known else None,
    )


def test_drop_extension_follows_its_members() -> None:
    cat = _with_extension(known=True)
    assert net(cat, "DROP EXTENSION citext") == []  # a column of its type: needs CASCADE
    assert net(cat, "DROP EXTENSION citext CASCADE") == [
        "DropColumn(public.users.email)",
        "DropFunction(public.citext_eq(public.citext,public.citext))",
    ]
    assert net(cat, "DROP EXTENSION IF EXISTS hstore") == []


def test_drop_extension_without_its_members_cannot_be_modelled() -> None:
    with pytest.raises(CannotModel, match="DROP EXTENSION citext"):
        Overlay(_with_extension(known=False)).apply("DROP EXTENSION citext CASCADE")
    fresh = Overlay(_with_extension(known=False))
    fresh.apply("CREATE EXTENSION hstore; DROP EXTENSION hstore")  # made and gone here
    assert fresh.net_changes() == []


def test_extension_set_schema_moves_its_members() -> None:
    fuzzy = "public.levenshtein(text,text)"
    cat = CatalogSnapshot(
        schemas=frozenset({"public", "ext"}),
        functions=(Function("public", "levenshtein", ("text", "text"), "integer"),),
        dependencies=(Dependency("function", "", fuzzy, "extension", "fuzzystrmatch", True),),
        extensions=frozenset({"fuzzystrmatch"}),
    )
    assert net(cat, "ALTER EXTENSION fuzzystrmatch SET SCHEMA ext") == [f"DropFunction({fuzzy})"]
    assert changes(cat, "ALTER EXTENSION fuzzystrmatch SET SCHEMA ext")[0].names()[1:] == (
        "ext.levenshtein(text,text)",
    )
    # a type its columns hold: not followed, judged by who uses the type
    with pytest.raises(CannotModel, match="citext") as raised:
        Overlay(_with_extension(known=True)).apply(
            "CREATE SCHEMA ext; ALTER EXTENSION citext SET SCHEMA ext"
        )
    assert raised.value.affects is not None
    assert raised.value.affects.relations == {"public.users"}
    with pytest.raises(CannotModel, match="members are not known"):
        Overlay(_with_extension(known=False)).apply(
            "CREATE SCHEMA ext; ALTER EXTENSION citext SET SCHEMA ext"
        )


@pytest.mark.parametrize(
    "sql",
    [
        "DROP OWNED BY app",
        "REASSIGN OWNED BY app TO other",
        "DO $$ BEGIN END $$",
        "CREATE TRIGGER tr BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION f()",
        "ALTER TABLE m DETACH PARTITION m_1",
        "REVOKE EXECUTE ON FUNCTION f() FROM PUBLIC",
        "ALTER DOMAIN posint SET NOT NULL",
    ],
)
def test_what_cannot_be_modelled(base: CatalogSnapshot, sql: str) -> None:
    overlay = Overlay(base)
    with pytest.raises(CannotModel) as caught:
        overlay.apply(sql)
    assert caught.value.reason and not caught.value.internal
    assert overlay.net_changes() == []


def test_a_constraint_or_index_redefined_under_its_name_goes_and_comes() -> None:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(
        "CREATE TABLE r (id int, e text, CONSTRAINT r_id CHECK (id > 0));"
        " CREATE UNIQUE INDEX r_e ON r (e)"
    )
    catalog = overlay.catalog
    redefined = net(
        catalog,
        "ALTER TABLE r DROP CONSTRAINT r_id; ALTER TABLE r ADD CONSTRAINT r_id CHECK (id > 10);"
        " DROP INDEX r_e; CREATE UNIQUE INDEX r_e ON r (e, id)",
    )
    assert sorted(redefined) == [
        "AddConstraint(public.r.r_id)",
        "CreateIndex(public.r_e)",
        "DropConstraint(public.r.r_id)",
        "DropIndex(public.r_e)",
    ]
    same = net(
        catalog,
        "ALTER TABLE r DROP CONSTRAINT r_id; ALTER TABLE r ADD CONSTRAINT r_id CHECK (id > 0);"
        " DROP INDEX r_e; CREATE UNIQUE INDEX r_e ON r (e)",
    )
    assert same == ["CreateIndex(public.r_e)"]  # built again: a lock, nothing refused anew


def _with_operators() -> CatalogSnapshot:
    return CatalogSnapshot(
        schemas=frozenset({"public", "ops"}),
        operators=frozenset({"public.===(text,text)", "public.===(integer,integer)"}),
        held_operators=frozenset({"public.===(integer,integer)"}),
    )


def test_operators_dropped_and_moved_by_signature() -> None:
    cat = _with_operators()
    assert net(cat, "DROP OPERATOR === (text, text)") == ["DropOperator(public.===(text,text))"]
    (moved,) = changes(cat, "ALTER OPERATOR public.=== (text, text) SET SCHEMA ops")
    assert moved.to_dict()["new"] == "ops.===(text,text)"
    assert net(cat, "ALTER SCHEMA public RENAME TO app") == ["RenameSchema(public)"]
    # made and gone in one transaction: nobody else saw it
    assert (
        net(
            cat,
            "CREATE OPERATOR ops.<~> (LEFTARG = int, RIGHTARG = int, FUNCTION = f);"
            " DROP OPERATOR ops.<~> (int, int)",
        )
        == []
    )
    assert net(cat, "DROP OPERATOR IF EXISTS === (bigint, bigint)") == []
    assert net(cat, "DROP OPERATOR === (text, text) CASCADE") == [
        "DropOperator(public.===(text,text))"
    ]
    # something holds it: what CASCADE takes along is not followed
    with pytest.raises(CannotModel, match="DROP OPERATOR"):
        Overlay(cat).apply("DROP OPERATOR === (int, int) CASCADE")
    after = Overlay(cat)
    after.apply("ALTER OPERATOR === (text, text) SET SCHEMA ops")
    assert after.catalog.operators == {"ops.===(text,text)", "public.===(integer,integer)"}


def test_alter_constraint_changes_when_it_is_checked() -> None:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(
        "CREATE TABLE o (id int PRIMARY KEY); CREATE TABLE l (o_id int,"
        " CONSTRAINT l_o FOREIGN KEY (o_id) REFERENCES o DEFERRABLE INITIALLY DEFERRED)"
    )
    cat = overlay.catalog
    (immediate,) = changes(cat, "ALTER TABLE l ALTER CONSTRAINT l_o NOT DEFERRABLE")
    assert str(immediate) == "SetDeferrable(public.l.l_o)"
    assert immediate.to_dict()["kind"] == "SetDeferrable" and "flags" not in immediate.to_dict()
    (later,) = changes(cat, "ALTER TABLE l ALTER CONSTRAINT l_o DEFERRABLE INITIALLY IMMEDIATE")
    assert later.to_dict()["flags"] == ["deferrable"]
    assert net(cat, "ALTER TABLE l ALTER CONSTRAINT l_o DEFERRABLE INITIALLY DEFERRED") == []
    assert net(cat, "ALTER TABLE l ALTER CONSTRAINT nope NOT DEFERRABLE") == []  # refused


def test_a_columns_deferrable_clauses_belong_to_the_constraint_before_them() -> None:
    """``REFERENCES o DEFERRABLE INITIALLY DEFERRED`` on a column: the parser gives the
    clauses as items of their own; PostgreSQL applies them to the constraint before."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(
        "CREATE TABLE o (id int PRIMARY KEY, k int UNIQUE DEFERRABLE);"
        " CREATE TABLE l (o_id int REFERENCES o DEFERRABLE INITIALLY DEFERRED,"
        " k int REFERENCES o (k) INITIALLY DEFERRED, n int REFERENCES o NOT DEFERRABLE)"
    )
    overlay.apply("ALTER TABLE l ADD COLUMN m int REFERENCES o DEFERRABLE")
    defs = {c.name: c.definition for c in overlay.catalog.constraints}
    assert defs["l_o_id_fkey"].endswith("REFERENCES public.o(id) DEFERRABLE INITIALLY DEFERRED")
    assert defs["l_k_fkey"].endswith("REFERENCES public.o(k) DEFERRABLE INITIALLY DEFERRED")
    assert defs["l_n_fkey"].endswith("REFERENCES public.o(id)")
    assert defs["l_m_fkey"].endswith("REFERENCES public.o(id) DEFERRABLE")
    assert defs["o_k_key"] == "UNIQUE (k) DEFERRABLE"
    (immediate,) = changes(
        overlay.catalog, "ALTER TABLE l ALTER CONSTRAINT l_o_id_fkey NOT DEFERRABLE"
    )
    assert str(immediate) == "SetDeferrable(public.l.l_o_id_fkey)"


def test_alter_constraint_enforcement_reaches_the_writers() -> None:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply("CREATE TABLE t (n int, CONSTRAINT pos CHECK (n > 0))")
    with pytest.raises(CannotModel, match="ENFORCED") as raised:
        Overlay(overlay.catalog).apply("ALTER TABLE t ALTER CONSTRAINT pos NOT ENFORCED")
    affects = raised.value.affects
    assert affects is not None and affects.relations == {"public.t"}
