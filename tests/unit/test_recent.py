"""The hot path's bounded memory of texts: bounded in bytes, long texts never kept."""

from __future__ import annotations

from skewguard.relay.recent import Recent


def test_remembers_until_full_then_starts_over() -> None:
    recent: Recent[str, int] = Recent(max_bytes=100, max_entry=40)
    for i in range(5):
        recent.put(f"text-{i}", i)  # 6 characters: 12 bytes each
    assert [recent.get(f"text-{i}") for i in range(5)] == [0, 1, 2, 3, 4]
    for i in range(5, 9):
        recent.put(f"text-{i}", i)
    assert recent.get("text-8") == 8
    assert recent.get("text-0") is None  # over 100 bytes: forgotten, not grown
    assert len(recent) <= 100 // 12


def test_a_long_text_is_never_kept() -> None:
    recent: Recent[bytes, str] = Recent(max_bytes=1000, max_entry=10)
    recent.put(b"short", "kept")
    recent.put(b"x" * 11, "too long")
    assert recent.get(b"short") == "kept"
    assert recent.get(b"x" * 11) is None
