"""Column types as ``format_type()`` prints them, and which type changes are safe.

The catalog stores ``format_type(atttypid, atttypmod)`` (``character
varying(50)``, ``numeric(10,2)``, ``timestamp(3) with time zone``); DDL spells
types many ways. :func:`format_type` renders a parsed type the catalog's way;
:func:`classify_type_change` says whether a change is binary-coercible (no
rewrite) and whether it widens the set of accepted values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pglast import ast

from skewguard.analysis.types import type_text
from skewguard.catalog import CatalogSnapshot

SERIALS = {"smallserial": "smallint", "serial": "integer", "bigserial": "bigint"}
_SERIAL_ALIASES = {"serial2": "smallserial", "serial4": "serial", "serial8": "bigserial"}
_TIME_TYPES = (
    "timestamp without time zone",
    "timestamp with time zone",
    "time without time zone",
    "time with time zone",
)


def _typmods(tn: Any) -> list[int]:
    mods: list[int] = []
    for m in tn.typmods or ():
        if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer):
            mods.append(int(m.val.ival or 0))
    return mods


def serial_kind(tn: Any) -> str | None:
    """``integer``/``bigint``/``smallint`` when ``tn`` is a serial pseudo-type."""
    names = [str(n.sval) for n in tn.names or () if isinstance(n, ast.String)]
    if len(names) != 1 or tn.arrayBounds:
        return None
    name = _SERIAL_ALIASES.get(names[0], names[0])
    return SERIALS.get(name)


def format_type(tn: Any, catalog: CatalogSnapshot, search_path: Sequence[str]) -> tuple[str, str]:
    """(type_name, base_type) like the loader's format_type(oid, typmod) / (oid, NULL)."""
    serial = serial_kind(tn)
    if serial is not None:
        return serial, serial
    array = "[]" if tn.arrayBounds else ""
    base = type_text(tn, catalog, search_path)
    if array and base.endswith("[]"):
        base = base[:-2]
    mods = _typmods(tn)
    full = base
    if base in _TIME_TYPES and mods:
        word, _, rest = base.partition(" ")
        full = f"{word}({mods[0]}) {rest}"
    elif mods:
        full = f"{base}({','.join(str(m) for m in mods)})"
    elif base in ("character", "bit"):
        full = f"{base}(1)"
    return full + array, base + array


_MODDED = re.compile(r"^(?P<base>[a-z ]+?)\((?P<a>\d+)(?:,(?P<b>\d+))?\)(?P<rest>[a-z ]*)$")


@dataclass(frozen=True, slots=True)
class _Parsed:
    base: str
    mods: tuple[int, ...]


def _parse(text: str) -> _Parsed:
    m = _MODDED.match(text)
    if m is None:
        return _Parsed(text, ())
    mods = tuple(int(g) for g in (m["a"], m["b"]) if g is not None)
    return _Parsed((m["base"] + m["rest"]).strip(), mods)


_STRINGLIKE = ("character varying", "text")
#: Decimal digits of the integer types' widest values (-32768, -2147483648, ...).
_INT_DIGITS = {"smallint": 5, "integer": 10, "bigint": 19}


@dataclass(frozen=True, slots=True)
class TypeChange:
    """How a column type change affects storage and the values accepted."""

    binary_coercible: bool  # no table rewrite, no value can fail the conversion
    widening: bool  # every value the old type accepted the new one accepts


def classify_type_change(old: str, new: str) -> TypeChange:
    """Classify ``old`` -> ``new`` (both format_type texts)."""
    if old == new:
        return TypeChange(True, True)
    if old.endswith("[]") != new.endswith("[]"):
        return TypeChange(False, False)
    a, b = _parse(old.removesuffix("[]")), _parse(new.removesuffix("[]"))
    if a.base in _STRINGLIKE and b.base in _STRINGLIKE:
        if b.base == "text" or not b.mods:
            return TypeChange(True, True)
        if a.base == "text" or not a.mods:  # text -> varchar(n): checks every value
            return TypeChange(False, False)
        return TypeChange(b.mods[0] >= a.mods[0], b.mods[0] >= a.mods[0])
    if a.base == b.base == "numeric":
        if not b.mods:
            return TypeChange(True, True)
        if not a.mods:
            return TypeChange(False, False)
        a_scale = a.mods[1] if len(a.mods) > 1 else 0
        b_scale = b.mods[1] if len(b.mods) > 1 else 0
        ok = b_scale == a_scale and b.mods[0] >= a.mods[0]
        widening = b_scale >= a_scale and b.mods[0] - b_scale >= a.mods[0] - a_scale
        return TypeChange(ok, widening)
    if a.base == b.base and a.base in ("bit varying", *_TIME_TYPES):
        if not b.mods:
            return TypeChange(True, True)
        ok = bool(a.mods) and b.mods[0] >= a.mods[0]
        return TypeChange(ok, ok)
    if (a.base, b.base) == ("cidr", "inet"):
        return TypeChange(True, True)
    ints = ("smallint", "integer", "bigint")
    if a.base in ints and b.base in (*ints, "numeric") and not b.mods:
        wider = b.base == "numeric" or ints.index(b.base) >= ints.index(a.base)
        return TypeChange(False, wider)
    if a.base in ints and b.base == "numeric":  # numeric(p,s): p - s digits before the point
        scale = b.mods[1] if len(b.mods) > 1 else 0
        return TypeChange(False, b.mods[0] - scale >= _INT_DIGITS[a.base])
    if a.base == "character varying" and b.base == "character varying":
        return TypeChange(False, False)
    return TypeChange(False, False)


def assigns_every_value(source: str, target: str) -> bool:
    """Whether every value of type ``source`` goes into a column of type ``target``
    (both format_type texts) without an error: the types are equal, the target
    widens the source, or the target is ``text`` / unbounded ``character varying``,
    which PostgreSQL fills by assignment through the source's output function."""
    if source == target or classify_type_change(source, target).widening:
        return True
    return target in _STRINGLIKE


#: Types whose binary form is the string's bytes: one's receive function reads another's.
_BYTES_OF_TEXT = frozenset({"text", "character varying", "character"})


def receives_binary_form(source: str, target: str) -> bool:
    """Whether a column of type ``target`` reads the binary form of a ``source`` value
    (binary COPY sends each value as its type's send function wrote it; the column's
    receive function takes only its own form: int8 refuses an int4's four bytes, an
    array one of another element type). Typmods and collations aside, the base types
    must be the same, or both strings; whether the value then fits is another matter."""
    source, target = source.split(" COLLATE ", 1)[0], target.split(" COLLATE ", 1)[0]
    array = source.endswith("[]")
    if array != target.endswith("[]"):
        return False
    a, b = _parse(source.removesuffix("[]")), _parse(target.removesuffix("[]"))
    if a.base == b.base:
        return True
    return not array and a.base in _BYTES_OF_TEXT and b.base in _BYTES_OF_TEXT


__all__ = [
    "SERIALS",
    "TypeChange",
    "assigns_every_value",
    "classify_type_change",
    "format_type",
    "receives_binary_form",
    "serial_kind",
]
