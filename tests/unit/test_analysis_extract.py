"""Table-driven tests of facet extraction: each statement with its EXACT facet set."""

from __future__ import annotations

from typing import Any

import pytest

from skewguard.analysis import Analysis, Facet, FacetKind, analyze, fingerprint, result_facets
from skewguard.catalog import CatalogSnapshot, build_catalog


def _col(
    schema: str,
    relation: str,
    relkind: str,
    column: str | None,
    type_name: str = "",
    *,
    base: str | None = None,
    not_null: bool = False,
    default: str | None = None,
    seqs: tuple[str, ...] = (),
    identity: str = "",
) -> dict[str, Any]:
    return {
        "schema": schema,
        "relation": relation,
        "relkind": relkind,
        "column": column,
        "type_name": type_name,
        "base_type": base or type_name,
        "not_null": not_null,
        "has_default": default is not None,
        "default_expr": default,
        "identity": identity,
        "generated": "",
        "default_seq_schemas": [s.split(".")[0] for s in seqs] or None,
        "default_seq_names": [s.split(".")[1] for s in seqs] or None,
    }


def _fn(
    schema: str,
    name: str,
    args: list[str],
    ret: str,
    *,
    kind: str = "f",
    n_defaults: int = 0,
) -> dict[str, Any]:
    return {
        "schema": schema,
        "name": name,
        "arg_types": args,
        "return_type": ret,
        "kind": kind,
        "n_defaults": n_defaults,
        "variadic": False,
        "returns_set": False,
    }


def make_catalog() -> CatalogSnapshot:
    """public.users/orders/active_users/sequences, billing.users/invoices, overloads."""
    seq_cols = [("last_value", "bigint"), ("log_cnt", "bigint"), ("is_called", "boolean")]
    columns = [
        _col(
            "public",
            "users",
            "r",
            "id",
            "bigint",
            not_null=True,
            default="nextval('users_id_seq'::regclass)",
            seqs=("public.users_id_seq",),
        ),
        _col("public", "users", "r", "email", "character varying(255)", base="character varying"),
        _col("public", "users", "r", "name", "text"),
        _col(
            "public",
            "users",
            "r",
            "created_at",
            "timestamp with time zone",
            not_null=True,
            default="now()",
        ),
        _col(
            "public",
            "users",
            "r",
            "status",
            "public.user_status",
            not_null=True,
            default="'active'::user_status",
        ),
        _col(
            "public",
            "orders",
            "r",
            "id",
            "integer",
            not_null=True,
            identity="d",
            seqs=("public.orders_id_seq",),
        ),
        _col("public", "orders", "r", "user_id", "bigint", not_null=True),
        _col("public", "orders", "r", "total", "numeric(10,2)", base="numeric"),
        _col("public", "orders", "r", "status", "text"),
        _col("public", "active_users", "v", "id", "bigint"),
        _col(
            "public",
            "active_users",
            "v",
            "email",
            "character varying(255)",
            base="character varying",
        ),
        _col("public", "active_users", "v", "name", "text"),
        *[_col("public", "users_id_seq", "S", c, t) for c, t in seq_cols],
        *[_col("public", "orders_id_seq", "S", c, t) for c, t in seq_cols],
        _col("public", "Audit Log", "r", "Id", "integer"),
        _col("public", "Audit Log", "r", "note", "text"),
        _col("public", "empty", "r", None),
        _col("billing", "users", "r", "id", "bigint"),
        _col("billing", "users", "r", "account", "text"),
        _col(
            "billing",
            "invoices",
            "r",
            "id",
            "bigint",
            default="nextval('billing.invoice_no_seq'::regclass)",
            seqs=("billing.invoice_no_seq",),
        ),
        _col("billing", "invoices", "r", "user_id", "bigint"),
        _col("billing", "invoices", "r", "amount", "numeric"),
        *[_col("billing", "invoice_no_seq", "S", c, t) for c, t in seq_cols],
    ]
    functions = [
        _fn("public", "user_score", ["bigint"], "integer"),
        _fn("public", "user_score", ["bigint", "text"], "integer"),
        _fn("public", "user_score", ["text"], "integer"),
        _fn("public", "normalize_email", ["text"], "text"),
        _fn("public", "archive_user", ["bigint", "boolean"], "void", kind="p", n_defaults=1),
        _fn("billing", "charge", ["bigint", "numeric"], "bigint"),
    ]
    enums = [
        {
            "schema": "public",
            "name": "user_status",
            "type_name": "public.user_status",
            "labels": ["active", "suspended", "deleted"],
        },
    ]
    builtins = {
        "functions": [
            "count",
            "lower",
            "now",
            "coalesce",
            "nextval",
            "currval",
            "setval",
            "sum",
            "row_number",
            "generate_series",
            "unnest",
            "jsonb_build_object",
            "date_trunc",
            "length",
            "max",
            "row_to_json",
            "upper",
            "array_agg",
        ],
        "relations": ["pg_class", "pg_namespace", "pg_attribute", "pg_type"],
    }
    return build_catalog(
        schemas=[{"schema": "public"}, {"schema": "billing"}],
        columns=columns,
        functions=functions,
        enums=enums,
        builtins=builtins,
    )


CATALOG = make_catalog()


def run(sql: str, search_path: tuple[str, ...] = ("public",)) -> Analysis:
    return analyze(sql, search_path=search_path, catalog=CATALOG)


#: How each write is made (tested in test_analysis_values.py), left out of the cases here.
WRITE_FACTS = frozenset(
    {
        FacetKind.WRITE_OTHER,
        FacetKind.COLUMN_UPDATE,
        FacetKind.INSERT_CONFLICT,
        FacetKind.VALUE_SUPPLIED,
    }
)


def keys(sql: str, search_path: tuple[str, ...] = ("public",)) -> set[str]:
    result = run(sql, search_path)
    assert result.error is None, result.error
    return {f.key for f in result.facets if f.kind not in WRITE_FACTS}


# Abbreviations used by the expected sets below.
USERS = "relation_read:public.users"
ORDERS = "relation_read:public.orders"
USERS_SEQ = "sequence_default:public.users_id_seq"  # nextval through the id's default
ORDERS_SEQ = "sequence_default:public.orders_id_seq"
W_USERS = "relation_write:public.users"
W_ORDERS = "relation_write:public.orders"
ACTIVE = "relation_read:public.active_users"
ACTIVE_VIEW = "view_read:public.active_users"


def ur(*cols: str) -> set[str]:
    """column_read facets of public.users."""
    return {f"column_read:public.users.{c}" for c in cols}


def uw(*cols: str) -> set[str]:
    return {f"column_write:public.users.{c}" for c in cols}


def orr(*cols: str) -> set[str]:
    """column_read facets of public.orders."""
    return {f"column_read:public.orders.{c}" for c in cols}


def ow(*cols: str) -> set[str]:
    return {f"column_write:public.orders.{c}" for c in cols}


CU_EMAIL = "copy_in:public.users(email)"


def cw(table: str, form: str, *cols: str) -> set[str]:
    """Columns a COPY FROM writes, in its format."""
    return {f"copy_write:{table}.{c}|{form}" for c in cols}


def pw(table: str, *cols: str) -> set[str]:
    """Columns written by their place in an INSERT without a column list."""
    return {f"positional_write:{table}.{c}" for c in cols}


Case = tuple[str, str, set[str]]

SELECT_CASES: list[Case] = [
    ("constant", "select 1", set()),
    ("params only", "select $1::int, $2", set()),
    ("simple", "select id, email from users where name = $1", {USERS, *ur("id", "email", "name")}),
    ("star", "select * from users", {USERS, "select_star:public.users"}),
    (
        "qualified star plus column",
        "select u.*, o.total from users u join orders o on o.user_id = u.id",
        {USERS, ORDERS, "select_star:public.users", *orr("total", "user_id"), *ur("id")},
    ),
    (
        "schema-qualified column ref",
        "select public.users.email from public.users",
        {USERS, *ur("email")},
    ),
    ("count star reads no column", "select count(*) from users", {USERS}),
    (
        "where group having order",
        "select status, count(*) from users where created_at > $1 group by status "
        "having count(*) > 1 order by 2",
        {USERS, *ur("status", "created_at")},
    ),
    (
        "order by output alias is not a column",
        "select email as e from users order by e",
        {USERS, *ur("email")},
    ),
    (
        "order by expression uses input columns",
        "select email as e from users order by lower(name)",
        {USERS, *ur("email", "name")},
    ),
    (
        "group by output alias",
        "select lower(email) as le, count(*) from users group by le",
        {USERS, *ur("email")},
    ),
    (
        "group by prefers the input column",
        "select lower(name) as status from users group by status, name",
        {USERS, *ur("name", "status")},
    ),
    (
        "window clause and over",
        "select id, row_number() over (partition by status order by created_at) from users",
        {USERS, *ur("id", "status", "created_at")},
    ),
    (
        "named window",
        "select sum(total) over w from orders window w as (partition by user_id order by id)",
        {ORDERS, *orr("total", "user_id", "id")},
    ),
    (
        "distinct on",
        "select distinct on (user_id) user_id, total from orders order by user_id, id desc",
        {ORDERS, *orr("user_id", "total", "id")},
    ),
    (
        "aggregate filter and order",
        "select array_agg(email order by created_at) filter (where name is not null) from users",
        {USERS, *ur("email", "created_at", "name")},
    ),
    (
        "case, coalesce, like, limit, offset",
        "select case when name is null then email end from users "
        "where coalesce(name, '') like $1 limit $2 offset $3",
        {USERS, *ur("name", "email")},
    ),
    (
        "whole-row reference is a star",
        "select row_to_json(u) from users u",
        {USERS, "select_star:public.users"},
    ),
    (
        "alias column list renames",
        "select u.x, u.y from users as u(x, y)",
        {USERS, *ur("id", "email")},
    ),
    (
        "for update of",
        "select id from users where id = $1 for update skip locked",
        {USERS, *ur("id")},
    ),
    (
        "quoted identifiers",
        'select "Id", note from "Audit Log" where "Id" > 3',
        {
            'relation_read:public."Audit Log"',
            'column_read:public."Audit Log"."Id"',
            'column_read:public."Audit Log".note',
        },
    ),
    (
        "system catalogs are not recorded",
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public'",
        set(),
    ),
    (
        "information_schema is not recorded",
        "select column_name from information_schema.columns where table_name = 'users'",
        set(),
    ),
    (
        "set-returning function in FROM",
        "select g, u.id from generate_series(1, 3) g, users u",
        {USERS, *ur("id")},
    ),
    (
        "unnest with column alias joined",
        "select t.a from unnest($1::int[]) as t(a) join users on users.id = t.a",
        {USERS, *ur("id")},
    ),
    (
        "json_table",
        "select x.id from json_table($1::jsonb, '$[*]' columns (id int path '$.id')) x "
        "join users on users.id = x.id",
        {USERS, *ur("id")},
    ),
]

JOIN_CASES: list[Case] = [
    (
        "inner join on",
        "select u.name, o.total from users u join orders o on o.user_id = u.id "
        "where o.status = $1 order by o.total desc",
        {USERS, ORDERS, *ur("name", "id"), *orr("total", "user_id", "status")},
    ),
    (
        "join using reads both sides",
        "select id from users join orders using (id)",
        {USERS, ORDERS, *ur("id"), *orr("id")},
    ),
    (
        "natural join reads the common columns",
        "select 1 from users u natural join billing.users b",
        {USERS, "relation_read:billing.users", *ur("id"), "column_read:billing.users.id"},
    ),
    (
        "ambiguous unqualified column records every candidate",
        "select status from users, orders",
        {USERS, ORDERS, *ur("status"), *orr("status")},
    ),
    (
        "unambiguous unqualified columns across a join",
        "select email, total from users join orders on users.id = orders.user_id",
        {USERS, ORDERS, *ur("email", "id"), *orr("total", "user_id")},
    ),
    (
        "left join lateral",
        "select o.total from users u left join lateral "
        "(select total from orders where user_id = u.id) o on true",
        {USERS, ORDERS, *ur("id"), *orr("total", "user_id")},
    ),
    (
        "comma lateral",
        "select u.id, l.total from users u, lateral "
        "(select total from orders o where o.user_id = u.id limit 1) l",
        {USERS, ORDERS, *ur("id"), *orr("total", "user_id")},
    ),
    (
        "aliased join hides its tables but resolves through them",
        "select j.email from (users join billing.invoices i on i.user_id = users.id) as j",
        {
            USERS,
            "relation_read:billing.invoices",
            "column_read:billing.invoices.user_id",
            *ur("email", "id"),
        },
    ),
    (
        "star over a join",
        "select * from users join orders on orders.user_id = users.id",
        {
            USERS,
            ORDERS,
            "select_star:public.users",
            "select_star:public.orders",
            *ur("id"),
            *orr("user_id"),
        },
    ),
    (
        "self join",
        "select a.email from users a join users b on a.name = b.name and a.id <> b.id",
        {USERS, *ur("email", "name", "id")},
    ),
]

NESTING_CASES: list[Case] = [
    (
        "cte columns are not table columns",
        "with recent as (select id, email from users where created_at > now() - interval '1 day')"
        " select r.email, count(*) from recent r group by r.email",
        {USERS, *ur("id", "email", "created_at")},
    ),
    ("cte shadows a table", "with users as (select 1 as id) select id from users", set()),
    (
        "cte referring to an earlier cte",
        "with a as (select id from orders), b as (select id from a) select id from b",
        {ORDERS, *orr("id")},
    ),
    (
        "recursive cte",
        "with recursive tree as (select id, user_id from orders where id = $1 union all "
        "select o.id, o.user_id from orders o join tree t on o.user_id = t.id) select * from tree",
        {ORDERS, *orr("id", "user_id")},
    ),
    (
        "recursive cte with column list",
        "with recursive chain(n) as (select 1 union all select n + 1 from chain where n < 10) "
        "select n from chain",
        set(),
    ),
    (
        "data-modifying cte",
        "with ins as (insert into orders (user_id, total) values ($1, $2) returning id) "
        "select id from ins",
        {
            W_ORDERS,
            ORDERS_SEQ,
            "insert_shape:public.orders(total,user_id)",
            *ow("user_id", "total"),
            *orr("id"),
        },
    ),
    (
        "derived table columns are not table columns",
        "select x.e from (select email as e from users) x order by x.e",
        {USERS, *ur("email")},
    ),
    (
        "star through a derived table",
        "select * from (select id from users) s",
        {USERS, *ur("id")},
    ),
    (
        "correlated subquery in WHERE",
        "select u.id from users u where exists "
        "(select 1 from orders o where o.user_id = u.id and o.total > 10)",
        {USERS, ORDERS, *ur("id"), *orr("user_id", "total")},
    ),
    (
        "correlated subquery in select list",
        "select id, (select max(total) from orders o where o.user_id = users.id) as mx from users",
        {USERS, ORDERS, *ur("id"), *orr("total", "user_id")},
    ),
    (
        "correlated unqualified outer column",
        "select id from users where exists (select 1 from orders where user_id = users.id "
        "and name = status)",
        {USERS, ORDERS, *ur("id", "name"), *orr("user_id", "status")},
    ),
    (
        "in subquery",
        "select id from users where id in (select user_id from orders where total > 5)",
        {USERS, ORDERS, *ur("id"), *orr("user_id", "total")},
    ),
    (
        "union with order by position",
        "select id from users union select user_id from orders order by 1",
        {USERS, ORDERS, *ur("id"), *orr("user_id")},
    ),
    (
        "union order by output name",
        "select email from users union all select email from active_users order by email",
        {USERS, ACTIVE, ACTIVE_VIEW, *ur("email"), "column_read:public.active_users.email"},
    ),
    (
        "intersect and except",
        "select id from users intersect select id from active_users "
        "except select id from billing.users",
        {
            USERS,
            ACTIVE,
            ACTIVE_VIEW,
            "relation_read:billing.users",
            *ur("id"),
            "column_read:public.active_users.id",
            "column_read:billing.users.id",
        },
    ),
    (
        "values in FROM",
        "select v.a from (values (1, 'x'), (2, 'y')) as v(a, b) join users on users.id = v.a",
        {USERS, *ur("id")},
    ),
]

VIEW_ENUM_CASES: list[Case] = [
    (
        "view read with its columns",
        "select a.id, a.email from active_users a where a.name ilike $1",
        {
            ACTIVE,
            ACTIVE_VIEW,
            *{f"column_read:public.active_users.{c}" for c in ("id", "email", "name")},
        },
    ),
    (
        "view star",
        "select * from active_users",
        {ACTIVE, ACTIVE_VIEW, "select_star:public.active_users"},
    ),
    (
        "enum compared in WHERE",
        "select id from users where status = 'active'",
        {USERS, *ur("id", "status"), "enum_label_read:public.user_status:active"},
    ),
    (
        "enum IN list, reversed comparison, unknown label",
        "select 1 from users where status in ('active', 'gone') or 'suspended' = status",
        {
            USERS,
            *ur("status"),
            "enum_label_read:public.user_status:active",
            "enum_label_read:public.user_status:gone",
            "enum_label_read:public.user_status:suspended",
            "missing_enum_label:public.user_status:gone",
        },
    ),
    (
        "enum = any(array[...])",
        "select 1 from users where status = any(array['deleted', 'suspended']::user_status[])",
        {
            USERS,
            *ur("status"),
            "enum_label_read:public.user_status:deleted",
            "enum_label_read:public.user_status:suspended",
            "type_named:public.user_status",
        },
    ),
    (
        "cast to an enum",
        "select 'deleted'::user_status, 'nope'::public.user_status",
        {
            "enum_label_read:public.user_status:deleted",
            "enum_label_read:public.user_status:nope",
            "missing_enum_label:public.user_status:nope",
            "type_named:public.user_status",
        },
    ),
    (
        "text column compare is not an enum label",
        "select 1 from orders where status = 'paid'",
        {ORDERS, *orr("status")},
    ),
    (
        "case on an enum",
        "select case when status = 'active' then 1 else 0 end from users",
        {USERS, *ur("status"), "enum_label_read:public.user_status:active"},
    ),
]

FUNCTION_CASES: list[Case] = [
    (
        "overloads picked by arity and column type",
        "select user_score(id), user_score(id, 'x') from users",
        {
            USERS,
            *ur("id"),
            "function_call:public.user_score(bigint)",
            "function_call:public.user_score(bigint,unknown)",
            "function:public.user_score(bigint)",
            "function:public.user_score(bigint,text)",
        },
    ),
    (
        "an unknown-typed argument reaches every same-arity overload",
        "select user_score($1)",
        {
            "function_call:public.user_score(unknown)",
            "function:public.user_score(bigint)",
            "function:public.user_score(text)",
        },
    ),
    (
        "an integer literal reaches only the numeric overload",
        "select user_score(1)",
        {"function_call:public.user_score(integer)", "function:public.user_score(bigint)"},
    ),
    (
        "a varchar column reaches only the text overload",
        "select user_score(email) from users",
        {
            USERS,
            *ur("email"),
            "function_call:public.user_score(character varying)",
            "function:public.user_score(text)",
        },
    ),
    (
        "cast argument types",
        "select user_score($1::int8, $2::varchar(20))",
        {
            "function_call:public.user_score(bigint,character varying)",
            "function:public.user_score(bigint,text)",
        },
    ),
    (
        "column of varchar type",
        "select normalize_email(email) from users",
        {
            USERS,
            *ur("email"),
            "function_call:public.normalize_email(character varying)",
            "function:public.normalize_email(text)",
        },
    ),
    (
        "schema-qualified function",
        "select billing.charge(1, 2.5)",
        {
            "function_call:billing.charge(integer,numeric)",
            "function:billing.charge(bigint,numeric)",
        },
    ),
    (
        "nested call return type feeds the outer call",
        "select user_score(billing.charge(1, 2.5))",
        {
            "function_call:billing.charge(integer,numeric)",
            "function:billing.charge(bigint,numeric)",
            "function_call:public.user_score(bigint)",
            "function:public.user_score(bigint)",
        },
    ),
    ("builtins are not recorded", "select lower(email), now() from users", {USERS, *ur("email")}),
    (
        "missing function",
        "select missing_fn(1, 'a')",
        {
            "function_call:public.missing_fn(integer,unknown)",
            "missing_function:public.missing_fn(integer,unknown)",
        },
    ),
    (
        "existing name, no overload of that arity",
        "select user_score(1, 'a', true)",
        {
            "function_call:public.user_score(integer,unknown,boolean)",
            "missing_function:public.user_score(integer,unknown,boolean)",
        },
    ),
    (
        "missing function in a qualified schema",
        "select billing.nope()",
        {"function_call:billing.nope()", "missing_function:billing.nope()"},
    ),
    (
        "sequences by literal name",
        "select nextval('users_id_seq'), currval('billing.invoice_no_seq'::regclass), "
        "setval('\"orders_id_seq\"', 5)",
        {
            "sequence:public.users_id_seq",
            "sequence:public.orders_id_seq",
            "sequence:billing.invoice_no_seq",
        },
    ),
    (
        "missing sequence",
        "select nextval('nope_seq')",
        {"sequence:public.nope_seq", "missing_relation:public.nope_seq"},
    ),
    (
        "named arguments",
        "select user_score(1, b => 'x')",
        {
            "function_call:public.user_score(integer,b=>unknown)",
            "function:public.user_score(bigint,text)",
        },
    ),
]

INSERT_CASES: list[Case] = [
    (
        "insert with a column list",
        "insert into users (email, name) values ($1, $2)",
        {W_USERS, USERS_SEQ, *uw("email", "name"), "insert_shape:public.users(email,name)"},
    ),
    (
        "insert enum labels, one unknown",
        "insert into users (email, status) values ('a@b', 'suspended'), ('c@d', 'weird')",
        {
            W_USERS,
            USERS_SEQ,
            *uw("email", "status"),
            "insert_shape:public.users(email,status)",
            "enum_label_write:public.user_status:suspended",
            "enum_label_write:public.user_status:weird",
            "missing_enum_label:public.user_status:weird",
        },
    ),
    (
        "insert a cast enum label",
        "insert into users (email, status) values ($1, 'active'::user_status)",
        {
            W_USERS,
            USERS_SEQ,
            *uw("email", "status"),
            "insert_shape:public.users(email,status)",
            "enum_label_write:public.user_status:active",
            "enum_label_read:public.user_status:active",
            "type_named:public.user_status",
        },
    ),
    (
        "insert giving the serial column uses no sequence",
        "insert into users (id, email) values (1, 'x')",
        {W_USERS, *uw("id", "email"), "insert_shape:public.users(email,id)"},
    ),
    (
        "explicit DEFAULT uses the sequence",
        "insert into users (id, email) values (default, 'x')",
        {W_USERS, USERS_SEQ, *uw("id", "email"), "insert_shape:public.users(email,id)"},
    ),
    (
        "positional insert",
        "insert into users values (default, 'a', 'b', now(), 'active')",
        {
            W_USERS,
            USERS_SEQ,
            *uw("id", "email", "name", "created_at", "status"),
            *pw("public.users", "id", "email", "name", "created_at", "status"),
            "insert_positional:public.users/5",
            "insert_shape:public.users(created_at,email,id,name,status)",
            "enum_label_write:public.user_status:active",
        },
    ),
    (
        "short positional insert",
        "insert into orders values (1, 2)",
        {
            W_ORDERS,
            *ow("id", "user_id"),
            *pw("public.orders", "id", "user_id"),
            "insert_positional:public.orders/2",
            "insert_shape:public.orders(id,user_id)",
        },
    ),
    (
        "default values",
        "insert into users default values",
        {W_USERS, USERS_SEQ, "insert_shape:public.users()"},
    ),
    (
        "insert select with a column list",
        "insert into orders (user_id, total) select id, 0 from users returning *",
        {
            W_ORDERS,
            ORDERS_SEQ,
            USERS,
            *ur("id"),
            *ow("user_id", "total"),
            "insert_shape:public.orders(total,user_id)",
            "select_star:public.orders",
        },
    ),
    (
        "insert select star, positional",
        "insert into billing.invoices select * from billing.invoices where amount > 0",
        {
            "relation_write:billing.invoices",
            "relation_read:billing.invoices",
            "column_read:billing.invoices.amount",
            "column_write:billing.invoices.id",
            "column_write:billing.invoices.user_id",
            "column_write:billing.invoices.amount",
            *pw("billing.invoices", "id", "user_id", "amount"),
            "insert_positional:billing.invoices/3",
            "insert_shape:billing.invoices(amount,id,user_id)",
            "insert_select_star:billing.invoices<billing.invoices",
            "select_star:billing.invoices",
        },
    ),
    (
        "insert select star with a column list",
        "insert into orders (id, user_id, total) select * from billing.invoices",
        {
            W_ORDERS,
            "relation_read:billing.invoices",
            *ow("id", "user_id", "total"),
            "insert_shape:public.orders(id,total,user_id)",
            "insert_select_star:public.orders<billing.invoices",
            "select_star:billing.invoices",
        },
    ),
    (
        "insert select writes a literal enum label",
        "insert into users (email, status) select email, 'suspended' from active_users",
        {
            W_USERS,
            USERS_SEQ,
            ACTIVE,
            ACTIVE_VIEW,
            "column_read:public.active_users.email",
            *uw("email", "status"),
            "insert_shape:public.users(email,status)",
            "enum_label_write:public.user_status:suspended",
        },
    ),
    (
        "on conflict columns do update with excluded",
        "insert into users (email) values ($1) on conflict (email) do update "
        "set name = excluded.name, status = 'active' where users.status <> 'deleted'",
        {
            W_USERS,
            USERS_SEQ,
            *uw("email", "name", "status"),
            *ur("email", "name", "status"),
            "insert_shape:public.users(email)",
            "conflict_columns:public.users(email)",
            "enum_label_write:public.user_status:active",
            "enum_label_read:public.user_status:deleted",
        },
    ),
    (
        "on conflict on constraint",
        "insert into users (email) values ($1) on conflict on constraint users_email_key "
        "do nothing",
        {
            W_USERS,
            USERS_SEQ,
            *uw("email"),
            "insert_shape:public.users(email)",
            "conflict_constraint:public.users.users_email_key",
        },
    ),
    (
        "on conflict expression arbiter",
        "insert into users (email) values ($1) on conflict (lower(email)) do nothing",
        {
            W_USERS,
            USERS_SEQ,
            *uw("email"),
            *ur("email"),
            "insert_shape:public.users(email)",
            "conflict_columns:public.users(lower(email))",
        },
    ),
    (
        "on conflict with several arbiter columns is sorted",
        "insert into orders (user_id, status) values (1, 'x') on conflict (user_id, status) "
        "do nothing",
        {
            W_ORDERS,
            ORDERS_SEQ,
            *ow("user_id", "status"),
            *orr("user_id", "status"),
            "insert_shape:public.orders(status,user_id)",
            "conflict_columns:public.orders(status,user_id)",
        },
    ),
    (
        "insert into a missing column",
        "insert into users (email, nickname) values ($1, $2)",
        {
            W_USERS,
            USERS_SEQ,
            *uw("email", "nickname"),
            "missing_column:public.users.nickname",
            "insert_shape:public.users(email,nickname)",
        },
    ),
    (
        "insert into a missing table",
        "insert into audit (what) values ($1)",
        {
            "relation_write:public.audit",
            "missing_relation:public.audit",
            "column_write:public.audit.what",
            "insert_shape:public.audit(what)",
        },
    ),
    (
        "insert into a view",
        "insert into active_users (email) values ('x')",
        {
            "relation_write:public.active_users",
            "column_write:public.active_users.email",
            "insert_shape:public.active_users(email)",
        },
    ),
]

UPDATE_DELETE_CASES: list[Case] = [
    (
        "update with returning",
        "update users set name = $1, status = 'deleted' where id = $2 returning id, name",
        {
            W_USERS,
            *uw("name", "status"),
            *ur("id", "name"),
            "enum_label_write:public.user_status:deleted",
        },
    ),
    (
        "update from",
        "update users u set name = o.status from orders o where o.user_id = u.id and o.total > $1",
        {W_USERS, ORDERS, *uw("name"), *ur("id"), *orr("status", "user_id", "total")},
    ),
    (
        "update multi-assign from subquery",
        "update users set (name, email) = (select status, 'x' from orders "
        "where orders.user_id = users.id)",
        {W_USERS, ORDERS, *uw("name", "email"), *ur("id"), *orr("status", "user_id")},
    ),
    (
        "update multi-assign row with an enum label",
        "update users set (name, status) = ('n', 'suspended') where id = 1",
        {
            W_USERS,
            *uw("name", "status"),
            *ur("id"),
            "enum_label_write:public.user_status:suspended",
        },
    ),
    (
        "update set default uses the sequence; returning old/new",
        "update users set id = default where id = 1 returning old.name, new.email",
        {W_USERS, USERS_SEQ, *uw("id"), *ur("id", "name", "email")},
    ),
    (
        "update a missing column",
        "update users set nickname = $1 where id = $2",
        {W_USERS, *uw("nickname"), "missing_column:public.users.nickname", *ur("id")},
    ),
    (
        "delete using with returning star",
        "delete from orders o using users u where o.user_id = u.id and u.status = 'deleted' "
        "returning o.*",
        {
            W_ORDERS,
            USERS,
            *orr("user_id"),
            *ur("id", "status"),
            "enum_label_read:public.user_status:deleted",
            "select_star:public.orders",
            "row_delete:public.orders",
        },
    ),
    (
        "delete with a subquery",
        "delete from users where id not in (select user_id from orders)",
        {W_USERS, ORDERS, *ur("id"), *orr("user_id"), "row_delete:public.users"},
    ),
    (
        "refresh",
        "refresh materialized view concurrently users",
        {W_USERS, "refresh:public.users|concurrently"},
    ),
    (
        "truncate",
        "truncate orders, billing.invoices restart identity cascade",
        {
            W_ORDERS,
            "relation_write:billing.invoices",
            "truncate:public.orders|cascade",
            "truncate:billing.invoices|cascade",
        },
    ),
]

MERGE_COPY_CASES: list[Case] = [
    (
        "merge from a derived source",
        "merge into users u using (select $1::bigint as id, $2::text as name) s on u.id = s.id "
        "when matched then update set name = s.name "
        "when not matched then insert (email, name) values ('x', s.name)",
        {
            W_USERS,
            USERS_SEQ,
            *ur("id"),
            *uw("name", "email"),
            "insert_shape:public.users(email,name)",
        },
    ),
    (
        "merge from a table, positional insert, delete by source",
        "merge into orders t using users s on t.user_id = s.id "
        "when matched and s.status = 'deleted' then delete "
        "when not matched by source then delete "
        "when not matched then insert values (default, s.id, 0, s.email)",
        {
            W_ORDERS,
            USERS,
            ORDERS_SEQ,
            *orr("user_id"),
            *ur("id", "status", "email"),
            *ow("id", "user_id", "total", "status"),
            *pw("public.orders", "id", "user_id", "total", "status"),
            "insert_positional:public.orders/4",
            "insert_shape:public.orders(id,status,total,user_id)",
            "enum_label_read:public.user_status:deleted",
            "row_delete:public.orders",  # THEN DELETE deletes as DELETE does
        },
    ),
    (
        "merge not matched sees only the source",
        "merge into orders t using billing.users b on t.user_id = b.id "
        "when not matched then insert (user_id, status) values (id, account)",
        {
            W_ORDERS,
            ORDERS_SEQ,
            "relation_read:billing.users",
            "column_read:billing.users.id",
            "column_read:billing.users.account",
            *orr("user_id"),
            *ow("user_id", "status"),
            "insert_shape:public.orders(status,user_id)",
        },
    ),
    (
        "copy in with a column list",
        "copy users (id, email) from stdin",
        {
            W_USERS,
            *uw("id", "email"),
            *cw("public.users", "text", "id", "email"),
            "copy_in:public.users(id,email)",
        },
    ),
    (
        "copy in with a list omitting the serial column",
        "copy users (email, name) from stdin with (format csv)",
        {
            W_USERS,
            USERS_SEQ,
            *uw("email", "name"),
            *cw("public.users", "csv", "email", "name"),
            "copy_in:public.users(email,name)",
        },
    ),
    (
        "copy in without a list writes every column",
        "copy orders from stdin",
        {
            W_ORDERS,
            "copy_in:public.orders",
            *{f"column_write:public.orders.{c}" for c in ("id", "user_id", "total", "status")},
            *cw("public.orders", "text", "id", "user_id", "total", "status"),
        },
    ),
    (
        "binary copy in, the old keyword",
        "copy users (email) from stdin binary",
        {W_USERS, USERS_SEQ, *uw("email"), *cw("public.users", "binary", "email"), CU_EMAIL},
    ),
    (
        "binary copy in, the option",
        "copy users (email) from stdin with (format binary)",
        {W_USERS, USERS_SEQ, *uw("email"), *cw("public.users", "binary", "email"), CU_EMAIL},
    ),
    ("copy out without a list", "copy users to stdout", {USERS, "copy_out:public.users"}),
    (
        "copy out with a list",
        "copy users (email) to stdout",
        {USERS, *ur("email"), "copy_out:public.users(email)"},
    ),
    (
        "copy query form",
        "copy (select id from users where status = 'active') to stdout",
        {USERS, *ur("id", "status"), "enum_label_read:public.user_status:active"},
    ),
]

UTILITY_CASES: list[Case] = [
    (
        "prepare analyzes the inner statement with typed parameters",
        "prepare q(bigint) as select user_score($1) from users where id = $1",
        {
            USERS,
            *ur("id"),
            "function_call:public.user_score(bigint)",
            "function:public.user_score(bigint)",
        },
    ),
    ("execute and deallocate", "execute q(1); deallocate q", set()),
    ("explain", "explain (analyze, buffers) select email from users", {USERS, *ur("email")}),
    (
        "declare cursor",
        "declare c cursor with hold for select name from active_users",
        {ACTIVE, ACTIVE_VIEW, "column_read:public.active_users.name"},
    ),
    ("create table as (query part)", "create table t2 as select id from users", {USERS, *ur("id")}),
    ("select into (query part)", "select id into temp t3 from users", {USERS, *ur("id")}),
    (
        "call a procedure with a defaulted argument",
        "call archive_user(1)",
        {
            "function_call:public.archive_user(integer)",
            "function:public.archive_user(bigint,boolean)",
        },
    ),
    ("lock", "lock table orders in share mode", {ORDERS}),
    (
        "set search_path then resolve",
        "set search_path = billing, public; select id, account from users; "
        "select total from orders",
        {
            "search_path:billing,public",
            "relation_read:billing.users",
            "column_read:billing.users.id",
            "column_read:billing.users.account",
            ORDERS,
            *orr("total"),
        },
    ),
    (
        "transaction with set local",
        "BEGIN; SET LOCAL search_path TO billing; SELECT amount FROM invoices; COMMIT",
        {
            "search_path:billing",
            "relation_read:billing.invoices",
            "column_read:billing.invoices.amount",
        },
    ),
    ("reset search_path", "reset search_path", {"search_path:default"}),
    (
        "a table created by the same text is not missing",
        "create temp table tmp (x int); insert into tmp values (1); select x from tmp",
        set(),
    ),
    (
        "transaction control and session commands",
        "begin; savepoint s1; release savepoint s1; listen ch; notify ch; show timezone; commit",
        set(),
    ),
]

# As the ORMs emit it (server-side text: psycopg's %s arrives as $n).
ORM_CASES: list[Case] = [
    (
        "django get",
        'SELECT "users"."id", "users"."email", "users"."name" FROM "users" '
        'WHERE "users"."id" = $1 LIMIT 21',
        {USERS, *ur("id", "email", "name")},
    ),
    (
        "django select_related",
        'SELECT "orders"."id", "orders"."total", "users"."id", "users"."email" FROM "orders" '
        'INNER JOIN "users" ON ("orders"."user_id" = "users"."id") '
        'WHERE "orders"."status" IN ($1, $2) ORDER BY "orders"."id" ASC',
        {USERS, ORDERS, *orr("id", "total", "user_id", "status"), *ur("id", "email")},
    ),
    (
        "django bulk insert returning",
        'INSERT INTO "orders" ("user_id", "total", "status") VALUES ($1, $2, $3), ($4, $5, $6) '
        'RETURNING "orders"."id"',
        {
            W_ORDERS,
            ORDERS_SEQ,
            *ow("user_id", "total", "status"),
            *orr("id"),
            "insert_shape:public.orders(status,total,user_id)",
        },
    ),
    (
        "django update with subquery alias",
        'UPDATE "users" SET "name" = $1 WHERE "users"."id" IN '
        '(SELECT U0."user_id" FROM "orders" U0 WHERE U0."total" > $2)',
        {W_USERS, ORDERS, *uw("name"), *ur("id"), *orr("user_id", "total")},
    ),
    (
        "django exists",
        'SELECT 1 AS "a" FROM "users" WHERE "users"."email" = $1 LIMIT 1',
        {USERS, *ur("email")},
    ),
    (
        "django aggregate with group by",
        'SELECT "orders"."status", COUNT("orders"."id") AS "n" FROM "orders" '
        'GROUP BY "orders"."status" ORDER BY "n" DESC',
        {ORDERS, *orr("status", "id")},
    ),
    (
        "sqlalchemy select with casts",
        "SELECT users.id AS users_id, users.email AS users_email FROM users "
        "WHERE users.id = $1::INTEGER",
        {USERS, *ur("id", "email")},
    ),
    (
        "sqlalchemy insertmanyvalues",
        "INSERT INTO users (email, name) SELECT p0::VARCHAR, p1::TEXT FROM "
        "(VALUES ($1, $2, 0), ($3, $4, 1)) AS imp_sen(p0, p1, sen_counter) "
        "ORDER BY sen_counter RETURNING users.id, users.id AS id__1",
        {
            W_USERS,
            USERS_SEQ,
            *uw("email", "name"),
            *ur("id"),
            "insert_shape:public.users(email,name)",
        },
    ),
    (
        "sqlalchemy correlated exists",
        "SELECT users.id FROM users WHERE EXISTS (SELECT 1 FROM orders "
        "WHERE users.id = orders.user_id AND orders.total > $1::NUMERIC)",
        {USERS, ORDERS, *ur("id"), *orr("user_id", "total")},
    ),
    (
        "sqlalchemy upsert",
        "INSERT INTO users (id, email) VALUES ($1::BIGINT, $2::VARCHAR) ON CONFLICT (id) "
        "DO UPDATE SET email = excluded.email",
        {
            W_USERS,
            *uw("id", "email"),
            *ur("id", "email"),
            "insert_shape:public.users(email,id)",
            "conflict_columns:public.users(id)",
        },
    ),
    (
        "activerecord find_by",
        'SELECT "users".* FROM "users" WHERE "users"."email" = $1 LIMIT $2',
        {USERS, "select_star:public.users", *ur("email")},
    ),
    (
        "activerecord create",
        'INSERT INTO "users" ("email", "created_at", "status") VALUES ($1, $2, $3) RETURNING "id"',
        {
            W_USERS,
            USERS_SEQ,
            *uw("email", "created_at", "status"),
            *ur("id"),
            "insert_shape:public.users(created_at,email,status)",
        },
    ),
    (
        "activerecord exists?",
        'SELECT 1 AS one FROM "orders" WHERE "orders"."user_id" = $1 LIMIT $2',
        {ORDERS, *orr("user_id")},
    ),
    (
        "activerecord update_all with enum",
        'UPDATE "users" SET "status" = \'suspended\' WHERE "users"."id" IN '
        '(SELECT "users"."id" FROM "users" WHERE "users"."created_at" < $1)',
        {
            W_USERS,
            USERS,
            *uw("status"),
            *ur("id", "created_at"),
            "enum_label_write:public.user_status:suspended",
        },
    ),
]

MISSING_CASES: list[Case] = [
    (
        "missing column",
        "select nickname from users",
        {USERS, *ur("nickname"), "missing_column:public.users.nickname"},
    ),
    (
        "missing qualified column",
        "select u.nickname, u.email from users u",
        {USERS, *ur("nickname", "email"), "missing_column:public.users.nickname"},
    ),
    (
        "missing table, its columns still recorded",
        "select * from audit where at > $1",
        {
            "relation_read:public.audit",
            "missing_relation:public.audit",
            "select_star:public.audit",
            "column_read:public.audit.at",
        },
    ),
    (
        "missing table in a join, known columns stay known",
        "select a.x, u.email, note_text from users u join audit a on a.user_id = u.id",
        {
            USERS,
            *ur("email", "id"),
            "relation_read:public.audit",
            "missing_relation:public.audit",
            "column_read:public.audit.x",
            "column_read:public.audit.user_id",
            "column_read:public.audit.note_text",
        },
    ),
    (
        "order by an output alias next to a star over a missing table",
        "select *, 1 as rank from audit order by rank",
        {"relation_read:public.audit", "missing_relation:public.audit", "select_star:public.audit"},
    ),
    (
        "missing schema-qualified table",
        "select 1 from billing.payments",
        {"relation_read:billing.payments", "missing_relation:billing.payments"},
    ),
    (
        "relation with no columns",
        "select id from empty",
        {
            "relation_read:public.empty",
            "column_read:public.empty.id",
            "missing_column:public.empty.id",
        },
    ),
]

ALL_CASES = (
    SELECT_CASES
    + JOIN_CASES
    + NESTING_CASES
    + VIEW_ENUM_CASES
    + FUNCTION_CASES
    + INSERT_CASES
    + UPDATE_DELETE_CASES
    + MERGE_COPY_CASES
    + UTILITY_CASES
    + ORM_CASES
    + MISSING_CASES
)


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in ALL_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 80


@pytest.mark.parametrize(
    ("sql", "expected"), [c[1:] for c in ALL_CASES], ids=[c[0] for c in ALL_CASES]
)
def test_facets(sql: str, expected: set[str]) -> None:
    assert keys(sql) == expected


SEARCH_PATH_CASES: list[tuple[str, tuple[str, ...], str, set[str]]] = [
    (
        "billing first shadows public.users",
        ("billing", "public"),
        "select * from users",
        {"relation_read:billing.users", "select_star:billing.users"},
    ),
    (
        "falls through to the next schema",
        ("billing", "public"),
        "select total from orders",
        {ORDERS, *orr("total")},
    ),
    (
        "$user without a user is skipped",
        ("$user", "public"),
        "select id from users",
        {USERS, *ur("id")},
    ),
    (
        "a missing relation goes to the first existing schema",
        ("nosuch", "billing", "public"),
        "select 1 from ledger",
        {"relation_read:billing.ledger", "missing_relation:billing.ledger"},
    ),
    (
        "functions resolve on the path",
        ("billing", "public"),
        "select charge(id, 1.0), user_score(id) from users",
        {
            "relation_read:billing.users",
            "column_read:billing.users.id",
            "function_call:billing.charge(bigint,numeric)",
            "function:billing.charge(bigint,numeric)",
            "function_call:public.user_score(bigint)",
            "function:public.user_score(bigint)",
        },
    ),
    (
        "an explicit schema ignores the path",
        ("billing",),
        "select email from public.users",
        {USERS, *ur("email")},
    ),
    (
        "pg_catalog relations win when pg_catalog is implicit",
        ("public",),
        "select relname from pg_class",
        set(),
    ),
]


@pytest.mark.parametrize(
    ("path", "sql", "expected"),
    [c[1:] for c in SEARCH_PATH_CASES],
    ids=[c[0] for c in SEARCH_PATH_CASES],
)
def test_search_path_resolution(path: tuple[str, ...], sql: str, expected: set[str]) -> None:
    assert keys(sql, path) == expected


def test_user_expands_dollar_user() -> None:
    result = analyze(
        "select account from users",
        search_path=("$user", "public"),
        catalog=CATALOG,
        user="billing",
    )
    assert {f.key for f in result.facets} == {
        "relation_read:billing.users",
        "column_read:billing.users.account",
    }


def test_set_search_path_is_reported() -> None:
    result = run('SET search_path TO billing, "$user", public')
    assert result.search_path == ("billing", "$user", "public")
    assert not result.search_path_reset
    assert {f.key for f in result.facets} == {'search_path:billing,"$user",public'}
    reset = run("set search_path to default")
    assert reset.search_path is None
    assert reset.search_path_reset
    assert run("select 1").search_path is None


def test_set_search_path_applies_only_to_later_statements() -> None:
    assert keys("select 1 from users; set search_path = billing; select 1 from users") == {
        USERS,
        "relation_read:billing.users",
        "search_path:billing",
    }


@pytest.mark.parametrize(
    ("sql", "error", "has_ddl"),
    [
        ("selec 1", "syntax", False),
        ("select from where", "syntax", False),
        ("select 1; selec 2", "syntax", False),
        ("create tabel x ()", "syntax", True),
        ("/* c */ alter table users add colum x int", "syntax", True),
        ("IDENTIFY_SYSTEM", "replication-command", False),
        ("START_REPLICATION SLOT s LOGICAL 0/0", "replication-command", False),
        ("", "empty", False),
        ("  -- only a comment\n", "empty", False),
        (";;", "empty", False),
    ],
)
def test_parse_failures_never_raise(sql: str, error: str, has_ddl: bool) -> None:
    result = run(sql)
    assert result.error == error
    assert result.facets == frozenset()
    assert result.has_ddl is has_ddl
    assert result.fingerprint is None


@pytest.mark.parametrize(
    ("sql", "has_ddl", "statements"),
    [
        ("select 1", False, ("SelectStmt",)),
        ("select 1; drop table users", True, ("SelectStmt", "DropStmt")),
        ("alter table users add column x int", True, ("AlterTableStmt",)),
        ("create index on users (email)", True, ("IndexStmt",)),
        ("create table t2 as select 1", True, ("CreateTableAsStmt",)),
        ("select 1 into t3", True, ("SelectStmt",)),
        ("revoke select on users from app", True, ("GrantStmt",)),
        ("do $$ begin perform 1; end $$", True, ("DoStmt",)),
        ("explain analyze create table t4 as select 1", True, ("ExplainStmt",)),
        ("explain select 1", False, ("ExplainStmt",)),
        ("prepare p as update users set name = $1", False, ("PrepareStmt",)),
        (
            "begin; set lock_timeout = '1s'; show search_path; commit",
            False,
            ("TransactionStmt", "VariableSetStmt", "VariableShowStmt", "TransactionStmt"),
        ),
        (
            "vacuum analyze users; refresh materialized view mv",
            False,
            ("VacuumStmt", "RefreshMatViewStmt"),
        ),
        (
            "truncate users; copy users to stdout; lock users",
            False,
            ("TruncateStmt", "CopyStmt", "LockStmt"),
        ),
    ],
)
def test_ddl_routing(sql: str, has_ddl: bool, statements: tuple[str, ...]) -> None:
    result = run(sql)
    assert result.error is None
    assert result.has_ddl is has_ddl
    assert result.statements == statements


def test_ddl_is_not_analyzed_for_facets() -> None:
    assert keys("alter table users drop column email; drop view active_users") == set()


def test_fingerprint_ignores_constants() -> None:
    a = run("select id from users where id = 1")
    b = run("select id from users where id = 2")
    c = run("select email from users where id = 1")
    assert a.fingerprint is not None
    assert a.fingerprint == b.fingerprint == fingerprint("SELECT id FROM users WHERE id = $1")
    assert a.fingerprint != c.fingerprint
    assert fingerprint("selec 1") is None


def test_of_kind_and_deep_nesting() -> None:
    result = run("select id, email from users")
    assert result.of_kind(FacetKind.COLUMN_READ) == {"public.users.id", "public.users.email"}
    assert run("select " + "1+" * 200 + "1").error is None
    assert run("select " + "1+" * 3000 + "1").error == "too-deep"  # reported, never raised


def test_analysis_is_hashable_and_immutable() -> None:
    result = run("select id from users")
    assert Facet(FacetKind.RELATION_READ, "public.users") in result.facets
    with pytest.raises(AttributeError):
        result.error = "x"  # type: ignore[misc]


@pytest.mark.parametrize("reset", ["discard all", "reset all"])
def test_reset_all_restores_the_callers_search_path(reset: str) -> None:
    result = run(f"set search_path = billing; select 1 from users; {reset}; select 1 from users")
    assert result.search_path is None
    assert result.search_path_reset
    assert {f.key for f in result.facets} == {
        "search_path:billing",
        "relation_read:billing.users",
        USERS,
    }


def test_an_extractor_bug_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from skewguard.analysis import extract

    def boom(self: object, node: object, scope: object = None) -> None:
        raise KeyError("x")

    monkeypatch.setattr(extract.Extractor, "statement", boom)
    result = run("select 1; drop table users")
    assert result.error == "internal"
    assert result.detail == "KeyError: 'x'"
    assert result.facets == frozenset()
    assert result.has_ddl  # routing still works
    assert result.statements == ("SelectStmt", "DropStmt")


def test_a_text_read_otherwise_without_standard_strings_uses_what_either_reading_uses() -> None:
    # standard: one unterminated literal (a syntax error); off: a column read after "x'"
    assert "column_read:public.users.email" in {
        f.key for f in run("SELECT 'x\\'', email FROM users").facets
    }
    # standard: reads name; off: one string literal. Either way name counts as read.
    both = {f.key for f in run("SELECT 'a\\' || name FROM users --'").facets}
    assert "column_read:public.users.name" in both
    # a backslash that reads the same both ways: the same facets as before
    plain = run("SELECT email FROM users WHERE name = E'a\\\\b'")
    assert plain.error is None and "column_read:public.users.email" in {f.key for f in plain.facets}


def test_user_operators_are_recorded_by_where_their_name_resolves() -> None:
    ops = build_catalog(
        schemas=[{"schema": "public"}, {"schema": "ops"}],
        columns=[_col("public", "t", "r", "sku", "text")],
        builtins={"functions": [], "relations": [], "operators": ["=", "<", "||"]},
        operators=[
            {"schema": "ops", "name": "===", "left_type": "text", "right_type": "text"},
            {"schema": "public", "name": "===", "left_type": "int", "right_type": "int"},
        ],
    )

    def operators(sql: str, path: tuple[str, ...]) -> frozenset[str]:
        return analyze(sql, search_path=path, catalog=ops).of_kind(FacetKind.OPERATOR)

    assert operators("SELECT sku FROM t WHERE sku === 'a'", ("ops", "public")) == {"ops.==="}
    assert operators("SELECT sku FROM t WHERE sku === 'a'", ("public", "ops")) == {"public.==="}
    assert operators("SELECT 1 FROM t WHERE sku OPERATOR(ops.===) 'a'", ("public",)) == {"ops.==="}
    assert operators("SELECT 1 FROM t WHERE sku === ANY(ARRAY['a'])", ("ops",)) == {"ops.==="}
    # pg_catalog's, qualified or not, are never recorded
    assert operators("SELECT sku || 'x' FROM t WHERE sku = 'a' OR sku < 'b'", ("ops",)) == set()
    assert operators("SELECT 1 FROM t WHERE sku OPERATOR(pg_catalog.=) 'a'", ("ops",)) == set()
    # not there yet: where it would be created
    assert operators("SELECT 1 FROM t WHERE sku !~~~ 'a'", ("public",)) == {"public.!~~~"}


def test_deferred_constraints_and_child_first_inserts_are_recorded() -> None:
    fk = build_catalog(
        schemas=[{"schema": "public"}, {"schema": "app"}],
        columns=[
            _col("public", "o", "r", "id", "integer"),
            _col("public", "l", "r", "o_id", "integer"),
            _col("app", "x", "r", "id", "integer"),
        ],
        constraints=[
            {
                "schema": "public",
                "relation": "l",
                "name": "l_o",
                "type": "f",
                "columns": ["o_id"],
                "validated": True,
                "definition": "FOREIGN KEY (o_id) REFERENCES public.o(id) DEFERRABLE",
                "ref_schema": "public",
                "ref_relation": "o",
                "ref_columns": ["id"],
            }
        ],
    )

    def defers(sql: str) -> set[str]:
        return set(analyze(sql, search_path=("public",), catalog=fk).of_kind(FacetKind.DEFERS))

    assert defers("SET CONSTRAINTS ALL DEFERRED") == {"*"}
    assert defers("SET CONSTRAINTS l_o, app.l_o, nothing DEFERRED") == {"public.l.l_o"}
    assert defers("SET CONSTRAINTS ALL IMMEDIATE") == set()
    # child first in one text: the key waits for COMMIT; parent first needs no wait
    first = "INSERT INTO l (o_id) VALUES (1); INSERT INTO o (id) VALUES (1)"
    assert defers(first) == {"public.l.l_o|first"}
    assert defers("INSERT INTO o (id) VALUES (1); INSERT INTO l (o_id) VALUES (1)") == set()


def _row_types_catalog() -> CatalogSnapshot:
    """orders, snapshots (a column of orders' row type), recent() RETURNS SETOF orders,
    and a table named like a built-in type."""
    return build_catalog(
        schemas=[{"schema": "public"}],
        columns=[
            _col("public", "orders", "r", "id", "integer"),
            _col("public", "orders", "r", "legacy", "text"),
            _col("public", "snapshots", "r", "o", "public.orders"),
            _col("public", "line", "r", "id", "integer"),
        ],
        functions=[{**_fn("public", "recent", [], "public.orders"), "returns_set": True}],
        builtins={"functions": ["jsonb_populate_record"], "relations": []},
    )


def test_fields_of_whole_rows_and_row_typed_columns_read_that_column() -> None:
    cat = _row_types_catalog()

    def reads(sql: str) -> set[str]:
        a = analyze(sql, search_path=("public",), catalog=cat)
        return set(a.of_kind(FacetKind.COLUMN_READ) | a.of_kind(FacetKind.SELECT_STAR))

    # a field of the whole row is that column, not every column (no select_star)
    assert reads("SELECT (o).legacy FROM orders o") == {"public.orders.legacy"}
    assert reads("SELECT (orders).legacy FROM orders") == {"public.orders.legacy"}
    # a column of the table's row type: the field is the table's column
    assert reads("SELECT (s.o).legacy FROM snapshots s") == {
        "public.snapshots.o",
        "public.orders.legacy",
    }
    missing = analyze("SELECT (o).nope FROM snapshots", catalog=cat)
    assert missing.of_kind(FacetKind.MISSING_COLUMN) == {"public.orders.nope"}
    # the whole row, and (o).*, still depend on every column
    assert reads("SELECT o FROM orders o") == {"public.orders"}
    assert reads("SELECT (o).* FROM orders o") == {"public.orders"}


def test_a_tables_row_type_names_the_table_and_brings_its_columns() -> None:
    cat = _row_types_catalog()

    def facets(sql: str) -> set[str]:
        return {f.key for f in analyze(sql, search_path=("public",), catalog=cat).facets}

    assert facets("SELECT legacy FROM jsonb_populate_record(NULL::orders, $1)") == {
        "relation_read:public.orders",
        "column_read:public.orders.legacy",
    }
    assert facets("SELECT x.id FROM recent() x") == {
        "function:public.recent()",
        "function_call:public.recent()",
        "column_read:public.orders.id",
    }
    # a built-in type's name is not the same-named table's row type
    assert facets("SELECT NULL::line") == set()
    # a column definition list or ORDINALITY: the function's own columns, unknown
    assert facets("SELECT x.a FROM recent() WITH ORDINALITY x(a, b, n)") == {
        "function:public.recent()",
        "function_call:public.recent()",
    }


def test_a_prepared_star_over_a_row_returning_function_holds_each_column() -> None:
    cat = _row_types_catalog()
    got = {f.subject for f in result_facets("SELECT * FROM recent()", catalog=cat)}
    # each column's type (a retyped one fails the plan: 42804), not the table's column
    # list (a column added to the table does not change the prepared result)
    assert got == {"public.orders.id", "public.orders.legacy", "public.recent().*"}


def test_tablesample_and_merge_delete_are_recorded() -> None:
    cat = _row_types_catalog()
    sampled = analyze("SELECT id FROM orders TABLESAMPLE SYSTEM (1)", catalog=cat)
    assert sampled.of_kind(FacetKind.TABLESAMPLE) == {"public.orders"}
    merge = (
        "MERGE INTO orders t USING snapshots s ON t.id = (s.o).id"
        " WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN DO NOTHING"
    )
    assert analyze(merge, catalog=cat).of_kind(FacetKind.ROW_DELETE) == {"public.orders"}
    update_only = "MERGE INTO orders t USING snapshots s ON t.id = 1 WHEN MATCHED THEN DO NOTHING"
    assert analyze(update_only, catalog=cat).of_kind(FacetKind.ROW_DELETE) == frozenset()


def test_a_table_made_like_another_reads_it() -> None:
    cat = _row_types_catalog()
    like = analyze("CREATE TEMP TABLE staging (LIKE orders INCLUDING DEFAULTS)", catalog=cat)
    assert {f.key for f in like.facets} == {"relation_read:public.orders"}
    gone = analyze("CREATE TEMP TABLE s2 (LIKE nope)", catalog=cat)
    assert gone.of_kind(FacetKind.MISSING_RELATION) == {"public.nope"}
