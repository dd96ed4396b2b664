"""Ground truth: composite types under the versions that read their fields.

``ALTER TYPE … DROP / RENAME ATTRIBUTE`` fails ``(col).field`` reads (42703);
adding or dropping an attribute breaks a version that builds the whole value
with ``ROW(...)::type``: a ROW casts only with exactly the type's fields (42846).
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, extended, simple

V1, V2 = "app@1", "app@2"

PEOPLE = """
CREATE TYPE address AS (street text, zip text);
CREATE TABLE people (id serial PRIMARY KEY, home address);
INSERT INTO people (home) VALUES (ROW('main st', '123'));
"""
FIELD_READER: list[str | Q] = [simple("SELECT (home).zip FROM people")]
WHOLE_READER: list[str | Q] = [simple("SELECT id, home FROM people")]

CASES: list[Case] = [
    Case(
        id="break-composite-drop-attribute-vs-field-reader",
        schema_sql=PEOPLE,
        versions={V1: FIELD_READER, V2: WHOLE_READER},
        migration_sql="ALTER TYPE address DROP ATTRIBUTE zip",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-composite-rename-attribute-vs-field-reader",
        schema_sql=PEOPLE,
        versions={V1: FIELD_READER, V2: WHOLE_READER},
        migration_sql="ALTER TYPE address RENAME ATTRIBUTE zip TO postcode",
        breaks=frozenset({V1}),
    ),
    Case(
        id="safe-composite-add-attribute-vs-readers",
        schema_sql=PEOPLE,
        versions={V1: FIELD_READER, V2: WHOLE_READER},
        migration_sql="ALTER TYPE address ADD ATTRIBUTE city text",
    ),
    Case(
        id="break-composite-add-attribute-vs-row-writer",
        schema_sql=PEOPLE,
        versions={
            V1: [extended("INSERT INTO people (home) VALUES (ROW(%s, %s)::address)", "x", "1")],
            V2: WHOLE_READER,
        },
        migration_sql="ALTER TYPE address ADD ATTRIBUTE city text",
        breaks=frozenset({V1}),
        note="a ROW with fewer fields than the type does not cast to it (42846)",
    ),
    Case(
        id="break-composite-drop-attribute-vs-row-writer",
        schema_sql=PEOPLE,
        versions={
            V1: [extended("INSERT INTO people (home) VALUES (ROW(%s, %s)::address)", "x", "1")],
            V2: WHOLE_READER,
        },
        migration_sql="ALTER TYPE address DROP ATTRIBUTE zip",
        breaks=frozenset({V1}),
        note="two fields into a one-field type (42846)",
    ),
]
