"""Runs differential replays for the guard and turns their outcomes into findings.

Which samples: those of protected versions whose statement reaches what the
change touches (``ddl.affects``: the changed relations, or an unmodelled
statement's reach), in the classes ``--replay`` allows. Where: on the
migrating connection only (``MigratingConnection.exchange``), so a replay sees
the transaction's own changes and never waits on its locks. When: a baseline
pass before the first DDL of a transaction block is forwarded, and a pass
before the held COMMIT; an autocommit statement is tried in the proxy's own
transaction (pass, the statement, pass, ROLLBACK) before it is forwarded.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from skewguard.analysis import analyze
from skewguard.analysis.facets import Facet
from skewguard.analysis.query import split_qualified_name
from skewguard.catalog import CatalogSnapshot
from skewguard.ddl.affects import Affects, Usage, Use
from skewguard.ddl.bodies import body_names
from skewguard.ddl.changes import (
    AddColumn,
    AddConstraint,
    AlterColumnType,
    AlterSequence,
    AttachPartition,
    Change,
    ChangeDefault,
    CreateFunction,
    CreateIndex,
    CreateRule,
    DetachPartition,
    DropDefault,
    DropFunction,
    DropIndex,
    DropPolicy,
    EnableRowLevelSecurity,
    EnumDropValue,
    EnumRenameValue,
    ForceRowLevelSecurity,
    ReplaceFunction,
    ReplaceRelation,
    Revoke,
    SetIdentityAlways,
    SetNotNull,
)
from skewguard.ddl.errors import CannotModel
from skewguard.ddl.findings import Finding, Severity
from skewguard.footprint import Evidence, VersionKey
from skewguard.observe.metrics import ProxyMetrics
from skewguard.replay import (
    Outcome,
    Runs,
    Trial,
    broke,
    clean,
    masked,
    outcomes,
    plan,
    refused,
)
from skewguard.replay_roles import roles_query
from skewguard.replay_samples import ReplayMode, Sample, SampleBook, ShapeKey, statement_class
from skewguard.samples import sample_shape
from skewguard.sql_start import first_word
from skewguard.wire.replies import QueryResult

RULE = "replay"
#: Per-statement limits of a replay (each is also bounded by the budget).
STATEMENT_TIMEOUT_MS = 1000
MIN_STATEMENT_TIMEOUT_MS = 20
#: The read of the code a version's role could leave its role with (replay_roles): 0.2 s
#: for 5,000 tables with three defaults each and 2,000 functions; past it, no other
#: role's statements are replayed.
ROLES_TIMEOUT_MS = 5000
#: Which rule findings a clean replay may overturn: value-dependent writes only (an
#: upsert's arbiter may hang on the literals of its WHERE).
OVERTURNABLE = frozenset({"SG110", "SG111", "SG114", "SG115"})
#: Findings a clean replay of the version's calls may overturn: a dropped overload; a
#: function redefined with another result (what the caller does with it tells; a
#: statement kept prepared is found by its prepared_result facet, not overturned).
OVERTURNABLE_CALLS = frozenset({"SG103", "SG123"})
_SLACK = 0.5
#: Without a baseline pass (one that could not run before the DDL was forwarded), the
#: failures that are evidence: those a new constraint, type, trigger or rule causes
#: whatever rows the statement meets (not a key that now exists, a temporary table...).
WITHOUT_BASELINE = frozenset({"23502", "23514", "22001", "22003", "P0001", "0A000"})
#: Failures of a baseline run that say the statement's objects are gone or changed (the
#: version ran it without error, so an earlier statement of the block did it).
MID_BLOCK = frozenset({"42P01", "42703", "42883", "42809", "42804", "42725", "0A000"})
#: lock_timeout's SQLSTATE: a trial's DDL waited on a lock another session holds.
LOCK_NOT_AVAILABLE = "55P03"


class OwnQueryTimeout(Exception):
    """The proxy's own messages on the migrating connection got no answer in time.

    Their replies could still come at any moment and be taken for the client's,
    so the relay has closed that connection to the server (PostgreSQL rolls the
    transaction back); nothing more can be asked there.
    """


class MigratingConnection(Protocol):
    """The requesting client's own backend, inside its transaction (the relay's session).

    Both queries raise OwnQueryTimeout when PostgreSQL does not answer in time.
    """

    @property
    def own_status(self) -> str:
        """The transaction status PostgreSQL last reported (I, T or E)."""
        ...

    @property
    def keeps_unnamed(self) -> bool:
        """Whether the client's unnamed statement and portal must outlive the proxy's
        messages (``plan(named=...)``)."""
        ...

    async def exchange(
        self, wire: bytes, replies: int, *, timeout: float
    ) -> list[QueryResult] | None:
        """The results of the proxy's own messages run there unseen; None: they cannot
        run now."""
        ...

    async def query_in_transaction(
        self,
        sql: str,
        *,
        statement_timeout_ms: int,
        lock_timeout_ms: int,
        setup: Sequence[str] = (),
    ) -> list[tuple[str | None, ...]] | None:
        """Rows (text values) of ``sql`` run there unseen by the client, after the ``SET
        LOCAL`` statements of ``setup`` (a ``SET LOCAL ROLE`` is checked by PostgreSQL as
        the client's would be); None: no answer (an error, or it cannot run now)."""
        ...


class ReplayTimeout(Exception):
    """The replay could not finish within its budget."""


@dataclass(frozen=True)
class Ran:
    """A replay's outcomes per pass, and the trial DDL statement PostgreSQL refused (the
    change did not apply: the after pass tells nothing)."""

    passes: list[list[Runs]]
    refused: Outcome | None = None
    kept: frozenset[str] = frozenset()  # statements left prepared (replay.plan's keep)


@dataclass
class Verdict:
    """What replay found: breaks per version, and which versions replayed clean."""

    findings: list[Finding] = field(default_factory=list)
    clean: dict[VersionKey, set[str]] = field(default_factory=dict)  # version -> shapes ok
    broken: set[VersionKey] = field(default_factory=set)
    refused: str | None = None  # the trial DDL's failure as shown (SQLSTATE, masked message)

    def covers(self, version: VersionKey, facets: Iterable[tuple[Facet, Evidence]]) -> bool:
        """Every statement shape that is evidence for ``facets`` replayed clean."""
        shapes = self.clean.get(version)
        if not shapes or version in self.broken:
            return False
        # evidence is a shape already, or (--keep-literals) the statement as sent
        return all(ev.sample in shapes or sample_shape(ev.sample) in shapes for _, ev in facets)


#: Changes whose effect depends on the values a version sends: replay judges them. The
#: others (drops, renames...) break by name alone, and the rules judge them.
VALUE_KINDS: tuple[type[Change], ...] = (
    AddColumn,  # NOT NULL, UNIQUE, CHECK, a default that fails
    AlterColumnType,
    SetNotNull,
    DropDefault,
    ChangeDefault,  # the new default may be refused by a CHECK, domain or key
    AddConstraint,
    CreateIndex,  # unique, or on an expression that may fail
    CreateRule,
    EnableRowLevelSecurity,
    ForceRowLevelSecurity,
    DropPolicy,
    DetachPartition,  # rows for its bounds have no partition left
    AttachPartition,  # rows leave the default partition; an attached table gets bounds
    DropFunction,  # another overload may take a call, by the argument types sent
    EnumRenameValue,  # a label bound as a parameter is no longer accepted
    EnumDropValue,
    SetIdentityAlways,  # a writer through a view, or learned before value_supplied facets
    AlterSequence,  # an insert meets a number used again (beyond the probe's reach)
)


def not_applied(failure: Outcome, known: str, *, show_values: bool) -> str:
    """Why a trial could not apply the change (``Verdict.refused``): PostgreSQL's
    refusal, the values in its message hidden unless ``show_values``."""
    text = failure.message if show_values else masked(failure.message, known)
    why = "the migration fails in the scratch transaction (rolled back) where the versions' "
    why += "statements are replayed"
    if failure.sqlstate == LOCK_NOT_AVAILABLE:
        why += ": it could not take its locks in time (another session holds one)"
    return f"{why}: {failure.sqlstate} {text}"


def _failed_mid_block(baseline: Runs) -> bool:
    """Whether a baseline run failed on what an earlier statement of the block changed."""
    return bool(baseline) and baseline[0].ok is False and baseline[0].sqlstate in MID_BLOCK


def value_changes(changes: Sequence[Change]) -> list[Change]:
    """The changes replay judges; also a partial unique index dropped: whether an upsert's
    ``ON CONFLICT (...) WHERE`` still finds an arbiter depends on literals only its samples
    hold; and a revoked privilege: whether a version's role still holds it (its own
    grant, PUBLIC's, another role it is a member of, superuser) PostgreSQL knows best."""
    return [
        c
        for c in changes
        if isinstance(c, VALUE_KINDS)
        or (isinstance(c, DropIndex) and c.unique and c.predicate)
        or isinstance(c, Revoke)
    ]


_QUOTED = re.compile(r'"((?:[^"]|"")+)"')


def blamed(changes: Sequence[Change], failure: Outcome, fallback: Change) -> Change:
    """The change a replayed failure names: PostgreSQL quotes the column, relation or
    constraint it failed on (``column "contact" does not exist``), so a transaction
    that adds one column and drops another is blamed on the drop its readers fail
    on, not on whichever change came first. A data exception (class 22: a value too
    long, out of range) names nothing: a type change is blamed. ``fallback`` when
    nothing points at one change."""
    quoted = {q.replace('""', '"') for q in _QUOTED.findall(failure.message)}

    def last(name: str) -> str:
        parts = split_qualified_name(name.split("(", 1)[0])
        return parts[-1] if parts else name

    for names in ((lambda c: (c.subject,)), Change.names):
        for change in changes:
            if any(last(n) in quoted for n in names(change)):
                return change
    if failure.sqlstate.startswith("22"):
        return next((c for c in changes if isinstance(c, AlterColumnType)), fallback)
    return fallback


def replaced_overloads(changes: Sequence[Change], catalog: CatalogSnapshot) -> frozenset[str]:
    """Overloads dropped while another of the same name is left (in ``catalog``) or
    created: whether a call still resolves depends on the types its arguments are sent
    with (an untyped ``$1`` from node-postgres or psycopg's ``str`` reaches ``f(text)`` in
    place of ``f(int)``; an int bound as ``int2``, or a statement prepared against
    ``f(int)``, does not)."""
    dropped = {c.subject for c in changes if isinstance(c, DropFunction) and not c.moved_to}
    names = {c.subject.split("(", 1)[0] for c in changes if isinstance(c, CreateFunction)}
    for signature in dropped:
        parts = split_qualified_name(signature.split("(", 1)[0])
        others = catalog.functions_named(*parts) if len(parts) == 2 else ()
        if any(fn.signature not in dropped for fn in others):
            names.add(signature.split("(", 1)[0])
    return frozenset(s for s in dropped if s.split("(", 1)[0] in names)


def _enum_type(change: EnumRenameValue | EnumDropValue) -> str:
    label = change.old_label if isinstance(change, EnumRenameValue) else change.label
    return change.subject[: -len(label) - 1]


def _siblings(parents: set[str], catalog: CatalogSnapshot) -> frozenset[str]:
    """The partitions of ``parents``: a new partition narrows the default among them,
    which versions may write directly."""
    if not parents:
        return frozenset()
    return frozenset(r.qname for r in catalog.relations if r.partition and parents & set(r.parents))


def _existing(qname: str, catalog: CatalogSnapshot) -> bool:
    parts = split_qualified_name(qname)
    return len(parts) == 2 and catalog.relation(parts[0], parts[1]) is not None


def change_affects(
    changes: Sequence[Change], unmodelled: Sequence[CannotModel], catalog: CatalogSnapshot
) -> Affects | None:
    """What the net change can affect through values: the relations of its
    value-dependent changes (and the table a foreign key references, whose deletes it
    may refuse; for an enum's label, the relations with a column of the enum or an
    array of it; a table that becomes a view that is not simple), the overloads it
    replaces, the functions whose result or OUT/TABLE columns change (what a caller does
    with them tells) or whose body reads a column whose type changes, and the reach of
    what the overlay could not model."""
    judged = value_changes(changes)
    relations = frozenset(c.relation for c in judged if c.relation)
    relations |= {c.ref_table for c in judged if isinstance(c, AddConstraint) and c.ref_table}
    attached = {c for c in judged if isinstance(c, AttachPartition)}
    relations |= _siblings({c.relation for c in attached}, catalog)
    # a table attached takes the partition's bounds as a constraint its writers may fail
    relations |= {c.subject for c in attached if _existing(c.subject, catalog)}
    # a view that is not simple may refuse what its reads do (FOR UPDATE/SHARE under
    # DISTINCT, GROUP BY, aggregates, UNION): which it refuses PostgreSQL tells
    relations |= {c.subject for c in changes if isinstance(c, ReplaceRelation) and not c.updatable}
    enums = {_enum_type(c) for c in judged if isinstance(c, EnumRenameValue | EnumDropValue)}
    if enums:
        typed = enums | {e + "[]" for e in enums}
        relations |= {
            r.qname for r in catalog.relations if any(c.base_type in typed for c in r.columns)
        }
    functions = replaced_overloads(changes, catalog) | {
        c.subject
        for c in changes
        if isinstance(c, ReplaceFunction) and c.old_result != c.new_result
    }
    functions |= _bodies_reading(judged, catalog)
    schemas = frozenset(c.subject for c in judged if isinstance(c, Revoke) and not c.relation)
    affects: Affects | None = Affects(
        Use.ANY, "the changed relations", relations, functions, schemas=schemas
    )
    for exc in unmodelled:
        if exc.affects is None or affects is None:
            return None
        affects = affects.merge(exc.affects)
    return affects


def _bodies_reading(changes: Sequence[Change], catalog: CatalogSnapshot) -> frozenset[str]:
    """The routines whose source names a column whose type changes: a call plans the body
    again and meets the new type (an SQL function's result, a RETURN QUERY, a comparison
    with a parameter), which the calls' own values tell."""
    retyped = [c for c in changes if isinstance(c, AlterColumnType)]
    if not retyped:
        return frozenset()
    return frozenset(
        fn.signature
        for fn in catalog.functions
        if fn.body
        and any(body_names(fn, c.relation, split_qualified_name(c.subject)[-1]) for c in retyped)
    )


class Replayer:
    """Chooses the trials of a decision and runs them on the migrating connection."""

    def __init__(
        self, book: SampleBook, mode: ReplayMode, metrics: ProxyMetrics, *, keep_literals: bool
    ) -> None:
        self.book = book
        self.mode = mode
        self.metrics = metrics
        self.keep_literals = keep_literals
        self._usage: dict[ShapeKey, Usage] = {}

    def analysed(self, database: str) -> bool:
        """Whether every sampled shape of ``database`` is analysed (trials are then cheap)."""
        return all(key in self._usage for key in self.book.keys(database))

    def trials(
        self,
        sampled: Mapping[ShapeKey, list[Sample]],
        protected: Iterable[VersionKey] | None,
        affects: Affects | None,
        catalog: CatalogSnapshot,
    ) -> list[Trial]:
        """The samples of ``protected`` versions (None: all) that reach what the change
        affects. ``sampled``: the database's ``SampleBook.shapes``, taken on the event
        loop (sessions add to the book while this may run in a worker thread)."""
        if self.mode is ReplayMode.NONE:
            return []
        wanted = None if protected is None else {(v.app, v.version) for v in protected}
        shapes = {
            key: samples
            for key, samples in sampled.items()
            if wanted is None or (key.app, key.version) in wanted
        }
        deleting = self._deleting(shapes, catalog)
        out: list[Trial] = []
        for key, samples in shapes.items():
            kind = statement_class(samples[0].sql)
            if self.mode is not ReplayMode.ALL and kind != self.mode.value:
                continue  # (samples are never empty: a shape is made with its first)
            usage = self._usage_of(key, samples[0].sql, catalog)
            if usage.reached_by(affects):
                deleted = deleting.get(key.app_version, set())
                repeat = kind == "writes" and not usage.writes & deleted
                chained = kind == "writes" and bool(deleted)
                out += [Trial(key, s, repeat=repeat, chained=chained) for s in samples]
        alone = [t for t in out if not t.chained]
        return alone + sorted((t for t in out if t.chained), key=lambda t: t.key.app_version)

    def _deleting(
        self, shapes: Mapping[ShapeKey, Sequence[Sample]], catalog: CatalogSnapshot
    ) -> dict[tuple[str, str], set[str]]:
        """Per version (app, version), the tables one of its sampled DELETEs writes."""
        out: dict[tuple[str, str], set[str]] = {}
        for key, samples in shapes.items():
            if first_word(samples[0].sql.encode()) == b"delete":
                usage = self._usage_of(key, samples[0].sql, catalog)
                out.setdefault(key.app_version, set()).update(usage.writes)
        return out

    def _usage_of(self, key: ShapeKey, sql: str, catalog: CatalogSnapshot) -> Usage:
        """What the shape's statement uses (the same for every sample of it)."""
        cached = self._usage.get(key)
        if cached is None:
            found = analyze(sql, search_path=key.search_path, catalog=catalog, user=key.user)
            cached = self._usage[key] = Usage.of(found.facets)
        return cached

    def sampled_shapes(self, database: str) -> dict[VersionKey, set[str]]:
        """Per version, the shapes a replay could run (those with samples)."""
        out: dict[VersionKey, set[str]] = {}
        for key, samples in self.book.shapes(database).items():
            kind = statement_class(samples[0].sql) if samples else None
            if kind is not None and self.mode in (ReplayMode.ALL, ReplayMode(kind)):
                version = VersionKey(key.database, key.app, key.version)
                out.setdefault(version, set()).add(key.shape)
        return out

    async def with_roles(
        self, conn: MigratingConnection, trials: list[Trial], user: str
    ) -> list[Trial]:
        """The trials that may run on the migrating connection (logged in as ``user``):
        a version that connected as another role runs as that role, where the session may
        SET ROLE to it and it can reach no code to leave it with (``replay_roles``); never
        as the migrating role, with privileges it lacks. The others are not replayed."""
        roles = {t.key.user for t in trials if t.key.user != user}
        if not roles:
            return trials
        rows = await conn.query_in_transaction(
            roles_query(roles, user),
            statement_timeout_ms=ROLES_TIMEOUT_MS,
            lock_timeout_ms=STATEMENT_TIMEOUT_MS,
        )
        allowed = {row[0] for row in rows or ()}
        return [
            t if t.key.user == user else replace(t, role=t.key.user)
            for t in trials
            if t.key.user == user or t.key.user in allowed
        ]

    async def run(
        self,
        conn: MigratingConnection,
        trials: list[Trial],
        *,
        budget: float,
        ddl: Sequence[str] = (),
        keep: bool = False,
        prepared: frozenset[str] = frozenset(),
    ) -> Ran | None:
        """One pass (or, with ``ddl``, a trial: before, the DDL, after); None when it
        cannot run here. Raises ReplayTimeout when it does not finish within ``budget``.
        ``keep``/``prepared``: binary-bound statements kept across a block (replay.plan)."""
        if not trials:
            return Ran([[] for _ in range(2 if ddl else 1)])
        runs = sum(2 if t.repeat else 1 for t in trials) * (2 if ddl else 1)
        steps = runs + 1
        per = int(budget * 1000 / steps)
        per = max(MIN_STATEMENT_TIMEOUT_MS, min(STATEMENT_TIMEOUT_MS, per))
        made = plan(
            conn.own_status,
            trials,
            statement_timeout_ms=per,
            lock_timeout_ms=per,
            ddl=ddl,
            ddl_timeout_ms=int(budget * 1000),
            named=conn.keeps_unnamed,
            keep=keep,
            prepared=prepared,
        )
        if made is None:
            return None
        started = time.monotonic()
        try:
            results = await conn.exchange(made.wire, made.replies, timeout=budget + _SLACK)
        except OwnQueryTimeout as exc:
            self.metrics.replay_deadline.inc()
            raise ReplayTimeout(f"the replay did not finish within {budget:.1f} s; {exc}") from exc
        if results is None:
            return None
        self.metrics.replay_passes.inc()
        self.metrics.replay_statements.inc(runs)
        self.metrics.replay_seconds.observe(time.monotonic() - started)
        return Ran(outcomes(made, results), refused(made, results), made.kept)

    def verdict(
        self,
        trials: Sequence[Trial],
        before: Mapping[Trial, Runs],
        after: Sequence[Runs],
        *,
        change: Change,
        changes: Sequence[Change] = (),
        known: str,
        show_values: bool,
    ) -> Verdict:
        """Breaks (succeeded before, failed after) per version, and the clean shapes;
        each break is blamed on the change of ``changes`` its failure names, else
        ``change``."""
        found = Verdict()
        first: dict[VersionKey, tuple[Trial, Outcome]] = {}
        counts: dict[VersionKey, int] = {}
        for trial, now in zip(trials, after, strict=True):
            version = VersionKey(trial.key.database, trial.key.app, trial.key.version)
            then = before.get(trial)
            if then is not None and _failed_mid_block(then):
                # its first run succeeded when the version sent it: the block's earlier
                # statements took what it names; failing otherwise after the block is
                # the block's end state breaking it (failing alike is not evidence: a
                # temporary table of the version's session is missing here as well)
                then, now, seen = (Outcome(True),), now[:1], then[0]
                if now[0].ok is False and (now[0].sqlstate, now[0].message) == (
                    seen.sqlstate,
                    seen.message,
                ):
                    continue
            elif then is None:  # no baseline: its first run succeeded when the version
                # sent it; only a schema change's own failures count, not the rows it meets
                then, now = (Outcome(True),), now[:1]
                if now[0].ok is False and now[0].sqlstate not in WITHOUT_BASELINE:
                    continue
            failed = broke(then, now)
            if failed is not None:
                found.broken.add(version)
                first.setdefault(version, (trial, failed))
                counts[version] = counts.get(version, 0) + 1
            elif clean(now):
                found.clean.setdefault(version, set()).add(trial.key.shape)
        self.metrics.replay_breaks.inc(len(first))
        for version, (trial, failure) in sorted(first.items()):
            text = failure.message
            if not (show_values or self.keep_literals):
                text = masked(text, known + " " + trial.key.shape)
            as_whom = f" as {trial.role}" if trial.role else " as the migrating role"
            message = (
                f"{version.app}@{version.version}'s {trial.key.shape[:200]} succeeds before "
                f"the change and fails after it{as_whom} ({counts[version]} of its sampled "
                f"values): {failure.sqlstate} {text}"
            )
            now_ts = time.time()
            found.findings.append(
                Finding(
                    RULE,
                    "replayed-statement-fails",
                    Severity.BREAK,
                    blamed(changes, failure, change),
                    version,
                    None,
                    Evidence(counts[version], now_ts, now_ts, trial.key.shape),
                    message,
                    "PostgreSQL rejected this version's own statement, with values it "
                    "sends, after the change: make the change accept them (expand), ship "
                    "code that no longer sends them, then contract.",
                )
            )
        return found


__all__ = [
    "OVERTURNABLE",
    "OVERTURNABLE_CALLS",
    "RULE",
    "MigratingConnection",
    "OwnQueryTimeout",
    "Ran",
    "ReplayTimeout",
    "Replayer",
    "Verdict",
    "change_affects",
    "not_applied",
    "replaced_overloads",
]
