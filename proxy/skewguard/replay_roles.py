"""Whom a replay may run a version's statements as, on the migrating connection.

Replay runs a version's sampled statements inside the migration's transaction, on
the migrating login's connection, under ``SET LOCAL ROLE`` of the role the version
connected as. SET ROLE is no barrier to code the statement runs: a function or view
may ``RESET ROLE`` or call ``set_config('role', ...)`` (a superuser login also
``session_authorization``), and what follows runs with the migrating login's
privileges; a sequence's ``setval`` or a file written then outlives the rolled-back
savepoint. So a version connecting as another role is replayed only where it can run
no code but what PostgreSQL ships and what the migrating login or a superuser wrote
that neither changes roles nor runs SQL from a string; its text must not call the
builtins that do (``replay_samples`` does not sample it). Elsewhere the rules judge
that version alone.

Pure: builds the SQL that ``replaying.Replayer.with_roles`` runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from skewguard.sql_constants import quoted_literal

#: Builtins that change the role (set_config) or run SQL from a string (a query they run
#: may call set_config); a U& identifier may spell any of them. Lowercase substrings.
LEAVES_ROLE = ("set_config", "query_to_xml", "cursor_to_xml", "ts_stat", "ts_rewrite", 'u&"')

#: The builtins of LEAVES_ROLE by name, to find them among a stored expression's calls.
_BUILTINS = ("set_config", "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
             "cursor_to_xml", "cursor_to_xmlschema", "ts_stat", "ts_rewrite")  # fmt: skip
#: What a trusted function's body must not say: run SQL from a string, change roles.
_BODY = (
    "set_config|query_to_xml|cursor_to_xml|ts_stat|ts_rewrite"
    r"|\mexecute\M|\mrole\M|session_authorization|\msession\s+authorization"
)
#: What a body must contain for _BODY to match it (a cheap test first: a regular
#: expression over 2,000 bodies took 95 ms).
_BODY_WORDS = ("set_config", "query_to_xml", "cursor_to_xml", "ts_stat", "ts_rewrite",
               "execute", "role", "session")  # fmt: skip
#: Objects made after initdb (FirstNormalObjectId): the database's own code.
_USER_OID = 16384


def _code_sql(login: str) -> str:
    """A query with a row when the database holds code a version's statement could reach
    and use to leave its role: a function written by another role than a superuser or
    ``login`` (a trigger, aggregate or operator is one), a trusted one (not SECURITY
    DEFINER, inside which PostgreSQL refuses role changes) that runs SQL from a string or
    changes roles, or in a language other than SQL, PL/pgSQL or C; a default, check,
    policy, rule, view or trigger condition whose stored expression calls those builtins
    (found by their OIDs in its stored node tree: deparsed, 5,000 tables' defaults took
    a second), an operator, cast or aggregate running one."""
    names = ", ".join(quoted_literal(n) for n in _BUILTINS)
    words = ", ".join(quoted_literal(f"%{w}%") for w in _BODY_WORDS)
    return f"""
WITH trusted AS (
  SELECT oid FROM pg_catalog.pg_roles WHERE rolsuper OR rolname = {quoted_literal(login)}
), builtin AS (
  SELECT oid FROM pg_catalog.pg_proc
  WHERE pronamespace = 'pg_catalog'::regnamespace AND proname IN ({names})
), calls AS (
  SELECT ':(funcid|aggfnoid|winfnoid) (' || string_agg(oid::text, '|') || ') ' AS p
  FROM builtin
)
SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
CROSS JOIN LATERAL (
  SELECT p.prosrc || coalesce(pg_catalog.pg_get_function_sqlbody(p.oid), '') AS text
) AS body
WHERE p.oid >= {_USER_OID} AND (p.proowner NOT IN (SELECT oid FROM trusted) OR (
  NOT p.prosecdef AND (l.lanname NOT IN ('sql', 'plpgsql', 'c', 'internal')
  OR body.text ILIKE ANY (ARRAY[{words}]) AND body.text ~* {quoted_literal(_BODY)})))
UNION ALL SELECT 1 FROM pg_catalog.pg_attrdef d, calls
WHERE d.oid >= {_USER_OID} AND d.adbin::text ~ calls.p
UNION ALL SELECT 1 FROM pg_catalog.pg_constraint c, calls
WHERE c.oid >= {_USER_OID} AND c.conbin::text ~ calls.p
UNION ALL SELECT 1 FROM pg_catalog.pg_policy o, calls
WHERE concat_ws(' ', o.polqual::text, o.polwithcheck::text) ~ calls.p
UNION ALL SELECT 1 FROM pg_catalog.pg_rewrite r, calls
WHERE r.oid >= {_USER_OID} AND concat_ws(' ', r.ev_qual::text, r.ev_action::text) ~ calls.p
UNION ALL SELECT 1 FROM pg_catalog.pg_trigger t, calls
WHERE t.oid >= {_USER_OID} AND t.tgqual::text ~ calls.p
UNION ALL SELECT 1 FROM pg_catalog.pg_operator o
WHERE o.oid >= {_USER_OID} AND o.oprcode::oid IN (SELECT oid FROM builtin)
UNION ALL SELECT 1 FROM pg_catalog.pg_cast c
WHERE c.oid >= {_USER_OID} AND c.castfunc IN (SELECT oid FROM builtin)
UNION ALL SELECT 1 FROM pg_catalog.pg_aggregate a
WHERE a.aggfnoid >= {_USER_OID} AND ARRAY[a.aggtransfn, a.aggfinalfn, a.aggcombinefn,
  a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn]::oid[] && ARRAY(SELECT oid FROM builtin)"""


def roles_query(roles: Iterable[str], login: str) -> str:
    """The roles of ``roles`` a replay may run statements as on a connection that logged
    in as ``login``: they exist, the migrating session may SET ROLE to them, and they are
    superusers (nothing to gain) or the database holds no code they could leave their
    role with."""
    listed = ", ".join(quoted_literal(r) for r in sorted(roles))
    return (
        f"SELECT r FROM unnest(ARRAY[{listed}]::text[]) AS r "
        "WHERE EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) "
        "AND pg_catalog.pg_has_role(session_user, r, CASE WHEN "
        "pg_catalog.current_setting('server_version_num')::int >= 160000 "
        "THEN 'SET' ELSE 'MEMBER' END) "
        "AND ((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = r) "
        f"OR NOT EXISTS ({_code_sql(login)}))"
    )


__all__ = ["LEAVES_ROLE", "roles_query"]
