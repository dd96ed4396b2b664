"""Node.js client libraries' own test suites, directly and through skewguard.

The JavaScript sibling of ``bench.clients``: node-postgres (``packages/pg``, unit
and integration, one node process per test file, a file's exit status its outcome)
and postgres.js (``tests/index.js``, its own runner; a test's outcome is parsed from
its report). Each checkout must have its ``node_modules`` installed (``npm install``;
see bench/README.md). Runs on the same throwaway cluster and proxies as the Python
suites and prints the same table.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.clients import TAG, Endpoint, Run
from bench.targets import HOST, USER

#: postgres.js' runner: one line per test that did not succeed.
_PJS_FAILED = re.compile(
    r"⛔️ (?P<name>.*) at line (?P<line>\d+) (?P<how>failed|never finished|cleanup failed)"
)
#: postgres.js' runner: one check mark per test that succeeded, in order.
_PJS_PASSED = "✅"


@dataclass(frozen=True)
class NodeSuite:
    """One Node.js client library's test checkout."""

    name: str
    home: Path


def node_env(endpoint: Endpoint) -> dict[str, str]:
    """libpq-style variables: both libraries read PGHOST, PGPORT, PGUSER, PGDATABASE."""
    env = {"PGHOST": HOST, "PGPORT": str(endpoint.port), "PGUSER": USER}
    env["PGDATABASE"] = endpoint.database
    if endpoint.tagged:
        env["PGAPPNAME"] = TAG  # node-postgres reads it; postgres.js too
    return env


def node_postgres_files(home: Path) -> list[str]:
    """Its Makefile's test-unit and test-integration: every ``*-tests.js``, sorted."""
    found = [
        path.relative_to(home).as_posix()
        for part in ("test/unit", "test/integration")
        for path in (home / part).rglob("*-tests.js")
    ]
    return sorted(found)


def parse_postgres_js(output: str) -> dict[str, str]:
    """Outcome per test of postgres.js' runner: failures are named, successes counted.

    The runner prints a check mark per passed test and, at the end, a line per test
    that failed or never finished (after a failure it skips the rest: they never
    finish). Passed tests are not named, so they are reported as one count row.
    """
    outcomes: dict[str, str] = {}
    for match in _PJS_FAILED.finditer(output):  # stderr's lines may follow stdout's marks
        if match:
            how = "failed" if match["how"] != "never finished" else "not finished"
            outcomes[f"line {match['line']}: {match['name']}"] = how
    passed = output.count(_PJS_PASSED)
    for index in range(passed):
        outcomes[f"passed #{index + 1}"] = "passed"
    return outcomes


def run_node_postgres(
    suite: NodeSuite, target: str, endpoint: Endpoint, workdir: Path, timeout: float
) -> Run:
    """Each test file in its own node process, as the Makefile does."""
    env = {**os.environ, **node_env(endpoint)}
    run = Run(suite.name, target)
    started = time.monotonic()
    (suite.home / "test/unit/client/pgpass.file").chmod(0o600)
    with open(workdir / f"{suite.name}-{target}.log", "wb") as log:
        for name in node_postgres_files(suite.home):
            log.write(f"\n=== {name}\n".encode())
            log.flush()
            try:
                done = subprocess.run(
                    ["node", name], cwd=suite.home, env=env, stdout=log, stderr=log,
                    timeout=timeout, check=False,
                )  # fmt: skip
                run.outcomes[name] = "passed" if done.returncode == 0 else "failed"
            except subprocess.TimeoutExpired:
                run.outcomes[name] = "failed"
                run.killed = True
    run.seconds = time.monotonic() - started
    return run


def run_postgres_js(
    suite: NodeSuite, target: str, endpoint: Endpoint, workdir: Path, timeout: float
) -> Run:
    """``node tests/index.js`` (its bootstrap creates its users and database via psql)."""
    env = {**os.environ, **node_env(endpoint), "PGDATABASE": "postgres"}
    env["PGSOCKET"] = env.get("PGSOCKET", "/tmp")
    run = Run(suite.name, target)
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["node", "tests/index.js"], cwd=suite.home, env=env, capture_output=True,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        run.killed = True
        output = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else ""
    (workdir / f"{suite.name}-{target}.log").write_text(output)
    run.outcomes = parse_postgres_js(output)
    run.seconds = time.monotonic() - started
    return run


RUNNERS = {"node-postgres": run_node_postgres, "postgres.js": run_postgres_js}
