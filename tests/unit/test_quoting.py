"""Texts as a session with standard_conforming_strings off reads them, and the two readings."""

from __future__ import annotations

import pytest

from skewguard.quoting import with_escape_strings
from skewguard.statements import Kind, read_script


@pytest.mark.parametrize(
    ("sql", "rewritten"),
    [
        ("SELECT 'x\\''; DROP TABLE t; --'", "SELECT E'x\\''; DROP TABLE t; --'"),
        ("SELECT 'a''b', e'c\\n'", "SELECT E'a''b', e'c\\n'"),
        ("SELECT N'q\\'', B'01', X'ff'", "SELECT E'q\\'', B'01', X'ff'"),
        ("SELECT $$a'b$$, $q$'$q$, $1", "SELECT $$a'b$$, $q$'$q$, $1"),
        ('SELECT "a\'", ab$c$d', 'SELECT "a\'", ab$c$d'),
        ("SELECT 1 -- 'x\n, 'y'", "SELECT 1 -- 'x\n, E'y'"),
        ("SELECT /* '/* nested */ ' */ 'z'", "SELECT /* '/* nested */ ' */ E'z'"),
        ("SELECT some'x'", "SELECT someE'x'"),  # PostgreSQL: an error either way
    ],
)
def test_plain_literals_become_escape_literals_and_nothing_else_changes(
    sql: str, rewritten: str
) -> None:
    assert with_escape_strings(sql) == rewritten


@pytest.mark.parametrize("sql", ["SELECT 'x\\'", "SELECT /* open", 'SELECT "open', "SELECT $a$ x"])
def test_a_text_that_does_not_lex_gives_none(sql: str) -> None:
    assert with_escape_strings(sql) is None


def test_a_statement_hidden_in_a_literal_comes_with_the_other_reading() -> None:
    script = read_script("SELECT 'x\\''; ALTER TABLE t DROP COLUMN c; --'")
    assert [s.kind for s in script.statements] == [Kind.OTHER]
    assert script.if_not_standard is not None
    assert [s.kind for s in script.if_not_standard.statements] == [Kind.OTHER, Kind.DDL]


def test_a_hidden_commit_is_followed_too() -> None:
    script = read_script("SELECT 'x\\''; COMMIT; --'")
    assert script.if_not_standard is not None
    assert Kind.COMMIT in [s.kind for s in script.if_not_standard.statements]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'a\\d+'",  # a backslash that hides nothing
        "SELECT 'a\\'' ; SELECT 1; --'",  # another plain statement: nothing to follow
        "SELECT $$\\$$",
    ],
)
def test_readings_that_agree_on_what_matters_are_one(sql: str) -> None:
    assert read_script(sql).if_not_standard is None


def test_a_do_block_with_a_backslash_is_opaque_if_the_setting_is_off() -> None:
    script = read_script("DO $$ BEGIN IF 'a' ~ '\\d' THEN CREATE TABLE q (); END IF; END $$")
    assert [s.kind for s in script.statements] == [Kind.DDL]
    assert script.if_not_standard is not None
    assert [s.kind for s in script.if_not_standard.statements] == [Kind.OPAQUE]
