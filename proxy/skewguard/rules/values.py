"""What a version's known constants say about a change: fit a new type, pass a new CHECK.

The learner keeps, per version and column, the constants written
(``FacetKind.WRITE_VALUE``) and whether anything else is written
(``WRITE_OTHER``). :func:`column_values` reads them back from a footprint;
:func:`fits` decides in Python whether a constant fits a column type (only the
types it knows; None otherwise). A new CHECK is evaluated on them by
PostgreSQL (``rules.constraints.check_probe_sql``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from skewguard.analysis.facets import Facet, FacetKind, split_value_subject
from skewguard.footprint import Evidence

_INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_LENGTH = re.compile(r"(?:character varying|character|varchar|char|bpchar)\((\d+)\)")
_UNLIMITED = frozenset({"text", "character varying", "varchar"})


def column_values(facets: Mapping[Facet, Evidence], column: str) -> tuple[frozenset[str], bool]:
    """The constants written to ``column``, and whether they are all its writes are.

    Complete means: nothing else is written (no WRITE_OTHER) and the constants'
    evidence covers every counted write of the column (so writes learned before
    values were kept leave it incomplete).
    """
    counts: dict[str, int] = {}
    for facet, evidence in facets.items():
        if facet.kind is FacetKind.WRITE_VALUE:
            owner, value = split_value_subject(facet.subject)
            if owner == column:
                counts[value] = evidence.count
    writes = facets.get(Facet(FacetKind.COLUMN_WRITE, column))
    complete = (
        bool(counts)
        and writes is not None
        and Facet(FacetKind.WRITE_OTHER, column) not in facets
        and sum(counts.values()) >= writes.count
    )
    return frozenset(counts), complete


def fits(value: str, type_name: str) -> bool | None:
    """Whether an encoded constant is accepted by a column of ``type_name``; None: unknown.

    A constant is read the way an untyped literal is assigned: strings by the
    type's input rules (trailing spaces past a length limit are cut, as
    PostgreSQL does), numbers by their text.
    """
    if value == "null":
        return True
    kind, _, text = value.partition(":")
    if type_name in _INTEGER_RANGES:
        if kind not in ("n", "s") or not re.fullmatch(r"\s*[+-]?\d+\s*", text):
            return None
        low, high = _INTEGER_RANGES[type_name]
        return low <= int(text) <= high
    if kind != "s":
        return None
    if type_name in _UNLIMITED:
        return True
    match = _LENGTH.fullmatch(type_name)
    if match is None:
        return None
    return len(text.rstrip(" ")) <= int(match.group(1))


__all__ = ["column_values", "fits"]
