"""Ground truth: privileges held through role membership.

Teams grant to group roles and log in as their members. A privilege revoked
from the group breaks the members that held it only through the group, and no
one who holds it another way (their own grant, PUBLIC's). The roles are
cluster-wide logins of the cases (``users``); the schema makes one a member of
the other (granting it again in the second database is only a notice).
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, extended, simple

V1, V2 = "app@1", "app@2"
MEMBER, GROUP = "gtr_member", "gtr_group"

NOTES = f"""
CREATE TABLE notes (id serial PRIMARY KEY, body text);
INSERT INTO notes (body) VALUES ('a');
GRANT {GROUP} TO {MEMBER};
GRANT SELECT, INSERT ON notes TO {GROUP};
GRANT USAGE ON SEQUENCE notes_id_seq TO {GROUP};
"""
READS: list[str | Q] = [
    simple("SELECT body FROM notes"),
    extended("SELECT body FROM notes WHERE id = %s", 1),
]
USERS = {V1: MEMBER, V2: GROUP}

CASES: list[Case] = [
    Case(
        id="break-revoke-from-group-vs-member-reader",
        schema_sql=NOTES,
        versions={V1: READS, V2: [simple("SELECT 1")]},
        users=USERS,
        migration_sql=f"REVOKE SELECT ON notes FROM {GROUP}",
        breaks=frozenset({V1}),
        note="the member read notes only through the group",
    ),
    Case(
        id="safe-revoke-from-group-vs-member-with-its-own-grant",
        schema_sql=NOTES + f"GRANT SELECT ON notes TO {MEMBER};",
        versions={V1: READS, V2: [simple("SELECT 1")]},
        users=USERS,
        migration_sql=f"REVOKE SELECT ON notes FROM {GROUP}",
    ),
    Case(
        id="safe-revoke-from-group-vs-member-covered-by-public",
        schema_sql=NOTES,
        versions={V1: READS, V2: [simple("SELECT 1")]},
        users=USERS,
        migration_sql=f"GRANT SELECT ON notes TO PUBLIC; REVOKE SELECT ON notes FROM {GROUP}",
    ),
    Case(
        id="safe-revoke-insert-from-group-vs-member-reader",
        schema_sql=NOTES,
        versions={V1: READS, V2: [simple("SELECT 1")]},
        users=USERS,
        migration_sql=f"REVOKE INSERT ON notes FROM {GROUP}",
    ),
    Case(
        id="break-revoke-insert-from-group-vs-member-writer",
        schema_sql=NOTES,
        versions={
            V1: [extended("INSERT INTO notes (body) VALUES (%s)", "b")],
            V2: [simple("SELECT body FROM notes")],
        },
        users=USERS,
        migration_sql=f"REVOKE INSERT ON notes FROM {GROUP}",
        breaks=frozenset({V1}),
    ),
]
