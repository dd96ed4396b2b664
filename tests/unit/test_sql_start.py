"""The hot-path sniff reads a statement's start exactly as PostgreSQL's scanner does.

The property: whatever comments, blanks and quoting surround a statement, the
sniff never calls a text harmless when PostgreSQL's parser (pglast) reads DDL,
transaction control or a setting change in it.
"""

from __future__ import annotations

import pglast
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pglast import ast

from skewguard.analysis.classify import is_ddl
from skewguard.sql_start import first_word, skip_blanks
from skewguard.statements import needs_reading


@pytest.mark.parametrize(
    ("sql", "word"),
    [
        (b"select 1", b"select"),
        (b"  \t\n\r\fSELECT 1", b"select"),
        (b"-- c\nSELECT 1", b"select"),
        (b"-- x\rALTER TABLE t DROP COLUMN c", b"alter"),  # a -- comment ends at CR too
        (b"/*/**/SELECT*/ALTER TABLE t DROP COLUMN c", b"alter"),  # block comments nest
        (b"/* a */* b */ SELECT", None),  # the comment closed early: '*' is no word
        (b"/**/select", b"select"),
        (b"/*/*/ */ */ drop table t", b"drop"),
        (b"/* never closed SELECT", None),
        (b"\vselect 1", None),  # left to the parser: not a blank on PostgreSQL 15
        (b"selectx from t", b"selectx"),
        (b"select$1", b"select$1"),
        (b"sel\xc3\xa9ct 1", None),
        (b'"select" 1', None),
        (b"", None),
    ],
)
def test_first_word(sql: bytes, word: bytes | None) -> None:
    assert first_word(sql) == word


def test_skip_blanks_stops_at_the_statement() -> None:
    assert skip_blanks(b"/* a /* b */ c */ x") == len(b"/* a /* b */ c */ ")
    assert skip_blanks(b"-- only a comment") == len(b"-- only a comment")


@pytest.mark.parametrize(
    "sql",
    [
        b"/*/**/SELECT*/ALTER TABLE users DROP COLUMN email",
        b"-- x\rALTER TABLE users DROP COLUMN email",
        b"SELECT Set_Config('search_path', 'public', false)",
        b"SELECT \"set_config\"('search_path', 'public', false)",
        b"SELECT U&\"set\\005fconfig\"('search_path', 'public', false)",
        b"CALL do_migration()",
        b"select 1 /* ; */",
    ],
)
def test_attack_texts_are_read(sql: bytes) -> None:
    assert needs_reading(sql)


# ---------------------------------------------------------------- the property

_BLANK = st.sampled_from([" ", "\t", "\n", "\r", "\f", "\v", "\r\n"])
_NOISE = st.text(alphabet="SELECTselect */-\n\r;'\"$x", max_size=12)


def _block_comment(depth: int) -> st.SearchStrategy[str]:
    inner: st.SearchStrategy[str] = _NOISE.map(lambda t: t.replace("*/", "").replace("/*", ""))
    if depth > 0:
        inner = st.lists(st.one_of(inner, _block_comment(depth - 1)), max_size=3).map("".join)
    return inner.map(lambda body: f"/*{body}*/")


_LINE_COMMENT = st.tuples(
    st.text(alphabet="SELECTselect */-;x", max_size=10), st.sampled_from(["\n", "\r"])
).map(lambda parts: f"--{parts[0]}{parts[1]}")
_PREFIX = st.lists(st.one_of(_BLANK, _LINE_COMMENT, _block_comment(2)), max_size=6).map("".join)
_STATEMENTS = st.sampled_from(
    [
        "ALTER TABLE users DROP COLUMN email",
        "alter table users rename column email to mail",
        "DROP TABLE users",
        "CREATE INDEX ON users (email)",
        "COMMENT ON TABLE users IS 'x'",
        "GRANT SELECT ON users TO PUBLIC",
        "BEGIN",
        "COMMIT",
        "SET search_path = archive",
        "SELECT 1; DROP TABLE users",
        "SELECT set_config('search_path', 'archive', false)",
        "DO $$ BEGIN EXECUTE 'DROP TABLE users'; END $$",
    ]
)


def _consequential(sql: str) -> bool:
    """True when PostgreSQL would run DDL, transaction control or a settings change."""
    try:
        statements = pglast.parse_sql(sql)
    except pglast.parser.ParseError:
        return False  # PostgreSQL rejects it too
    for raw in statements:
        stmt = raw.stmt
        if is_ddl(stmt) or isinstance(
            stmt, ast.TransactionStmt | ast.VariableSetStmt | ast.CallStmt
        ):
            return True
        if "set_config" in sql.lower():
            return True
    return False


@settings(max_examples=600, deadline=None)
@given(prefix=_PREFIX, statement=_STATEMENTS, suffix=st.sampled_from(["", ";", " ", "\n-- end"]))
def test_the_sniff_never_calls_consequential_text_harmless(
    prefix: str, statement: str, suffix: str
) -> None:
    sql = prefix + statement + suffix
    if _consequential(sql):
        assert needs_reading(sql.encode()), sql


@settings(max_examples=600, deadline=None)
@given(text=st.text(alphabet="SELECTALTERDROPselectalterdrop */-\n\r\t;'\"$()x", max_size=40))
def test_the_sniff_on_arbitrary_text(text: str) -> None:
    if _consequential(text):
        assert needs_reading(text.encode()), text


@given(st.text(alphabet="abcxyzABC_$019é ", min_size=1, max_size=12))
def test_the_leading_word_fast_path_reads_as_the_scanner(word: str) -> None:
    """A word at offset 0 (regex path) reads as the same word after a blank (scanner path)."""
    from skewguard.sql_start import first_word

    text = word.encode()
    assert first_word(text) == first_word(b" " + text)
