"""The database-side backstop: event triggers refusing DDL the proxy did not pass.

``skewguard backstop install`` puts, in each guarded database, a schema
``skewguard_backstop`` (distinct from the shared-state schema ``skewguard``)
owned by the installing (super)user, with:

- ``protected``: the objects protected versions use, one row per object, named
  as ``pg_identify_object()`` names them and addressed by (classid, objid,
  objsubid), with the versions using it, a *signature* (the parts of its
  definition that clients depend on, as jsonb) and the OIDs of the objects whose
  DDL can change that signature. The proxy replaces the set every few seconds
  (:meth:`PassBook.sync_protected`, through ``set_protected``).
- ``passes``: (backend pid, backend start, hash of the exact statement text,
  created) rows the proxy writes (:meth:`PassBook.grant`, through
  ``grant_pass``) just before forwarding a DDL text it judged; a pass counts for
  statements that start within ``pass_ttl`` of it and is garbage-collected after.
- ``audit``: what audit mode would have refused; ``refusals`` and
  ``last_refusal`` are sequences (not rolled back with the refused
  transaction) counting refusals in enforce mode.

Two event triggers (``ENABLE ALWAYS``, so ``session_replication_role =
replica`` does not skip them) call SECURITY DEFINER functions with a pinned
``search_path``:

- ``sql_drop``: a dropped object that is protected (or the relation of a
  protected column) is a hit;
- ``ddl_command_end``: for every protected object related to an object the
  command touched, the signature is recomputed; a hit when it no longer
  contains the synced one (renamed, type changed, made NOT NULL, a default
  dropped or changed, row security enabled, an enum label removed or renamed,
  a function's arguments or result changed …). Additions (a new column, a new
  enum label, a new default) keep the old signature contained and pass.

On a hit without a pass for this backend and ``current_query()``, enforce mode
raises 55006 (``skewguard backstop: …``), so the whole statement — and its
transaction — is undone; audit mode records a row in ``audit``. Everything runs
in the transaction of the DDL itself: nothing is half done.

All SQL is here as text; the functions below run it on asyncpg connections.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from skewguard.analysis import Facet, FacetKind
from skewguard.config import BACKSTOP_MODES, Upstream
from skewguard.footprint import VersionKey
from skewguard.side_connection import SIDE_ERRORS, close_side, connect_side

log = logging.getLogger("skewguard.backstop")

SCHEMA = "skewguard_backstop"
#: Bumped when the installed objects change shape; ``install`` brings older ones up to date.
VERSION = 1

EVENT_TRIGGERS = ("skewguard_backstop_ddl_command_end", "skewguard_backstop_sql_drop")
#: A pass counts for statements that start within this long after it was granted.
PASS_TTL = "5 minutes"

#: Relation-like object types (``pg_identify_object`` spelling).
RELATION_TYPES = ("table", "view", "materialized view", "sequence", "foreign table")
COLUMN_TYPES = ("table column", "view column", "materialized view column", "foreign table column")

# ---------------------------------------------------------------------------
# SQL texts
# ---------------------------------------------------------------------------

_FUNCTION_OPTIONS = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"

INSTALL_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;

CREATE TABLE IF NOT EXISTS {SCHEMA}.settings (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    mode         text NOT NULL CHECK (mode IN ('enforce', 'audit')),
    pass_ttl     interval NOT NULL DEFAULT '{PASS_TTL}',
    version      integer NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.protected (
    object_type text NOT NULL,
    identity    text NOT NULL,
    versions    text[] NOT NULL,
    classid     oid NOT NULL,
    objid       oid NOT NULL,
    objsubid    integer NOT NULL,
    related     oid[] NOT NULL,
    signature   jsonb,
    synced_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (object_type, identity)
);
CREATE INDEX IF NOT EXISTS protected_object ON {SCHEMA}.protected (objid);
CREATE TABLE IF NOT EXISTS {SCHEMA}.passes (
    pid           integer NOT NULL,
    backend_start timestamptz NOT NULL,
    query_hash    text NOT NULL,
    created       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS passes_backend ON {SCHEMA}.passes (pid, query_hash);
CREATE TABLE IF NOT EXISTS {SCHEMA}.audit (
    at          timestamptz NOT NULL DEFAULT now(),
    mode        text NOT NULL,
    command_tag text,
    object_type text,
    identity    text,
    query       text,
    versions    text[],
    refused     boolean NOT NULL,
    role        text
);
CREATE SEQUENCE IF NOT EXISTS {SCHEMA}.refusals;
CREATE SEQUENCE IF NOT EXISTS {SCHEMA}.last_refusal MINVALUE 0 START 0;

-- The hash of a statement text (server encoding bytes; sha256: md5 fails on FIPS builds).
CREATE OR REPLACE FUNCTION {SCHEMA}.query_hash(query text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp
AS $$ SELECT encode(sha256(convert_to(query, 'UTF8')), 'hex') $$;

-- What clients depend on in an object, as jsonb; "still the same" is
-- "the new signature contains the old one", so additions pass and removals or
-- changes do not. NULL when the object is gone.
CREATE OR REPLACE FUNCTION {SCHEMA}.signature(cls oid, obj oid, sub integer) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE
  WHEN cls = 'pg_class'::regclass AND sub = 0 THEN (
    SELECT jsonb_strip_nulls(jsonb_build_object(
      'schema', n.nspname, 'name', c.relname, 'kind', c.relkind,
      'rls_off', CASE WHEN NOT c.relrowsecurity THEN true END,
      'force_rls_off', CASE WHEN NOT c.relforcerowsecurity THEN true END))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = obj)
  WHEN cls = 'pg_class'::regclass THEN (
    SELECT jsonb_strip_nulls(jsonb_build_object(
      'schema', n.nspname, 'relation', c.relname, 'name', a.attname,
      'type', format_type(a.atttypid, a.atttypmod), 'collation', a.attcollation,
      'nullable', CASE WHEN NOT a.attnotnull THEN true END,
      'default', pg_get_expr(d.adbin, d.adrelid),
      'generated', nullif(a.attgenerated, ''), 'identity', nullif(a.attidentity, '')))
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = obj AND a.attnum = sub AND NOT a.attisdropped)
  WHEN cls = 'pg_proc'::regclass THEN (
    SELECT jsonb_build_object(
      'schema', n.nspname, 'name', p.proname, 'kind', p.prokind,
      'arguments', pg_get_function_arguments(p.oid),
      'result', coalesce(pg_get_function_result(p.oid), ''))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = obj)
  WHEN cls = 'pg_type'::regclass THEN (
    SELECT jsonb_build_object(
      'schema', n.nspname, 'name', t.typname, 'kind', t.typtype,
      'base', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
      'labels', coalesce((SELECT jsonb_agg(e.enumlabel) FROM pg_enum e
                          WHERE e.enumtypid = t.oid), '[]'::jsonb))
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = obj)
  WHEN cls = 'pg_namespace'::regclass THEN (
    SELECT jsonb_build_object('name', n.nspname) FROM pg_namespace n WHERE n.oid = obj)
  WHEN cls = 'pg_constraint'::regclass THEN (
    SELECT jsonb_build_object(
      'schema', n.nspname, 'relation', c.relname, 'name', k.conname,
      'definition', pg_get_constraintdef(k.oid))
    FROM pg_constraint k
    JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.oid = obj)
  ELSE '{{}}'::jsonb
END $$;

-- The objects whose DDL can change an object's signature (ddl_command_end
-- rechecks a protected object when a command touched one of them).
CREATE OR REPLACE FUNCTION {SCHEMA}.related(cls oid, obj oid, sub integer) RETURNS oid[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
SELECT coalesce(CASE
  WHEN cls = 'pg_class'::regclass AND sub = 0 THEN
    (SELECT ARRAY[c.oid, c.relnamespace] FROM pg_class c WHERE c.oid = obj)
  WHEN cls = 'pg_class'::regclass THEN
    (SELECT ARRAY[c.oid, c.relnamespace, a.atttypid] FROM pg_attribute a
     JOIN pg_class c ON c.oid = a.attrelid WHERE a.attrelid = obj AND a.attnum = sub)
  WHEN cls = 'pg_proc'::regclass THEN
    (SELECT ARRAY[p.oid, p.pronamespace] FROM pg_proc p WHERE p.oid = obj)
  WHEN cls = 'pg_type'::regclass THEN
    (SELECT ARRAY[t.oid, t.typnamespace] FROM pg_type t WHERE t.oid = obj)
  WHEN cls = 'pg_constraint'::regclass THEN
    (SELECT ARRAY[k.oid, k.conrelid, k.connamespace] FROM pg_constraint k WHERE k.oid = obj)
  END, ARRAY[obj]) $$;

-- skewguard's name of an object (a facet subject) -> its address, or no row.
CREATE OR REPLACE FUNCTION {SCHEMA}.resolve(
    kind text, name text, OUT classid oid, OUT objid oid, OUT objsubid integer)
RETURNS SETOF record LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  parts text[];
  rel oid;
BEGIN
  IF kind IN ('function', 'procedure', 'aggregate') THEN
    objid := to_regprocedure(name);
    classid := 'pg_proc'::regclass;
    objsubid := 0;
  ELSIF kind = 'type' THEN
    objid := to_regtype(name);
    classid := 'pg_type'::regclass;
    objsubid := 0;
  ELSE
    parts := parse_ident(name);
    IF kind = 'schema' AND cardinality(parts) = 1 THEN
      SELECT n.oid INTO objid FROM pg_namespace n WHERE n.nspname = parts[1];
      classid := 'pg_namespace'::regclass;
      objsubid := 0;
    ELSIF cardinality(parts) < 2 THEN
      RETURN;
    ELSE
      SELECT c.oid INTO rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = parts[1] AND c.relname = parts[2];
      IF kind IN {RELATION_TYPES!r} AND cardinality(parts) = 2 THEN
        objid := rel;
        classid := 'pg_class'::regclass;
        objsubid := 0;
      ELSIF kind IN {COLUMN_TYPES!r} AND cardinality(parts) = 3 THEN
        SELECT a.attrelid, a.attnum INTO objid, objsubid FROM pg_attribute a
         WHERE a.attrelid = rel AND a.attname = parts[3] AND a.attnum > 0
           AND NOT a.attisdropped;
        classid := 'pg_class'::regclass;
      ELSIF kind = 'table constraint' AND cardinality(parts) = 3 THEN
        SELECT k.oid INTO objid FROM pg_constraint k
         WHERE k.conrelid = rel AND k.conname = parts[3];
        classid := 'pg_constraint'::regclass;
        objsubid := 0;
      END IF;
    END IF;
  END IF;
  IF objid IS NOT NULL AND objid <> 0 THEN
    RETURN NEXT;
  END IF;
EXCEPTION WHEN others THEN
  RETURN;  -- a name that does not parse names nothing to protect
END $$;

-- Replace the protected set (the proxy's sync); returns how many objects are protected.
CREATE OR REPLACE FUNCTION {SCHEMA}.set_protected(objects jsonb) RETURNS integer
LANGUAGE plpgsql {_FUNCTION_OPTIONS} AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('{SCHEMA}.protected'));
  WITH wanted AS (
    SELECT r.classid, r.objid, r.objsubid, array_agg(DISTINCT v ORDER BY v) AS versions
      FROM jsonb_to_recordset(objects) AS i(object_type text, identity text, versions text[])
      CROSS JOIN LATERAL {SCHEMA}.resolve(i.object_type, i.identity) r
      CROSS JOIN LATERAL unnest(i.versions) v
     GROUP BY 1, 2, 3
  ), named AS (
    SELECT w.*, o.type, o.identity,
           {SCHEMA}.signature(w.classid, w.objid, w.objsubid) AS signature,
           {SCHEMA}.related(w.classid, w.objid, w.objsubid) AS related
      FROM wanted w CROSS JOIN LATERAL pg_identify_object(w.classid, w.objid, w.objsubid) o
     WHERE o.identity IS NOT NULL
  ), gone AS (
    DELETE FROM {SCHEMA}.protected p
     WHERE NOT EXISTS (SELECT 1 FROM named n
                        WHERE n.type = p.object_type AND n.identity = p.identity)
  )
  INSERT INTO {SCHEMA}.protected AS p
         (object_type, identity, versions, classid, objid, objsubid, related, signature)
  SELECT n.type, n.identity, n.versions, n.classid, n.objid, n.objsubid, n.related, n.signature
    FROM named n
  ON CONFLICT (object_type, identity) DO UPDATE
     SET versions = excluded.versions, classid = excluded.classid, objid = excluded.objid,
         objsubid = excluded.objsubid, related = excluded.related,
         signature = excluded.signature, synced_at = now()
   WHERE (p.versions, p.classid, p.objid, p.objsubid, p.related, p.signature)
         IS DISTINCT FROM (excluded.versions, excluded.classid, excluded.objid,
                           excluded.objsubid, excluded.related, excluded.signature);
  RETURN (SELECT count(*) FROM {SCHEMA}.protected);
END $$;

-- A pass for the statement text ``query`` on backend ``backend`` (the proxy, before forwarding).
CREATE OR REPLACE FUNCTION {SCHEMA}.grant_pass(backend integer, query text) RETURNS boolean
LANGUAGE plpgsql {_FUNCTION_OPTIONS} AS $$
DECLARE
  started timestamptz;
  ttl interval;
BEGIN
  SELECT s.backend_start INTO started FROM pg_stat_get_activity(backend) s;
  IF started IS NULL THEN
    RETURN false;
  END IF;
  SELECT coalesce(max(pass_ttl), interval '{PASS_TTL}') INTO ttl FROM {SCHEMA}.settings;
  DELETE FROM {SCHEMA}.passes WHERE created < now() - ttl;
  INSERT INTO {SCHEMA}.passes (pid, backend_start, query_hash, created)
  VALUES (backend, started, {SCHEMA}.query_hash(query), now());
  RETURN true;
END $$;

-- The verdict on the protected objects a command hit (a jsonb array of
-- {{object_type, identity, versions}}): nothing, an audit row, or 55006.
CREATE OR REPLACE FUNCTION {SCHEMA}.judge(tag text, verb text, hits jsonb) RETURNS void
LANGUAGE plpgsql {_FUNCTION_OPTIONS} AS $$
DECLARE
  cfg_mode text;
  ttl interval;
  started timestamptz;
  q text := current_query();
  what text;
  users text;
BEGIN
  IF hits IS NULL OR jsonb_array_length(hits) = 0 THEN
    RETURN;
  END IF;
  SELECT s.mode, s.pass_ttl INTO cfg_mode, ttl FROM {SCHEMA}.settings s;
  cfg_mode := coalesce(cfg_mode, 'enforce');
  ttl := coalesce(ttl, interval '{PASS_TTL}');
  SELECT s.backend_start INTO started FROM pg_stat_get_activity(pg_backend_pid()) s;
  IF q IS NOT NULL AND EXISTS (
      SELECT 1 FROM {SCHEMA}.passes p
       WHERE p.pid = pg_backend_pid() AND p.backend_start = started
         AND p.query_hash = {SCHEMA}.query_hash(q)
         AND p.created > statement_timestamp() - ttl) THEN
    RETURN;  -- the proxy judged this very text on this very backend
  END IF;
  IF cfg_mode = 'audit' THEN
    INSERT INTO {SCHEMA}.audit (mode, command_tag, object_type, identity, query, versions,
                                refused, role)
    SELECT 'audit', tag, h->>'object_type', h->>'identity', left(q, 2000),
           ARRAY(SELECT jsonb_array_elements_text(h->'versions')), false, session_user
      FROM jsonb_array_elements(hits) h;
    RETURN;
  END IF;
  PERFORM nextval('{SCHEMA}.refusals');
  PERFORM setval('{SCHEMA}.last_refusal',
                 (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
  SELECT string_agg(format('%s %s', h->>'object_type', h->>'identity'), ', '),
         string_agg(DISTINCT v, ', ')
    INTO what, users
    FROM jsonb_array_elements(hits) h
    CROSS JOIN LATERAL jsonb_array_elements_text(h->'versions') v;
  RAISE EXCEPTION USING
    ERRCODE = '55006',
    MESSAGE = format('skewguard backstop: refused %s: it would %s %s, used by protected '
                     'versions %s', tag, verb, what, users),
    DETAIL = 'This DDL did not come through the skewguard proxy (or not as this exact '
             'statement text on this connection), so no pass covers it; the protected '
             'set is the proxy''s footprints of protected versions.',
    HINT = 'Run the migration through the skewguard proxy, which judges it against each '
           'version''s footprint (or check it first with skewguard check). '
           'See skewguard backstop status; skewguard backstop install --mode audit '
           'only records, and skewguard backstop uninstall removes the backstop.';
END $$;

CREATE OR REPLACE FUNCTION {SCHEMA}.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql {_FUNCTION_OPTIONS} AS $$
DECLARE
  hits jsonb;
BEGIN
  SELECT jsonb_agg(DISTINCT jsonb_build_object(
           'object_type', p.object_type, 'identity', p.identity, 'versions', p.versions))
    INTO hits
    FROM pg_event_trigger_dropped_objects() d
    JOIN {SCHEMA}.protected p
      ON p.classid = d.classid AND p.objid = d.objid
     AND (d.objsubid = 0 OR d.objsubid = p.objsubid);
  PERFORM {SCHEMA}.judge(tg_tag, 'drop', hits);
END $$;

CREATE OR REPLACE FUNCTION {SCHEMA}.on_ddl_command_end() RETURNS event_trigger
LANGUAGE plpgsql {_FUNCTION_OPTIONS} AS $$
DECLARE
  touched oid[];
  hits jsonb;
BEGIN
  SELECT array_agg(DISTINCT c.objid) INTO touched
    FROM pg_event_trigger_ddl_commands() c WHERE c.objid IS NOT NULL;
  IF touched IS NULL THEN
    RETURN;
  END IF;
  -- objects that are gone were judged by on_sql_drop (every drop fires it)
  SELECT jsonb_agg(jsonb_build_object(
           'object_type', p.object_type, 'identity', p.identity, 'versions', p.versions))
    INTO hits
    FROM {SCHEMA}.protected p
    CROSS JOIN LATERAL {SCHEMA}.signature(p.classid, p.objid, p.objsubid) current_sig
   WHERE p.related && touched AND current_sig IS NOT NULL AND NOT current_sig @> p.signature;
  PERFORM {SCHEMA}.judge(tg_tag, 'change', hits);
END $$;

REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA {SCHEMA} FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {SCHEMA} FROM PUBLIC;

DROP EVENT TRIGGER IF EXISTS skewguard_backstop_ddl_command_end;
CREATE EVENT TRIGGER skewguard_backstop_ddl_command_end ON ddl_command_end
    EXECUTE FUNCTION {SCHEMA}.on_ddl_command_end();
ALTER EVENT TRIGGER skewguard_backstop_ddl_command_end ENABLE ALWAYS;
DROP EVENT TRIGGER IF EXISTS skewguard_backstop_sql_drop;
CREATE EVENT TRIGGER skewguard_backstop_sql_drop ON sql_drop
    EXECUTE FUNCTION {SCHEMA}.on_sql_drop();
ALTER EVENT TRIGGER skewguard_backstop_sql_drop ENABLE ALWAYS;
"""

SET_MODE_SQL = f"""
INSERT INTO {SCHEMA}.settings (mode, version) VALUES ($1, $2)
ON CONFLICT (singleton) DO UPDATE SET mode = excluded.mode, version = excluded.version
"""

UNINSTALL_SQL = f"""
DROP EVENT TRIGGER IF EXISTS skewguard_backstop_ddl_command_end;
DROP EVENT TRIGGER IF EXISTS skewguard_backstop_sql_drop;
DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
"""

#: The rights a non-owner role (the proxy's, ``--grant-to``) needs to grant passes and sync.
GRANT_SQL = """
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT EXECUTE ON FUNCTION {schema}.grant_pass(integer, text), {schema}.set_protected(jsonb)
    TO {role};
GRANT SELECT ON {schema}.settings, {schema}.protected, {schema}.audit TO {role};
GRANT SELECT ON {schema}.refusals, {schema}.last_refusal TO {role};
"""

GRANT_PASS_SQL = f"SELECT {SCHEMA}.grant_pass($1::integer, $2::text)"
SET_PROTECTED_SQL = f"SELECT {SCHEMA}.set_protected($1::text::jsonb)"
INSTALLED_SQL = f"SELECT to_regnamespace('{SCHEMA}') IS NOT NULL"
INSTALLED_FUNCTION_SQL = f"SELECT to_regprocedure('{SCHEMA}.set_protected(jsonb)') IS NOT NULL"

# ---------------------------------------------------------------------------
# Footprints -> protected objects (pure)
# ---------------------------------------------------------------------------

_RELATION_KINDS = frozenset(
    {
        FacetKind.RELATION_READ,
        FacetKind.RELATION_WRITE,
        FacetKind.VIEW_READ,
        FacetKind.SELECT_STAR,
        FacetKind.INSERT_POSITIONAL,
        FacetKind.INSERT_SELECT_STAR,
        FacetKind.INSERT_SHAPE,
        FacetKind.COPY_IN,
        FacetKind.COPY_OUT,
        FacetKind.CONFLICT_COLUMNS,
    }
)
_COLUMN_KINDS = frozenset(
    {FacetKind.COLUMN_READ, FacetKind.COLUMN_WRITE, FacetKind.PREPARED_RESULT}
)
_ENUM_KINDS = frozenset(
    {FacetKind.ENUM_LABEL_READ, FacetKind.ENUM_LABEL_WRITE, FacetKind.TYPE_NAMED}
)


def split_name(text: str, separators: str = ".") -> list[str]:
    """Split on separators outside double quotes (quotes kept: parts stay parse_ident-ready)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted  # a doubled "" inside quotes toggles twice: still quoted
        if char in separators and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _relation_and_columns(subject: str) -> tuple[str, list[str]]:
    """``schema.rel``, ``schema.rel(a,b)`` or ``schema.rel/3`` -> (``schema.rel``, [a, b])."""
    head = split_name(subject, "(")
    if len(head) > 1:
        relation = head[0]
        inner = "(".join(head[1:])
        inner = inner[:-1] if inner.endswith(")") else inner
        return relation, [c for c in split_name(inner, ",") if c]
    return split_name(subject, "/")[0], []


def _version_name(key: VersionKey) -> str:
    return f"{key.app}@{key.version}"


def protected_objects(
    footprints: Mapping[VersionKey, Iterable[Facet]],
) -> dict[tuple[str, str], list[str]]:
    """Backstop objects ``(object_type, identity) -> sorted app@version names`` from footprints.

    ``footprints`` maps each protected version to its facets (the keys of
    ``StoredVersion.facets`` do). Object types are ``pg_identify_object``'s
    (``table``, ``view``, ``table column``, ``view column``, ``function``,
    ``sequence``, ``type``, ``schema``, ``table constraint``); identities are
    skewguard's qualified names (``public.users.email``,
    ``public.f(integer,text)``, ``public.mood``; a constraint as
    ``schema.table.constraint``), which the database resolves and renames to
    its own spelling when the set is synced. A relation is called a ``table``
    unless a version reads it as a view; the database corrects the kind. Every
    object's schema is protected too (renaming or dropping it breaks them all).
    """
    views: set[str] = set()
    for facets in footprints.values():
        for facet in facets:
            if facet.kind is FacetKind.VIEW_READ:
                views.add(facet.subject)
    found: dict[tuple[str, str], set[str]] = {}

    def add(object_type: str, identity: str, version: str) -> None:
        found.setdefault((object_type, identity), set()).add(version)

    def relation(name: str, version: str) -> None:
        add("view" if name in views else "table", name, version)
        add("schema", split_name(name)[0], version)

    def column(name: str, version: str) -> None:
        rel = ".".join(split_name(name)[:2])
        add("view column" if rel in views else "table column", name, version)
        add("schema", split_name(name)[0], version)

    for key, facets in footprints.items():
        if not key.app:
            continue  # untagged clients protect nothing
        version = _version_name(key)
        for facet in facets:
            kind, subject = facet.kind, facet.subject
            if kind in _RELATION_KINDS:
                for part in split_name(subject, "<"):
                    rel, columns = _relation_and_columns(part)
                    if len(split_name(rel)) != 2:
                        continue
                    relation(rel, version)
                    for name in columns:
                        column(f"{rel}.{name}", version)
            elif kind in _COLUMN_KINDS:
                parts = split_name(subject)
                if len(parts) != 3 or ("(" in parts[1] and not parts[1].startswith('"')):
                    continue  # not a column: a function's result (public.f(public.t))
                if parts[2] == "*":
                    relation(".".join(parts[:2]), version)
                else:
                    column(subject, version)
            elif kind is FacetKind.FUNCTION:
                add("function", subject, version)
                add("schema", split_name(subject.partition("(")[0])[0], version)
            elif kind in (FacetKind.SEQUENCE, FacetKind.SEQUENCE_DEFAULT):
                add("sequence", subject, version)
                add("schema", split_name(subject)[0], version)
            elif kind in _ENUM_KINDS:
                type_name = subject if kind is FacetKind.TYPE_NAMED else split_name(subject, ":")[0]
                add("type", type_name, version)
                add("schema", split_name(type_name)[0], version)
            elif kind is FacetKind.CONFLICT_CONSTRAINT and len(split_name(subject)) == 3:
                add("table constraint", subject, version)
    return {k: sorted(v) for k, v in sorted(found.items())}


# ---------------------------------------------------------------------------
# Install, uninstall, status
# ---------------------------------------------------------------------------


class BackstopError(Exception):
    """The backstop cannot be installed or used as asked (the message says why)."""


async def install(conn: asyncpg.Connection, mode: str, *, grant_to: Sequence[str] = ()) -> None:
    """Create or update the backstop in ``conn``'s database (one transaction).

    Needs a role that may create event triggers (a superuser; ``rds_superuser``
    on RDS). ``grant_to``: roles (the proxy's) allowed to grant passes and sync
    the protected set without owning the schema.
    """
    if mode not in BACKSTOP_MODES:
        raise BackstopError(f"unknown backstop mode {mode!r}; use one of {BACKSTOP_MODES}")
    try:
        async with conn.transaction():
            await conn.execute(INSTALL_SQL)
            await conn.execute(SET_MODE_SQL, mode, VERSION)
            for role in grant_to:
                quoted = await conn.fetchval("SELECT quote_ident($1)", role)
                await conn.execute(GRANT_SQL.format(schema=SCHEMA, role=quoted))
    except asyncpg.InsufficientPrivilegeError as exc:
        raise BackstopError(
            f"{exc}: installing the backstop needs a role that may create event triggers "
            "(a superuser; rds_superuser on Amazon RDS)"
        ) from exc


async def uninstall(conn: asyncpg.Connection) -> bool:
    """Remove every trace of the backstop; False when it was not installed."""
    async with conn.transaction():
        present = bool(await conn.fetchval(INSTALLED_SQL)) or bool(
            await conn.fetchval(
                "SELECT count(*) FROM pg_event_trigger WHERE evtname = ANY($1::text[])",
                list(EVENT_TRIGGERS),
            )
        )
        await conn.execute(UNINSTALL_SQL)
    return present


async def status(conn: asyncpg.Connection) -> dict[str, Any]:
    """What is installed in ``conn``'s database and what it has done."""
    triggers = await conn.fetch(
        "SELECT evtname, evtevent, evtenabled::text AS evtenabled, "
        "pg_get_userbyid(evtowner) AS owner FROM pg_event_trigger "
        "WHERE evtname = ANY($1::text[]) ORDER BY evtname",
        list(EVENT_TRIGGERS),
    )
    report: dict[str, Any] = {
        "database": await conn.fetchval("SELECT current_database()"),
        "installed": bool(await conn.fetchval(INSTALLED_SQL)),
        "event_triggers": {
            r["evtname"]: {
                "event": r["evtevent"],
                "enabled": {"O": "origin", "D": "disabled", "R": "replica", "A": "always"}.get(
                    r["evtenabled"], r["evtenabled"]
                ),
                "owner": r["owner"],
            }
            for r in triggers
        },
    }
    if not report["installed"]:
        report["healthy"] = False
        return report
    settings = await conn.fetchrow(
        f"SELECT mode, pass_ttl::text AS pass_ttl, version, installed_at FROM {SCHEMA}.settings"
    )
    counts = await conn.fetchrow(
        f"""SELECT (SELECT count(*) FROM {SCHEMA}.protected) AS protected,
                   (SELECT max(synced_at) FROM {SCHEMA}.protected) AS synced_at,
                   (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
                      FROM {SCHEMA}.refusals) AS refusals,
                   (SELECT last_value FROM {SCHEMA}.last_refusal) AS last_refusal_ms,
                   (SELECT count(*) FROM {SCHEMA}.audit) AS audited"""
    )
    assert counts is not None  # one row of subqueries
    last_audit = await conn.fetchrow(
        f"SELECT at, command_tag, object_type, identity, versions FROM {SCHEMA}.audit "
        "ORDER BY at DESC LIMIT 1"
    )
    report.update(
        mode=settings["mode"] if settings else None,
        pass_ttl=settings["pass_ttl"] if settings else None,
        version=settings["version"] if settings else None,
        installed_at=settings["installed_at"].isoformat() if settings else None,
        owner=await conn.fetchval(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1", SCHEMA
        ),
        protected_objects=counts["protected"],
        last_sync=counts["synced_at"].isoformat() if counts["synced_at"] else None,
        refusals=counts["refusals"],
        last_refusal=(
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(counts["last_refusal_ms"] / 1000))
            if counts["last_refusal_ms"]
            else None
        ),
        audited=counts["audited"],
        last_audit=(
            {
                "at": last_audit["at"].isoformat(),
                "command": last_audit["command_tag"],
                "object": f"{last_audit['object_type']} {last_audit['identity']}",
                "versions": list(last_audit["versions"] or []),
            }
            if last_audit
            else None
        ),
    )
    report["healthy"] = len(triggers) == len(EVENT_TRIGGERS) and all(
        r["evtenabled"] == "A" for r in triggers
    )
    return report


# ---------------------------------------------------------------------------
# The proxy's side: passes and the protected set
# ---------------------------------------------------------------------------

#: How long "not installed in this database" is believed before a pass tries again.
ABSENT_TTL = 5.0
#: How often the periodic sync asks again whether a database without the backstop got it.
RECHECK_ABSENT = 15.0
#: How long a database that does not exist (dropped: its versions are still stored) is
#: left alone: every sync tried each one anew, and hundreds took the event loop's time.
MISSING_TTL = 60.0


@dataclass(slots=True)
class _Link:
    """One side connection per purpose and database, used by one caller at a time."""

    lock: asyncio.Lock
    conn: asyncpg.Connection | None = None


def _absence(exc: BaseException) -> float | None:
    """How long to leave a database alone after ``exc``: it does not exist, or the
    backstop's schema or function is not there in it (None: a failure)."""
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return MISSING_TTL
    if isinstance(exc, asyncpg.UndefinedFunctionError | asyncpg.InvalidSchemaNameError):
        return ABSENT_TTL
    return None


class PassBook:
    """The proxy's side of the backstop: passes for judged DDL, and the protected set.

    One pooled side connection per database for passes and one for syncs
    (a slow sync never delays a pass). Databases without the backstop are
    remembered for :data:`ABSENT_TTL` seconds, so calls there cost nothing; databases
    that do not exist for :data:`MISSING_TTL` seconds, with no link kept.
    Nothing here raises: failures are logged and counted in
    ``skewguard_backstop_errors_total{operation}``; a pass that could not be
    written makes the backstop refuse that DDL, which says so.
    """

    def __init__(
        self,
        upstream: Upstream,
        *,
        registry: CollectorRegistry | None = None,
        grant_timeout: float = 2.0,
        sync_timeout: float = 10.0,
    ) -> None:
        self.upstream = upstream
        self.registry = registry if registry is not None else CollectorRegistry()
        registry = self.registry
        self._user = upstream.user or getpass.getuser()
        self._grant_timeout = grant_timeout
        self._sync_timeout = sync_timeout
        self._links: dict[tuple[str, str], _Link] = {}
        self._absent_until: dict[str, float] = {}
        self._checked_absent: dict[str, float] = {}
        self.errors = Counter(
            "skewguard_backstop_errors",
            "Backstop calls that failed (a pass not written, a protected set not synced), "
            "by operation",
            ["operation"],
            registry=registry,
        )
        self.passes = Counter(
            "skewguard_backstop_passes",
            "Passes written for DDL the proxy judged, in databases with the backstop",
            registry=registry,
        )
        self.syncs = Counter(
            "skewguard_backstop_syncs",
            "Protected sets written to databases with the backstop",
            registry=registry,
        )

    def absent(self, database: str) -> bool:
        """True while the backstop is believed missing in ``database``."""
        return self._absent_until.get(database, 0.0) > time.monotonic()

    async def installed(self, database: str) -> bool:
        """Whether ``database`` has the backstop (a cheap query; "no" is remembered a while).

        A database without it is asked again after :data:`RECHECK_ABSENT` seconds,
        and no connection to it is kept meanwhile.
        """
        if self.absent(database):
            return False
        if time.monotonic() - self._checked_absent.get(database, -RECHECK_ABSENT) < RECHECK_ABSENT:
            return False
        found = await self._call("sync", database, INSTALLED_FUNCTION_SQL, (), timeout=2.0)
        if found is False:
            await self._mark_absent(database)
            self._checked_absent[database] = time.monotonic()
        return bool(found)

    async def _mark_absent(self, database: str) -> None:
        self._absent_until[database] = time.monotonic() + ABSENT_TTL
        for (_, name), link in list(self._links.items()):
            if name == database:  # no idle connection to a database without the backstop
                async with link.lock:
                    await self._drop(link)

    async def grant(self, database: str, backend_pid: int, query_text: str) -> None:
        """Let ``query_text`` through the backstop on backend ``backend_pid``.

        Call with the exact text forwarded (the Query string or the Parse text),
        before forwarding it; the pass is committed when this returns.
        """
        if self.absent(database):
            return
        ok = await self._call(
            "grant",
            database,
            GRANT_PASS_SQL,
            (backend_pid, query_text),
            timeout=self._grant_timeout,
        )
        if ok is True:
            self.passes.inc()
        elif ok is False:  # the backend is gone: the statement cannot run anyway
            log.info("no pass: backend %d is not running in %s", backend_pid, database)

    async def sync_protected(
        self, database: str, objects: Mapping[tuple[str, str], Sequence[str]]
    ) -> None:
        """Replace the protected set of ``database`` (one transaction)."""
        if self.absent(database):
            return
        payload = json.dumps(
            [
                {"object_type": kind, "identity": identity, "versions": list(versions)}
                for (kind, identity), versions in sorted(objects.items())
            ]
        )
        count = await self._call(
            "sync", database, SET_PROTECTED_SQL, (payload,), timeout=self._sync_timeout
        )
        if count is not None:
            self.syncs.inc()

    async def _call(
        self,
        operation: str,
        database: str,
        sql: str,
        args: Sequence[Any],
        *,
        timeout: float,
    ) -> Any:
        link = self._links.setdefault((operation, database), _Link(asyncio.Lock()))
        async with link.lock:
            try:
                async with asyncio.timeout(timeout):
                    if link.conn is None or link.conn.is_closed():
                        link.conn = await connect_side(
                            self.upstream,
                            database=database,
                            user=self._user,
                            application_name=f"skewguard-backstop-{operation}",
                            lock_timeout_ms=max(1, int(timeout * 500)),
                            statement_timeout_ms=max(1, int(timeout * 1000)),
                            connect_timeout=timeout,
                        )
                    return await link.conn.fetchval(sql, *args)
            except asyncio.CancelledError:
                if link.conn is not None:
                    link.conn.terminate()  # a query may be in flight: the link is unusable
                    link.conn = None
                raise
            except SIDE_ERRORS as exc:
                absence = _absence(exc)
                if absence is not None:  # no link is kept to such a database
                    self._absent_until[database] = time.monotonic() + absence
                    await self._drop(link)
                    self._links.pop((operation, database), None)
                    return None
                self.errors.labels(operation).inc()
                log.warning("backstop %s in %s failed: %s", operation, database, exc)
                await self._drop(link)
                return None

    async def _drop(self, link: _Link) -> None:
        conn, link.conn = link.conn, None
        if conn is not None:
            await close_side(conn)

    async def close(self) -> None:
        for link in self._links.values():
            async with link.lock:
                await self._drop(link)
