"""The fast walk of a parse tree finds every node a walk of every slot finds."""

from __future__ import annotations

from typing import Any

import pglast
from pglast import ast, visitors

from skewguard.analysis.nodes import walk
from tests.unit.test_overlay_corpus import CORPUS

QUERIES = [
    "WITH w AS (SELECT lower(name) AS n FROM t WHERE id IN (SELECT f(x) FROM u)) SELECT * FROM w",
    "INSERT INTO t (a) SELECT g(b) FROM r ON CONFLICT (a) DO UPDATE SET a = EXCLUDED.a + 1",
    "SELECT dblink_exec('c', 'DROP TABLE t'), 1::int, ARRAY[now()], CASE WHEN x THEN y END",
    "CREATE FOREIGN TABLE ft (id int DEFAULT f()) SERVER s",
    "SELECT 'a' COLLATE \"C\", x FROM t, LATERAL (SELECT count(*) FILTER (WHERE y > 0)) s",
]


def _every_slot(node: Any) -> list[Any]:
    """Every node, reading each slot (what the walk spares itself)."""
    out, pending = [], [node]
    while pending:
        current = pending.pop()
        if isinstance(current, list | tuple):
            pending.extend(current)
        elif isinstance(current, ast.Node):
            out.append(current)
            slots = getattr(type(current), "__slots__", ())
            pending.extend(getattr(current, slot, None) for slot in slots)
    return out


class _Calls(visitors.Visitor):
    def __init__(self) -> None:
        self.found: list[Any] = []

    def visit_FuncCall(self, ancestors: Any, node: Any) -> None:
        self.found.append(node)


def test_the_walk_finds_every_node_and_every_call() -> None:
    texts = [*CORPUS, *QUERIES]
    assert len(texts) > 500
    for text in texts:
        try:
            parsed = pglast.parse_sql(text)
        except pglast.parser.ParseError:
            continue  # the corpus holds some on purpose
        for raw in parsed:
            assert raw.stmt is not None
            found = sorted(map(id, walk(raw.stmt, ast.Node)))
            assert found == sorted(map(id, _every_slot(raw.stmt))), text
            calls = _Calls()
            calls(raw.stmt)
            assert sorted(map(id, walk(raw.stmt, ast.FuncCall))) == sorted(map(id, calls.found))
