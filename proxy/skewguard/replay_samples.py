"""What each version really sends: a bounded, in-memory reservoir of statement samples.

The rules judge footprints; some breaks live in values (a CHECK that rejects a
bound parameter, a trigger that raises on some rows). The guard answers those
by replaying a version's own statements with the values it sent (``replay``).
This module keeps those values: per (database, version, role, search_path,
statement shape) up to ``PER_SHAPE`` samples, favouring distinct tuples and
NULLs, under global caps on shapes and bytes. A sample is offered only once
PostgreSQL ran its statement without error, so a failing write never becomes
evidence. Samples hold literal values: they live in memory only and are never
stored, logged or shown (``samples.sample_shape`` makes what is shown).

Pure: the session hands over raw Parse/Bind sections, nothing here does I/O.
"""

from __future__ import annotations

import random
import re
import struct
from dataclasses import dataclass, field
from enum import StrEnum

from skewguard.samples import sample_shape
from skewguard.sql_start import first_word

#: Samples kept per statement shape.
PER_SHAPE = 16
#: A sample larger than this (text plus values) is not kept: replay is for rows, not blobs.
SAMPLE_LIMIT = 64 * 1024
#: Statements that leave effects outside the transaction a replay rolls back.
_OUTSIDE_TRANSACTION = ("pg_advisory", "dblink", "pg_terminate", "pg_cancel", "lo_")
#: Prepared statements per session whose parameter types are kept.
_NAMED_LIMIT = 1024
_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")
_NO_TYPES = b"\x00\x00"
_NO_PARAMETERS = b"\x00\x00\x00\x00"

#: Quoted names (kept) and plain string and number literals (blanked). A text where a
#: quote may not start a plain literal (backslashes, dollar quotes, comments) has none.
_TOKENS = re.compile(r"\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*'|(?<![\w$])\d+(?:\.\d+)?(?![\w$])")
_SUBTLE = re.compile(r"[\\$]|--|/\*")


def _blank(match: re.Match[str]) -> str:
    token = match.group(0)
    return token if token[0] == '"' else "\x01"


def _skeleton(sql: str) -> str | None:
    """``sql`` with its plain literals blanked: texts with one skeleton have one shape."""
    if _SUBTLE.search(sql):
        return None
    return "\x00" + _TOKENS.sub(_blank, sql)


_READS = frozenset({b"select", b"values", b"table"})
_WRITES = frozenset({b"insert", b"update", b"delete", b"merge", b"with"})


class ReplayMode(StrEnum):
    """Which sampled statements a decision may replay (--replay)."""

    NONE = "none"
    READS = "reads"
    WRITES = "writes"
    ALL = "all"


def statement_class(sql: str) -> str | None:
    """``reads``, ``writes`` (a WITH may write) or None: a statement replay does not sample."""
    word = first_word(sql.encode())
    if word is None:
        return None
    word = word.lower()
    if word in _READS:
        return "reads"
    if word in _WRITES:
        return "writes"
    return None


def sampleable(sql: str) -> bool:
    """A single read or write whose effects a rolled-back savepoint undoes."""
    if statement_class(sql) is None:
        return False
    lowered = sql.lower()
    return not any(word in lowered for word in _OUTSIDE_TRANSACTION)


def parse_types(body: bytes) -> bytes:
    """The parameter-type section (count and OIDs) of a Parse message body."""
    name_end = body.find(b"\x00")
    query_end = body.find(b"\x00", name_end + 1)
    section = body[query_end + 1 :]
    return section if len(section) >= 2 else _NO_TYPES


def bind_values(body: bytes) -> bytes | None:
    """A Bind body's parameter formats and values, as sent; None when malformed."""
    try:
        pos = body.index(b"\x00") + 1
        pos = body.index(b"\x00", pos) + 1
        start = pos
        (formats,) = _INT16.unpack_from(body, pos)
        pos += 2 + 2 * formats
        (count,) = _INT16.unpack_from(body, pos)
        pos += 2
        for _ in range(count):
            (length,) = _INT32.unpack_from(body, pos)
            pos += 4 + max(length, 0)
    except (ValueError, struct.error):
        return None
    if pos > len(body) or formats < 0 or count < 0:
        return None
    return body[start:pos]


def _has_null(values: bytes) -> bool:
    (formats,) = _INT16.unpack_from(values, 0)
    pos = 2 + 2 * formats
    (count,) = _INT16.unpack_from(values, pos)
    pos += 2
    for _ in range(count):
        (length,) = _INT32.unpack_from(values, pos)
        if length < 0:
            return True
        pos += 4 + length
    return False


@dataclass(frozen=True, slots=True)
class Sample:
    """One statement as a version ran it: its text, parameter types and values as sent.

    Simple-protocol statements carry their literals in ``sql`` and no values.
    """

    sql: str
    types: bytes = _NO_TYPES
    values: bytes = _NO_PARAMETERS
    has_null: bool = False

    @classmethod
    def bound(cls, sql: str, types: bytes, values: bytes) -> Sample:
        return cls(sql, types, values, _has_null(values))

    @property
    def size(self) -> int:
        return len(self.sql) + len(self.types) + len(self.values)


@dataclass(frozen=True, slots=True)
class ShapeKey:
    """Whose statement, run how: replay runs it as the same role, with the same search_path."""

    database: str
    app: str
    version: str
    user: str
    search_path: tuple[str, ...]
    shape: str  # samples.sample_shape of the text: what may be shown


@dataclass(frozen=True, slots=True)
class Owner:
    """Who ran a statement: the session's version, role and search_path at the time."""

    database: str
    app: str
    version: str
    user: str
    search_path: tuple[str, ...]


@dataclass(slots=True)
class _Reservoir:
    samples: list[Sample] = field(default_factory=list)
    seen: int = 0


class SampleBook:
    """The reservoirs of every shape, bounded by ``max_shapes`` and ``max_bytes``."""

    def __init__(self, *, max_shapes: int, max_bytes: int, seed: int | None = None) -> None:
        self.max_shapes = max_shapes
        self.max_bytes = max_bytes
        self.bytes = 0
        self._shapes: dict[ShapeKey, _Reservoir] = {}
        self._shape_of: dict[str, str] = {}  # text -> shape (texts of bound statements repeat)
        self._random = random.Random(seed)

    def __len__(self) -> int:
        return len(self._shapes)

    def offer(self, owner: Owner, sample: Sample) -> None:
        """Keep ``sample`` if its shape has room, or in place of a less useful one."""
        if sample.size > SAMPLE_LIMIT:
            return
        o = owner
        key = ShapeKey(o.database, o.app, o.version, o.user, o.search_path, self._shape(sample))
        reservoir = self._shapes.get(key)
        if reservoir is None:
            if len(self._shapes) >= self.max_shapes or self.bytes + sample.size > self.max_bytes:
                return
            reservoir = self._shapes[key] = _Reservoir()
        reservoir.seen += 1
        kept = reservoir.samples
        if sample in kept:
            return
        if len(kept) < PER_SHAPE:
            if self.bytes + sample.size <= self.max_bytes:
                kept.append(sample)
                self.bytes += sample.size
            return
        slot = self._slot(reservoir, sample)
        if slot is not None and self.bytes - kept[slot].size + sample.size <= self.max_bytes:
            self.bytes += sample.size - kept[slot].size
            kept[slot] = sample

    def _slot(self, reservoir: _Reservoir, sample: Sample) -> int | None:
        """Which kept sample a new one replaces: a NULL-less one for a tuple with NULLs
        no kept sample has, else a uniformly random one with probability PER_SHAPE/seen."""
        kept = reservoir.samples
        if sample.has_null and not any(s.has_null for s in kept):
            return self._random.randrange(len(kept))
        pick = self._random.randrange(reservoir.seen)
        if pick >= len(kept):
            return None
        if kept[pick].has_null and sum(s.has_null for s in kept) == 1:
            return None  # the shape's one NULL sample stays
        return pick

    def _shape(self, sample: Sample) -> str:
        """The sample's shape; PostgreSQL's lexer runs once per text with its literals
        blanked by a regular expression (a literal text seldom repeats; its skeleton does)."""
        shape = self._shape_of.get(sample.sql)  # the same text again: one hash lookup
        if shape is not None:
            return shape
        key = sample.sql if sample.values != _NO_PARAMETERS else _skeleton(sample.sql)
        shape = self._shape_of.get(key) if key is not None else None
        if shape is None:
            shape = sample_shape(sample.sql)
            if key is not None and len(self._shape_of) < 4 * self.max_shapes:
                self._shape_of[key] = shape
        return shape

    def keys(self, database: str) -> list[ShapeKey]:
        return [k for k in self._shapes if k.database == database]

    def shapes(self, database: str) -> dict[ShapeKey, list[Sample]]:
        """Every shape of ``database`` with (a copy of) its samples."""
        return {k: list(r.samples) for k, r in self._shapes.items() if k.database == database}


class SessionSampler:
    """One session's samples waiting for PostgreSQL's answer before they are kept.

    A sample waits for the ReadyForQuery that ends its reply; it is kept only if
    no ErrorResponse passed meanwhile (an error in an earlier reply still under
    way also drops it: a sample missed, never a failing one kept).
    """

    __slots__ = ("_book", "_types", "waiting")

    def __init__(self, book: SampleBook) -> None:
        self._book = book
        self._types: dict[str, bytes] = {}  # statement name -> parameter types from its Parse
        self.waiting: list[tuple[int, int, Owner, Sample]] = []

    def on_parse(self, name: str, sql: str, body: bytes) -> None:
        if sampleable(sql) and (name in self._types or len(self._types) < _NAMED_LIMIT):
            self._types[name] = parse_types(body)
        else:
            self._types.pop(name, None)

    def on_bind(
        self, owner: Owner, name: str, sql: str, body: bytes, ready: int, errors: int
    ) -> None:
        types = self._types.get(name)
        if types is None or len(self.waiting) >= PER_SHAPE * 4:
            return
        values = bind_values(body)
        if values is not None:
            self.waiting.append((ready, errors, owner, Sample.bound(sql, types, values)))

    def on_query(self, owner: Owner, sql: str, ready: int, errors: int) -> None:
        if len(self.waiting) < PER_SHAPE * 4 and sampleable(sql):
            self.waiting.append((ready, errors, owner, Sample(sql)))

    def settle(self, ready: int, errors: int, *, certain: bool = True) -> None:
        """Keep the samples answered by ``ready`` ReadyForQuery messages without error.

        ``certain`` False: errors may have passed uncounted (a filter was armed)."""
        keep: list[tuple[int, int, Owner, Sample]] = []
        for entry in self.waiting:
            due, seen, owner, sample = entry
            if due > ready:
                keep.append(entry)
            elif certain and seen == errors:
                self._book.offer(owner, sample)
        self.waiting = keep


__all__ = [
    "PER_SHAPE",
    "Owner",
    "ReplayMode",
    "Sample",
    "SampleBook",
    "SessionSampler",
    "ShapeKey",
    "bind_values",
    "parse_types",
    "sampleable",
    "statement_class",
]
