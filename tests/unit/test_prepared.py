"""PreparedStatements follows PostgreSQL's one namespace of prepared statements."""

from __future__ import annotations

import pytest

from skewguard.wire.errors import ProtocolViolation
from skewguard.wire.prepared import (
    MAX_PORTALS,
    MAX_STATEMENT_CHARS,
    MAX_STATEMENTS,
    PreparedStatements,
)

# Each step: ("parse", name, sql) | ("close", name) | ("query", sql); then the expected map.
Step = tuple[str, ...]

CASES: list[tuple[str, list[Step], dict[str, str]]] = [
    ("named parse", [("parse", "s1", "select 1")], {"s1": "select 1"}),
    (
        "unnamed replaced by next unnamed parse",
        [("parse", "", "select 1"), ("parse", "", "select 2")],
        {"": "select 2"},
    ),
    (
        "simple query drops unnamed, keeps named",
        [("parse", "", "select 1"), ("parse", "a", "select 2"), ("query", "select 3")],
        {"a": "select 2"},
    ),
    (
        "close statement",
        [("parse", "a", "select 1"), ("parse", "b", "select 2"), ("close", "a")],
        {"b": "select 2"},
    ),
    ("close unknown is harmless", [("close", "nope")], {}),
    ("close unnamed", [("parse", "", "select 1"), ("close", "")], {}),
    ("sql prepare", [("query", "PREPARE q1 AS select 1")], {"q1": "select 1"}),
    ("sql prepare folds case", [("query", "prepare Q1 as select 1")], {"q1": "select 1"}),
    (
        "sql prepare with types and typmods",
        [("query", "PREPARE q (int, numeric(10, 2), varchar(3)) AS select $1, $2, $3")],
        {"q": "select $1, $2, $3"},
    ),
    (
        "quoted name keeps case and doubled quotes",
        [("query", 'PREPARE "My ""Q""" AS select 1')],
        {'My "Q"': "select 1"},
    ),
    (
        "semicolon inside a string",
        [("query", "PREPARE p AS select 'a;b'; PREPARE r AS select ';'")],
        {"p": "select 'a;b'", "r": "select ';'"},
    ),
    (
        "leading comments",
        [("query", "/* app */ PREPARE p AS select 1; -- c\nPREPARE r AS select 2")],
        {"p": "select 1", "r": "select 2"},
    ),
    (
        "multi-line body",
        [("query", "PREPARE p AS\n  select 1\n  from t")],
        {"p": "select 1\n  from t"},
    ),
    (
        "deallocate",
        [("parse", "a", "select 1"), ("query", "PREPARE b AS select 2"), ("query", "DEALLOCATE a")],
        {"b": "select 2"},
    ),
    (
        "deallocate prepare, case folded",
        [("query", "PREPARE b AS select 2"), ("query", "deallocate prepare B;")],
        {},
    ),
    (
        "deallocate quoted",
        [("parse", "Mixed", "select 1"), ("query", 'DEALLOCATE "Mixed"')],
        {},
    ),
    (
        "deallocate all",
        [("parse", "a", "select 1"), ("parse", "b", "select 2"), ("query", "DEALLOCATE ALL")],
        {},
    ),
    (
        "deallocate prepare all",
        [("parse", "a", "select 1"), ("query", "deallocate prepare all")],
        {},
    ),
    (
        'deallocate "all" is a name',
        [("parse", "a", "select 1"), ("parse", "all", "select 2"), ("query", 'DEALLOCATE "all"')],
        {"a": "select 1"},
    ),
    (
        "discard all",
        [("parse", "a", "select 1"), ("query", "DISCARD ALL")],
        {},
    ),
    (
        "discard plans does not drop statements (handled by the server)",
        [("parse", "a", "select 1"), ("query", "DISCARD PLANS")],
        {"a": "select 1"},
    ),
    (
        "the word in a string is not a statement",
        [("parse", "a", "select 1"), ("query", "select 'DEALLOCATE a; DISCARD ALL'")],
        {"a": "select 1"},
    ),
    (
        "prepare then deallocate in one query",
        [("query", "PREPARE x AS select 1; DEALLOCATE x; PREPARE y AS select 2")],
        {"y": "select 2"},
    ),
    (
        "unparseable text is ignored",
        [("parse", "a", "select 1"), ("query", "prepare p as select 'unterminated")],
        {"a": "select 1"},
    ),
]


@pytest.mark.parametrize(("steps", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_prepared_statements(steps: list[Step], expected: dict[str, str]) -> None:
    prepared = PreparedStatements()
    for step in steps:
        if step[0] == "parse":
            prepared.on_parse(step[1], step[2], to_read=False)
        elif step[0] == "close":
            prepared.on_close("S", step[1])
        else:
            prepared.on_query(step[1].encode())
    assert {name: prepared.get(name) for name in prepared.names()} == expected
    assert len(prepared) == len(expected)
    assert prepared.names() == sorted(expected)


def test_get_unknown() -> None:
    assert PreparedStatements().get("x") is None


def test_portals_carry_only_texts_to_read() -> None:
    prepared = PreparedStatements()
    prepared.on_parse("ddl", "ALTER TABLE t DROP COLUMN c", to_read=True)
    prepared.on_parse("", "SELECT 1", to_read=False)
    assert prepared.on_bind("p", "ddl") == "ALTER TABLE t DROP COLUMN c"
    assert prepared.on_bind("", "") == "SELECT 1"
    prepared.on_close("S", "ddl")  # a portal outlives its statement
    assert prepared.portal_sql("p") == "ALTER TABLE t DROP COLUMN c"
    assert prepared.portal_sql("") is None  # plain: nothing to read at Execute
    prepared.forget_unnamed()
    prepared.on_close("P", "p")
    assert prepared.portal_sql("p") is None


def test_statements_are_bounded_per_connection() -> None:
    """Forgetting a statement would let its Execute pass unread: past the bound, the
    connection ends (a protocol violation) instead of growing the shared memory."""
    prepared = PreparedStatements()
    for n in range(MAX_STATEMENTS):
        prepared.on_parse(f"s{n}", "SELECT 1", to_read=False)
    prepared.on_parse("s0", "SELECT 2", to_read=False)  # a known name is replaced
    with pytest.raises(ProtocolViolation):
        prepared.on_parse("one more", "SELECT 1", to_read=False)
    prepared.on_close("S", "s1")
    prepared.on_parse("one more", "SELECT 1", to_read=False)


def test_open_portals_of_plain_statements_are_not_bounded() -> None:
    """PostgreSQL lets a transaction hold any number of portals: an ORM binding many
    named portals of plain queries never meets the bound, which only portals the proxy
    must read at Execute count towards."""
    prepared = PreparedStatements()
    prepared.on_parse("plain", "SELECT 1", to_read=False)
    prepared.on_parse("ddl", "ALTER TABLE t DROP COLUMN c", to_read=True)
    for n in range(MAX_PORTALS * 3):
        prepared.on_bind(f"p{n}", "plain")
    for n in range(MAX_PORTALS):
        prepared.on_bind(f"d{n}", "ddl")
    with pytest.raises(ProtocolViolation):
        prepared.on_bind("one more", "ddl")
    prepared.on_bind("d0", "plain")  # the unnamed-portal way: rebinding replaces it
    assert prepared.portal_sql("d0") is None
    assert prepared.portal_sql("d1") == "ALTER TABLE t DROP COLUMN c"
    prepared.on_bind("one more", "ddl")


def test_statement_texts_are_bounded_per_connection() -> None:
    prepared = PreparedStatements()
    big = "SELECT '" + "x" * (MAX_STATEMENT_CHARS // 2) + "'"
    prepared.on_parse("a", big, to_read=False)
    with pytest.raises(ProtocolViolation):
        prepared.on_parse("b", big, to_read=False)
    prepared.on_query(b"DEALLOCATE ALL")
    prepared.settle(ran=True)  # PostgreSQL answered it without an error
    prepared.on_parse("b", big, to_read=False)
    for _ in range(3):  # the unnamed statement, replaced again and again, counts once
        prepared.on_parse("", big[:1000], to_read=False)


def test_a_name_parsed_again_stands_for_every_text() -> None:
    """PostgreSQL keeps the first statement of a name (the second Parse fails, 42P05) unless
    the first failed: the proxy cannot tell which, so the name runs both texts."""
    prepared = PreparedStatements()
    prepared.on_parse("s", "ALTER TABLE users DROP COLUMN email", to_read=True)
    prepared.on_parse("s", "SELECT 1", to_read=False)
    prepared.on_bind("p", "s")
    assert prepared.portal_sql("p") == "ALTER TABLE users DROP COLUMN email\n;\nSELECT 1"
    prepared.on_parse("s", "SELECT 1", to_read=False)  # no text twice
    prepared.on_parse("s", "SELECT '", to_read=True)  # never held: it does not parse
    assert prepared.get("s") == "ALTER TABLE users DROP COLUMN email\n;\nSELECT 1"
    prepared.on_close("S", "s")
    prepared.settle(ran=True)
    prepared.on_parse("s", "SELECT 2", to_read=False)  # closed first: only the new text
    assert prepared.get("s") == "SELECT 2"
    prepared.on_parse("", "SELECT 3", to_read=False)
    prepared.on_parse("", "SELECT 4", to_read=False)  # the unnamed one is replaced
    assert prepared.get("") == "SELECT 4"


def test_a_close_postgresql_may_have_skipped_leaves_the_text_held() -> None:
    """After an error PostgreSQL skips a Close up to the Sync (and refuses a DEALLOCATE in
    a failed block): until it answered without an error, the name may still run its text."""
    prepared = PreparedStatements()
    prepared.on_parse("s", "ALTER TABLE users DROP COLUMN email", to_read=True)
    prepared.on_close("S", "s")
    assert prepared.unsettled == {"s"}
    prepared.settle(ran=False)  # an error came: the Close may not have run
    prepared.on_parse("s", "SELECT 1", to_read=False)
    assert prepared.get("s") == "ALTER TABLE users DROP COLUMN email\n;\nSELECT 1"
    prepared.on_query(b"DEALLOCATE s")
    prepared.settle(ran=True)
    prepared.on_parse("s", "SELECT 1", to_read=False)
    assert prepared.get("s") == "SELECT 1"
    prepared.on_close("S", "s")
    prepared.on_parse("s", "SELECT 1", to_read=False)  # the same text again: nothing to add
    assert prepared.get("s") == "SELECT 1"


def test_a_bind_of_a_closed_name_postgresql_may_still_hold_runs_its_text() -> None:
    """DISCARD ALL refused in a block (25001) keeps every statement: a Bind of one of
    them before any Parse of the name again ran the DDL unread."""
    prepared = PreparedStatements()
    prepared.on_parse("d", "ALTER TABLE users DROP COLUMN email", to_read=True)
    prepared.on_query(b"DISCARD ALL")
    prepared.settle(ran=False)
    assert prepared.on_bind("p", "d") == "ALTER TABLE users DROP COLUMN email"
    assert prepared.portal_sql("p") == "ALTER TABLE users DROP COLUMN email"
    prepared.on_query(b"DISCARD ALL")
    prepared.settle(ran=True)
    assert prepared.on_bind("p", "d") is None


@pytest.mark.parametrize(
    "text",
    [
        "EXECUTE s",
        "execute/**/s (1)",
        "SELECT 1; EXECUTE s; SELECT 2",
        'EXECUTE "s"',
    ],
)
def test_sql_execute_of_a_statement_to_read_runs_its_text(text: str) -> None:
    """SQL EXECUTE runs any statement of the session's one namespace, a DDL text a
    protocol-level Parse prepared too."""
    prepared = PreparedStatements()
    prepared.on_parse("s", "ALTER TABLE users DROP COLUMN email", to_read=True)
    assert prepared.may_execute_held(text.encode())
    assert "ALTER TABLE users DROP COLUMN email" in prepared.expand_executes(text)


def test_sql_execute_of_plain_statements_is_left_alone() -> None:
    prepared = PreparedStatements()
    prepared.on_parse("s", "SELECT 1", to_read=False)
    assert not prepared.may_execute_held(b"EXECUTE s")
    prepared.on_parse("t", "ALTER TABLE users DROP COLUMN email", to_read=True)
    assert prepared.expand_executes("EXECUTE s") == "EXECUTE s"
    assert prepared.expand_executes("EXECUTE t") == "ALTER TABLE users DROP COLUMN email"
    prepared.on_parse("", "BEGIN", to_read=True)  # the unnamed one: no SQL EXECUTE names it
    prepared.on_close("S", "t")
    prepared.settle(ran=True)
    assert not prepared.may_execute_held(b"EXECUTE s")
