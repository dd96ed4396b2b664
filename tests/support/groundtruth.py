"""Ground truth by experiment: PostgreSQL itself decides whether a schema change breaks a version.

A :class:`Case` is a schema, the statements each app version runs (in the protocol
modes real drivers use) and a migration. :func:`run_experiment` runs every version
on live connections straight to PostgreSQL, applies the migration, and runs them
again on the same connections and on fresh ones: a version whose re-run fails is
broken. :func:`proxy_verdict` replays the same traffic through a skewguard proxy
(so the versions are live and learned), sends the migration through it as an
untagged migration runner would, and reports whether the proxy blocked it and
which versions it named.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import urllib.error
import urllib.parse
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


@dataclass(frozen=True)
class Case:
    """A schema, what each version runs on it, and a migration to judge.

    ``versions`` maps ``app@version`` to its statements (plain strings run in the
    simple protocol). ``users`` maps a version to the login role it connects as
    (default: the superuser); every role named there is created cluster-wide
    before ``schema_sql`` runs, so the schema can GRANT to it.
    ``breaks`` is what the case was designed to show; the experiment decides, and
    a separate test checks that the design holds.
    """

    id: str
    schema_sql: str
    versions: dict[str, list[str | Q]]
    migration_sql: str
    breaks: frozenset[str] = frozenset()
    expect_safe_for_linter: bool = False
    note: str = ""
    users: dict[str, str] = field(default_factory=dict)

    @property
    def safe(self) -> bool:
        return not self.breaks

    @property
    def roles(self) -> set[str]:
        return set(self.users.values())

    def queries(self, version: str) -> list[Q]:
        return [q if isinstance(q, Q) else Q(q) for q in self.versions[version]]


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
                 nullif(a.attstattarget, -1), col_description(a.attrelid, a.attnum))
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
                 CASE WHEN t.typnotnull THEN 'not null' END,
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


def _open_all(
    loop: asyncio.AbstractEventLoop, endpoint: Endpoint, database: str, case: Case
) -> dict[str, VersionClients]:
    return {
        version: VersionClients(
            loop, endpoint, database, version, case.users.get(version, "postgres")
        )
        for version in case.versions
    }


def _close_all(clients: Iterable[VersionClients]) -> None:
    for client in clients:
        client.close()


#: Drops a case's database when the case is done (``drop_database`` unless a caller
#: hands the drops to a thread of their own).
Drop = Callable[[LocalCluster, str], object]


def run_experiment(
    cluster: LocalCluster, case: Case, drop: Drop = drop_database
) -> ExperimentResult:
    """Run the case straight against PostgreSQL and report which versions broke."""
    database = create_database(cluster, case, "gt_exp")
    direct = Endpoint(cluster.host, cluster.port)
    loop = asyncio.new_event_loop()
    live: dict[str, VersionClients] = {}
    try:
        live = _open_all(loop, direct, database, case)
        for version, clients in live.items():
            failures = clients.run(case.queries(version))
            if failures:
                raise CaseInvalid(f"{case.id}: {version} fails before the migration: {failures}")
        with _admin(cluster, database) as inspector:
            before = schema_signature(cluster, database, inspector)
            outcome = apply_migration(
                direct.url(database, application_name="gt-migration"), case.migration_sql
            )
            if outcome.error is not None:
                raise CaseInvalid(
                    f"{case.id}: the migration fails on PostgreSQL at {outcome.statement!r}: "
                    f"{describe(outcome.error)}"
                )
            after = schema_signature(cluster, database, inspector)
        errors: dict[str, list[str]] = {}
        for version, clients in live.items():
            same = clients.run(case.queries(version))
            errors[version] = [f"same connection: {e}" for e in same]
        fresh = _open_all(loop, direct, database, case)
        try:
            for version, clients in fresh.items():
                errors[version] += [
                    f"fresh connection: {e}" for e in clients.run(case.queries(version))
                ]
        finally:
            _close_all(fresh.values())
        errors = {v: e for v, e in errors.items() if e}
        return ExperimentResult(frozenset(errors), errors, before, after)
    finally:
        _close_all(live.values())
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

    def explain(self) -> str:
        if self.error is None:
            return f"proxy allowed the migration (versions learned: {self.learned})"
        diag = self.error.diag
        return (
            f"proxy answered {self.error.sqlstate} at {self.statement!r}: "
            f"{diag.message_primary}\n  DETAIL: {diag.message_detail}\n"
            f"  HINT: {diag.message_hint}\n  named: {sorted(self.named)}"
            f" (versions learned: {self.learned})"
        )


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


def proxy_verdict(
    cluster: LocalCluster,
    proxy: ProxyProcess,
    case: Case,
    database: str | None = None,
    drop: Drop = drop_database,
) -> ProxyVerdict:
    """Replay the case's traffic through the proxy, then send the migration through it.

    ``database`` is a fresh database already holding ``case.schema_sql`` (one is
    created when None); it is dropped at the end either way.
    """
    database = database or create_database(cluster, case, "gt_pxy")
    endpoint = Endpoint("127.0.0.1", proxy.port)
    loop = asyncio.new_event_loop()
    live: dict[str, VersionClients] = {}
    try:
        live = _open_all(loop, endpoint, database, case)
        for version, clients in live.items():
            failures = clients.run(case.queries(version))
            if failures:
                raise AssertionError(
                    f"{case.id}: {version} fails through the proxy before the migration "
                    f"(it works directly): {failures}"
                )
        learned = wait_learned(proxy, database, list(case.versions))
        outcome = apply_migration(endpoint.url(database), case.migration_sql)
        error = outcome.error
        blocked = error is not None and error.sqlstate == BLOCKED_SQLSTATE
        detail = (error.diag.message_detail or "") if error is not None else ""
        named = named_versions(detail, case.versions) if blocked else frozenset()
        after = schema_signature(cluster, database) if error is None else None
        return ProxyVerdict(blocked, named, error, outcome.statement, learned, after)
    finally:
        _close_all(live.values())
        loop.close()
        drop(cluster, database)
