"""Ground truth: privileges changed schema-wide, as operators do.

``REVOKE … ON ALL TABLES IN SCHEMA``, ``ON ALL SEQUENCES``, ``ON ALL FUNCTIONS``,
``REVOKE USAGE ON SCHEMA`` and ``ALTER DEFAULT PRIVILEGES``: a version that
logs in as the role loses what it read, wrote or called; one that holds the
privilege another way (its own grant, PUBLIC's) does not.
"""

from __future__ import annotations

from tests.support.groundtruth import Case, Q, extended, simple

V1, V2 = "app@1", "app@2"
READER, WRITER = "gtg_reader", "gtg_writer"

SHOP = f"""
CREATE TABLE items (id serial PRIMARY KEY, name text);
INSERT INTO items (name) VALUES ('a');
CREATE FUNCTION label(i int) RETURNS text LANGUAGE sql STABLE AS 'SELECT ''#'' || i';
REVOKE EXECUTE ON FUNCTION label(int) FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {READER};
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {WRITER};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {WRITER};
"""
READS: list[str | Q] = [simple("SELECT id, name FROM items"), simple("SELECT label(1)")]
WRITES: list[str | Q] = [extended("INSERT INTO items (name) VALUES (%s)", "b")]
USERS = {V1: READER, V2: WRITER}

CASES: list[Case] = [
    Case(
        id="break-grants-revoke-select-on-all-tables-vs-reader",
        schema_sql=SHOP,
        versions={V1: READS, V2: WRITES},
        users=USERS,
        migration_sql=f"REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM {READER}",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-grants-revoke-usage-on-all-sequences-vs-inserter",
        schema_sql=SHOP,
        versions={V1: READS, V2: WRITES},
        users=USERS,
        migration_sql=f"REVOKE USAGE ON ALL SEQUENCES IN SCHEMA public FROM {WRITER}",
        breaks=frozenset({V2}),
        note="the serial's nextval needs USAGE on the sequence (42501)",
    ),
    Case(
        id="break-grants-revoke-execute-on-all-functions-vs-caller",
        schema_sql=SHOP,
        versions={V1: READS, V2: WRITES},
        users=USERS,
        migration_sql=f"REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM {READER}",
        breaks=frozenset({V1}),
    ),
    Case(
        id="break-grants-revoke-usage-on-schema-from-public-vs-everyone",
        schema_sql=SHOP,
        versions={V1: READS, V2: WRITES},
        users=USERS,
        migration_sql="REVOKE USAGE ON SCHEMA public FROM PUBLIC",
        breaks=frozenset({V1, V2}),
    ),
    Case(
        id="safe-grants-revoke-select-on-all-tables-vs-plain-inserter",
        schema_sql=SHOP,
        versions={V1: READS, V2: WRITES},
        users=USERS,
        migration_sql=f"REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM {WRITER}",
        note="an INSERT without RETURNING or WHERE needs no SELECT",
    ),
    Case(
        id="safe-grants-alter-default-privileges",
        schema_sql=SHOP,
        versions={V1: READS, V2: WRITES},
        users=USERS,
        migration_sql="ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" REVOKE SELECT ON TABLES FROM {READER}; CREATE TABLE extra (id int)",
        note="only tables created later lose the grant",
    ),
]
