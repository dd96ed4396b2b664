"""The DDL guard: judges schema changes against protected versions' footprints.

The async shell around the pure engine (``ddl``), the protected set
(``registry``) and the policy (``policy``): it drains pending analysis so no
footprint is missed, reads a fresh catalog, runs the engine's bounded probes on
existing rows, decides, counts and audits. The relay and the admin API's
``/api/check`` both come through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import operator
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeAlias

import asyncpg

from skewguard.analysis.facets import Facet, FacetKind
from skewguard.audit_queue import AuditQueue, Entry
from skewguard.catalog import CatalogSnapshot, FuncKind
from skewguard.catalogs import CatalogCache
from skewguard.checking import (
    AppliedMigration,
    CheckReport,
    apply_in_sequence,
    trial_statements,
)
from skewguard.config import ConfigError, Settings
from skewguard.ddl import (
    CannotModel,
    DdlParseError,
    Overlay,
    SessionFacts,
    Severity,
)
from skewguard.ddl.affects import Affects, Usage, Use, touching
from skewguard.ddl.changes import Change, IndexChange, Unmodelled
from skewguard.ddl.findings import Finding
from skewguard.ddl.model import Model
from skewguard.ddl.screen import (
    Links,
    change_names,
    mentions,
    prepare,
    prepared,
    reach,
    used_names,
)
from skewguard.footprint import Evidence, VersionKey, at_rest
from skewguard.identity import Identity
from skewguard.learning import Learner
from skewguard.observe.metrics import ProxyMetrics
from skewguard.offload import INLINE_BELOW, LONG_TEXT, for_text, sized
from skewguard.peers import Peers
from skewguard.policy import (
    Action,
    Decision,
    Mode,
    Unjudgeable,
    decide,
    opaque_decision,
    overridden,
    override_in_comment,
    unjudged_decision,
    unparseable_decision,
)
from skewguard.protection import (
    Protection,
    protected_versions,
    reachable_footprints,
    retired_yet_live,
    settled_until,
)
from skewguard.replay import Runs, Trial, kept_name, trial_text
from skewguard.replay_samples import ReplayMode, SampleBook
from skewguard.replaying import (
    OVERTURNABLE,
    OVERTURNABLE_CALLS,
    MigratingConnection,
    Ran,
    Replayer,
    ReplayTimeout,
    Verdict,
    change_affects,
    not_applied,
    value_changes,
)
from skewguard.rules import RULES
from skewguard.rules.base import Probe
from skewguard.rules.engine import evaluate, probes_needed
from skewguard.samples import change_shape, sample_shape
from skewguard.scratch import scratch_connection
from skewguard.side_connection import SIDE_ERRORS, connect_side
from skewguard.side_probes import leaves_role, may_become, may_set_role, read_only, setup
from skewguard.sql_start import first_word
from skewguard.statements import called_procedure, runs_only_plain_sql
from skewguard.store import StateStore
from skewguard.store.base import Lifecycle, SharedFacets, StoredVersion, with_unwritten

log = logging.getLogger("skewguard.guard")

#: Unjudged reasons whose statement may reach anything, and so breaks nothing where
#: nothing is protected: a change the guard cannot model, a text too large to read.
_UNKNOWN_REACH = frozenset({"unmodelled", "too-large"})

#: How long a probe of existing rows may run before its answer counts as unknown.
PROBE_TIMEOUT_MS = 2000
#: Share of --decision-timeout that analysing not-yet-analysed queries may take.
ANALYSIS_SHARE = 0.5
#: Share of --decision-timeout the peers sharing the state get to write what they learned.
PEER_SHARE = 0.3

#: Share of --decision-timeout a replay pass may take, and what it leaves for the rest.
REPLAY_SHARE = 0.4
REPLAY_MARGIN = 0.3
MIN_REPLAY_BUDGET = 0.05
#: Seconds an unjudged answer may still spend reading who is protected past the deadline.
UNJUDGED_GRACE = 0.1
#: Facets a rule's overturnable break may rest on: writes, whose values replay ran (a
#: delete a new foreign key may refuse: on the rows the version's own writes left; an
#: upsert whose arbiter is a partial index: by the literals of its WHERE).
_OVERTURNABLE_FACETS = frozenset(
    {
        FacetKind.COLUMN_WRITE,
        FacetKind.INSERT_SHAPE,
        FacetKind.INSERT_POSITIONAL,
        FacetKind.ROW_DELETE,
        FacetKind.CONFLICT_COLUMNS,
    }
)

#: How long a probe may wait for a lock (a transaction's own migration may hold it).
PROBE_LOCK_TIMEOUT_MS = 500
#: How long a read of the state store serves decisions while the store reports no
#: change: other proxies' heartbeats age out with time, not with a write.
KEEP_STATE_READ = 1.0


class ProbeRoleUnknown(Exception):
    """A probe must run as the session's role, which only the migrating backend knows."""


class StateUnreadable(Exception):
    """The state store could not be read for a decision."""


class ReplayUnavailable(Exception):
    """``check --replay`` was asked of a proxy that samples nothing (--replay none)."""


class PassGranter(Protocol):
    """The database-side backstop's pass book (skewguard.backstop.PassBook)."""

    async def grant(self, database: str, backend_pid: int, query_text: str) -> None: ...


Footprints = dict[VersionKey, dict[Facet, Evidence]]
_Versions: TypeAlias = "tuple[list[StoredVersion], _StateRead]"


@dataclass(frozen=True, slots=True)
class _StateRead:
    """What the state store said for decisions, and its change mark just before."""

    mark: Hashable | None  # None: not to be kept
    at: float  # time.monotonic() of the read
    versions: tuple[StoredVersion, ...]
    lifecycle: Mapping[tuple[str, str], Lifecycle]
    elsewhere: Mapping[VersionKey, int]  # live through other proxies sharing the store


@dataclass(frozen=True, slots=True)
class _Protected:
    """The protected versions of every database, worked out from a store read and the
    live versions, and until when the clock leaves them so (``settled_until``)."""

    state: _StateRead
    live: frozenset[VersionKey]
    until: float
    protections: dict[VersionKey, Protection]


def _shared(read: Sequence[StoredVersion], last: _StateRead | None) -> tuple[StoredVersion, ...]:
    """``read`` with each version's facets shared read-only: the last read's own when
    their revision says they did not change, so what decisions work out from them (the
    rules' index, the screen's names) is kept; when only evidence changed, what was
    worked out from the facet set is kept. A store read costs only what changed."""
    before = {v.key: v for v in last.versions} if last is not None else {}
    for version in read:
        prev = before.get(version.key)
        shared = prev.facets if prev is not None else None
        if not isinstance(shared, SharedFacets) or not version.revision or prev is None:
            shared = None
        elif version.revision == prev.revision:
            version.facets = shared
            continue
        elif version.keys_revision != prev.keys_revision:
            shared = None
        if version.facets:
            version.facets = SharedFacets(version.facets, shared)
    return tuple(read)


def _names_of(facets: dict[Facet, Evidence]) -> frozenset[str]:
    """``used_names`` of one version's facets; kept with shared ones (same facet set)."""
    if not isinstance(facets, SharedFacets):
        return used_names((facets,))
    names: frozenset[str] | None = facets.derived.get("names")
    if names is None:
        names = facets.derived["names"] = used_names((facets,))
    return names


def _same_versions(stored: Sequence[StoredVersion], read: Sequence[StoredVersion]) -> bool:
    """``stored`` is the store's read as is (nothing learned but unwritten merged in)."""
    return len(stored) == len(read) and all(map(operator.is_, stored, read))


@dataclass(frozen=True)
class Gathered:
    """The protected versions and their footprints a decision judges on.

    ``partial``: the analysis of recent queries ran out of its share of the
    deadline; texts observed but not analysed yet are still queued (a decision
    may go on when none of them names what the change touches). ``unanalysed``:
    those texts as the footprints were read: the learner may analyse them a
    moment later, out of its queues, yet they are still missing from these
    footprints.
    """

    protections: dict[VersionKey, Protection]
    footprints: Footprints
    partial: bool = False
    unanalysed: tuple[str, ...] = ()


#: Gathered footprints, or why they cannot be had.
GatherResult: TypeAlias = "Gathered | Unjudgeable"


@dataclass(frozen=True)
class Screened:
    """The screen's answer: a decision when it could decide, and what it read either
    way (the full way judges on it rather than analysing recent queries again)."""

    decision: Decision | None = None
    gathered: GatherResult | None = None


@dataclass(frozen=True)
class Speculation:
    """A statement's replay started on the snapshot at hand while the catalog is
    refreshed: the texts it tried, and the trials it picked with their outcome."""

    texts: tuple[str, ...]
    run: asyncio.Task[tuple[list[Trial], Ran | None]]

    async def settled(self) -> None:
        """Wait for it to finish (its replies are the proxy's own: nothing of the
        client's may follow them before); its failure is the replay's to report."""
        with contextlib.suppress(Exception):
            await asyncio.shield(self.run)


@dataclass
class PendingChange:
    """The schema change a transaction (or one statement) has made so far.

    ``unmodelled``: statements the overlay could not model but whose reach is
    known; they are judged by who uses what they affect.
    """

    overlay: Overlay
    before: CatalogSnapshot
    texts: list[str] = field(default_factory=list)
    unmodelled: list[CannotModel] = field(default_factory=list)
    #: The footprints read with the catalog (``Guard.begin(prefetch=True)``): for a
    #: change judged at once, outside a transaction block; judged later, read again.
    prefetched: asyncio.Future[GatherResult] | None = field(default=None, repr=False)

    def drop_prefetch(self) -> None:
        if self.prefetched is not None:
            self.prefetched.cancel()
            self.prefetched = None

    #: the replay of a change judged at once, started before the catalog was current
    speculation: Speculation | None = field(default=None, repr=False)
    #: replayed samples' outcomes before the first DDL that reached them was forwarded
    baseline: dict[Trial, Runs] = field(default_factory=dict)
    kept: frozenset[str] = frozenset()  # binary-bound samples prepared before the change

    def apply(self, sql: str, node: Any = None) -> list[CannotModel]:
        """The statements of ``sql`` with a known reach the overlay could not model.

        ``node``: the one statement of ``sql`` already parsed (not parsed again).
        Raises DdlParseError for text the parser cannot read, CannotModel for a
        statement whose reach is unknown."""
        found: list[CannotModel] = []
        if node is not None:
            self.overlay.apply_statement(node, on_unmodelled=found.append)
        else:
            self.overlay.apply(sql, on_unmodelled=found.append)
        self.texts.append(sql)
        self.unmodelled.extend(found)
        return found


def _severities(settings: Settings) -> dict[str, Severity]:
    known = {name for rule in RULES for name in (rule.id, rule.name)}
    unknown = sorted({rule for rule, _ in settings.rule_severity} - known)
    if unknown:
        raise ConfigError(f"--rule-severity names unknown rules: {', '.join(unknown)}")
    return {rule: Severity(level) for rule, level in settings.rule_severity}


@dataclass(frozen=True)
class Requester:
    """Who sent the DDL (audited, and checked for override rights)."""

    database: str
    user: str
    identity: Identity
    peer: str
    search_path: tuple[str, ...]
    session_override: str | None = None  # SET skewguard.allow = '…'
    comment_override: str | None = None  # /* skewguard:allow reason="…" */ in the statement
    lock_timeout_set: bool = False
    backend_pid: int | None = None  # the client's backend (for the backstop's passes)
    search_path_known: bool = True  # False after a search_path change the proxy cannot read
    # ... made by statements PostgreSQL has already run (not by the held text itself):
    # the migrating backend can then be asked for the path in effect
    search_path_askable: bool = False
    #: the session's temporary relations before the held text (skewguard.temporary)
    temporary: frozenset[str] = frozenset()
    #: current_user as PostgreSQL said at session start, when not ``user`` (a role default,
    #: ``-c role=...``); None: ``user``
    role: str | None = None
    #: a text may have moved current_user since (SET ROLE, SET SESSION AUTHORIZATION,
    #: set_config, RESET ALL...): only the migrating backend knows whom the DDL runs as
    role_moved: bool = False
    #: Where probes see what the transaction sees without waiting on its locks (None:
    #: not a relayed session, or not at a point where the proxy may query it).
    own_connection: MigratingConnection | None = field(default=None, compare=False, repr=False)
    decide_by: float | None = None  # time.monotonic() by which the decision must be taken


class Guard:
    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        catalogs: CatalogCache,
        learner: Learner | None,
        metrics: ProxyMetrics,
        live: Iterable[VersionKey] | None = None,
    ) -> None:
        self._severities = _severities(settings)
        self._settings = settings
        self._max_facets = settings.max_version_facets
        self._store = store
        self._catalogs = catalogs
        self._learner = learner
        self._metrics = metrics
        for rule in RULES:  # present at 0, so the first block/warn is an increase() alerts see
            for outcome in (Action.BLOCK, Action.WARN):
                metrics.ddl_decisions.labels(outcome.value, rule.id)
        self._live = live
        self.passes: PassGranter | None = None  # the database-side backstop, when installed
        self.peers: Peers | None = None  # proxies (or workers) sharing the state store
        self._audits = AuditQueue(store, metrics)
        self._state_read: _StateRead | None = None  # the last read, kept while unchanged
        self._protected: _Protected | None = None  # the last protected set, and for what
        self._revived: frozenset[VersionKey] = frozenset()  # retired, yet live: warned of
        # id(facets) -> (facets, at_rest(facets)) of the last decision's versions at rest
        self._rested: dict[int, tuple[dict[Facet, Evidence], dict[Facet, Evidence]]] = {}
        self._used: tuple[tuple[dict[Facet, Evidence], ...], frozenset[str]] = ((), frozenset())
        self._links: dict[str, Links] = {}  # per database: what the screen let through
        mode = ReplayMode(settings.replay)
        #: What protected versions really send, for replay (None: --replay none).
        self.samples: SampleBook | None = None
        self._replayer: Replayer | None = None
        if mode is not ReplayMode.NONE:
            self.samples = SampleBook(
                max_shapes=settings.replay_max_shapes, max_bytes=settings.replay_max_bytes
            )
            self._replayer = Replayer(
                self.samples, mode, metrics, keep_literals=settings.keep_literals
            )

    async def _state(self, *, facets: bool = True) -> _StateRead:
        """What the store says now: the kept read while the store reports no change
        (no worker-thread hop), else a new one. Raises StateUnreadable."""
        kept = self._state_read
        if (
            kept is not None
            and kept.mark is not None
            and time.monotonic() - kept.at < KEEP_STATE_READ
            and self._store.change_mark() == kept.mark
        ):
            return kept
        try:
            read = await asyncio.to_thread(self._read_state, facets)
        except Exception as exc:
            self._metrics.state_errors.inc()
            raise StateUnreadable(f"the state store cannot be read ({exc})") from exc
        if facets:
            self._state_read = read
        return read

    def _read_state(self, facets: bool) -> _StateRead:
        """One read of the store (in a worker thread); its mark is taken first, so a
        change made while reading shows as a new mark next time."""
        store = self._store
        mark = store.change_mark()
        at = time.monotonic()
        versions = _shared(store.versions(with_facets=facets), self._state_read)
        lifecycle = store.lifecycle()
        proxy_id = self._learner.proxy_id if self._learner is not None else ""
        try:
            elsewhere = store.live_elsewhere(proxy_id, self._settings.heartbeat_window)
        except Exception as exc:  # they stay protected as recent / rollback target
            self._metrics.state_errors.inc()
            log.warning("cannot read other proxies' live versions: %s", exc)
            return _StateRead(None, at, versions, lifecycle, {})
        return _StateRead(mark, at, versions, lifecycle, elsewhere)

    async def _versions(self, database: str | None, *, facets: bool = True) -> _Versions:
        """The store's versions plus what is learned but not yet written (a store that
        cannot be written must not make a version invisible), and the store's read.
        Read-only: a kept read shares them. Raises StateUnreadable."""
        # unwritten first: a batch leaves that list only once the store has it, so a
        # write landing during the store's read is in one or the other
        fresh = self._learner.unwritten_footprints(database) if self._learner else None
        state = await self._state(facets=facets)
        if not fresh:
            return list(state.versions), state
        merged = with_unwritten([replace(v) for v in state.versions], fresh, with_facets=True)
        return merged, state

    async def protections(self, database: str | None = None) -> dict[VersionKey, Protection]:
        """``database``'s protected versions and why; every database's when None (one
        pass, where a call per database would read every database's versions each)."""
        return self._protections(database, *await self._versions(database, facets=False))

    def _live_now(self, state: _StateRead) -> frozenset[VersionKey]:
        """The versions with an open connection through this proxy or a peer."""
        local = self._learner.live_keys() if self._learner is not None else self._live or ()
        return frozenset({*local, *state.elsewhere})

    def _reachable(
        self,
        stored: list[StoredVersion],
        protections: Mapping[VersionKey, Protection],
        state: _StateRead,
    ) -> Footprints:
        """The protected versions' footprints as a change can reach them (who is
        connected is not known to ``skewguard check`` on a state file: None)."""
        knows_live = self._learner is not None or self._live is not None
        live = self._live_now(state) if knows_live else None
        kept, self._rested = self._rested, {}

        def rest(facets: dict[Facet, Evidence]) -> dict[Facet, Evidence]:
            """The same filtered dict while the store read hands out the same facets, so
            ``_used_names`` keeps its names across decisions (a rollback target is
            at rest in nearly every deploy)."""
            pair = kept.get(id(facets))
            if pair is None or pair[0] is not facets:
                pair = (facets, at_rest(facets))
            self._rested[id(facets)] = pair
            return pair[1]

        return reachable_footprints(stored, protections, live, rest)

    def _protections(
        self, database: str | None, stored: list[StoredVersion], state: _StateRead
    ) -> dict[VersionKey, Protection]:
        """Which of ``stored`` (every database's versions) are protected, and why."""
        live = self._live_now(state)
        now = time.time()
        kept = self._protected
        if (
            kept is not None
            and kept.state is state
            and kept.live == live
            and now <= kept.until
            and _same_versions(stored, state.versions)
        ):
            everything = kept.protections  # its counts are what the gauges hold
        else:
            retain = self._settings.retain
            everything = protected_versions(stored, live, state.lifecycle, retain=retain, now=now)
            until = settled_until(stored, live, retain=retain, now=now)
            self._protected = _Protected(state, live, until, everything)
            counts: dict[str, int] = {}
            for protection in everything.values():
                counts[protection.value] = counts.get(protection.value, 0) + 1
            for protection in Protection:
                self._metrics.protected_versions.labels(protection.value).set(
                    counts.get(protection.value, 0)
                )
            self._warn_revived(retired_yet_live(live, state.lifecycle))
        if database is None:
            return dict(everything)
        return {k: v for k, v in everything.items() if k.database == database}

    def _warn_revived(self, revived: list[VersionKey]) -> None:
        """Log each retired version once while it stays connected; the gauge counts them."""
        self._metrics.retired_live_versions.set(len(revived))
        for key in revived:
            if key not in self._revived:
                log.warning(
                    "%s@%s is retired but connected to %s: it is not protected, so DDL may "
                    "break it. Unretire it (skewguard versions unpin %s@%s) if it runs again",
                    key.app, key.version, key.database or "(none)", key.app, key.version,
                )  # fmt: skip
        self._revived = frozenset(revived)

    def reconfigure(self, settings: Settings) -> None:
        """Take over reloaded settings (SIGHUP); ConfigError leaves the current ones."""
        self._severities = _severities(settings)
        self._settings = settings
        self._max_facets = settings.max_version_facets
        self._state_read = None  # the heartbeat window may have changed
        self._protected = None  # and the retention window

    async def begin(
        self,
        requester: Requester,
        *,
        prefetch: bool = False,
        gathered: GatherResult | None = None,
    ) -> PendingChange | None:
        """Start tracking a change on the catalog as it is now; None when it cannot be read.

        "As it is now": the cache tests whether its snapshot is still current
        (one cheap query) and reads the catalog again only when it is not. The
        model of a new snapshot is built once, in a worker thread. ``prefetch``
        (a change judged at once): the footprints are read meanwhile, unless
        ``gathered`` (read a moment ago by the screen) is given.
        """
        prefetched: asyncio.Future[GatherResult] | None = None
        if prefetch and gathered is not None:
            prefetched = asyncio.get_running_loop().create_future()
            prefetched.set_result(gathered)
        elif prefetch:
            prefetched = asyncio.ensure_future(self._gather(requester))
            prefetched.add_done_callback(_retrieved)
        catalog, _ = await self._catalogs.get(
            requester.database, requester.user, newer_than=time.time()
        )
        if catalog is None:
            if prefetched is not None:
                prefetched.cancel()
            return None
        if not catalog.has_derived("model"):
            await sized(len(catalog.relations), functools.partial(_derive, catalog))
        overlay = Overlay(
            catalog,
            search_path=requester.search_path,
            user=requester.user,
            temporary=requester.temporary,
        )
        return PendingChange(overlay, catalog, prefetched=prefetched)

    def speculate(
        self, requester: Requester, texts: Sequence[str], node: Any, gathered: GatherResult | None
    ) -> Speculation | None:
        """Start replaying a change judged at once (outside a block) on the snapshot at
        hand, on the migrating connection, while ``begin`` makes the catalog current on
        the side connection: ``judge`` takes the outcome when the current catalog picks
        the same trials for the same texts, and replays anew otherwise. None when there
        is nothing to start (no replay, nothing protected, no snapshot, or a large one
        not modelled yet), or the texts are long (modelled here, on the event loop,
        they would hold every session; the decision models them in a worker thread).
        ``node``: the last text's statement, parsed."""
        if not self.replays(requester) or not isinstance(gathered, Gathered):
            return None
        if sum(map(len, texts)) > LONG_TEXT:
            return None
        snapshot = self._catalogs.cached(requester.database)
        if not gathered.protections or snapshot is None:
            return None
        if not snapshot.has_derived("model"):  # read for learning: modelled here if small
            if len(snapshot.relations) >= INLINE_BELOW:
                return None
            _derive(snapshot)
        overlay = Overlay(
            snapshot,
            search_path=requester.search_path,
            user=requester.user,
            temporary=requester.temporary,
        )
        pending = PendingChange(overlay, snapshot)
        try:
            for text in texts[:-1]:
                pending.apply(text)
            if pending.apply(texts[-1], node):
                return None  # an unmodelled reach: the current catalog decides
        except (CannotModel, DdlParseError):
            return None
        except Exception:  # only a head start: the decision itself meets (and says) it
            log.debug("no speculative replay", exc_info=True)
            return None
        run = asyncio.ensure_future(self._speculative(requester, pending, gathered.protections))
        run.add_done_callback(_retrieved)
        return Speculation(tuple(texts), run)

    async def _speculative(
        self,
        requester: Requester,
        pending: PendingChange,
        protections: Mapping[VersionKey, Protection],
    ) -> tuple[list[Trial], Ran | None]:
        assert self._replayer is not None and requester.own_connection is not None
        changes = pending.overlay.net_changes()
        trials = await self._trials(requester, pending, changes, protections)
        if not trials or any(isinstance(c, IndexChange) and c.concurrently for c in changes):
            return trials, None
        conn, budget = requester.own_connection, self._replay_budget(requester)
        return trials, await self._replayer.run(
            conn, trials, budget=budget, ddl=[trial_text(t) for t in pending.texts]
        )

    async def _speculated(
        self, pending: PendingChange, trials: list[Trial]
    ) -> tuple[bool, Ran | None]:
        """(True, its outcome) when the speculation tried these trials with these texts;
        (False, None) when the replay must run anew. Raises its ReplayTimeout when it
        is the one that counts."""
        speculation, pending.speculation = pending.speculation, None
        if speculation is None:
            return False, None
        try:
            tried, ran = await asyncio.shield(speculation.run)
        except ReplayTimeout:
            if speculation.texts == tuple(pending.texts):
                raise
            return False, None
        except Exception:  # replayed anew, which reports what is wrong
            return False, None
        if tried != trials or speculation.texts != tuple(pending.texts):
            self._metrics.replay_speculation.labels("redone").inc()
            return False, None
        self._metrics.replay_speculation.labels("taken").inc()
        return True, ran

    async def screen(self, requester: Requester, text: str, node: Any) -> Screened:
        """Allow a statement that provably reaches nothing a protected version uses,
        without reading the catalog (``ddl/screen.py``); without a decision, the full
        way judges it.
        """
        snapshot = self._catalogs.cached(requester.database)
        if snapshot is None or node is None:
            return Screened()
        if not prepared(snapshot):
            await sized(len(snapshot.relations), functools.partial(prepare, snapshot))
        links = self._links.get(requester.database, Links()).since(snapshot)
        reached = await for_text(len(text), functools.partial(reach, node, snapshot, links))
        found = await self._gather(requester)
        if isinstance(found, Unjudgeable):  # the full way answers it (and says why)
            return Screened(gathered=found)
        if found.partial:
            every = reached.every_name() if reached is not None else None
            if every is None or await self._mentioned(requester, found, every):
                return Screened(gathered=found)
        if found.footprints:
            if reached is None or not reached.clear_of(self._used_names(found.footprints)):
                return Screened(gathered=found)
            links.add(reached.passed)
            self._links[requester.database] = links
            note = "reaches nothing a protected version uses (screened, no catalog read)"
        else:
            note = "no protected version in this database"
        decision = Decision(Action.ALLOW, note=note)
        self._audit_later(requester, [text], decision)
        return Screened(decision)

    def _used_names(self, footprints: Footprints) -> frozenset[str]:
        """``used_names`` of ``footprints``, kept while the same facet sets are protected
        (a kept store read hands out the same ones; any merge makes new ones)."""
        facets = tuple(footprints.values())
        kept, names = self._used
        if len(kept) != len(facets) or any(a is not b for a, b in zip(kept, facets, strict=True)):
            names = frozenset().union(*map(_names_of, facets))
            self._used = (facets, names)
        return names

    def _audit_later(self, requester: Requester, texts: Sequence[str], decision: Decision) -> None:
        """Audit without waiting for the write (shutdown waits for it: ``settle``)."""
        self._audits.add(self._entry(requester, texts, decision, source="proxy"))

    async def _footprints(
        self,
        requester: Requester,
        texts: Sequence[str],
        gathered: asyncio.Future[GatherResult] | None = None,
        names: frozenset[str] | None = None,
    ) -> Gathered | Decision:
        """The protected versions and their footprints, with every query seen so far
        analysed (``gathered``: read already); the unjudged Decision when that cannot
        be had. When the analysis ran out of time, the queries not analysed yet
        count only if they name one of ``names`` (every name the change can touch;
        None: unknown, so they all count). Footprints read while the analysis was
        behind are read again when it has caught up since (``gathered`` was read
        beside the catalog read the learner may have been waiting for too).
        """
        found = await (gathered or self._gather(requester))
        if isinstance(found, Gathered) and found.partial and self._caught_up(requester):
            found = await self._gather(requester)  # no analysis left: read at once
        if isinstance(found, Unjudgeable):
            return await self.unjudged(requester, texts, found.reason, found.why)
        if found.partial:
            budget = self._settings.decision_timeout * ANALYSIS_SHARE
            if names is None or await self._mentioned(requester, found, names):
                why = (
                    f"the analysis of recent queries did not finish within {budget:.1f} s,"
                    " and some not analysed yet may use what this change touches"
                )
                return await self.unjudged(requester, texts, "deadline", why)
            log.info(
                "decided before the analysis of recent queries finished (%.1f s): none of"
                " those left names what the change touches",
                budget,
            )
        return found

    async def _mentioned(
        self, requester: Requester, found: Gathered, names: frozenset[str]
    ) -> bool:
        """Whether a query missing from ``found``'s footprints names one of ``names`` (as a
        word): one not analysed when they were read (analysed since, it is still missing
        from them), or not analysed yet. Searched in a worker thread when they are long."""
        if self._learner is None:
            return False
        texts = [*found.unanalysed, *self._learner.unanalysed(requester.database)]
        return await for_text(sum(map(len, texts)), functools.partial(mentions, texts, names))

    async def _gather(self, requester: Requester) -> GatherResult:
        """What ``_footprints`` judges on, or why it cannot: no side effects,
        so it may run ahead of the decision and be dropped."""
        complete = True
        if self._learner is not None:
            budget = self._settings.decision_timeout * ANALYSIS_SHARE
            own = self._learner.flush_for_decision(  # unwritten footprints count too
                requester.database, time.monotonic() + budget, write=False
            )
            if self.peers is not None:  # what the proxies sharing the state saw counts too
                asked = self.peers.ask(
                    requester.database,
                    within=self._settings.heartbeat_window,
                    budget=self._settings.decision_timeout * PEER_SHARE,
                )
                complete, _ = await asyncio.gather(own, asked)
            else:
                complete = await own
        # what is not analysed now is not in the footprints read next (the learner's
        # queues and its unwritten batches are read with no await in between)
        waiting = () if complete or self._learner is None else self._waiting_texts(requester)
        try:
            stored, state = await self._versions(requester.database)
        except StateUnreadable as exc:
            return Unjudgeable("state", str(exc))
        protections = self._protections(requester.database, stored, state)
        footprints = self._reachable(stored, protections, state)
        full = sorted(
            v.key for v in stored if v.key in protections and len(v.facets) >= self._max_facets
        )
        if full:
            names = ", ".join(f"{k.app}@{k.version}" for k in full)
            return Unjudgeable(
                "footprint",
                f"the footprint of {names} reached --max-version-facets ({self._max_facets} "
                "facets), so what else it uses is not known; retire it (skewguard versions "
                "retire) or raise the bound",
            )
        return Gathered(protections, footprints, partial=not complete, unanalysed=waiting)

    def _caught_up(self, requester: Requester) -> bool:
        """Whether the learner has analysed every text of ``requester``'s database."""
        return (
            self._learner is not None
            and next(iter(self._learner.unanalysed(requester.database)), None) is None
        )

    def _waiting_texts(self, requester: Requester) -> tuple[str, ...]:
        """The texts of ``requester``'s database the learner has not analysed yet."""
        assert self._learner is not None
        return tuple(dict.fromkeys(self._learner.unanalysed(requester.database)))

    async def judge_unmodelled(
        self, requester: Requester, texts: Sequence[str], unmodelled: Sequence[CannotModel]
    ) -> Decision | None:
        """Statements the overlay could not model, with a known reach: the unjudged
        Decision when a protected version uses what they affect, else None."""
        found = await self._footprints(requester, texts)
        if isinstance(found, Decision):
            return found
        judged_later = None
        if self.replays(requester):  # versions whose statements there are all sampled
            assert self._replayer is not None
            judged_later = Verdict(clean=self._replayer.sampled_shapes(requester.database))
        return await self._unmodelled_refusal(
            requester, texts, unmodelled, found.footprints, judged_later
        )

    async def _unmodelled_refusal(
        self,
        requester: Requester,
        texts: Sequence[str],
        unmodelled: Sequence[CannotModel],
        footprints: Footprints,
        verdict: Verdict | None = None,
    ) -> Decision | None:
        """The unjudged Decision when a protected version uses what an unmodelled statement
        affects, unless replay judged that version (its break is a finding; a version
        whose every statement there replayed clean is not affected)."""
        reasons: list[str] = []
        users: dict[VersionKey, str] = {}
        for exc in unmodelled:
            hits = touching(exc.affects, footprints)
            if verdict is not None and exc.affects is not None:
                hits = {
                    v: f
                    for v, f in hits.items()
                    if v not in verdict.broken
                    and not verdict.covers(v, _reaching(exc.affects, footprints[v]))
                }
            try:
                lost = await self._losing_database(exc)
            except StateUnreadable as unread:
                return await self.unjudged(requester, texts, "state", str(unread))
            if lost is not None:
                reasons.append(lost[0])
                for version in lost[1]:
                    users.setdefault(version, "it uses that database")
            if not hits:
                continue
            reach = exc.affects.describe() if exc.affects is not None else "every version"
            reasons.append(f"{exc.reason} (it can affect {reach})")
            for version, facet in hits.items():
                users.setdefault(version, str(facet) if facet else "its role")
        if not reasons:
            return None
        if verdict is not None:  # refused anyway: the versions replay saw break are named too
            for version in verdict.broken:
                users.setdefault(version, "its replayed statement fails after the change")
        named = [f"{v.app}@{v.version} ({evidence})" for v, evidence in sorted(users.items())]
        return await self.unjudged(requester, texts, "unmodelled", "; ".join(reasons), users=named)

    async def _losing_database(self, exc: CannotModel) -> tuple[str, list[VersionKey]] | None:
        """The reason and the versions, when ``exc`` takes databases that protected versions
        use (DROP DATABASE, its RENAME): those databases' own versions judge it, not the
        session's."""
        if exc.affects is None or not exc.affects.databases:
            return None
        lost: list[VersionKey] = []
        for database in sorted(exc.affects.databases):
            lost.extend(sorted(await self.protections(database)))
        if not lost:
            return None
        names = ", ".join(f"{v.app}@{v.version}" for v in lost)
        target = exc.affects.target
        return f"{exc.reason} would break {names}: they use {target}", lost

    async def judge(self, requester: Requester, pending: PendingChange, *, source: str) -> Decision:
        """Decide on the net change a transaction (or statement) would commit."""
        overlay, texts = pending.overlay, pending.texts
        changes = overlay.net_changes()
        prefetched, pending.prefetched = pending.prefetched, None
        names = change_names(changes, pending.unmodelled)
        found = await self._footprints(requester, texts, prefetched, names)
        if isinstance(found, Decision):
            return found
        protections, footprints = found.protections, found.footprints
        changes = overlay.net_changes()
        try:
            verdict = await self._replay(requester, pending, changes, protections)
        except ReplayTimeout as exc:
            return await self.unjudged(requester, texts, "deadline", str(exc))
        if verdict.refused is not None and source == "check":  # live: PostgreSQL answers
            return await self.unjudged(requester, texts, "replay", verdict.refused)
        refusal = await self._unmodelled_refusal(
            requester, texts, pending.unmodelled, footprints, verdict
        )
        if refusal is not None:
            return refusal
        after = await sized(len(pending.before.relations), lambda: overlay.catalog)
        try:
            probes = await self._probe(requester, probes_needed(changes, footprints, after))
        except ProbeRoleUnknown as exc:
            return await self.unjudged(requester, texts, "unmodelled", str(exc))
        findings = evaluate(
            changes,
            footprints,
            catalog_before=pending.before,
            catalog_after=after,
            probes=probes,
            severities=self._severities,
            session=SessionFacts(lock_timeout_set=requester.lock_timeout_set),
        )
        judged = _with_replay(findings, verdict, footprints)  # the rules' own come first
        pairs = zip(findings, judged, strict=False)
        self._metrics.replay_overturned.inc(sum(a.severity is not b.severity for a, b in pairs))
        findings = judged
        decision = decide(
            findings,
            changes,
            mode=Mode(self._settings.mode),
            protections=protections,
            override=self._override(requester),
            samples=requester.user in self._settings.override_roles,
            refused_override=self._refused_override(requester),
        )
        if pending.unmodelled:  # audited: no protected version uses what they affect
            untouched = "; ".join(
                f"{e.reason} ({e.affects.describe() if e.affects else 'unknown reach'})"
                for e in pending.unmodelled
            )
            decision = replace(
                decision,
                note=f"{decision.note}; unmodelled, used by no protected version: {untouched}",
            )
        await self._audit(requester, texts, decision, source=source)
        return decision

    async def judge_opaque(self, requester: Requester, text: str) -> Decision:
        """Code whose DDL the proxy cannot read (--opaque-ddl): a DO block, a CALL, a
        COPY ... PROGRAM, a function that may run DDL when called, a fast-path call."""
        what = _OPAQUE_WHAT.get(first_word(text.encode()) or b"", "a procedure call")
        if what == "a procedure call" and await self._plain_call(requester, text):
            return Decision(Action.ALLOW, note="a procedure that runs only plain statements")
        try:
            protections = await self.protections(requester.database)
        except StateUnreadable as exc:
            return await self.unjudged(requester, [text], "state", str(exc))
        if not protections:
            decision = Decision(Action.ALLOW, note=f"opaque DDL ({what}); no protected version")
        else:
            decision = opaque_decision(
                what, mode=Mode(self._settings.mode), policy=self._settings.opaque_ddl
            )
            reason = self._override(requester)
            if reason is not None:
                decision = overridden(decision, reason)
            self._metrics.unjudged.labels("opaque", decision.action.value).inc()
        await self._audit(requester, [text], decision, source="proxy")
        return decision

    async def _plain_call(self, requester: Requester, text: str) -> bool:
        """Whether ``text`` calls a procedure every overload of which runs only plain
        statements (read from a catalog checked to be current): such a CALL, the
        everyday traffic of a version, changes no schema and needs no judging."""
        names = called_procedure(text)
        if not names:
            return False
        try:
            catalog, _ = await self._catalogs.get(
                requester.database, requester.user, newer_than=time.time()
            )
        except Exception:  # an unreadable catalog leaves the call opaque
            log.debug("catalog unreadable for a CALL", exc_info=True)
            return False
        return catalog is not None and plain_procedure(catalog, names, requester.search_path)

    def _time_left(self, requester: Requester) -> float:
        """Seconds left of ``requester``'s decision (at least UNJUDGED_GRACE: a reply is
        owed even when the deadline has just passed)."""
        if requester.decide_by is None:
            return self._settings.decision_timeout
        return max(UNJUDGED_GRACE, requester.decide_by - time.monotonic())

    async def unjudged(
        self,
        requester: Requester,
        texts: Sequence[str],
        reason: str,
        why: str,
        *,
        users: Sequence[str] = (),
    ) -> Decision:
        """The guard cannot judge: the --on-guard-error policy answers, counted and audited.

        ``users`` names the protected versions known to use what an unmodelled
        statement affects; without them, an unmodelled statement (or one too large
        to read) is refused only where some version is protected (its reach is
        unknown: it may be any). The audit is written in the background: the store
        may be what failed.
        """
        if reason in _UNKNOWN_REACH and not users and requester.database:
            try:
                async with asyncio.timeout(self._time_left(requester)):
                    protections = await self.protections(requester.database)
            except StateUnreadable as exc:
                reason, why = "state", str(exc)
            except TimeoutError:  # a stalled store must not hold the answer past the deadline
                reason, why = "state", "the state store did not answer within the deadline"
            else:
                if not protections:  # nothing to protect: an unmodelled change breaks no one
                    note = f"{reason} ({why}); no protected version"
                    decision = Decision(Action.ALLOW, note=note)
                    await self._audit(requester, texts, decision, source="proxy")
                    return decision
        decision = unjudged_decision(
            reason,
            why,
            mode=Mode(self._settings.mode),
            on_error=self._settings.on_guard_error,
            users=users,
        )
        override = self._override(requester)
        if override is not None:
            decision = overridden(decision, override)
        self._metrics.unjudged.labels(reason, decision.action.value).inc()
        log.warning(
            "cannot judge DDL: %s", decision.note, extra={"sql": self._shown(texts[0][:200])}
        )
        self._audit_later(requester, texts, decision)
        return decision

    async def grant_pass(self, requester: Requester, sql: str) -> None:
        """Tell the database-side backstop this text was judged (no-op without one)."""
        if self.passes is None or requester.backend_pid is None:
            return
        try:
            await self.passes.grant(requester.database, requester.backend_pid, sql)
        except Exception as exc:  # the backstop then refuses the DDL itself: safe
            self._metrics.state_errors.inc()
            log.warning("could not grant the backstop pass: %s", exc)

    async def judge_unparseable(
        self, requester: Requester, texts: Sequence[str], *, source: str
    ) -> Decision:
        self._metrics.analysis_failures.labels("unparseable-ddl").inc()
        decision = unparseable_decision(self._settings.unparseable_ddl == "block")
        log.warning(
            "unparseable DDL: %s", decision.note, extra={"sql": self._shown(texts[0][:200])}
        )
        await self._audit(requester, texts, decision, source=source)
        return decision

    def replays(self, requester: Requester) -> bool:
        """Whether this decision can ask PostgreSQL by replaying samples."""
        return self._replayer is not None and requester.own_connection is not None

    async def _trials(
        self,
        requester: Requester,
        pending: PendingChange,
        changes: Sequence[Change],
        protected: Iterable[VersionKey] | None,
    ) -> list[Trial]:
        """The samples to replay: of ``protected`` versions (None: every sampled one),
        reaching what the change affects through values."""
        assert self._replayer is not None and requester.own_connection is not None
        affects = change_affects(changes, pending.unmodelled, pending.before)
        if affects is not None and affects.empty:
            return []
        replayer, database = self._replayer, requester.database
        sampled = replayer.book.shapes(database)  # here: sessions add to the book meanwhile
        if replayer.analysed(database):
            trials = replayer.trials(sampled, protected, affects, pending.before)
        else:  # statements not analysed yet: parsing is not for the event loop
            trials = await asyncio.to_thread(
                replayer.trials, sampled, protected, affects, pending.before
            )
        if not trials:
            return []
        conn = requester.own_connection
        return await self._replayer.with_roles(conn, trials, requester.user)

    async def baseline(self, requester: Requester, pending: PendingChange) -> None:
        """Before a DDL statement of a transaction block is forwarded: replay the samples
        it reaches that have no outcome yet (the database does not have the statement's
        change yet). Raises ReplayTimeout."""
        if not self.replays(requester):
            return
        assert self._replayer is not None and requester.own_connection is not None
        changes = pending.overlay.net_changes()
        # every sampled version: the protected set is read once, at the decision
        found = await self._trials(requester, pending, changes, None)
        trials = [t for t in found if t not in pending.baseline]
        ran = await self._replayer.run(
            requester.own_connection,
            trials,
            budget=self._replay_budget(requester),
            keep=True,
            prepared=pending.kept,
        )
        if ran:
            pending.baseline.update(zip(trials, ran.passes[0], strict=True))
            # a statement whose Parse failed here (an earlier statement of the block took
            # what it names) was never prepared: the pass at COMMIT prepares it anew
            unprepared = {
                kept_name(t.sample)
                for t, runs in zip(trials, ran.passes[0], strict=True)
                if t.sample.named and runs and runs[0].ok is False
            }
            pending.kept = ran.kept - unprepared

    def _replay_budget(self, requester: Requester) -> float:
        """A replay pass's time: its share of --decision-timeout, within what is left
        of the decision's (ReplayTimeout when too little is left to replay at all)."""
        budget = self._settings.decision_timeout * REPLAY_SHARE
        if requester.decide_by is not None:
            budget = min(budget, requester.decide_by - time.monotonic() - REPLAY_MARGIN)
        if budget < MIN_REPLAY_BUDGET:
            self._metrics.replay_deadline.inc()
            raise ReplayTimeout("no time was left to replay the versions' statements")
        return budget

    async def _replay(
        self,
        requester: Requester,
        pending: PendingChange,
        changes: Sequence[Change],
        protections: Mapping[VersionKey, Protection],
    ) -> Verdict:
        """The protected versions' samples that reach the change, after it (before the
        held COMMIT is forwarded) against their baseline; for a statement outside a
        block, tried in the proxy's own transaction: before, the statement, after."""
        if not self.replays(requester) or not protections:
            return Verdict()
        assert self._replayer is not None and requester.own_connection is not None
        conn = requester.own_connection
        if pending.speculation is not None:  # one exchange at a time on the connection
            await pending.speculation.settled()
        trials = await self._trials(requester, pending, changes, protections)
        if not trials:
            return Verdict()
        budget = self._replay_budget(requester)
        if conn.own_status == "I":
            if any(isinstance(c, IndexChange) and c.concurrently for c in changes):
                return Verdict()  # it cannot run in the proxy's trial transaction
            taken, ran = await self._speculated(pending, trials)
            if not taken:
                ran = await self._replayer.run(
                    conn, trials, budget=budget, ddl=[trial_text(t) for t in pending.texts]
                )
            if ran is None:
                return Verdict()
            if ran.refused is not None:  # the change did not apply: nothing to compare
                known = " ".join(pending.texts)
                why = not_applied(ran.refused, known, show_values=self._settings.keep_literals)
                return Verdict(refused=why)
            before: Mapping[Trial, Runs] = dict(zip(trials, ran.passes[0], strict=True))
            after = ran.passes[1]
        else:  # against the baseline (what has none: see replaying.WITHOUT_BASELINE)
            ran = await self._replayer.run(conn, trials, budget=budget, prepared=pending.kept)
            if ran is None:
                return Verdict()
            pending.kept = frozenset()  # closed at the end of that pass
            before, after = pending.baseline, ran.passes[0]
        judged = value_changes(changes)
        change = (
            judged[0] if judged else Unmodelled("; ".join(e.reason for e in pending.unmodelled))
        )
        return self._replayer.verdict(
            trials,
            before,
            after,
            change=change,
            changes=changes,
            known=" ".join(pending.texts),
            show_values=requester.user in self._settings.override_roles,
        )

    async def check(self, requester: Requester, sql: str, *, replay: bool = False) -> CheckReport:
        """Judge a migration ahead of time, statement by statement. Nothing is executed,
        except with ``replay``: then the protected versions' samples it reaches are
        replayed before and after it in a scratch transaction, always rolled back."""
        if replay and self._replayer is None:
            raise ReplayUnavailable("replay is off in this proxy (--replay none)")
        started = time.monotonic()
        pending = await self.begin(requester)
        if pending is None:
            raise ConnectionError(f"cannot read the catalog of database {requester.database}")
        requester = replace(requester, comment_override=override_in_comment(sql))
        applied = AppliedMigration()
        try:
            applied = apply_in_sequence(
                pending.overlay, sql, on_unmodelled=pending.unmodelled.append
            )
            trial = trial_statements(sql) if replay else []
        except DdlParseError:
            decision = await self.judge_unparseable(requester, [sql], source="check")
        except CannotModel as exc:
            decision = await self.unjudged(requester, [sql], "unmodelled", str(exc))
        else:
            if not replay:
                pending.texts.append(sql)
                decision = await self.judge(requester, pending, source="check")
            else:
                pending.texts.extend(trial)
                decision = await self._check_replayed(requester, pending, started)
        return CheckReport(decision, applied, requester.database)

    async def _check_replayed(
        self, requester: Requester, pending: PendingChange, started: float
    ) -> Decision:
        """``check`` judged with replay, on a scratch connection of its own in place of a
        migrating client's, within the decision's deadline."""
        decide_by = started + self._settings.decision_timeout
        upstream = self._catalogs.upstream
        async with scratch_connection(
            upstream,
            database=requester.database,
            user=requester.user,
            lock_timeout_ms=PROBE_LOCK_TIMEOUT_MS,
            statement_timeout_ms=PROBE_TIMEOUT_MS,
            connect_timeout=max(MIN_REPLAY_BUDGET, decide_by - time.monotonic()),
        ) as conn:
            requester = replace(requester, own_connection=conn, decide_by=decide_by)
            return await self.judge(requester, pending, source="check")

    def _shown(self, sql: str) -> str:
        """A statement as the audit and the log may show it: its shape (--keep-literals: as is)."""
        return sql if self._settings.keep_literals else sample_shape(sql)

    def _shown_change(self, change: dict[str, Any]) -> dict[str, Any]:
        """A change as the audit may show it: expressions as shapes (--keep-literals: as is)."""
        return change if self._settings.keep_literals else change_shape(change)

    def _shown_finding(self, finding: dict[str, Any]) -> dict[str, Any]:
        change = finding.get("change")
        if not isinstance(change, dict):
            return finding
        return {**finding, "change": self._shown_change(change)}

    def _refused_override(self, requester: Requester) -> str | None:
        """The role, when the requester asked for an override it may not use."""
        asked = requester.comment_override or requester.session_override
        if asked and requester.user not in self._settings.override_roles:
            return requester.user
        return None

    def _override(self, requester: Requester) -> str | None:
        reason = requester.comment_override
        if reason is None:
            reason = requester.session_override
        if reason is None:
            return None
        if requester.user not in self._settings.override_roles:
            log.warning(
                "override refused: role %s is not in --override-roles",
                requester.user,
                extra={"reason": reason},
            )
            return None
        return reason

    async def _probe(self, requester: Requester, probes: list[Probe]) -> dict[Probe, bool | None]:
        """Answers about existing rows and written values, None where the probe could
        not answer in time.

        On the migrating connection when the relay offers it: the probe then sees
        the transaction's own changes and never waits on its locks. Otherwise on
        a side connection, where inside a migrating transaction it waits on that
        transaction's lock and gives no answer (the finding stays a risk); there it
        runs as the session's role (PostgreSQL's answer at session start), or gives no
        answer (``side_probes``); after a text that may have moved that role, who
        runs the DDL is unknown there: ProbeRoleUnknown, the guard cannot judge. A
        probe for a version's role runs as that role where the migrating session may
        become it (PostgreSQL checks that on the migrating connection, the side
        connection asks), and gives no answer where its text could leave the role.
        """
        if not probes:
            return {}
        own = requester.own_connection
        if own is not None:
            return {
                probe: None
                if probe.role is not None and leaves_role(probe.sql)
                else _truth(
                    await own.query_in_transaction(
                        probe.sql,
                        statement_timeout_ms=PROBE_TIMEOUT_MS,
                        lock_timeout_ms=PROBE_LOCK_TIMEOUT_MS,
                        setup=setup(probe.role, None, every_row=probe.every_row),
                    )
                )
                for probe in probes
            }
        if requester.role_moved and any(probe.role is None for probe in probes):
            raise ProbeRoleUnknown(
                "the session changed its role and the probe cannot run on its connection"
                " (an unsynced batch): whom the statement runs as is not known"
            )
        results: dict[Probe, bool | None] = dict.fromkeys(probes)
        upstream = self._catalogs.upstream
        as_whom = requester.role or requester.user
        login = upstream.user or as_whom
        # as the migrating session's role, never the URL user's (side_probes)
        session_role = None if login == as_whom else as_whom
        path = requester.search_path if requester.search_path_known else None
        try:
            conn = await connect_side(
                upstream,
                database=requester.database,
                user=login,
                application_name="skewguard-probe",
                lock_timeout_ms=PROBE_LOCK_TIMEOUT_MS,
                statement_timeout_ms=PROBE_TIMEOUT_MS,
                connect_timeout=PROBE_TIMEOUT_MS / 1000,
            )
        except SIDE_ERRORS as exc:
            log.warning("cannot probe existing rows: %s", exc)
            return results
        try:
            allowed: dict[str, bool] = {}
            for probe in probes:
                role = session_role if probe.role is None else probe.role
                if role is not None and role not in allowed:
                    # a version's role only where the migrating session could become it
                    allowed[role] = await may_become(conn, role, login) and (
                        # PostgreSQL checks SET ROLE against the session (login) user
                        probe.role is None or await may_set_role(conn, role, requester.user)
                    )
                    if not allowed[role]:
                        log.info("probes cannot run as role %s: no answer", role)
                if role is not None and not allowed[role]:
                    # a role default made the session another role than its login
                    if probe.needs_role or (probe.role is None and requester.role):
                        raise ProbeRoleUnknown(
                            f"a probe must run as role {role}, which the side connection"
                            " may not use here (its answer depends on the role)"
                        )
                    continue
                try:
                    results[probe] = await read_only(
                        conn, probe.sql, role=role, search_path=path, every_row=probe.every_row
                    )
                except asyncpg.PostgresError as exc:
                    # neither the text nor the message: a probe may carry written values
                    log.info("probe gave no answer (SQLSTATE %s)", exc.sqlstate)
        except SIDE_ERRORS as exc:
            log.warning("probe connection failed: %s", exc)
        finally:
            with contextlib.suppress(*SIDE_ERRORS):
                await conn.close(timeout=1)
        return results

    async def settle(self, timeout: float) -> None:
        """Let audits written in the background finish (before the store closes)."""
        await self._audits.settle(timeout)

    async def _audit(
        self, requester: Requester, texts: Sequence[str], decision: Decision, *, source: str
    ) -> None:
        """Audit ``decision`` and wait until it is written (readers of the audit may follow)."""
        await self._audits.add(self._entry(requester, texts, decision, source=source), wait=True)

    def _entry(
        self, requester: Requester, texts: Sequence[str], decision: Decision, *, source: str
    ) -> Entry:
        """How to build the audit entry of ``decision``; counted and logged now."""
        # counted under the rules that make it a break (the alerts group by them)
        rules = sorted({f.rule for f in decision.breaking}) or ["none"]
        if source != "check":
            for rule in rules:
                self._metrics.ddl_decisions.labels(decision.action.value, rule).inc()
        level = logging.WARNING if decision.action is not Action.ALLOW else logging.INFO
        log.log(
            level,
            "DDL %s: %s",
            decision.action.value,
            decision.note,
            extra={"database": requester.database, "client": str(requester.identity)},
        )
        at, client, texts = time.time(), str(requester.identity), tuple(texts)

        def build() -> dict[str, Any]:  # in the audit's worker thread
            return {
                "at": at,
                "source": source,
                "decision": decision.action.value,
                "note": decision.note,
                "database": requester.database,
                "role": requester.user,
                "client": client,
                "peer": requester.peer,
                "statements": [self._shown(text) for text in texts],
                "changes": [self._shown_change(c.to_dict()) for c in decision.changes],
                "findings": [self._shown_finding(f.to_dict()) for f in decision.findings],
                "override_reason": decision.override,
                "error": list(decision.error) if decision.error else None,
            }

        return build


#: What an opaque text is, by its first word, for the refusal's message.
_OPAQUE_WHAT = {
    b"do": "a DO block",
    b"copy": "a shell command of COPY ... PROGRAM",
    b"create": "a function that may run DDL when it is called",
}


def plain_procedure(
    catalog: CatalogSnapshot, names: Sequence[str], search_path: Sequence[str]
) -> bool:
    """The procedure ``names`` resolves to (through ``search_path`` when unqualified) has
    overloads, all procedures whose bodies run only plain statements."""
    schemas = [names[0]] if len(names) == 2 else list(search_path) if len(names) == 1 else []
    for schema in schemas:
        overloads = catalog.functions_named(schema, names[-1])
        if overloads:
            return all(
                f.kind is FuncKind.PROCEDURE and f.body is not None and runs_only_plain_sql(*f.body)
                for f in overloads
            )
    return False


def _derive(catalog: CatalogSnapshot) -> None:
    """What decisions derive from a new snapshot (in a worker thread): the screen's
    index first, as the model takes the refresh's patch both are grown from."""
    prepare(catalog)
    Model.of(catalog)


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A prefetch nobody awaited (the change was refused first) must not log its error."""
    if not task.cancelled():
        task.exception()


def _reaching(affects: Affects, facets: Mapping[Facet, Evidence]) -> list[tuple[Facet, Evidence]]:
    """A version's facets that use what ``affects`` names in the affected way."""
    return [(f, ev) for f, ev in facets.items() if Usage.of((f,)).reached_by(affects)]


def _with_replay(
    findings: Sequence[Finding], verdict: Verdict, footprints: Footprints
) -> list[Finding]:
    """The rules' findings with replay's: a value-dependent break a version's sampled
    statements all survive is overturned (info); replay's own breaks are added."""
    out: list[Finding] = []
    for finding in findings:
        version = finding.version
        scope = _overturnable(finding) if finding.severity is Severity.BREAK else None
        if (
            scope is not None
            and version is not None
            and verdict.covers(version, _reaching(scope, footprints.get(version, {})))
        ):
            what = "call" if scope.functions else "write"
            finding = replace(
                finding,
                severity=Severity.INFO,
                message=f"{finding.message}; overturned by replay: every sampled {what} of "
                "this version succeeds after the change",
            )
        out.append(finding)
    return out + verdict.findings


def _overturnable(finding: Finding) -> Affects | None:
    """What a version's sampled statements must all reach, and survive, to overturn
    ``finding``: the writes of a value-dependent rule's table, or the calls of an overload
    the migration drops (SG103: another may take the call, depending on the argument
    types a driver sends); None: replay cannot overturn it."""
    facet, change = finding.facet, finding.change
    if facet is None:
        return None
    if finding.rule in OVERTURNABLE and facet.kind in _OVERTURNABLE_FACETS and change.relation:
        deleted = facet.kind is FacetKind.ROW_DELETE
        table = facet.subject if deleted else change.relation
        return Affects(Use.WRITES, table, frozenset({table}))
    if finding.rule in OVERTURNABLE_CALLS and facet.kind is FacetKind.FUNCTION:
        return Affects(Use.ANY, facet.subject, functions=frozenset({facet.subject}))
    return None


def _truth(rows: list[tuple[str | None, ...]] | None) -> bool | None:
    """A probe's one boolean (text 't'/'f'), None when it gave none."""
    if not rows or not rows[0] or rows[0][0] is None:
        return None
    return rows[0][0] == "t"
