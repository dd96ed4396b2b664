"""Ground truth by experiment: PostgreSQL itself decides whether a schema change breaks a version.

A :class:`Case` is a schema, the statements each app version runs (in the protocol
modes real drivers use) and a migration. :func:`run_experiment` runs every version
on live connections straight to PostgreSQL, applies the migration, and runs them
again on the same connections and on fresh ones: a version whose re-run fails is
broken. :func:`proxy_verdict` replays the same traffic through a skewguard proxy
(so the versions are live and learned), sends the migration through it as an
untagged migration runner would, and reports whether the proxy blocked it and
which versions it named.

A case may also have a lifecycle (:class:`Step`, ``Case.offline``, ``Case.retired``):
versions that stopped before the migration (rollback targets), versions an operator
retired, and earlier migrations with traffic between them (expand, deploy, contract).
:func:`must_name` is the one rule comparing the two sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
import pglast
import psycopg

from skewguard.pgcluster import LocalCluster
from tests.support.proxy import ProxyProcess

Via = Literal["simple", "extended", "prepared", "asyncpg", "copy"]

#: SQLSTATE of a blocked DDL statement (object_in_use), per the contract.
BLOCKED_SQLSTATE = "55006"

#: Nothing here may hang a test: connections, statements and lock waits are bounded.
CONNECT_TIMEOUT = 10
COMMAND_TIMEOUT = 30


@dataclass(frozen=True)
class Q:
    """One statement a version runs, and how its driver sends it.

    - ``simple``: psycopg ClientCursor, parameters bound client-side, simple Query.
    - ``extended``: psycopg server-side binding through the unnamed statement
      (Parse/Bind/Execute every time, never prepared).
    - ``prepared``: psycopg ``prepare=True``: a named prepared statement, kept on the
      connection and re-executed.
    - ``asyncpg``: an explicit ``conn.prepare()`` statement, held and re-executed
      (asyncpg re-prepares its implicit statement cache on its own, but not these).
    - ``copy``: psycopg ``COPY ... FROM STDIN`` writing ``rows``.

    Placeholders are ``%s`` for psycopg and ``$1`` for asyncpg.
    """

    sql: str
    args: tuple[Any, ...] = ()
    via: Via = "simple"
    rows: tuple[tuple[Any, ...], ...] = ()

    def __str__(self) -> str:
        return f"[{self.via}] {self.sql}"


def simple(sql: str, *args: Any) -> Q:
    return Q(sql, args, "simple")


def extended(sql: str, *args: Any) -> Q:
    return Q(sql, args, "extended")


def prepared(sql: str, *args: Any) -> Q:
    return Q(sql, args, "prepared")


def apg(sql: str, *args: Any) -> Q:
    return Q(sql, args, "asyncpg")


def copy_in(sql: str, *rows: tuple[Any, ...]) -> Q:
    return Q(sql, (), "copy", tuple(rows))


def as_queries(statements: Iterable[str | Q]) -> list[Q]:
    """A version's statements as :class:`Q` (a plain string runs in the simple protocol)."""
    return [q if isinstance(q, Q) else Q(q) for q in statements]


@dataclass(frozen=True)
class Step:
    """An earlier step of a multi-step deploy, applied and judged before the case's
    ``migration_sql``: its migration, then traffic, then lifecycle marks.

    ``migration_sql`` runs first ("" for none: a step of traffic only); then each
    version in ``deploy`` runs its statements (a new version connects; one already
    running runs them on its own connections, one that went offline connects again;
    either way they join what that version runs from then on); then the ``offline``
    versions close every connection and the ``retired`` ones are retired through the
    admin API. Only the case's last migration may break a version: an earlier step
    that PostgreSQL finds breaking makes the case invalid, and the proxy must let
    every earlier step through.
    """

    migration_sql: str = ""
    deploy: dict[str, list[str | Q]] = field(default_factory=dict)
    offline: frozenset[str] = frozenset()
    retired: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Case:
    """A schema, what each version runs on it, and a migration to judge.

    ``versions`` maps ``app@version`` to its statements (plain strings run in the
    simple protocol). ``users`` maps a version to the login role it connects as
    (default: the superuser); every role named there is created cluster-wide
    before ``schema_sql`` runs, so the schema can GRANT to it.
    ``breaks`` is what the case was designed to show: the versions PostgreSQL
    breaks, retired ones included; the experiment decides, and a separate test
    checks that the design holds.

    The lifecycle, all optional: after ``versions`` ran, the ``offline`` ones close
    every connection (they ran and stopped: rollback targets, still protected) and
    the ``retired`` ones are retired through the admin API (no longer protected,
    live or not); then each of ``steps`` in order; then ``migration_sql``. Which
    versions the proxy must name: :func:`must_name`. Lifecycle marks are global in
    the proxy's state (``app@version`` across databases), so a case that retires a
    version gives it an app name no other case uses.
    """

    id: str
    schema_sql: str
    versions: dict[str, list[str | Q]]
    migration_sql: str
    breaks: frozenset[str] = frozenset()
    expect_safe_for_linter: bool = False
    note: str = ""
    users: dict[str, str] = field(default_factory=dict)
    offline: frozenset[str] = frozenset()
    retired: frozenset[str] = frozenset()
    steps: tuple[Step, ...] = ()

    @property
    def safe(self) -> bool:
        """Whether the proxy must let the migration through (nothing protected breaks)."""
        return not must_name(self, self.breaks)

    @property
    def roles(self) -> set[str]:
        return set(self.users.values())

    @property
    def phases(self) -> tuple[Step, ...]:
        """The timeline before ``migration_sql``: the first traffic as a step without
        a migration, then ``steps``."""
        return (Step("", self.versions, self.offline, self.retired), *self.steps)

    @property
    def every_version(self) -> list[str]:
        """Every version that runs in the case, in the order they first connect."""
        return list(dict.fromkeys(v for phase in self.phases for v in phase.deploy))

    @property
    def every_retired(self) -> frozenset[str]:
        """The versions retired by the time ``migration_sql`` runs."""
        return frozenset().union(*(phase.retired for phase in self.phases))

    def queries(self, version: str) -> list[Q]:
        """Everything ``version`` runs in the case, in order."""
        return [q for phase in self.phases for q in as_queries(phase.deploy.get(version, ()))]


def must_name(case: Case, broken: Iterable[str]) -> frozenset[str]:
    """The versions a block of ``case``'s migration must name when PostgreSQL broke
    ``broken``: the one comparison rule between the experiment and the proxy.

    Protected (DESIGN.md) is live + seen within ``--retain`` + each app's rollback
    target + pinned, minus retired. The suite's proxy runs with the default retain
    (24 h), so every version a case ran is protected, offline ones too (as recent or
    rollback target), except the retired: a break only retired versions suffer is
    safe, and the proxy must not name them. Empty: the proxy must let it through.
    """
    return frozenset(broken) - case.every_retired


class CaseInvalid(AssertionError):
    """The case does not hold: a version fails before the migration, or the migration fails."""


@dataclass(frozen=True)
class Endpoint:
    """Where clients connect: PostgreSQL itself or a proxy in front of it."""

    host: str
    port: int

    def url(self, database: str, user: str = "postgres", application_name: str = "") -> str:
        params = {"sslmode": "disable"}
        if application_name:
            params["application_name"] = application_name
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        return f"postgresql://{user}@{self.host}:{self.port}/{database}?{query}"


def describe(error: BaseException) -> str:
    state = getattr(error, "sqlstate", None)
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"{state or type(error).__name__}: {text}"


class VersionClients:
    """The live connections of one version: one per protocol mode it uses.

    Connections open lazily and stay open, so named prepared statements (psycopg
    ``prepare=True``, asyncpg ``prepare()``) survive between :meth:`run` calls.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        endpoint: Endpoint,
        database: str,
        identity: str,
        user: str = "postgres",
    ) -> None:
        self.loop = loop
        self.url = endpoint.url(database, user, identity)
        self._psycopg: dict[str, psycopg.Connection[Any]] = {}
        self._asyncpg: asyncpg.Connection | None = None
        self._statements: dict[str, Any] = {}

    def _conn(self, via: Via) -> psycopg.Connection[Any]:
        kind = "simple" if via == "copy" else via
        if kind not in self._psycopg:
            if kind == "simple":
                conn = psycopg.connect(
                    self.url,
                    autocommit=True,
                    cursor_factory=psycopg.ClientCursor,
                    connect_timeout=CONNECT_TIMEOUT,
                )
            elif kind == "extended":
                conn = psycopg.connect(
                    self.url,
                    autocommit=True,
                    prepare_threshold=None,
                    connect_timeout=CONNECT_TIMEOUT,
                )
            else:  # prepare_threshold=None would disable prepare=True too
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            self._psycopg[kind] = conn
        return self._psycopg[kind]

    def _run_one(self, q: Q) -> None:
        if q.via == "asyncpg":
            self.loop.run_until_complete(self._run_asyncpg(q))
            return
        conn = self._conn(q.via)
        if q.via == "copy":
            with conn.cursor() as cur, cur.copy(q.sql) as copy:
                for row in q.rows:
                    copy.write_row(row)
            return
        if q.via == "simple":
            cur = conn.execute(q.sql, q.args or None)
        elif q.via == "extended":
            # psycopg sends a statement without parameters in the simple protocol;
            # binary results force Parse/Bind/Execute
            cur = conn.execute(q.sql, q.args or None, prepare=False, binary=not q.args)
        else:
            cur = conn.execute(q.sql, q.args or None, prepare=True)
        if cur.description is not None:
            cur.fetchall()

    async def _run_asyncpg(self, q: Q) -> None:
        if self._asyncpg is None:
            self._asyncpg = await asyncpg.connect(
                self.url, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
            )
        statement = self._statements.get(q.sql)
        if statement is None:
            statement = await self._asyncpg.prepare(q.sql)
            self._statements[q.sql] = statement
        await statement.fetch(*q.args)

    def run(self, queries: Iterable[Q]) -> list[str]:
        """Run every statement; the failures, described."""
        errors = []
        for q in queries:
            try:
                self._run_one(q)
            except Exception as error:  # any driver or server error is a failure
                errors.append(f"{q}: {describe(error)}")
        return errors

    def close(self) -> None:
        for conn in self._psycopg.values():
            conn.close()
        self._psycopg.clear()
        if self._asyncpg is not None:
            held, self._asyncpg = self._asyncpg, None
            try:
                self.loop.run_until_complete(held.close(timeout=5))
            except Exception:
                held.terminate()


# ---------------------------------------------------------------------------- databases


def _admin(cluster: LocalCluster, database: str = "postgres") -> psycopg.Connection[Any]:
    return psycopg.connect(
        Endpoint(cluster.host, cluster.port).url(database, application_name="gt-admin"),
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT,
    )


def ensure_roles(cluster: LocalCluster, roles: Iterable[str]) -> None:
    with _admin(cluster) as conn:
        for role in sorted(roles):
            with contextlib.suppress(
                psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation
            ):
                conn.execute(f'CREATE ROLE "{role}" LOGIN')


def drop_roles(cluster: LocalCluster, roles: Iterable[str]) -> None:
    with _admin(cluster) as conn:
        for role in sorted(roles):
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def _strategy(server_version: int) -> str:
    """How CREATE DATABASE copies template1 for a case. From 15 the default is WAL_LOG,
    which copies every page through shared buffers and WAL; FILE_COPY copies the files
    and checkpoints twice, which finds little to write on the suite's throwaway clusters
    (fsync off). On the PG15 cluster, sequential ground-truth runs under load spent less
    server CPU in creates with FILE_COPY; on 18 a bare create+drop showed no gain, so 18
    keeps its default (16 and 17 are unmeasured and follow 15)."""
    return " STRATEGY FILE_COPY" if 150000 <= server_version < 180000 else ""


def create_database(cluster: LocalCluster, case: Case, prefix: str) -> str:
    """A fresh database holding ``case.schema_sql`` (applied directly, not through a proxy)."""
    if case.roles:  # a connection fewer per case for the (many) cases without roles
        ensure_roles(cluster, case.roles)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _admin(cluster) as conn:
        conn.execute(f"CREATE DATABASE {name}{_strategy(conn.info.server_version)}")
        # one round trip (ALTER DATABASE ... SET may share a transaction; CREATE may not)
        conn.execute(
            f"ALTER DATABASE {name} SET statement_timeout = '{COMMAND_TIMEOUT}s';"
            f"ALTER DATABASE {name} SET lock_timeout = '{CONNECT_TIMEOUT}s'"
        )
    with _admin(cluster, name) as conn:
        conn.execute(case.schema_sql)
    return name


def drop_database(cluster: LocalCluster, name: str) -> None:
    with _admin(cluster) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def drop_leftover_databases(cluster: LocalCluster) -> list[str]:
    """Drop every database this module created and did not drop (after an interruption)."""
    with _admin(cluster) as conn:
        rows = conn.execute(
            r"SELECT datname FROM pg_database WHERE datname ~ '^gt_(exp|pxy)_[0-9a-f]{10}$'"
        ).fetchall()
    for (name,) in rows:
        drop_database(cluster, name)
    return [name for (name,) in rows]


#: Every user-visible schema object that a migration can change, as sorted text rows.
SIGNATURE_SQL = r"""
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
)
SELECT 'schema', nspname, '', '' FROM ns
UNION ALL
SELECT 'schema acl', n.nspname, '', n.nspacl::text FROM pg_namespace n JOIN ns ON ns.oid = n.oid
UNION ALL
SELECT 'relation', ns.nspname, c.relname,
       concat_ws(' ', c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relacl::text,
                 pg_get_userbyid(c.relowner), pg_get_expr(c.relpartbound, c.oid),
                 c.relpersistence, c.relreplident, c.reloptions::text,
                 obj_description(c.oid, 'pg_class'),
                 (SELECT string_agg(i.inhparent::regclass::text, ',' ORDER BY i.inhseqno)
                  FROM pg_inherits i WHERE i.inhrelid = c.oid))
FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
UNION ALL
SELECT 'sequence', ns.nspname, c.relname,
       concat_ws(' ', s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                 s.seqcycle)
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN ns ON ns.oid = c.relnamespace
UNION ALL
SELECT 'column', ns.nspname, c.relname || '.' || a.attname,
       concat_ws(' ', format_type(a.atttypid, a.atttypmod), a.attnotnull,
                 pg_get_expr(d.adbin, d.adrelid), nullif(a.attidentity::text, ''),
                 nullif(a.attcollation, 0)::regcollation::text, a.attstorage,
                 nullif(a.attstattarget, -1), col_description(a.attrelid, a.attnum),
                 a.attacl::text)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
JOIN ns ON ns.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint', ns.nspname, c.relname || '.' || k.conname,
       concat_ws(' ', pg_get_constraintdef(k.oid), k.convalidated)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN ns ON ns.oid = c.relnamespace
UNION ALL
SELECT 'index', schemaname, indexname, indexdef FROM pg_indexes
WHERE schemaname IN (SELECT nspname FROM ns)
UNION ALL
SELECT 'view', schemaname, viewname, definition FROM pg_views
WHERE schemaname IN (SELECT nspname FROM ns)
UNION ALL
SELECT 'function', ns.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       concat_ws(' ', pg_get_function_result(p.oid), pg_get_function_arguments(p.oid),
                 p.proacl::text, md5(p.prosrc), p.prosecdef, p.proconfig::text)
FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
UNION ALL
SELECT 'type', ns.nspname, t.typname,
       concat_ws(' ', (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                       FROM pg_enum e WHERE e.enumtypid = t.oid),
                 CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
                 CASE WHEN t.typnotnull THEN 'not null' END, t.typdefault, t.typacl::text,
                 (SELECT string_agg(pg_get_constraintdef(k.oid), ',' ORDER BY k.conname)
                  FROM pg_constraint k WHERE k.contypid = t.oid))
FROM pg_type t JOIN ns ON ns.oid = t.typnamespace WHERE t.typtype IN ('e', 'd', 'c')
UNION ALL
SELECT 'policy', schemaname, tablename || '.' || policyname,
       concat_ws(' ', cmd, roles::text, qual, with_check) FROM pg_policies
WHERE schemaname IN (SELECT nspname FROM ns)
UNION ALL
SELECT 'trigger', ns.nspname, c.relname || '.' || t.tgname,
       concat_ws(' ', t.tgenabled, pg_get_triggerdef(t.oid))
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON ns.oid = c.relnamespace
WHERE NOT t.tgisinternal
UNION ALL
SELECT 'statistics', ns.nspname, s.stxname, pg_get_statisticsobjdef(s.oid)
FROM pg_statistic_ext s JOIN ns ON ns.oid = s.stxnamespace
UNION ALL
SELECT 'operator', ns.nspname,
       format('%s(%s,%s)', o.oprname, o.oprleft::regtype, o.oprright::regtype),
       o.oprcode::text
FROM pg_operator o JOIN ns ON ns.oid = o.oprnamespace
UNION ALL
SELECT 'rule', schemaname, tablename || '.' || rulename, definition FROM pg_rules
WHERE schemaname IN (SELECT nspname FROM ns)
UNION ALL
SELECT 'cast', '', format('%s AS %s', c.castsource::regtype, c.casttarget::regtype),
       concat_ws(' ', c.castcontext, c.castmethod, c.castfunc::regprocedure::text)
FROM pg_cast c WHERE c.oid >= 16384
UNION ALL
SELECT 'language', '', l.lanname, l.lanacl::text FROM pg_language l WHERE l.lanispl
ORDER BY 1, 2, 3, 4
"""


def schema_signature(
    cluster: LocalCluster, database: str, conn: psycopg.Connection[Any] | None = None
) -> list[tuple[str, ...]]:
    """The database's signature, on ``conn`` (an idle autocommit admin connection to it)
    when given: the experiment reads it before and after the migration on one connection
    (each statement sees the catalog as committed then) instead of opening two."""
    if conn is not None:
        return [tuple(str(v) for v in row) for row in conn.execute(SIGNATURE_SQL).fetchall()]
    with _admin(cluster, database) as own:
        return schema_signature(cluster, database, own)


def split_statements(sql: str) -> list[str]:
    return [s.strip() for s in pglast.split(sql) if s.strip()]


@dataclass
class MigrationOutcome:
    error: psycopg.Error | None = None
    statement: str = ""  # the statement that failed


def apply_migration(url: str, sql: str) -> MigrationOutcome:
    """Send the migration statement by statement (simple protocol, autocommit, explicit
    BEGIN/COMMIT as written), as a migration runner does; stop at the first error."""
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
        for statement in split_statements(sql):
            try:
                conn.execute(statement)
            except psycopg.Error as error:
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")
                return MigrationOutcome(error, statement)
    return MigrationOutcome()


# ---------------------------------------------------------------------------- the experiment


@dataclass
class ExperimentResult:
    broken: frozenset[str]
    errors: dict[str, list[str]]  # version -> failures after the migration
    before: list[tuple[str, ...]]
    after: list[tuple[str, ...]]  # schema signatures

    def explain(self) -> str:
        lines = [f"PostgreSQL broke: {sorted(self.broken) or 'nothing'}"]
        for version, errors in sorted(self.errors.items()):
            lines.extend(f"  {version}: {error}" for error in errors)
        return "\n".join(lines)


class Deployment:
    """The versions of one run of a case as its timeline moves on: the connections of
    the running ones, what each has run so far, and which have gone offline.

    Both sides drive a case through it, so the experiment and the proxy see the same
    traffic in the same order.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, endpoint: Endpoint, database: str, case: Case
    ) -> None:
        self.loop, self.endpoint, self.database, self.case = loop, endpoint, database, case
        self.live: dict[str, VersionClients] = {}
        self.ran: dict[str, list[Q]] = {}

    def _clients(self, version: str) -> VersionClients:
        user = self.case.users.get(version, "postgres")
        return VersionClients(self.loop, self.endpoint, self.database, version, user)

    def traffic(self, deploy: dict[str, list[str | Q]]) -> dict[str, list[str]]:
        """Run each version's new statements on its connections (opened if it has none
        running); the failures, by version."""
        failures: dict[str, list[str]] = {}
        for version, statements in deploy.items():
            queries = as_queries(statements)
            clients = self.live.get(version)
            if clients is None:
                clients = self.live[version] = self._clients(version)
            if errors := clients.run(queries):
                failures[version] = errors
            self.ran.setdefault(version, []).extend(queries)
        return failures

    def stop(self, versions: Iterable[str]) -> None:
        """These versions close every connection (they go offline)."""
        for version in versions:
            if (clients := self.live.pop(version, None)) is not None:
                clients.close()

    def rerun(self, *, fresh: bool = True) -> dict[str, list[str]]:
        """Everything each version ran so far, again: the running ones on their own
        connections, then (``fresh``) every version, offline ones too, on new ones."""
        errors: dict[str, list[str]] = {v: [] for v in self.ran}
        for version, clients in self.live.items():
            errors[version] += [f"same connection: {e}" for e in clients.run(self.ran[version])]
        if fresh:
            for version, queries in self.ran.items():
                clients = self._clients(version)
                try:
                    errors[version] += [f"fresh connection: {e}" for e in clients.run(queries)]
                finally:
                    clients.close()
        return {v: e for v, e in errors.items() if e}

    def close(self) -> None:
        self.stop(list(self.live))


#: Drops a case's database when the case is done (``drop_database`` unless a caller
#: hands the drops to a thread of their own).
Drop = Callable[[LocalCluster, str], object]


def run_experiment(
    cluster: LocalCluster, case: Case, drop: Drop = drop_database
) -> ExperimentResult:
    """Run the case straight against PostgreSQL and report which versions broke.

    A multi-step case is judged step by step, each step on the state every earlier
    step left: before a step's migration every version has run (live ones on their
    connections, offline ones before they stopped); after it, what each ran so far
    runs again, live versions on their same connections and every version (offline
    ones only there) on fresh ones; a failure there is a break. An earlier step that
    breaks something makes the case invalid; the last migration's breaks are the
    result. Retiring is the proxy's business: PostgreSQL runs retired versions too.
    """
    database = create_database(cluster, case, "gt_exp")
    direct = Endpoint(cluster.host, cluster.port)
    migrator = direct.url(database, application_name="gt-migration")
    loop = asyncio.new_event_loop()
    deployment = Deployment(loop, direct, database, case)
    try:
        for number, phase in enumerate(case.phases):
            if phase.migration_sql:
                outcome = apply_migration(migrator, phase.migration_sql)
                if outcome.error is not None:
                    raise CaseInvalid(
                        f"{case.id}: step {number} fails on PostgreSQL at "
                        f"{outcome.statement!r}: {describe(outcome.error)}"
                    )
                if broken := deployment.rerun():
                    raise CaseInvalid(
                        f"{case.id}: step {number} breaks {broken}: only the last "
                        "migration of a case may break a version"
                    )
            if failures := deployment.traffic(phase.deploy):
                raise CaseInvalid(f"{case.id}: fails before the migration: {failures}")
            deployment.stop(phase.offline)
        with _admin(cluster, database) as inspector:
            before = schema_signature(cluster, database, inspector)
            outcome = apply_migration(migrator, case.migration_sql)
            if outcome.error is not None:
                raise CaseInvalid(
                    f"{case.id}: the migration fails on PostgreSQL at {outcome.statement!r}: "
                    f"{describe(outcome.error)}"
                )
            after = schema_signature(cluster, database, inspector)
        errors = deployment.rerun()
        return ExperimentResult(frozenset(errors), errors, before, after)
    finally:
        deployment.close()
        loop.close()
        drop(cluster, database)


# ---------------------------------------------------------------------------- the proxy side


@dataclass
class ProxyVerdict:
    blocked: bool
    named: frozenset[str]  # versions named in the DETAIL of the block
    error: psycopg.Error | None  # the error the migration got, if any
    statement: str  # the statement that got it
    learned: bool  # whether /api/versions listed every version before the migration
    after: list[tuple[str, ...]] | None  # schema signature after an allowed migration
    step: int | None = None  # the earlier step (1-based) the proxy stopped, else None
    database: str = ""  # where the proxy judged it (its audit and versions say why)

    def explain(self) -> str:
        where = "" if self.step is None else f" at step {self.step} of the deploy"
        if self.error is None:
            return f"proxy allowed the migration (versions learned: {self.learned})"
        diag = self.error.diag
        return (
            f"proxy answered {self.error.sqlstate}{where} at {self.statement!r}: "
            f"{diag.message_primary}\n  DETAIL: {diag.message_detail}\n"
            f"  HINT: {diag.message_hint}\n  named: {sorted(self.named)}"
            f" (versions learned: {self.learned})"
        )

    def proxy_side(self, proxy: ProxyProcess) -> str:
        """Why the proxy decided as it did, for a disagreement's story: its audit of the
        case's database, what it held of each version there, and its log about it."""
        lines = [f"the proxy's side ({self.database}):"]
        try:
            page = json.loads(proxy.get("/api/decisions?limit=200"))["decisions"]
            for entry in reversed([d for d in page if d.get("database") == self.database]):
                lines.append(f"  decision {entry['decision']}: {entry['note']}")
                lines.extend(
                    f"    {f['rule']} {f['severity']}: {f['message']}" for f in entry["findings"]
                )
            for (database, app, version), row in sorted(proxy.versions().items()):
                if database == self.database:
                    facets = sorted(f["facet"] for f in row["facets"])
                    lines.append(
                        f"  {app}@{version}: protected={row['protected']}"
                        f" live={row['live_connections']} facets={facets}"
                    )
        except (OSError, ValueError, KeyError) as exc:
            lines.append(f"  (the admin API did not answer: {exc})")
        log = proxy.logfile.read_text(errors="replace") if proxy.logfile else ""
        logged = [line for line in log.splitlines() if self.database in line]
        lines.extend(f"  log: {line}" for line in logged[-20:])
        return "\n".join(lines)


def named_versions(detail: str, versions: Iterable[str]) -> frozenset[str]:
    """The case's versions that a DETAIL text names (``app@1`` does not match ``app@10``)."""
    return frozenset(
        v for v in versions if re.search(rf"(?<![\w.@-]){re.escape(v)}(?![\w.+@-])", detail)
    )


def wait_learned(
    proxy: ProxyProcess, database: str, identities: Sequence[str], timeout: float = 10.0
) -> bool:
    """Whether the proxy lists every one of ``identities`` within ``timeout`` seconds. The
    answer only informs the verdict's story: an admin API slow to answer on a loaded
    machine (the read waits for the learner's flush) is asked again, not a failure."""
    wanted = {(database, *identity.split("@", 1)) for identity in identities}
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(TimeoutError, urllib.error.URLError):
            if wanted <= set(proxy.versions(facets=False)):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def wait_offline(
    proxy: ProxyProcess, database: str, identities: Iterable[str], timeout: float = 10.0
) -> bool:
    """Whether the proxy counts no open connection of ``identities`` within ``timeout``
    seconds: a version that closed its connections is judged as stopped only once the
    proxy has seen them end (it holds nothing from then on)."""
    parts = (identity.partition("@") for identity in identities)
    wanted = [(database, app, version) for app, _, version in parts]
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(TimeoutError, urllib.error.URLError):
            rows = proxy.versions(facets=False)
            if all(rows.get(key, {}).get("live_connections", 0) == 0 for key in wanted):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def retire(proxy: ProxyProcess, identity: str) -> None:
    """Retire ``identity`` through the admin API, as an operator does (forced: a case
    may retire a version that is still connected)."""
    path = f"/api/versions/{urllib.parse.quote(identity, safe='@')}/retire?force=true"
    request = urllib.request.Request(proxy.admin_url + path, data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=COMMAND_TIMEOUT) as response:
        answer = json.loads(response.read())
    assert answer.get("action") == "retire", answer


def _verdict(
    outcome: MigrationOutcome, versions: Iterable[str], learned: bool, step: int | None = None
) -> ProxyVerdict:
    error = outcome.error
    blocked = error is not None and error.sqlstate == BLOCKED_SQLSTATE
    detail = (error.diag.message_detail or "") if error is not None else ""
    named = named_versions(detail, versions) if blocked else frozenset()
    return ProxyVerdict(blocked, named, error, outcome.statement, learned, None, step)


def proxy_verdict(
    cluster: LocalCluster,
    proxy: ProxyProcess,
    case: Case,
    database: str | None = None,
    drop: Drop = drop_database,
) -> ProxyVerdict:
    """Replay the case's traffic through the proxy, then send the migration through it.

    ``database`` is a fresh database already holding ``case.schema_sql`` (one is
    created when None); it is dropped at the end either way. A multi-step case sends
    its steps in order with the traffic between them (live versions run what they
    ran again after each step, as they would keep doing); a step the proxy refuses
    ends the case there, with ``step`` saying which.
    """
    database = database or create_database(cluster, case, "gt_pxy")
    endpoint = Endpoint("127.0.0.1", proxy.port)
    migrator = endpoint.url(database)
    versions = case.every_version
    loop = asyncio.new_event_loop()
    deployment = Deployment(loop, endpoint, database, case)
    try:
        for number, phase in enumerate(case.phases):
            if phase.migration_sql:
                learned = wait_learned(proxy, database, list(deployment.ran))
                outcome = apply_migration(migrator, phase.migration_sql)
                if outcome.error is not None:
                    return _verdict(outcome, versions, learned, number)
                if failures := deployment.rerun(fresh=False):
                    raise AssertionError(
                        f"{case.id}: step {number} broke {failures} through the proxy "
                        "(not directly)"
                    )
            if failures := deployment.traffic(phase.deploy):
                raise AssertionError(
                    f"{case.id}: fails through the proxy before the migration "
                    f"(it works directly): {failures}"
                )
            deployment.stop(phase.offline)
            if phase.offline and not wait_offline(proxy, database, phase.offline):
                raise AssertionError(f"{case.id}: the proxy still counts {phase.offline} live")
            for version in sorted(phase.retired):
                retire(proxy, version)
        learned = wait_learned(proxy, database, versions)
        outcome = apply_migration(migrator, case.migration_sql)
        verdict = _verdict(outcome, versions, learned)
        verdict.database = database
        if outcome.error is None:
            verdict.after = schema_signature(cluster, database)
        return verdict
    finally:
        deployment.close()
        loop.close()
        drop(cluster, database)
