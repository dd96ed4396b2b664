"""CatalogSnapshot: rows -> snapshot conversion (the loader's) and the lookup helpers."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pglast import ast, parse_sql

from skewguard import catalog as cat
from skewguard.catalog import (
    CatalogSnapshot,
    Column,
    FuncKind,
    Function,
    RelKind,
    build_catalog,
)


def column_row(relation: str, column: str | None, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "schema": "public",
        "relation": relation,
        "relkind": "r",
        "column": column,
        "attnum": 1,
        "type_name": "integer",
        "base_type": "integer",
        "not_null": False,
        "has_default": False,
        "default_expr": None,
        "identity": "",
        "generated": "",
        "generated_from": None,
        "default_seq_schemas": None,
        "default_seq_names": None,
        "acl": None,
        "collation": None,
    }
    row.update(over)
    return row


def function_row(name: str, args: list[str], **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "schema": "public",
        "name": name,
        "arg_types": args,
        "return_type": "integer",
        "kind": "f",
        "n_defaults": 0,
        "variadic": False,
        "returns_set": False,
        "trigger_body": None,
        "body_language": None,
        "body_source": None,
        "arg_names": ["" for _ in args],
        "out_columns": [],
        "inline_key": None,
        "call_types": None,
    }
    row.update(over)
    return row


SCHEMA_ROWS: list[dict[str, Any]] = [
    {"schema": "public", "acl": ["postgres=UC/postgres", "=U/postgres"]},
    {"schema": "app", "acl": None},
]
COLUMN_ROWS = [
    column_row(
        "t",
        "id",
        attnum=1,
        type_name="bigint",
        base_type="bigint",
        not_null=True,
        has_default=True,
        default_expr="nextval('t_id_seq'::regclass)",
        default_seq_schemas=["public"],
        default_seq_names=["t_id_seq"],
    ),
    column_row(
        "t",
        "code",
        attnum=2,
        type_name="character varying(20)",
        base_type="character varying",
    ),
    column_row(
        "t",
        "ident",
        attnum=3,
        identity="a",
        default_seq_schemas=["app", "public"],
        default_seq_names=["z_seq", "Weird Seq"],
    ),
    column_row("t", "twice", attnum=4, has_default=True, default_expr="(id * 2)", generated="s"),
    column_row(
        "t", "mood", attnum=5, type_name="app.mood", base_type="app.mood", acl=["app=w/owner"]
    ),
    column_row("v", "id", relkind="v"),
    column_row("mv", "n", relkind="m"),
    column_row("p", "k", relkind="p"),
    column_row("f", "k", relkind="f"),
    column_row("t_id_seq", "last_value", relkind="S"),
    column_row("bare", None),
    column_row("t", "only_in_app", schema="app"),
]
FUNCTION_ROWS = [
    function_row("f", ["bigint"]),
    function_row("f", ["bigint", "text"]),
    function_row("g", ["integer", "integer"], n_defaults=1, returns_set=True),
    function_row("v", ["integer", "text[]"], variadic=True),
    function_row("p", ["bigint"], kind="p", return_type="void"),
    function_row("agg", ["integer"], kind="a"),
    function_row("w", [], kind="w"),
]
ENUM_ROWS = [
    {"schema": "app", "name": "mood", "type_name": "app.mood", "labels": ["sad", "ok", "happy"]}
]
TYPE_ROWS = [{"schema": "app", "name": "short_text"}, {"schema": "public", "name": "pair"}]
BUILTIN_ROW = {"functions": ["lower", "count"], "relations": ["pg_class"], "operators": ["="]}
OPERATOR_ROWS: list[dict[str, Any]] = [
    {"schema": "public", "name": "===", "left_type": "text", "right_type": "text", "held": True},
    {"schema": "ops", "name": "!!", "left_type": None, "right_type": "integer", "held": False},
]
PUBLICATION_ROWS: list[dict[str, Any]] = [
    {
        "name": "cdc",
        "all_tables": False,
        "updates": True,
        "deletes": False,
        "table_schemas": ["public", "app"],
        "tables": ["users", "Log"],
        "schemas": ["audit"],
    },
    {
        "name": "dbz",
        "all_tables": True,
        "updates": True,
        "deletes": True,
        "table_schemas": [],
        "tables": [],
        "schemas": [],
    },
]
RELATION_ROWS: list[dict[str, Any]] = [
    {
        "schema": "public",
        "relation": "t",
        "owner": "owner",
        "acl": ["owner=arwdDxt/owner", "app=r/owner"],
        "rls": True,
        "rls_forced": False,
        "reltuples": 1000.0,
        "relpages": 10,
        "updatable": True,
        "replica_identity": "f",
    },
    {
        "schema": "public",
        "relation": "v",
        "owner": "owner",
        "acl": None,
        "rls": False,
        "rls_forced": False,
        "reltuples": -1.0,
        "relpages": 0,
        "updatable": False,
    },
]
CONSTRAINT_ROWS = [
    {
        "schema": "public",
        "relation": "t",
        "name": "t_pkey",
        "type": "p",
        "columns": ["id"],
        "validated": True,
        "definition": "PRIMARY KEY (id)",
        "ref_schema": None,
        "ref_relation": None,
        "ref_columns": [],
    },
    {
        "schema": "public",
        "relation": "t",
        "name": "t_code_fkey",
        "type": "f",
        "columns": ["code"],
        "validated": False,
        "definition": "FOREIGN KEY (code) REFERENCES app.t(only_in_app) NOT VALID",
        "ref_schema": "app",
        "ref_relation": "t",
        "ref_columns": ["only_in_app"],
    },
]
INDEX_ROWS = [
    {
        "schema": "public",
        "name": "t_pkey",
        "relation": "t",
        "keys": ["id"],
        "unique": True,
        "primary": True,
        "predicate": None,
        "constraint": "t_pkey",
        "valid": True,
        "replica_identity": False,
    },
    {
        "schema": "public",
        "name": "t_lower_code",
        "relation": "t",
        "keys": ["lower((code)::text)"],
        "unique": True,
        "primary": False,
        "predicate": "(id > 0)",
        "constraint": None,
        "valid": True,
    },
]
VIEW_DEP_ROWS: list[dict[str, Any]] = [
    {
        "schema": "public",
        "relation": "v",
        "ref_kind": "relation",
        "ref_schema": "public",
        "ref_name": "t",
        "ref_column": "id",
        "ref_args": None,
    },
    {
        "schema": "public",
        "relation": "v",
        "ref_kind": "function",
        "ref_schema": "public",
        "ref_name": "f",
        "ref_column": None,
        "ref_args": ["bigint"],
    },
]
POLICY_ROWS = [
    {
        "schema": "public",
        "relation": "t",
        "name": "own_rows",
        "command": "r",
        "roles": ["app"],
        "permissive": True,
    }
]


@pytest.fixture(scope="module")
def snap() -> CatalogSnapshot:
    return build_catalog(
        schemas=SCHEMA_ROWS,
        columns=COLUMN_ROWS,
        functions=FUNCTION_ROWS,
        enums=ENUM_ROWS,
        builtins=BUILTIN_ROW,
        relations=RELATION_ROWS,
        constraints=CONSTRAINT_ROWS,
        indexes=INDEX_ROWS,
        view_deps=VIEW_DEP_ROWS,
        policies=POLICY_ROWS,
    )


def test_relation_details(snap: CatalogSnapshot) -> None:
    t = snap.relation("public", "t")
    assert t is not None
    assert (t.owner, t.acl, t.rls, t.rows, t.pages) == (
        "owner",
        ("owner=arwdDxt/owner", "app=r/owner"),
        True,
        1000.0,
        10,
    )
    assert t.policies == (cat.Policy("own_rows", "r", ("app",), True),)
    v = snap.relation("public", "v")
    assert v is not None and not v.updatable and v.acl is None
    assert v.depends == ("column_read:public.t.id", "function:public.f(bigint)")
    bare = snap.relation("public", "bare")
    assert bare is not None and bare.updatable and bare.rows == -1.0
    assert snap.schema_acl("public") == ("postgres=UC/postgres", "=U/postgres")
    assert snap.schema_acl("app") is None


def test_constraints_and_indexes(snap: CatalogSnapshot) -> None:
    pkey, fkey = sorted(snap.constraints_of("public", "t"), key=lambda c: c.type, reverse=True)
    assert (pkey.name, pkey.type, pkey.columns, pkey.qtable) == ("t_pkey", "p", ("id",), "public.t")
    assert (fkey.validated, fkey.ref_table, fkey.ref_columns) == (False, "app.t", ("only_in_app",))
    idx = {i.name: i for i in snap.indexes_of("public", "t")}
    assert idx["t_pkey"].primary and idx["t_pkey"].constraint == "t_pkey"
    assert idx["t_lower_code"].predicate == "(id > 0)" and idx["t_lower_code"].constraint == ""
    assert idx["t_lower_code"].qname == "public.t_lower_code"


def test_schemas_and_relation_kinds(snap: CatalogSnapshot) -> None:
    assert snap.schemas == {"public", "app"}
    kinds = {(r.schema, r.name): r.kind for r in snap.relations}
    assert kinds == {
        ("public", "t"): RelKind.TABLE,
        ("public", "v"): RelKind.VIEW,
        ("public", "mv"): RelKind.MATVIEW,
        ("public", "p"): RelKind.PARTITIONED,
        ("public", "f"): RelKind.FOREIGN,
        ("public", "t_id_seq"): RelKind.SEQUENCE,
        ("public", "bare"): RelKind.TABLE,
        ("app", "t"): RelKind.TABLE,
    }


def test_columns_in_attnum_order_with_defaults(snap: CatalogSnapshot) -> None:
    t = snap.relation("public", "t")
    assert t is not None
    assert t.qname == "public.t"
    assert t.column_names == ("id", "code", "ident", "twice", "mood")
    assert t.column("id") == Column(
        name="id",
        type_name="bigint",
        base_type="bigint",
        not_null=True,
        has_default=True,
        default="nextval('t_id_seq'::regclass)",
        default_sequences=("public.t_id_seq",),
    )
    code = t.column("code")
    assert code is not None
    assert (code.type_name, code.base_type, code.has_default) == (
        "character varying(20)",
        "character varying",
        False,
    )
    ident = t.column("ident")
    assert ident is not None
    # An identity column may be omitted; its sequences are qualified and sorted.
    assert ident.has_default and ident.identity == "a"
    assert ident.default_sequences == ("app.z_seq", 'public."Weird Seq"')
    twice = t.column("twice")
    assert twice is not None
    # A generated column has a pg_attrdef row but no default an INSERT could use.
    assert not twice.has_default and twice.default is None and twice.generated == "s"
    mood = t.column("mood")
    assert mood is not None and twice.acl is None
    assert mood.acl == ("app=w/owner",)  # GRANT UPDATE (mood): the column's own privileges
    assert t.column("nope") is None


def test_relation_without_columns(snap: CatalogSnapshot) -> None:
    bare = snap.relation("public", "bare")
    assert bare is not None and bare.columns == ()


def test_find_relation_follows_the_path(snap: CatalogSnapshot) -> None:
    app_t = snap.find_relation("t", ["app", "public"])
    assert app_t is not None and app_t.schema == "app"
    pub_t = snap.find_relation("t", ["nosuch", "public"])
    assert pub_t is not None and pub_t.schema == "public"
    assert snap.find_relation("v", ["app"]) is None
    assert snap.relation("app", "v") is None


def test_functions(snap: CatalogSnapshot) -> None:
    fs = snap.functions_named("public", "f")
    assert [f.signature for f in fs] == ["public.f(bigint)", "public.f(bigint,text)"]
    assert snap.functions_named("app", "f") == ()
    (g,) = snap.functions_named("public", "g")
    assert g.returns_set and g.n_defaults == 1
    assert [g.accepts_arity(n) for n in range(4)] == [False, True, True, False]
    (v,) = snap.functions_named("public", "v")
    assert [v.accepts_arity(n) for n in range(5)] == [False, False, True, True, True]
    kinds = {f.name: f.kind for f in snap.functions}
    assert kinds["p"] is FuncKind.PROCEDURE
    assert kinds["agg"] is FuncKind.AGGREGATE
    assert kinds["w"] is FuncKind.WINDOW
    assert kinds["f"] is FuncKind.FUNCTION
    (w,) = snap.functions_named("public", "w")
    assert w.signature == "public.w()" and w.accepts_arity(0) and not w.accepts_arity(1)


def test_enums(snap: CatalogSnapshot) -> None:
    mood = snap.enum("app", "mood")
    assert mood is not None
    assert mood.labels == ("sad", "ok", "happy")
    assert snap.enum_for_type("app.mood") is mood
    assert snap.find_enum("mood", ["public", "app"]) is mood
    assert snap.find_enum("mood", ["public"]) is None


def test_builtins(snap: CatalogSnapshot) -> None:
    assert snap.builtin_functions == {"lower", "count"}
    assert snap.builtin_relations == {"pg_class"}
    empty = build_catalog(schemas=[], columns=[])
    assert empty.builtin_functions == frozenset() and empty.relations == ()


def test_snapshot_is_immutable_and_hashable(snap: CatalogSnapshot) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.schemas = frozenset()  # type: ignore[misc]
    assert hash(snap) == hash(snap)
    same = build_catalog(
        schemas=SCHEMA_ROWS,
        columns=COLUMN_ROWS,
        functions=FUNCTION_ROWS,
        enums=ENUM_ROWS,
        builtins=BUILTIN_ROW,
        relations=RELATION_ROWS,
        constraints=CONSTRAINT_ROWS,
        indexes=INDEX_ROWS,
        view_deps=VIEW_DEP_ROWS,
        policies=POLICY_ROWS,
    )
    assert same == snap


def test_snapshot_built_directly_has_lookups() -> None:
    f = Function("s", "fn", ("integer",), "integer")
    direct = CatalogSnapshot(schemas=frozenset({"s"}), functions=(f,))
    assert direct.functions_named("s", "fn") == (f,)


def test_operators_by_signature_and_where_a_name_is() -> None:
    snap = build_catalog(
        schemas=SCHEMA_ROWS, columns=(), builtins=BUILTIN_ROW, operators=OPERATOR_ROWS
    )
    assert snap.operators == {"public.===(text,text)", "ops.!!(NONE,integer)"}
    assert snap.held_operators == {"public.===(text,text)"}
    assert snap.builtin_operators == {"="}
    assert snap.operator_schemas("!!") == {"ops"}
    assert snap.operator_schemas("=") == frozenset()
    assert cat.split_operator_signature("ops.!!(NONE,integer)") == ("ops", "!!", "(NONE,integer)")


def test_publications_and_what_they_publish() -> None:
    snap = build_catalog(
        schemas=SCHEMA_ROWS,
        columns=COLUMN_ROWS,
        relations=RELATION_ROWS,
        indexes=INDEX_ROWS,
        publications=PUBLICATION_ROWS,
    )
    cdc, dbz = snap.publications
    assert (cdc.name, cdc.all_tables, cdc.updates, cdc.deletes) == ("cdc", False, True, False)
    assert cdc.tables == {"public.users", 'app."Log"'}
    assert cdc.publishes("public", "users") and cdc.publishes("audit", "anything")
    assert not cdc.publishes("public", "orders")
    assert dbz.publishes("public", "orders")
    assert snap.relations[0].replica_identity == "f"
    assert snap.relations[1].replica_identity == "d"  # a row without the key: the default
    assert not snap.indexes[0].replica_identity


def _selected_names(sql: str) -> set[str]:
    (raw,) = parse_sql(sql)
    stmt = raw.stmt
    assert isinstance(stmt, ast.SelectStmt)
    return {t.name for t in stmt.targetList or ()}


@pytest.mark.parametrize(
    ("sql", "row"),
    [
        (cat.SCHEMAS_SQL, SCHEMA_ROWS[0]),
        (cat.COLUMNS_SQL, COLUMN_ROWS[0]),
        (cat.FUNCTIONS_SQL, FUNCTION_ROWS[0]),
        (cat.ENUMS_SQL, ENUM_ROWS[0]),
        (cat.TYPES_SQL, TYPE_ROWS[0]),
        (cat.BUILTINS_SQL, BUILTIN_ROW),
        (cat.RELATIONS_SQL, RELATION_ROWS[0]),
        (cat.CONSTRAINTS_SQL, CONSTRAINT_ROWS[0]),
        (cat.INDEXES_SQL, INDEX_ROWS[0]),
        (cat.VIEW_DEPS_SQL, VIEW_DEP_ROWS[0]),
        (cat.POLICIES_SQL, POLICY_ROWS[0]),
        (cat.OPERATORS_SQL, OPERATOR_ROWS[0]),
        (cat.PUBLICATIONS_SQL, PUBLICATION_ROWS[0]),
    ],
)
def test_loader_sql_selects_exactly_the_keys_build_catalog_reads(
    sql: str, row: dict[str, Any]
) -> None:
    # The loader's rows feed build_catalog unchanged: the aliases must match the keys
    # (plus the oids the catalog's refresh books, which build_catalog does not read).
    assert _selected_names(sql) - {"oid", "relid"} == set(row)


# --- dependencies, inheritance, rules, extensions ------------------------------

DEPENDENCY_ROWS: list[dict[str, Any]] = [
    {
        "kind": "default",
        "schema": "public",
        "relation": "codes",
        "name": "code",
        "args": None,
        "auto": False,
        "ref_kind": "function",
        "ref_schema": "public",
        "ref_name": "next_code",
        "ref_args": [],
    },
    {
        "kind": "function",
        "schema": "public",
        "relation": "",
        "name": "citext_eq",
        "args": ["public.citext", "public.citext"],
        "auto": True,
        "ref_kind": "extension",
        "ref_schema": None,
        "ref_name": "citext",
        "ref_args": None,
    },
    {
        "kind": "column",
        "schema": "public",
        "relation": "codes",
        "name": "note",
        "args": None,
        "auto": False,
        "ref_kind": "collation",
        "ref_schema": "public",
        "ref_name": "nocase",
        "ref_args": None,
    },
]
INHERITS_ROWS = [
    {
        "schema": "public",
        "relation": "m_1",
        "parent_schema": "public",
        "parent": "m",
        "partition": True,
    }
]
RULE_ROWS = [
    {
        "schema": "public",
        "relation": "m",
        "name": "mute",
        "event": "insert",
        "instead": True,
        "nothing": True,
        "conditional": False,
        "enabled": True,
    }
]


def test_dependencies_inheritance_rules_and_extensions() -> None:
    snap = build_catalog(
        schemas=[{"schema": "public", "acl": None}],
        columns=[
            column_row("codes", "code"),
            column_row("m", "day", relkind="p"),
            column_row("m_1", "day"),
        ],
        dependencies=DEPENDENCY_ROWS,
        inherits=INHERITS_ROWS,
        rules=RULE_ROWS,
        extensions={"names": ["citext", "plpgsql"]},
    )
    assert snap.dependencies == (
        cat.Dependency("column", "public.codes", "note", "collation", "public.nocase"),
        cat.Dependency(
            "function",
            "",
            "public.citext_eq(public.citext,public.citext)",
            "extension",
            "citext",
            auto=True,
        ),
        cat.Dependency("default", "public.codes", "code", "function", "public.next_code()"),
    )
    m_1 = snap.relation("public", "m_1")
    assert m_1 is not None and m_1.parents == ("public.m",) and m_1.partition
    m = snap.relation("public", "m")
    assert m is not None and m.rules == (cat.RewriteRule("mute", "insert", True, True),)
    assert snap.extensions == frozenset({"citext", "plpgsql"})
    assert build_catalog(schemas=[], columns=[]).extensions is None  # not read: unknown


@pytest.mark.parametrize(
    ("sql", "row"),
    [
        (cat.INHERITS_SQL, INHERITS_ROWS[0]),
        (cat.RULES_SQL, RULE_ROWS[0]),
        (cat.EXTENSIONS_SQL, {"names": []}),
    ],
)
def test_new_loader_sql_selects_the_keys_build_catalog_reads(sql: str, row: dict[str, Any]) -> None:
    assert _selected_names(sql) - {"oid", "relid"} == set(row)


def test_dependencies_sql_branches_select_the_keys_build_catalog_reads() -> None:
    (raw,) = parse_sql(cat.DEPENDENCIES_SQL)
    stmt = raw.stmt
    branches: list[Any] = []

    def collect(node: Any) -> None:
        if node.op == 0 or node.larg is None:  # a plain SELECT
            branches.append(node)
        else:
            collect(node.larg)
            collect(node.rarg)

    collect(stmt)
    assert len(branches) == 7
    # a UNION takes its column names from the first branch; the CTE's come as ref.<name>
    names = {t.name or t.val.fields[-1].sval for t in branches[0].targetList}
    assert names == set(DEPENDENCY_ROWS[0])
    assert all(len(b.targetList) == len(branches[0].targetList) for b in branches)


def test_user_types_other_than_enums_are_found_on_the_path() -> None:
    snap = build_catalog(schemas=SCHEMA_ROWS, columns=[], enums=ENUM_ROWS, types=TYPE_ROWS)
    assert snap.find_type(["short_text"], ["public", "app"]) == "app.short_text"
    assert snap.find_type(["app", "short_text"], []) == "app.short_text"
    assert snap.find_type(["short_text"], ["public"]) is None
    assert snap.find_type(["mood"], ["app"]) is None  # an enum: catalog.enums
