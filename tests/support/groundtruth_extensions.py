"""Ground truth: extensions dropped, moved or created again under live versions.

An extension owns types, functions and operators; ``DROP EXTENSION … CASCADE``
also drops the columns, defaults and indexes that use them. A version breaks
when it uses something the extension took with it: a column of its type, a
default that called its function, a call. (``ALTER EXTENSION … SET SCHEMA``: see
tests/support/groundtruth_round14.py.)
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, extended, simple

V1, V2 = "app@1", "app@2"
IDLE: list[str | Q] = [simple("SELECT 1")]

CITEXT = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE members (id serial PRIMARY KEY, email citext, name text);
INSERT INTO members (email, name) VALUES ('A@x', 'a');
"""
CODES = """
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
CREATE TABLE tokens (id serial PRIMARY KEY, code text NOT NULL DEFAULT soundex('t'), label text);
INSERT INTO tokens (label) VALUES ('a');
"""
HSTORE = """
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TABLE notes (id serial PRIMARY KEY, body text);
INSERT INTO notes (body) VALUES ('a');
"""

CASES: list[Case] = [
    Case(
        id="break-ext-drop-cascade-takes-a-column-vs-its-reader",
        schema_sql=CITEXT,
        versions={
            V1: [simple("SELECT id, email FROM members")],
            V2: [simple("SELECT name FROM members")],
        },
        migration_sql="DROP EXTENSION citext CASCADE",
        breaks=frozenset({V1}),
        note="CASCADE drops members.email (its type goes)",
    ),
    Case(
        id="break-ext-drop-cascade-takes-a-default-vs-inserter",
        schema_sql=CODES,
        versions={
            V1: [extended("INSERT INTO tokens (label) VALUES (%s)", "b")],
            V2: [simple("SELECT label FROM tokens")],
        },
        migration_sql="DROP EXTENSION fuzzystrmatch CASCADE",
        breaks=frozenset({V1}),
        note="the default goes with soundex(); the NOT NULL column then rejects the insert",
    ),
    Case(
        id="break-ext-drop-vs-function-caller",
        schema_sql=CODES,
        versions={
            V1: [extended("SELECT id FROM tokens WHERE levenshtein(label, %s) < 2", "b")],
            V2: [simple("SELECT id FROM tokens")],
        },
        migration_sql="ALTER TABLE tokens ALTER code DROP DEFAULT; DROP EXTENSION fuzzystrmatch",
        breaks=frozenset({V1}),
    ),
    Case(
        id="safe-ext-drop-unused-extension",
        schema_sql=HSTORE,
        versions={
            V1: [simple("SELECT id, body FROM notes")],
            V2: [extended("INSERT INTO notes (body) VALUES (%s)", "b")],
        },
        migration_sql="DROP EXTENSION hstore",
    ),
    Case(
        id="safe-ext-create-if-not-exists-again",
        schema_sql=CITEXT,
        versions={V1: [simple("SELECT id, email FROM members")], V2: IDLE},
        migration_sql="CREATE EXTENSION IF NOT EXISTS citext; ALTER TABLE members ADD note text",
    ),
    Case(
        id="safe-ext-pg-trgm-index-dropped-with-the-extension",
        schema_sql="CREATE EXTENSION IF NOT EXISTS pg_trgm;"
        " CREATE TABLE docs (id serial PRIMARY KEY, title text);"
        " CREATE INDEX docs_title_trgm ON docs USING gin (title gin_trgm_ops);"
        " INSERT INTO docs (title) VALUES ('hello');",
        versions={V1: [simple("SELECT id FROM docs WHERE title LIKE '%ell%'")], V2: IDLE},
        migration_sql="DROP EXTENSION pg_trgm CASCADE",
        note="only an index goes: the LIKE still runs (without it)",
    ),
]
