"""ALTER SEQUENCE: what changes the numbers nextval returns next.

A restart, a step, a limit, a type or NO CYCLE can make the next nextval fail (2200H)
or return a number a unique column already holds (23505), but whether it does depends
on the sequence's numbers and the table's rows, which the catalog snapshot does not
read. The model keeps what the statement set (``Model.seq_options``); the change it
makes (:class:`~skewguard.ddl.changes.AlterSequence`) is judged by asking PostgreSQL
(rules/sequences.py). Options that leave the numbers alone (CACHE, OWNED BY, START
without RESTART) or only widen them (CYCLE, AS bigint, NO MAXVALUE) change nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pglast import ast

from skewguard.ddl.errors import Rejected
from skewguard.ddl.model import Model
from skewguard.ddl.opaque import risky_sequence_options, sequence_type_name
from skewguard.ddl.overlay.names import find_rv

if TYPE_CHECKING:
    from skewguard.ddl.overlay.core import Overlay

#: The options the probe reads (START: where a plain RESTART goes).
_KEPT = frozenset({"restart", "increment", "maxvalue", "minvalue", "cycle", "as", "start"})


def alter_sequence(ov: Overlay, m: Model, node: Any) -> None:
    oid = find_rv(ov, m, node.sequence, bool(node.missing_ok))
    if oid is not None:
        set_options(ov, m, oid, node.options or ())


def set_options(ov: Overlay, m: Model, oid: int, options: Iterable[Any]) -> None:
    """What ALTER SEQUENCE (or ALTER COLUMN ... SET of an identity) sets on sequence
    ``oid`` that changes its numbers."""
    options = list(options)
    if not ov.scope(m).existing(oid) or not risky_sequence_options(options):
        return  # made here (no version takes its numbers yet), or the numbers stay
    kept = dict(m.seq_options.get(oid, ()))
    for option in options:
        name = str(option.defname)
        if name in _KEPT:
            kept[name] = _value(name, option.arg)
    m.seq_options[oid] = tuple(sorted(kept.items()))


def _value(name: str, arg: Any) -> str:
    """An option's argument as the probe writes it: a number, a type name, true/false;
    empty for NO MAXVALUE / NO MINVALUE and a RESTART without WITH."""
    if arg is None:
        return "true" if name == "cycle" else ""
    if name == "as":
        return sequence_type_name(arg)
    if isinstance(arg, ast.Integer):
        return str(arg.ival)
    if isinstance(arg, ast.Float):  # numbers past int32 come as Float
        return str(arg.fval)
    if isinstance(arg, ast.Boolean):
        return "true" if arg.boolval else "false"
    raise Rejected  # PostgreSQL wants a number here
