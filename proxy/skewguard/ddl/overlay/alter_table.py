"""ALTER TABLE: each subcommand, which ones a parent passes down to its children, which
change nothing a client sees and which are not modelled."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import Relation
from skewguard.ddl.affects import Use
from skewguard.ddl.errors import CannotModel, Rejected
from skewguard.ddl.model import Dependent, Holder, Model
from skewguard.ddl.opaque import risky_sequence_options
from skewguard.ddl.overlay.calls import record_calls
from skewguard.ddl.overlay.cascade import drop_column, drop_constraint
from skewguard.ddl.overlay.columns import add_column, set_column, with_default
from skewguard.ddl.overlay.constraints import add_constraint
from skewguard.ddl.overlay.existing_triggers import enabling_may_run_ddl
from skewguard.ddl.overlay.names import column_collation, column_type, find_rv
from skewguard.ddl.overlay.nodes import deparse
from skewguard.ddl.overlay.publications import set_replica_identity
from skewguard.ddl.overlay.sequences import set_options

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

_O = enums.ObjectType
_AT = enums.AlterTableType
_C = enums.ConstrType


# ALTER TABLE ... ENABLE/DISABLE/FORCE/NO FORCE ROW LEVEL SECURITY
_ROW_SECURITY: dict[Any, Callable[[Relation], Relation]] = {
    _AT.AT_EnableRowSecurity: lambda r: dataclasses.replace(r, rls=True),
    _AT.AT_DisableRowSecurity: lambda r: dataclasses.replace(r, rls=False),
    _AT.AT_ForceRowSecurity: lambda r: dataclasses.replace(r, rls_forced=True),
    _AT.AT_NoForceRowSecurity: lambda r: dataclasses.replace(r, rls_forced=False),
}


def alter_table(ov: Overlay, m: Model, node: Any) -> None:
    if node.objtype == _O.OBJECT_INDEX:
        return  # tablespace, storage options, statistics, ATTACH PARTITION of an index
    if node.objtype == _O.OBJECT_TYPE:  # ALTER TYPE composite ADD/DROP/ALTER ATTRIBUTE
        rv = node.relation
        names = [str(rv.schemaname), str(rv.relname)] if rv.schemaname else [str(rv.relname)]
        scope = ov.scope(m)
        if scope.type_used(names) or scope.type_existed(names):  # columns, casts, ROW(...)::t
            raise CannotModel(
                f"ALTER TYPE {rv.relname}: attributes of an existing composite type "
                "are not modelled",
                affects=scope.type_reach(names, Use.ANY),
            )
        return
    oid = find_rv(ov, m, node.relation, bool(node.missing_ok))
    if oid is None:
        return
    recurse = bool(node.relation.inh) and descendants(ov, m, oid)
    pending: list[tuple[Any, list[str]]] = []
    cmds = list(node.cmds or ())
    for n, cmd in enumerate(cmds, 1):
        try:
            _alter_cmd(ov, m, oid, cmd, pending)
        except CannotModel as exc:
            if len(cmds) == 1:
                raise
            if exc.affects is None:  # nothing of the statement can be judged
                raise CannotModel(
                    f"{exc.reason} (subcommand {n} of {len(cmds)}, {deparse(cmd).strip()[:80]}: "
                    "send it in an ALTER TABLE of its own so the others are judged)",
                    internal=exc.internal,
                ) from exc
            # judged by its reach, as alone; the other subcommands by the model
            ov.unmodelled_part(exc)
            continue
        if recurse and _recurses(cmd):
            for child in descendants(ov, m, oid):
                _alter_child(ov, m, child, cmd)
    for con, con_cols in pending:
        add_constraint(ov, m, oid, con, con_cols)


def _alter_constraint(ov: Overlay, m: Model, oid: int, spec: Any) -> None:
    """ALTER CONSTRAINT: its deferrability changes when writers meet its check; PG18's
    [NOT] ENFORCED and [NO] INHERIT are not modelled (only writers can notice them)."""
    if getattr(spec, "alterEnforceability", False) or getattr(spec, "alterInheritability", False):
        raise CannotModel(
            "ALTER CONSTRAINT ... ENFORCED / INHERIT: not modelled",
            affects=ov.scope(m).reach([oid], Use.WRITES, m.rels[oid].qname),
        )
    con = next((c for c in m.cons_of(oid) if m.cons[c].name == spec.conname), None)
    if con is None:
        raise Rejected
    if getattr(spec, "alterDeferrability", True):
        m.cons[con] = m.cons[con].with_deferrability(bool(spec.deferrable), bool(spec.initdeferred))


def descendants(ov: Overlay, m: Model, oid: int) -> list[int]:
    """Inheritance children and partitions, recursively (pg_inherits)."""
    return ov.scope(m).descendants(oid)


def _alter_child(ov: Overlay, m: Model, child: int, cmd: Any) -> None:
    """A column change of a parent, as PostgreSQL passes it down to a child."""
    rel = m.rels[child]
    exists = cmd.name is not None and rel.column(str(cmd.name)) is not None
    if cmd.subtype == _AT.AT_AddColumn:
        if rel.column(str(cmd.def_.colname)) is None:
            add_column(ov, m, child, cmd.def_)
    elif cmd.subtype == _AT.AT_AddConstraint:
        name = cmd.def_.conname
        if not any(m.cons[c].name == name for c in m.cons_of(child)):
            add_constraint(ov, m, child, cmd.def_, [])
    elif exists:
        _alter_cmd(ov, m, child, cmd, [])


def _alter_cmd(
    ov: Overlay, m: Model, oid: int, cmd: Any, pending: list[tuple[Any, list[str]]]
) -> None:
    st = cmd.subtype
    rel = m.rels[oid]
    name = cmd.name
    if st == _AT.AT_AddColumn:
        pending.extend(add_column(ov, m, oid, cmd.def_, if_not_exists=bool(cmd.missing_ok)))
        return
    if st in (_AT.AT_AddConstraint,):
        add_constraint(ov, m, oid, cmd.def_, [])
        return
    if st == _AT.AT_DropConstraint:
        drop_constraint(
            m,
            oid,
            str(name),
            bool(cmd.missing_ok),
            cmd.behavior == enums.DropBehavior.DROP_CASCADE,
        )
        return
    if st == _AT.AT_ValidateConstraint:
        for i, c in m.cons.items():
            if m.con_rel[i] == oid and c.name == name:
                m.cons[i] = dataclasses.replace(c, validated=True)
        return
    if st in _ROW_SECURITY:
        m.put_rel(oid, _ROW_SECURITY[st](rel))
        return
    if st not in _AT_MODELLED:
        _alter_other(ov, m, oid, cmd)
        return
    col = rel.column(str(name))
    if st == _AT.AT_DropColumn:
        if col is None:
            if cmd.missing_ok:
                return
            raise Rejected
        cascade = cmd.behavior == enums.DropBehavior.DROP_CASCADE
        drop_column(ov, m, oid, col.name, cascade, f"{rel.qname}.{col.name}")
        return
    if col is None:
        raise Rejected
    if st == _AT.AT_AlterColumnType:
        attid = m.attids[oid][col.name]
        if any(("col", oid, attid) in deps for deps in m.deps.values()):
            raise Rejected  # cannot alter type of a column used by a view or rule
        type_name, base = column_type(ov, m, cmd.def_.typeName)
        collation = column_collation(cmd.def_)
        set_column(m, oid, col.name, type_name=type_name, base_type=base, collation=collation)
    elif st == _AT.AT_SetNotNull:
        set_column(m, oid, col.name, not_null=True)
    elif st == _AT.AT_DropNotNull:
        set_column(m, oid, col.name, not_null=False)
    elif st == _AT.AT_ColumnDefault:
        new = with_default(ov, m, col, cmd.def_)
        fresh = set(new.default_sequences) - set(col.default_sequences)
        unique = any(
            i.unique and col.name in i.keys for o, i in m.idxs.items() if m.idx_rel.get(o) == oid
        )
        if fresh and unique and ov.scope(m).existing(oid):  # the default itself is modelled
            ov.unmodelled_part(
                CannotModel(
                    f"ALTER COLUMN {rel.qname}.{col.name} SET DEFAULT from "
                    f"{', '.join(sorted(fresh))}: whether its numbers are free in a unique "
                    "column is not modelled",
                    affects=ov.scope(m).reach([oid], Use.WRITES, rel.qname),
                )
            )
        attid = m.attids[oid][col.name]
        m.edges = {e for e in m.edges if e.dependent != Dependent(Holder.DEFAULT, oid, attid)}
        if cmd.def_ is not None:
            record_calls(ov, m, Dependent(Holder.DEFAULT, oid, attid), cmd.def_)
        set_column(
            m,
            oid,
            col.name,
            has_default=new.has_default,
            default=new.default,
            default_sequences=new.default_sequences,
        )
    elif st == _AT.AT_AddIdentity:
        # ALWAYS: the writers supplying the column are judged on the change (SG122)
        always = cmd.def_ is not None and cmd.def_.generated_when == "a"
        set_column(
            m, oid, col.name, identity="a" if always else "d", has_default=True, not_null=True
        )
    elif st == _AT.AT_SetIdentity:
        if not col.identity:
            raise Rejected  # column is not an identity column
        # SET GENERATED ALWAYS | BY DEFAULT: the grammar stores the attidentity
        # character ('a' or 'd') as an Integer.
        when = [_int_or_str(o.arg) for o in cmd.def_ or () if str(o.defname) == "generated"]
        options = [o for o in cmd.def_ or () if o.defname != "generated"]
        risky = risky_sequence_options(options)
        owned = [m.rel_oid(*split_qualified_name(s)) for s in col.default_sequences]
        if risky and len(owned) == 1 and owned[0] is not None:  # the identity's sequence
            set_options(ov, m, owned[0], options)
        elif risky and ov.scope(m).existing(oid):  # GENERATED ALWAYS / BY DEFAULT is modelled
            ov.unmodelled_part(
                CannotModel(
                    f"ALTER COLUMN {rel.qname}.{col.name} {', '.join(risky).upper()}: whether "
                    "the identity's nextval still succeeds with values not yet used is not "
                    "modelled",
                    affects=ov.scope(m).reach([oid], Use.WRITES, rel.qname),
                )
            )
        always = ord("a") in when
        if when:
            set_column(m, oid, col.name, identity="a" if always else "d")
    elif st == _AT.AT_DropExpression:  # the stored values stay, a plain column's now
        set_column(m, oid, col.name, generated="", generated_from=())
    elif st == _AT.AT_DropIdentity:
        set_column(
            m, oid, col.name, identity="", has_default=False, default=None, default_sequences=()
        )


def _alter_other(ov: Overlay, m: Model, oid: int, cmd: Any) -> None:
    """ALTER TABLE subcommands that do not change columns or constraints."""
    st = cmd.subtype
    rel = m.rels[oid]
    existing = ov.scope(m).existing(oid)
    if st == _AT.AT_AlterConstraint:
        _alter_constraint(ov, m, oid, cmd.def_)
        return
    if st in _AT_HARMLESS:
        return
    if st in _AT_TRIGGERS:
        if existing and st in _AT_ENABLE_TRIGGERS and enabling_may_run_ddl(m, oid, cmd.name):
            raise CannotModel(  # code that may change any schema at the next write
                f"ENABLE TRIGGER on {rel.qname}: its function may run DDL; not modelled"
            )
        if existing:
            raise CannotModel(
                f"ENABLE/DISABLE TRIGGER on {rel.qname}: triggers are not modelled",
                affects=ov.scope(m).reach([oid], Use.WRITES, rel.qname),
            )
        return
    if st == _AT.AT_ReplicaIdentity:
        set_replica_identity(m, oid, cmd.def_)
        return
    if st in _AT_RULES:
        enabled = st != _AT.AT_DisableRule
        rules = tuple(
            dataclasses.replace(r, enabled=enabled) if r.name == cmd.name else r for r in rel.rules
        )
        m.put_rel(oid, dataclasses.replace(rel, rules=rules))
    elif st == _AT.AT_ChangeOwner:
        owner = _role_name(cmd.newowner)
        old = rel.owner or "owner"
        acl = (
            None
            if rel.acl is None
            else tuple(
                (owner if i.partition("=")[0] == old else i.partition("=")[0])
                + "="
                + i.partition("=")[2].replace("/" + old, "/" + owner)
                for i in rel.acl
            )
        )
        m.put_rel(oid, dataclasses.replace(rel, owner=owner, acl=acl))
    elif st in (_AT.AT_SetRelOptions, _AT.AT_ResetRelOptions, _AT.AT_ReplaceRelOptions):
        names = {str(o.defname) for o in cmd.def_ or ()}
        if existing and names & {"check_option", "security_invoker"}:
            # CHECK OPTION refuses writes; security_invoker checks readers' privileges too
            use = Use.ANY if "security_invoker" in names else Use.WRITES
            raise CannotModel(
                f"ALTER VIEW {rel.qname} SET ({', '.join(sorted(names))}): "
                "what the view then refuses is not modelled",
                affects=ov.scope(m).reach([oid], use, rel.qname),
            )
    elif st == _AT.AT_AddInherit:
        parent = find_rv(ov, m, cmd.def_)
        assert parent is not None
        m.parents[oid] = (*m.parents.get(oid, ()), parent)
    elif st == _AT.AT_DropInherit:
        parent = find_rv(ov, m, cmd.def_)
        m.parents[oid] = tuple(p for p in m.parents.get(oid, ()) if p != parent)
    elif st == _AT.AT_AttachPartition:
        child = find_rv(ov, m, cmd.def_.name)
        assert child is not None
        m.parents[child] = (oid,)
        m.partitions.add(child)
    elif st in (_AT.AT_DetachPartition, _AT.AT_DetachPartitionFinalize):
        if existing:
            raise CannotModel(
                f"DETACH PARTITION from {rel.qname}: writes routed to the partition "
                "would fail; not modelled",
                affects=ov.scope(m).reach([oid], Use.WRITES, rel.qname),
            )
        child = find_rv(ov, m, cmd.def_.name)
        m.parents.pop(child or -1, None)
        m.partitions.discard(child or -1)
    else:
        raise CannotModel(
            f"ALTER TABLE subcommand {st.name}: not modelled",
            affects=ov.scope(m).reach([oid], Use.ANY, rel.qname),
        )


_AT_MODELLED = frozenset(
    {
        _AT.AT_AddColumn,
        _AT.AT_AddConstraint,
        _AT.AT_DropConstraint,
        _AT.AT_ValidateConstraint,
        _AT.AT_DropColumn,
        _AT.AT_AlterColumnType,
        _AT.AT_SetNotNull,
        _AT.AT_DropNotNull,
        _AT.AT_ColumnDefault,
        _AT.AT_AddIdentity,
        _AT.AT_SetIdentity,
        _AT.AT_DropIdentity,
        _AT.AT_DropExpression,
    }
)


# Subcommands that change nothing a client statement can observe.
_AT_HARMLESS = frozenset(
    {
        _AT.AT_SetStatistics,
        _AT.AT_SetOptions,
        _AT.AT_ResetOptions,
        _AT.AT_SetStorage,
        _AT.AT_SetCompression,
        _AT.AT_AlterColumnGenericOptions,
        _AT.AT_SetExpression,  # a generated column computes differently
        _AT.AT_ClusterOn,
        _AT.AT_DropCluster,
        _AT.AT_SetLogged,
        _AT.AT_SetUnLogged,
        _AT.AT_DropOids,
        _AT.AT_SetAccessMethod,
        _AT.AT_SetTableSpace,
        _AT.AT_AddOf,
        _AT.AT_DropOf,
        _AT.AT_GenericOptions,
    }
)


_AT_TRIGGERS = frozenset(
    {
        _AT.AT_EnableTrig,
        _AT.AT_EnableAlwaysTrig,
        _AT.AT_EnableReplicaTrig,
        _AT.AT_DisableTrig,
        _AT.AT_EnableTrigAll,
        _AT.AT_DisableTrigAll,
        _AT.AT_EnableTrigUser,
        _AT.AT_DisableTrigUser,
    }
)


_AT_ENABLE_TRIGGERS = frozenset(
    {
        _AT.AT_EnableTrig,
        _AT.AT_EnableAlwaysTrig,
        _AT.AT_EnableReplicaTrig,
        _AT.AT_EnableTrigAll,
        _AT.AT_EnableTrigUser,
    }
)


_AT_RULES = frozenset(
    {_AT.AT_EnableRule, _AT.AT_EnableAlwaysRule, _AT.AT_EnableReplicaRule, _AT.AT_DisableRule}
)


# Subcommands a parent passes down to its children (unless ALTER TABLE ONLY).
_AT_RECURSIVE = frozenset(
    {
        _AT.AT_AddColumn,
        _AT.AT_DropColumn,
        _AT.AT_AlterColumnType,
        _AT.AT_SetNotNull,
        _AT.AT_DropNotNull,
        _AT.AT_ColumnDefault,
    }
)


def _recurses(cmd: Any) -> bool:
    if cmd.subtype in _AT_RECURSIVE:
        return True
    return bool(cmd.subtype == _AT.AT_AddConstraint and cmd.def_.contype == _C.CONSTR_CHECK)


def _int_or_str(arg: Any) -> Any:
    if isinstance(arg, ast.Integer):
        return arg.ival
    if isinstance(arg, ast.String):
        return arg.sval
    return None


def _role_name(spec: Any) -> str:
    if spec is None or spec.roletype == enums.RoleSpecType.ROLESPEC_PUBLIC:
        return ""
    return str(spec.rolename or spec.roletype.name.removeprefix("ROLESPEC_").lower())
