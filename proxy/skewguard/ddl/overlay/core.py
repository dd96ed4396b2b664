"""Apply DDL to a transaction-local model of the catalog.

:class:`Overlay` parses each text with pglast and applies its statements to a
:class:`~skewguard.ddl.model.Model`: tables, columns (types, defaults, NOT
NULL, identity), constraints, indexes, views (output columns and what they
read, computed like the analyzer does), sequences, enums, functions, schemas,
row-level security and privileges. DROP ... CASCADE removes the dependents
PostgreSQL would remove; a statement PostgreSQL would reject (a RESTRICT drop
with dependents, a type change under a view) leaves the model unchanged.
Savepoints copy the model. Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from pglast import ast, enums, parse_sql

from skewguard.analysis.classify import is_ddl
from skewguard.analysis.extract import Extractor
from skewguard.analysis.facets import FacetKind
from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import (
    CatalogSnapshot,
    Column,
    EnumType,
    FuncKind,
    Function,
    Policy,
    Relation,
    RelKind,
    qualified,
)
from skewguard.ddl.affects import Affects, Use
from skewguard.ddl.changes import Change
from skewguard.ddl.diff import diff
from skewguard.ddl.errors import CannotModel, DdlParseError, Rejected
from skewguard.ddl.model import Dep, Dependent, Edge, Holder, Model, Referenced
from skewguard.ddl.opaque import HARMLESS, JUDGES, Scope
from skewguard.ddl.overlay.alter_table import alter_table, descendants
from skewguard.ddl.overlay.calls import record_calls
from skewguard.ddl.overlay.columns import put_columns, set_column
from skewguard.ddl.overlay.constraints import create_index
from skewguard.ddl.overlay.names import (
    arg_types,
    creation_schema,
    find_by_names,
    find_enum,
    find_index,
    find_rel,
    find_rv,
    functions_of,
    user_path,
)
from skewguard.ddl.overlay.nodes import (
    FUNC_OBJECTS,
    REL_OBJECTS,
    deparse,
    has_call,
    kind_word,
    name_list,
)
from skewguard.ddl.overlay.tables import (
    create_foreign_table,
    create_rule,
    create_sequence,
    create_table,
)
from skewguard.ddl.triggers import RowFiller, loss_harm, names_column, row_filler
from skewguard.ddl.types import format_type

_O = enums.ObjectType
_AT = enums.AlterTableType
_C = enums.ConstrType

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
_PRIVS = {
    "select": "r",
    "insert": "a",
    "update": "w",
    "delete": "d",
    "truncate": "D",
    "references": "x",
    "trigger": "t",
    "usage": "U",
    "create": "C",
    "execute": "X",
    "maintain": "m",
    "temporary": "T",
    "connect": "c",
}
_ALL_PRIVS = {"table": "arwdDxt", "sequence": "rwU", "schema": "UC"}


_Fail = Rejected


class Overlay:
    """A transaction-local view of the catalog, changed by the DDL applied to it."""

    def __init__(
        self,
        catalog: CatalogSnapshot,
        *,
        search_path: Sequence[str] = ("public",),
        user: str | None = None,
    ) -> None:
        self._initial = Model.of(catalog)  # shared with every overlay of this snapshot
        self._state = self._initial.copy()
        self._user = user
        self._path: tuple[str, ...] = tuple(search_path)
        self._savepoints: list[tuple[str, Model, tuple[str, ...], dict[str, RowFiller]]] = []
        self._snapshot: CatalogSnapshot | None = catalog
        self._fillers: dict[str, RowFiller] = {}  # trigger functions created here, by signature

    # --- public API ---------------------------------------------------------

    def apply(
        self, sql: str, on_unmodelled: Callable[[CannotModel], None] | None = None
    ) -> list[Change]:
        """Apply every statement of ``sql``; returns the changes this text made.

        Raises :class:`DdlParseError` when the text does not parse and
        :class:`CannotModel` at the first statement whose effect on existing
        objects the model cannot follow; the statements before it stay applied,
        that one and the rest are not (the caller decides what to do with the
        text). With ``on_unmodelled``, a statement whose reach is known
        (``CannotModel.affects``) is handed to it instead and the rest applied:
        such a statement changes nothing else the model follows. Nothing else
        escapes.
        """
        try:
            raw = parse_sql(sql)
        except Exception as exc:
            raise DdlParseError(str(exc)) from exc
        before = self._state.copy()
        for r in raw or ():
            self.apply_statement(r.stmt, on_unmodelled)
        return diff(before, self._state)

    def apply_statement(
        self, stmt: Any, on_unmodelled: Callable[[CannotModel], None] | None = None
    ) -> bool:
        """Apply one parsed statement (all or nothing, as PostgreSQL does).

        False when PostgreSQL would reject it (nothing changes); raises
        :class:`CannotModel` (the model is then unchanged), or hands it to
        ``on_unmodelled`` when its reach is known.
        """
        try:
            return self._apply_statement(stmt)
        except CannotModel as exc:
            if on_unmodelled is None or exc.affects is None:
                raise
            on_unmodelled(exc)
            return True

    def _apply_statement(self, stmt: Any) -> bool:
        work = self._state.copy()
        saved_path = self._path
        try:
            self._statement(work, stmt)
        except Rejected:
            self._path = saved_path
            return False
        except CannotModel as exc:
            self._path = saved_path
            if not exc.statement:
                exc.statement = deparse(stmt)[:200]
            raise
        except Exception as exc:  # a defect here must not pass for "harmless"
            self._path = saved_path
            raise CannotModel(
                f"{type(stmt).__name__}: internal error {type(exc).__name__}: {exc}",
                statement=deparse(stmt)[:200],
                internal=True,
            ) from exc
        self._state = work
        self._snapshot = None
        return True

    def savepoint(self, name: str) -> None:
        self._savepoints.append((name, self._state.copy(), self._path, dict(self._fillers)))

    def rollback_to(self, name: str) -> None:
        """ROLLBACK TO SAVEPOINT: the savepoint stays, later changes go."""
        for i in range(len(self._savepoints) - 1, -1, -1):
            if self._savepoints[i][0] == name:
                _, state, path, fillers = self._savepoints[i]
                del self._savepoints[i + 1 :]
                self._state = state.copy()
                self._path = path
                self._fillers = dict(fillers)
                self._snapshot = None
                return
        raise KeyError(f"no savepoint {name!r}")

    def release(self, name: str) -> None:
        for i in range(len(self._savepoints) - 1, -1, -1):
            if self._savepoints[i][0] == name:
                del self._savepoints[i:]
                return
        raise KeyError(f"no savepoint {name!r}")

    def net_changes(self) -> list[Change]:
        """What other sessions would see at COMMIT."""
        return diff(self._initial, self._state)

    @property
    def catalog(self) -> CatalogSnapshot:
        if self._snapshot is None:
            self._snapshot = self._state.to_catalog()
        return self._snapshot

    @property
    def search_path(self) -> tuple[str, ...]:
        return self._path

    # --- names --------------------------------------------------------------

    def _catalog_of(self, m: Model) -> CatalogSnapshot:
        return m.to_catalog()

    def _define_type(self, m: Model, names: list[str]) -> None:
        """CREATE DOMAIN / TYPE: remember the name, so columns of it read as the catalog's."""
        schema = creation_schema(self, m, names[-2] if len(names) > 1 else None)
        m.types.add(qualified(schema, names[-1]))

    def _CreateDomainStmt(self, m: Model, node: Any) -> None:
        self._define_type(m, name_list(node.domainname))

    def _CompositeTypeStmt(self, m: Model, node: Any) -> None:
        rv = node.typevar
        self._define_type(m, [n for n in (rv.schemaname, rv.relname) if n])

    def _CreateRangeStmt(self, m: Model, node: Any) -> None:
        self._define_type(m, name_list(node.typeName))

    def _DefineStmt(self, m: Model, node: Any) -> None:
        if node.kind == _O.OBJECT_TYPE:
            self._define_type(m, name_list(node.defnames))

    # --- dispatch -----------------------------------------------------------

    def _statement(self, m: Model, node: Any) -> None:
        node = _as_run(node)
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(self, m, node)
            return
        if type(node) in HARMLESS:
            return
        judge = JUDGES.get(type(node))
        if judge is not None:
            judge(self.scope(m), node)
            return
        if not is_ddl(node):
            return  # DML, SHOW, ...: no schema change
        raise CannotModel(f"{type(node).__name__}: not modelled")

    def _VariableSetStmt(self, m: Model, node: Any) -> None:
        if (node.name or "").lower() != "search_path":
            return
        if node.kind == enums.VariableSetKind.VAR_SET_VALUE:
            values = [
                str(a.val.sval)
                for a in node.args or ()
                if isinstance(a, ast.A_Const) and isinstance(a.val, ast.String)
            ]
            self._path = tuple(values)

    def _CreateSchemaStmt(self, m: Model, node: Any) -> None:
        name = node.schemaname or (node.authrole.rolename if node.authrole else None)
        if name is None:
            raise _Fail
        if name in m.schemas:
            if node.if_not_exists:
                return
            raise _Fail
        m.schemas[name] = m.new_oid()
        saved = self._path
        self._path = (name,)
        try:
            for elt in node.schemaElts or ():
                self._statement(m, elt)
        finally:
            self._path = saved

    # --- tables -------------------------------------------------------------

    def _CreateExtensionStmt(self, m: Model, node: Any) -> None:
        name = str(node.extname)
        if name in m.extensions or name in m.opaque_extensions:
            if node.if_not_exists:
                return
            raise _Fail
        m.opaque_extensions.add(name)

    def scope(self, m: Model) -> Scope:
        return Scope(m, self._initial, user_path(self), self._fillers)

    # --- drops and their CASCADE closure -------------------------------------

    def _dependents(self, m: Model, pred: Any) -> list[int]:
        return [v for v, deps in m.deps.items() if v in m.rels and any(pred(d) for d in deps)]

    def _drop_rel(self, m: Model, oid: int, cascade: bool, cause: str) -> None:
        if oid not in m.rels:
            return
        rel = m.rels[oid]
        views = [v for v in self._dependents(m, lambda d: d[0] != "fn" and d[1] == oid) if v != oid]
        fks = [i for i, c in m.cons.items() if c.ref_table == rel.qname and m.con_rel[i] != oid]
        users = [
            (r, c.name)
            for r, other in m.rels.items()
            if r != oid
            for c in other.columns
            if rel.kind == RelKind.SEQUENCE and rel.qname in c.default_sequences
        ]
        children = [c for c, parents in m.parents.items() if oid in parents and c in m.rels]
        inherited = [c for c in children if c not in m.partitions]
        if (views or fks or users or inherited) and not cascade:
            raise _Fail
        for c in children:  # partitions always go with their table; children with CASCADE
            m.via.setdefault(("rel", c), cause)
            self._drop_rel(m, c, True, cause)
        m.parents.pop(oid, None)
        m.partitions.discard(oid)
        for v in views:
            m.via.setdefault(("rel", v), cause)
            self._drop_rel(m, v, True, cause)
        for i in fks:
            m.via.setdefault(("con", i), cause)
            m.cons.pop(i, None)
            m.con_rel.pop(i, None)
        for r, cname in users:
            m.via.setdefault(("default", m.attids[r][cname]), cause)
            set_column(m, r, cname, has_default=False, default=None, default_sequences=())
        for i in m.cons_of(oid):
            del m.cons[i], m.con_rel[i]
        for i in m.idxs_of(oid):
            del m.idxs[i], m.idx_rel[i]
        owned = {s for c in rel.columns for s in c.default_sequences}
        m.del_rel(oid)
        for seq in owned:  # serial/identity sequences go with their table
            parts = split_qualified_name(seq)
            s_oid = m.rel_oid(parts[0], parts[1]) if len(parts) == 2 else None
            if s_oid is not None and m.rels[s_oid].name.startswith(rel.name + "_"):
                still_used = any(
                    seq in c.default_sequences for r in m.rels.values() for c in r.columns
                )
                if not still_used:
                    m.via.setdefault(("rel", s_oid), cause)
                    m.del_rel(s_oid)

    def _drop_column(self, m: Model, oid: int, name: str, cascade: bool, cause: str) -> None:
        rel = m.rels[oid]
        attid = m.attids[oid][name]
        self._triggers_naming(m, oid, name, "DROP COLUMN")
        views = self._dependents(m, lambda d: d[0] == "col" and d[1] == oid and d[2] == attid)
        fks = [
            i
            for i, c in m.cons.items()
            if c.ref_table == rel.qname and name in c.ref_columns and m.con_rel[i] != oid
        ]
        generated = [c.name for c in rel.columns if name in c.generated_from]
        if (views or fks or generated) and not cascade:
            raise _Fail
        for v in views:
            m.via.setdefault(("rel", v), cause)
            self._drop_rel(m, v, True, cause)
        for i in fks:
            m.via.setdefault(("con", i), cause)
            del m.cons[i], m.con_rel[i]
        for g in generated:
            if m.rels[oid].column(g) is not None:
                m.via.setdefault(("col", m.attids[oid][g]), cause)
                self._drop_column(m, oid, g, True, cause)
        for i in m.cons_of(oid):
            if name in m.cons[i].columns:
                m.via.setdefault(("con", i), cause)
                del m.cons[i], m.con_rel[i]
        for i in m.idxs_of(oid):
            idx = m.idxs[i]
            if name in idx.keys or any(name in _expr_names(k) for k in idx.keys):
                m.via.setdefault(("idx", i), cause)
                del m.idxs[i], m.idx_rel[i]
        put_columns(m, oid, [c for c in m.rels[oid].columns if c.name != name])

    def _drop_constraint(
        self, m: Model, oid: int, name: str, missing_ok: bool, cascade: bool
    ) -> None:
        for i, c in list(m.cons.items()):
            if m.con_rel[i] == oid and c.name == name:
                if c.type in ("p", "u"):
                    rel = m.rels[oid]
                    fks = [
                        j
                        for j, f in m.cons.items()
                        if f.ref_table == rel.qname and set(f.ref_columns) == set(c.columns)
                    ]
                    if fks and not cascade:
                        raise _Fail
                    for j in fks:
                        m.via.setdefault(("con", j), f"{rel.qname}.{name}")
                        del m.cons[j], m.con_rel[j]
                del m.cons[i], m.con_rel[i]
                for j in m.idxs_of(oid):
                    if m.idxs[j].constraint == name:
                        del m.idxs[j], m.idx_rel[j]
                return
        if not missing_ok:
            raise _Fail

    def _drop_function(self, m: Model, oid: int, cascade: bool, cause: str) -> None:
        views = self._dependents(m, lambda d: d == ("fn", oid, 0))
        if views and not cascade:
            raise _Fail
        for v in views:
            m.via.setdefault(("rel", v), cause)
            self._drop_rel(m, v, True, cause)
        m.funcs.pop(oid, None)
        self._drop_dependents(m, Referenced("function", oid), cascade, cause)

    def _drop_dependents(self, m: Model, ref: Referenced, cascade: bool, cause: str) -> None:
        """What pg_depend says goes with ``ref`` (defaults, generated columns, CHECKs...)."""
        hit = sorted(e for e in m.edges if e.referenced == ref)
        if not cascade and any(not e.auto for e in hit):
            raise _Fail
        m.edges.difference_update(hit)
        for e in hit:
            self._drop_dependent(m, e.dependent, cause)

    def _drop_dependent(self, m: Model, dep: Dependent, cause: str) -> None:
        h = dep.holder
        on_rel = (Holder.DEFAULT, Holder.COLUMN, Holder.POLICY, Holder.TRIGGER, Holder.RELATION)
        rel = m.rels.get(dep.oid) if h in on_rel else None
        if h is Holder.DEFAULT and rel is not None:
            name = m.col_name(dep.oid, dep.sub)
            col = rel.column(name) if name is not None else None
            if col is not None and not col.identity:
                m.via.setdefault(("default", dep.sub), cause)
                set_column(
                    m, dep.oid, col.name, has_default=False, default=None, default_sequences=()
                )
        elif h is Holder.COLUMN and rel is not None:
            name = m.col_name(dep.oid, dep.sub)
            if name is not None:
                m.via.setdefault(("col", dep.sub), cause)
                self._drop_column(m, dep.oid, name, True, cause)
        elif h is Holder.CONSTRAINT and dep.oid in m.cons:
            m.via.setdefault(("con", dep.oid), cause)
            del m.cons[dep.oid], m.con_rel[dep.oid]
        elif h is Holder.INDEX and dep.oid in m.idxs:
            m.via.setdefault(("idx", dep.oid), cause)
            owner = m.idxs[dep.oid].constraint
            table = m.idx_rel[dep.oid]
            del m.idxs[dep.oid], m.idx_rel[dep.oid]
            for c in m.cons_of(table):
                if owner and m.cons[c].name == owner:
                    del m.cons[c], m.con_rel[c]
        elif h is Holder.POLICY and rel is not None:
            kept = tuple(p for p in rel.policies if p.name != dep.name)
            m.put_rel(dep.oid, dataclasses.replace(rel, policies=kept))
        elif h is Holder.TRIGGER and rel is not None and self.scope(m).existing(dep.oid):
            raise CannotModel(
                f"CASCADE to trigger {dep.name} on {rel.qname}: what the trigger did "
                "is not modelled"
            )
        elif h is Holder.FUNCTION and dep.oid in m.funcs:
            m.via.setdefault(("fn", dep.oid), cause)
            self._drop_function(m, dep.oid, True, cause)
        elif h is Holder.RELATION and rel is not None:
            m.via.setdefault(("rel", dep.oid), cause)
            self._drop_rel(m, dep.oid, True, cause)
        elif h is Holder.TYPE:
            parts = split_qualified_name(dep.name)
            e_oid = find_enum(self, m, parts)
            if e_oid is not None:
                m.via.setdefault(("type", e_oid), cause)
                self._drop_enum(m, e_oid, True, cause)
            else:
                self._drop_opaque_type(m, parts, True)

    def _drop_collation(self, m: Model, names: list[str], cascade: bool) -> None:
        schemas = [names[-2]] if len(names) > 1 else user_path(self)
        for s in schemas:
            ref = Referenced("collation", name=qualified(s, names[-1]))
            if any(e.referenced == ref for e in m.edges):
                self._drop_dependents(m, ref, cascade, ref.name)
                return

    def _drop_extension(self, m: Model, name: str, cascade: bool, missing_ok: bool) -> None:
        if name in m.opaque_extensions:  # created in this transaction
            m.opaque_extensions.discard(name)
            return
        if not m.extensions_known:
            raise CannotModel(f"DROP EXTENSION {name}: its members are not in the catalog snapshot")
        if name not in m.extensions:
            if missing_ok:
                return
            raise _Fail
        ref = Referenced("extension", name=name)
        members = sorted(e for e in m.edges if e.referenced == ref)
        m.edges.difference_update(members)
        for e in members:  # members go with it; what depends on them needs CASCADE
            dep = e.dependent
            if dep.holder is Holder.FUNCTION and dep.oid in m.funcs:
                m.via.setdefault(("fn", dep.oid), name)
                self._drop_function(m, dep.oid, cascade, name)
            elif dep.holder is Holder.RELATION and dep.oid in m.rels:
                m.via.setdefault(("rel", dep.oid), name)
                self._drop_rel(m, dep.oid, cascade, name)
            elif dep.holder is Holder.TYPE:
                parts = split_qualified_name(dep.name)
                e_oid = find_enum(self, m, parts)
                if e_oid is not None:
                    m.via.setdefault(("type", e_oid), name)
                    self._drop_enum(m, e_oid, cascade, name)
                else:
                    self._drop_opaque_type(m, parts, cascade)
        m.extensions.discard(name)

    def _drop_rule(self, m: Model, names: list[str], missing_ok: bool) -> None:
        oid = find_by_names(self, m, names[:-1], missing_ok)
        if oid is None:
            return
        rel = m.rels[oid]
        rule = next((r for r in rel.rules if r.name == names[-1]), None)
        if rule is None:
            if missing_ok:
                return
            raise _Fail
        if rel.kind == RelKind.VIEW and rule.instead and self.scope(m).existing(oid):
            raise CannotModel(
                f"DROP RULE {rule.name} ON {rel.qname}: whether the view still takes "
                "writes is not modelled",
                affects=self.scope(m).reach([oid], Use.WRITES, rel.qname),
            )
        kept = tuple(r for r in rel.rules if r.name != rule.name)
        m.put_rel(oid, dataclasses.replace(rel, rules=kept))

    def _drop_enum(self, m: Model, oid: int, cascade: bool, cause: str) -> None:
        e = m.enums[oid]
        types = (e.type_name, e.type_name + "[]")
        cols = [
            (r, c.name) for r, rel in m.rels.items() for c in rel.columns if c.base_type in types
        ]
        funcs = [
            f
            for f, fn in m.funcs.items()
            if any(a in types for a in fn.arg_types) or fn.return_type in types
        ]
        if (cols or funcs) and not cascade:
            raise _Fail
        for r, name in cols:
            if r in m.rels and m.rels[r].kind in (RelKind.VIEW, RelKind.MATVIEW):
                m.via.setdefault(("rel", r), cause)
                self._drop_rel(m, r, True, cause)
            elif r in m.rels and m.rels[r].column(name) is not None:
                m.via.setdefault(("col", m.attids[r][name]), cause)
                self._drop_column(m, r, name, True, cause)
        for f in funcs:
            m.via.setdefault(("fn", f), cause)
            self._drop_function(m, f, True, cause)
        del m.enums[oid]
        m.label_ids.pop(oid, None)

    def _drop_schema(self, m: Model, name: str, cascade: bool) -> None:
        rels = [o for o, r in m.rels.items() if r.schema == name]
        funcs = [o for o, f in m.funcs.items() if f.schema == name]
        enums_ = [o for o, e in m.enums.items() if e.schema == name]
        if (rels or funcs or enums_) and not cascade:
            raise _Fail
        for o in rels:
            if o in m.rels:
                m.via.setdefault(("rel", o), name)
                self._drop_rel(m, o, True, name)
        for o in enums_:
            m.via.setdefault(("type", o), name)
            self._drop_enum(m, o, True, name)
        for o in funcs:
            if o in m.funcs:
                m.via.setdefault(("fn", o), name)
                self._drop_function(m, o, True, name)
        m.schema_acls.pop(m.schemas.pop(name), None)

    def _DropStmt(self, m: Model, node: Any) -> None:
        cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
        missing_ok = bool(node.missing_ok)
        t = node.removeType
        for obj in node.objects or ():
            if t in REL_OBJECTS:
                names = name_list(obj)
                oid = find_by_names(self, m, names, missing_ok)
                if oid is not None:
                    self._drop_rel(m, oid, cascade, m.rel_qname(oid))
            elif t == _O.OBJECT_INDEX:
                oid = find_index(self, m, name_list(obj))
                if oid is None:
                    if missing_ok:
                        continue
                    raise _Fail
                if m.idxs[oid].constraint:
                    raise _Fail  # the index backs a constraint
                if node.concurrent:
                    m.concurrent.add(("drop", oid))
                del m.idxs[oid], m.idx_rel[oid]
            elif t == _O.OBJECT_SCHEMA:
                name = str(obj.sval)
                if name not in m.schemas:
                    if missing_ok:
                        continue
                    raise _Fail
                self._drop_schema(m, name, cascade)
            elif t in FUNC_OBJECTS:
                for oid in functions_of(self, m, obj, missing_ok):
                    self._drop_function(m, oid, cascade, m.funcs[oid].signature)
            elif t in (_O.OBJECT_TYPE, _O.OBJECT_DOMAIN):
                names = name_list(obj.names) if isinstance(obj, ast.TypeName) else name_list(obj)
                oid = find_enum(self, m, names)
                if oid is not None:
                    self._drop_enum(m, oid, cascade, m.enums[oid].type_name)
                elif t == _O.OBJECT_DOMAIN or len(names) >= 1:
                    self._drop_opaque_type(m, names, cascade)
            elif t == _O.OBJECT_POLICY:
                names = name_list(obj)
                rel_oid = find_by_names(self, m, names[:-1], missing_ok)
                if rel_oid is None:
                    continue
                rel = m.rels[rel_oid]
                kept = tuple(p for p in rel.policies if p.name != names[-1])
                if len(kept) == len(rel.policies) and not missing_ok:
                    raise _Fail
                m.put_rel(rel_oid, dataclasses.replace(rel, policies=kept))
            elif t == _O.OBJECT_RULE:
                self._drop_rule(m, name_list(obj), missing_ok)
            elif t == _O.OBJECT_TRIGGER:
                names = name_list(obj)
                rel_oid = find_by_names(self, m, names[:-1], missing_ok)
                if rel_oid is not None and self.scope(m).existing(rel_oid):
                    self._drop_existing_trigger(m, rel_oid, names[-1])
            elif t == _O.OBJECT_EXTENSION:
                self._drop_extension(m, str(obj.sval), cascade, missing_ok)
            elif t == _O.OBJECT_COLLATION:
                self._drop_collation(m, name_list(obj), cascade)
            elif t in _DROP_HARMLESS or (t in _DROP_HARMLESS_UNLESS_CASCADE and not cascade):
                continue
            else:
                what = kind_word(t) + (" ... CASCADE" if cascade else "")
                raise CannotModel(f"DROP {what}: what depends on it is not modelled")

    def _triggers(self, m: Model, oid: int) -> dict[str, list[Edge]]:
        """The triggers of relation ``oid`` that pg_depend ties to a user function, by name."""
        out: dict[str, list[Edge]] = {}
        for e in m.edges:
            if e.dependent.holder is Holder.TRIGGER and e.dependent.oid == oid:
                out.setdefault(e.dependent.name, []).append(e)
        return out

    def _trigger_body(self, m: Model, edges: Sequence[Edge]) -> str | None:
        """The PL/pgSQL source of the one function a trigger executes, if known."""
        bodies = [
            fn.trigger_body
            for e in edges
            if e.referenced.kind == "function" and (fn := m.funcs.get(e.referenced.oid))
        ]
        return bodies[0] if len(bodies) == 1 else None

    def _drop_existing_trigger(self, m: Model, oid: int, name: str) -> None:
        """DROP TRIGGER on a table others write: modelled when the trigger only filled
        NEW's fields and nothing checks what it filled (so no write can fail without it)."""
        scope = self.scope(m)
        rel, qname = m.rels[oid], m.rel_qname(oid)
        triggers = self._triggers(m, oid)
        body = self._trigger_body(m, triggers.get(name, ()))
        filler = row_filler("plpgsql", body) if body is not None else None
        family = [oid, *scope.descendants(oid)]
        if filler is None:
            why: str | None = "what the trigger did is not modelled"
        elif len(triggers) > 1 or any(r.event != "select" for r in rel.rules) or rel.rls:
            why = "other triggers, rules or policies of the table may read what it filled"
        else:
            constraints = [c for i, c in m.cons.items() if m.con_rel.get(i) in family]
            indexes = [x for i, x in m.idxs.items() if m.idx_rel.get(i) in family]
            why = loss_harm(filler, rel, constraints, indexes)
        if why is not None:
            raise CannotModel(
                f"DROP TRIGGER {name} ON {qname}: {why}",
                affects=scope.reach([oid], Use.WRITES, qname),
            )
        m.edges.difference_update(triggers[name])

    def _triggers_naming(self, m: Model, oid: int, column: str, what: str) -> None:
        """Refuse to model a DROP or RENAME of a column a trigger function of the table
        names: PostgreSQL allows it, and the table's writers fail in the trigger."""
        scope = self.scope(m)
        if not scope.existing(oid):
            return
        for name, edges in sorted(self._triggers(m, oid).items()):
            body = self._trigger_body(m, edges)
            if body is not None and names_column(body, column):
                qname = m.rel_qname(oid)
                raise CannotModel(
                    f"{what} {column} of {qname}: the function of trigger {name} names "
                    "it, and would fail for the table's writers",
                    affects=scope.reach([oid], Use.WRITES, qname),
                )

    def _drop_opaque_type(self, m: Model, names: list[str], cascade: bool) -> None:
        """A type the snapshot does not list (domain, composite): drop columns using it."""
        schemas = [names[-2]] if len(names) > 1 else user_path(self)
        for s in schemas:
            qn = qualified(s, names[-1])
            cols = [
                (r, c.name)
                for r, rel in m.rels.items()
                for c in rel.columns
                if c.base_type in (qn, qn + "[]")
            ]
            if cols:
                if not cascade:
                    raise _Fail
                for r, name in cols:
                    if r in m.rels and m.rels[r].column(name) is not None:
                        m.via.setdefault(("col", m.attids[r][name]), qn)
                        self._drop_column(m, r, name, True, qn)
                return

    # --- renames and moves --------------------------------------------------

    def _RenameStmt(self, m: Model, node: Any) -> None:
        t = node.renameType
        new = str(node.newname)
        if t in REL_OBJECTS or t == _O.OBJECT_INDEX:
            oid = find_rv(self, m, node.relation, True)
            if oid is not None and t != _O.OBJECT_INDEX:
                rel = m.rels[oid]
                if m.rel_oid(rel.schema, new) is not None:
                    raise _Fail
                m.put_rel(oid, dataclasses.replace(rel, name=new))
                return
            names = [n for n in (node.relation.schemaname, node.relation.relname) if n]
            idx = find_index(self, m, [str(n) for n in names])
            if idx is None:
                if oid is not None:  # ALTER INDEX on a table name: PostgreSQL renames it
                    rel = m.rels[oid]
                    m.put_rel(oid, dataclasses.replace(rel, name=new))
                    return
                if node.missing_ok:
                    return
                raise _Fail
            old = m.idxs[idx]
            m.idxs[idx] = dataclasses.replace(
                old, name=new, constraint=new if old.constraint else ""
            )
            for i, c in m.cons.items():  # renaming a constraint's index renames it
                if m.con_rel[i] == m.idx_rel[idx] and c.name == old.constraint and old.constraint:
                    m.cons[i] = dataclasses.replace(c, name=new)
        elif t == _O.OBJECT_COLUMN:
            oid = find_rv(self, m, node.relation, bool(node.missing_ok))
            if oid is None:
                return
            old_name = str(node.subname)
            self._rename_column(m, oid, old_name, new)
            if node.relation.inh:  # unless ONLY: inherited columns are renamed too
                for child in descendants(self, m, oid):
                    if m.rels[child].column(old_name) is not None:
                        self._rename_column(m, child, old_name, new)
        elif t in (_O.OBJECT_TABCONSTRAINT, _O.OBJECT_DOMCONSTRAINT):
            if node.relation is None:
                return
            oid = find_rv(self, m, node.relation, bool(node.missing_ok))
            if oid is None:
                return
            for i in m.cons_of(oid):
                c = m.cons[i]
                if c.name == node.subname:
                    m.cons[i] = dataclasses.replace(c, name=new)
                    for j in m.idxs_of(oid):
                        if m.idxs[j].constraint == c.name:
                            m.idxs[j] = dataclasses.replace(m.idxs[j], name=new, constraint=new)
                    return
            raise _Fail
        elif t == _O.OBJECT_SCHEMA:
            old_schema = str(node.subname)
            if old_schema not in m.schemas or new in m.schemas:
                raise _Fail
            m.schemas[new] = m.schemas.pop(old_schema)
            self._move_schema_objects(m, old_schema, new)
        elif t in FUNC_OBJECTS:
            for oid in functions_of(self, m, node.object, bool(node.missing_ok)):
                m.funcs[oid] = dataclasses.replace(m.funcs[oid], name=new)
        elif t in (_O.OBJECT_TYPE, _O.OBJECT_DOMAIN, _O.OBJECT_ATTRIBUTE):
            names = name_list(node.object) if node.object is not None else []
            if t == _O.OBJECT_ATTRIBUTE and node.relation is not None:
                names = [n for n in (node.relation.schemaname, node.relation.relname) if n]
            e_oid = find_enum(self, m, names) if t == _O.OBJECT_TYPE else None
            if e_oid is not None:
                e = m.enums[e_oid]
                self._retype_enum(m, e_oid, dataclasses.replace(e, name=new))
            elif self.scope(m).type_used(names):
                raise CannotModel(
                    f"ALTER {kind_word(t)} {'.'.join(names)} RENAME: types used by "
                    "columns are followed only for enums",
                    affects=self.scope(m).type_reach(names, Use.ANY),
                )
        elif t == _O.OBJECT_RULE:
            oid = find_rv(self, m, node.relation, bool(node.missing_ok))
            if oid is not None:
                rel = m.rels[oid]
                rules = tuple(
                    dataclasses.replace(r, name=new) if r.name == node.subname else r
                    for r in rel.rules
                )
                m.put_rel(oid, dataclasses.replace(rel, rules=rules))
        elif t in _RENAME_HARMLESS:
            return
        elif t == _O.OBJECT_ROLE:  # sessions logging in under the old name fail
            role = str(node.subname)
            raise CannotModel(
                "ALTER ROLE ... RENAME: roles are not modelled",
                affects=Affects(Use.ANY, f"role {role}", roles=frozenset({role})),
            )
        elif t not in (_O.OBJECT_POLICY,):
            raise CannotModel(f"ALTER {kind_word(t)} ... RENAME: not modelled")
        if t == _O.OBJECT_POLICY:
            oid = find_rv(self, m, node.relation, bool(node.missing_ok))
            if oid is not None:
                rel = m.rels[oid]
                pols = tuple(
                    dataclasses.replace(p, name=new) if p.name == node.subname else p
                    for p in rel.policies
                )
                m.put_rel(oid, dataclasses.replace(rel, policies=pols))

    def _rename_column(self, m: Model, oid: int, old_name: str, new: str) -> None:
        rel = m.rels[oid]
        if rel.column(old_name) is None or rel.column(new) is not None:
            raise _Fail
        self._triggers_naming(m, oid, old_name, "RENAME COLUMN")
        ids = dict(m.attids[oid])  # copies of the model share the old one
        ids[new] = ids.pop(old_name)
        m.attids[oid] = ids
        cols = [
            dataclasses.replace(
                c,
                name=new if c.name == old_name else c.name,
                generated_from=tuple(new if x == old_name else x for x in c.generated_from),
            )
            for c in rel.columns
        ]
        m.put_rel(oid, dataclasses.replace(rel, columns=tuple(cols)))
        for i in m.cons_of(oid):
            c = m.cons[i]
            m.cons[i] = dataclasses.replace(
                c, columns=tuple(new if x == old_name else x for x in c.columns)
            )
        for i in m.idxs_of(oid):
            ix = m.idxs[i]
            m.idxs[i] = dataclasses.replace(
                ix, keys=tuple(new if x == old_name else x for x in ix.keys)
            )
        for i, c in m.cons.items():
            if c.ref_table == rel.qname:
                m.cons[i] = dataclasses.replace(
                    c, ref_columns=tuple(new if x == old_name else x for x in c.ref_columns)
                )

    def _retype_enum(self, m: Model, oid: int, new: EnumType) -> None:
        """Rename/move an enum: its type text changes in every column and function."""
        old_t = m.enums[oid].type_name
        new_t = qualified(new.schema, new.name)
        m.enums[oid] = dataclasses.replace(new, type_name=new_t)

        def sub(text: str) -> str:
            if text == old_t:
                return new_t
            if text == old_t + "[]":
                return new_t + "[]"
            return text

        for r, rel in list(m.rels.items()):
            if any(sub(c.base_type) != c.base_type for c in rel.columns):
                cols = [
                    dataclasses.replace(c, base_type=sub(c.base_type), type_name=sub(c.type_name))
                    for c in rel.columns
                ]
                m.put_rel(r, dataclasses.replace(rel, columns=tuple(cols)))
        for f, fn in list(m.funcs.items()):
            m.funcs[f] = dataclasses.replace(
                fn, arg_types=tuple(sub(a) for a in fn.arg_types), return_type=sub(fn.return_type)
            )

    def _move_schema_objects(self, m: Model, old: str, new: str) -> None:
        for oid, rel in list(m.rels.items()):
            if rel.schema == old:
                m.put_rel(oid, dataclasses.replace(rel, schema=new))
        for oid, f in list(m.funcs.items()):
            if f.schema == old:
                m.funcs[oid] = dataclasses.replace(f, schema=new)
        for oid, e in list(m.enums.items()):
            if e.schema == old:
                self._retype_enum(m, oid, dataclasses.replace(e, schema=new))

    def _AlterObjectSchemaStmt(self, m: Model, node: Any) -> None:
        new = str(node.newschema)
        if new not in m.schemas:
            raise _Fail
        t = node.objectType
        if t in REL_OBJECTS:
            oid = find_rv(self, m, node.relation, bool(node.missing_ok))
            if oid is None:
                return
            rel = m.rels[oid]
            if m.rel_oid(new, rel.name) is not None:
                raise _Fail
            m.put_rel(oid, dataclasses.replace(rel, schema=new))
            for seq in {s for c in rel.columns for s in c.default_sequences}:
                parts = split_qualified_name(seq)  # owned sequences move along
                s_oid = m.rel_oid(parts[0], parts[1]) if len(parts) == 2 else None
                if s_oid is not None and m.rels[s_oid].name.startswith(rel.name + "_"):
                    m.put_rel(s_oid, dataclasses.replace(m.rels[s_oid], schema=new))
                    moved = qualified(new, m.rels[s_oid].name)
                    cols = [
                        dataclasses.replace(
                            c,
                            default_sequences=tuple(
                                moved if x == seq else x for x in c.default_sequences
                            ),
                        )
                        for c in m.rels[oid].columns
                    ]
                    put_columns(m, oid, cols)
        elif t in FUNC_OBJECTS:
            for oid in functions_of(self, m, node.object, bool(node.missing_ok)):
                m.funcs[oid] = dataclasses.replace(m.funcs[oid], schema=new)
        elif t in (_O.OBJECT_TYPE, _O.OBJECT_DOMAIN):
            names = name_list(
                node.object.names if isinstance(node.object, ast.TypeName) else node.object
            )
            e_oid = find_enum(self, m, names) if t == _O.OBJECT_TYPE else None
            if e_oid is not None:
                self._retype_enum(m, e_oid, dataclasses.replace(m.enums[e_oid], schema=new))
            elif self.scope(m).type_used(names):
                raise CannotModel(
                    f"ALTER {kind_word(t)} {'.'.join(names)} SET SCHEMA: types used by "
                    "columns are followed only for enums",
                    affects=self.scope(m).type_reach(names, Use.ANY),
                )
        elif t not in _SET_SCHEMA_HARMLESS:
            raise CannotModel(f"ALTER {kind_word(t)} ... SET SCHEMA: not modelled")

    # --- indexes, sequences, views ------------------------------------------

    def _ViewStmt(self, m: Model, node: Any) -> None:
        rv = node.view
        if rv.relpersistence == "t":
            return
        schema = creation_schema(self, m, rv.schemaname)
        name = str(rv.relname)
        existing = m.rel_oid(schema, name)
        if existing is not None and not node.replace:
            raise _Fail
        self._define_view(
            m, existing, schema, name, RelKind.VIEW, node.query, name_list(node.aliases)
        )

    def _CreateTableAsStmt(self, m: Model, node: Any) -> None:
        into = node.into
        rv = into.rel
        if rv.relpersistence == "t":
            return
        schema = creation_schema(self, m, rv.schemaname)
        name = str(rv.relname)
        if m.rel_oid(schema, name) is not None:
            if node.if_not_exists:
                return
            raise _Fail
        kind = RelKind.MATVIEW if node.objtype == _O.OBJECT_MATVIEW else RelKind.TABLE
        self._define_view(m, None, schema, name, kind, node.query, name_list(into.colNames))

    def _define_view(
        self,
        m: Model,
        oid: int | None,
        schema: str,
        name: str,
        kind: RelKind,
        query: Any,
        aliases: list[str],
    ) -> None:
        cat = self._catalog_of(m)
        extractor = Extractor(cat, self._path, self._user)
        out = extractor.statement(query)
        exact = self._exact_columns(m, query)
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

    def _exact_columns(self, m: Model, query: Any) -> list[Column] | None:
        """Output columns with exact types for a plain select of columns and stars."""
        if not isinstance(query, ast.SelectStmt) or query.op != enums.SetOperation.SETOP_NONE:
            return None
        if query.valuesLists or query.withClause is not None:
            return None
        items: list[tuple[str, Relation, dict[str, str] | None]] = []

        def add(node: Any) -> bool:
            if isinstance(node, ast.RangeVar):
                oid = find_rel(self, m, node.schemaname, str(node.relname))
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

    # --- types and functions ------------------------------------------------

    def _CreateEnumStmt(self, m: Model, node: Any) -> None:
        names = name_list(node.typeName)
        schema = creation_schema(self, m, names[-2] if len(names) > 1 else None)
        if m.enum_oid(schema, names[-1]) is not None:
            raise _Fail
        labels = tuple(str(v.sval) for v in node.vals or ())
        oid = m.new_oid()
        m.enums[oid] = EnumType(schema, names[-1], qualified(schema, names[-1]), labels)
        m.label_ids[oid] = {label: m.new_oid() for label in labels}

    def _AlterEnumStmt(self, m: Model, node: Any) -> None:
        oid = find_enum(self, m, name_list(node.typeName))
        if oid is None:
            raise _Fail
        e = m.enums[oid]
        labels = list(e.labels)
        if node.oldVal:
            if node.oldVal not in labels or node.newVal in labels:
                raise _Fail
            labels[labels.index(node.oldVal)] = node.newVal
            ids = m.label_ids[oid]
            ids[node.newVal] = ids.pop(node.oldVal)
        else:
            if node.newVal in labels:
                if node.skipIfNewValExists:
                    return
                raise _Fail
            pos = len(labels)
            if node.newValNeighbor and node.newValNeighbor in labels:
                pos = labels.index(node.newValNeighbor) + (1 if node.newValIsAfter else 0)
            labels.insert(pos, node.newVal)
            m.label_ids[oid][node.newVal] = m.new_oid()
        m.enums[oid] = dataclasses.replace(e, labels=tuple(labels))

    def _CreateFunctionStmt(self, m: Model, node: Any) -> None:
        names = name_list(node.funcname)
        schema = creation_schema(self, m, names[-2] if len(names) > 1 else None)
        cat = self._catalog_of(m)
        params = node.parameters or ()
        args = arg_types(self, cat, params, ())
        modes = enums.FunctionParameterMode
        n_defaults = sum(1 for p in params if p.defexpr is not None)
        variadic = any(p.mode == modes.FUNC_PARAM_VARIADIC for p in params)
        if node.returnType is not None:
            ret = format_type(node.returnType, cat, user_path(self))[1]
            setof = bool(node.returnType.setof)
        else:
            ret, setof = ("void" if node.is_procedure else "record"), False
        options = {str(o.defname): o.arg for o in node.options or ()}
        source, language = options.get("as"), options.get("language")
        plpgsql = isinstance(language, ast.String) and str(language.sval).lower() == "plpgsql"
        fn = Function(
            schema,
            names[-1],
            args,
            ret,
            kind=FuncKind.PROCEDURE if node.is_procedure else FuncKind.FUNCTION,
            n_defaults=n_defaults,
            variadic=variadic,
            returns_set=setof,
            trigger_body=str(source[0].sval) if ret == "trigger" and plpgsql and source else None,
        )
        for oid, f in m.funcs.items():
            if f.signature == fn.signature:
                if not node.replace:
                    raise _Fail
                m.funcs[oid] = fn
                self._remember_filler(fn)
                return
        m.funcs[m.new_oid()] = fn
        self._remember_filler(fn)

    def _remember_filler(self, fn: Function) -> None:
        """Keep a trigger function's body when it only fills NEW's fields (CREATE TRIGGER
        with it is then judged harmless where that holds)."""
        filler = row_filler("plpgsql", fn.trigger_body) if fn.trigger_body else None
        if filler is None:
            self._fillers.pop(fn.signature, None)
        else:
            self._fillers[fn.signature] = filler

    # --- security -----------------------------------------------------------

    def _CreatePolicyStmt(self, m: Model, node: Any) -> None:
        oid = find_rv(self, m, node.table)
        assert oid is not None
        rel = m.rels[oid]
        cmd = {"all": "*", "select": "r", "insert": "a", "update": "w", "delete": "d"}
        roles = tuple(
            "public" if r.roletype == enums.RoleSpecType.ROLESPEC_PUBLIC else str(r.rolename)
            for r in node.roles or ()
        ) or ("public",)
        pol = Policy(
            str(node.policy_name),
            cmd.get(str(node.cmd_name or "all"), "*"),
            roles,
            bool(node.permissive),
        )
        if not pol.permissive and rel.rls and self.scope(m).existing(oid):
            raise CannotModel(
                f"CREATE POLICY {pol.name} AS RESTRICTIVE ON {rel.qname}: "
                "which rows it refuses is not modelled",
                affects=self.scope(m).reach([oid], Use.ANY, rel.qname),
            )
        if any(p.name == pol.name for p in rel.policies):
            raise _Fail
        m.put_rel(oid, dataclasses.replace(rel, policies=(*rel.policies, pol)))
        record_calls(
            self, m, Dependent(Holder.POLICY, oid, name=pol.name), [node.qual, node.with_check]
        )

    def _GrantStmt(self, m: Model, node: Any) -> None:
        t = node.objtype
        if t not in (_O.OBJECT_TABLE, _O.OBJECT_SEQUENCE, _O.OBJECT_SCHEMA):
            if node.is_grant or node.grant_option or t in _REVOKE_HARMLESS:
                return
            raise CannotModel(
                f"REVOKE on {kind_word(t)}: its privileges are not modelled",
                affects=self._revoked_reach(m, node),
            )
        if not node.is_grant and node.grant_option:
            return  # REVOKE GRANT OPTION FOR: the privilege itself stays
        if any(p.cols for p in node.privileges or ()):
            if node.is_grant:
                return
            kinds = {str(p.priv_name).lower() for p in node.privileges or ()}
            use = Use.READS if kinds == {"select"} else Use.ANY
            use = Use.WRITES if kinds <= {"insert", "update"} else use
            oids = [find_rv(self, m, rv, True) for rv in node.objects or ()]
            raise CannotModel(
                "REVOKE of column privileges: column ACLs are not modelled",
                affects=self.scope(m).reach([o for o in oids if o is not None], use),
            )
        targets: list[tuple[str, int]] = []
        if node.targtype == enums.GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA:
            schemas = {str(s.sval) for s in node.objects or ()}
            want = RelKind.SEQUENCE if t == _O.OBJECT_SEQUENCE else None
            for oid, rel in m.rels.items():
                if rel.schema in schemas and (
                    (rel.kind == want) if want else rel.kind != RelKind.SEQUENCE
                ):
                    targets.append(("rel", oid))
        elif t in (_O.OBJECT_TABLE, _O.OBJECT_SEQUENCE):
            for rv in node.objects or ():
                r_oid = find_rv(self, m, rv)
                assert r_oid is not None
                targets.append(("rel", r_oid))
        elif t == _O.OBJECT_SCHEMA:
            for s in node.objects or ():
                if str(s.sval) not in m.schemas:
                    raise _Fail
                targets.append(("schema", m.schemas[str(s.sval)]))
        else:
            return
        grantees = [
            "" if g.roletype == enums.RoleSpecType.ROLESPEC_PUBLIC else str(g.rolename)
            for g in node.grantees or ()
        ]
        for what, oid in targets:
            if what == "rel":
                rel = m.rels[oid]
                family = "sequence" if rel.kind == RelKind.SEQUENCE else "table"
                privs = self._privs(node.privileges, family)
                acl = _edit_acl(rel.acl, rel.owner or "owner", grantees, privs, node.is_grant)
                m.put_rel(oid, dataclasses.replace(rel, acl=acl))
            else:
                privs = self._privs(node.privileges, "schema")
                owner = "owner"
                m.schema_acls[oid] = _edit_acl(
                    m.schema_acls.get(oid), owner, grantees, privs, node.is_grant
                )

    def _revoked_reach(self, m: Model, node: Any) -> Affects | None:
        """What a REVOKE on functions or types reaches: their callers, the relations with
        columns of the type (None: unknown, or nothing found)."""
        scope = self.scope(m)
        if node.objtype in (_O.OBJECT_TYPE, _O.OBJECT_DOMAIN):
            typed = [scope.type_reach(name_list(t), Use.ANY) for t in node.objects or ()]
            return functools.reduce(Affects.merge, typed) if typed else None
        if node.objtype not in FUNC_OBJECTS:
            return None
        names: set[tuple[str, ...]]
        if node.targtype == enums.GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA:
            schemas = {str(s.sval) for s in node.objects or ()}
            names = {(f.schema, f.name) for f in m.funcs.values() if f.schema in schemas}
        else:
            names = {tuple(name_list(owa.objname)) for owa in node.objects or ()}
        reaches = [scope.function_reach(list(n)) for n in sorted(names)]
        known = [r for r in reaches if r is not None]
        if not known:
            return None
        return functools.reduce(Affects.merge, known)

    @staticmethod
    def _privs(privileges: Any, family: str) -> str:
        if not privileges:
            return _ALL_PRIVS[family]
        return "".join(_PRIVS.get(str(p.priv_name).lower(), "") for p in privileges)


_WORD = re.compile(r'"([^"]+)"|\b([a-z_][a-z0-9_$]*)\b')


def _expr_names(key: str) -> list[str]:
    """Identifier-looking words of an index expression key."""
    return [a or b for a, b in _WORD.findall(key)]


def _updatable(query: Any) -> bool:
    """Whether PostgreSQL would make a view over ``query`` automatically updatable."""
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


def _edit_acl(
    acl: tuple[str, ...] | None, owner: str, grantees: list[str], privs: str, grant: bool
) -> tuple[str, ...]:
    """GRANT/REVOKE ``privs`` for ``grantees`` on an ACL (None = owner has everything)."""
    items: dict[str, tuple[str, str]] = {}  # grantee -> (privs, grantor)
    if acl is None:
        items[owner] = ("arwdDxt", owner)
    else:
        for item in acl:
            who, _, rest = item.partition("=")
            p, _, grantor = rest.partition("/")
            items[who] = (p, grantor)
    for g in grantees:
        have, grantor = items.get(g, ("", owner))
        if grant:
            have += "".join(c for c in privs if c not in have)
        else:
            have = "".join(c for c in have if c.replace("*", "") not in privs)
        items[g] = (have, grantor)
    return tuple(f"{who}={p}/{grantor}" for who, (p, grantor) in items.items() if p)


def _as_run(node: Any) -> Any:
    """What a statement does to the schema when it runs: ``SELECT ... INTO t`` and
    ``EXPLAIN ANALYZE`` of a table-creating statement create a table as ``CREATE TABLE
    t AS`` does (a new table that may shadow another one on a search_path)."""
    if isinstance(node, ast.ExplainStmt) and is_ddl(node):
        return _as_run(node.query)
    if isinstance(node, ast.SelectStmt) and node.intoClause is not None:
        return ast.CreateTableAsStmt(
            query=node, into=node.intoClause, objtype=_O.OBJECT_TABLE, is_select_into=True
        )
    return node


_HANDLERS: dict[type, Callable[[Overlay, Model, Any], None]] = {
    ast.VariableSetStmt: Overlay._VariableSetStmt,
    ast.CreateSchemaStmt: Overlay._CreateSchemaStmt,
    ast.CreateStmt: create_table,
    ast.AlterTableStmt: alter_table,
    ast.DropStmt: Overlay._DropStmt,
    ast.RenameStmt: Overlay._RenameStmt,
    ast.AlterObjectSchemaStmt: Overlay._AlterObjectSchemaStmt,
    ast.IndexStmt: create_index,
    ast.CreateSeqStmt: create_sequence,
    ast.ViewStmt: Overlay._ViewStmt,
    ast.CreateTableAsStmt: Overlay._CreateTableAsStmt,
    ast.CreateEnumStmt: Overlay._CreateEnumStmt,
    ast.AlterEnumStmt: Overlay._AlterEnumStmt,
    ast.CreateFunctionStmt: Overlay._CreateFunctionStmt,
    ast.CreatePolicyStmt: Overlay._CreatePolicyStmt,
    ast.GrantStmt: Overlay._GrantStmt,
    ast.CreateForeignTableStmt: create_foreign_table,
    ast.CreateExtensionStmt: Overlay._CreateExtensionStmt,
    ast.RuleStmt: create_rule,
    ast.CreateDomainStmt: Overlay._CreateDomainStmt,
    ast.CompositeTypeStmt: Overlay._CompositeTypeStmt,
    ast.CreateRangeStmt: Overlay._CreateRangeStmt,
    ast.DefineStmt: Overlay._DefineStmt,
}

__all__ = ["CannotModel", "DdlParseError", "Overlay"]


_REVOKE_HARMLESS = frozenset({_O.OBJECT_TABLESPACE, _O.OBJECT_PARAMETER_ACL})
# Objects no client statement names, whose RENAME changes nothing a version sees.
_RENAME_HARMLESS = frozenset(
    {
        _O.OBJECT_TRIGGER,
        _O.OBJECT_EVENT_TRIGGER,
        _O.OBJECT_PUBLICATION,
        _O.OBJECT_SUBSCRIPTION,
        _O.OBJECT_STATISTIC_EXT,
        _O.OBJECT_TABLESPACE,
        _O.OBJECT_FDW,
        _O.OBJECT_FOREIGN_SERVER,
        _O.OBJECT_OPCLASS,
        _O.OBJECT_OPFAMILY,
        _O.OBJECT_LANGUAGE,
        _O.OBJECT_CONVERSION,
        _O.OBJECT_TSPARSER,
        _O.OBJECT_TSTEMPLATE,
        _O.OBJECT_DOMCONSTRAINT,
    }
)
_SET_SCHEMA_HARMLESS = frozenset(
    {
        _O.OBJECT_OPERATOR,
        _O.OBJECT_OPCLASS,
        _O.OBJECT_OPFAMILY,
        _O.OBJECT_CONVERSION,
        _O.OBJECT_STATISTIC_EXT,
        _O.OBJECT_TSPARSER,
        _O.OBJECT_TSTEMPLATE,
    }
)
# DROP of objects nothing a version runs depends on, CASCADE or not.
_DROP_HARMLESS = frozenset(
    {
        _O.OBJECT_PUBLICATION,
        _O.OBJECT_EVENT_TRIGGER,
        _O.OBJECT_STATISTIC_EXT,
        _O.OBJECT_TRANSFORM,
    }
)
# Harmless alone; with CASCADE they take indexes, foreign tables or functions along.
_DROP_HARMLESS_UNLESS_CASCADE = frozenset(
    {
        _O.OBJECT_OPCLASS,
        _O.OBJECT_OPFAMILY,
        _O.OBJECT_FDW,
        _O.OBJECT_FOREIGN_SERVER,
        _O.OBJECT_LANGUAGE,
        _O.OBJECT_ACCESS_METHOD,
        _O.OBJECT_CONVERSION,
        _O.OBJECT_TSPARSER,
        _O.OBJECT_TSTEMPLATE,
    }
)
