"""Triggers of tables other sessions write: whether dropping one, or a column its function
names, can be modelled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from skewguard.ddl.affects import Use
from skewguard.ddl.bodies import names_column
from skewguard.ddl.errors import CannotModel
from skewguard.ddl.model import Edge, Holder, Model
from skewguard.ddl.triggers import loss_harm, row_filler
from skewguard.statements import runs_only_plain_sql

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay


def _triggers_of(m: Model, oid: int) -> dict[str, list[Edge]]:
    """The triggers of relation ``oid`` that pg_depend ties to a user function, by name."""
    out: dict[str, list[Edge]] = {}
    for e in m.edges:
        if e.dependent.holder is Holder.TRIGGER and e.dependent.oid == oid:
            out.setdefault(e.dependent.name, []).append(e)
    return out


def _trigger_body(m: Model, edges: Sequence[Edge]) -> str | None:
    """The PL/pgSQL source of the one function a trigger executes, if known."""
    bodies = [
        fn.trigger_body
        for e in edges
        if e.referenced.kind == "function" and (fn := m.funcs.get(e.referenced.oid))
    ]
    return bodies[0] if len(bodies) == 1 else None


def enabling_may_run_ddl(m: Model, oid: int, name: str | None) -> bool:
    """Enabling trigger ``name`` of relation ``oid`` (all of them: None) may run DDL at the
    next write: a function whose body is not PL/pgSQL reading as plain statements only
    (``EXECUTE TG_ARGV[0]`` runs what CREATE TRIGGER handed it, long before)."""
    triggers = _triggers_of(m, oid)
    chosen = list(triggers.values()) if name is None else [triggers.get(name, [])]
    for edges in chosen:
        body = _trigger_body(m, edges)
        if body is None or not runs_only_plain_sql("plpgsql", body, trigger=True):
            return True
    return False


def drop_existing_trigger(ov: Overlay, m: Model, oid: int, name: str) -> None:
    """DROP TRIGGER on a table others write: modelled when the trigger only filled
    NEW's fields and nothing checks what it filled (so no write can fail without it)."""
    scope = ov.scope(m)
    rel, qname = m.rels[oid], m.rel_qname(oid)
    triggers = _triggers_of(m, oid)
    body = _trigger_body(m, triggers.get(name, ()))
    filler = row_filler("plpgsql", body) if body is not None else None
    family = [oid, *scope.descendants(oid)]
    if filler is None:
        why: str | None = "what the trigger did is not modelled"
    elif len(triggers) > 1 or any(r.event != "select" for r in rel.rules) or rel.rls:
        why = "other triggers, rules or policies of the table may read what it filled"
    else:
        constraints = [c for i, c in m.cons.items() if m.con_rel.get(i) in family]
        indexes = [x for i, x in m.idxs.items() if m.idx_rel.get(i) in family]
        why = loss_harm(filler, rel, constraints, indexes)
    if why is not None:
        raise CannotModel(
            f"DROP TRIGGER {name} ON {qname}: {why}",
            affects=scope.reach([oid], Use.WRITES, qname),
        )
    m.edges.difference_update(triggers[name])


def triggers_naming(ov: Overlay, m: Model, oid: int, column: str, what: str) -> None:
    """Refuse to model a DROP or RENAME of a column a trigger function of the table
    names: PostgreSQL allows it, and the table's writers fail in the trigger."""
    scope = ov.scope(m)
    if not scope.existing(oid):
        return
    for name, edges in sorted(_triggers_of(m, oid).items()):
        body = _trigger_body(m, edges)
        if body is not None and names_column(body, column):
            qname = m.rel_qname(oid)
            raise CannotModel(
                f"{what} {column} of {qname}, which the function of trigger {name} "
                "names (the table's writers fail in it)",
                affects=scope.reach([oid], Use.WRITES, qname),
            )
