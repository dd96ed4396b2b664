"""Statements the model does not represent: harmless ones, and the ones it cannot model.

The overlay models what it can (:mod:`skewguard.ddl.overlay`). Every other
statement type is listed here, in one of two tables:

- :data:`HARMLESS`: nothing a client version can observe changes (COMMENT,
  CREATE of a brand-new object nothing references yet, statistics, ...);
- :data:`JUDGES`: a function per statement type that returns when this use of
  the statement is harmless and raises :class:`CannotModel` with the reason
  when it changes existing objects in a way the model does not follow
  (``DO``, ``DROP OWNED BY``, a trigger on an existing table, ``REVOKE`` of a
  role membership...).

A statement type in neither table that is DDL raises :class:`CannotModel` too
(an allowlist: a new kind of statement is never waved through).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pglast import ast, enums

from skewguard.catalog import RelKind, qualified
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Model

_O = enums.ObjectType


@dataclass(frozen=True)
class Scope:
    """What a judge may look at: the working model, the one the transaction
    started from (objects in it exist for other sessions) and the search path."""

    model: Model
    initial: Model
    path: Sequence[str]

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
        schemas = [names[-2]] if len(names) > 1 else list(self.path)
        wanted = {t for s in schemas for q in [qualified(s, names[-1])] for t in (q, q + "[]")}
        return any(
            c.base_type in wanted
            for oid, rel in self.model.rels.items()
            if self.existing(oid)
            for c in rel.columns
        )


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
        ast.AlterSeqStmt,
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
        ast.AlterSystemStmt,  # takes effect at the next reload, outside any migration
        ast.AlterTypeStmt,
        ast.AlterCollationStmt,
        ast.AlterFunctionStmt,
        ast.AlterObjectDependsStmt,
        ast.AlterOperatorStmt,
        ast.AlterOpFamilyStmt,
        ast.CreateOpClassStmt,
        ast.CreateOpFamilyStmt,
        ast.CreateAmStmt,
        ast.CreateCastStmt,
        ast.CreateConversionStmt,
        ast.CreateTransformStmt,
        ast.CreatePLangStmt,
        ast.AlterTSConfigurationStmt,
        ast.AlterTSDictionaryStmt,
        ast.CreateEventTrigStmt,
        ast.AlterEventTrigStmt,
        ast.CreateFdwStmt,
        ast.AlterFdwStmt,
        ast.CreateForeignServerStmt,
        ast.AlterForeignServerStmt,
        ast.CreateUserMappingStmt,
        ast.AlterUserMappingStmt,
        ast.ImportForeignSchemaStmt,
        ast.CreateSubscriptionStmt,
        ast.AlterSubscriptionStmt,
        ast.DropSubscriptionStmt,
        ast.ExplainStmt,
        ast.PrepareStmt,
        ast.DeclareCursorStmt,
        ast.SelectStmt,  # SELECT ... INTO: a new table
    }
)

# Settings whose per-role / per-database default cannot make a client's statement fail.
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
    }
)
_SAFE_SETTING_PREFIXES = ("log_", "track_", "enable_", "cpu_", "parallel_", "auto_explain.")


def _setting(stmt: Any, what: str) -> None:
    name = str(stmt.name or "").lower()
    if stmt.kind == enums.VariableSetKind.VAR_RESET_ALL:
        raise CannotModel(f"{what} RESET ALL: the defaults it restores are not modelled")
    if name in _SAFE_SETTINGS or name.startswith(_SAFE_SETTING_PREFIXES):
        return
    raise CannotModel(f"{what} SET {name}: new sessions' behaviour under it is not modelled")


def _alter_role_set(scope: Scope, node: Any) -> None:
    _setting(node.setstmt, "ALTER ROLE")


def _alter_database_set(scope: Scope, node: Any) -> None:
    _setting(node.setstmt, "ALTER DATABASE")


# Role attributes whose loss can stop a version from connecting or reading.
_ROLE_LOSSES = frozenset({"canlogin", "superuser", "inherit", "bypassrls"})
_ROLE_LIMITS = frozenset({"connectionlimit", "validUntil"})


def _alter_role(scope: Scope, node: Any) -> None:
    for opt in node.options or ():
        name = str(opt.defname)
        if name in _ROLE_LOSSES and not _truthy(opt.arg):
            raise CannotModel(f"ALTER ROLE ... NO{name.upper()}: roles are not modelled")
        if name in _ROLE_LIMITS:
            raise CannotModel(f"ALTER ROLE ... {name}: connection limits are not modelled")
        if name == "rolemembers" and node.action == -1:
            raise CannotModel("ALTER GROUP ... DROP USER: role membership is not modelled")


def _alter_database(scope: Scope, node: Any) -> None:
    for opt in node.options or ():
        name = str(opt.defname)
        if (name == "allow_connections" and not _truthy(opt.arg)) or name == "connection_limit":
            raise CannotModel(f"ALTER DATABASE ... {name}: connections are not modelled")


def _grant_role(scope: Scope, node: Any) -> None:
    if node.is_grant:
        return
    if node.opt and all(str(o.defname) == "admin" for o in node.opt):
        return  # REVOKE ADMIN OPTION FOR: the membership stays
    raise CannotModel("REVOKE of a role membership: role membership is not modelled")


def _unmodellable(reason: str) -> Callable[[Scope, Any], None]:
    def judge(scope: Scope, node: Any) -> None:
        raise CannotModel(reason)

    return judge


def _create_trigger(scope: Scope, node: Any) -> None:
    oid = scope.rel(node.relation)
    if oid is None:
        raise Rejected
    if scope.existing(oid):
        rel = scope.model.rels[oid]
        raise CannotModel(
            f"CREATE TRIGGER on {rel.qname}: what the trigger does to statements is not modelled"
        )


def _alter_domain(scope: Scope, node: Any) -> None:
    # T: SET/DROP DEFAULT (def_ None: drop), O: SET NOT NULL, C: ADD CONSTRAINT
    narrowing = (node.subtype == "T" and node.def_ is None) or node.subtype in ("O", "C")
    names = names_of(node.typeName)
    if narrowing and scope.type_used(names):
        raise CannotModel(
            f"ALTER DOMAIN {'.'.join(names)}: constraints and defaults of domains "
            "used by columns are not modelled"
        )


def _alter_policy(scope: Scope, node: Any) -> None:
    oid = scope.rel(node.table)
    if oid is None:
        raise Rejected
    rel = scope.model.rels[oid]
    if scope.existing(oid) and rel.rls and (node.roles or node.with_check is not None):
        raise CannotModel(
            f"ALTER POLICY {node.policy_name} ON {rel.qname}: "
            "changed roles or WITH CHECK of a policy are not modelled"
        )


def _publishes_changes(options: Any) -> bool:
    for opt in options or ():
        if str(opt.defname) == "publish" and isinstance(opt.arg, ast.String):
            kinds = {k.strip() for k in str(opt.arg.sval).split(",")}
            return bool(kinds & {"update", "delete"})
    return True


def _published_tables(scope: Scope, node: Any, everything: bool) -> list[int]:
    m = scope.model
    tables = [o for o, r in m.rels.items() if r.kind == RelKind.TABLE]
    if everything:
        return tables
    out: list[int] = []
    for spec in node.pubobjects or ():
        kind = spec.pubobjtype
        if kind == enums.PublicationObjSpecType.PUBLICATIONOBJ_TABLE and spec.pubtable:
            oid = scope.rel(spec.pubtable.relation)
            if oid is not None:
                out.append(oid)
        elif spec.name:
            out.extend(o for o in tables if m.rels[o].schema == spec.name)
        else:
            out.extend(o for o in tables if m.rels[o].schema in scope.path)
    return out


def _check_replica_identity(scope: Scope, tables: list[int], what: str) -> None:
    m = scope.model
    for oid in tables:
        if not scope.existing(oid):
            continue
        if not any(m.con_rel[c] == oid and m.cons[c].type == "p" for c in m.cons):
            raise CannotModel(
                f"{what}: UPDATE/DELETE on {m.rels[oid].qname} (no primary key) would fail "
                "unless it has a replica identity; replica identity is not modelled"
            )


def _create_publication(scope: Scope, node: Any) -> None:
    if _publishes_changes(node.options):
        tables = _published_tables(scope, node, bool(node.for_all_tables))
        _check_replica_identity(scope, tables, "CREATE PUBLICATION")


def _alter_publication(scope: Scope, node: Any) -> None:
    if node.options and _publishes_changes(node.options):
        raise CannotModel("ALTER PUBLICATION SET (publish): published tables are not modelled")
    if node.action != enums.AlterPublicationAction.AP_DropObjects:
        tables = _published_tables(scope, node, bool(node.for_all_tables))
        _check_replica_identity(scope, tables, "ALTER PUBLICATION")


def _alter_owner(scope: Scope, node: Any) -> None:
    if node.objectType == _O.OBJECT_SCHEMA:
        raise CannotModel(
            "ALTER SCHEMA ... OWNER TO: the old owner's implicit privileges are not modelled"
        )


JUDGES: dict[type, Callable[[Scope, Any], None]] = {
    ast.AlterRoleSetStmt: _alter_role_set,
    ast.AlterDatabaseSetStmt: _alter_database_set,
    ast.AlterRoleStmt: _alter_role,
    ast.AlterDatabaseStmt: _alter_database,
    ast.GrantRoleStmt: _grant_role,
    ast.CreateTrigStmt: _create_trigger,
    ast.AlterDomainStmt: _alter_domain,
    ast.AlterPolicyStmt: _alter_policy,
    ast.CreatePublicationStmt: _create_publication,
    ast.AlterPublicationStmt: _alter_publication,
    ast.AlterOwnerStmt: _alter_owner,
    ast.DoStmt: _unmodellable("DO block: what the code does is not modelled"),
    ast.DropOwnedStmt: _unmodellable("DROP OWNED BY: ownership closure not modelled"),
    ast.ReassignOwnedStmt: _unmodellable("REASSIGN OWNED: ownership closure not modelled"),
    ast.DropRoleStmt: _unmodellable("DROP ROLE: the versions connecting as it are not modelled"),
    ast.DropdbStmt: _unmodellable("DROP DATABASE: other databases are not modelled"),
    ast.DropUserMappingStmt: _unmodellable("DROP USER MAPPING: foreign access is not modelled"),
    ast.AlterExtensionStmt: _unmodellable(
        "ALTER EXTENSION ... UPDATE: what the update script changes is not modelled"
    ),
}

__all__ = ["HARMLESS", "JUDGES", "Scope", "names_of"]
