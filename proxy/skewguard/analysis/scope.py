"""Name scopes: which relations and CTEs a column reference can see.

PostgreSQL resolves an unqualified column against the FROM items of the
innermost query level first, then outward (correlated subqueries). We mirror
that, but where PostgreSQL would raise "ambiguous" we keep every candidate:
a footprint should over-approximate, never miss a use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from skewguard.catalog import Column, Relation, ident

# Output columns of a derived table / CTE: visible name -> type text.
Columns = dict[str, str]


@dataclass(frozen=True, slots=True)
class Lineage:
    """Which catalog columns reach a query level's output unchanged (for result facets).

    Subjects are ``schema.table.column`` (a bare column reference, possibly through
    a derived table) or ``schema.table.*`` (a star over a table or view).
    """

    columns: Mapping[str, frozenset[str]] = field(default_factory=dict)  # by output name
    result: frozenset[str] = frozenset()  # every output column's subjects (what * yields)


@dataclass(eq=False, slots=True)
class RangeItem:
    """One FROM item (or DML target) as seen by name resolution.

    At most one of these describes its columns: ``relation`` (a catalog
    relation), ``columns`` (a CTE or derived table), ``children`` (an aliased
    JOIN). With none, the columns are unknown (a missing relation, one created
    by the same text, a system catalog, a set-returning function): any name
    may come from it, and only a missing relation's columns are recorded.
    """

    alias: str | None
    relation: Relation | None = None
    qname: str | None = None  # subject of a base relation, known or missing
    columns: Columns | None = None
    colmap: dict[str, str] | None = None  # alias column list: visible -> real name
    children: tuple[RangeItem, ...] = ()
    missing: bool = False  # qname is a relation the catalog lacks
    lineage: Lineage | None = None  # for ``columns``: where they come from
    #: ``relation`` gives only the row type (a function returning it): a plan holds no
    #: lock on the table, so a column added there does not change a prepared ``*``
    row_type_only: bool = False

    def visible_columns(self) -> Columns | None:
        """Visible column name -> type, in order; None when unknown."""
        if self.children:
            merged: Columns = {}
            for child in self.children:
                cols = child.visible_columns()
                if cols is None:
                    return None
                for name, typ in cols.items():
                    merged.setdefault(name, typ)
            return merged
        if self.relation is not None:
            if self.colmap is not None:
                return {
                    vis: col.base_type
                    for vis, real in self.colmap.items()
                    if (col := self.relation.column(real)) is not None
                }
            return {c.name: c.base_type for c in self.relation.columns}
        if self.columns is not None:
            return dict(self.columns)
        return None

    def visible_lineage(self) -> dict[str, frozenset[str]]:
        """Visible column name -> result subjects of a bare reference to it."""
        if self.children:
            merged: dict[str, frozenset[str]] = {}
            for child in self.children:
                for name, subjects in child.visible_lineage().items():
                    merged.setdefault(name, subjects)
            return merged
        if self.relation is not None:
            names = self.colmap or {c.name: c.name for c in self.relation.columns}
            return {
                vis: frozenset({subject})
                for vis, real in names.items()
                if (subject := self.column_subject(real)) is not None
            }
        if self.lineage is not None:
            return dict(self.lineage.columns)
        return {}

    def star_result(self) -> frozenset[str]:
        """The result subjects of ``*`` over this item: ``schema.table.*`` per relation."""
        out: set[str] = set()
        for leaf in self.leaves():
            if leaf.relation is not None and leaf.qname is not None:
                if leaf.row_type_only:  # each column's type still matters
                    out.update(f"{leaf.qname}.{ident(c.name)}" for c in leaf.relation.columns)
                else:
                    out.add(f"{leaf.qname}.*")
            if leaf.lineage is not None:  # also a function returning a table's row
                out |= leaf.lineage.result
        return frozenset(out)

    def leaves(self) -> Iterator[RangeItem]:
        if self.children:
            for child in self.children:
                yield from child.leaves()
        else:
            yield self

    def column_subject(self, real_name: str) -> str | None:
        """The facet subject for a column of this item, when it is a base relation's."""
        if self.qname is None:
            return None
        return f"{self.qname}.{ident(real_name)}"


@dataclass(frozen=True, slots=True)
class Hit:
    """A column reference resolved to one item."""

    item: RangeItem
    name: str  # real column name (after alias column lists)
    column: Column | None  # catalog column, when the item is a known relation
    type_name: str


@dataclass(slots=True)
class Lookup:
    """Result of resolving one column name at one query level."""

    hits: list[Hit] = field(default_factory=list)
    maybe: list[RangeItem] = field(default_factory=list)  # opaque items that could have it

    @property
    def found(self) -> bool:
        return bool(self.hits or self.maybe)


def lookup_in_item(item: RangeItem, name: str, into: Lookup) -> None:
    """Add what ``item`` says about column ``name`` to ``into``."""
    if item.children:
        for child in item.children:
            lookup_in_item(child, name, into)
        return
    if item.relation is not None:
        real = item.colmap.get(name) if item.colmap is not None else name
        col = item.relation.column(real) if real is not None else None
        if col is not None:
            into.hits.append(Hit(item, col.name, col, col.base_type))
        return
    if item.columns is not None:
        if name in item.columns:
            into.hits.append(Hit(item, name, None, item.columns[name]))
        return
    into.maybe.append(item)


@dataclass(eq=False, slots=True)
class Scope:
    """One query level: its FROM items, its CTEs, and the enclosing level."""

    parent: Scope | None = None
    items: list[RangeItem] = field(default_factory=list)
    ctes: dict[str, Columns | None] = field(default_factory=dict)
    cte_lineage: dict[str, Lineage] = field(default_factory=dict)

    def find_cte(self, name: str) -> tuple[bool, Columns | None]:
        """(found, columns) for a CTE visible from here."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.ctes:
                return True, scope.ctes[name]
            scope = scope.parent
        return False, None

    def find_cte_lineage(self, name: str) -> Lineage | None:
        """The lineage of the CTE :meth:`find_cte` finds (None while unknown)."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.ctes:
                return scope.cte_lineage.get(name)
            scope = scope.parent
        return None

    def find_item(self, alias: str) -> RangeItem | None:
        """The innermost item named ``alias`` (joins with an alias hide their children)."""
        scope: Scope | None = self
        while scope is not None:
            for item in scope.items:
                found = _find_alias(item, alias)
                if found is not None:
                    return found
            scope = scope.parent
        return None

    def find_relation_item(self, schema: str | None, name: str) -> RangeItem | None:
        """An unaliased item for ``[schema.]name`` (for ``schema.table.column`` refs)."""
        scope: Scope | None = self
        while scope is not None:
            for item in scope.items:
                for leaf in item.leaves():
                    rel = leaf.relation
                    if (
                        rel is not None
                        and leaf.alias == name
                        and rel.name == name
                        and (schema is None or rel.schema == schema)
                    ):
                        return leaf
            scope = scope.parent
        return None

    def lookup(self, name: str) -> Lookup:
        """Resolve an unqualified column: the first level with any candidate wins."""
        scope: Scope | None = self
        while scope is not None:
            result = Lookup()
            for item in scope.items:
                lookup_in_item(item, name, result)
            if result.found:
                return result
            scope = scope.parent
        return Lookup()

    def innermost_items(self) -> list[RangeItem]:
        """Items of the nearest level that has any (where a missing column belongs)."""
        scope: Scope | None = self
        while scope is not None:
            if scope.items:
                return scope.items
            scope = scope.parent
        return []


def _find_alias(item: RangeItem, alias: str) -> RangeItem | None:
    if item.alias == alias:
        return item
    if item.children and item.alias is None:
        for child in item.children:
            found = _find_alias(child, alias)
            if found is not None:
                return found
    return None
