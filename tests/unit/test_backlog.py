"""The learning backlog's bound (backlog.py): shed oldest duplicates first, then the oldest."""

from __future__ import annotations

import pytest

from skewguard.backlog import ROOM_TEXTS, SHED_WINDOW, Backlog
from skewguard.footprint import VersionKey
from skewguard.learning import StatementLog
from skewguard.literal_keys import literal_key

KEY = VersionKey("shop", "orders", "1")


def _log(backlog: Backlog) -> StatementLog:
    return StatementLog(KEY, "app", ("public",), backlog)


def _backlog(max_texts: int, max_chars: int = 1 << 30) -> Backlog:
    return Backlog(max_texts, max_chars, literal_key)


def test_under_the_bound_nothing_is_shed() -> None:
    backlog = _backlog(10)
    log = _log(backlog)
    for n in range(10):
        log.add(f"SELECT {n}")
        log.add(f"SELECT {n}")  # a repeat is a count, not a text
    assert len(log.counts) == 10 and set(log.counts.values()) == {2}
    assert (backlog.texts, backlog.folded, backlog.dropped) == (10, 0, 0)
    assert backlog.chars == log.chars == sum(len(t) for t in log.counts)


def test_duplicates_of_a_shape_are_folded_oldest_first_counts_kept() -> None:
    backlog = _backlog(16)
    log = _log(backlog)
    distinct = [f"SELECT c{n} FROM t" for n in range(8)]
    for text in distinct:
        log.add(text)
    for n in range(9):  # one shape, nine literal variants: the 17th text is over the bound
        log.add(f"SELECT email FROM users WHERE id = {n}")
    assert backlog.folded > 0 and backlog.dropped == 0
    assert backlog.texts == len(log.counts) <= 16 - 16 // 8
    for text in distinct:  # the distinct shapes are all kept
        assert log.counts[text] == 1
    variants = {t: c for t, c in log.counts.items() if t.startswith("SELECT email")}
    assert sum(variants.values()) == 9  # every run still counted, under the newest variants
    assert "SELECT email FROM users WHERE id = 8" in variants  # the newest stays
    assert "SELECT email FROM users WHERE id = 0" not in variants  # the oldest went first


def test_a_storm_of_distinct_shapes_drops_the_oldest() -> None:
    backlog = _backlog(100)
    log = _log(backlog)
    for n in range(1000):
        log.add(f"SELECT c{n} FROM t")
    assert backlog.texts == len(log.counts) <= 100
    assert backlog.folded == 0 and backlog.dropped == 1000 - len(log.counts)
    assert "SELECT c999 FROM t" in log.counts  # the newest is kept
    assert "SELECT c0 FROM t" not in log.counts
    assert backlog.chars == log.chars == sum(len(t) for t in log.counts)


def test_the_character_bound_holds_for_long_texts() -> None:
    backlog = _backlog(10_000, max_chars=100_000)
    log = _log(backlog)
    for n in range(50):
        log.add(f"SELECT '{n}' || '" + "x" * 10_000 + "'")
    assert backlog.chars == log.chars <= 100_000
    assert backlog.texts == len(log.counts)


def test_one_shed_makes_room_for_many_texts() -> None:
    backlog = _backlog(8 * ROOM_TEXTS)
    log = _log(backlog)
    sheds = 0
    for n in range(8 * ROOM_TEXTS + 2 * ROOM_TEXTS):
        before = backlog.dropped
        log.add(f"SELECT c{n} FROM t")
        sheds += backlog.dropped != before
    assert sheds <= 3  # ~ROOM_TEXTS texts per shed, not one shed per text


def test_a_shed_looks_at_a_bounded_window_only() -> None:
    looked: list[str] = []

    def shape(text: str) -> str:
        looked.append(text)
        return literal_key(text)

    backlog = Backlog(5 * SHED_WINDOW, 1 << 30, shape)
    log = _log(backlog)
    for n in range(5 * SHED_WINDOW + 1):
        log.add(f"SELECT c{n} FROM t")
    assert 0 < len(looked) <= SHED_WINDOW


def test_texts_are_shed_across_logs_sharing_the_backlog() -> None:
    backlog = _backlog(50)
    quiet, busy = _log(backlog), _log(backlog)
    for n in range(40):
        quiet.add(f"SELECT q{n} FROM t")
    for n in range(200):
        busy.add(f"SELECT b{n} FROM t")
    assert backlog.texts == len(quiet.counts) + len(busy.counts) <= 50
    assert len(quiet.counts) == 40  # the session that floods sheds from its own log


def test_swap_and_give_back_keep_the_totals() -> None:
    backlog = _backlog(100)
    log = _log(backlog)
    for n in range(5):
        log.add(f"SELECT {n}")
    counts, named = log.swap()
    assert (backlog.texts, backlog.chars, log.chars, log.counts) == (0, 0, 0, {})
    log.add("SELECT 0")
    log.give_back(counts, named)
    assert log.counts["SELECT 0"] == 2 and len(log.counts) == 5
    assert backlog.texts == 5 and backlog.chars == log.chars == sum(len(t) for t in counts)


@pytest.mark.parametrize("bound", [1, 2, 7])
def test_tiny_bounds_hold(bound: int) -> None:
    backlog = _backlog(bound)
    log = _log(backlog)
    for n in range(50):
        log.add(f"SELECT email FROM users WHERE id = {n % 3}")
        assert len(log.counts) <= bound
