"""Statements the model does not represent: harmless ones, and the ones it cannot model.

The overlay models what it can (:mod:`skewguard.ddl.overlay`). Every other
statement type is listed here, in one of two tables:

- :data:`HARMLESS`: nothing a client version can observe changes (COMMENT,
  CREATE of a brand-new object nothing references yet, statistics, ...);
- :data:`JUDGES`: a function per statement type that returns when this use of
  the statement is harmless and raises :class:`CannotModel` with the reason
  when it changes existing objects in a way the model does not follow
  (``DO``, ``DROP OWNED BY``, a trigger on an existing table, ``REVOKE`` of a
  role membership...), with what it can affect where that is known
  (:meth:`Scope.reach`): a trigger on ``t`` can only break writers of ``t``.

A statement type in neither table that is DDL raises :class:`CannotModel` too
(an allowlist: a new kind of statement is never waved through).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums

from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import qualified, role_members
from skewguard.ddl.affects import Affects, Use
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Holder, Model
from skewguard.ddl.triggers import RowFiller, condition_filler, harm, row_filler

_O = enums.ObjectType


@dataclass(frozen=True)
class Scope:
    """What a judge may look at: the working model, the one the transaction
    started from (objects in it exist for other sessions), the search path and
    the trigger functions created in this transaction that only fill NEW's
    fields (by signature)."""

    model: Model
    initial: Model
    path: Sequence[str]
    fillers: Mapping[str, RowFiller] = field(default_factory=dict)

    def rel(self, rv: Any) -> int | None:
        if rv is None:
            return None
        schemas = [str(rv.schemaname)] if rv.schemaname else list(self.path)
        for s in schemas:
            oid = self.model.rel_oid(s, str(rv.relname))
            if oid is not None:
                return oid
        return None

    def existing(self, oid: int | None) -> bool:
        """``oid`` names an object other sessions can see (not created in this transaction)."""
        return oid is not None and oid in self.initial.rels

    def type_used(self, names: Sequence[str]) -> bool:
        """Some existing column has the type ``names`` (or an array of it)."""
        return bool(self._type_users(names))

    def _type_users(self, names: Sequence[str]) -> list[int]:
        """Existing relations with a column of type ``names`` (or an array of it)."""
        wanted = self._type_names(names)
        return [
            oid
            for oid, rel in self.model.rels.items()
            if self.existing(oid) and any(c.base_type in wanted for c in rel.columns)
        ]

    def type_existed(self, names: Sequence[str]) -> bool:
        """The user type ``names`` existed before this transaction (others can use it)."""
        return bool(self._type_names(names) & self.initial.types)

    def _type_names(self, names: Sequence[str]) -> set[str]:
        schemas = [names[-2]] if len(names) > 1 else list(self.path)
        return {t for s in schemas for q in [qualified(s, names[-1])] for t in (q, q + "[]")}

    def type_reach(self, names: Sequence[str], use: Use) -> Affects:
        """What a change of the type ``names`` can affect: the relations with a column
        of it and the functions taking or returning it."""
        wanted = self._type_names(names)
        fns = {
            f.signature for f in self.model.funcs.values() if wanted & {*f.arg_types, f.return_type}
        }
        reach = self.reach(self._type_users(names), use, ".".join(names), functions=fns)
        return dataclasses.replace(
            reach, types=frozenset(t for t in wanted if not t.endswith("[]"))
        )

    def reach(
        self,
        oids: Iterable[int],
        use: Use,
        target: str = "",
        *,
        functions: Iterable[str] = (),
    ) -> Affects:
        """What a statement acting on the relations ``oids`` can affect, for ``use``.

        Besides the relations themselves: the views over them (recursively), their
        inheritance/partition ancestors and descendants (rows are routed to a
        partition through its parent; a parent's triggers are cloned to them),
        for writes the tables their foreign keys reference (ON DELETE/UPDATE
        actions write them), relations with triggers or write rules (the code
        they run may reach them), and every user function that is not an
        extension member (its body may). Relations are named as other sessions
        know them and as this transaction does.
        """
        m = self.model
        rels = {o for o in oids if o in m.rels}
        if not target:
            target = ", ".join(sorted(self._names(rels))) or "nothing"
        fns = self._user_functions()
        rels |= self._code_holders()
        grown = True
        while grown:
            before = len(rels)
            for child, parents in m.parents.items():  # rows routed either way
                if child in m.rels and (child in rels or rels.intersection(parents)):
                    rels.add(child)
                    rels.update(p for p in parents if p in m.rels)
            for view, deps in m.deps.items():
                if view in m.rels and any(
                    (d[0] == "fn" and d[1] in fns) or (d[0] != "fn" and d[1] in rels) for d in deps
                ):
                    rels.add(view)
            if use is not Use.READS:
                for c_oid, con in m.cons.items():
                    if con.type == "f" and m.con_rel.get(c_oid) in rels:
                        parts = split_qualified_name(con.ref_table)
                        parent = m.rel_oid(parts[0], parts[1]) if len(parts) == 2 else None
                        if parent is not None:
                            rels.add(parent)
            grown = len(rels) > before
        return Affects(
            use,
            target,
            relations=frozenset(self._names(rels)),
            functions=frozenset({m.funcs[f].signature for f in fns} | set(functions)),
        )

    def descendants(self, oid: int) -> list[int]:
        """Inheritance children and partitions, recursively."""
        out: list[int] = []
        todo = [oid]
        while todo:
            cur = todo.pop()
            for child, parents in self.model.parents.items():
                if cur in parents and child not in out and child in self.model.rels:
                    out.append(child)
                    todo.append(child)
        return out

    def functions_named(self, names: Sequence[str]) -> list[int]:
        """Every overload of the first schema (on the path) that has a function ``names``."""
        schemas = [names[-2]] if len(names) > 1 else list(self.path)
        for s in schemas:
            found = [
                o for o, f in self.model.funcs.items() if f.schema == s and f.name == names[-1]
            ]
            if found:
                return found
        return []

    def trigger_function(self, names: Sequence[str]) -> str:
        """The signature EXECUTE FUNCTION ``names`` resolves to (trigger functions take
        no declared arguments)."""
        for oid in self.functions_named(names):
            if not self.model.funcs[oid].arg_types:
                return self.model.funcs[oid].signature
        return ""

    def function_reach(self, names: Sequence[str]) -> Affects | None:
        """What a change to the existing functions ``names`` can affect: their callers,
        and users of the relations whose defaults, checks, indexes, policies, triggers
        or views run them. None when no such function exists for other sessions."""
        m = self.model
        fns = [o for o in self.functions_named(names) if o in self.initial.funcs]
        if not fns:
            return None
        rels: set[int] = set()
        for e in m.edges:
            if e.referenced.kind != "function" or e.referenced.oid not in fns:
                continue
            dep = e.dependent
            if dep.holder is Holder.CONSTRAINT:
                rels.add(m.con_rel.get(dep.oid, 0))
            elif dep.holder is Holder.INDEX:
                rels.add(m.idx_rel.get(dep.oid, 0))
            elif dep.holder is not Holder.FUNCTION:
                rels.add(dep.oid)
        rels.update(
            v for v, deps in m.deps.items() if any(d[0] == "fn" and d[1] in fns for d in deps)
        )
        signatures = {m.funcs[o].signature for o in fns}
        return self.reach(rels, Use.ANY, ", ".join(sorted(signatures)), functions=signatures)

    def _names(self, oids: Iterable[int]) -> set[str]:
        out: set[str] = set()
        for oid in oids:
            for model in (self.model, self.initial):
                if oid in model.rels:
                    out.add(model.rel_qname(oid))
        return out

    def _user_functions(self) -> set[int]:
        members = {
            e.dependent.oid
            for e in self.model.edges
            if e.referenced.kind == "extension" and e.dependent.holder is Holder.FUNCTION
        }
        return set(self.model.funcs) - members

    def _code_holders(self) -> set[int]:
        """Relations whose writes run user code: triggers, and rules other than ON SELECT."""
        m = self.model
        out = {e.dependent.oid for e in m.edges if e.dependent.holder is Holder.TRIGGER}
        out.update(o for o, r in m.rels.items() if any(x.event != "select" for x in r.rules))
        return {o for o in out if o in m.rels}


def names_of(nodes: Any) -> list[str]:
    return [str(n.sval) for n in nodes or () if isinstance(n, ast.String)]


def _truthy(arg: Any) -> bool:
    if isinstance(arg, ast.Boolean):
        return bool(arg.boolval)
    if isinstance(arg, ast.Integer):
        return bool(arg.ival)
    return arg is not None


HARMLESS: frozenset[type] = frozenset(
    {
        ast.CommentStmt,
        ast.SecLabelStmt,
        ast.CreateStatsStmt,
        ast.AlterStatsStmt,
        ast.AlterExtensionContentsStmt,
        ast.AlterDefaultPrivilegesStmt,
        ast.CreateRoleStmt,
        ast.TransactionStmt,
        ast.VariableShowStmt,
        ast.CreateTableSpaceStmt,
        ast.AlterTableSpaceOptionsStmt,
        ast.DropTableSpaceStmt,
        ast.AlterTableMoveAllStmt,
        ast.CreatedbStmt,
        ast.AlterDatabaseRefreshCollStmt,
        ast.AlterTypeStmt,
        ast.AlterCollationStmt,
        ast.AlterObjectDependsStmt,
        ast.AlterOperatorStmt,
        ast.AlterOpFamilyStmt,
        ast.CreateOpClassStmt,
        ast.CreateOpFamilyStmt,
        ast.CreateAmStmt,
        ast.CreateConversionStmt,
        ast.CreateTransformStmt,
        ast.CreatePLangStmt,
        ast.AlterTSConfigurationStmt,
        ast.AlterTSDictionaryStmt,
        ast.CreateFdwStmt,
        ast.AlterFdwStmt,
        ast.CreateForeignServerStmt,
        ast.AlterForeignServerStmt,
        ast.CreateUserMappingStmt,
        ast.AlterUserMappingStmt,
        ast.CreateSubscriptionStmt,
        ast.AlterSubscriptionStmt,
        ast.DropSubscriptionStmt,
        ast.ExplainStmt,
        ast.PrepareStmt,
        ast.DeclareCursorStmt,
        ast.SelectStmt,  # SELECT ... INTO: a new table
    }
)

# Settings whose per-role / per-database / per-function value cannot make a statement fail.
_SAFE_SETTINGS = frozenset(
    {
        "application_name",
        "work_mem",
        "maintenance_work_mem",
        "temp_buffers",
        "random_page_cost",
        "seq_page_cost",
        "effective_cache_size",
        "effective_io_concurrency",
        "default_statistics_target",
        "synchronous_commit",
        "jit",
        "timezone",
        # server-wide (ALTER SYSTEM): how the server stores, writes and cleans, not
        # what a statement may do; password_encryption hashes passwords set later
        "password_encryption",
        "shared_buffers",
        "huge_pages",
        "max_wal_size",
        "min_wal_size",
        "max_wal_senders",
        "max_replication_slots",
        "max_worker_processes",
        "maintenance_io_concurrency",
    }
)
_SAFE_SETTING_PREFIXES = (
    "log_",
    "track_",
    "enable_",
    "cpu_",
    "parallel_",
    "max_parallel_",
    "auto_explain.",
    "autovacuum",
    "checkpoint_",
    "bgwriter_",
    "wal_",
    "archive_",
)
#: Settings harmless only one way: turning TLS on adds a way to connect, off removes one.
_SAFE_WHEN_ON = frozenset({"ssl"})


def _safe_setting(name: str) -> bool:
    return name in _SAFE_SETTINGS or name.startswith(_SAFE_SETTING_PREFIXES)


def _turned_on(stmt: Any) -> bool:
    """``SET x = on`` (or true, yes, 1), as PostgreSQL reads a boolean setting."""
    args: Sequence[Any] = stmt.args or ()
    if stmt.kind != enums.VariableSetKind.VAR_SET_VALUE or len(args) != 1:
        return False
    value = getattr(args[0], "val", None)
    text = str(getattr(value, "sval", getattr(value, "ival", ""))).lower()
    return text in {"on", "true", "yes", "1", "t", "y"}


def _role_reach(spec: Any) -> Affects | None:
    """Versions connecting as the named role; None (everyone) for ALL / CURRENT_USER..."""
    if spec is None or spec.roletype != enums.RoleSpecType.ROLESPEC_CSTRING:
        return None
    name = str(spec.rolename)
    return Affects(Use.ANY, f"role {name}", roles=frozenset({name}))


def _members_reach(scope: Scope, specs: Iterable[Any]) -> Affects | None:
    """Versions connecting as one of the named roles or as any member of one, directly
    or through other roles (what the role loses, they lose); None (everyone) when a
    role is not named (PUBLIC, CURRENT_USER...) or memberships were not read."""
    memberships = scope.initial.memberships
    if memberships is None:
        return None
    reached: set[str] = set()
    names = []
    for spec in specs:
        if spec is None or spec.roletype != enums.RoleSpecType.ROLESPEC_CSTRING:
            return None
        name = str(spec.rolename)
        names.append(name)
        reached |= {name, *role_members(memberships, name)}
    if not names:
        return None
    return Affects(Use.ANY, f"role {', '.join(names)}", roles=frozenset(reached))


def _setting(stmt: Any, what: str, affects: Affects | None) -> None:
    name = str(stmt.name or "").lower()
    if stmt.kind == enums.VariableSetKind.VAR_RESET_ALL:
        raise CannotModel(
            f"{what} RESET ALL: the defaults it restores are not modelled", affects=affects
        )
    if _safe_setting(name) or (name in _SAFE_WHEN_ON and _turned_on(stmt)):
        return
    raise CannotModel(
        f"{what} SET {name}: new sessions' behaviour under it is not modelled", affects=affects
    )


def _alter_role_set(scope: Scope, node: Any) -> None:
    # a setting of one role applies to sessions that log in as it (members do not
    # inherit it), IN DATABASE only to those of that database: either way only versions
    # seen connecting as the role can notice (a version of another database is not
    # judged here, so one of this database stands for it)
    _setting(node.setstmt, "ALTER ROLE", _role_reach(node.role))


def _alter_database_set(scope: Scope, node: Any) -> None:
    _setting(node.setstmt, "ALTER DATABASE", None)


# Role attributes whose loss can stop a version from connecting or reading; none of
# them is inherited by the role's members, so only sessions of the role itself notice.
_ROLE_LOSSES = frozenset({"canlogin", "superuser", "inherit", "bypassrls"})
_ROLE_LIMITS = frozenset({"connectionlimit", "validUntil"})


def _alter_role(scope: Scope, node: Any) -> None:
    for opt in node.options or ():
        name = str(opt.defname)
        if name in _ROLE_LOSSES and not _truthy(opt.arg):
            raise CannotModel(
                f"ALTER ROLE ... NO{name.upper()}: roles are not modelled",
                affects=_role_reach(node.role),
            )
        if name in _ROLE_LIMITS:
            raise CannotModel(
                f"ALTER ROLE ... {name}: connection limits are not modelled",
                affects=_role_reach(node.role),
            )
        if name == "rolemembers" and node.action == -1:
            # the members lose what the group holds, and so do their own members
            raise CannotModel(
                "ALTER GROUP ... DROP USER: what the members lose is not modelled",
                affects=_members_reach(scope, opt.arg or ()),
            )


def _alter_system(scope: Scope, node: Any) -> None:
    # takes effect at the next configuration reload, for every session of every database
    _setting(node.setstmt, "ALTER SYSTEM", None)


def _alter_database(scope: Scope, node: Any) -> None:
    for opt in node.options or ():
        name = str(opt.defname)
        if (name == "allow_connections" and not _truthy(opt.arg)) or name == "connection_limit":
            raise CannotModel(f"ALTER DATABASE ... {name}: connections are not modelled")


def _drop_database(scope: Scope, node: Any) -> None:
    # every version of that database loses it; its own protected versions judge the drop
    name = str(node.dbname)  # as PostgreSQL stores it: folded, or as quoted
    raise CannotModel(
        f"dropping database {name}",
        affects=Affects(Use.ANY, f"database {name}", databases=frozenset({name})),
    )


def _grant_role(scope: Scope, node: Any) -> None:
    if node.is_grant:
        return
    if node.opt and all(str(o.defname) == "admin" for o in node.opt):
        return  # REVOKE ADMIN OPTION FOR: the membership stays
    # the grantees lose what the role holds, and so do their own members
    raise CannotModel(
        "REVOKE of a role membership: what the grantees lose is not modelled",
        affects=_members_reach(scope, node.grantee_roles or ()),
    )


def _drop_role(scope: Scope, node: Any) -> None:
    # PostgreSQL refuses to drop a role that owns or holds anything (2BP01): what
    # is lost is logging in as it, and what its members held through it
    raise CannotModel(
        "DROP ROLE: its sessions and what its members held through it are not modelled",
        affects=_members_reach(scope, node.roles or ()),
    )


def _import_foreign_schema(scope: Scope, node: Any) -> None:
    """The remote server names the foreign tables it creates: harmless only when they are
    listed (LIMIT TO) and no relation anywhere has one of those names, so that nothing a
    version resolves now can be shadowed by one of them in its search_path."""
    listed = node.list_type == enums.ImportForeignSchemaType.FDW_IMPORT_SCHEMA_LIMIT_TO
    names = {str(rv.relname) for rv in node.table_list or ()}
    if not listed or any(rel.name in names for rel in scope.model.rels.values()):
        raise CannotModel(
            "IMPORT FOREIGN SCHEMA: the tables it creates may shadow relations in use"
        )


def _unmodellable(reason: str) -> Callable[[Scope, Any], None]:
    def judge(scope: Scope, node: Any) -> None:
        raise CannotModel(reason)

    return judge


_T = enums.pg_trigger


def _create_trigger(scope: Scope, node: Any) -> None:
    oid = scope.rel(node.relation)
    if oid is None:
        raise Rejected
    if not scope.existing(oid):
        return
    rel = scope.model.rels[oid]
    why = _trigger_harm(scope, node, oid)
    if why is not None:
        # INSTEAD OF triggers (views) fire on writes too: writers are what can notice
        raise CannotModel(
            f"CREATE TRIGGER {node.trigname} on {rel.qname}: {why}",
            affects=scope.reach([oid], Use.WRITES, rel.qname),
        )


def _trigger_harm(scope: Scope, node: Any, oid: int) -> str | None:
    """Why the trigger may change what writers see; None for a row filler that cannot."""
    unknown = "what its function does to writes is not modelled"
    fires = int(node.events or 0)
    before_row = node.timing == _T.TRIGGER_TYPE_BEFORE and node.row and not node.isconstraint
    if not before_row or fires & (_T.TRIGGER_TYPE_DELETE | _T.TRIGGER_TYPE_TRUNCATE):
        return unknown
    m = scope.model
    signature = scope.trigger_function(names_of(node.funcname))
    filler = scope.fillers.get(signature)
    if filler is None:  # made before this transaction: its body as the catalog read it
        body = next((f.trigger_body for f in m.funcs.values() if f.signature == signature), None)
        filler = row_filler("plpgsql", body) if body else None
    if filler is None:
        return unknown + " (only PL/pgSQL functions that just fill NEW's fields are read)"
    family = [oid, *scope.descendants(oid)]
    constraints = [c for c_oid, c in m.cons.items() if m.con_rel.get(c_oid) in family]
    indexes = [i for i_oid, i in m.idxs.items() if m.idx_rel.get(i_oid) in family]
    why = harm(filler, m.rels[oid], constraints, indexes)
    if why is None and node.whenClause is not None:
        when = condition_filler(node.whenClause)
        why = "its WHEN clause is not modelled" if when is None else harm(when, m.rels[oid], (), ())
    return None if why is None else f"its function {why}"


def _alter_domain(scope: Scope, node: Any) -> None:
    # T: SET/DROP DEFAULT, O: SET NOT NULL, C: ADD CONSTRAINT. A writer leaving a column
    # of the domain out gets the domain's default (when the column has none): a new one
    # may fail the domain's own check, or a table's check, key or foreign key.
    narrowing = node.subtype in ("T", "O", "C")
    names = names_of(node.typeName)
    if narrowing and scope.type_used(names):
        raise CannotModel(
            f"ALTER DOMAIN {'.'.join(names)}: constraints and defaults of domains "
            "used by columns are not modelled",
            affects=scope.type_reach(names, Use.WRITES),
        )


def _alter_policy(scope: Scope, node: Any) -> None:
    oid = scope.rel(node.table)
    if oid is None:
        raise Rejected
    rel = scope.model.rels[oid]
    if scope.existing(oid) and rel.rls and (node.roles or node.with_check is not None):
        raise CannotModel(
            f"ALTER POLICY {node.policy_name} ON {rel.qname}: "
            "changed roles or WITH CHECK of a policy are not modelled",
            affects=scope.reach([oid], Use.ANY, rel.qname),
        )


def _alter_owner(scope: Scope, node: Any) -> None:
    m = scope.model
    if node.objectType == _O.OBJECT_SCHEMA:
        name = str(node.object.sval)
        inside = [o for o, r in m.rels.items() if r.schema == name]
        affects = scope.reach(inside, Use.ANY, f"schema {name}")
        raise CannotModel(
            "ALTER SCHEMA ... OWNER TO: the old owner's implicit privileges are not modelled",
            affects=dataclasses.replace(affects, schemas=frozenset({name})),
        )
    if node.objectType in (_O.OBJECT_FUNCTION, _O.OBJECT_PROCEDURE, _O.OBJECT_ROUTINE):
        names = names_of(node.object.objname)
        reach = scope.function_reach(names)
        if reach is not None:
            raise CannotModel(
                f"ALTER FUNCTION {'.'.join(names)} OWNER TO: a SECURITY DEFINER function "
                "would run as the new owner; not modelled",
                affects=reach,
            )


def _reassign_owned(scope: Scope, node: Any) -> None:
    """The old owners lose the implicit privileges on what they owned: the versions
    connecting as them, and every version using one of their relations, are reached."""
    specs = list(node.roles or ())
    if not all(r.roletype == enums.RoleSpecType.ROLESPEC_CSTRING for r in specs):
        raise CannotModel("REASSIGN OWNED BY CURRENT_USER/SESSION_USER: roles not modelled")
    roles = frozenset(str(r.rolename) for r in specs)
    owned = [o for o, r in scope.model.rels.items() if r.owner in roles]
    affects = scope.reach(owned, Use.ANY, f"what {', '.join(sorted(roles))} owns")
    raise CannotModel(
        "REASSIGN OWNED: the old owners' implicit privileges are not modelled",
        affects=dataclasses.replace(affects, roles=affects.roles | roles),
    )


def replaced_trigger_function(scope: Scope, node: Any) -> None:
    """CREATE OR REPLACE of a trigger function existing triggers run: new code that does
    more than fill NEW's fields (it may raise, or write elsewhere) reaches their writers."""
    if not node.replace or node.parameters:
        return
    names = names_of(node.funcname)
    signature = scope.trigger_function(names)
    old = next((f for f in scope.initial.funcs.values() if f.signature == signature), None)
    if old is None or old.return_type != "trigger":
        return
    options = {str(o.defname): o.arg for o in node.options or ()}
    source, language = options.get("as"), options.get("language")
    plpgsql = isinstance(language, ast.String) and str(language.sval).lower() == "plpgsql"
    if plpgsql and source and row_filler("plpgsql", str(source[0].sval)) is not None:
        return
    reach = scope.function_reach(names)
    if reach is not None:
        raise CannotModel(
            f"CREATE OR REPLACE FUNCTION {signature}: what the new trigger code does to "
            "writes is not modelled (only PL/pgSQL functions that just fill NEW's fields "
            "are read)",
            affects=dataclasses.replace(reach, use=Use.WRITES),
        )


# ALTER FUNCTION actions that change nothing a caller can notice fail on.
_FUNCTION_HARMLESS = frozenset({"volatility", "leakproof", "cost", "rows", "support", "parallel"})


def _alter_function(scope: Scope, node: Any) -> None:
    for action in node.actions or ():
        name = str(action.defname)
        if name in _FUNCTION_HARMLESS:
            continue
        if name == "set" and _safe_setting(str(action.arg.name or "").lower()):
            continue
        names = names_of(node.func.objname)
        reach = scope.function_reach(names)
        if reach is None:
            return
        raise CannotModel(
            f"ALTER FUNCTION {'.'.join(names)} {name.upper()}: what its callers then get "
            "is not modelled",
            affects=reach,
        )


# ALTER SEQUENCE options after which nextval still succeeds and stays unique: the numbers
# a RESTART would start from, how many a session takes at once, who owns it.
_SEQUENCE_HARMLESS = frozenset({"start", "cache", "owned_by", "sequence_name"})


def risky_sequence_options(options: Iterable[Any]) -> list[str]:
    """The options of ALTER SEQUENCE (or of an identity column's sequence) after which
    nextval may fail or return a value already used (RESTART, MAXVALUE, INCREMENT...).
    Those that only widen what it may return pass: CYCLE (at its end nextval wraps where
    it failed), AS bigint (the widest type: a limit that was the old type's grows to its
    own) and NO MAXVALUE (the type's limit), as PostgreSQL runs them."""
    return [
        str(o.defname)
        for o in options
        if str(o.defname) not in _SEQUENCE_HARMLESS
        and not (str(o.defname) == "cycle" and _truthy(o.arg))
        and not (str(o.defname) == "as" and sequence_type_name(o.arg) in {"int8", "bigint"})
        and not (str(o.defname) == "maxvalue" and o.arg is None)
    ]


def sequence_type_name(node: Any) -> str:
    """The type of ``AS type``, as the catalog names it (``int8`` for bigint)."""
    names = [str(n.sval) for n in getattr(node, "names", None) or () if isinstance(n, ast.String)]
    return names[-1] if names else ""


def _create_cast(scope: Scope, node: Any) -> None:
    """A cast PostgreSQL may apply implicitly is one more path when it resolves an
    operator or a function call: ``text || integer`` finds ``textcat`` and
    ``anytextcat`` once integer casts to text implicitly, and fails with 42725. Which
    statements that reaches is not learned (operators are learned by name only): every
    relation and function is in its reach, so replay judges the versions it sampled.
    Explicit and assignment casts only make statements succeed that failed before."""
    if node.context != enums.CoercionContext.COERCION_IMPLICIT:
        return
    types = " AS ".join(".".join(names_of(t.names)) for t in (node.sourcetype, node.targettype))
    raise CannotModel(
        f"CREATE CAST ({types}) AS IMPLICIT: operator and function calls may resolve "
        "differently or become ambiguous (42725); which ones is not modelled",
        affects=scope.reach(scope.initial.rels, Use.ANY, "every statement"),
    )


def _alter_event_trigger(scope: Scope, node: Any) -> None:
    if node.tgenabled != "D":  # disabled, it runs nothing (the backstop's: own_objects)
        raise CannotModel(
            "ALTER EVENT TRIGGER ... ENABLE: the code it runs at every later DDL of any "
            "session is not modelled"
        )


JUDGES: dict[type, Callable[[Scope, Any], None]] = {
    ast.AlterRoleSetStmt: _alter_role_set,
    ast.AlterDatabaseSetStmt: _alter_database_set,
    ast.AlterSystemStmt: _alter_system,
    ast.AlterRoleStmt: _alter_role,
    ast.AlterDatabaseStmt: _alter_database,
    ast.GrantRoleStmt: _grant_role,
    ast.CreateTrigStmt: _create_trigger,
    ast.AlterDomainStmt: _alter_domain,
    ast.AlterPolicyStmt: _alter_policy,
    ast.AlterOwnerStmt: _alter_owner,
    ast.AlterFunctionStmt: _alter_function,
    ast.CreateCastStmt: _create_cast,
    ast.ImportForeignSchemaStmt: _import_foreign_schema,
    # What these reach is unknown: any version may notice.
    ast.DoStmt: _unmodellable("DO block: what the code does is not modelled"),
    ast.DropOwnedStmt: _unmodellable("DROP OWNED BY: ownership closure not modelled"),
    ast.CreateEventTrigStmt: _unmodellable(
        "CREATE EVENT TRIGGER: the code it runs at every later DDL of any session is not modelled"
    ),
    ast.AlterEventTrigStmt: _alter_event_trigger,
    ast.ReassignOwnedStmt: _reassign_owned,
    ast.DropRoleStmt: _drop_role,
    ast.DropdbStmt: _drop_database,
    ast.DropUserMappingStmt: _unmodellable("DROP USER MAPPING: foreign access is not modelled"),
    ast.AlterExtensionStmt: _unmodellable(
        "ALTER EXTENSION ... UPDATE: what the update script changes is not modelled"
    ),
}

__all__ = [
    "HARMLESS",
    "JUDGES",
    "Scope",
    "names_of",
    "replaced_trigger_function",
    "risky_sequence_options",
    "sequence_type_name",
]
