"""The overlay's state: the model of the catalog, the session's search_path and temporary
relations, savepoints.

The appliers (a module per kind of object, reached through :mod:`.dispatch`) are plain
functions of the overlay and of the model they change; this class keeps what they read
and what outlives a statement: the model, the search_path, the trigger functions made here.
Its underscored attributes are the package's, not its callers'.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pglast import ast

from skewguard.catalog import CatalogSnapshot
from skewguard.ddl.changes import Change
from skewguard.ddl.diff import diff
from skewguard.ddl.errors import CannotModel, DdlParseError, Rejected
from skewguard.ddl.model import Model
from skewguard.ddl.opaque import Scope
from skewguard.ddl.overlay.dispatch import apply_node
from skewguard.ddl.overlay.names import temporary_answers, user_path
from skewguard.ddl.overlay.nodes import REL_OBJECTS, deparse
from skewguard.ddl.triggers import RowFiller
from skewguard.sql_parse import parse_sql

#: A savepoint's name and what ROLLBACK TO restores: the model, the search_path, the
#: temporary relations and the trigger functions made so far.
_Savepoint = tuple[str, Model, tuple[str, ...], frozenset[str], dict[str, RowFiller]]


class Overlay:
    """A transaction-local view of the catalog, changed by the DDL applied to it."""

    def __init__(
        self,
        catalog: CatalogSnapshot,
        *,
        search_path: Sequence[str] = ("public",),
        user: str | None = None,
        temporary: frozenset[str] = frozenset(),
    ) -> None:
        self._initial = Model.of(catalog)  # shared with every overlay of this snapshot
        self._state = self._initial.copy()
        self._user = user
        self._path: tuple[str, ...] = tuple(search_path)
        # the session's temporary relations (skewguard.temporary), as its statements
        # leave them: an unqualified name may be one of them, not the schema's
        self._temporary: frozenset[str] = temporary
        self._savepoints: list[_Savepoint] = []
        self._snapshot: CatalogSnapshot | None = catalog
        self._fillers: dict[str, RowFiller] = {}  # trigger functions created here, by signature
        self._parts: list[CannotModel] = []  # of the statement being applied (unmodelled_part)

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
        such a statement changes nothing else the model follows, or only what the
        model follows of it is applied (:meth:`unmodelled_part`). Nothing else
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
        ``on_unmodelled`` when its reach is known. A statement only part of which is
        unmodelled (:meth:`unmodelled_part`) is applied, and that part handed to
        ``on_unmodelled`` (without it, raised as the whole statement's).
        """
        try:
            applied, parts = self._apply_statement(stmt, partial=on_unmodelled is not None)
        except CannotModel as exc:
            if on_unmodelled is None or exc.affects is None:
                raise
            on_unmodelled(exc)
            return True
        for part in parts:
            assert on_unmodelled is not None
            on_unmodelled(part)
        return applied

    def unmodelled_part(self, exc: CannotModel) -> None:
        """For appliers: a part of the statement being applied (an ALTER TABLE's
        subcommand, what a new default's numbers meet) the model does not follow, with
        a known reach (``exc.affects``), while the rest of the statement is applied:
        the rest is judged with the model and that part by its reach, as an unmodelled
        statement's. Throwing the whole statement away would leave later statements
        judged against a model that lacks what it did."""
        assert exc.affects is not None, "a part of unknown reach leaves nothing judged"
        self._parts.append(exc)

    def _apply_statement(self, stmt: Any, *, partial: bool) -> tuple[bool, list[CannotModel]]:
        work = self._state.copy()
        saved_path, saved_temporary = self._path, self._temporary
        self._parts = []
        try:
            self._statement(work, stmt)
            if self._parts and not partial:
                raise self._parts[0]
        except Rejected:
            self._path, self._temporary = saved_path, saved_temporary
            return False, []
        except CannotModel as exc:
            self._path, self._temporary = saved_path, saved_temporary
            if not exc.statement:
                exc.statement = deparse(stmt)[:200]
            raise
        except Exception as exc:  # a defect here must not pass for "harmless"
            self._path, self._temporary = saved_path, saved_temporary
            raise CannotModel(
                f"{type(stmt).__name__}: internal error {type(exc).__name__}: {exc}",
                statement=deparse(stmt)[:200],
                internal=True,
            ) from exc
        parts, self._parts = self._parts, []
        for part in parts:
            part.statement = part.statement or deparse(stmt)[:200]
        self._state = work
        self._snapshot = None
        return True, parts

    def savepoint(self, name: str) -> None:
        saved = (self._state.copy(), self._path, self._temporary, dict(self._fillers))
        self._savepoints.append((name, *saved))

    def rollback_to(self, name: str) -> None:
        """ROLLBACK TO SAVEPOINT: the savepoint stays, later changes go."""
        for i in range(len(self._savepoints) - 1, -1, -1):
            if self._savepoints[i][0] == name:
                _, state, path, temporary, fillers = self._savepoints[i]
                del self._savepoints[i + 1 :]
                self._state = state.copy()
                self._path = path
                self._temporary = temporary
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

    # --- for the appliers of this package -----------------------------------

    def scope(self, m: Model) -> Scope:
        """What the judges of statements the model does not follow look at."""
        return Scope(m, self._initial, user_path(self), self._fillers)

    def _statement(self, m: Model, node: Any) -> None:
        if isinstance(node, ast.RenameStmt) and node.relation is not None:
            rv = node.relation
            if temporary_answers(self, m, rv.schemaname, str(rv.relname)):
                if node.renameType in REL_OBJECTS:  # the relation itself: a new name
                    self._temporary = (self._temporary - {str(rv.relname)}) | {str(node.newname)}
                return  # the session's temporary relation: nobody else sees it
        apply_node(self, m, node)
