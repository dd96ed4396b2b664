"""Literal keys: texts differing only in literal values share a key; statements never do."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pglast.parser import fingerprint

from skewguard.literal_keys import literal_key


@pytest.mark.parametrize(
    ("sql", "key"),
    [
        ("select * from t where id = 42", "select * from t where id = 0"),
        ("select 1.5, 2e3, t1.c2, x.3, $1", "select 0.0, 0.0, t1.c2, x.3, $1"),
        ("select 'it''s', e'x\\'y', b'01', u&'d', n'z'", "select '', '', '', '', ''"),
        ("select $$a$b$$, $t$ $ $$ $t$, 7", "select '', '', 0"),
        ("select a -- it's\n from t where x = 'q'", "select a -- it's\n from t where x = ''"),
        ("select a /* it's /* 1 */ */ from t", "select a /* it's /* 1 */ */ from t"),
        ('select "it\'s", "a""1" from t where c = 3', 'select "it\'s", "a""1" from t where c = 0'),
        ("select a$1, a1, _2", "select a$1, a1, _2"),
    ],
)
def test_literal_key(sql: str, key: str) -> None:
    assert literal_key(sql) == key


_LITERALS = st.sampled_from(
    ["1", "42", "1.5", "3e2", "'x'", "'it''s'", "E'\\''", "$$q'$$", "$a$ $ $a$", "'--'", "'/*'"]
)
_NAMES = st.sampled_from(["t", "u", '"it\'s"', '"a""b"', "t1", "x"])
_NOISE = st.sampled_from(["", " -- it's\n", " /* ' */ ", " /* /* ' */ */ ", " -- $$\n"])


@st.composite
def _statement(draw: st.DrawFn) -> str:
    columns = draw(st.lists(st.one_of(_NAMES, _LITERALS), min_size=1, max_size=3))
    parts = ["select "]
    for index, column in enumerate(columns):
        parts.append(("," if index else "") + draw(_NOISE) + column)
    parts.append(" from " + draw(_NAMES) + draw(_NOISE))
    parts.append(" where " + draw(_NAMES) + " = " + draw(_LITERALS))
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(_statement(), _statement())
def test_a_shared_key_means_the_same_statement(a: str, b: str) -> None:
    """pglast's fingerprint ignores literal values (and comments): one key, one fingerprint."""
    if literal_key(a) == literal_key(b):
        assert fingerprint(a) == fingerprint(b), (a, b)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_literal_values_do_not_change_the_key(data: st.DataObject) -> None:
    template = "select {} from t -- it's\n where a = {} and b = {}"
    numbers = st.sampled_from(["1", "22", "333"])
    strings = st.sampled_from(["'x'", "'it''s'", "$$q$$", "E'\\''"])
    one = template.format(data.draw(numbers), data.draw(strings), data.draw(numbers))
    two = template.format(data.draw(numbers), data.draw(strings), data.draw(numbers))
    assert literal_key(one) == literal_key(two)


@pytest.mark.parametrize(
    "sql",
    [
        "select '" + "a" * 5_000_000 + "'",
        "select '" + "''" * 1_000_000 + "'",
        "select $x$" + "a$" * 1_000_000 + "$x$",
        "select 'unterminated" + "a" * 5_000_000,
    ],
    ids=["long-string", "many-quotes", "many-dollars", "unterminated"],
)
def test_memory_is_linear_in_the_text(sql: str) -> None:
    tracemalloc.start()
    try:
        literal_key(sql)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(sql) + 1_000_000, peak
