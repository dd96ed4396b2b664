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
from skewguard.ddl.model import Dep, Dependent, Holder, Model
from skewguard.ddl.opaque import HARMLESS, JUDGES, Scope
from skewguard.ddl.overlay.alter_table import alter_table
from skewguard.ddl.overlay.calls import record_calls
from skewguard.ddl.overlay.constraints import create_index
from skewguard.ddl.overlay.drops import drop
from skewguard.ddl.overlay.names import (
    arg_types,
    creation_schema,
    find_enum,
    find_rel,
    find_rv,
    user_path,
)
from skewguard.ddl.overlay.nodes import FUNC_OBJECTS, deparse, has_call, kind_word, name_list
from skewguard.ddl.overlay.renames import rename, set_schema
from skewguard.ddl.overlay.tables import (
    create_foreign_table,
    create_rule,
    create_sequence,
    create_table,
)
from skewguard.ddl.triggers import RowFiller, row_filler
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
    ast.DropStmt: drop,
    ast.RenameStmt: rename,
    ast.AlterObjectSchemaStmt: set_schema,
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
