"""A bounded memory of what the hot path worked out from a text it sees again and again.

Applications send the same few texts over and over (an unnamed Parse per
execution with the extended protocol; BEGIN and COMMIT around every
transaction), so decoding, sniffing and parsing each one once is enough. Shared
by every connection of the process and bounded in bytes: when full it starts
over (no ageing to pay for on the hot path); a long text is never kept.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K", bytes, str)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Key (a text or a message body) -> what was worked out from it."""

    __slots__ = ("_bytes", "_known", "max_bytes", "max_entry")

    def __init__(self, *, max_bytes: int = 4 << 20, max_entry: int = 64 << 10) -> None:
        self._known: dict[K, V] = {}
        self._bytes = 0
        self.max_bytes = max_bytes
        self.max_entry = max_entry

    def get(self, key: K) -> V | None:
        return self._known.get(key)

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key``, counted as twice the key's length (key and value)."""
        size = 2 * len(key)
        if len(key) > self.max_entry:
            return
        if self._bytes + size > self.max_bytes:
            self._known.clear()
            self._bytes = 0
        self._known[key] = value
        self._bytes += size

    def __len__(self) -> int:
        return len(self._known)
