"""Ground truth by experiment: PostgreSQL decides whether a migration breaks a version.

For every case, the experiment runs each version's statements straight against
PostgreSQL on live connections, applies the migration, and re-runs them on the
same and on fresh connections (tests/support/groundtruth.py). The proxy then sees
the same traffic (the versions stay connected, so they are live and protected; a
case's lifecycle may stop some, retire some, and send earlier steps first)
and the same migration from an untagged client. It must block exactly the
migrations that broke a protected version, naming exactly those (``must_name``:
every broken version but the retired ones), and let every other migration
through unchanged. A false block is as much a bug as a
missed break.

The family runs on every PostgreSQL major available. Experiments run in a
small thread pool as soon as the module starts, each in its own database; the
proxy side runs at the same time, three cases at a time through one proxy, one
fresh database per case. The tests then compare the two outcomes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.groundtruth import (
    Case,
    CaseInvalid,
    Drop,
    ExperimentResult,
    ProxyVerdict,
    drop_database,
    drop_leftover_databases,
    drop_roles,
    ensure_roles,
    must_name,
    proxy_verdict,
    run_experiment,
)
from tests.support.groundtruth_cases import CASES
from tests.support.proxy import ProxyProcess

ROLES = set().union(*(case.roles for case in CASES))
IDS = [case.id for case in CASES]


def _mode_args() -> list[str]:
    """``--mode enforce`` when this build of ``skewguard run`` has the flag."""
    helptext = subprocess.run(
        [sys.executable, "-m", "skewguard", "run", "--help"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return ["--mode", "enforce"] if "--mode" in helptext else []


@dataclass(repr=False)
class Judge:
    """Experiments and proxy verdicts (three cases at a time each, in order, the
    verdicts through the one proxy) run in the background from the start; the
    tests compare their outcomes."""

    cluster: LocalCluster
    proxy: ProxyProcess
    experiments: dict[str, Future[ExperimentResult | CaseInvalid]]
    verdicts: dict[str, Future[ProxyVerdict]]

    def __repr__(self) -> str:
        return f"Judge(pg{self.cluster.install.major}, proxy :{self.proxy.port})"

    def experiment(self, case: Case) -> ExperimentResult:
        outcome = self.experiments[case.id].result(timeout=100)
        if isinstance(outcome, CaseInvalid):
            pytest.fail(f"invalid case: {outcome}")
        return outcome

    def verdict(self, case: Case) -> ProxyVerdict:
        return self.verdicts[case.id].result(timeout=100)


def _experiment(cluster: LocalCluster, case: Case, drop: Drop) -> ExperimentResult | CaseInvalid:
    try:
        return run_experiment(cluster, case, drop)
    except CaseInvalid as invalid:
        return invalid


def _selected(request: pytest.FixtureRequest) -> list[Case]:
    """The cases this run's tests of the module ask for, in the order they run: a case
    chosen alone (``-k``, a node id) waits for its own experiment, not for every case's."""
    wanted: dict[str, None] = {}
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        module = getattr(item, "module", None)
        if module is request.module and callspec is not None and "case" in callspec.params:
            wanted[callspec.params["case"].id] = None
    by_id = {case.id: case for case in CASES}
    return [by_id[case_id] for case_id in wanted]


@pytest.fixture(scope="module")
def judge(
    cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Judge]:
    cases = _selected(request)
    ensure_roles(cluster, ROLES)
    workdir = tmp_path_factory.mktemp("groundtruth")
    proxy = ProxyProcess(
        upstream=cluster.url(sslmode="disable"),
        # verdicts, not latency, are judged here: three cases at once beside another
        # module's load may take a decision past the default 5 s deadline
        extra_args=[*_mode_args(), "--decision-timeout", "30s"],
        state=workdir / "state.db",
        logfile=workdir / "proxy.log",
    ).start()
    experiments = ThreadPoolExecutor(max_workers=3, thread_name_prefix="gt-experiment")
    # each case has a database of its own: the proxy judges several at once, as it would
    # several databases' migrations (a case mostly waits for the learner's flush)
    verdicts = ThreadPoolExecutor(max_workers=3, thread_name_prefix="gt-proxy")
    # a case's databases are dropped behind it: DROP DATABASE ... WITH (FORCE) of a
    # database the proxy has side connections to sleeps 100 ms while they exit
    drops = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gt-drop")

    def drop(cluster: LocalCluster, database: str) -> object:
        return drops.submit(drop_database, cluster, database)

    judge = Judge(
        cluster,
        proxy,
        {case.id: experiments.submit(_experiment, cluster, case, drop) for case in cases},
        {
            case.id: verdicts.submit(proxy_verdict, cluster, proxy, case, None, drop)
            for case in cases
        },
    )
    try:
        yield judge
    finally:
        experiments.shutdown(wait=True, cancel_futures=True)
        verdicts.shutdown(wait=True, cancel_futures=True)
        drops.shutdown(wait=True)
        proxy.stop()
        leftovers = drop_leftover_databases(cluster)
        drop_roles(cluster, ROLES)
        assert not leftovers, f"databases left behind: {leftovers}"


def test_the_cases_are_well_formed() -> None:
    assert len(CASES) >= 40
    assert len(set(IDS)) == len(IDS)
    safe = [case for case in CASES if case.safe]
    assert 0.4 <= len(safe) / len(CASES) <= 0.6, "about half the cases must be safe"
    for case in CASES:
        versions = set(case.every_version)
        assert case.breaks <= versions, case.id
        assert set(case.users) <= versions, case.id
        assert all(case.versions.values()), case.id
        assert all(step.migration_sql or step.deploy for step in case.steps), case.id
        marked = [v for phase in case.phases for v in (*phase.offline, *phase.retired)]
        assert set(marked) <= versions, case.id
        assert case.id.startswith("safe-" if case.safe else "break-"), case.id
        assert case.safe or not case.expect_safe_for_linter, case.id


def test_an_app_a_case_retires_runs_in_no_other_case() -> None:
    """Retiring is global in the one proxy's state (``app@version``, every database):
    an app a case retires a version of must not run in any case judged beside it."""
    apps: dict[str, set[str]] = {}
    for case in CASES:
        for version in case.every_version:
            apps.setdefault(version.split("@", 1)[0], set()).add(case.id)
    for case in CASES:
        for version in case.every_retired:
            assert apps[version.split("@", 1)[0]] == {case.id}, (case.id, version)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_postgres_breaks_what_the_case_was_designed_to_break(judge: Judge, case: Case) -> None:
    """The experiment alone: checks the cases, never the proxy."""
    result = judge.experiment(case)
    assert result.broken == case.breaks, f"{case.note}\n{result.explain()}"
    assert result.before != result.after, "the migration must change the schema"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_proxy_agrees_with_postgres(judge: Judge, case: Case) -> None:
    """Blocked exactly when PostgreSQL broke something protected, naming exactly the
    protected versions it broke (:func:`must_name`: retired versions are not)."""
    truth = judge.experiment(case)
    verdict = judge.verdict(case)
    assert judge.proxy.alive, f"the proxy died: {judge.proxy.log_tail()}"
    story = f"{case.note}\n{truth.explain()}\n{verdict.explain()}"
    blocked, error = verdict.blocked, verdict.error
    if verdict.step is not None:
        pytest.fail(f"an earlier step that breaks nothing was refused:\n{story}")
    if error is not None and not blocked:
        pytest.fail(f"the migration failed through the proxy but not directly:\n{story}")
    if expected := must_name(case, truth.broken):
        assert blocked, f"missed break:\n{story}\n{verdict.proxy_side(judge.proxy)}"
        assert error is not None
        assert (error.diag.message_primary or "").startswith("skewguard:"), story
        named = set(verdict.named)
        why = verdict.proxy_side(judge.proxy) if named != set(expected) else ""
        assert named == set(expected), f"the block names the wrong versions:\n{story}\n{why}"
    else:
        assert not blocked, f"false block:\n{story}\n{verdict.proxy_side(judge.proxy)}"
        applied = verdict.after == truth.after
        assert applied, f"the allowed migration must be applied as is:\n{story}"
