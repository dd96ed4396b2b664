"""Diff two catalog models into typed changes, as other versions see them.

Names are what versions use, so the diff is by name first: a name that
disappears is a drop or a rename (told apart by identity, for the message),
unless something recreates it — ``ALTER TABLE users RENAME TO people; CREATE
VIEW users AS SELECT * FROM people`` leaves ``public.users`` and its columns in
place, and only a :class:`ReplaceRelation` (table became view) remains.
"""

from __future__ import annotations

from collections.abc import Iterable

from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import (
    Column,
    Constraint,
    Index,
    Relation,
    RelKind,
    ident,
    privileges_by_role,
    qualified,
    split_operator_signature,
)
from skewguard.ddl.changes import (
    AddColumn,
    AddConstraint,
    AlterColumnType,
    AlterSequence,
    AttachPartition,
    Change,
    ChangeDefault,
    ConstraintType,
    CreateFunction,
    CreateIndex,
    CreateRelation,
    CreateRule,
    DetachPartition,
    DropColumn,
    DropConstraint,
    DropDefault,
    DropExpression,
    DropFunction,
    DropIndex,
    DropMaterializedView,
    DropNamedObject,
    DropOperator,
    DropPolicy,
    DropRelation,
    DropSchema,
    DropSequence,
    DropTable,
    DropType,
    DropView,
    EnableRowLevelSecurity,
    EnumAddValue,
    EnumDropValue,
    EnumRenameValue,
    ForceRowLevelSecurity,
    RecreateEnum,
    RenameColumn,
    RenameConstraint,
    RenameIndex,
    RenameRelation,
    RenameSchema,
    ReorderColumns,
    ReplaceFunction,
    ReplaceRelation,
    ReplicaIdentityLost,
    Revoke,
    SetDeferrable,
    SetGenerated,
    SetIdentityAlways,
    SetNotNull,
    SetSchema,
)
from skewguard.ddl.model import Model, changes
from skewguard.ddl.types import classify_type_change

_DROP_KIND: dict[RelKind, type[DropRelation]] = {
    RelKind.TABLE: DropTable,
    RelKind.PARTITIONED: DropTable,
    RelKind.FOREIGN: DropTable,
    RelKind.VIEW: DropView,
    RelKind.MATVIEW: DropMaterializedView,
    RelKind.SEQUENCE: DropSequence,
}


def _col_subject(rel: Relation, name: str) -> str:
    return f"{rel.qname}.{ident(name)}"


def diff(before: Model, after: Model) -> list[Change]:
    """Every change from ``before`` to ``after`` (objects created in between are ignored).

    Only what differs is compared (``changes``): the cost follows the change,
    not the catalog.
    """
    changed = changes(before, after)
    replication = _replica_identity(before, after, changed.rels)
    sequences = _sequences(before, after)
    out: list[Change] = _removed_partitions(before, after, changed.rels)
    out += _added_partitions(before, after, changed.rels)
    before, after = before.restricted(changed), after.restricted(changed)
    renamed_schemas = _schemas(before, after, out)
    for oid, rel in sorted(before.rels.items(), key=lambda kv: (kv[1].schema, kv[1].name)):
        _relation(before, after, oid, rel, renamed_schemas, out)
    for oid, rel in sorted(after.rels.items(), key=lambda kv: (kv[1].schema, kv[1].name)):
        if oid not in before.rels and before.rel_oid(rel.schema, rel.name) is None:
            out.append(CreateRelation(rel.qname, rel.kind))
    _constraints(before, after, out)
    _indexes(before, after, out)
    _functions(before, after, out, renamed_schemas)
    _enums(before, after, out, renamed_schemas)
    _types(before, after, out, renamed_schemas)
    _operators(before, after, out, renamed_schemas)
    out += [
        DropNamedObject(name, object_kind=kind, new_name=new)
        for (kind, name), new in sorted(after.named_drops.items())
        if (kind, name) not in before.named_drops
    ]
    return list(dict.fromkeys(out + replication + sequences))


def _sequences(before: Model, after: Model) -> list[Change]:
    """Sequences whose numbers ALTER SEQUENCE changed, with the columns a unique index
    checks alone whose default draws from them (where a number used again collides)."""
    out: list[Change] = []
    for oid, options in sorted(after.seq_options.items()):
        if before.seq_options.get(oid) == options or oid not in after.rels:
            continue
        qname = after.rel_qname(oid)
        unique = {
            (after.idx_rel[i], x.keys[0])
            for i, x in after.idxs.items()
            if x.unique and len(x.keys) == 1 and not x.predicate and i in after.idx_rel
        }
        columns = tuple(
            sorted(
                _col_subject(rel, col.name)
                for t, rel in after.rels.items()
                for col in rel.columns
                if qname in col.default_sequences and (t, col.name) in unique
            )
        )
        out.append(AlterSequence(qname, options, columns, relation=qname))
    return out


def _replica_identity(before: Model, after: Model, changed: Iterable[int]) -> list[Change]:
    """Tables whose UPDATEs or DELETEs PostgreSQL refuses after the change and not before
    (published without a replica identity). Only the changed tables can be, unless the
    publications themselves changed: then any table can."""
    if not after.publications:
        return []
    tables = set(changed) | _newly_published(before, after)
    published = [
        oid
        for oid in sorted(tables)
        if oid in before.rels and oid in after.rels and after.published_changes(oid)
    ]
    if not published:  # no index is looked at: the cost follows the published tables
        return []
    out: list[Change] = []
    was, now = before.identity_indexes(published), after.identity_indexes(published)
    for oid in published:
        lost = after.unpublishable(oid, now) - before.unpublishable(oid, was)
        if lost:  # an UPDATE/DELETE through a partitioned ancestor reaches it too
            for rel in (after.rels[oid], *_ancestors(after, oid)):
                out.append(
                    ReplicaIdentityLost(
                        rel.qname,
                        relation=rel.qname,
                        updates="update" in lost,
                        deletes="delete" in lost,
                    )
                )
    return out


def _newly_published(before: Model, after: Model) -> set[int]:
    """The tables a publication that changed (created, altered) publishes now, with their
    partitions: only they can have started publishing updates or deletes."""
    out: set[int] = set()
    for name, pub in after.publications.items():
        if before.publications.get(name) == pub:
            continue
        if pub.all_tables:
            return set(after.rels)
        for qname in pub.tables:
            parts = split_qualified_name(qname)
            oid = after.rel_oid(parts[0], parts[-1]) if len(parts) == 2 else None
            if oid is not None:
                out.add(oid)
        if pub.schemas:
            out.update(o for o, r in after.rels.items() if r.schema in pub.schemas)
    grown = True
    while grown:  # the partitions of what is published (nested ones too)
        found = {o for o in after.partitions if set(after.parents.get(o, ())) & out} - out
        grown = bool(found)
        out |= found
    return out


def _ancestors(m: Model, oid: int) -> list[Relation]:
    """The partitioned tables ``oid`` is a partition of, nearest first."""
    out: list[Relation] = []
    while oid in m.partitions and (parents := m.parents.get(oid)) and parents[0] in m.rels:
        oid = parents[0]
        out.append(m.rels[oid])
    return out


def _removed_partitions(before: Model, after: Model, changed: Iterable[int]) -> list[Change]:
    """Partitions among the ``changed`` relations that left a table which stays."""
    out: list[Change] = []
    for oid in sorted(changed):
        if oid not in before.partitions:
            continue
        for parent in before.parents.get(oid, ()):
            kept = oid in after.partitions and parent in after.parents.get(oid, ())
            if parent in after.rels and not kept:
                qname = after.rels[parent].qname
                out.append(DetachPartition(before.rels[oid].qname, relation=qname))
    return out


def _added_partitions(before: Model, after: Model, changed: Iterable[int]) -> list[Change]:
    """Partitions that joined a table which was there: among the ``changed`` relations
    (created as one) or attached (only their parent link moved)."""
    out: list[Change] = []
    moved = {o for o in after.partitions if after.parents.get(o) != before.parents.get(o)}
    for oid in sorted(moved | (set(changed) & after.partitions)):
        for parent in after.parents.get(oid, ()):
            was = oid in before.partitions and parent in before.parents.get(oid, ())
            if parent in before.rels and parent in after.rels and not was:
                qname = after.rels[parent].qname
                out.append(AttachPartition(after.rels[oid].qname, relation=qname))
    return out


def _renamed(type_name: str, renamed_types: dict[str, str]) -> str:
    """``type_name`` (or an array of it) under its new name when its enum was renamed."""
    base = type_name.removesuffix("[]")
    if base not in renamed_types:
        return type_name
    return renamed_types[base] + type_name[len(base) :]


def _via(after: Model, key: tuple[str, int]) -> str:
    return after.via.get(key, "")


def _schemas(before: Model, after: Model, out: list[Change]) -> dict[str, str]:
    renamed: dict[str, str] = {}
    by_oid = {oid: name for name, oid in after.schemas.items()}
    for name, oid in sorted(before.schemas.items()):
        if name in after.schemas:
            _schema_acl(before, after, name, oid, out)
            continue
        if oid in by_oid:
            renamed[name] = by_oid[oid]
            out.append(RenameSchema(ident(name), ident(by_oid[oid])))
        else:
            out.append(DropSchema(ident(name)))
    return renamed


def _revokes(
    subject: str,
    old: dict[str, set[str]],
    new: dict[str, set[str]],
    out: list[Change],
    relation: str = "",
) -> None:
    for role, privs in sorted(old.items()):
        lost = privs - new.get(role, set())
        if lost:
            out.append(Revoke(subject, role, "".join(sorted(lost)), relation=relation))


def _schema_acl(before: Model, after: Model, name: str, oid: int, out: list[Change]) -> None:
    a_oid = after.schemas[name]
    old, new = before.schema_acls.get(oid), after.schema_acls.get(a_oid)
    if old != new:
        held = privileges_by_role(old, "owner", "UC")
        _revokes(ident(name), held, privileges_by_role(new, "owner", "UC"), out)


def _relation(
    before: Model,
    after: Model,
    oid: int,
    rel: Relation,
    renamed_schemas: dict[str, str],
    out: list[Change],
) -> None:
    same = after.rel_oid(rel.schema, rel.name)
    if same is None:
        moved = after.rels.get(oid)
        if moved is not None and moved.kind == rel.kind:
            if renamed_schemas.get(rel.schema) == moved.schema and moved.name == rel.name:
                return  # covered by RenameSchema
            move = SetSchema if moved.schema != rel.schema else RenameRelation
            out.append(move(rel.qname, rel.kind, moved.qname, relation=rel.qname))
        else:
            drop = _DROP_KIND[rel.kind]
            out.append(drop(rel.qname, rel.kind, relation=rel.qname, via=_via(after, ("rel", oid))))
        return
    new = after.rels[same]
    if new.kind != rel.kind:
        out.append(
            ReplaceRelation(rel.qname, rel.kind, new.kind, new.updatable, relation=rel.qname)
        )
    if rel.kind == RelKind.SEQUENCE:
        _acl(rel, new, "rwU", out)
        return
    _columns(before, after, oid, rel, same, new, out)
    if new.rls and not rel.rls:
        roles = tuple(sorted({r for p in new.policies for r in p.roles}))
        out.append(EnableRowLevelSecurity(rel.qname, len(new.policies), roles, relation=rel.qname))
    if new.rls_forced and not rel.rls_forced:
        out.append(ForceRowLevelSecurity(rel.qname, relation=rel.qname))
    if new.rls:
        kept = {p.name for p in new.policies}
        for p in rel.policies:
            if p.name not in kept:
                out.append(DropPolicy(f"{rel.qname}.{ident(p.name)}", p.roles, relation=rel.qname))
    _rules(rel, new, out)
    _acl(rel, new, "arwdDxt", out)


def _acl(rel: Relation, new: Relation, family: str, out: list[Change]) -> None:
    """Privileges a role lost on the relation (``family``: what its owner holds by default;
    a new owner takes them from the old one, ``ALTER TABLE … OWNER TO``)."""
    if rel.acl != new.acl or (rel.owner and new.owner and rel.owner != new.owner):
        _revokes(
            rel.qname,
            privileges_by_role(rel.acl, rel.owner or "owner", family),
            privileges_by_role(new.acl, new.owner or rel.owner or "owner", family),
            out,
            relation=rel.qname,
        )


def _rules(rel: Relation, new: Relation, out: list[Change]) -> None:
    """Rules that now rewrite a statement on the relation (new, re-enabled or changed)."""
    old = {r.name: r for r in rel.rules if r.enabled}
    for r in new.rules:
        if not r.enabled or old.get(r.name) == r:
            continue
        out.append(
            CreateRule(
                f"{rel.qname}.{ident(r.name)}",
                r.event,
                instead=r.instead,
                nothing=r.nothing,
                conditional=r.conditional,
                relation=rel.qname,
            )
        )


def _columns(
    before: Model,
    after: Model,
    oid: int,
    rel: Relation,
    new_oid: int,
    new: Relation,
    out: list[Change],
) -> None:
    same_object = oid == new_oid
    ids_before = before.attids.get(oid, {})
    renamed_types = {  # enums renamed or moved: a column holds its type by oid
        e.type_name: after.enums[e_oid].type_name
        for e_oid, e in before.enums.items()
        if e_oid in after.enums and after.enums[e_oid].type_name != e.type_name
    }
    for col in rel.columns:
        subject = _col_subject(rel, col.name)
        now = new.column(col.name)
        if now is None:
            renamed = None
            if same_object:
                renamed = after.col_name(new_oid, ids_before.get(col.name, -1))
            if renamed is not None:
                out.append(RenameColumn(subject, col.name, renamed, relation=rel.qname))
            else:
                via = _via(after, ("rel", oid)) or _via(
                    after, ("col", ids_before.get(col.name, -1))
                )
                out.append(
                    DropColumn(
                        subject,
                        col.type_name,
                        relation=rel.qname,
                        via=via if via != subject else "",
                    )
                )
            continue
        _column(after, rel, col, new_oid, new, now, subject, renamed_types, out)
    old_names = set(rel.column_names)
    kept = [c.name for c in new.columns if c.name in old_names]
    if kept != [n for n in rel.column_names if n in set(kept)]:
        out.append(ReorderColumns(rel.qname, tuple(kept), relation=rel.qname))
    for col in new.columns:
        if col.name in old_names:
            continue
        if (
            same_object
            and col.name in after.attids.get(new_oid, {})
            and any(after.attids[new_oid][col.name] == i for i in ids_before.values())
        ):
            continue  # a renamed column: reported above
        volatile = (new_oid, col.name) in after.volatile_defaults
        out.append(
            AddColumn(
                _col_subject(rel, col.name),
                col.type_name,
                not_null=col.not_null,
                has_default=col.has_default,
                volatile_default=volatile,
                generated=bool(col.generated),
                relation=rel.qname,
                default=col.default,
            )
        )


def _collated(col: Column) -> str:
    """A column's type as its DDL spells it with the collation (none: the type's own)."""
    return f'{col.type_name} COLLATE "{col.collation}"' if col.collation else col.type_name


def _column(
    after: Model,
    rel: Relation,
    col: Column,
    new_oid: int,
    new: Relation,
    now: Column,
    subject: str,
    renamed_types: dict[str, str],
    out: list[Change],
) -> None:
    approx = new_oid in after.approx_types
    differs = now.base_type != col.base_type if approx else now.type_name != col.type_name
    if differs and _renamed(col.type_name, renamed_types) == now.type_name:
        differs = False  # the same enum under its new name
    if differs and "unknown" not in (now.base_type, col.base_type):
        tc = classify_type_change(col.type_name, now.type_name)
        out.append(
            AlterColumnType(
                subject,
                col.type_name,
                now.type_name,
                binary_coercible=tc.binary_coercible,
                widening=tc.widening,
                relation=rel.qname,
            )
        )
    elif not differs and now.collation != col.collation:  # the values stay; the result type not
        out.append(
            AlterColumnType(
                subject,
                _collated(col),
                _collated(now),
                binary_coercible=True,
                widening=True,
                relation=rel.qname,
            )
        )
    is_table = new.kind in (RelKind.TABLE, RelKind.PARTITIONED, RelKind.FOREIGN)
    if is_table and now.not_null and not col.not_null:
        out.append(SetNotNull(subject, now.has_default, relation=rel.qname))
    if is_table and now.generated and not col.generated:
        out.append(SetGenerated(subject, relation=rel.qname))
    if is_table and col.generated and not now.generated:
        out.append(DropExpression(subject, relation=rel.qname))
    if is_table and now.identity == "a" and col.identity != "a":
        out.append(SetIdentityAlways(subject, relation=rel.qname))
    base_default = new.kind == RelKind.VIEW and new.updatable  # INSERT uses the table's
    if is_table and col.has_default and now.has_default and col.default != now.default:
        out.append(ChangeDefault(subject, col.default or "", now.default or "", relation=rel.qname))
    if col.has_default and not now.has_default and not base_default:
        attid = after.attids.get(new_oid, {}).get(now.name, -1)
        via = _via(after, ("default", attid))
        out.append(
            DropDefault(
                subject,
                col.default or "",
                not_null=now.not_null or (not is_table and col.not_null),
                relation=rel.qname,
                via=via,
            )
        )


def _cons_by_name(m: Model) -> dict[tuple[str, str], tuple[int, Constraint]]:
    out = {}
    for oid, c in m.cons.items():
        t = m.rels[m.con_rel[oid]]
        out[(t.qname, c.name)] = (oid, c)
    return out


def _redefined(oid: int, old: Constraint, new: tuple[int, Constraint] | None) -> bool:
    """The constraint was dropped and created again under its name, differently (another
    CHECK, other columns, another ON DELETE action): the old one goes, the new one comes."""
    if new is None or new[0] == oid:
        return False
    c = new[1]
    return (old.type, old.columns, old.definition, old.ref_table, old.ref_columns) != (
        c.type,
        c.columns,
        c.definition,
        c.ref_table,
        c.ref_columns,
    )


def _constraints(before: Model, after: Model, out: list[Change]) -> None:
    old = _cons_by_name(before)
    new = _cons_by_name(after)
    new_oids = {oid: key for key, (oid, _) in new.items()}
    redefined = {key for key, (oid, c) in old.items() if _redefined(oid, c, new.get(key))}
    for (table, name), (oid, c) in sorted(old.items()):
        if (table, name) in new and (table, name) not in redefined:
            now = new[(table, name)][1]
            if (now.deferrable, now.initially_deferred) != (c.deferrable, c.initially_deferred):
                out.append(
                    SetDeferrable(
                        f"{table}.{ident(name)}",
                        now.deferrable,
                        now.initially_deferred,
                        relation=table,
                    )
                )
            continue
        subject = f"{table}.{ident(name)}"
        if oid in new_oids and new_oids[oid][1] == name and (table, name) not in redefined:
            continue  # moved with its table (rename / SET SCHEMA): reported there
        if oid in new_oids and new_oids[oid][0] == table:
            out.append(
                RenameConstraint(
                    subject,
                    ConstraintType(c.type),
                    c.columns,
                    old_name=name,
                    new_name=new_oids[oid][1],
                    relation=table,
                )
            )
        elif (
            table in {before.rel_qname(r) for r in before.rels}
            and after.rel_oid(*_split(table)) is not None
        ):
            out.append(
                DropConstraint(
                    subject,
                    ConstraintType(c.type),
                    c.columns,
                    relation=table,
                    via=_via(after, ("con", oid)),
                )
            )
    existing = {before.rel_qname(r) for r in before.rels}
    old_oids = {oid for oid, _ in old.values()}
    for (table, name), (oid, c) in sorted(new.items()):
        if oid in old_oids or table not in existing:
            continue
        if (table, name) in old and (table, name) not in redefined:
            continue
        if after.con_rel[oid] not in before.rels:
            continue  # on a table created in this transaction
        out.append(
            AddConstraint(
                f"{table}.{ident(name)}",
                ConstraintType(c.type),
                c.columns,
                c.definition,
                ref_table=c.ref_table,
                validated=c.validated,
                relation=table,
            )
        )


def _split(qname: str) -> tuple[str, str]:
    from skewguard.analysis.query import split_qualified_name

    parts = split_qualified_name(qname)
    return parts[0], parts[1]


def _idx_by_name(m: Model) -> dict[str, tuple[int, Index]]:
    out = {}
    for oid, i in m.idxs.items():
        t = m.rels[m.idx_rel[oid]]
        out[qualified(t.schema, i.name)] = (oid, i)
    return out


def _index_redefined(oid: int, old: Index, new: tuple[int, Index]) -> bool:
    """Dropped and created again under its name on other keys, uniqueness or predicate."""
    i = new[1]
    return new[0] != oid and (old.keys, old.unique, old.predicate) != (
        i.keys,
        i.unique,
        i.predicate,
    )


def _indexes(before: Model, after: Model, out: list[Change]) -> None:
    old = _idx_by_name(before)
    new = _idx_by_name(after)
    new_oids = {oid: key for key, (oid, _) in new.items()}
    for qn, (oid, i) in sorted(old.items()):
        if qn in new and not _index_redefined(oid, i, new[qn]):
            continue
        table = before.rel_qname(before.idx_rel[oid])
        concurrently = ("drop", oid) in after.concurrent
        if oid in new_oids and new[new_oids[oid]][1].name == i.name:
            continue  # moved with its table
        if oid in new_oids:
            out.append(
                RenameIndex(
                    qn,
                    i.keys,
                    unique=i.unique,
                    primary=i.primary,
                    concurrently=concurrently,
                    old_name=i.name,
                    new_name=new[new_oids[oid]][1].name,
                    relation=table,
                )
            )
        else:
            out.append(
                DropIndex(
                    qn,
                    i.keys,
                    unique=i.unique,
                    primary=i.primary,
                    concurrently=concurrently,
                    predicate=i.predicate or "",
                    relation=table,
                    via=_via(after, ("idx", oid)),
                )
            )
    old_oids = {oid for oid, _ in old.values()}
    for qn, (oid, i) in sorted(new.items()):
        if oid in old_oids or after.idx_rel[oid] not in before.rels:
            continue
        table = after.rel_qname(after.idx_rel[oid])
        out.append(
            CreateIndex(
                qn,
                i.keys,
                unique=i.unique,
                primary=i.primary,
                concurrently=("create", oid) in after.concurrent,
                predicate=i.predicate or "",
                constraint=bool(i.constraint),
                relation=table,
            )
        )


def _functions(
    before: Model, after: Model, out: list[Change], renamed_schemas: dict[str, str]
) -> None:
    new_sigs = {f.signature: oid for oid, f in after.funcs.items()}
    old_sigs = {f.signature for f in before.funcs.values()}
    for oid, f in sorted(before.funcs.items(), key=lambda kv: kv[1].signature):
        if f.signature in new_sigs:
            now = after.funcs[new_sigs[f.signature]]
            fewer = now.n_defaults < f.n_defaults
            renamed = bool(f.arg_names and now.arg_names) and f.arg_names != now.arg_names
            reshaped = now.out_columns != f.out_columns
            unspread = f.variadic and not now.variadic
            body = now.inline_key != f.inline_key
            more = len(now.positional_types) > len(f.positional_types)
            retyped = now.return_type != f.return_type
            if fewer or renamed or reshaped or unspread or body or more or retyped:
                out.append(
                    ReplaceFunction(
                        f.signature,
                        f.result_shape,
                        now.result_shape,
                        fewer,
                        renamed,
                        reshaped=reshaped and now.return_type == f.return_type,
                        lost_variadic=unspread,
                        new_body=body,
                        more_call_args=more,
                    )
                )
            continue
        moved = after.funcs.get(oid)
        if moved is not None and renamed_schemas.get(f.schema) == moved.schema:
            continue
        out.append(
            DropFunction(
                f.signature,
                f.kind,
                moved_to=moved.signature if moved is not None else "",
                via=_via(after, ("fn", oid)),
            )
        )
    for sig, oid in sorted(new_sigs.items()):
        if sig in old_sigs or oid in before.funcs:
            continue
        f = after.funcs[oid]
        out.append(CreateFunction(sig, f.kind, f.arg_types))


def _types(before: Model, after: Model, out: list[Change], renamed_schemas: dict[str, str]) -> None:
    """User types but enums dropped, renamed or moved (a schema renamed is its own change)."""
    for t in sorted(before.types - after.types):
        moved = after.type_moves.get(t, "")
        schema, name = _split(t)
        if moved and _split(moved) == (renamed_schemas.get(schema), name):
            continue
        out.append(DropType(t, (), moved_to=moved))


def _operators(
    before: Model, after: Model, out: list[Change], renamed_schemas: dict[str, str]
) -> None:
    """User operators dropped or moved (along with a renamed schema: that change's own)."""
    for signature in sorted(before.operators - after.operators):
        moved = after.operator_moves.get(signature, "")
        schema, name, args = split_operator_signature(signature)
        if moved and split_operator_signature(moved) == (renamed_schemas.get(schema), name, args):
            continue
        out.append(DropOperator(signature, moved_to=moved))


def _enums(before: Model, after: Model, out: list[Change], renamed_schemas: dict[str, str]) -> None:
    for oid, e in sorted(before.enums.items(), key=lambda kv: kv[1].type_name):
        now_oid = after.enum_oid(e.schema, e.name)
        if now_oid is None:
            moved = after.enums.get(oid)
            if moved is not None and renamed_schemas.get(e.schema) == moved.schema:
                continue
            out.append(
                DropType(
                    e.type_name,
                    e.labels,
                    moved_to=moved.type_name if moved is not None else "",
                    via=_via(after, ("type", oid)),
                )
            )
            continue
        now = after.enums[now_oid]
        if now_oid != oid:
            out.append(RecreateEnum(e.type_name))
        ids_now = after.label_ids.get(now_oid, {}) if now_oid == oid else {}
        by_id = {i: label for label, i in ids_now.items()}
        for label in e.labels:
            if label in now.labels:
                continue
            renamed = by_id.get(before.label_ids.get(oid, {}).get(label, -1))
            if renamed is not None:
                out.append(EnumRenameValue(f"{e.type_name}:{label}", label, renamed))
            else:
                out.append(EnumDropValue(f"{e.type_name}:{label}", label))
        renamed_to = {by_id.get(before.label_ids.get(oid, {}).get(label, -1)) for label in e.labels}
        for label in now.labels:
            if label not in e.labels and label not in renamed_to:
                out.append(EnumAddValue(f"{e.type_name}:{label}", label))


__all__ = ["diff"]
