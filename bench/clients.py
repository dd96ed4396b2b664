"""``python -m bench.clients``: client libraries' own test suites, directly and through skewguard.

A transparent proxy passes the client libraries' own suites as PostgreSQL does.
This runs each suite (at pinned versions, in a virtualenv of its own) against a
throwaway cluster directly, then through ``skewguard run`` in each mode, tagged
and untagged, and prints per target what passed, failed and was skipped and
which tests came out differently than directly. A difference is run again on
both sides (``--reruns``) so that a flaky test is told from a stable one.

Not part of ``make test``: the suites take minutes each. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

from bench import django_suite
from bench.targets import HOST, USER, FloorRelay, pick_install
from skewguard.pgcluster import LocalCluster
from tests.support.clusters import HBA, Certificates
from tests.support.proxy import ProxyProcess

ROOT = Path(__file__).resolve().parent.parent
#: The tag a tagged target's connections carry (application_name).
TAG = "clientsuite@1.0.0"
#: Test tooling the suites' own virtualenv gets, pinned.
TOOLING = ["pytest==9.2.0", "pytest-timeout==2.4.0", "pytest-asyncio==1.5.0", "anyio==4.16.0"]


@dataclass(frozen=True)
class Endpoint:
    """Where a suite's clients connect, and the database it owns for this run."""

    port: int
    database: str
    tagged: bool


@dataclass(frozen=True)
class Suite:
    """One client library: what to install, where its tests come from, how to aim them."""

    name: str
    version: str
    packages: Sequence[str]  # pip requirements of the suite's virtualenv
    sdist: str | None  # a PyPI sdist that ships the tests, or None (--psycopg-tests)
    env: Callable[[Endpoint], dict[str, str]]
    args: Callable[[Endpoint], list[str]]
    tests: Sequence[str] = ("tests",)  # what the runner is given (pytest: paths under home)
    extract: Sequence[str] = ("tests",)  # the sdist's directories and files the run needs
    setup_sql: str = ""  # run in each fresh database the suite gets
    runner: str = "pytest"  # or "django": its tests/runtests.py


def _libpq_env(endpoint: Endpoint) -> dict[str, str]:
    env = {"PGHOST": HOST, "PGPORT": str(endpoint.port), "PGUSER": USER}
    env["PGDATABASE"] = endpoint.database
    if endpoint.tagged:
        env["PGAPPNAME"] = TAG
    return env


def _psycopg2_env(endpoint: Endpoint) -> dict[str, str]:
    return {
        **_libpq_env(endpoint),
        "PSYCOPG2_TESTDB": endpoint.database,
        "PSYCOPG2_TESTDB_HOST": HOST,
        "PSYCOPG2_TESTDB_PORT": str(endpoint.port),
        "PSYCOPG2_TESTDB_USER": USER,
        "PSYCOPG2_TEST_REPL_DSN": "",  # the replication tests too, on the same DSN
    }


def _asyncpg_env(endpoint: Endpoint) -> dict[str, str]:
    env = _libpq_env(endpoint)  # with PGHOST set, asyncpg's suite uses the running server
    if endpoint.tagged:
        env["SKEWGUARD_CLIENTS_TAG"] = TAG  # asyncpg ignores PGAPPNAME: the plugin tags it
    return env


def _sqlalchemy_args(driver: str) -> Callable[[Endpoint], list[str]]:
    """SQLAlchemy's ``--dburi`` with ``driver``; tagged by application_name (psycopg).

    asyncpg takes no application_name in the URL: the plugin tags its connections.
    """

    def args(endpoint: Endpoint) -> list[str]:
        tag = quote(TAG, safe="")  # the URL's own parser splits at an unquoted "@"
        query = f"?application_name={tag}" if endpoint.tagged and driver == "psycopg" else ""
        url = f"postgresql+{driver}://{USER}@{HOST}:{endpoint.port}/{endpoint.database}{query}"
        return ["--dburi", url, "--maxfail", "100000", "-p", "no:cacheprovider"]

    return args


def _django_env(endpoint: Endpoint) -> dict[str, str]:
    env = {
        "SKEWGUARD_DJANGO_HOST": HOST,
        "SKEWGUARD_DJANGO_PORT": str(endpoint.port),
        "SKEWGUARD_DJANGO_USER": USER,
        "SKEWGUARD_DJANGO_DATABASE": endpoint.database,
    }
    if endpoint.tagged:
        env["SKEWGUARD_DJANGO_TAG"] = TAG
    return env


#: SQLAlchemy's test files that run statements on PostgreSQL (the rest of test/sql
#: compiles SQL without a database; its test_types.py alone takes ~10 min here).
SQLALCHEMY_TESTS = tuple(
    [
        f"test/dialect/postgresql/test_{name}.py"
        for name in ("dialect", "query", "reflection", "on_conflict", "async_pg", "types")
    ]
    + [
        f"test/sql/test_{name}.py"
        for name in (
            "insert_exec", "resultset", "returning", "sequences", "defaults", "query",
            "identity_column", "constraints", "quote", "functions", "cte",
        )
    ]
)  # fmt: skip


def _sqlalchemy(
    driver: str, packages: list[str], env: Callable[[Endpoint], dict[str, str]]
) -> Suite:
    """SQLAlchemy's PostgreSQL dialect and core SQL tests on one driver.

    Its conftest loads SQLAlchemy's pytest plugin from the sdist's lib/; its
    reflection tests look for two schemas.
    """
    return Suite(
        f"sqlalchemy-{driver}",
        "2.0.44",
        ["sqlalchemy==2.0.44", "greenlet==3.5.6", *packages],
        "sqlalchemy==2.0.44",
        env,
        _sqlalchemy_args(driver),
        tests=SQLALCHEMY_TESTS,
        extract=("test", "lib", "setup.cfg"),  # setup.cfg: the plugin's [sqla_testing]
        setup_sql="CREATE SCHEMA test_schema; CREATE SCHEMA test_schema_2",
    )


#: Django's apps that exercise the database most (about 10 minutes on 2 cores).
DJANGO_APPS = (
    "backends", "basic", "queries", "transactions", "bulk_create", "select_for_update",
    "model_fields", "postgres_tests", "schema", "migrations",
)  # fmt: skip


def _psycopg_args(endpoint: Endpoint) -> list[str]:
    dsn = f"host={HOST} port={endpoint.port} user={USER} dbname={endpoint.database}"
    # Left out, as none is about what crosses the wire and together they double the run:
    # the pool's tests (mostly sleeps), the typing tests (mypy), the leak tests (gc) and
    # the tests psycopg marks slow or timing-based.
    return [
        "--test-dsn", dsn, "--ignore", "tests/pool",
        "-m", "not mypy and not slow and not timing", "-k", "not leak",
    ]  # fmt: skip


SUITES = {
    suite.name: suite
    for suite in (
        Suite(
            "psycopg2",
            "2.9.11",
            ["psycopg2-binary==2.9.11"],
            "psycopg2==2.9.11",
            _psycopg2_env,
            lambda endpoint: [],
        ),
        Suite(
            "asyncpg",
            "0.32.0",
            ["asyncpg==0.32.0", "distro==1.9.0", "uvloop==0.23.0"],
            "asyncpg==0.32.0",
            _asyncpg_env,
            lambda endpoint: [],
        ),
        Suite(
            "psycopg",
            "3.3.4",
            ["psycopg[binary,pool]==3.3.4", "pproxy==2.7.9"],
            None,
            _libpq_env,
            _psycopg_args,
        ),
        _sqlalchemy("psycopg", ["psycopg[binary,pool]==3.3.4"], _libpq_env),
        _sqlalchemy("asyncpg", ["asyncpg==0.32.0"], _asyncpg_env),
        Suite(
            "django",
            "5.2.8",
            ["django==5.2.8", "psycopg[binary,pool]==3.3.4"],
            "django==5.2.8",
            _django_env,
            lambda endpoint: [],
            tests=DJANGO_APPS,
            runner="django",
        ),
    )
}


@dataclass(frozen=True)
class Target:
    """Directly (``mode`` None) or through a proxy in one mode, tagged or not."""

    name: str
    mode: str | None
    tagged: bool


TARGETS = {
    target.name: target
    for target in (
        Target("direct", None, False),
        Target("observe", "observe", False),
        Target("observe-tagged", "observe", True),
        Target("enforce", "enforce", False),
        Target("enforce-tagged", "enforce", True),
    )
}


@dataclass
class Run:
    """One suite on one target: each test's outcome."""

    suite: str
    target: str
    outcomes: dict[str, str] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # failed on skewguard's own error
    seconds: float = 0.0
    killed: bool = False
    exit_code: int | None = None  # pytest's; 3: it crashed (INTERNALERROR), the rest not run

    def counts(self) -> Counter[str]:
        return Counter(self.outcomes.values())


def _pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "-q", *args], check=True)


def prepare_venv(workdir: Path) -> Path:
    """One virtualenv for every suite's pinned packages (installed once, kept in workdir)."""
    venv = workdir / "venv"
    wanted = sorted({*TOOLING, *(p for suite in SUITES.values() for p in suite.packages)})
    stamp = venv / "requirements.txt"
    if stamp.exists() and stamp.read_text() == "\n".join(wanted):
        return venv
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    _pip(venv, "install", *wanted)
    stamp.write_text("\n".join(wanted))
    return venv


def prepare_tests(workdir: Path, suite: Suite, venv: Path, psycopg_tests: Path | None) -> Path:
    """A directory holding the suite's ``tests/`` at the pinned version."""
    home = workdir / f"{suite.name}-{suite.version}"
    if all((home / part).exists() for part in suite.extract):
        return home
    home.mkdir(parents=True, exist_ok=True)
    if suite.sdist is not None:
        download = workdir / "sdists"
        # Only the suite's own package from source: its build requirements as wheels
        # (":all:" builds those from source too, Cython for SQLAlchemy: many minutes).
        only = suite.sdist.split("==")[0]
        _pip(venv, "download", "--no-binary", only, "--no-deps", "-d", str(download), suite.sdist)
        name = suite.sdist.replace("==", "-")
        with tarfile.open(download / f"{name}.tar.gz") as archive:
            wanted = tuple(f"{name}/{part}" for part in suite.extract)
            members = [
                m
                for m in archive.getmembers()
                if m.name in wanted or m.name.startswith(tuple(w + "/" for w in wanted))
            ]
            for member in members:
                member.name = member.name.removeprefix(f"{name}/")
            archive.extractall(home, members=members, filter="data")
    elif psycopg_tests is not None:
        _psycopg_tests_into(psycopg_tests, suite.version, home)
    else:
        raise SystemExit(
            f"{suite.name}'s tests are not in its sdist: pass --psycopg-tests with a clone of "
            "its repository (or a directory holding its tests/ at tag {suite.version})"
        )
    return home


def _psycopg_tests_into(source: Path, tag: str, home: Path) -> None:
    if (source / "tests").is_dir():
        shutil.copytree(source / "tests", home / "tests")
        return
    archive = subprocess.run(
        ["git", "--git-dir", str(_git_dir(source)), "archive", tag, "tests"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(home)], input=archive, check=True)


def _git_dir(source: Path) -> Path:
    return source / ".git" if (source / ".git").exists() else source


def start_cluster(workdir: Path, certs: Certificates) -> LocalCluster:
    """A throwaway cluster with TLS, replication and two-phase commit (the suites test both)."""
    cluster = LocalCluster(pick_install(), workdir / "pgdata")
    cluster.init(
        hba=[*HBA, "local replication all trust"],
        conf={
            "wal_level": "logical",
            "max_wal_senders": "8",
            "max_replication_slots": "8",
            "max_prepared_transactions": "20",
            "max_connections": "300",
        },
        ssl_cert=certs.cert,
        ssl_key=certs.key,
    )
    cluster.start()
    return cluster


def start_proxy(
    cluster: LocalCluster, target: Target, workdir: Path, certs: Certificates
) -> ProxyProcess:
    """``skewguard run`` in the target's mode, TLS on both legs."""
    assert target.mode is not None
    tls = ["--tls-cert", str(certs.cert), "--tls-key", str(certs.key)]
    proxy = ProxyProcess(
        upstream=cluster.url(sslmode="require"),
        extra_args=["--mode", target.mode, "--log-level", "info", *tls],
        logfile=workdir / f"proxy-{target.name}.log",
    )
    return proxy.start()


@dataclass(frozen=True)
class Place:
    """Where a suite's tests, the virtualenv and the run's files are."""

    home: Path
    venv: Path
    workdir: Path


def run_suite(
    suite: Suite,
    target: Target,
    endpoint: Endpoint,
    place: Place,
    *,
    timeout: float,
    tests: Sequence[str] = (),
    label: str = "",
) -> Run:
    """The suite's pytest, our plugin recording each outcome; killed past ``timeout``."""
    home, venv, workdir = place.home, place.venv, place.workdir
    results = workdir / f"{suite.name}-{target.name}{label}.jsonl"
    results.unlink(missing_ok=True)
    env = {
        **os.environ,
        **suite.env(endpoint),
        "PYTHONPATH": str(ROOT / "bench"),
        "SKEWGUARD_CLIENTS_RESULTS": str(results),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # --tb=native: pytest's own traceback style parses each frame's source with ast,
    # which CPython 3.11.7 sometimes fails ("AST constructor recursion depth
    # mismatch", cpython#106905) and the whole run ends in INTERNALERROR.
    args = [
        str(venv / "bin" / "python"), "-m", "pytest",
        "-p", "clients_plugin", "-q", "-rfEs", "--tb=native", "--timeout", "60",
        "-o", f"cache_dir={workdir / 'pytest-cache' / suite.name}",
        *suite.args(endpoint),
        *(tests or suite.tests),
    ]  # fmt: skip
    shutil.rmtree(workdir / "pytest-cache" / suite.name, ignore_errors=True)
    # Our own ini file: no pytest settings of an enclosing checkout (this one) apply.
    (home / "pytest.ini").write_text("[pytest]\n")
    cwd = home
    if suite.runner == "django":
        django_suite.write_settings(home / "tests")
        cwd = home / "tests"
        args = [
            str(venv / "bin" / "python"), "runtests.py", f"--settings={django_suite.SETTINGS}",
            "-v", "2", "--parallel", "1", "--noinput", *(tests or suite.tests),
        ]  # fmt: skip
    log = workdir / f"{suite.name}-{target.name}{label}.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=out)
        killed = False
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            killed = True
        finally:  # past the deadline, or this run is ending (SIGTERM)
            if process.poll() is None:
                process.kill()
                process.wait()
    run = Run(
        suite.name,
        target.name,
        seconds=time.monotonic() - started,
        killed=killed,
        exit_code=None if killed else process.returncode,
    )
    if suite.runner == "django":
        report = log.read_text(errors="replace")
        run.outcomes = django_suite.parse(report)
        run.refused = django_suite.refused(report, "skewguard: ")
    elif results.exists():
        for line in results.read_text().splitlines():
            row = json.loads(line)
            run.outcomes[row["test"]] = row["outcome"]
            if row["guard"]:
                run.refused.add(row["test"])
    return run


#: The outcome of a test a run did not report; the verdict on a difference no rerun ran.
NOT_RUN = "not run"
NOT_RUN_AGAIN = "not rerun"
#: pytest's exit status when it crashed itself.
PYTEST_INTERNAL_ERROR = 3


def differences(direct: Run, proxied: Run) -> dict[str, tuple[str, str]]:
    """Tests whose outcome through the proxy is not the direct one (missing = not run)."""
    names = direct.outcomes.keys() | proxied.outcomes.keys()
    return {
        name: (direct.outcomes.get(name, NOT_RUN), proxied.outcomes.get(name, NOT_RUN))
        for name in sorted(names)
        if direct.outcomes.get(name) != proxied.outcomes.get(name)
    }


def verdict(outcome: dict[str, str], *, refused: bool = False) -> str | None:
    """What one rerun says of a difference (``outcome``: side -> outcome), None: undecided.

    ``not rerun``: the test did not run on a side (a crash, a selection that matched
    nothing): nothing is known, and "not run" on both sides is no agreement.
    ``flaky``: alone it agrees with the direct run. ``guard``: alone through the
    proxy it failed on skewguard's own refusal (``refused``; in the whole run it
    may have failed on what an earlier refusal left behind). ``hop``: the bare
    relay differs too.
    """
    if NOT_RUN in outcome.values():
        return NOT_RUN_AGAIN
    if outcome["direct"] == outcome["proxy"]:
        return "flaky"
    if refused:
        return "guard"
    if outcome["floor"] == outcome["proxy"]:
        return "hop"
    return None


def recheck(
    suite: Suite,
    test: str,
    endpoint: Endpoint,
    cluster: LocalCluster,
    floor_port: int,
    reruns: int,
    place: Place,
    label: str,
) -> str:
    """Run one differing test again: directly, through the proxy and through the bare relay.

    Each side gets a fresh database, the proxy's too (what the whole run left there,
    such as a table whose DROP the guard refused, would fail the test for another
    reason). ``stable``: every rerun ran the test everywhere and only skewguard
    differs; a bug to fix. Otherwise see ``verdict``; each rerun's log is kept
    (``<suite>-<side>-<label>-rerun<n>.log``).
    """
    sides = {
        "direct": Endpoint(cluster.port, endpoint.database + "_direct", False),
        "floor": Endpoint(floor_port, endpoint.database + "_floor", endpoint.tagged),
        "proxy": replace(endpoint, database=endpoint.database + "_rerun"),
    }
    for side_endpoint in sides.values():
        fresh_database(cluster, side_endpoint.database, suite.setup_sql)
    for attempt in range(reruns):
        runs = {
            side: run_suite(
                suite, Target(side, None, side_endpoint.tagged), side_endpoint, place,
                timeout=300, tests=[test], label=f"-{label}-rerun{attempt}",
            )
            for side, side_endpoint in sides.items()
        }  # fmt: skip
        outcome = {side: run.outcomes.get(test, NOT_RUN) for side, run in runs.items()}
        found = verdict(outcome, refused=test in runs["proxy"].refused)
        if found is not None:
            return found
    return "stable"


def fresh_database(cluster: LocalCluster, name: str, setup_sql: str = "") -> None:
    cluster.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    cluster.psql(f'CREATE DATABASE "{name}"')
    if setup_sql:
        cluster.psql(setup_sql, database=name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--suites",
        default="psycopg2,asyncpg,psycopg",
        help=f"comma-separated, of {','.join(SUITES)} (the ORMs' take ~1 h more)",
    )
    parser.add_argument(
        "--targets",
        default="direct,observe,observe-tagged,enforce,enforce-tagged",
        help="comma-separated",
    )
    parser.add_argument("--psycopg-tests", type=Path, help="psycopg 3 repository (tests/)")
    parser.add_argument("--node-postgres-tests", type=Path, help="node-postgres packages/pg")
    parser.add_argument("--postgres-js-tests", type=Path, help="postgres.js checkout")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".skewguard" / "clients")
    parser.add_argument("--timeout", type=float, default=2400, help="seconds per suite run")
    parser.add_argument("--reruns", type=int, default=1, help="reruns of each difference")
    parser.add_argument("--out", type=Path, help="write the runs as JSON here")
    options = parser.parse_args(argv)
    # SIGTERM (a timeout, a CI job ending) unwinds: the cluster and proxies are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    suites = [SUITES[name] for name in options.suites.split(",") if name]
    if options.psycopg_tests is None and any(s.sdist is None for s in suites):
        print("psycopg: skipped (its tests are not on PyPI; pass --psycopg-tests)")
        suites = [s for s in suites if s.sdist is not None]
    targets = [TARGETS[name] for name in options.targets.split(",")]
    if targets[0].mode is not None:
        targets.insert(0, TARGETS["direct"])
    workdir: Path = options.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    venv = prepare_venv(workdir)
    homes = {s.name: prepare_tests(workdir, s, venv, options.psycopg_tests) for s in suites}
    certs = Certificates.make(workdir)
    shutil.rmtree(workdir / "pgdata", ignore_errors=True)
    cluster = start_cluster(workdir, certs)
    runs: list[Run] = []
    diffs: list[tuple[Run, str, str, str, str]] = []
    proxies: list[ProxyProcess] = []
    floor = FloorRelay(cluster.port)
    floor.start()
    try:
        ports = {}
        for target in targets:
            if target.mode is None:
                ports[target.name] = cluster.port
            else:
                proxies.append(start_proxy(cluster, target, workdir, certs))
                ports[target.name] = proxies[-1].port
        for suite in suites:
            by_target: dict[str, Run] = {}
            for target in targets:
                endpoint = Endpoint(
                    ports[target.name],
                    f"{suite.name}_{target.name}".replace("-", "_"),
                    target.tagged,
                )
                fresh_database(cluster, endpoint.database, suite.setup_sql)
                place = Place(homes[suite.name], venv, workdir)
                run = run_suite(suite, target, endpoint, place, timeout=options.timeout)
                print(_row(suite, run), flush=True)
                runs.append(run)
                by_target[target.name] = run
                if target.mode is None:
                    continue
                found = differences(by_target["direct"], run)
                for index, (test, (direct_outcome, proxied_outcome)) in enumerate(found.items()):
                    label = f"{target.name}-{index}"
                    said = (
                        "guard"
                        if test in run.refused
                        else recheck(
                            suite, test, endpoint, cluster, floor.port, options.reruns, place, label
                        )
                    )
                    diffs.append((run, test, direct_outcome, proxied_outcome, said))
                    print("  " + _difference(diffs[-1]), flush=True)  # seen even if killed
        for name, home in (
            ("node-postgres", options.node_postgres_tests),
            ("postgres.js", options.postgres_js_tests),
        ):
            if home is not None:
                suites.append(_node_suite(name))
                _run_node(name, home.resolve(), targets, ports, cluster, workdir, runs, diffs)
    finally:
        for proxy in proxies:
            proxy.stop()
        floor.stop()
        cluster.stop()
    _report(suites, runs, diffs)
    if options.out:
        rows = [{**run.__dict__, "refused": sorted(run.refused)} for run in runs]
        options.out.write_text(json.dumps(rows, indent=1))
    return 1 if any(said == "stable" for *_, said in diffs) else 0


def _node_suite(name: str) -> Suite:
    """A Node.js suite as the table names it (its version: the checkout's)."""
    return Suite(name, "git", [], None, _libpq_env, lambda endpoint: [])


def _run_node(
    name: str,
    home: Path,
    targets: Sequence[Target],
    ports: dict[str, int],
    cluster: LocalCluster,
    workdir: Path,
    runs: list[Run],
    diffs: list[tuple[Run, str, str, str, str]],
) -> None:
    """One Node.js suite on each target; a difference is listed, not rerun."""
    from bench.node_clients import RUNNERS, NodeSuite

    by_target: dict[str, Run] = {}
    for target in targets:
        database = f"{name}_{target.name}".replace("-", "_").replace(".", "_")
        endpoint = Endpoint(ports[target.name], database, target.tagged)
        fresh_database(cluster, database)
        run = RUNNERS[name](NodeSuite(name, home), target.name, endpoint, workdir, 300)
        print(_row(_node_suite(name), run), flush=True)
        runs.append(run)
        by_target[target.name] = run
        if target.mode is None:
            continue
        for test, (before, after) in differences(by_target["direct"], run).items():
            diffs.append((run, test, before, after, "not rerun"))
            print("  " + _difference(diffs[-1]), flush=True)


def _row(suite: Suite, run: Run) -> str:
    counts = run.counts()
    killed = "  KILLED (timeout)" if run.killed else ""
    if run.exit_code == PYTEST_INTERNAL_ERROR:
        killed = "  pytest INTERNALERROR (see its log)"
    return (
        f"{suite.name:9} {suite.version:7} {run.target:15} {counts['passed']:6} "
        f"{counts['failed']:6} {counts['error']:6} {counts['skipped']:7} {run.seconds:7.0f}{killed}"
    )


def _report(
    suites: Sequence[Suite], runs: Sequence[Run], diffs: Sequence[tuple[Run, str, str, str, str]]
) -> None:
    print()
    print(f"{'suite':9} {'version':7} {'target':15} {'passed':>6} {'failed':>6} {'error':>6} "
          f"{'skipped':>7} {'seconds':>7}")  # fmt: skip
    by_name = {s.name: s for s in suites}
    for run in runs:
        print(_row(by_name[run.suite], run))
    print()
    if not diffs:
        print("no test differs from the direct run")
        return
    print("tests that differ from the direct run (direct -> proxied, after reruns):")
    for diff in diffs:
        print("  " + _difference(diff))


def _difference(diff: tuple[Run, str, str, str, str]) -> str:
    run, test, direct_outcome, proxied_outcome, verdict = diff
    return f"{run.target:15} {test}: {direct_outcome} -> {proxied_outcome} ({verdict})"


if __name__ == "__main__":
    sys.exit(main())
