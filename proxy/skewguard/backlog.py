"""The bound on what waits to be learned: distinct texts in the sessions' logs. Pure.

Sessions count each statement text in their own log (learning.StatementLog);
the learner takes the logs once a second. When it falls behind — a storm of
distinct shapes, a slow catalog — the logs would grow without end. They share
one ``Backlog``: past ``max_texts`` distinct texts or ``max_chars`` characters,
the session that adds one sheds from its own log, oldest first, never waiting:

1. texts whose literal-insensitive shape a newer text in the log shares are
   folded into that newer text (its count grows: the shape's facets keep their
   evidence; only the folded text's written constants are not learned);
2. only then are the oldest texts dropped (their statements are not learned).

Each shed looks at a bounded window of the oldest texts, so it costs a few
milliseconds at most, and frees room for many texts before the next one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

#: Distinct texts waiting, at most, by default (``--max-learning-backlog``).
DEFAULT_MAX_TEXTS = 50_000
#: Characters of the texts waiting, at most: a bound on memory whatever their length.
MAX_CHARS = 64 << 20
#: The oldest texts one shed looks at, and their characters at most (shapes cost ~80 ns
#: per character): a shed stalls the event loop for a few milliseconds at most.
SHED_WINDOW = 1024
SHED_WINDOW_CHARS = 64 * 1024
#: Room a shed makes below the bounds, so that sheds stay rare.
ROOM_TEXTS = 512


@dataclass(slots=True)
class Backlog:
    """Distinct texts (and their characters) waiting in every session's log, and what was shed."""

    max_texts: int
    max_chars: int
    shape: Callable[[str], str]  # texts with one shape share one analysis
    texts: int = 0
    chars: int = 0
    folded: int = 0  # texts shed into a newer text of the same shape
    dropped: int = 0  # texts shed outright

    def added(self, size: int) -> bool:
        """Count a new text of ``size`` characters; True when a shed is due."""
        self.texts += 1
        self.chars += size
        return self.texts > self.max_texts or self.chars > self.max_chars

    def taken(self, texts: int, chars: int) -> None:
        """The learner took (or gave back, negative) texts of some log."""
        self.texts -= texts
        self.chars -= chars

    def shed(self, counts: dict[str, int]) -> int:
        """Shed from ``counts`` (insertion order is age) until there is room; the
        characters it removed (its log keeps its own total)."""
        window: list[str] = []
        budget = SHED_WINDOW_CHARS
        for text in itertools.islice(counts, SHED_WINDOW):
            window.append(text)
            budget -= len(text)
            if budget <= 0:
                break
        texts_goal = self.max_texts - max(1, min(ROOM_TEXTS, self.max_texts // 8))
        chars_goal = self.max_chars - self.max_chars // 8
        removed = 0

        def room() -> bool:
            return self.texts <= texts_goal and self.chars <= chars_goal

        shapes = [self.shape(text) if len(text) <= SHED_WINDOW_CHARS else text for text in window]
        newest = dict(zip(shapes, window, strict=True))  # the last one of a shape stays
        for text, key in zip(window, shapes, strict=True):  # oldest first
            if room():
                return removed
            keep = newest[key]
            if keep != text:
                counts[keep] += counts.pop(text)
                removed += self._gone(len(text))
                self.folded += 1
        for text in window:
            if room():
                break
            if text in counts:
                del counts[text]
                removed += self._gone(len(text))
                self.dropped += 1
        return removed

    def _gone(self, size: int) -> int:
        self.texts -= 1
        self.chars -= size
        return size
