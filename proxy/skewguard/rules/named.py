"""Text search configurations and collations dropped or renamed: expressions name them."""

from __future__ import annotations

from collections.abc import Iterator

from skewguard.analysis.facets import FacetKind
from skewguard.analysis.query import split_qualified_name
from skewguard.ddl.changes import DropNamedObject
from skewguard.ddl.findings import Severity
from skewguard.rules._text import breaks
from skewguard.rules.base import Context, Example, Hit, Rule, first_per_version

_WORDS = {"ts_config": "TEXT SEARCH CONFIGURATION", "collation": "COLLATION"}


def _same(facet: str, dropped: str) -> bool:
    """Whether a name as a statement wrote it may be the one dropped: the same name, in
    the same schema when both say one (a bare name is looked up on the search_path)."""
    a, b = split_qualified_name(facet), split_qualified_name(dropped)
    return a[-1] == b[-1] and (len(a) == 1 or len(b) == 1 or a == b)


def check_named_object(ctx: Context, change: DropNamedObject) -> Iterator[Hit]:
    word = _WORDS.get(change.object_kind, change.object_kind)
    what = f"DROP {word} {change.subject}"
    if change.new_name:
        what = f"ALTER {word} {change.subject} RENAME TO {change.new_name}"
    kind = FacetKind(change.object_kind)
    for v, f, ev in first_per_version(ctx.uses((kind,), lambda s: _same(s, change.subject))):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


_SCHEMA = (
    "CREATE TABLE docs (id int, body text);"
    " CREATE TEXT SEARCH CONFIGURATION app_english (COPY = pg_catalog.english);"
    ' CREATE COLLATION app_c FROM "C"'
)

NAMED_OBJECT = Rule(
    id="SG132",
    name="drop-named-in-expression",
    severity=Severity.BREAK,
    summary="DROP or RENAME of a text search configuration or collation a version's "
    "statements name",
    doc="A statement names a text search configuration in a regconfig literal "
    "(``to_tsvector('app_english', body)``, ``'app_english'::regconfig``) and a collation "
    "in a COLLATE clause; PostgreSQL looks them up at each planning, so once one is "
    "dropped or renamed the statement fails with 42704. They are learned by name as "
    "written (a bare name matches the object of that name in any schema); a name passed "
    "as a parameter is not seen.",
    breaks="Statements naming the configuration or collation.",
    recipe="Create the new configuration or collation, move the versions to it, then drop "
    "the old one once no protected version names it.",
    covers=(DropNamedObject,),
    examples=(
        Example(
            _SCHEMA,
            "SELECT id FROM docs WHERE to_tsvector('app_english', body) @@ 'fox'",
            "DROP TEXT SEARCH CONFIGURATION app_english",
            True,
        ),
        Example(
            _SCHEMA,
            "SELECT id FROM docs WHERE to_tsvector('english', body) @@ 'fox'",
            "DROP TEXT SEARCH CONFIGURATION app_english",
            False,
            "no statement names it",
        ),
        Example(
            _SCHEMA,
            "SELECT id FROM docs ORDER BY body COLLATE app_c",
            "ALTER COLLATION app_c RENAME TO app_bytes",
            True,
        ),
        Example(
            _SCHEMA,
            'SELECT id FROM docs ORDER BY body COLLATE "C"',
            "DROP COLLATION app_c",
            False,
        ),
    ),
    check=check_named_object,
)

__all__ = ["NAMED_OBJECT"]
