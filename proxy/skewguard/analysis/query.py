"""Walk queries (SELECT, FROM, expressions, function calls) and collect their facets.

:class:`QueryWalker` is the read side of the extractor: name resolution
against the catalog and scopes, and everything an expression can use. The
statement-level and write-side logic lives in :mod:`skewguard.analysis.extract`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums

from skewguard.analysis.derived import (
    TypeExpr,
    columns,
    decode,
    derived,
    encode,
    result_type,
    small,
)
from skewguard.analysis.facets import Facet, FacetKind, ident, qualified
from skewguard.analysis.scope import Columns, Lineage, Lookup, RangeItem, Scope, lookup_in_item
from skewguard.analysis.types import (
    UNKNOWN,
    cannot_take,
    compatible,
    const_type,
    enum_of_type,
    is_builtin_type_name,
    type_named,
    type_text,
)
from skewguard.analysis.values import Written
from skewguard.catalog import (
    SYSTEM_SCHEMAS,
    CatalogSnapshot,
    Function,
    Relation,
    RelKind,
)
from skewguard.temporary import Shape, is_temp_schema

_SEQUENCE_FUNCTIONS = frozenset({"nextval", "currval", "setval"})
#: Text search functions whose first argument (of two or more) is a regconfig.
_TS_FUNCTIONS = frozenset(
    {
        "to_tsvector",
        "to_tsquery",
        "plainto_tsquery",
        "phraseto_tsquery",
        "websearch_to_tsquery",
        "ts_headline",
        "json_to_tsvector",
        "jsonb_to_tsvector",
    }
)
#: pg_catalog functions whose result is the row type of their first argument's type
#: (``jsonb_populate_record(NULL::orders, $1)`` returns an ``orders`` row).
_ROW_OF_FIRST_ARGUMENT = frozenset(
    {
        "json_populate_record",
        "jsonb_populate_record",
        "json_populate_recordset",
        "jsonb_populate_recordset",
    }
)
_VIEW_KINDS = (RelKind.VIEW, RelKind.MATVIEW)
_COMPARISON_OPS = frozenset({"=", "<>", "!=", "<", ">", "<=", ">="})
_F = FacetKind


def str_fields(nodes: Iterable[Any] | None) -> list[str]:
    return [str(n.sval) for n in nodes or () if isinstance(n, ast.String)]


def ref_fields(node: Any) -> tuple[Any, ...]:
    """The fields of a ColumnRef, or () for anything else."""
    if isinstance(node, ast.ColumnRef):
        return tuple(node.fields or ())
    return ()


def is_star(node: Any) -> bool:
    fields = ref_fields(node)
    return bool(fields) and isinstance(fields[-1], ast.A_Star)


def bare_name(node: Any) -> str | None:
    """``name`` for a one-field ColumnRef, else None."""
    fields = ref_fields(node)
    if len(fields) == 1 and isinstance(fields[0], ast.String):
        return str(fields[0].sval)
    return None


def string_literal(node: Any) -> str | None:
    """The text of a string literal, also through a cast (``'x'::mood``)."""
    if isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and not node.isnull and isinstance(node.val, ast.String):
        return str(node.val.sval)
    return None


def column_type(catalog: CatalogSnapshot, subject: str) -> str | None:
    """The ``format_type`` of column ``schema.table.column`` (with ``COLLATE "c"`` when
    not its type's own), or None."""
    parts = split_qualified_name(subject)
    rel = catalog.relation(parts[0], parts[1]) if len(parts) == 3 else None
    col = rel.column(parts[2]) if rel is not None else None
    if col is None:
        return None
    return f'{col.type_name} COLLATE "{col.collation}"' if col.collation else col.type_name


def split_qualified_name(text: str) -> list[str]:
    """Split ``schema."Name"`` as regclass input does (unquoted parts fold to lower case)."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            j = i + 1
            buf = []
            while j < n:
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        buf.append('"')
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            j = text.find(".", i)
            if j < 0:
                j = n
            parts.append(text[i:j].strip().lower())
            i = j
        if i < n and text[i] == ".":
            i += 1
    return parts


@dataclass(slots=True)
class SelectOut:
    """What a query level exposes upward: its output columns and star sources."""

    columns: Columns | None = None  # None when a star expanded something opaque
    arity: int | None = None
    star_sources: list[str] = field(default_factory=list)  # qnames expanded by a star
    lineage: Lineage = field(default_factory=Lineage)  # catalog columns returned unchanged


@dataclass(slots=True)
class _Resolved:
    """A relation name resolved for a FROM item or DML target.

    No qname means no facets: a system catalog, or a relation the text created.
    """

    relation: Relation | None = None
    qname: str | None = None
    missing: bool = False


class QueryWalker:
    """Resolves names and records the facets of queries and expressions."""

    def __init__(
        self,
        catalog: CatalogSnapshot,
        search_path: Sequence[str],
        user: str | None = None,
        temporary: frozenset[str] = frozenset(),
        temporary_like: Iterable[Shape] = (),
    ) -> None:
        self.catalog = catalog
        self.user = user
        self.temporary = temporary  # the session's temporary relations: not the schema's
        # those made LIKE another relation (skewguard.temporary): name -> source as written
        self.temporary_like = dict(temporary_like)
        self.initial_path = tuple(search_path)
        self.facets: set[Facet] = set()
        self.values: list[Written] = []  # constants written: (column subject, encoded value)
        self.created: set[tuple[str | None, str]] = set()
        self.search_path_set: tuple[str, ...] | None = None
        self.search_path_reset = False
        self._params: tuple[str, ...] = ()
        # enum types the statement's parameters take ($1::mood, m = $1, VALUES ($1) into
        # m): a statement kept prepared holds them by oid (see result_facets)
        self.param_types: set[str] = set()
        self.inserted: list[str] = []  # tables the text inserted into, in order
        self._set_path(self.initial_path)

    # --- bookkeeping -------------------------------------------------------

    def _add(self, kind: FacetKind, subject: str) -> None:
        self.facets.add(Facet(kind, subject))

    def _param_type(self, node: Any, typ: str) -> None:
        """``node`` takes the type ``typ``: noted when it is a parameter and ``typ`` an enum."""
        enum = self.catalog.enum_for_type(typ)
        if enum is not None and (node is None or isinstance(node, ast.ParamRef)):
            self.param_types.add(enum.type_name)

    def _set_path(self, path: Sequence[str]) -> None:
        """Compute the effective path: $user expanded, pg_catalog implicitly first, and
        where the session's temporary schema is searched (first, unless listed)."""
        effective: list[str] = []
        temp_at: int | None = None  # listed: searched after this many schemas
        for schema in path:
            if schema == "$user":
                if self.user is not None:
                    effective.append(self.user)
            elif is_temp_schema(schema):
                temp_at = len(effective) if temp_at is None else temp_at
            else:
                effective.append(schema)
        if "pg_catalog" not in effective:
            effective.insert(0, "pg_catalog")
            temp_at = None if temp_at is None else temp_at + 1
        self.temp_at = 0 if temp_at is None else temp_at
        self.path = tuple(effective)
        self.user_path = tuple(s for s in effective if s != "pg_catalog")
        self.creation_schema = next(
            (s for s in self.user_path if s in self.catalog.schemas),
            self.user_path[0] if self.user_path else "public",
        )

    def statement(self, node: Any, scope: Scope | None = None) -> SelectOut:
        """Analyze any statement (implemented by the extractor; CTEs can hold DML)."""
        raise NotImplementedError

    def _note_created(self, rv: Any) -> None:
        if isinstance(rv, ast.RangeVar):
            self.created.add((rv.schemaname, str(rv.relname)))

    # --- relation names ----------------------------------------------------

    def _resolve_name(self, schema: str | None, name: str) -> _Resolved:
        if schema is not None:
            if schema in SYSTEM_SCHEMAS or schema.startswith(("pg_temp", "pg_toast")):
                return _Resolved()
            if (schema, name) in self.created:
                return _Resolved()
            rel = self.catalog.relation(schema, name)
            if rel is not None:
                return _Resolved(relation=rel, qname=rel.qname)
            return _Resolved(qname=qualified(schema, name), missing=True)
        if (None, name) in self.created:
            return _Resolved()
        temporary = name in self.temporary
        for at, s in enumerate(self.path):
            if temporary and at == self.temp_at:
                return _Resolved()  # the session's own temporary relation
            if s == "pg_catalog":
                if name in self.catalog.builtin_relations:
                    return _Resolved()
                continue
            rel = self.catalog.relation(s, name)
            if rel is not None:
                return _Resolved(relation=rel, qname=rel.qname)
        if temporary:
            return _Resolved()  # searched after every schema of the path
        return _Resolved(qname=qualified(self.creation_schema, name), missing=True)

    def _relation_item(self, rv: Any, res: _Resolved) -> RangeItem:
        alias = rv.alias.aliasname if rv.alias is not None else rv.relname
        colnames = str_fields(rv.alias.colnames) if rv.alias is not None else []
        if res.relation is not None:
            return self._relation_item_as(alias, colnames, res.relation)
        return RangeItem(alias, qname=res.qname, missing=res.missing)

    @staticmethod
    def _relation_item_as(
        alias: str | None, colnames: list[str], relation: Relation, lineage: Lineage | None = None
    ) -> RangeItem:
        colmap = None
        if colnames:
            real = relation.column_names
            colmap = {colnames[i] if i < len(colnames) else c: c for i, c in enumerate(real)}
        return RangeItem(
            alias, relation=relation, qname=relation.qname, colmap=colmap, lineage=lineage
        )

    def temporary_shape(self, rv: Any) -> Relation | None:
        """The relation whose columns the session's temporary table ``rv`` was made LIKE,
        when ``rv`` finds that temporary table (not a relation of the schema)."""
        source = self.temporary_like.get(str(rv.relname))
        if source is None or (rv.schemaname is not None and not is_temp_schema(rv.schemaname)):
            return None
        if rv.schemaname is None and self._resolve_name(None, str(rv.relname)).qname is not None:
            return None  # the path lists pg_temp after a schema holding the name
        res = self._resolve_name(source[0] if len(source) == 2 else None, source[-1])
        return res.relation

    def _note_relation(self, res: _Resolved, kind: FacetKind) -> None:
        if res.qname is None:
            return
        self._add(kind, res.qname)
        if res.missing:
            self._add(_F.MISSING_RELATION, res.qname)
        elif (
            kind is _F.RELATION_READ
            and res.relation is not None
            and res.relation.kind in _VIEW_KINDS
        ):
            self._add(_F.VIEW_READ, res.qname)

    def _target(self, rv: Any, *, write: bool) -> RangeItem:
        """A DML target (or LOCK/TRUNCATE): written, never a CTE."""
        res = self._resolve_name(rv.schemaname, rv.relname)
        self._note_relation(res, _F.RELATION_WRITE if write else _F.RELATION_READ)
        return self._relation_item(rv, res)

    # --- SELECT ------------------------------------------------------------

    def _with(self, with_clause: Any, scope: Scope) -> None:
        recursive = bool(with_clause.recursive)
        for cte in with_clause.ctes or ():
            name = cte.ctename
            aliases = str_fields(cte.aliascolnames)
            query = cte.ctequery
            if (
                recursive
                and isinstance(query, ast.SelectStmt)
                and query.op != enums.SetOperation.SETOP_NONE
            ):
                left = self.select(query.larg, scope)
                scope.ctes[name] = _rename(left.columns, aliases)
                scope.cte_lineage[name] = _rename_lineage(left.lineage, aliases)
                right = self.select(query.rarg, scope)
                scope.cte_lineage[name] = _rename_lineage(
                    _union_lineage(left.lineage, right.lineage, self._resolves), aliases
                )
                continue
            if recursive:
                scope.ctes[name] = {a: UNKNOWN for a in aliases} if aliases else None
            out = self.statement(query, scope)
            scope.ctes[name] = _rename(out.columns, aliases)
            scope.cte_lineage[name] = _rename_lineage(out.lineage, aliases)

    def select(self, node: Any, parent: Scope | None) -> SelectOut:
        """A SELECT/VALUES/set operation at a new query level below ``parent``."""
        scope = Scope(parent=parent)
        if node.withClause is not None:
            self._with(node.withClause, scope)
        if node.op != enums.SetOperation.SETOP_NONE:
            left = self.select(node.larg, scope)
            right = self.select(node.rarg, scope)
            out = SelectOut(
                left.columns,
                left.arity,
                left.star_sources + right.star_sources,
                _union_lineage(left.lineage, right.lineage, self._resolves),
            )
            self._tail(node, Scope(parent=scope, items=[RangeItem(None, columns=out.columns)]))
            return out
        if node.valuesLists:
            row_scope = Scope(parent=scope)
            width = 0
            for row in node.valuesLists:
                width = len(row)
                for expr in row:
                    self.expr(expr, row_scope)
            self._tail(node, row_scope)
            cols = {f"column{i + 1}": UNKNOWN for i in range(width)}
            return SelectOut(cols, width)
        for item in node.fromClause or ():
            self.from_item(item, scope)
        out = self.target_list(node.targetList, scope)
        self.expr(node.whereClause, scope)
        outputs = {t.name or figure_colname(t.val) for t in node.targetList or ()}
        if out.columns is not None:
            outputs.update(out.columns)
        for g in node.groupClause or ():
            self._group_expr(g, scope, outputs)
        self.expr(node.havingClause, scope)
        for w in node.windowClause or ():
            self.expr(w, scope)
        for d in node.distinctClause or ():
            if d is not None:
                self._sort_expr(d, scope, outputs)
        for s in node.sortClause or ():
            self._sort_expr(s.node, scope, outputs)
        self._tail(node, scope, sort=False)
        return out

    def _tail(self, node: Any, scope: Scope, *, sort: bool = True) -> None:
        """ORDER BY (on a set operation or VALUES: output columns only), LIMIT, OFFSET."""
        if sort:
            for s in node.sortClause or ():
                self.expr(s.node, scope)
        self.expr(node.limitCount, scope)
        self.expr(node.limitOffset, scope)

    def _sort_expr(self, node: Any, scope: Scope, outputs: Iterable[str]) -> None:
        """ORDER BY / DISTINCT ON: a bare name that is an output column is not a table column."""
        name = bare_name(node)
        if name is not None and name in outputs:
            return
        self.expr(node, scope)

    def _group_expr(self, node: Any, scope: Scope, outputs: Iterable[str]) -> None:
        """GROUP BY: input columns win over output names (the reverse of ORDER BY)."""
        if isinstance(node, ast.GroupingSet):
            for c in node.content or ():
                self._group_expr(c, scope, outputs)
            return
        name = bare_name(node)
        if name is not None and name in outputs and not scope.lookup(name).found:
            return
        self.expr(node, scope)

    def target_list(self, targets: Any, scope: Scope) -> SelectOut:
        """A select list: records stars, returns the output columns and their lineage."""
        cols: Columns | None = {}
        arity: int | None = 0
        stars: list[str] = []
        lineage: dict[str, frozenset[str]] = {}
        result: set[str] = set()
        for target in targets or ():
            val = target.val
            if is_star(val):
                expanded = self._star(val, scope, stars, lineage, result)
                if expanded is None or cols is None:
                    cols = None
                    arity = None
                else:
                    for k, v in expanded.items():
                        cols.setdefault(k, v)
                    if arity is not None:
                        arity += len(expanded)
                continue
            typ, subjects = self.result_expr(val, scope)
            name = target.name or figure_colname(val)
            lineage.setdefault(name, subjects)
            result |= subjects
            if arity is not None:
                arity += 1
            if cols is not None:
                cols.setdefault(name, typ)
        return SelectOut(cols, arity, stars, Lineage(lineage, frozenset(result)))

    def _star(
        self,
        ref: Any,
        scope: Scope,
        stars: list[str],
        lineage: dict[str, frozenset[str]],
        result: set[str],
    ) -> Columns | None:
        """``*`` or ``t.*``: record select_star per base relation, return its columns.

        Adds the expanded columns' lineage to ``lineage`` and ``schema.table.*`` (or
        a derived table's result subjects) to ``result``.
        """
        qual = str_fields(ref.fields[:-1])
        if qual:
            item = self._qualified_item(qual, scope)
            items = [item] if item is not None else []
            if item is None:
                return None
        else:
            items = list(scope.items)
        cols: Columns | None = {}
        for item in items:
            for leaf in item.leaves():
                if leaf.qname is not None:
                    self._add(_F.SELECT_STAR, leaf.qname)
                    stars.append(leaf.qname)
            result |= item.star_result()
            for k, subjects in item.visible_lineage().items():
                lineage.setdefault(k, subjects)
            expanded = item.visible_columns()
            if expanded is None or cols is None:
                cols = None
            else:
                for k, v in expanded.items():
                    cols.setdefault(k, v)
        return cols

    # --- result columns ----------------------------------------------------

    def result_expr(self, node: Any, scope: Scope) -> tuple[str, frozenset[str]]:
        """Walk an output expression: its type, and the catalog columns it returns as is.

        Only a bare column reference (``email``, ``u.email``, through derived
        tables) and a scalar subquery returning one pass a column's type through
        unchanged; a bare call of a user function returns the function's result
        type (its signature, ``public.f(integer)``, is recorded: redefining it
        with another result type changes the row); an expression whose type follows
        its columns' (``sum(v)``, ``coalesce(v, 0)``, ``a + b``) gives each column
        with the expression (``public.t.v|sum``: see analysis.derived); any other
        expression (a cast, a comparison, ``count(*)``) has a type of its own: not
        recorded.
        """
        if (
            isinstance(node, ast.SubLink)
            and node.subLinkType == enums.SubLinkType.EXPR_SUBLINK
            and isinstance(node.subselect, ast.SelectStmt)
        ):
            out = self.select(node.subselect, scope)
            return UNKNOWN, out.lineage.result
        if isinstance(node, ast.FuncCall):  # its result type is the function's own
            typ, signatures = self.call(node, scope)
            return typ, frozenset(signatures) or self._derived_lineage(node, scope)
        typ = self.expr(node, scope)
        if isinstance(node, ast.ColumnRef):
            return typ, self._bare_lineage(node, scope)
        return typ, self._derived_lineage(node, scope)

    def _derived_lineage(self, node: Any, scope: Scope) -> frozenset[str]:
        """``schema.table.column|...`` for an output whose type follows its columns'
        (``sum(v)``, ``coalesce(v, 0)``, ``a + b``: see analysis.derived), once for each
        column it names; nothing for any other expression."""
        out: set[str] = set()
        for tree in derived(node, lambda leaf: self._type_leaves(leaf, scope)):
            text = encode(tree)
            if text.startswith("=") and not self._resolves(tree):
                continue  # ``ts - ts2``: not modelled, as no expression of one column is
            out.update(f"{column}|{text}" for column in columns(tree))
        return frozenset(out)

    def _resolves(self, tree: TypeExpr) -> bool:
        """Whether the type of ``tree`` is known over the catalog's columns now."""
        return result_type(tree, lambda c: column_type(self.catalog, c)) is not None

    def _type_leaves(self, node: Any, scope: Scope) -> list[TypeExpr]:
        """The type expressions a column reference or scalar subquery stands for in a
        derived output: the catalog columns (or derived outputs) it returns."""
        if isinstance(node, ast.ColumnRef):
            subjects = self._bare_lineage(node, scope)
        elif node.subLinkType == enums.SubLinkType.EXPR_SUBLINK and isinstance(
            node.subselect, ast.SelectStmt
        ):
            subjects = self.select(node.subselect, scope).lineage.result
        else:
            return []
        leaves: list[TypeExpr] = []
        for s in sorted(subjects):
            if s.endswith(".*") or "(" in s.partition("|")[0]:
                return []  # a row or a function's result: not a column's type
            column, _, text = s.partition("|")
            tree = decode(column, text) if text else column
            if tree is None:
                return []
            leaves.append(tree)
        return leaves

    def _bare_lineage(self, ref: Any, scope: Scope) -> frozenset[str]:
        """The catalog columns a column reference returns (none for a whole-row ref)."""
        fields = str_fields(ref.fields)
        if len(fields) != len(ref.fields) or not fields:
            return frozenset()
        name = fields[-1]
        if len(fields) == 1:
            lookup = scope.lookup(name)
        else:
            item = self._qualified_item(fields[:-1], scope)
            if item is None:  # alias.column.field, or unknown: not a bare column
                return frozenset()
            lookup = Lookup()
            lookup_in_item(item, name, lookup)
        out: set[str] = set()
        for hit in lookup.hits:
            if hit.column is not None:
                subject = hit.item.column_subject(hit.name)
                if subject is not None:
                    out.add(subject)
            elif hit.item.lineage is not None:
                out |= hit.item.lineage.columns.get(hit.name, frozenset())
        return frozenset(out)

    # --- FROM --------------------------------------------------------------

    def from_item(self, node: Any, scope: Scope) -> None:
        """Add one FROM item (recursing into joins) to ``scope.items``."""
        if isinstance(node, ast.RangeVar):
            scope.items.append(self._from_rangevar(node, scope))
        elif isinstance(node, ast.RangeSubselect):
            inner_parent = (
                scope
                if node.lateral
                else Scope(parent=scope.parent, ctes=scope.ctes, cte_lineage=scope.cte_lineage)
            )
            out = self.select(node.subquery, inner_parent)
            alias = node.alias.aliasname if node.alias is not None else None
            colnames = str_fields(node.alias.colnames) if node.alias is not None else []
            scope.items.append(
                RangeItem(
                    alias,
                    columns=_rename(out.columns, colnames),
                    lineage=_rename_lineage(out.lineage, colnames),
                )
            )
        elif isinstance(node, ast.RangeFunction):
            signatures: set[str] = set()
            for pair in node.functions or ():
                if isinstance(pair[0], ast.FuncCall):
                    signatures.update(self.call(pair[0], scope)[1])
                else:
                    self.expr(pair[0], scope)
                for coldef in pair[1] or ():
                    self.expr(coldef, scope)
            item = self._function_item(node, frozenset(signatures))
            row = self._function_row(node, signatures)
            if row is not None:  # its columns are the table's: name them as the table's
                colnames = str_fields(node.alias.colnames) if node.alias is not None else []
                item = self._relation_item_as(item.alias, colnames, row, lineage=item.lineage)
                item.row_type_only = True
            scope.items.append(item)
        elif isinstance(node, ast.RangeTableSample):
            self.from_item(node.relation, scope)
            sampled = scope.items[-1] if scope.items else None
            if sampled is not None and sampled.relation is not None and sampled.qname:
                self._add(_F.TABLESAMPLE, sampled.qname)  # a view cannot be sampled
            for arg in node.args or ():
                self.expr(arg, scope)
            self.expr(node.repeatable, scope)
        elif isinstance(node, ast.JoinExpr):
            self._join(node, scope)
        elif node is not None:
            # JSON_TABLE, XMLTABLE, ...: read their input expressions; columns unknown.
            alias = getattr(node, "alias", None)
            self._walk_children(node, scope)
            scope.items.append(RangeItem(alias.aliasname if alias is not None else None))

    def _from_rangevar(self, rv: Any, scope: Scope) -> RangeItem:
        if rv.schemaname is None:
            found, cols = scope.find_cte(rv.relname)
            if found:
                alias = rv.alias.aliasname if rv.alias is not None else rv.relname
                colnames = str_fields(rv.alias.colnames) if rv.alias is not None else []
                renamed = _rename(cols, colnames)
                lineage = scope.find_cte_lineage(rv.relname)
                if lineage is not None:
                    lineage = _rename_lineage(lineage, colnames)
                return RangeItem(alias, columns=renamed, lineage=lineage)
        res = self._resolve_name(rv.schemaname, rv.relname)
        self._note_relation(res, _F.RELATION_READ)
        return self._relation_item(rv, res)

    def _function_row(self, node: Any, signatures: set[str]) -> Relation | None:
        """The table whose row type the one function in FROM returns: a user function
        declared ``RETURNS [SETOF] orders``, or ``json[b]_populate_record[set](NULL::orders,
        ...)``. None with a column definition list, ``ROWS FROM`` or ``WITH ORDINALITY``."""
        if len(node.functions or ()) != 1 or node.ordinality or node.coldeflist:
            return None
        call = node.functions[0][0]
        if not isinstance(call, ast.FuncCall):
            return None
        names = str_fields(call.funcname)
        if (
            names[-1] in _ROW_OF_FIRST_ARGUMENT
            and names[:-1] in ([], ["pg_catalog"])
            and call.args
            and isinstance(call.args[0], ast.TypeCast)
            and call.args[0].typeName is not None
            and not call.args[0].typeName.arrayBounds
        ):
            res = self.row_type(call.args[0].typeName)
            return res.relation if res is not None else None
        if len(signatures) != 1:
            return None
        (signature,) = signatures
        schema, name = split_qualified_name(signature.split("(", 1)[0])[-2:]
        for f in self.catalog.functions_named(schema, name):
            if f.signature == signature and not f.out_columns:
                return self._relation_of_type(f.return_type)
        return None

    def _function_item(self, node: Any, signatures: frozenset[str]) -> RangeItem:
        """A function in FROM; ``*`` over it returns its row (``public.f(integer).*``:
        redefining its OUT / RETURNS TABLE columns changes a prepared statement's result)."""
        alias = node.alias.aliasname if node.alias is not None else None
        names = str_fields(node.alias.colnames) if node.alias is not None else []
        if not names and node.coldeflist:
            names = [c.colname for c in node.coldeflist]
        star = Lineage(result=frozenset(f"{s}.*" for s in signatures)) if signatures else None
        if not names:
            return RangeItem(alias, lineage=star)
        return RangeItem(alias, columns={n: UNKNOWN for n in names}, lineage=star)

    def _join(self, node: Any, scope: Scope) -> None:
        start = len(scope.items)
        self.from_item(node.larg, scope)
        mid = len(scope.items)
        self.from_item(node.rarg, scope)
        left, right = scope.items[start:mid], scope.items[mid:]
        using = str_fields(node.usingClause)
        if node.isNatural:
            lcols = _merged_columns(left)
            rcols = _merged_columns(right)
            if lcols is not None and rcols is not None:
                using = [c for c in lcols if c in rcols]
        for name in using:
            for side in (left, right):
                self._record_lookup(name, _lookup_items(side, name), read=True)
        self.expr(node.quals, scope)
        if node.alias is not None:
            joined = RangeItem(node.alias.aliasname, children=tuple(scope.items[start:]))
            del scope.items[start:]
            scope.items.append(joined)
        elif node.join_using_alias is not None:
            cols = _merged_columns(left) or {}
            merged = {n: _lineage_of(left, n) | _lineage_of(right, n) for n in using}
            scope.items.append(
                RangeItem(
                    node.join_using_alias.aliasname,
                    columns={n: cols.get(n, UNKNOWN) for n in using},
                    lineage=Lineage(merged, frozenset().union(*merged.values())),
                )
            )

    # --- column references -------------------------------------------------

    def _qualified_item(self, qual: list[str], scope: Scope) -> RangeItem | None:
        if len(qual) == 1:
            return scope.find_item(qual[0])
        return scope.find_relation_item(qual[-2], qual[-1])

    def column_ref(self, ref: Any, scope: Scope) -> str:
        """Resolve a ColumnRef, record what it reads; returns its type text."""
        fields = str_fields(ref.fields)
        if len(fields) != len(ref.fields) or not fields:
            return UNKNOWN
        return self.column_name(fields, scope)

    def column_name(self, fields: list[str], scope: Scope, *, write: bool = False) -> str:
        """Resolve ``[[schema.]table.]column``, record it; returns its type text."""
        name = fields[-1]
        if len(fields) == 1:
            lookup = scope.lookup(name)
            if not lookup.found:
                item = scope.find_item(name)
                if item is not None:  # a whole-row reference: depends on every column
                    for leaf in item.leaves():
                        if leaf.qname is not None:
                            self._add(_F.SELECT_STAR, leaf.qname)
                    return UNKNOWN
                self._missing_unqualified(name, scope, write=write)
                return UNKNOWN
            return self._record_lookup(name, lookup, read=not write)
        item = self._qualified_item(fields[:-1], scope)
        if item is None and len(fields) == 3:  # alias.column.field (composite field access)
            return self.column_name(fields[:2], scope, write=write)
        if item is None:
            return UNKNOWN
        lookup = Lookup()
        lookup_in_item(item, name, lookup)
        if not lookup.found:
            for leaf in item.leaves():
                if leaf.relation is not None:
                    self._missing_column(leaf, name, write=write)
            return UNKNOWN
        return self._record_lookup(name, lookup, read=not write)

    def _record_lookup(self, name: str, lookup: Lookup, *, read: bool) -> str:
        kind = _F.COLUMN_READ if read else _F.COLUMN_WRITE
        for hit in lookup.hits:
            subject = hit.item.column_subject(hit.name) if hit.column is not None else None
            if subject is not None:
                self._add(kind, subject)
        if not lookup.hits:
            for item in lookup.maybe:
                if item.missing and item.qname is not None:
                    self._add(kind, f"{item.qname}.{ident(name)}")
        if len(lookup.hits) == 1 and not lookup.maybe:
            return lookup.hits[0].type_name
        return UNKNOWN

    def _missing_unqualified(self, name: str, scope: Scope, *, write: bool) -> None:
        for item in scope.innermost_items():
            for leaf in item.leaves():
                if leaf.relation is not None:
                    self._missing_column(leaf, name, write=write)

    def _missing_column(self, item: RangeItem, name: str, *, write: bool) -> None:
        subject = item.column_subject(name)
        if subject is None:
            return
        self._add(_F.MISSING_COLUMN, subject)
        self._add(_F.COLUMN_WRITE if write else _F.COLUMN_READ, subject)

    # --- expressions -------------------------------------------------------

    def expr(self, node: Any, scope: Scope) -> str:
        """Walk an expression, recording what it uses; returns its type when knowable."""
        if node is None:
            return UNKNOWN
        if isinstance(node, tuple | list):
            for n in node:
                self.expr(n, scope)
            return UNKNOWN
        if isinstance(node, ast.ColumnRef):
            return self.column_ref(node, scope)
        if isinstance(node, ast.A_Const):
            return const_type(node)
        if isinstance(node, ast.ParamRef):
            n = int(node.number or 0)
            return self._params[n - 1] if 0 < n <= len(self._params) else UNKNOWN
        if isinstance(node, ast.TypeCast):
            return self._type_cast(node, scope)
        if isinstance(node, ast.FuncCall):
            return self.func_call(node, scope)
        if isinstance(node, ast.SubLink):
            self.expr(node.testexpr, scope)
            self.statement(node.subselect, scope)
            return UNKNOWN
        if isinstance(node, ast.A_Expr):
            return self._a_expr(node, scope)
        if isinstance(node, ast.NamedArgExpr):
            return self.expr(node.arg, scope)
        if isinstance(node, ast.CollateClause):
            self._named(_F.COLLATION, str_fields(node.collname))
            return self.expr(node.arg, scope)
        if isinstance(node, ast.A_Indirection):
            return self._indirection(node, scope)
        if isinstance(node, ast.SelectStmt):
            self.select(node, scope)
            return UNKNOWN
        if isinstance(node, ast.Node):
            self._walk_children(node, scope)
        return UNKNOWN

    def _type_cast(self, node: Any, scope: Scope) -> str:
        self.expr(node.arg, scope)
        self._param_type(node.arg, type_text(node.typeName, self.catalog, self.user_path))
        label = string_literal(node.arg)
        if label is not None:
            enum = enum_of_type(node.typeName, self.catalog, self.user_path)
            if enum is not None:
                self._enum_label(enum, label, write=False)
        named = type_named(node.typeName, self.catalog, self.user_path)
        if named is not None:
            self._add(_F.TYPE_NAMED, named)
        elif (row := self.row_type(node.typeName)) is not None:
            self._note_relation(row, _F.RELATION_READ)  # the name must find the relation
        typ = type_text(node.typeName, self.catalog, self.user_path)
        if typ == "regconfig" and label is not None:
            self._named(_F.TS_CONFIG, split_qualified_name(label))
        return typ

    def _named(self, kind: FacetKind, names: Sequence[str]) -> None:
        """A text search configuration or collation an expression names, as written
        (``app_ci``, ``public.app_ci``): they are not in the catalog snapshot, and a
        bare name is matched by name alone. pg_catalog's are not recorded."""
        if not names or (len(names) > 1 and names[-2] in SYSTEM_SCHEMAS):
            return
        self._add(kind, ".".join(ident(n) for n in names[-2:]))

    def row_type(self, type_name: Any) -> _Resolved | None:
        """The relation whose row type ``type_name`` names (``NULL::orders``,
        ``$1::app.orders[]``), when the catalog has it and no user type takes the name."""
        names = str_fields(type_name.names)
        if len(names) != len(type_name.names or ()) or not 1 <= len(names) <= 2:
            return None
        if len(names) == 1 and is_builtin_type_name(names[0]):
            return None
        res = self._resolve_name(names[0] if len(names) == 2 else None, names[-1])
        return res if res.relation is not None else None

    def _indirection(self, node: Any, scope: Scope) -> str:
        """``(o).col`` / ``(t.snapshot).col``: a field of a whole row, or of a column whose
        type is a table's row type, reads that table column (not every column, as a
        whole-row reference does); anything else is walked as usual."""
        first = node.indirection[0] if node.indirection else None
        arg = node.arg
        if not isinstance(first, ast.String) or not isinstance(arg, ast.ColumnRef):
            self._walk_children(node, scope)
            return UNKNOWN
        self.expr(node.indirection[1:], scope)
        field = str(first.sval)
        fields = str_fields(arg.fields)
        if (
            len(fields) == len(arg.fields or ()) == 1
            and not scope.lookup(fields[0]).found
            and scope.find_item(fields[0]) is not None
        ):
            typ = self.column_name([fields[0], field], scope)
            return typ if len(node.indirection) == 1 else UNKNOWN
        row = self._relation_of_type(self.column_ref(arg, scope))
        if row is not None:
            item = RangeItem(None, relation=row, qname=row.qname)
            self.column_name([field], Scope(items=[item]))
        return UNKNOWN

    def _relation_of_type(self, type_text_: str) -> Relation | None:
        """The catalog relation whose row type a column's type text (``public.orders``) is."""
        parts = split_qualified_name(type_text_)
        return self.catalog.relation(parts[0], parts[1]) if len(parts) == 2 else None

    def _walk_children(self, node: Any, scope: Scope) -> None:
        for attr in type(node).__slots__:
            value = getattr(node, attr, None)
            if isinstance(value, ast.Node | tuple):
                self.expr(value, scope)

    def _a_expr(self, node: Any, scope: Scope) -> str:
        ltype = self.expr(node.lexpr, scope)
        rtype = self.expr(node.rexpr, scope)
        op = str_fields(node.name)
        kind = node.kind
        if kind in _OPERATOR_KINDS and op:
            self._operator(op)
        if kind == enums.A_Expr_Kind.AEXPR_IN and isinstance(node.rexpr, tuple):
            self._compare_labels(ltype, node.rexpr)
            for value in node.rexpr:
                self._param_type(value, ltype)
        elif (
            kind in (enums.A_Expr_Kind.AEXPR_OP, enums.A_Expr_Kind.AEXPR_OP_ANY)
            and op
            and op[-1] in _COMPARISON_OPS
        ):
            rhs = node.rexpr
            if isinstance(rhs, ast.TypeCast):  # array['a', 'b']::mood[]
                rhs = rhs.arg
            if isinstance(rhs, ast.A_ArrayExpr):
                rhs = rhs.elements
            self._compare_labels(ltype, rhs)
            self._compare_labels(rtype, node.lexpr)
            self._param_type(node.rexpr, ltype)
            self._param_type(node.lexpr, rtype)
            if kind == enums.A_Expr_Kind.AEXPR_OP and op[-1] in _COMPARISON_OPS:
                return "boolean"
        return UNKNOWN

    def _operator(self, names: list[str]) -> None:
        """A user operator, resolved as far as its name goes (its overloads are not told
        apart): ``public.===``. pg_catalog's are found first and never recorded."""
        name = names[-1]
        if len(names) > 1:
            if names[-2] not in SYSTEM_SCHEMAS:
                self._add(_F.OPERATOR, f"{ident(names[-2])}.{name}")
            return
        if name in self.catalog.builtin_operators:
            return
        held = self.catalog.operator_schemas(name)
        schema = next((s for s in self.user_path if s in held), None)
        if schema is None and self.catalog.builtin_operators:  # none yet: where it would be
            schema = self.creation_schema
        if schema is not None:
            self._add(_F.OPERATOR, f"{ident(schema)}.{name}")

    def _compare_labels(self, typ: str, values: Any) -> None:
        enum = self.catalog.enum_for_type(typ)
        if enum is None:
            return
        for value in values if isinstance(values, tuple | list) else (values,):
            label = string_literal(value)
            if label is not None:
                self._enum_label(enum.type_name, label, write=False)

    def _enum_label(self, type_name: str, label: str, *, write: bool) -> None:
        enum = self.catalog.enum_for_type(type_name)
        if enum is None:
            return
        subject = f"{type_name}:{label}"
        self._add(_F.ENUM_LABEL_WRITE if write else _F.ENUM_LABEL_READ, subject)
        if label not in enum.labels:
            self._add(_F.MISSING_ENUM_LABEL, subject)

    # --- functions ---------------------------------------------------------

    def func_call(self, node: Any, scope: Scope) -> str:
        """Record a function call with its call-site argument types; returns its type."""
        return self.call(node, scope)[0]

    def call(self, node: Any, scope: Scope) -> tuple[str, tuple[str, ...]]:
        """:meth:`func_call`, with the signatures of the overloads it can reach."""
        names = str_fields(node.funcname)
        arg_types: list[str] = []
        for arg in node.args or ():
            typ = self.expr(arg, scope)
            if isinstance(arg, ast.NamedArgExpr):
                arg_types.append(f"{arg.name}=>{typ}")
            else:
                arg_types.append(typ)
        self.expr(node.agg_order, scope)
        self.expr(node.agg_filter, scope)
        self.expr(node.over, scope)
        if node.agg_star:
            arg_types = ["*"]
        name = names[-1]
        schema = names[-2] if len(names) > 1 else None
        if name in _SEQUENCE_FUNCTIONS and schema in (None, "pg_catalog") and node.args:
            self._sequence_literal(node.args[0])
        if name in _TS_FUNCTIONS and schema in (None, "pg_catalog") and len(node.args or ()) > 1:
            config = string_literal(node.args[0])
            if config is not None and not isinstance(node.args[0], ast.TypeCast):
                self._named(_F.TS_CONFIG, split_qualified_name(config))
        return self._resolve_function(schema, name, arg_types)

    def _resolve_function(
        self, schema: str | None, name: str, arg_types: list[str]
    ) -> tuple[str, tuple[str, ...]]:
        if schema is not None:
            if schema in SYSTEM_SCHEMAS:
                return UNKNOWN, ()
            candidates = self.catalog.functions_named(schema, name)
        else:
            candidates = ()
            for s in self.path:
                if s == "pg_catalog":
                    if name in self.catalog.builtin_functions:
                        return UNKNOWN, ()
                    continue
                candidates = self.catalog.functions_named(s, name)
                if candidates:
                    schema = s
                    break
        call = f"{qualified(schema or self.creation_schema, name)}({','.join(arg_types)})"
        self._add(_F.FUNCTION_CALL, call)
        if arg_types == ["*"]:
            arg_types = []
        positional = [t for t in arg_types if "=>" not in t]
        named = [t.split("=>", 1)[0] for t in arg_types if "=>" in t]
        reachable = [
            f
            for f in candidates
            if f.accepts_arity(len(arg_types))
            and f.takes_names(named)
            and not any(map(cannot_take, positional, f.positional_types))
        ]
        if not reachable:
            self._add(_F.MISSING_FUNCTION, call)
            return UNKNOWN, ()
        chosen = _best_overloads(reachable, arg_types)
        for f in chosen:
            self._add(_F.FUNCTION, f.signature)
        signatures = tuple(f.signature for f in chosen)
        return (chosen[0].return_type if len(chosen) == 1 else UNKNOWN), signatures

    def _sequence_literal(self, arg: Any) -> None:
        text = string_literal(arg)
        if text is None:
            return
        parts = split_qualified_name(text)
        if not parts or len(parts) > 3:
            return
        schema = parts[-2] if len(parts) > 1 else None
        res = self._resolve_name(schema, parts[-1])
        if res.qname is None:
            return
        self._add(_F.SEQUENCE, res.qname)
        if res.missing:
            self._add(_F.MISSING_RELATION, res.qname)


# --- helpers -----------------------------------------------------------------

_OPERATOR_KINDS = frozenset(
    {enums.A_Expr_Kind.AEXPR_OP, enums.A_Expr_Kind.AEXPR_OP_ANY, enums.A_Expr_Kind.AEXPR_OP_ALL}
)


def _rename(cols: Columns | None, aliases: list[str]) -> Columns | None:
    """Apply an alias column list to the first output columns."""
    if cols is None or not aliases:
        return cols
    items = list(cols.items())
    renamed: Columns = {}
    for i, (name, typ) in enumerate(items):
        renamed[aliases[i] if i < len(aliases) else name] = typ
    for extra in aliases[len(items) :]:
        renamed[extra] = UNKNOWN
    return renamed


def _rename_lineage(lineage: Lineage, aliases: list[str]) -> Lineage:
    """Apply an alias column list to the first output columns (as :func:`_rename`)."""
    if not aliases:
        return lineage
    renamed: dict[str, frozenset[str]] = {}
    items = list(lineage.columns.items())
    for i, (name, subjects) in enumerate(items):
        renamed[aliases[i] if i < len(aliases) else name] = subjects
    for extra in aliases[len(items) :]:
        renamed[extra] = frozenset()
    return Lineage(renamed, lineage.result)


def _union_lineage(left: Lineage, right: Lineage, resolves: Callable[[TypeExpr], bool]) -> Lineage:
    """A set operation: each output column has the common type of both sides' (see
    analysis.derived: int4 and int8 give an int8 whatever the int4 becomes below it).
    A side whose output is not a column or a derived one (a constant, ``count(*)``)
    leaves the column with both sides' subjects: any change of either counts."""
    lefts, rights = list(left.columns.items()), list(right.columns.values())
    columns: dict[str, frozenset[str]] = {}
    replaced: set[str] = set()
    for i, (name, subjects) in enumerate(lefts):
        other = rights[i] if i < len(rights) and len(lefts) == len(rights) else frozenset()
        common = _common_subjects(subjects, other, resolves)
        if common is None:
            columns[name] = subjects | other
        else:
            columns[name] = common
            replaced |= subjects | other
    result = (left.result | right.result) - replaced
    return Lineage(columns, result.union(*columns.values()))


def _common_subjects(
    left: frozenset[str], right: frozenset[str], resolves: Callable[[TypeExpr], bool]
) -> frozenset[str] | None:
    """``column|=common(l;r)`` for each pair of both sides' subjects; None when a side
    has none, or one that is no column's (a row, a function's result), or when their
    common type is not known (``resolves``)."""
    sides: list[list[TypeExpr]] = []
    for subjects in (left, right):
        trees: list[TypeExpr] = []
        for s in sorted(subjects):
            column, _, text = s.partition("|")
            found = decode(column, text) if text else column
            if found is None or s.endswith(".*") or "(" in column:
                return None
            trees.append(found)
        sides.append(trees)
    if not sides[0] or not sides[1] or len(sides[0]) * len(sides[1]) > 8:
        return None
    out: set[str] = set()
    for a in sides[0]:
        for b in sides[1]:
            tree: TypeExpr = ("common", (a, b))
            if not small(tree) or not resolves(tree):
                return None
            out.update(f"{c}|{encode(tree)}" for c in columns(tree))
    return frozenset(out)


def _lineage_of(items: list[RangeItem], name: str) -> frozenset[str]:
    """The result subjects of column ``name`` in the first of ``items`` that has it."""
    for item in items:
        lineage = item.visible_lineage()
        if name in lineage:
            return lineage[name]
    return frozenset()


def _merged_columns(items: list[RangeItem]) -> Columns | None:
    merged: Columns = {}
    for item in items:
        cols = item.visible_columns()
        if cols is None:
            return None
        for k, v in cols.items():
            merged.setdefault(k, v)
    return merged


def _lookup_items(items: list[RangeItem], name: str) -> Lookup:
    result = Lookup()
    for item in items:
        lookup_in_item(item, name, result)
    return result


def figure_colname(node: Any) -> str:
    """The output name PostgreSQL would give an unnamed select-list entry (roughly)."""
    fields = ref_fields(node)
    if fields:
        return str(fields[-1].sval) if isinstance(fields[-1], ast.String) else "?column?"
    if isinstance(node, ast.FuncCall):
        names = str_fields(node.funcname)
        return names[-1] if names else "?column?"
    if isinstance(node, ast.TypeCast):
        inner = figure_colname(node.arg)
        if inner != "?column?":
            return inner
        names = str_fields(getattr(node.typeName, "names", None))
        return names[-1] if names else "?column?"
    if isinstance(node, ast.CoalesceExpr):
        return "coalesce"
    if isinstance(node, ast.CaseExpr):
        return "case"
    return "?column?"


def _best_overloads(candidates: list[Function], arg_types: list[str]) -> list[Function]:
    """Narrow arity-matched overloads by the argument types known at the call site."""
    positional = [t for t in arg_types if "=>" not in t]
    exact = [
        f
        for f in candidates
        if all(t in (UNKNOWN, d) for t, d in zip(positional, f.positional_types, strict=False))
    ]
    if exact and len(exact) < len(candidates):
        return exact
    fitting = [
        f
        for f in candidates
        if all(compatible(t, d) for t, d in zip(positional, f.positional_types, strict=False))
    ]
    return fitting or candidates


__all__ = ["QueryWalker", "SelectOut", "split_qualified_name"]
