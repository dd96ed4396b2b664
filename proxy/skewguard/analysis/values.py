"""The constants a statement writes, for every text of one literal-insensitive shape.

The extractor reports each constant written to a column as an encoded value
(see ``FacetKind.WRITE_VALUE``). Texts that differ only in their literals share
one analysis (``skewguard.literal_keys``); to read their values without a parse, the
shape is analysed once with *marked* literals (:func:`skewguard.literal_keys.marked_key`):
each value that comes back as a marker is a :class:`Slot` naming the literal's
ordinal, and :func:`values_of` reads any text of the shape through the slots
with one regex pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pglast import ast

from skewguard.analysis.facets import VALUE_TEXT_LIMIT, Facet, FacetKind, value_subject
from skewguard.literal_keys import MARK_BASE, MARK_CHAR, literal_texts

#: One write: the column subject and the encoded value, None for "not a known constant".
Written = tuple[str, str | None]


def encode_const(node: Any) -> str | None:
    """The WRITE_VALUE encoding of a constant (also through a cast), None otherwise."""
    if isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.A_Const):
        return None
    if node.isnull:
        return "null"
    val = node.val
    if isinstance(val, ast.Integer):
        return f"n:{val.ival}"
    if isinstance(val, ast.Float):
        return f"n:{val.fval}"
    if isinstance(val, ast.String):
        return f"s:{val.sval}"
    if isinstance(val, ast.Boolean):
        return "b:true" if val.boolval else "b:false"
    return None  # bit strings


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one written value comes from: the ``ordinal``-th literal, or ``static``."""

    column: str
    ordinal: int = -1
    negative: bool = False  # ``-5``: the sign is outside the literal the regex sees
    static: str | None = None  # a value every text of the shape writes (NULL, TRUE, ...)


def slots_of(marked: Sequence[Written]) -> tuple[Slot, ...]:
    """Slots from the values an analysis of the *marked* text reported."""
    return tuple(_slot(column, value) for column, value in marked)


def _slot(column: str, value: str | None) -> Slot:
    if value is None:
        return Slot(column)
    if value.startswith("s:" + MARK_CHAR) and value[3:].isdigit():
        return Slot(column, int(value[3:]))
    if value.startswith("n:"):
        number = value[2:]
        negative = number.startswith("-")
        digits = number.lstrip("-").removesuffix(".5")
        if digits.isdigit() and int(digits) >= MARK_BASE:
            return Slot(column, int(digits) - MARK_BASE, negative)
    return Slot(column, static=value)


def values_of(sql: str, slots: Sequence[Slot]) -> list[Written]:
    """The values ``sql`` (a text of the slots' shape) writes, in slot order."""
    literals = literal_texts(sql) if any(s.ordinal >= 0 for s in slots) else []
    out: list[Written] = []
    for slot in slots:
        if slot.ordinal < 0:
            out.append((slot.column, slot.static))
        elif slot.ordinal < len(literals):
            out.append((slot.column, _decode(literals[slot.ordinal], slot.negative)))
        else:
            out.append((slot.column, None))
    return out


def _decode(literal: str, negative: bool) -> str | None:
    """A literal as :func:`encode_const` encodes it; None for escape-string forms."""
    if literal[0].isdigit():
        return f"n:{'-' if negative else ''}{literal}"
    if negative:
        return None
    if literal.startswith("'"):
        return "s:" + literal[1:-1].replace("''", "'")
    if literal.startswith("$"):
        tag_end = literal.index("$", 1) + 1
        return "s:" + literal[tag_end:-tag_end]
    return None  # E'', B'', X'', N'', U&'': not decoded here


def value_facets(written: Sequence[Written]) -> frozenset[Facet]:
    """WRITE_VALUE facets of the known constants (not too long), WRITE_OTHER for the rest."""
    out: set[Facet] = set()
    for column, value in written:
        if value is None or len(value) > VALUE_TEXT_LIMIT:
            out.add(Facet(FacetKind.WRITE_OTHER, column))
        else:
            out.add(Facet(FacetKind.WRITE_VALUE, value_subject(column, value)))
    return frozenset(out)


__all__ = ["Slot", "Written", "encode_const", "slots_of", "value_facets", "values_of"]
