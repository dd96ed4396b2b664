"""Rules (CREATE RULE) that rewrite what a version's writes do.

A ``DO INSTEAD`` rule replaces the statement: ``DO INSTEAD NOTHING`` silently
drops every write; ``INSERT ... RETURNING`` then fails (0A000, no RETURNING in
the rule) and so does ``INSERT ... ON CONFLICT`` (0A000, rules and ON CONFLICT
do not mix). A ``DO ALSO`` or conditional rule adds statements that may fail.
COPY and TRUNCATE ignore rules.
"""

from __future__ import annotations

from collections.abc import Iterator

from skewguard.analysis.facets import Facet
from skewguard.analysis.facets import FacetKind as F
from skewguard.ddl.changes import CreateRule
from skewguard.ddl.findings import Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.rules._text import breaks, risks
from skewguard.rules.base import Context, Example, Hit, Rule, first_per_version

INSERTS = (F.INSERT_SHAPE, F.INSERT_POSITIONAL)
_NOT_UPDATES = (F.INSERT_SHAPE, F.INSERT_POSITIONAL, F.INSERT_SELECT_STAR, F.COPY_IN)


def _writers(ctx: Context, table: str, event: str) -> list[tuple[VersionKey, Facet, Evidence]]:
    def of_table(subject: str) -> bool:  # public.t(a,b), public.t/3, public.t<public.s
        return subject == table or subject.startswith((table + "(", table + "/", table + "<"))

    if event == "insert":
        return list(ctx.uses((*INSERTS, F.INSERT_SELECT_STAR), of_table))
    inserters = {v for v, _, _ in ctx.uses(_NOT_UPDATES, of_table)}
    out = []
    for v, f, ev in ctx.exact((F.RELATION_WRITE,), table):
        word = ev.sample.lstrip().split(None, 1)[0].lower() if ev.sample.strip() else ""
        if word in (event, "merge", "with") or v not in inserters:
            out.append((v, f, ev))
    return out


def check_instead_rule(ctx: Context, change: CreateRule) -> Iterator[Hit]:
    event = change.event
    kind = "DO INSTEAD NOTHING" if change.nothing else "DO INSTEAD"
    if not change.instead:
        kind = "DO ALSO"
    what = f"CREATE RULE {change.subject} ON {event.upper()} {kind}"
    sure = change.instead and not change.conditional
    for v, f, ev in first_per_version(_writers(ctx, change.relation, event)):
        if sure:
            yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)
        else:
            why = "the rule adds statements to each write, or replaces some of them"
            yield Hit(Severity.RISK, risks(what, v, f, why), v, f, ev)


INSTEAD_RULE = Rule(
    id="SG121",
    name="rule-rewrites-writes",
    severity=Severity.BREAK,
    summary="CREATE RULE ... DO INSTEAD on a table a version writes (ALSO or conditional: risk)",
    doc="An unconditional DO INSTEAD rule replaces every INSERT, UPDATE or DELETE of its event "
    "on the table: DO INSTEAD NOTHING makes the writes vanish without an error, INSERT ... "
    "RETURNING fails (0A000) unless the rule has a RETURNING clause, INSERT ... ON CONFLICT "
    "fails (0A000) with any INSERT or UPDATE rule. A DO ALSO or conditional rule adds "
    "statements to each write that may fail or change what it does (risk).",
    breaks="INSERT (with or without RETURNING / ON CONFLICT), UPDATE or DELETE of the rule's "
    "event on the table; COPY FROM is not rewritten.",
    recipe="Do not redirect writes under running versions: add the new write path as a new "
    "table or function, move the versions to it, and retire the old path after they are gone.",
    covers=(CreateRule,),
    examples=(
        Example(
            "CREATE TABLE t (id serial PRIMARY KEY, note text)",
            "INSERT INTO t (note) VALUES ('x') RETURNING id",
            "CREATE RULE t_ignore AS ON INSERT TO t DO INSTEAD NOTHING",
            True,
            "cannot perform INSERT RETURNING on relation t",
        ),
        Example(
            "CREATE TABLE t (id serial PRIMARY KEY, note text)",
            "INSERT INTO t (note) VALUES ('x') RETURNING id",
            "CREATE RULE t_keep AS ON DELETE TO t DO INSTEAD NOTHING",
            False,
            "the version never deletes",
        ),
    ),
    check=check_instead_rule,
)
