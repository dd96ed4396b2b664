"""DDL that can pass without reading the catalog: it reaches nothing any protected version uses.

Reading the catalog costs round trips and a scan per decision; a migration that
builds 500 new tables would pay it 3,000 times for nothing. The screen lets a
statement through on names alone when everything it can change is provably
outside every protected footprint:

- the statement kinds are few and their reach is known: creating a table,
  index, view, sequence, type, schema or a *new* function; ``ALTER TABLE`` with
  subcommands that act on that table (and what hangs from it); ``COMMENT``;
  ``GRANT`` (it only widens);
- no name the statement creates or acts on is a name any protected version
  uses (bare names, every schema: a new ``other.users`` can shadow ``users``);
- what hangs from an altered or indexed relation (inheritance children and
  partitions, views reading it, tables referencing it, its indexes,
  constraints and sequences, functions whose string body names it) is known,
  from the kept catalog snapshot or from what this proxy let through since,
  and none of it is used either;
- nothing in it runs a function that is not built in (a DEFAULT evaluated for
  existing rows, an index expression, a CHECK being validated: any of them
  could run DDL the proxy cannot see).

Anything else — DROP, RENAME, REVOKE, ``CREATE OR REPLACE FUNCTION``, a table
the snapshot does not know, a name a version uses — goes the full way: the
catalog, the overlay, the rules. The screen only ever says "cannot reach";
it never blocks. Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums

from skewguard.analysis.facets import Facet
from skewguard.analysis.nodes import walk
from skewguard.analysis.query import split_qualified_name
from skewguard.analysis.subjects import table_of_subject
from skewguard.catalog import CatalogSnapshot, Patch
from skewguard.ddl.bodies import body_words
from skewguard.ddl.changes import Change
from skewguard.ddl.errors import CannotModel

_AT = enums.AlterTableType
#: ALTER TABLE subcommands whose reach is the table and what hangs from it.
_LOCAL_SUBCOMMANDS = frozenset(
    {
        _AT.AT_AddColumn,
        _AT.AT_DropColumn,
        _AT.AT_AlterColumnType,
        _AT.AT_ColumnDefault,
        _AT.AT_DropNotNull,
        _AT.AT_SetNotNull,
        _AT.AT_AddConstraint,
        _AT.AT_DropConstraint,
        _AT.AT_ValidateConstraint,
        _AT.AT_AddIndex,
        _AT.AT_SetStatistics,
        _AT.AT_SetStorage,
        _AT.AT_SetCompression,
        _AT.AT_SetRelOptions,
        _AT.AT_ResetRelOptions,
        _AT.AT_SetOptions,
        _AT.AT_ResetOptions,
        _AT.AT_ClusterOn,
        _AT.AT_DropCluster,
    }
)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")


@functools.lru_cache(maxsize=1 << 16)
def _plain(value: str) -> bool:
    """A name spelled as facets spell it unquoted (a reach walks the same names again
    and again: a migration's foreign-key chain)."""
    return _PLAIN_NAME.match(value) is not None


#: What separates names in a subject: argument lists, casts, and the ``|`` / ``@`` of
#: value, COPY and conflict subjects (``public.t.qty|42``, ``public.t|nothing@t_key``).
_SUBJECT_SEPARATORS = re.compile(r"[()/<>,=|@;\s]+")
#: Entries kept in a database's Links before it starts afresh (then: the full path).
LINKS_LIMIT = 20_000


def used_names(footprints: Iterable[Iterable[Facet]]) -> frozenset[str]:
    """Every name part of every facet subject: relations, columns, functions, types.

    A superset on purpose: a column that shares a table's name only sends that
    table's DDL the full way.
    """
    names: set[str] = set()
    for facets in footprints:
        for facet in facets:
            names.update(_subject_names(facet.subject))
    return frozenset(names)


def change_names(
    changes: Iterable[Change], unmodelled: Iterable[CannotModel]
) -> frozenset[str] | None:
    """Every name the changes touch (subjects, their tables, new names, what cascaded
    them) and what unmodelled statements reach; None when a reach is unknown."""
    names: set[str] = set()
    for change in changes:
        for subject in change.names():
            names.update(_subject_names(subject))
    for exc in unmodelled:
        if exc.affects is None:
            return None
        for subject in (*exc.affects.relations, *exc.affects.functions, *exc.affects.schemas):
            names.update(_subject_names(subject))
    return frozenset(names)


def mentions(texts: Iterable[str], names: frozenset[str]) -> bool:
    """Whether any text names one of ``names`` as a word, in any case (a superset of
    what PostgreSQL would resolve to them: quoted or not, any schema)."""
    if not names:
        return False
    word = re.compile(
        r"(?<![\w$])(?:" + "|".join(map(re.escape, sorted(names))) + r")(?![\w$])",
        re.IGNORECASE,
    )
    return any(word.search(text) for text in texts)


@functools.lru_cache(maxsize=65_536)
def _subject_names(subject: str) -> tuple[str, ...]:
    """The name parts of one subject (cached: every decision reads every footprint)."""
    return tuple(
        name
        for piece in _SUBJECT_SEPARATORS.split(subject)
        if piece
        for name in split_qualified_name(piece)
    )


@dataclass
class Links:
    """What hangs from what, among relations this proxy let through since the snapshot.

    ``hanging[name]``: names that an ALTER of ``name`` can reach (a new child
    table, a view reading it, a table referencing it, an index on it).
    ``created``: every name this proxy created since. Bounded: past
    ``LINKS_LIMIT`` it is cleared, and names it no longer knows go the full way.

    A migration's foreign-key chain hangs each table from the one before, so the
    reach of an early table is the whole chain: instead of walking it for every
    statement, the names whose reach is clear of the used names are remembered
    (``clean``) until a link or the used names could change that.
    """

    snapshot: CatalogSnapshot | None = None  # the snapshot these links extend
    hanging: dict[str, set[str]] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    _clean: set[str] = field(default_factory=set, repr=False)
    _against: frozenset[str] = field(default=frozenset(), repr=False)  # what _clean is clear of

    def since(self, snapshot: CatalogSnapshot | None) -> Links:
        """These links when they extend ``snapshot``, else fresh ones (it holds them now)."""
        if snapshot is self.snapshot and len(self.created) < LINKS_LIMIT:
            return self
        return Links(snapshot)

    def add(self, passed: Passed) -> None:
        self.created.update(passed.created)
        for source, names in passed.hanging.items():
            self.hanging.setdefault(source, set()).update(names)
        # a new link hands its target's reach to everything that reaches its source:
        # what was clean stays clean unless that target's reach is not
        if self._clean and not all(
            self.clean(name, self._against) for names in passed.hanging.values() for name in names
        ):
            self._clean.clear()

    def clean(self, name: str, used: frozenset[str]) -> bool:
        """Whether ``name`` and what hangs from it avoid ``used``, all spelled plainly."""
        if used is not self._against and used != self._against:
            self._clean, self._against = set(), used
        if name in self._clean:
            return True
        seen = self.reach_of(name, skip=self._clean)
        if seen & used or not all(map(_plain, seen)):
            return False
        self._clean |= seen
        return True

    def reach_of(self, name: str, skip: set[str] | frozenset[str] = frozenset()) -> set[str]:
        """``name`` and every name that hangs from it, in the snapshot or in these links
        (not walking on from the names in ``skip``)."""
        assert self.snapshot is not None
        index = self.snapshot.derived("hanging", _hanging_index)
        pending, seen = [name], {name}
        hanging, linked = index.hanging, self.hanging
        while pending:
            current = pending.pop()
            if current in skip:
                continue
            for names in (hanging.get(current), linked.get(current)):
                for nxt in names or ():
                    if nxt not in seen:
                        seen.add(nxt)
                        pending.append(nxt)
        return seen


@dataclass(frozen=True)
class Passed:
    """A statement the screen let through, and what it adds to the links."""

    created: frozenset[str] = frozenset()
    hanging: Mapping[str, frozenset[str]] = field(default_factory=dict)


def prepare(snapshot: CatalogSnapshot) -> None:
    """Build what the screen derives from a snapshot (up to O(catalog): call it off the
    loop, and before the model takes the snapshot's patch: see ``_hanging_index``)."""
    snapshot.derived("hanging", _hanging_index)
    snapshot.derived("function_names", _function_names)


def prepared(snapshot: CatalogSnapshot) -> bool:
    return snapshot.has_derived("hanging") and snapshot.has_derived("function_names")


@dataclass(frozen=True)
class Reached:
    """Every name a statement can change (its reach known from names alone): the names
    it acts on, and the relations whose whole reach it takes; and what it adds to the
    links when it passes."""

    names: frozenset[str]
    roots: frozenset[str]
    links: Links
    passed: Passed

    def clear_of(self, used: frozenset[str]) -> bool:
        """It reaches none of ``used`` (nor a name facets would quote): it may pass on
        names alone."""
        return not self.names & used and all(self.links.clean(r, used) for r in self.roots)

    def every_name(self) -> frozenset[str] | None:
        """Every name it reaches, as the links are now; None when one of them is spelled
        in a way facets would quote."""
        every = set(self.names)
        for root in self.roots:
            every |= self.links.reach_of(root)
        return frozenset(every) if all(map(_plain, every)) else None


def reach(node: Any, snapshot: CatalogSnapshot | None, links: Links) -> Reached | None:
    """What ``node`` can change, by name; None when names alone cannot tell."""
    if snapshot is None or node is None:
        return None
    found = _Reach(snapshot, links)
    check = _CHECKS.get(type(node))
    if check is None:
        return None
    passed: Passed | None = check(node, found)
    if passed is None or not found.ok:
        return None
    return Reached(frozenset(found.names), frozenset(found.roots), links, passed)


class _Reach:
    """The names a statement can change, gathered while it is checked."""

    def __init__(self, snapshot: CatalogSnapshot, links: Links) -> None:
        self.snapshot = snapshot
        self.links = links
        self.names: set[str] = set()
        self.roots: set[str] = set()  # whose whole reach is reached
        self.ok = True

    def name(self, value: str | None) -> str:
        """Count ``value`` as reached; an odd spelling is refused (facets quote it)."""
        if not value or not _plain(value):
            self.ok = False
            return ""
        self.names.add(value)
        return value

    def relation(self, rv: ast.RangeVar | None) -> str:
        return self.name(rv.relname if rv is not None else None)

    def hanging_from(self, name: str) -> None:
        """``name`` and everything that hangs from it, or refuse when it is not known."""
        index = self.snapshot.derived("hanging", _hanging_index)
        if name not in index.known and name not in self.links.created:
            self.ok = False
            return
        self.names.add(name)
        self.roots.add(name)

    def no_user_functions(self, node: Any) -> None:
        """Refuse a statement that calls a function outside pg_catalog (or shadows one)."""
        builtin = self.snapshot.builtin_functions
        shadowed = self.snapshot.derived("function_names", _function_names)
        for call in walk(node, ast.FuncCall):
            parts = [getattr(p, "sval", "") for p in call.funcname or ()]
            name = parts[-1] if parts else ""
            schema = parts[0] if len(parts) > 1 else None
            outside = schema not in (None, "pg_catalog") or name not in builtin
            if outside or (schema is None and name in shadowed):
                self.ok = False


@dataclass(frozen=True)
class _HangingIndex:
    known: frozenset[str]
    hanging: Mapping[str, frozenset[str]]
    grown: int = 0  # refreshes added on top of the last whole build


#: Refreshes a hanging index grows by before it is built whole again. A grown index
#: keeps the links and names of what a refresh replaced (a superset: a reach can
#: only widen, so the screen lets less through, never more); a whole build drops them.
REBUILD_AFTER = 32


def _bare(qualified: str) -> str:
    parts = split_qualified_name(qualified)
    return parts[-1] if parts else qualified


def _hanging_index(snapshot: CatalogSnapshot) -> _HangingIndex:
    """The index of ``snapshot``: grown from the one before it by what its refresh read
    (``catalog.Patch``: O(change)), else built from everything (O(catalog))."""
    patch: Patch | None = snapshot.peek_derived("patch")  # the model takes it after
    if patch is not None and patch.previous.has_derived("hanging"):
        before = patch.previous.derived("hanging", _hanging_index)
        if before.grown < REBUILD_AFTER:
            known, hanging = _links(patch.part)
            grown = dict(before.hanging)
            for source, names in hanging.items():
                grown[source] = grown.get(source, frozenset()) | names
            return _HangingIndex(before.known | known, grown, before.grown + 1)
    known, hanging = _links(snapshot)
    return _HangingIndex(known, hanging)


def _links(snapshot: CatalogSnapshot) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The relation and index names of ``snapshot``, and what hangs from each name."""
    hanging: dict[str, set[str]] = {}

    def link(source: str, name: str) -> None:
        hanging.setdefault(source, set()).add(name)

    known: set[str] = set()
    for rel in snapshot.relations:
        known.add(rel.name)
        for parent in rel.parents:
            link(_bare(parent), rel.name)
        for read in rel.depends:
            link(_bare(table_of_subject(read.split(":", 1)[-1])), rel.name)
        for column in rel.columns:
            for sequence in column.default_sequences:
                link(rel.name, _bare(sequence))
    for con in snapshot.constraints:
        link(con.table, con.name)
        if con.ref_table:
            link(_bare(con.ref_table), con.table)
    for index in snapshot.indexes:
        known.add(index.name)
        link(index.table, index.name)
    for fn in snapshot.functions:  # a string body is planned at each call: what it names
        if fn.body:
            for word in body_words(fn.body[1]):
                link(word, fn.name)
    return frozenset(known), {k: frozenset(v) for k, v in hanging.items()}


def _function_names(snapshot: CatalogSnapshot) -> frozenset[str]:
    return frozenset(f.name for f in snapshot.functions)


def _create_table(node: ast.CreateStmt, reach: _Reach) -> Passed | None:
    if node.partbound is not None or node.inhRelations or node.ofTypename is not None:
        return None  # it changes what its parent's readers and writers see: the full way
    name = reach.relation(node.relation)
    sources = {reach.relation(rv) for rv in walk(node.tableElts or (), ast.RangeVar)}
    for constraint in walk([node.tableElts or (), node.constraints or ()], ast.Constraint):
        if constraint.conname:
            reach.name(constraint.conname)
    reach.no_user_functions(node)
    return Passed(frozenset({name}), {s: frozenset({name}) for s in sources if s})


def _create_index(node: ast.IndexStmt, reach: _Reach) -> Passed | None:
    table = reach.relation(node.relation)
    reach.hanging_from(table)
    index = reach.name(node.idxname) if node.idxname else ""
    reach.no_user_functions(node)
    return Passed(frozenset({index} - {""}), {table: frozenset({index} - {""})})


def _create_view(node: ast.ViewStmt, reach: _Reach) -> Passed | None:
    view = reach.relation(node.view)
    if node.replace:
        if view in reach.snapshot.derived("hanging", _hanging_index).known:
            reach.hanging_from(view)
        elif view not in reach.links.created:
            return None  # replacing a view the snapshot may not know
    sources = {rv.relname for rv in walk(node.query, ast.RangeVar) if rv.relname}
    return Passed(frozenset({view}), {s: frozenset({view}) for s in sources})


def _create_sequence(node: ast.CreateSeqStmt, reach: _Reach) -> Passed | None:
    name = reach.relation(node.sequence)
    for option in node.options or ():
        if getattr(option, "defname", "") == "owned_by":
            return None  # it then hangs from a table's column: the full way
    return Passed(frozenset({name}))


def _alter_table(node: ast.AlterTableStmt, reach: _Reach) -> Passed | None:
    if node.objtype != enums.ObjectType.OBJECT_TABLE:
        return None
    if any(cmd.subtype not in _LOCAL_SUBCOMMANDS for cmd in node.cmds or ()):
        return None
    table = reach.relation(node.relation)
    reach.hanging_from(table)
    added: set[str] = set()
    for rv in walk(node.cmds, ast.RangeVar):  # a foreign key's target
        added.add(reach.relation(rv))
    for constraint in walk(node.cmds, ast.Constraint):
        if constraint.conname:
            reach.name(constraint.conname)
    reach.no_user_functions(node)
    return Passed(hanging={s: frozenset({table}) for s in added if s})


def _create_function(node: ast.CreateFunctionStmt, reach: _Reach) -> Passed | None:
    if node.replace:
        return None  # its callers include triggers and defaults no footprint names
    parts = [getattr(p, "sval", "") for p in node.funcname or ()]
    name = reach.name(parts[-1] if parts else None)
    if name in reach.snapshot.builtin_functions:
        return None  # an exact-type overload of a built-in wins over pg_catalog's
    return Passed()


def _create_type(names: Iterable[Any], reach: _Reach) -> Passed:
    parts = [getattr(p, "sval", "") for p in names]
    return Passed(frozenset({reach.name(parts[-1] if parts else None)}))


def _create_schema(node: ast.CreateSchemaStmt, reach: _Reach) -> Passed | None:
    if node.schemaElts:
        return None
    reach.name(node.schemaname)
    return Passed()


_CHECKS: dict[type[Any], Any] = {
    ast.CreateStmt: _create_table,
    ast.IndexStmt: _create_index,
    ast.ViewStmt: _create_view,
    ast.CreateSeqStmt: _create_sequence,
    ast.AlterTableStmt: _alter_table,
    ast.CreateFunctionStmt: _create_function,
    ast.CreateEnumStmt: lambda node, reach: _create_type(node.typeName or (), reach),
    ast.CreateDomainStmt: lambda node, reach: _create_type(node.domainname or (), reach),
    ast.CompositeTypeStmt: lambda node, reach: Passed(frozenset({reach.relation(node.typevar)})),
    ast.CreateSchemaStmt: _create_schema,
    ast.CommentStmt: lambda node, reach: Passed(),
    ast.GrantStmt: lambda node, reach: Passed() if node.is_grant else None,
}
