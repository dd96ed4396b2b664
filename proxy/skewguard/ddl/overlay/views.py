"""Views, materialized views and CREATE TABLE AS: output columns and what they read (for
CASCADE, and to refuse a type change under a view)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.analysis.extract import Extractor
from skewguard.analysis.facets import FacetKind
from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import Column, Relation, RelKind
from skewguard.ddl.affects import Use
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Dep, Model
from skewguard.ddl.overlay.names import creation_schema, find_rel, new_relation
from skewguard.ddl.overlay.nodes import has_call, name_list
from skewguard.temporary import made_temporary

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_O = enums.ObjectType


_AGGREGATES = frozenset(
    {
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "array_agg",
        "string_agg",
        "bool_and",
        "bool_or",
        "json_agg",
        "jsonb_agg",
        "json_object_agg",
        "jsonb_object_agg",
        "every",
    }
)


def create_view(ov: Overlay, m: Model, node: Any) -> None:
    rv = node.view
    if made_temporary(rv):
        ov._temporary |= {str(rv.relname)}
        return
    schema = creation_schema(ov, m, rv.schemaname)
    name = str(rv.relname)
    existing = m.rel_oid(schema, name)
    if existing is not None and not node.replace:
        raise Rejected
    scope = ov.scope(m)
    options = {str(o.defname) for o in node.options or ()}
    checked = node.withCheckOption != enums.ViewCheckOption.NO_CHECK_OPTION
    refusing = checked or options & {"check_option", "security_invoker"}
    if existing is not None and scope.existing(existing) and refusing:
        # as ALTER VIEW ... SET (check_option): CHECK OPTION refuses writes, security_invoker
        # checks readers' privileges too
        qname = m.rels[existing].qname
        use = Use.ANY if "security_invoker" in options else Use.WRITES
        raise CannotModel(
            f"CREATE OR REPLACE VIEW {qname} WITH CHECK OPTION or security_invoker: what the "
            "view then refuses is not modelled",
            affects=scope.reach([existing], use, qname),
        )
    took_writes = existing is not None and scope.existing(existing) and m.rels[existing].updatable
    if took_writes and not _updatable(node.query):  # a join, an aggregate...: 55000 on writes
        assert existing is not None
        qname = m.rels[existing].qname
        raise CannotModel(
            f"CREATE OR REPLACE VIEW {qname}: it is no longer automatically updatable, "
            "and which writes its rules or triggers would still take is not modelled",
            affects=scope.reach([existing], Use.WRITES, qname),
        )
    _define_view(ov, m, existing, schema, name, RelKind.VIEW, node.query, name_list(node.aliases))


def create_table_as(ov: Overlay, m: Model, node: Any) -> None:
    into = node.into
    made = new_relation(ov, m, into.rel, bool(node.if_not_exists))
    if made is None:
        return
    schema, name = made
    kind = RelKind.MATVIEW if node.objtype == _O.OBJECT_MATVIEW else RelKind.TABLE
    _define_view(ov, m, None, schema, name, kind, node.query, name_list(into.colNames))


def _define_view(
    ov: Overlay,
    m: Model,
    oid: int | None,
    schema: str,
    name: str,
    kind: RelKind,
    query: Any,
    aliases: list[str],
) -> None:
    cat = m.to_catalog()
    extractor = Extractor(cat, ov._path, ov._user)
    out = extractor.statement(query)
    exact = _exact_columns(ov, m, query)
    columns: list[Column] = []
    approx = exact is None
    if exact is not None:
        columns = exact
    elif out.columns is not None:
        columns = [Column(n, t, t) for n, t in out.columns.items()]
    for i, alias in enumerate(aliases[: len(columns)]):
        columns[i] = dataclasses.replace(columns[i], name=alias)
    plain = [
        dataclasses.replace(
            c,
            not_null=False,
            has_default=False,
            default=None,
            default_sequences=(),
            identity="",
            generated="",
        )
        for c in columns
    ]
    rel = Relation(
        schema,
        name,
        kind,
        tuple(plain),
        updatable=_updatable(query),
        rows=0.0 if kind != RelKind.VIEW else -1.0,
    )
    if oid is None:
        oid = m.new_oid()
    m.put_rel(oid, rel)
    if approx:
        m.approx_types.add(oid)
    else:
        m.approx_types.discard(oid)
    if kind == RelKind.TABLE:
        return
    deps: set[Dep] = set()
    by_sig = {f.signature: o for o, f in m.funcs.items()}
    for facet in extractor.facets:
        if facet.kind in (FacetKind.COLUMN_READ, FacetKind.RELATION_READ, FacetKind.FUNCTION):
            dep = m._parse_dep(facet.key, by_sig)
            if dep is not None:
                deps.add(dep)
        elif facet.kind == FacetKind.SELECT_STAR:
            parts = split_qualified_name(facet.subject)
            r = m.rel_oid(parts[0], parts[1]) if len(parts) == 2 else None
            if r is not None:
                deps.update(("col", r, a) for a in m.attids[r].values())
    deps.discard(("rel", oid, 0))
    with_columns = {d[1] for d in deps if d[0] == "col"}
    m.deps[oid] = {d for d in deps if not (d[0] == "rel" and d[1] in with_columns)}


def _exact_columns(ov: Overlay, m: Model, query: Any) -> list[Column] | None:
    """Output columns with exact types for a plain select of columns and stars."""
    if not isinstance(query, ast.SelectStmt) or query.op != enums.SetOperation.SETOP_NONE:
        return None
    if query.valuesLists or query.withClause is not None:
        return None
    items: list[tuple[str, Relation, dict[str, str] | None]] = []

    def add(node: Any) -> bool:
        if isinstance(node, ast.RangeVar):
            oid = find_rel(ov, m, node.schemaname, str(node.relname))
            if oid is None:
                return False
            rel = m.rels[oid]
            alias = str(node.alias.aliasname) if node.alias is not None else rel.name
            if node.alias is not None and node.alias.colnames:
                return False
            items.append((alias, rel, None))
            return True
        if (
            isinstance(node, ast.JoinExpr)
            and node.alias is None
            and not node.usingClause
            and not node.isNatural
        ):
            return add(node.larg) and add(node.rarg)
        return False

    if not all(add(f) for f in query.fromClause or ()):
        return None
    cols: list[Column] = []
    for target in query.targetList or ():
        val = target.val
        if not isinstance(val, ast.ColumnRef):
            return None
        fields = val.fields or ()
        if isinstance(fields[-1], ast.A_Star):
            qual = name_list(fields[:-1])
            chosen = [it for it in items if not qual or it[0] == qual[-1]]
            if not chosen:
                return None
            for _, rel, _ in chosen:
                cols.extend(rel.columns)
            continue
        names = name_list(fields)
        if len(names) != len(fields):
            return None
        cands = [
            rel.column(names[-1])
            for alias, rel, _ in items
            if len(names) == 1 or alias == names[-2]
        ]
        found = [c for c in cands if c is not None]
        if len(found) != 1:
            return None
        cols.append(dataclasses.replace(found[0], name=target.name or found[0].name))
    return cols


def _updatable(query: Any) -> bool:
    """Whether PostgreSQL would make a view over ``query`` automatically _updatable."""
    if not isinstance(query, ast.SelectStmt) or query.op != enums.SetOperation.SETOP_NONE:
        return False
    if (
        query.distinctClause
        or query.groupClause
        or query.havingClause
        or query.limitCount
        or query.limitOffset
        or query.withClause
        or query.windowClause
        or query.valuesLists
    ):
        return False
    froms = query.fromClause or ()
    if len(froms) != 1 or not isinstance(froms[0], ast.RangeVar):
        return False
    return not has_call(query.targetList, _AGGREGATES)
