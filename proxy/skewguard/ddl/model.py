"""A mutable model of a catalog snapshot, with object identities.

The overlay applies DDL to a :class:`Model`; the diff compares two models.
Every object gets a synthetic oid (and every column and enum label an id), so
a rename is told apart from a drop and a create. Catalog objects themselves
stay the frozen dataclasses of :mod:`skewguard.catalog`, replaced on change.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import (
    CONSTRAINT_KEY,
    INDEX_KEY,
    RELATION_KEY,
    CatalogSnapshot,
    Constraint,
    Dependency,
    EnumType,
    Function,
    Index,
    Patch,
    Publication,
    Relation,
    RelKind,
    ident,
    qualified,
)

# A view dependency: ("rel", rel oid, 0) | ("col", rel oid, attid) | ("fn", fn oid, 0)
Dep = tuple[str, int, int]


class Holder(StrEnum):
    """What depends on a function, collation or extension, and what its drop does to it."""

    DEFAULT = "default"  # a column default: the default goes, the column stays
    COLUMN = "column"  # a generated column, or a column with the collation: the column goes
    CONSTRAINT = "constraint"  # a CHECK constraint using the function goes
    INDEX = "index"  # an expression or partial index using the function goes
    POLICY = "policy"  # a row-level security policy using the function goes
    TRIGGER = "trigger"  # a trigger executing the function goes
    FUNCTION = "function"  # a function (extension member, or a SQL body calling it) goes
    RELATION = "relation"  # a relation (extension member) goes
    TYPE = "type"  # a type (extension member) goes, with the columns of that type


@dataclass(frozen=True, slots=True, order=True)
class Dependent:
    """One object that goes (or loses its default) when what it references is dropped.

    ``oid`` is the relation (default, column, policy, trigger, relation), the
    constraint, index or function; ``sub`` the column's attid; ``name`` the
    policy or trigger name, or the type text.
    """

    holder: Holder
    oid: int = 0
    sub: int = 0
    name: str = ""


@dataclass(frozen=True, slots=True, order=True)
class Referenced:
    """A function (by oid), collation (qualified name) or extension (name)."""

    kind: str  # "function" | "collation" | "extension"
    oid: int = 0
    name: str = ""


@dataclass(frozen=True, slots=True, order=True)
class Edge:
    """``dependent`` depends on ``referenced``; ``auto``: it goes without CASCADE."""

    dependent: Dependent
    referenced: Referenced
    auto: bool = False


K = TypeVar("K")
V = TypeVar("V")


class Tracked(dict[K, V]):
    """A dict that remembers the keys set or deleted since its model was read from a snapshot.

    What a change touched is then found without looking at what it did not:
    copies carry the record along, so two models of one snapshot tell their
    differences by the keys either touched.
    """

    __slots__ = ("touched",)

    def __init__(self, data: Iterable[tuple[K, V]] | dict[K, V] = (), touched: Iterable[K] = ()):
        super().__init__(data)
        self.touched: set[K] = set(touched)

    def __setitem__(self, key: K, value: V) -> None:
        self.touched.add(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: K) -> None:
        self.touched.add(key)
        super().__delitem__(key)

    def pop(self, key: K, *default: Any) -> Any:
        self.touched.add(key)
        return super().pop(key, *default)

    def setdefault(self, key: K, default: Any = None) -> Any:
        self.touched.add(key)
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def popitem(self) -> tuple[K, V]:
        key, value = super().popitem()
        self.touched.add(key)
        return key, value

    def clear(self) -> None:
        self.touched.update(self)
        super().clear()

    def copy(self) -> Tracked[K, V]:
        return Tracked(self, self.touched)


@dataclass
class Model:
    """Everything the overlay changes; cheap to copy (the objects are immutable)."""

    builtin_functions: frozenset[str] = frozenset()
    builtin_relations: frozenset[str] = frozenset()
    schemas: dict[str, int] = field(default_factory=dict)  # name -> oid
    schema_acls: dict[int, tuple[str, ...] | None] = field(default_factory=dict)
    rels: Tracked[int, Relation] = field(default_factory=Tracked)
    relidx: dict[tuple[str, str], int] = field(default_factory=dict)
    attids: dict[int, dict[str, int]] = field(default_factory=dict)  # rel -> column -> id
    cons: Tracked[int, Constraint] = field(default_factory=Tracked)
    con_rel: Tracked[int, int] = field(default_factory=Tracked)
    idxs: Tracked[int, Index] = field(default_factory=Tracked)
    idx_rel: Tracked[int, int] = field(default_factory=Tracked)
    funcs: dict[int, Function] = field(default_factory=dict)
    enums: dict[int, EnumType] = field(default_factory=dict)
    label_ids: dict[int, dict[str, int]] = field(default_factory=dict)
    deps: dict[int, set[Dep]] = field(default_factory=dict)  # view -> what it reads
    edges: set[Edge] = field(default_factory=set)  # pg_depend, beyond views
    parents: dict[int, tuple[int, ...]] = field(default_factory=dict)  # pg_inherits
    partitions: set[int] = field(default_factory=set)  # children that are partitions
    extensions: set[str] = field(default_factory=set)  # with their members in ``edges``
    extensions_known: bool = False  # the snapshot listed its extensions and their members
    memberships: tuple[tuple[str, str], ...] | None = None  # the snapshot's (role, member)
    superusers: frozenset[str] | None = None  # the snapshot's, as read (roles not modelled)
    opaque_extensions: set[str] = field(default_factory=set)  # created here: members unknown
    types: set[str] = field(default_factory=set)  # user types but enums, qualified
    type_moves: dict[str, str] = field(default_factory=dict)  # renamed/moved: first -> now
    operators: set[str] = field(default_factory=set)  # user operators' signatures
    held_operators: frozenset[str] = frozenset()  # of the snapshot: something depends on them
    operator_moves: dict[str, str] = field(default_factory=dict)  # moved: first -> now
    builtin_operators: frozenset[str] = frozenset()
    publications: dict[str, Publication] = field(default_factory=dict)  # by name
    #: text search configurations and collations dropped or renamed, as statements name
    #: them: (facet kind, name as written) -> the new name ("" when dropped)
    named_drops: dict[tuple[str, str], str] = field(default_factory=dict)
    approx_types: set[int] = field(default_factory=set)  # views whose typmods are unknown
    via: dict[tuple[str, int], str] = field(default_factory=dict)  # cascaded drop -> cause
    concurrent: set[tuple[str, int]] = field(default_factory=set)  # ("create"/"drop", idx)
    volatile_defaults: set[tuple[int, str]] = field(default_factory=set)
    #: sequence -> what ALTER SEQUENCE set that changes the numbers nextval returns
    #: (overlay.sequences): the snapshot does not read a sequence's numbers
    seq_options: dict[int, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    next_oid: int = 1
    # the snapshot this model (or the model it was copied from) is Model.of: what
    # to_catalog() reuses for the objects that did not change since
    origin: CatalogSnapshot | None = field(default=None, repr=False, compare=False)
    # shared by every copy of one from_catalog() result: their Tracked records compare
    lineage: object = field(default_factory=object, repr=False, compare=False)

    # --- identity -----------------------------------------------------------

    def new_oid(self) -> int:
        self.next_oid += 1
        return self.next_oid

    def copy(self) -> Model:
        return dataclasses.replace(
            self,
            schemas=dict(self.schemas),
            schema_acls=dict(self.schema_acls),
            rels=self.rels.copy(),
            relidx=dict(self.relidx),
            attids=dict(self.attids),  # the per-relation dicts are replaced, never changed
            cons=self.cons.copy(),
            con_rel=self.con_rel.copy(),
            idxs=self.idxs.copy(),
            idx_rel=self.idx_rel.copy(),
            funcs=dict(self.funcs),
            enums=dict(self.enums),
            label_ids={k: dict(v) for k, v in self.label_ids.items()},
            deps={k: set(v) for k, v in self.deps.items()},
            edges=set(self.edges),
            parents=dict(self.parents),
            partitions=set(self.partitions),
            extensions=set(self.extensions),
            opaque_extensions=set(self.opaque_extensions),
            memberships=self.memberships,
            superusers=self.superusers,
            types=set(self.types),
            type_moves=dict(self.type_moves),
            operators=set(self.operators),
            operator_moves=dict(self.operator_moves),
            publications=dict(self.publications),
            named_drops=dict(self.named_drops),
            approx_types=set(self.approx_types),
            via=dict(self.via),
            concurrent=set(self.concurrent),
            volatile_defaults=set(self.volatile_defaults),
            seq_options=dict(self.seq_options),
        )

    # --- relations ----------------------------------------------------------

    def put_rel(self, oid: int, rel: Relation) -> None:
        old = self.rels.get(oid)
        if old is not None and self.relidx.get((old.schema, old.name)) == oid:
            del self.relidx[(old.schema, old.name)]
        self.rels[oid] = rel
        self.relidx[(rel.schema, rel.name)] = oid
        ids = dict(self.attids.get(oid, {}))  # copies share the old one
        for col in rel.columns:
            if col.name not in ids:
                ids[col.name] = self.new_oid()
        for gone in set(ids) - set(rel.column_names):
            del ids[gone]
        self.attids[oid] = ids

    def del_rel(self, oid: int) -> None:
        rel = self.rels.pop(oid)
        self.relidx.pop((rel.schema, rel.name), None)
        self.attids.pop(oid, None)
        self.deps.pop(oid, None)
        self.approx_types.discard(oid)

    def rel_oid(self, schema: str, name: str) -> int | None:
        return self.relidx.get((schema, name))

    def col_name(self, rel: int, attid: int) -> str | None:
        for name, i in self.attids.get(rel, {}).items():
            if i == attid:
                return name
        return None

    def enum_oid(self, schema: str, name: str) -> int | None:
        for oid, e in self.enums.items():
            if (e.schema, e.name) == (schema, name):
                return oid
        return None

    # --- logical replication ------------------------------------------------

    def published_changes(self, oid: int) -> frozenset[str]:
        """Of "update" and "delete", the actions a publication publishes for the table
        ``oid`` (a partition through its partitioned ancestors too)."""
        names = [self.rels[oid]]
        todo = list(self.parents.get(oid, ())) if oid in self.partitions else []
        while todo:
            parent = todo.pop()
            if parent in self.rels:
                names.append(self.rels[parent])
                if parent in self.partitions:
                    todo.extend(self.parents.get(parent, ()))
        out: set[str] = set()
        for pub in self.publications.values():
            if any(pub.publishes(r.schema, r.name) for r in names):
                out.update(a for a, on in (("update", pub.updates), ("delete", pub.deletes)) if on)
        return frozenset(out)

    def identity_indexes(self, oids: Iterable[int]) -> tuple[frozenset[int], frozenset[int]]:
        """Of the tables ``oids``, those with a primary key and those with an index marked
        as their replica identity (one pass over the indexes, for :meth:`unpublishable`)."""
        wanted = set(oids)
        primary: set[int] = set()
        marked: set[int] = set()
        for i, rel in self.idx_rel.items():
            if rel in wanted:
                x = self.idxs[i]
                if x.primary:
                    primary.add(rel)
                if x.replica_identity:
                    marked.add(rel)
        return frozenset(primary), frozenset(marked)

    def unpublishable(
        self, oid: int, identity: tuple[frozenset[int], frozenset[int]]
    ) -> frozenset[str]:
        """The actions ("update", "delete") PostgreSQL refuses on the table ``oid`` (55000:
        it publishes them and has no replica identity: the full row, its primary key by
        default, or the index USING INDEX named); empty for anything but a table.
        ``identity`` is :meth:`identity_indexes`."""
        rel = self.rels.get(oid)
        if rel is None or rel.kind != RelKind.TABLE or not self.publications:
            return frozenset()
        mode = rel.replica_identity
        primary, marked = identity
        if mode == "f" or (mode == "d" and oid in primary) or (mode == "i" and oid in marked):
            return frozenset()
        return self.published_changes(oid)

    def cons_of(self, rel: int) -> list[int]:
        return [c for c, r in self.con_rel.items() if r == rel]

    def idxs_of(self, rel: int) -> list[int]:
        return [i for i, r in self.idx_rel.items() if r == rel]

    # --- conversion ---------------------------------------------------------

    @classmethod
    def of(cls, cat: CatalogSnapshot) -> Model:
        """The model of ``cat``, built once per snapshot and shared: ``copy()`` it to change it."""
        return cat.derived("model", cls._origin_of)

    @classmethod
    def _origin_of(cls, cat: CatalogSnapshot) -> Model:
        patch: Patch | None = cat.take_derived("patch")
        if patch is not None and patch.previous.has_derived("model"):
            m = patch.previous.derived("model", cls._origin_of)._patched(cat, patch)
        else:
            m = cls.from_catalog(cat)
        m.origin = cat
        return m

    def _patched(self, cat: CatalogSnapshot, patch: Patch) -> Model:
        """The model of ``cat``, made from this one (of ``patch.previous``) by the patch."""
        # roles are not modelled: their memberships are what the snapshot read
        m = dataclasses.replace(
            self.copy(),
            origin=None,
            lineage=object(),
            memberships=cat.memberships,
            superusers=cat.superusers,
        )
        # a relation read again under its name keeps its oid: the entries naming it
        # (children's parents) stay linked without being read again themselves
        named = {(s, n): oid for s, n in patch.replaced if (oid := m.rel_oid(s, n)) is not None}
        replaced = set(named.values())
        if replaced:  # one pass over what relations own, with no allocation per entry
            for objects, owner in ((m.cons, m.con_rel), (m.idxs, m.idx_rel)):
                for x in [x for x, r in owner.items() if r in replaced]:
                    del objects[x], owner[x]
        for oid in replaced:
            m.del_rel(oid)
            m.parents.pop(oid, None)
            m.partitions.discard(oid)
        if "schemas" in patch.reread:  # only grown (else the refresh read everything)
            for s in sorted(cat.schemas - m.schemas.keys()):
                m.schemas[s] = m.new_oid()
            m.schema_acls = {m.schemas[s]: acl for s, acl in cat.schema_acls if s in m.schemas}
        if "functions" in patch.reread:  # only grown
            known = {f.signature for f in m.funcs.values()}
            for f in cat.functions:
                if f.signature not in known:
                    m.funcs[m.new_oid()] = f
        if "enums" in patch.reread:
            m._set_enums(cat.enums)
        if "types" in patch.reread:
            m.types = {qualified(s, n) for s, n in cat.types}
        if "operators" in patch.reread:
            m.operators, m.held_operators = set(cat.operators), cat.held_operators
        if "publications" in patch.reread:
            m.publications = {p.name: p for p in cat.publications}
        for s in {r.schema for r in patch.part.relations} - m.schemas.keys():
            m.schemas[s] = m.new_oid()
        for rel in patch.part.relations:
            m.put_rel(named.get((rel.schema, rel.name)) or m.new_oid(), rel)
        m._add_owned(patch.part)
        by_sig = {f.signature: oid for oid, f in m.funcs.items()}
        for rel in patch.part.relations:
            oid = m.rel_oid(rel.schema, rel.name)
            if oid is not None:
                m._link(oid, rel, by_sig)
        m.edges = {e for d in cat.dependencies if (e := m._edge(d, by_sig)) is not None}
        m._settle()
        return m

    def _set_enums(self, enums: Iterable[EnumType]) -> None:
        """The enums are ``enums``: the same (schema, name) keeps its oid and label ids."""
        by_name = {(e.schema, e.name): oid for oid, e in self.enums.items()}
        now: dict[int, EnumType] = {}
        for e in enums:
            oid = by_name.get((e.schema, e.name))
            if oid is None:
                oid = self.new_oid()
            ids = {k: v for k, v in self.label_ids.get(oid, {}).items() if k in e.labels}
            for label in e.labels:
                if label not in ids:
                    ids[label] = self.new_oid()
            now[oid] = e
            self.label_ids[oid] = ids
        for gone in self.enums.keys() - now.keys():
            self.label_ids.pop(gone, None)
        self.enums = now

    def _add_owned(self, cat: CatalogSnapshot) -> None:
        """``cat``'s constraints and indexes, on the relations of this model they name."""
        for c in cat.constraints:
            rel_oid = self.rel_oid(c.schema, c.table)
            if rel_oid is not None:
                oid = self.new_oid()
                self.cons[oid] = c
                self.con_rel[oid] = rel_oid
        for i in cat.indexes:
            rel_oid = self.rel_oid(i.schema, i.table)
            if rel_oid is not None:
                oid = self.new_oid()
                self.idxs[oid] = i
                self.idx_rel[oid] = rel_oid

    def _link(self, oid: int, rel: Relation, by_sig: dict[str, int]) -> None:
        """A relation's view dependencies and inheritance parents, from its snapshot entry."""
        for key in rel.depends:
            dep = self._parse_dep(key, by_sig)
            if dep is not None:
                self.deps.setdefault(oid, set()).add(dep)
        parents = [self._rel_by_qname(p) for p in rel.parents]
        if parents and all(p is not None for p in parents):
            self.parents[oid] = tuple(p for p in parents if p is not None)
            if rel.partition:
                self.partitions.add(oid)

    def _settle(self) -> None:
        """What copies change is recorded from here."""
        for tracked in (self.rels, self.cons, self.con_rel, self.idxs, self.idx_rel):
            tracked.touched.clear()

    def restricted(self, changed: Changed) -> Model:
        """A view of this model with only the relations, constraints and indexes in
        ``changed``; everything else is shared, not copied: read it, never change it."""
        kept = Tracked((oid, self.rels[oid]) for oid in changed.rels if oid in self.rels)
        cons = [c for c in changed.cons if c in self.cons and self.con_rel[c] in kept]
        idxs = [i for i in changed.idxs if i in self.idxs and self.idx_rel[i] in kept]
        return dataclasses.replace(
            self,
            rels=kept,
            relidx={(r.schema, r.name): oid for oid, r in kept.items()},
            cons=Tracked((c, self.cons[c]) for c in cons),
            con_rel=Tracked((c, self.con_rel[c]) for c in cons),
            idxs=Tracked((i, self.idxs[i]) for i in idxs),
            idx_rel=Tracked((i, self.idx_rel[i]) for i in idxs),
        )

    def types_catalog(self) -> CatalogSnapshot:
        """A snapshot with only the enums: all that rendering a written type needs."""
        return CatalogSnapshot(enums=tuple(self.enums.values()))

    @classmethod
    def from_catalog(cls, cat: CatalogSnapshot) -> Model:
        m = cls(
            builtin_functions=cat.builtin_functions,
            builtin_relations=cat.builtin_relations,
            builtin_operators=cat.builtin_operators,
            operators=set(cat.operators),
            held_operators=cat.held_operators,
            publications={p.name: p for p in cat.publications},
        )
        for s in sorted(cat.schemas):
            m.schemas[s] = m.new_oid()
        for s, acl in cat.schema_acls:
            if s in m.schemas:
                m.schema_acls[m.schemas[s]] = acl
        for s in {r.schema for r in cat.relations} - set(m.schemas):
            m.schemas[s] = m.new_oid()
        for rel in cat.relations:
            m.put_rel(m.new_oid(), rel)
        for f in cat.functions:
            m.funcs[m.new_oid()] = f
        m.types = {qualified(s, n) for s, n in cat.types}
        for e in cat.enums:
            oid = m.new_oid()
            m.enums[oid] = e
            m.label_ids[oid] = {label: m.new_oid() for label in e.labels}
        m._add_owned(cat)
        by_sig = {f.signature: oid for oid, f in m.funcs.items()}
        for oid, rel in list(m.rels.items()):
            m._link(oid, rel, by_sig)
        for d in cat.dependencies:
            edge = m._edge(d, by_sig)
            if edge is not None:
                m.edges.add(edge)
        if cat.extensions is not None:
            m.extensions = set(cat.extensions)
            m.extensions_known = True
        m.memberships = cat.memberships
        m.superusers = cat.superusers
        m._settle()
        return m

    def _rel_by_qname(self, qname: str) -> int | None:
        parts = split_qualified_name(qname)
        return self.rel_oid(parts[0], parts[1]) if len(parts) == 2 else None

    def _edge(self, d: Dependency, by_sig: dict[str, int]) -> Edge | None:
        if d.ref_kind == "function":
            fn = by_sig.get(d.ref)
            if fn is None:
                return None
            ref = Referenced("function", fn)
        else:
            ref = Referenced(d.ref_kind, name=d.ref)
        dependent = self._dependent(d, by_sig)
        return Edge(dependent, ref, d.auto) if dependent is not None else None

    def _dependent(self, d: Dependency, by_sig: dict[str, int]) -> Dependent | None:
        holder = Holder(d.kind)
        if holder is Holder.FUNCTION:
            fn = by_sig.get(d.name)
            return Dependent(holder, fn) if fn is not None else None
        if holder is Holder.TYPE:
            return Dependent(holder, name=d.name)
        rel = self._rel_by_qname(d.relation)
        if rel is None:
            return None
        if holder in (Holder.DEFAULT, Holder.COLUMN):
            attid = self.attids.get(rel, {}).get(d.name)
            return Dependent(holder, rel, attid) if attid is not None else None
        if holder is Holder.CONSTRAINT:
            con = next((c for c in self.cons_of(rel) if self.cons[c].name == d.name), None)
            return Dependent(holder, con) if con is not None else None
        if holder is Holder.INDEX:
            idx = next((i for i in self.idxs_of(rel) if self.idxs[i].name == d.name), None)
            return Dependent(holder, idx) if idx is not None else None
        if holder is Holder.RELATION:
            return Dependent(holder, rel)
        return Dependent(holder, rel, name=d.name)  # policy, trigger

    def _dependency(self, e: Edge) -> Dependency | None:
        """The snapshot row of an edge (None when an end is gone)."""
        dep, ref = e.dependent, e.referenced
        if ref.kind == "function":
            fn = self.funcs.get(ref.oid)
            if fn is None:
                return None
            target = fn.signature
        else:
            target = ref.name
        relation, name = "", dep.name
        h = dep.holder
        if h is Holder.FUNCTION:
            if dep.oid not in self.funcs:
                return None
            name = self.funcs[dep.oid].signature
        elif h in (Holder.DEFAULT, Holder.COLUMN):
            col = self.col_name(dep.oid, dep.sub) if dep.oid in self.rels else None
            if col is None:
                return None
            relation, name = self.rel_qname(dep.oid), col
        elif h is Holder.CONSTRAINT:
            if dep.oid not in self.cons:
                return None
            relation, name = self.rel_qname(self.con_rel[dep.oid]), self.cons[dep.oid].name
        elif h is Holder.INDEX:
            if dep.oid not in self.idxs:
                return None
            relation, name = self.rel_qname(self.idx_rel[dep.oid]), self.idxs[dep.oid].name
        elif h is not Holder.TYPE:
            if dep.oid not in self.rels:
                return None
            relation = self.rel_qname(dep.oid)
            name = name or self.rels[dep.oid].name
        return Dependency(h.value, relation, name, ref.kind, target, e.auto)

    def _parse_dep(self, key: str, by_sig: dict[str, int]) -> Dep | None:
        kind, _, subject = key.partition(":")
        if kind == "function":
            oid = by_sig.get(subject)
            return ("fn", oid, 0) if oid is not None else None
        parts = split_qualified_name(subject)
        if kind == "relation_read" and len(parts) == 2:
            rel = self.rel_oid(parts[0], parts[1])
            return ("rel", rel, 0) if rel is not None else None
        if kind == "column_read" and len(parts) == 3:
            rel = self.rel_oid(parts[0], parts[1])
            if rel is None:
                return None
            attid = self.attids.get(rel, {}).get(parts[2])
            return ("col", rel, attid) if attid is not None else None
        return None

    def dep_key(self, dep: Dep) -> str | None:
        kind, oid, attid = dep
        if kind == "fn":
            f = self.funcs.get(oid)
            return f"function:{f.signature}" if f is not None else None
        rel = self.rels.get(oid)
        if rel is None:
            return None
        if kind == "rel":
            return f"relation_read:{rel.qname}"
        name = self.col_name(oid, attid)
        return f"column_read:{rel.qname}.{ident(name)}" if name is not None else None

    def to_catalog(self) -> CatalogSnapshot:
        """The snapshot of this model; the objects unchanged since ``origin`` are its own.

        When few relations changed, the origin model's own snapshot (made once) is
        spliced: only the changed relations, and their constraints and indexes, are
        looked at; at 10,000 relations rebuilding everything cost milliseconds a time.
        """
        base = self.origin.derived("model", Model._origin_of) if self.origin else None
        dirty = self._changed_since(base) if base is not None else None
        few = dirty is not None and len(dirty) * _SPLICE_RATIO < len(self.rels)
        if few and base is not None and base is not self and self.origin is not None:
            assert dirty is not None
            return self._spliced(base, dirty, self.origin.derived("model_catalog", _whole))
        rels = []
        for oid, rel in self.rels.items():
            rels.append(rel if dirty is not None and oid not in dirty else self._entry(oid))
        rels.sort(key=RELATION_KEY)
        cons = []
        for oid, c in self.cons.items():
            owner = self.con_rel[oid]
            cons.append(c if dirty is not None and owner not in dirty else self._con_entry(oid))
        cons.sort(key=CONSTRAINT_KEY)
        idxs = []
        for oid, i in self.idxs.items():
            owner = self.idx_rel[oid]
            idxs.append(i if dirty is not None and owner not in dirty else self._idx_entry(oid))
        idxs.sort(key=INDEX_KEY)
        return self._snapshot(tuple(rels), tuple(cons), tuple(idxs))

    def _entry(self, oid: int) -> Relation:
        """Relation ``oid`` as a snapshot lists it (its dependencies and parents named)."""
        rel = self.rels[oid]
        keys = sorted(k for d in self.deps.get(oid, ()) if (k := self.dep_key(d)) is not None)
        parents = tuple(self.rel_qname(p) for p in self.parents.get(oid, ()) if p in self.rels)
        return dataclasses.replace(
            rel,
            depends=tuple(keys),
            parents=parents,
            partition=bool(parents) and oid in self.partitions,
        )

    def _con_entry(self, oid: int) -> Constraint:
        t = self.rels[self.con_rel[oid]]
        return dataclasses.replace(self.cons[oid], schema=t.schema, table=t.name)

    def _idx_entry(self, oid: int) -> Index:
        t = self.rels[self.idx_rel[oid]]
        return dataclasses.replace(self.idxs[oid], schema=t.schema, table=t.name)

    def _spliced(self, base: Model, dirty: set[int], whole: CatalogSnapshot) -> CatalogSnapshot:
        """``whole`` (``base``'s snapshot) with the entries of the ``dirty`` relations
        (and of their constraints and indexes) replaced by this model's."""
        rels = list(whole.relations)
        cons = list(whole.constraints)
        idxs = list(whole.indexes)
        by_name = whole.relations_by_name()
        for oid in dirty:
            if (old := base.rels.get(oid)) is not None:
                _remove(rels, RELATION_KEY(old), RELATION_KEY)
                del by_name[RELATION_KEY(old)]
        for oid, owner in base.con_rel.items():
            if owner in dirty:
                _remove(cons, CONSTRAINT_KEY(base.cons[oid]), CONSTRAINT_KEY)
        for oid, owner in base.idx_rel.items():
            if owner in dirty:
                _remove(idxs, INDEX_KEY(base.idxs[oid]), INDEX_KEY)
        for oid in dirty:
            if oid in self.rels:
                entry = self._entry(oid)
                bisect.insort(rels, entry, key=RELATION_KEY)
                by_name[RELATION_KEY(entry)] = entry
        for oid, owner in self.con_rel.items():
            if owner in dirty:
                bisect.insort(cons, self._con_entry(oid), key=CONSTRAINT_KEY)
        for oid, owner in self.idx_rel.items():
            if owner in dirty:
                bisect.insort(idxs, self._idx_entry(oid), key=INDEX_KEY)
        return self._snapshot(tuple(rels), tuple(cons), tuple(idxs), by_name)

    def _snapshot(
        self,
        rels: tuple[Relation, ...],
        cons: tuple[Constraint, ...],
        idxs: tuple[Index, ...],
        by_name: dict[tuple[str, str], Relation] | None = None,
    ) -> CatalogSnapshot:
        names = {oid: s for s, oid in self.schemas.items()}
        return CatalogSnapshot(
            schemas=frozenset(self.schemas),
            relations=rels,
            functions=tuple(sorted(self.funcs.values(), key=lambda f: f.signature)),
            enums=tuple(sorted(self.enums.values(), key=lambda e: e.qname)),
            types=frozenset(
                (parts[0], parts[1])
                for t in self.types
                if len(parts := split_qualified_name(t)) == 2
            ),
            constraints=cons,
            indexes=idxs,
            schema_acls=tuple(
                sorted((names[o], acl) for o, acl in self.schema_acls.items() if o in names)
            ),
            builtin_functions=self.builtin_functions,
            builtin_relations=self.builtin_relations,
            operators=frozenset(self.operators),
            held_operators=self.held_operators & self.operators,
            builtin_operators=self.builtin_operators,
            publications=tuple(self.publications[n] for n in sorted(self.publications)),
            dependencies=tuple(
                sorted(
                    {d for e in self.edges if (d := self._dependency(e)) is not None},
                    key=lambda d: (d.ref_kind, d.ref, d.kind, d.relation, d.name),
                )
            ),
            extensions=frozenset(self.extensions) if self.extensions_known else None,
            memberships=self.memberships,
            superusers=self.superusers,
            by_name=by_name,
        ).mark_key_ordered()

    def _changed_since(self, base: Model) -> set[int]:
        """Relations whose snapshot entry (or a constraint's or index's) may differ from
        ``base``'s: changed ones, and those whose dependencies or parents name a changed one."""
        dirty = changes(base, self).rels
        for oid in self.deps.keys() | base.deps.keys() | self.parents.keys() | base.parents.keys():
            deps, parents = self.deps.get(oid, set()), self.parents.get(oid, ())
            if (
                deps != base.deps.get(oid, set())
                or parents != base.parents.get(oid, ())
                or (oid in self.partitions) != (oid in base.partitions)
                or any(p in dirty for p in parents)
                or any(
                    self.funcs.get(target) is not base.funcs.get(target)
                    if kind == "fn"
                    else target in dirty
                    for kind, target, _ in deps
                )
            ):
                dirty.add(oid)
        return dirty

    def rel_qname(self, oid: int) -> str:
        rel = self.rels[oid]
        return qualified(rel.schema, rel.name)


@dataclass(frozen=True, slots=True)
class Changed:
    """What differs between two models: relations (also those owning a changed constraint
    or index), and the constraints and indexes that may have."""

    rels: set[int]
    cons: set[int]
    idxs: set[int]


def changes(a: Model, b: Model) -> Changed:
    """What differs between ``a`` and ``b``. Objects are replaced on change, so identity
    tells; two copies of one snapshot's model only compare the keys either touched."""
    related = a.lineage is b.lineage
    rel_keys = a.rels.touched | b.rels.touched if related else a.rels.keys() | b.rels.keys()
    rels = {oid for oid in rel_keys if a.rels.get(oid) is not b.rels.get(oid)}
    found = []
    for objects, owner in (("cons", "con_rel"), ("idxs", "idx_rel")):
        xa, xb = getattr(a, objects), getattr(b, objects)
        oa, ob = getattr(a, owner), getattr(b, owner)
        keys = (
            xa.touched | xb.touched | oa.touched | ob.touched if related else xa.keys() | xb.keys()
        )
        differ = {k for k in keys if xa.get(k) is not xb.get(k) or oa.get(k) != ob.get(k)}
        rels.update(r for k in differ for r in (oa.get(k), ob.get(k)) if r is not None)
        found.append(differ)
    return Changed(rels, found[0], found[1])


#: Splice the origin's snapshot when fewer than 1 in this many relations changed.
_SPLICE_RATIO = 8


def _whole(cat: CatalogSnapshot) -> CatalogSnapshot:
    """The snapshot ``cat``'s own model makes, in the key order splices keep: ``cat``
    itself when it is in that order (its model holds its very objects)."""
    return cat if cat.key_ordered else Model.of(cat).to_catalog()


def _remove(entries: list[Any], key: tuple[str, ...], by: Callable[[Any], Any]) -> None:
    """Remove the entry of ``key`` from ``entries`` (sorted by ``by``), if there."""
    at = bisect.bisect_left(entries, key, key=by)
    if at < len(entries) and by(entries[at]) == key:
        del entries[at]


__all__ = ["Changed", "Dep", "Dependent", "Edge", "Holder", "Model", "Referenced", "changes"]
