"""Walk parsed statements and collect the facets they use.

One :class:`Extractor` per analyzed text: it carries the session search_path
forward across the statements of a multi-statement Query (a ``SET
search_path`` changes how the next statement resolves), and relations created
by the text itself (``CREATE TEMP TABLE x ...; INSERT INTO x``) so they are not
reported as missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pglast import ast, enums
from pglast.stream import RawStream

from skewguard.analysis.facets import FacetKind, ident
from skewguard.analysis.query import (
    QueryWalker,
    SelectOut,
    figure_colname,
    is_star,
    ref_fields,
    split_qualified_name,
    str_fields,
    string_literal,
)
from skewguard.analysis.scope import Lineage, RangeItem, Scope
from skewguard.analysis.subjects import table_of_subject
from skewguard.analysis.types import type_text
from skewguard.analysis.values import encode_const
from skewguard.catalog import Column, Relation, RelKind
from skewguard.temporary import temporary_change

_F = FacetKind


class Extractor(QueryWalker):
    """Collects facets for the statements of one text."""

    # --- statements --------------------------------------------------------

    def statement(self, node: Any, scope: Scope | None = None) -> SelectOut:
        """Analyze one statement; returns its output (for CTEs and COPY (query))."""
        if isinstance(node, ast.SelectStmt):
            if node.intoClause is not None:
                self._note_created(node.intoClause.rel)
            return self.select(node, scope)
        if isinstance(node, ast.InsertStmt):
            return self.insert(node, scope)
        if isinstance(node, ast.UpdateStmt):
            return self.update(node, scope)
        if isinstance(node, ast.DeleteStmt):
            return self.delete(node, scope)
        if isinstance(node, ast.MergeStmt):
            return self.merge(node, scope)
        if isinstance(node, ast.CopyStmt):
            self.copy(node)
        elif isinstance(node, ast.PrepareStmt):
            saved = self._params
            self._params = tuple(
                type_text(t, self.catalog, self.user_path) for t in node.argtypes or ()
            )
            for declared in self._params:
                self._param_type(None, declared)
            try:
                return self.statement(node.query)  # its result is the prepared statement's
            finally:
                self._params = saved
        elif isinstance(node, ast.ExplainStmt | ast.DeclareCursorStmt):
            self.statement(node.query)
        elif isinstance(node, ast.CreateTableAsStmt):
            self.statement(node.query)
            self._note_created(node.into.rel if node.into is not None else None)
        elif isinstance(node, ast.CallStmt):
            self.func_call(node.funccall, Scope())
        elif isinstance(node, ast.RefreshMatViewStmt):
            target = self._target(node.relation, write=True)
            if target.qname is not None and not target.missing:
                how = "|concurrently" if node.concurrent else ""
                self._add(_F.REFRESH, target.qname + how)
        elif isinstance(node, ast.TruncateStmt):
            for rv in node.relations or ():
                target = self._target(rv, write=True)
                if target.qname is not None and not target.missing:
                    cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
                    self._add(_F.TRUNCATE, target.qname + ("|cascade" if cascade else ""))
        elif isinstance(node, ast.LockStmt):
            for rv in node.relations or ():
                self._target(rv, write=False)
        elif isinstance(node, ast.VariableSetStmt):
            self._variable_set(node)
        elif isinstance(node, ast.ConstraintsSetStmt) and node.deferred:
            self._deferred(node.constraints)
        elif isinstance(node, ast.DiscardStmt) and node.target == enums.DiscardMode.DISCARD_ALL:
            self._reset_search_path()
        elif isinstance(node, ast.CreateStmt | ast.ViewStmt):
            rel = node.relation if isinstance(node, ast.CreateStmt) else node.view
            if isinstance(node, ast.CreateStmt):
                self._like_sources(node)
                made = temporary_change(node)  # a staging table LIKE another: its shape
                self.temporary_like.update(made.like if made is not None else ())
            self._note_created(rel)
        return SelectOut()

    def _like_sources(self, node: Any) -> None:
        """``CREATE [TEMP] TABLE staging (LIKE orders)`` reads what ``orders`` is at each
        run: the name must still find it (42P01 once it is renamed or dropped)."""
        for element in node.tableElts or ():
            if isinstance(element, ast.TableLikeClause) and element.relation is not None:
                rv = element.relation
                res = self._resolve_name(rv.schemaname, str(rv.relname))
                self._note_relation(res, _F.RELATION_READ)

    def _variable_set(self, node: Any) -> None:
        if node.kind == enums.VariableSetKind.VAR_RESET_ALL:
            self._reset_search_path()
            return
        if (node.name or "").lower() != "search_path":
            return
        if node.kind == enums.VariableSetKind.VAR_SET_VALUE:
            values: list[str] = []
            for arg in node.args or ():
                if isinstance(arg, ast.A_Const) and isinstance(arg.val, ast.String):
                    values.append(str(arg.val.sval))
            self._add(_F.SEARCH_PATH, ",".join(ident(v) for v in values))
            self.search_path_set = tuple(values)
            self.search_path_reset = False
            self._set_path(values)
        elif node.kind in (enums.VariableSetKind.VAR_SET_DEFAULT, enums.VariableSetKind.VAR_RESET):
            self._add(_F.SEARCH_PATH, "default")
            self._reset_search_path()

    def _deferred(self, names: Any) -> None:
        """SET CONSTRAINTS ... DEFERRED: ALL, or the constraints each name finds (every
        one of that name in the first schema of the path holding one, as PostgreSQL does)."""
        if not names:
            self._add(_F.DEFERS, "*")
            return
        for rv in names:
            schemas = [str(rv.schemaname)] if rv.schemaname else self.user_path
            for schema in schemas:
                found = [
                    c
                    for c in self.catalog.constraints
                    if c.schema == schema and c.name == str(rv.relname)
                ]
                for c in found:
                    self._add(_F.DEFERS, f"{c.qtable}.{ident(c.name)}")
                if found:
                    break

    def _child_first(self, target: RangeItem) -> None:
        """An INSERT into a table after one into a table whose foreign key references it:
        in one text (one transaction) that holds only while the key is checked at commit."""
        qname, rel = target.qname, target.relation
        if qname is None or rel is None:
            return
        for earlier in self.inserted:
            if earlier == qname:
                continue
            parts = split_qualified_name(earlier)
            for c in self.catalog.constraints_of(parts[0], parts[-1]):
                if c.type == "f" and c.ref_table == qname:
                    self._add(_F.DEFERS, f"{earlier}.{ident(c.name)}|first")
        if qname not in self.inserted:
            self.inserted.append(qname)

    def _reset_search_path(self) -> None:
        """RESET search_path / RESET ALL / DISCARD ALL: back to the server's default."""
        self.search_path_set = None
        self.search_path_reset = True
        self._set_path(self.initial_path)

    # --- writes ------------------------------------------------------------

    def _write_value(
        self, value: Any, written: _Target, scope: Scope, *, overriding: bool = False
    ) -> None:
        """An expression stored into a column: its value, enum labels, DEFAULT's sequences.
        ``overriding``: an INSERT ... OVERRIDING SYSTEM/USER VALUE (an identity takes it)."""
        subject, column = written
        if isinstance(value, ast.SetToDefault):
            self._written(subject, None)
            if column is not None:
                self._default_used(column)
            return
        if not overriding:
            self._supplied(subject)
        self.expr(value, scope)
        self._written(subject, encode_const(value))
        if column is None:
            return
        self._param_type(value, column.base_type)
        label = string_literal(value)
        if label is not None and self.catalog.enum_for_type(column.base_type) is not None:
            self._enum_label(column.base_type, label, write=True)

    def _written(self, subject: str | None, value: str | None) -> None:
        """A column gets a known constant (kept apart, for the learner) or something else."""
        if subject is None:
            return
        if value is None:
            self._add(_F.WRITE_OTHER, subject)
        else:
            self.values.append((subject, value))

    def _supplied(self, subject: str | None) -> None:
        """The statement gives the column a value of its own (an identity ALWAYS refuses)."""
        if subject is not None:
            self._add(_F.VALUE_SUPPLIED, subject)

    def _default_used(self, column: Column) -> None:
        for seq in column.default_sequences:
            self._add(_F.SEQUENCE_DEFAULT, seq)

    def _write_column(self, target: RangeItem, name: str) -> _Target:
        """Record a column written by name on a DML target: its subject and catalog entry."""
        subject = target.column_subject(name)
        if subject is None:
            return None, None
        self._add(_F.COLUMN_WRITE, subject)
        if target.relation is None:
            return subject, None
        col = target.relation.column(name)
        if col is None:
            self._add(_F.MISSING_COLUMN, subject)
        return subject, col

    def _insert_rows(
        self,
        target: RangeItem,
        cols: list[str] | None,
        rows: Sequence[Sequence[Any]] | None,
        scope: Scope,
        arity: int | None,
        override: Any = None,
    ) -> None:
        """Shape, written columns, labels and implicit sequences of an INSERT.

        ``cols`` None means positional (no column list); ``rows`` None means the
        values come from a query (its arity given) or DEFAULT VALUES (arity 0).
        ``override``: the statement's OVERRIDING clause (an ``OverridingKind``).
        """
        overriding = bool(override)  # OVERRIDING_NOT_SET is 0
        rel = target.relation
        if cols is None:
            if arity is None and rows:
                arity = len(rows[0])
            if arity is None:
                for row in rows or ():
                    for value in row:
                        self.expr(value, scope)
                return
            if target.qname is not None and (rows or arity):
                self._add(_F.INSERT_POSITIONAL, f"{target.qname}/{arity}")
            cols = list(rel.column_names[:arity]) if rel is not None else []
            for c in cols:
                subject = target.column_subject(c)
                if subject is not None:
                    self._add(_F.POSITIONAL_WRITE, subject)
        columns = [self._write_column(target, c) for c in cols]
        if target.qname is not None and (rel is not None or cols):
            shape = ",".join(sorted(ident(c) for c in set(cols)))
            self._add(_F.INSERT_SHAPE, f"{target.qname}({shape})")
        if rows is None:
            for subject, _ in columns:  # from a query: values not known
                self._written(subject, None)
                if not overriding:
                    self._supplied(subject)
        for row in rows or ():
            for value, written in zip(row, columns, strict=False):
                self._write_value(value, written, scope, overriding=overriding)
            for value in row[len(columns) :]:
                self.expr(value, scope)
        if rel is not None:
            given = set(cols)
            for col in rel.columns:
                if col.name not in given:
                    self._default_used(col)
            defaulted = {
                c
                for row in rows or ()
                for c, value in zip(cols, row, strict=False)
                if isinstance(value, ast.SetToDefault)
            }
            self._defaults_under_view(rel, given - defaulted)

    def _defaults_under_view(self, view: Relation, given: set[str], depth: int = 0) -> None:
        """An INSERT through an automatically updatable view fills the columns of the
        table below it that it leaves out with their defaults (a view column's own
        default first): ``nextval`` runs there too. The table is the one relation the
        view reads; a column it shows under its own name is given when that name is;
        one it shows renamed counts as left out (its mapping is not kept)."""
        if view.kind is not RelKind.VIEW or not view.updatable or depth > 8:
            return
        read = {_relation_of_dependency(key) for key in view.depends} - {None}
        parts = split_qualified_name(read.pop() or "") if len(read) == 1 else []
        base = self.catalog.relation(parts[0], parts[1]) if len(parts) == 2 else None
        if base is None:
            return
        for col in base.columns:
            shown = view.column(col.name)
            if shown is None or (col.name not in given and not shown.has_default):
                self._default_used(col)
        self._defaults_under_view(base, given, depth + 1)

    def _returning(self, clause: Any, target: RangeItem, scope: Scope) -> SelectOut:
        """RETURNING: bare names see ``scope``; PG18's old./new. name the target again."""
        if clause is None:
            return SelectOut()
        old, new = "old", "new"
        for opt in clause.options or ():
            if opt.option == enums.ReturningOptionKind.RETURNING_OPTION_OLD:
                old = opt.value
            else:
                new = opt.value
        aliased = Scope(
            parent=scope,
            items=[
                RangeItem(
                    alias,
                    relation=target.relation,
                    qname=target.qname,
                    missing=target.missing,
                )
                for alias in (old, new)
            ],
        )
        out = SelectOut(columns={}, arity=0)
        lineage: dict[str, frozenset[str]] = {}
        result: set[str] = set()
        for entry in clause.exprs or ():
            val = entry.val
            use = scope if len(ref_fields(val)) == 1 else aliased
            if is_star(val):
                expanded = self._star(val, use, out.star_sources, lineage, result)
                if expanded is None or out.columns is None:
                    out.columns, out.arity = None, None
                else:
                    out.columns.update(expanded)
                    out.arity = (out.arity or 0) + len(expanded)
                continue
            typ, subjects = self.result_expr(val, use)
            name = entry.name or figure_colname(val)
            lineage.setdefault(name, subjects)
            result |= subjects
            if out.columns is not None:
                out.columns.setdefault(name, typ)
                out.arity = (out.arity or 0) + 1
        out.lineage = Lineage(lineage, frozenset(result))
        return out

    def insert(self, node: Any, parent: Scope | None) -> SelectOut:
        scope = Scope(parent=parent)
        if node.withClause is not None:
            self._with(node.withClause, scope)
        target = self._target(node.relation, write=True)
        self._child_first(target)
        cols = [c.name for c in node.cols] if node.cols else None
        sel = node.selectStmt
        if sel is None:
            self._insert_rows(target, cols or [], None, scope, 0, node.override)
        elif (
            sel.valuesLists
            and sel.op == enums.SetOperation.SETOP_NONE
            and not sel.fromClause
            and sel.withClause is None
        ):
            self._insert_rows(
                target, cols, sel.valuesLists, Scope(parent=scope), None, node.override
            )
        else:
            out = self.select(sel, scope)
            self._insert_rows(target, cols, None, scope, out.arity, node.override)
            self._selected_labels(target, cols, sel)
            for source in dict.fromkeys(out.star_sources):
                if target.qname is not None:
                    self._add(_F.INSERT_SELECT_STAR, f"{target.qname}<{source}")
        conflict = node.onConflictClause
        if conflict is not None:
            self._on_conflict(conflict, target, scope)
        if target.qname is not None:
            self._add(_F.INSERT_CONFLICT, f"{target.qname}|{_conflict_handling(conflict)}")
        target_scope = Scope(parent=scope, items=[target])
        return self._returning(node.returningClause, target, target_scope)

    def _selected_labels(self, target: RangeItem, cols: list[str] | None, sel: Any) -> None:
        """Enum labels written by ``INSERT ... SELECT 'label', ...`` (plain SELECT only)."""
        rel = target.relation
        if rel is None or sel.op != enums.SetOperation.SETOP_NONE:
            return
        targets = list(sel.targetList or ())
        if any(is_star(t.val) for t in targets):
            return
        names = cols if cols is not None else list(rel.column_names)
        for entry, name in zip(targets, names, strict=False):
            label = string_literal(entry.val)
            col = rel.column(name)
            if label is not None and col is not None:
                self._enum_label(col.base_type, label, write=True)

    def _on_conflict(self, clause: Any, target: RangeItem, scope: Scope) -> None:
        target_scope = Scope(parent=scope, items=[target])
        infer = clause.infer
        if infer is not None:
            if infer.conname and target.qname is not None:
                self._add(_F.CONFLICT_CONSTRAINT, f"{target.qname}.{ident(infer.conname)}")
            elements: list[str] = []
            for elem in infer.indexElems or ():
                if elem.name:
                    self.column_name([elem.name], target_scope)
                    elements.append(ident(elem.name))
                else:
                    self.expr(elem.expr, target_scope)
                    elements.append(RawStream()(elem.expr))
            if elements and target.qname is not None:
                self._add(_F.CONFLICT_COLUMNS, f"{target.qname}({','.join(sorted(elements))})")
            self.expr(infer.whereClause, target_scope)
        if clause.action == enums.OnConflictAction.ONCONFLICT_UPDATE:
            excluded = RangeItem(
                "excluded",
                relation=target.relation,
                qname=target.qname,
                missing=target.missing,
            )
            update_scope = Scope(parent=scope, items=[target, excluded])
            self._set_list(clause.targetList, target, update_scope)
            self.expr(clause.whereClause, update_scope)

    def _set_list(self, targets: Any, target: RangeItem, scope: Scope) -> None:
        """UPDATE SET / ON CONFLICT DO UPDATE SET / MERGE UPDATE SET."""
        walked_sources: set[int] = set()
        for t in targets or ():
            written = self._write_column(target, t.name)
            if written[0] is not None:
                self._add(_F.COLUMN_UPDATE, written[0])
            val = t.val
            for ind in t.indirection or ():
                if isinstance(ind, ast.A_Indices):
                    self.expr(ind, scope)
            if isinstance(val, ast.MultiAssignRef):
                source = val.source
                if isinstance(source, ast.RowExpr):
                    args: tuple[Any, ...] = tuple(source.args or ())
                    self._write_value(args[int(val.colno or 1) - 1], written, scope)
                    continue
                if id(source) not in walked_sources:
                    walked_sources.add(id(source))
                    self.expr(source, scope)
                self._written(written[0], None)
                self._supplied(written[0])
            elif t.indirection:  # an element or field of the column: not its whole value
                self.expr(val, scope)
                self._written(written[0], None)
                self._supplied(written[0])
            else:
                self._write_value(val, written, scope)

    def update(self, node: Any, parent: Scope | None) -> SelectOut:
        scope, target = self._dml_scope(node, parent)
        for item in node.fromClause or ():
            self.from_item(item, scope)
        self._set_list(node.targetList, target, scope)
        self.expr(node.whereClause, scope)
        return self._returning(node.returningClause, target, scope)

    def _dml_scope(self, node: Any, parent: Scope | None) -> tuple[Scope, RangeItem]:
        """The scope an UPDATE/DELETE/MERGE starts with: its WITH clause, then its target."""
        scope = Scope(parent=parent)
        if node.withClause is not None:
            self._with(node.withClause, scope)
        target = self._target(node.relation, write=True)
        scope.items.append(target)
        return scope, target

    def delete(self, node: Any, parent: Scope | None) -> SelectOut:
        scope, target = self._dml_scope(node, parent)
        if target.qname is not None and not target.missing:
            self._add(_F.ROW_DELETE, target.qname)
        for item in node.usingClause or ():
            self.from_item(item, scope)
        self.expr(node.whereClause, scope)
        return self._returning(node.returningClause, target, scope)

    def merge(self, node: Any, parent: Scope | None) -> SelectOut:
        scope, target = self._dml_scope(node, parent)
        self.from_item(node.sourceRelation, scope)
        self.expr(node.joinCondition, scope)
        # WHEN NOT MATCHED [BY TARGET] sees only the source; BY SOURCE only the target.
        source_only = Scope(
            parent=parent, items=scope.items[1:], ctes=scope.ctes, cte_lineage=scope.cte_lineage
        )
        target_only = Scope(
            parent=parent, items=[target], ctes=scope.ctes, cte_lineage=scope.cte_lineage
        )
        for when in node.mergeWhenClauses or ():
            kind = when.matchKind
            if kind == enums.MergeMatchKind.MERGE_WHEN_NOT_MATCHED_BY_TARGET:
                when_scope = source_only
            elif kind == enums.MergeMatchKind.MERGE_WHEN_NOT_MATCHED_BY_SOURCE:
                when_scope = target_only
            else:
                when_scope = scope
            self.expr(when.condition, when_scope)
            if when.commandType == enums.CmdType.CMD_UPDATE:
                self._set_list(when.targetList, target, when_scope)
            elif when.commandType == enums.CmdType.CMD_INSERT:
                cols = [t.name for t in when.targetList] if when.targetList else None
                rows = [when.values] if when.values else None
                self._insert_rows(
                    target, cols, rows, when_scope, None if rows else 0, when.override
                )
                if target.qname is not None:
                    self._add(_F.INSERT_CONFLICT, f"{target.qname}|none")
            elif (
                when.commandType == enums.CmdType.CMD_DELETE
                and target.qname is not None
                and not target.missing
            ):
                self._add(_F.ROW_DELETE, target.qname)  # as DELETE does: a key may refuse it
        return self._returning(node.returningClause, target, scope)

    def copy(self, node: Any) -> None:
        if node.query is not None:
            self.statement(node.query)
            return
        write = bool(node.is_from)
        cols = str_fields(node.attlist)
        shaped = self.temporary_shape(node.relation) if write else None
        if shaped is not None:  # COPY staging FROM ...: staging has shaped's columns
            listed = "(" + ",".join(ident(c) for c in cols) + ")" if cols else ""
            self._add(_F.COPY_SHAPE, shaped.qname + listed)
        target = self._target(node.relation, write=write)
        if target.qname is not None:
            subject = target.qname
            if cols:
                subject += "(" + ",".join(ident(c) for c in cols) + ")"
            self._add(_F.COPY_IN if write else _F.COPY_OUT, subject)
        if write:
            # without a list COPY writes every column but the generated ones
            written = cols or [
                c.name
                for c in (target.relation.columns if target.relation else ())
                if not c.generated
            ]
            form = copy_format(node)
            for c in written:
                column = self._write_column(target, c)[0]
                self._written(column, None)
                if column is not None:
                    self._add(_F.COPY_WRITE, f"{column}|{form}")
            if cols and target.relation is not None:
                for col in target.relation.columns:
                    if col.name not in cols:
                        self._default_used(col)
        else:
            scope = Scope(items=[target])
            for c in cols:
                self.column_name([c], scope)
        self.expr(node.whereClause, Scope(items=[target]))


def _relation_of_dependency(key: str) -> str | None:
    """The relation a view's dependency (a facet key) reads, None for a function."""
    kind, _, subject = key.partition(":")
    if kind == FacetKind.RELATION_READ.value:
        return subject
    return table_of_subject(subject) if kind == FacetKind.COLUMN_READ.value else None


def copy_format(node: Any) -> str:
    """A COPY's data format: ``text`` (the default), ``csv`` or ``binary`` (the option
    list and the old ``BINARY`` keyword both parse to a ``format`` option)."""
    for option in node.options or ():
        if option.defname == "format" and option.arg is not None:
            return str(getattr(option.arg, "sval", "") or "text")
    return "text"


_Target = tuple[str | None, Column | None]  # a written column's subject and catalog entry


def _conflict_handling(clause: Any) -> str:
    """The INSERT_CONFLICT form of an ON CONFLICT clause (None: ``none``)."""
    if clause is None:
        return "none"
    action = "update" if clause.action == enums.OnConflictAction.ONCONFLICT_UPDATE else "nothing"
    infer = clause.infer
    if infer is None:
        return action
    if infer.conname:
        return f"{action}@{ident(infer.conname)}"
    if infer.whereClause is not None:
        return f"{action}(partial)"  # arbiters chosen by a predicate: not matched by columns
    keys = sorted(ident(e.name) if e.name else RawStream()(e.expr) for e in infer.indexElems or ())
    return f"{action}({','.join(keys)})"


__all__ = ["Extractor"]
