"""A session's temporary relations: names PostgreSQL finds in its ``pg_temp`` schema.

A temporary table, view or sequence is seen by its own session only, and an
unqualified name finds it before any schema of the search_path (before
``pg_catalog`` too), unless the path lists ``pg_temp`` explicitly, where it is
then searched. So in a session that ran ``CREATE TEMP TABLE staging (...)``,
``INSERT INTO staging`` uses nothing of the schema: learned as
``public.staging``, it made the version look as if it used a table that does
not exist (never "ready"), and a later ``DROP TABLE public.staging`` by anyone
as if it broke that version; its own ``DROP TABLE staging`` was judged as a
drop of the real table when there was one.

The proxy follows which names are temporary from the statements it forwards
(:func:`temporary_change`, pure) in :class:`TemporaryRelations`, one per
session. A name made in a transaction that rolls back stays known until the
session drops, renames or discards it: the session's unqualified uses of a
real relation of that name are then not learned (PostgreSQL reports the
missing temporary relation to the client). Past :data:`MAX_TRACKED` names, new
ones are not followed (their uses are learned as schema names, as before).

A temporary table made of one ``LIKE`` clause alone (``CREATE TEMP TABLE staging
(LIKE orders INCLUDING DEFAULTS)``, the bulk-load idiom) has the columns ``orders``
has at each run: its :attr:`TemporaryRelations.shapes` say so, and a
``COPY staging FROM STDIN`` is learned against ``orders``'s shape (``copy_shape:``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pglast import ast, enums

#: The most temporary relation names one session's tracker keeps.
MAX_TRACKED = 1000

#: A temporary table and the relation it was made ``LIKE`` (its name as written: one or
#: two parts, resolved when a statement is analysed).
Shape = tuple[str, tuple[str, ...]]

_O = enums.ObjectType
_DROPPED_KINDS = frozenset({_O.OBJECT_TABLE, _O.OBJECT_VIEW, _O.OBJECT_SEQUENCE, _O.OBJECT_MATVIEW})


@dataclass(frozen=True, slots=True)
class TemporaryChange:
    """What one statement does to its session's temporary relation names."""

    made: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    at_commit: tuple[str, ...] = ()  # made ON COMMIT DROP: gone when the transaction ends
    discard: bool = False  # DISCARD TEMP / DISCARD ALL: every one is gone
    like: tuple[Shape, ...] = ()  # made of one LIKE clause alone: the relation it copies


def is_temp_schema(schema: str | None) -> bool:
    """``pg_temp`` (the session's own temporary schema) or a ``pg_temp_N`` name."""
    return schema is not None and (schema == "pg_temp" or schema.startswith("pg_temp_"))


def made_temporary(rv: Any) -> bool:
    """A RangeVar that a CREATE makes temporary: TEMP, or the pg_temp schema."""
    return bool(rv is not None and (rv.relpersistence == "t" or is_temp_schema(rv.schemaname)))


def temporary_change(node: Any) -> TemporaryChange | None:
    """What ``node`` (a parsed statement) does to the session's temporary names."""
    if isinstance(node, ast.DiscardStmt):
        modes = (enums.DiscardMode.DISCARD_ALL, enums.DiscardMode.DISCARD_TEMP)
        return TemporaryChange(discard=True) if node.target in modes else None
    if isinstance(node, ast.DropStmt):
        if node.removeType not in _DROPPED_KINDS:
            return None
        names = tuple(n for n in map(_unqualified, node.objects or ()) if n is not None)
        return TemporaryChange(dropped=names) if names else None
    if isinstance(node, ast.RenameStmt):
        if node.renameType not in _DROPPED_KINDS or node.relation is None:
            return None
        rv = node.relation
        if rv.schemaname is not None and not is_temp_schema(rv.schemaname):
            return None
        return TemporaryChange(renamed=((str(rv.relname), str(node.newname)),))
    rv, on_commit = _created(node)
    if not made_temporary(rv):
        return None
    name = str(rv.relname)
    dropped_at_commit = on_commit == enums.OnCommitAction.ONCOMMIT_DROP
    source = _like_only(node)
    return TemporaryChange(
        made=(name,),
        at_commit=(name,) if dropped_at_commit else (),
        like=((name, source),) if source else (),
    )


def _like_only(node: Any) -> tuple[str, ...] | None:
    """The relation a CREATE TABLE of a single ``LIKE`` clause copies, as written."""
    if not isinstance(node, ast.CreateStmt) or node.inhRelations or node.partbound:
        return None
    elements = node.tableElts or ()
    if len(elements) != 1 or not isinstance(elements[0], ast.TableLikeClause):
        return None
    rv = elements[0].relation
    if rv is None or rv.catalogname:
        return None
    return (str(rv.schemaname), str(rv.relname)) if rv.schemaname else (str(rv.relname),)


def _created(node: Any) -> tuple[Any, Any]:
    """The relation a CREATE statement makes, and its ON COMMIT action."""
    if isinstance(node, ast.CreateStmt):
        return node.relation, node.oncommit
    if isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
        return node.into.rel, node.into.onCommit
    if isinstance(node, ast.SelectStmt) and node.intoClause is not None:
        return node.intoClause.rel, node.intoClause.onCommit
    if isinstance(node, ast.ViewStmt):
        return node.view, None
    if isinstance(node, ast.CreateSeqStmt):
        return node.sequence, None
    return None, None


def _unqualified(obj: Any) -> str | None:
    """A dropped object's name when it may be a temporary one (unqualified or pg_temp)."""
    names = [str(n.sval) for n in obj or () if isinstance(n, ast.String)]
    if len(names) == 1 or (len(names) == 2 and is_temp_schema(names[0])):
        return names[-1]
    return None


class TemporaryRelations:
    """One session's temporary relation names, as the statements it ran left them."""

    __slots__ = ("_at_commit", "names", "shapes")

    def __init__(self) -> None:
        self.names: frozenset[str] = frozenset()
        self.shapes: frozenset[Shape] = frozenset()  # of names made LIKE another relation
        self._at_commit: set[str] = set()

    def apply(self, changes: Iterable[TemporaryChange]) -> bool:
        """Follow statements that ran; whether the names (or their shapes) changed."""
        names = set(self.names)
        like = dict(self.shapes)
        for change in changes:
            if change.discard:
                names.clear()
                like.clear()
                self._at_commit.clear()
            for name in change.dropped:
                names.discard(name)
                like.pop(name, None)
            for old, new in change.renamed:
                if old in names:
                    names.discard(old)
                    names.add(new)
                    source = like.pop(old, None)
                    if source is not None:
                        like[new] = source
            for name in change.made:
                if len(names) < MAX_TRACKED:
                    names.add(name)
                like.pop(name, None)
            like.update((name, source) for name, source in change.like if name in names)
            self._at_commit.update(change.at_commit)
        return self._set(names, like)

    def transaction_ended(self) -> bool:
        """The transaction ended: ON COMMIT DROP relations are gone (committed or not)."""
        if not self._at_commit:
            return False
        names = self.names - self._at_commit
        like = {n: s for n, s in self.shapes if n in names}
        self._at_commit.clear()
        return self._set(set(names), like)

    def _set(self, names: set[str], like: dict[str, tuple[str, ...]]) -> bool:
        shapes = frozenset(like.items())
        if names == self.names and shapes == self.shapes:
            return False
        self.names = frozenset(names)
        self.shapes = shapes
        return True
