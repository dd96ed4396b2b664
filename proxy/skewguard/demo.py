"""``skewguard demo``: a narrated walkthrough on a throwaway embedded PostgreSQL.

It starts a PostgreSQL cluster in a temporary directory and ``skewguard run`` in
front of it, then plays a rolling deploy: two versions of an app, a migration
that would break the older one (blocked), the expand/contract way out, ``skewguard
check`` in CI, a safe rename, and where the metrics and the status page are.

Every step checks that what it narrates really happened, so the demo doubles as
a smoke test: exit 0 when all did, 1 when a step did not (with what went wrong),
2 when the demo could not start (no PostgreSQL binaries, no psycopg), 130 on
Ctrl-C. Everything it started is stopped and its temporary directory removed,
also when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from skewguard.pgcluster import (
    ClusterError,
    LocalCluster,
    PgInstall,
    embedded_install,
    free_port,
    system_installs,
)

if TYPE_CHECKING:
    import psycopg

WIDTH = 78
DATABASE = "shop"
V1, V2 = "shop@1", "shop@2"
V1_QUERY = "SELECT id, email FROM users WHERE id = %s"
V2_QUERY = "SELECT id, name FROM users WHERE id = %s"
SCHEMA = [
    "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL, name text NOT NULL)",
    "INSERT INTO users (email, name) VALUES ('ann@example.com', 'Ann'), ('bob@example.com', 'Bob')",
]
DROP_EMAIL = "ALTER TABLE users DROP COLUMN email"
RENAME = "ALTER TABLE users RENAME TO customers"
COMPAT_VIEW = "CREATE VIEW users AS SELECT * FROM customers"
MIGRATIONS = {
    "0002_add_nickname.sql": "ALTER TABLE users ADD COLUMN nickname text;\n",
    "0003_drop_name.sql": "ALTER TABLE users DROP COLUMN name;\n",
}


class DemoFailed(Exception):
    """A step did not behave as narrated."""


class Interrupted(Exception):
    """SIGINT or SIGTERM: stop and clean up."""


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pace",
        type=float,
        default=0.8,
        metavar="SECONDS",
        help="pause between steps (default: 0.8)",
    )
    parser.add_argument("--no-pace", action="store_true", help="no pauses (for scripts and tests)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="at the end, keep PostgreSQL and the proxy running until Ctrl-C",
    )


def _install() -> PgInstall | None:
    """The embedded wheel's PostgreSQL, else the newest system install."""
    with warnings.catch_warnings():  # platformdirs, imported with the wheel, warns about XDG
        warnings.simplefilter("ignore")
        return embedded_install() or next(reversed(system_installs()), None)


def _clean_env() -> dict[str, str]:
    """The environment without SKEWGUARD_* settings: the demo's proxy and commands run with
    the defaults and the flags the demo gives, whatever the caller's shell has set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SKEWGUARD_")}


class Demo:
    """The walkthrough: one temporary directory, one cluster, one proxy process."""

    def __init__(self, install: PgInstall, workdir: Path, pace: float) -> None:
        self.install = install
        self.workdir = workdir
        self.pace = pace
        self.step_no = 0
        self.step_title = "setup"
        self.cluster: LocalCluster | None = None
        self.proxy: subprocess.Popen[bytes] | None = None
        self.port = free_port()
        self.admin_port = free_port()
        self.connections: list[psycopg.Connection[Any]] = []
        self.proxy_log = workdir / "proxy.log"

    # -- narration -----------------------------------------------------------

    def step(self, title: str) -> None:
        if self.step_no and self.pace > 0:
            time.sleep(self.pace)
        self.step_no += 1
        self.step_title = title
        heading = f"Step {self.step_no}. {title}"
        print(f"\n{heading}\n{'-' * len(heading)}", flush=True)

    @staticmethod
    def say(text: str) -> None:
        print(textwrap.fill(" ".join(text.split()), WIDTH), flush=True)

    @staticmethod
    def show(text: str, indent: str = "    ") -> None:
        print(textwrap.indent(text.rstrip("\n"), indent, lambda _: True), flush=True)

    @staticmethod
    def ok(text: str) -> None:
        print(f"  ok: {text}", flush=True)

    @staticmethod
    def expect(condition: bool, failure: str) -> None:
        if not condition:
            raise DemoFailed(failure)

    # -- the pieces ------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def proxy_dsn(self, app: str | None = None) -> str:
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname={DATABASE}"
        return dsn + (f" application_name={app}" if app else "")

    def connect(self, app: str | None = None, autocommit: bool = True) -> psycopg.Connection[Any]:
        import psycopg

        conn = psycopg.connect(self.proxy_dsn(app), autocommit=autocommit, connect_timeout=10)
        self.connections.append(conn)
        return conn

    def direct(self, database: str = DATABASE) -> psycopg.Connection[Any]:
        """A connection straight to PostgreSQL, past the proxy (to look, not to learn)."""
        import psycopg

        assert self.cluster is not None
        conn = psycopg.connect(self.cluster.url(database=database), autocommit=True)
        self.connections.append(conn)
        return conn

    def columns(self, table: str = "users") -> list[str]:
        with self.direct() as conn:
            rows = conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (table,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.admin_url + path, timeout=10) as response:
            return str(response.read().decode())

    def versions(self) -> dict[str, dict[str, Any]]:
        rows = json.loads(self.get("/api/versions"))["versions"]
        return {f"{r['app']}@{r['version']}": r for r in rows if r["database"] == DATABASE}

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise DemoFailed(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.05)

    def cli(self, *args: str, expect_code: int | None = 0) -> tuple[int, str]:
        """Run ``skewguard ARGS`` as a user would, print the command and its output."""
        shown = " ".join(a if re.fullmatch(r"[\w@:/.=,-]+", a) else repr(a) for a in args)
        print(f"  $ skewguard {shown}", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", "skewguard", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.workdir,
            env=_clean_env(),
            timeout=60,
        )
        output = (result.stdout + result.stderr).rstrip("\n")
        if output:
            self.show(output)
        print(f"  (exit code {result.returncode})", flush=True)
        if expect_code is not None:
            self.expect(
                result.returncode == expect_code,
                f"`skewguard {shown}` exited {result.returncode}, expected {expect_code}",
            )
        return result.returncode, output

    def migrate(self, statements: Sequence[str], transaction: bool = False) -> Exception | None:
        """Run a migration through the proxy, untagged, as a migration runner would."""
        import psycopg

        with self.connect(autocommit=not transaction) as conn:
            if transaction:
                print(f"  {DATABASE}=> BEGIN;", flush=True)
            for sql in statements:
                print(f"  {DATABASE}=> {sql};", flush=True)
            try:
                for sql in statements:
                    conn.execute(sql)
                if transaction:
                    print(f"  {DATABASE}=> COMMIT;", flush=True)
                    conn.commit()
            except psycopg.Error as exc:
                if transaction:
                    conn.rollback()
                return exc
        return None

    def show_error(self, exc: Exception) -> tuple[str, str, str, str]:
        import psycopg

        self.expect(isinstance(exc, psycopg.Error), f"unexpected error: {exc!r}")
        assert isinstance(exc, psycopg.Error)
        diag = exc.diag
        sqlstate = diag.sqlstate or ""
        message = diag.message_primary or str(exc)
        detail = diag.message_detail or ""
        hint = diag.message_hint or ""
        self.show(f"ERROR:  {message}  (SQLSTATE {sqlstate})", "  ")
        if detail:
            self.show("DETAIL:  " + detail.replace("\n", "\n         "), "  ")
        if hint:
            self.show("HINT:  " + hint.replace("\n", "\n       "), "  ")
        return sqlstate, message, detail, hint

    # -- setup and teardown ------------------------------------------------------

    def start(self) -> None:
        print(
            f"skewguard demo: a rolling deploy of the app 'shop', narrated.\n"
            f"Working directory: {self.workdir} (removed at the end)",
            flush=True,
        )
        self.step("Start a throwaway PostgreSQL and skewguard in front of it")
        self.cluster = LocalCluster(self.install, self.workdir / "pgdata")
        self.cluster.init()
        self.cluster.start()
        self.say(
            f"PostgreSQL {self.install.major} ({self.install.source} binaries) is running on "
            f"127.0.0.1:{self.cluster.port}."
        )
        with self.direct("postgres") as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        args = [
            "run",
            "--upstream", self.cluster.url(database=DATABASE),
            "--listen", f"127.0.0.1:{self.port}",
            "--admin-listen", f"127.0.0.1:{self.admin_port}",
            "--state", str(self.workdir / "state.db"),
            "--shutdown-grace", "2s",
        ]  # fmt: skip
        print(f"  $ skewguard {' '.join(args)}", flush=True)
        with open(self.proxy_log, "wb") as log:
            # its own session: a Ctrl-C in the terminal reaches the demo, which stops it in order
            self.proxy = subprocess.Popen(
                [sys.executable, "-m", "skewguard", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=_clean_env(),
                start_new_session=True,
            )
        self.wait_for("the proxy's admin port", self._proxy_listening, timeout=30)
        self.say(
            f"The apps now connect to 127.0.0.1:{self.port} instead of PostgreSQL, and tag "
            f"their connections with application_name=APP@VERSION. Admin API, metrics and "
            f"status page: {self.admin_url}."
        )
        self.ok("PostgreSQL and the proxy are up")

    def _proxy_listening(self) -> bool:
        if self.proxy is not None and self.proxy.poll() is not None:
            raise DemoFailed(f"the proxy exited with code {self.proxy.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", self.admin_port), timeout=0.2):
                return True
        except OSError:
            return False

    def proxy_log_tail(self) -> str:
        try:
            return self.proxy_log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """Close everything that was opened; the proxy's exit code (None: never started)."""
        for conn in self.connections:
            with suppress(Exception):  # best effort on the way out
                conn.close()
        code = None
        if self.proxy is not None:
            if self.proxy.poll() is None:
                self.proxy.send_signal(signal.SIGTERM)
                try:
                    self.proxy.wait(15)
                except subprocess.TimeoutExpired:
                    self.proxy.kill()
                    self.proxy.wait()
            code = self.proxy.returncode
        if self.cluster is not None:
            self.cluster.stop()
        return code

    # -- the story -------------------------------------------------------------

    def play(self) -> None:
        self.start()
        self.create_schema()
        v1, v2 = self.two_versions()
        self.show_footprints()
        self.blocked_drop()
        self.retire_and_drop(v1, v2)
        self.check_in_ci()
        self.safe_rename(v2)
        self.observe()

    def create_schema(self) -> None:
        self.step("The first migration creates the schema")
        self.say(
            "Migrations go through the proxy like any other client. This one is untagged "
            "(a migration runner), and creating a table breaks nobody:"
        )
        for sql in SCHEMA:
            error = self.migrate([sql])
            self.expect(error is None, f"the schema migration failed: {error}")
        self.ok(f"users has columns {', '.join(self.columns())}")

    def two_versions(self) -> tuple[psycopg.Connection[Any], psycopg.Connection[Any]]:
        self.step("Two versions of the app run side by side")
        self.say(
            f"A rolling deploy is half way: {V1} still reads users.email, {V2} no longer "
            "does (it shows the name instead). Both connect through the proxy:"
        )
        v1 = self.connect(V1)
        v2 = self.connect(V2)
        for conn, app, query in ((v1, V1, V1_QUERY), (v2, V2, V2_QUERY)):
            rows = conn.execute(query, (1,)).fetchall()
            print(f"  [{app}] {query % 1}  ->  {rows}", flush=True)
            self.expect(len(rows) == 1, f"{app}'s query returned {rows}")
        self.ok("both versions work; skewguard learns what each one uses, off the hot path")
        return v1, v2

    def show_footprints(self) -> None:
        self.step("What each version uses: `skewguard versions`")

        def learned() -> bool:
            seen = self.versions()
            return all(
                any("email" in f["facet"] for f in seen.get(v, {}).get("facets", [])) == (v == V1)
                and seen.get(v, {}).get("facets")
                for v in (V1, V2)
            )

        self.wait_for("the footprints of shop@1 and shop@2", learned)
        self.cli("versions", "--admin", self.admin_url, "--facets")
        self.say(
            "(untagged) is the migration runner: tracked, but it protects nothing. A facet is "
            "something a version relies on, with how often and when it was last seen."
        )
        self.ok(f"{V1}'s footprint has users.email, {V2}'s does not")

    def blocked_drop(self) -> None:
        self.step("A migration drops users.email while shop@1 still runs")
        self.say(
            "The team behind shop@2 no longer needs email and drops it. Without skewguard "
            f"every {V1} instance would start failing the moment this commits:"
        )
        error = self.migrate([DROP_EMAIL])
        self.expect(error is not None, "the DROP COLUMN was NOT blocked")
        assert error is not None
        sqlstate, message, detail, hint = self.show_error(error)
        self.expect(sqlstate == "55006", f"expected SQLSTATE 55006, got {sqlstate}")
        self.expect(message.startswith("skewguard:"), f"unexpected message: {message}")
        self.expect(V1 in detail, f"DETAIL does not name {V1}: {detail!r}")
        self.expect(V2 not in detail, f"DETAIL names {V2}, which does not use email")
        self.expect(bool(hint), "the error has no HINT")
        self.expect("email" in self.columns(), "users.email is gone although the DROP was blocked")
        self.ok(
            f"blocked with 55006: the DETAIL names {V1} and its evidence, the HINT the safe "
            "recipe; users.email is still there"
        )

    def retire_and_drop(self, v1: psycopg.Connection[Any], v2: psycopg.Connection[Any]) -> None:
        self.step("Expand/contract: finish the rollout, retire shop@1, then drop")
        self.say(f"The deploy completes: the last {V1} instance stops. Its connection closes:")
        v1.close()
        self.wait_for(
            f"{V1} to have no live connection",
            lambda: self.versions().get(V1, {}).get("live_connections") == 0,
        )
        protected = self.versions()[V1].get("protected")
        print(f"  {V1}: live connections 0, protected: {protected}", flush=True)
        self.expect(bool(protected), f"{V1} stopped being protected when its connection closed")
        self.say(
            f"Not running is not enough: {V1} ran within --retain (24h by default) and, as "
            "the newest version of 'shop' not running, it is the rollback target: a rollback "
            "would bring it back. Once you know it will never run again, retire it (this "
            f"calls POST /api/versions/{V1}/retire on the admin API):"
        )
        self.cli("versions", "retire", V1, "--admin", self.admin_url)
        error = self.migrate([DROP_EMAIL])
        if error is not None:
            self.show_error(error)
        self.expect(error is None, f"the DROP was still blocked after retiring {V1}")
        print("  ALTER TABLE", flush=True)
        self.expect("email" not in self.columns(), "users.email still exists after the DROP")
        rows = v2.execute(V2_QUERY, (1,)).fetchall()
        print(f"  [{V2}] {V2_QUERY % 1}  ->  {rows}", flush=True)
        self.ok(f"the DROP is allowed now, and {V2} keeps working")

    def check_in_ci(self) -> None:
        self.step("In CI, before a migration ships: `skewguard check`")
        self.say(
            "`skewguard check` asks the running proxy, which knows the live versions, for its "
            "verdict without running anything. Exit 0: safe; 1: would break a protected "
            "version; 2: usage or connection error."
        )
        migrations = self.workdir / "migrations"
        migrations.mkdir()
        for name, sql in MIGRATIONS.items():
            (migrations / name).write_text(sql)
            print(f"  migrations/{name}: {sql.strip()}", flush=True)
        self.cli("check", "migrations/0002_add_nickname.sql", "--admin", self.admin_url)
        _, output = self.cli(
            "check", "migrations/0003_drop_name.sql", "--admin", self.admin_url, expect_code=1
        )
        self.expect(V2 in output, f"`check` did not name {V2}: {output!r}")
        self.cli("check", "migrations/0002_add_nickname.sql", expect_code=2)
        self.expect("name" in self.columns(), "`check` changed the schema")
        self.ok(f"exit 0 for the new column, 1 for dropping what {V2} reads, 2 for a usage error")

    def safe_rename(self, v2: psycopg.Connection[Any]) -> None:
        self.step("Renaming a table without breaking anyone")
        self.say(f"A bare rename breaks {V2}, which reads users, so it is blocked:")
        error = self.migrate([RENAME])
        self.expect(error is not None, "the bare RENAME was NOT blocked")
        assert error is not None
        sqlstate, _, detail, _ = self.show_error(error)
        self.expect(sqlstate == "55006" and V2 in detail, f"unexpected error: {error}")
        self.say(
            "Done in one transaction with a view under the old name, the change is "
            "compatible: skewguard judges a transaction by its net effect at COMMIT."
        )
        error = self.migrate([RENAME, COMPAT_VIEW], transaction=True)
        if error is not None:
            self.show_error(error)
        self.expect(error is None, "the rename with a compatibility view was blocked")
        self.expect(bool(self.columns("customers")), "table customers does not exist")
        rows = v2.execute(V2_QUERY, (1,)).fetchall()
        print(f"  [{V2}] {V2_QUERY % 1}  ->  {rows}   (through the view)", flush=True)
        self.ok(
            f"users is now customers, {V2} keeps working through the view; drop the view once "
            "no protected version reads users"
        )

    def observe(self) -> None:
        self.step("Watching it: /metrics, the audit log and the status page")
        metrics = self.get("/metrics")
        wanted = (
            "skewguard_client_connections_active{",
            "skewguard_ddl_decisions_total{",
            "skewguard_protected_versions{",
        )
        lines = [
            line
            for line in metrics.splitlines()
            if line.startswith(wanted) and float(line.rsplit(" ", 1)[1]) > 0
        ]
        print(f"  $ curl -s {self.admin_url}/metrics | grep ...", flush=True)
        self.show("\n".join(lines))
        for rule in ("SG102", "SG106"):  # the DROP COLUMN and the bare RENAME
            sample = f'skewguard_ddl_decisions_total{{decision="block",rule="{rule}"}}'
            self.expect(any(line.startswith(sample) for line in lines), f"/metrics lacks {sample}")
        decisions = json.loads(self.get("/api/decisions?limit=20"))["decisions"]
        print(f"  $ curl -s {self.admin_url}/api/decisions   (newest first)", flush=True)
        for d in decisions:
            statements = "; ".join(d.get("statements", []))
            self.show(f"{d['decision']:<6} {d.get('source', '-'):<6} {statements[:59]}")
        made = [d["decision"] for d in decisions]
        self.expect(made.count("block") >= 2, f"the audit log has {made}")
        self.say(
            "Every decision is audited, with the versions, evidence and recipe; `check` "
            "verdicts too (source check), though only DDL that reached the proxy is counted "
            "in skewguard_ddl_decisions_total (once per rule with a finding; every rule's "
            "block/warn series exists from the start at 0, so the first block alerts)."
        )
        page = self.get("/")
        self.expect("<td>shop</td>" in page, "the status page does not list the app shop")
        self.say(
            f"Open {self.admin_url}/ for the status page (versions, their protection, recent "
            f"decisions) and point Prometheus at {self.admin_url}/metrics; deploy/ has alert "
            "rules, a Grafana dashboard and sidecar examples."
        )
        self.ok("blocked decisions are counted, audited and on the status page")


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted, so cleanup always runs."""

    def handler(signum: int, _: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _shielded() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while cleaning up."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _remove(workdir: Path, demo: Demo, timeout: float = 10.0) -> None:
    """Remove the working directory; a Ctrl-C during initdb or pg_ctl can leave a server
    process (initdb's bootstrap backend, a postmaster) writing there for a moment."""
    deadline = time.monotonic() + timeout
    while True:
        if demo.cluster is not None:
            demo.cluster.stop()  # a no-op unless a postmaster came up after all
        shutil.rmtree(workdir, ignore_errors=True)
        if not workdir.exists():
            return
        if time.monotonic() > deadline:
            print(f"skewguard demo: could not remove {workdir}", file=sys.stderr)
            return
        time.sleep(0.2)


def demo_command(args: argparse.Namespace) -> int:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        print(
            "skewguard demo: needs psycopg as its example client: pip install 'psycopg[binary]'",
            file=sys.stderr,
        )
        return 2
    install = _install()
    if install is None:
        print(
            "skewguard demo: no PostgreSQL binaries found: "
            "pip install 'skewguard[embedded]' or install PostgreSQL",
            file=sys.stderr,
        )
        return 2
    pace = 0.0 if args.no_pace else max(0.0, args.pace)
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-demo-"))
    demo = Demo(install, workdir, pace)
    code, finished = 0, False
    with _interruptible():
        try:
            demo.play()
            finished = True
            if args.keep:
                print(
                    f"\nStill running (--keep): connect with psql "
                    f"'postgresql://postgres@127.0.0.1:{demo.port}/{DATABASE}"
                    f"?application_name=shop@3', browse {demo.admin_url}/. Ctrl-C to finish.",
                    flush=True,
                )
                signal.pause()
        except DemoFailed as exc:
            print(
                f"\nskewguard demo FAILED at step {demo.step_no} ({demo.step_title}): {exc}",
                file=sys.stderr,
            )
            tail = demo.proxy_log_tail()
            if tail:
                print("proxy log (tail):\n" + textwrap.indent(tail, "  "), file=sys.stderr)
            code = 1
        except Interrupted as exc:
            if not finished:
                print(f"\nskewguard demo: interrupted ({exc}); cleaning up", file=sys.stderr)
                code = 130
        except (ClusterError, OSError, urllib.error.URLError) as exc:
            print(
                f"\nskewguard demo: step {demo.step_no} ({demo.step_title}) could not run: {exc}",
                file=sys.stderr,
            )
            code = 2 if demo.step_no <= 1 else 1
        except Exception as exc:  # a client error nobody expected: still a failed step
            print(
                f"\nskewguard demo FAILED at step {demo.step_no} ({demo.step_title}): "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            code = 1
        finally:
            with _shielded():
                proxy_code = demo.stop()
                _remove(workdir, demo)
    if code == 0 and proxy_code not in (0, None):
        print(f"skewguard demo: the proxy exited with code {proxy_code}", file=sys.stderr)
        return 1
    if code == 0:
        print(
            f"\nDemo complete: all {demo.step_no} steps behaved as narrated. "
            "PostgreSQL, the proxy and the temporary directory are gone.",
            flush=True,
        )
    return code
