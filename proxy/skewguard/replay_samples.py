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

from skewguard.replay_roles import LEAVES_ROLE
from skewguard.samples import sample_shape
from skewguard.sql_start import first_word

#: Samples kept per statement shape.
PER_SHAPE = 16
#: A sample larger than this (text plus values) is not kept: replay is for rows, not blobs.
SAMPLE_LIMIT = 64 * 1024
#: Statements that leave effects outside the transaction a replay rolls back.
_OUTSIDE_TRANSACTION = (
    "pg_advisory", "dblink", "pg_background", "pg_terminate", "pg_cancel", "lo_",
)  # fmt: skip
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
    """A single read or write whose effects a rolled-back savepoint undoes, and that
    cannot leave the role it is replayed as by what it calls (``replay_roles``)."""
    if statement_class(sql) is None:
        return False
    lowered = sql.lower()
    return not any(word in lowered for word in _OUTSIDE_TRANSACTION + LEAVES_ROLE)


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
    #: Bound to a named statement the version keeps prepared (not Parsed anew each time):
    #: its parameter types were fixed when it was prepared, before the change.
    named: bool = False

    @classmethod
    def bound(cls, sql: str, types: bytes, values: bytes, *, named: bool = False) -> Sample:
        return cls(sql, types, values, _has_null(values), named)

    @property
    def size(self) -> int:
        return len(self.sql) + len(self.types) + len(self.values)

    @property
    def binds_anew(self) -> bool:
        """Whether a fresh Parse of the text takes the values as sent: every binary value
        has its type declared (an inferred type may change with the schema; the driver
        then lays its values out for the new type, which a replay cannot)."""
        (formats,) = _INT16.unpack_from(self.values, 0)
        codes = [_INT16.unpack_from(self.values, 2 + 2 * i)[0] for i in range(formats)]
        (count,) = _INT16.unpack_from(self.values, 2 + 2 * formats)
        (declared,) = _INT16.unpack_from(self.types, 0)
        oids = [_INT32.unpack_from(self.types, 2 + 4 * i)[0] for i in range(declared)]
        for i in range(count):
            code = codes[0] if formats == 1 else codes[i] if i < formats else 0
            if code != 0 and (i >= declared or oids[i] == 0):
                return False
        return True


@dataclass(frozen=True, slots=True)
class ShapeKey:
    """Whose statement, run how: replay runs it as the same role, with the same search_path."""

    database: str
    app: str
    version: str
    user: str
    search_path: tuple[str, ...]
    shape: str  # samples.sample_shape of the text: what may be shown

    @property
    def app_version(self) -> tuple[str, str]:
        return self.app, self.version


@dataclass(frozen=True, slots=True)
class Owner:
    """Who ran a statement: the session's version, role and search_path at the time."""

    database: str
    app: str
    version: str
    user: str
    search_path: tuple[str, ...]


def vars_of(owner: Owner) -> tuple[str, str, str, str, tuple[str, ...]]:
    return owner.database, owner.app, owner.version, owner.user, owner.search_path


@dataclass(slots=True)
class _Reservoir:
    samples: list[Sample] = field(default_factory=list)
    kept: set[Sample] = field(default_factory=set)  # the same, for membership
    seen: int = 0
    nulls: int = 0  # kept samples with a NULL


#: A NULL parameter's length word (-1): a Bind without these bytes has no NULL.
_NULL_LENGTH = b"\xff\xff\xff\xff"


class SampleBook:
    """The reservoirs of every shape, bounded by ``max_shapes`` and ``max_bytes``.

    Offers come from the relay, once per statement: a full shape's offer is
    settled by one random draw before its values are read.
    """

    def __init__(self, *, max_shapes: int, max_bytes: int, seed: int | None = None) -> None:
        self.max_shapes = max_shapes
        self.max_bytes = max_bytes
        self.bytes = 0
        self._shapes: dict[tuple[Owner, str], _Reservoir] = {}
        self._shape_of: dict[str, str] = {}  # text (or skeleton) -> shape
        self._random = random.Random(seed)

    def __len__(self) -> int:
        return len(self._shapes)

    def offer(self, owner: Owner, sample: Sample) -> None:
        """Keep a simple-protocol ``sample`` if its shape has room, or in place of one."""
        reservoir = self._reservoir(owner, self._shape(sample.sql, bound=False), sample.size)
        if reservoir is not None and self._wanted(reservoir, sample.has_null):
            self._keep(reservoir, sample)

    def offer_bound(
        self, owner: Owner, sql: str, types: bytes, bind: bytes, *, named: bool = False
    ) -> None:
        """The same for a Bind message's body (``named``: of a named statement); its
        values are read only when wanted."""
        size = len(sql) + len(types) + len(bind)
        reservoir = self._reservoir(owner, self._shape(sql, bound=True), size)
        if reservoir is None:
            return
        full = len(reservoir.samples) >= PER_SHAPE
        if full and (reservoir.nulls or _NULL_LENGTH not in bind):  # no NULL to favour
            if not self._wanted(reservoir, False):  # the draw, before reading anything
                return
            full = False  # drawn: read it
        values = bind_values(bind)
        if values is None:
            return
        sample = Sample.bound(sql, types, values, named=named)
        if not full or self._wanted(reservoir, sample.has_null):
            self._keep(reservoir, sample)

    def _reservoir(self, owner: Owner, shape: str, size: int) -> _Reservoir | None:
        if size > SAMPLE_LIMIT:
            return None
        key = (owner, shape)
        reservoir = self._shapes.get(key)
        if reservoir is None:
            if len(self._shapes) >= self.max_shapes or self.bytes + size > self.max_bytes:
                return None
            reservoir = self._shapes[key] = _Reservoir()
        reservoir.seen += 1
        return reservoir

    def _wanted(self, reservoir: _Reservoir, has_null: bool) -> bool:
        """Room, or the draw: a tuple with a NULL where none is kept always wins a slot,
        else one in seen/PER_SHAPE does (reservoir sampling)."""
        if len(reservoir.samples) < PER_SHAPE or (has_null and not reservoir.nulls):
            return True
        return self._random.randrange(reservoir.seen) < PER_SHAPE

    def _keep(self, reservoir: _Reservoir, sample: Sample) -> None:
        kept = reservoir.samples
        if sample in reservoir.kept:
            return
        if len(kept) < PER_SHAPE:
            if self.bytes + sample.size <= self.max_bytes:
                kept.append(sample)
                reservoir.kept.add(sample)
                reservoir.nulls += sample.has_null
                self.bytes += sample.size
            return
        slot = self._random.randrange(len(kept))
        old = kept[slot]
        if old.has_null and reservoir.nulls == 1 and not sample.has_null:
            return  # the shape's one NULL sample stays
        if self.bytes - old.size + sample.size > self.max_bytes:
            return
        self.bytes += sample.size - old.size
        reservoir.nulls += sample.has_null - old.has_null
        reservoir.kept.discard(old)
        reservoir.kept.add(sample)
        kept[slot] = sample

    def _shape(self, sql: str, *, bound: bool) -> str:
        """The text's shape; PostgreSQL's lexer runs once per text with its literals
        blanked by a regular expression (a literal text seldom repeats; its skeleton does)."""
        shape = self._shape_of.get(sql)  # the same text again: one hash lookup
        if shape is not None:
            return shape
        key = sql if bound else _skeleton(sql)
        shape = self._shape_of.get(key) if key is not None else None
        if shape is None:
            shape = sample_shape(sql)
            if key is not None and len(self._shape_of) < 4 * self.max_shapes:
                self._shape_of[key] = shape
        return shape

    def keys(self, database: str) -> list[ShapeKey]:
        return [ShapeKey(*vars_of(o), shape) for o, shape in self._shapes if o.database == database]

    def shapes(self, database: str) -> dict[ShapeKey, list[Sample]]:
        """Every shape of ``database`` with (a copy of) its samples."""
        return {
            ShapeKey(*vars_of(o), shape): list(r.samples)
            for (o, shape), r in self._shapes.items()
            if o.database == database
        }


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
        #: (answered by ReadyForQuery n, errors seen then, owner, text, types or None
        #: for a simple Query, the Bind body, whether the statement is named)
        self.waiting: list[tuple[int, int, Owner, str, bytes | None, bytes, bool]] = []

    def on_parse(self, name: str, sql: str, body: bytes, *, wanted: bool = True) -> None:
        """``wanted`` False: no sample of it is wanted now (its types are not read)."""
        if wanted and sampleable(sql) and (name in self._types or len(self._types) < _NAMED_LIMIT):
            self._types[name] = parse_types(body)
        else:
            self._types.pop(name, None)

    def on_bind(
        self, owner: Owner, name: str, sql: str, body: bytes, ready: int, errors: int
    ) -> None:
        types = self._types.get(name)
        if types is not None and len(self.waiting) < PER_SHAPE * 4:
            self.waiting.append((ready, errors, owner, sql, types, body, name != ""))

    def on_query(self, owner: Owner, sql: str, ready: int, errors: int) -> None:
        if len(self.waiting) < PER_SHAPE * 4 and sampleable(sql):
            self.waiting.append((ready, errors, owner, sql, None, b"", False))

    def settle(self, ready: int, errors: int, *, certain: bool = True) -> None:
        """Keep the samples answered by ``ready`` ReadyForQuery messages without error.

        ``certain`` False: errors may have passed uncounted (a filter was armed)."""
        keep = []
        for entry in self.waiting:
            due, seen, owner, sql, types, body, named = entry
            if due > ready:
                keep.append(entry)
            elif not certain or seen != errors:
                continue
            elif types is None:
                self._book.offer(owner, Sample(sql))
            else:
                self._book.offer_bound(owner, sql, types, body, named=named)
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
