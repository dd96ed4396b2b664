"""A published table left without a replica identity: its UPDATEs and DELETEs fail."""

from __future__ import annotations

from collections.abc import Iterator

from skewguard.analysis.facets import FacetKind as F
from skewguard.ddl.changes import ReplicaIdentityLost
from skewguard.ddl.findings import Severity
from skewguard.rules._text import breaks
from skewguard.rules.base import Context, Example, Hit, Rule, first_per_version


def check_replica_identity(ctx: Context, change: ReplicaIdentityLost) -> Iterator[Hit]:
    table = change.subject
    kinds = (F.COLUMN_UPDATE,) * change.updates + (F.ROW_DELETE,) * change.deletes
    columns = table + "."  # an UPDATE's facets name the columns it sets

    def on_table(subject: str) -> bool:
        return subject == table or subject.startswith(columns)

    what = f"leaving {table} published without a replica identity"
    for v, f, ev in first_per_version(ctx.uses(kinds, on_table)):
        yield Hit(Severity.BREAK, breaks(what, v, f), v, f, ev)


_KEYED = "CREATE TABLE t (id int PRIMARY KEY, qty int); CREATE TABLE log (at text, n int)"
_PUBLISHED = _KEYED + "; CREATE PUBLICATION cdc FOR ALL TABLES"

REPLICA_IDENTITY = Rule(
    id="SG131",
    name="published-without-replica-identity",
    severity=Severity.BREAK,
    summary="A table a publication publishes updates or deletes of, left without a replica "
    "identity",
    doc="PostgreSQL refuses an UPDATE (DELETE) of a table a publication publishes updates "
    "(deletes) of when the table has no replica identity: 55000 (cannot update table ... "
    "because it does not have a replica identity and publishes updates), before any row "
    "is touched. The identity is the primary key by default, the full row (REPLICA "
    "IDENTITY FULL) or a unique index (USING INDEX); dropping that key or index, REPLICA "
    "IDENTITY NOTHING, a new publication of a table without a key (FOR ALL TABLES, FOR "
    "TABLE, TABLES IN SCHEMA) or a publication's ``publish`` widened to updates or "
    "deletes leave it without one. INSERT, COPY and reads are not affected. A row filter "
    "or column list that must cover the identity is not followed (refused as unmodelled "
    "for the table's writers).",
    breaks="UPDATE (and ON CONFLICT DO UPDATE, MERGE UPDATE) or DELETE of the table.",
    recipe="Give the table a replica identity first (a primary key, REPLICA IDENTITY "
    "USING INDEX a unique index on NOT NULL columns, or REPLICA IDENTITY FULL), then "
    "publish it; or publish only inserts (WITH (publish = 'insert')).",
    covers=(ReplicaIdentityLost,),
    examples=(
        Example(
            _KEYED,
            "UPDATE log SET n = n + 1 WHERE at = 'x'",
            "CREATE PUBLICATION cdc FOR ALL TABLES",
            True,
        ),
        Example(
            _KEYED,
            "INSERT INTO log (at, n) VALUES ('x', 1)",
            "CREATE PUBLICATION cdc FOR ALL TABLES",
            False,
            "inserts need no replica identity",
        ),
        Example(
            _KEYED,
            "UPDATE t SET qty = 1 WHERE id = 2",
            "CREATE PUBLICATION cdc FOR ALL TABLES",
            False,
            "t has a primary key",
        ),
        Example(
            _KEYED,
            "DELETE FROM log WHERE at = 'x'",
            "CREATE PUBLICATION cdc FOR ALL TABLES WITH (publish = 'insert, update')",
            False,
            "deletes are not published",
        ),
        Example(
            _PUBLISHED,
            "DELETE FROM t WHERE id = 1",
            "ALTER TABLE t DROP CONSTRAINT t_pkey",
            True,
        ),
        Example(
            _KEYED,
            "UPDATE log SET n = 0",
            "ALTER TABLE log REPLICA IDENTITY FULL; CREATE PUBLICATION cdc FOR ALL TABLES",
            False,
            "the full row is its identity",
        ),
        Example(
            _PUBLISHED,
            "UPDATE t SET qty = 0",
            "ALTER TABLE t REPLICA IDENTITY NOTHING",
            True,
        ),
    ),
    check=check_replica_identity,
)

__all__ = ["REPLICA_IDENTITY"]
