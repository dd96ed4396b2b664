"""Ground truth: versions that stage rows in temporary tables named like real ones.

PostgreSQL finds an unqualified name in the session's ``pg_temp`` first, so a
version writing its temporary ``staging`` never touches the real ``staging``:
a change to the real one breaks only the versions that use it. The versions
create their temporary tables ``IF NOT EXISTS`` (the harness runs their
statements twice on one connection, and again on a fresh one), all on one
protocol (each protocol has a connection of its own).
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, simple

V1, V2 = "app@1", "app@2"

SCHEMA = """
CREATE TABLE staging (id int, note text);
INSERT INTO staging VALUES (1, 'real');
CREATE TABLE report (id int);
INSERT INTO report VALUES (7);
"""
#: a batch job: its own temporary staging and report
TEMPORARY: list[str | Q] = [
    simple("CREATE TEMP TABLE IF NOT EXISTS staging (id int, email text)"),
    simple("CREATE TEMP TABLE IF NOT EXISTS report (id int, total numeric)"),
    simple("INSERT INTO staging VALUES (1, 'a@x')"),
    simple("INSERT INTO report SELECT id, 1 FROM staging"),
    simple("SELECT id, email FROM staging"),
    simple("SELECT id, total FROM report"),
]
#: reads the real report
REAL_READER: list[str | Q] = [simple("SELECT id FROM report")]

CASES: list[Case] = [
    Case(
        id="safe-temp-drop-real-table-a-version-only-shadows",
        schema_sql=SCHEMA,
        versions={V1: TEMPORARY, V2: REAL_READER},
        migration_sql="DROP TABLE staging",
        note="app@1's staging is its own temporary table",
    ),
    Case(
        id="break-temp-drop-real-table-vs-its-reader-not-the-shadowing-version",
        schema_sql=SCHEMA,
        versions={V1: TEMPORARY, V2: REAL_READER},
        migration_sql="DROP TABLE report",
        breaks=frozenset({V2}),
        note="only app@2 reads the real report",
    ),
    Case(
        id="safe-temp-not-null-column-on-real-table-a-version-only-shadows",
        schema_sql=SCHEMA,
        versions={V1: TEMPORARY, V2: REAL_READER},
        migration_sql="ALTER TABLE staging ADD COLUMN batch int NOT NULL DEFAULT 0;"
        " ALTER TABLE staging ALTER COLUMN batch DROP DEFAULT",
        note="app@1's inserts go to its temporary staging",
    ),
]
