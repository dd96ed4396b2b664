"""End to end: DDL through the proxy is blocked exactly when it breaks a protected version."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from skewguard.pgcluster import LocalCluster
from tests.support import forked
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text, name text);
INSERT INTO users (email, name) VALUES ('a@x', 'Ann');
"""


@dataclass
class Deploy:
    cluster: LocalCluster
    database: str
    proxy: ProxyProcess

    def url(self, app: str | None = None, user: str = "postgres") -> str:
        params = {"application_name": app} if app else {}
        return self.proxy.url(user=user, database=self.database, **params)

    def columns(self) -> set[str]:
        with direct(self.cluster, dbname=self.database) as conn:
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'"
            ).fetchall()
        return {str(r[0]) for r in rows}


def _deploy(cluster: LocalCluster, workdir: Path, *extra: str) -> Iterator[Deploy]:
    database = unique("guard")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    with direct(cluster, dbname=database) as conn:
        conn.execute(SCHEMA)
        conn.execute(
            "DO $$ BEGIN CREATE ROLE migrator LOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        conn.execute(f"GRANT ALL ON DATABASE {database} TO migrator")
        conn.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO migrator")
    proxy = ProxyProcess(
        upstream=cluster.url(database=database),
        state=workdir / "state.db",
        logfile=workdir / "proxy.log",
        extra_args=["--override-roles", "postgres", *extra],
    ).start()
    yield Deploy(cluster, database, proxy)
    proxy.stop()


@pytest.fixture
def deploy(cluster: LocalCluster, tmp_path: Path) -> Iterator[Deploy]:
    yield from _deploy(cluster, tmp_path)


def _learn(deploy: Deploy, app: str, sql: str) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(deploy.url(app), autocommit=True)
    conn.execute(sql).fetchall()
    return conn


DROP_EMAIL = "ALTER TABLE users DROP COLUMN email"


def test_drop_column_blocked_while_v1_runs_then_allowed_after_retire(deploy: Deploy) -> None:
    v1 = _learn(deploy, "orders@1", "SELECT email FROM users WHERE id = 1")
    v2 = _learn(deploy, "orders@2", "SELECT name FROM users WHERE id = 1")
    proc = subprocess.run(
        ["psql", "-X", "-v", "VERBOSITY=verbose", "-d", deploy.url(), "-c", DROP_EMAIL],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "55006" in proc.stderr and "skewguard:" in proc.stderr
    assert "orders@1" in proc.stderr and "orders@2" not in proc.stderr
    assert "HINT:" in proc.stderr
    assert "email" in deploy.columns()

    # retire v1: nothing protected uses email any more (v2 is live and does not)
    v1.close()
    retired = forked.run(["versions", "retire", "orders@1", "--admin", deploy.proxy.admin_url])
    assert retired.returncode == 0, retired.stderr
    with psycopg.connect(deploy.url(), autocommit=True) as conn:
        conn.execute(DROP_EMAIL)
    assert "email" not in deploy.columns()
    v2.close()
    decisions = json.loads(deploy.proxy.get("/api/decisions"))["decisions"]
    assert [d["decision"] for d in decisions[:2]] == ["allow", "block"]
    assert decisions[1]["statements"] == [DROP_EMAIL]
    page = deploy.proxy.get("/")  # the status page shows the versions and the decisions
    assert "<td>orders</td><td>1</td>" in page and "retired" in page
    assert "<td>block</td>" in page and "DROP COLUMN email" in page


def test_a_retired_version_still_connected_is_unprotected_and_flagged(deploy: Deploy) -> None:
    """`retire --force` of a running version: DDL may break it now (DESIGN.md: minus
    versions explicitly retired), and the operator hears of it everywhere they look."""
    v1 = _learn(deploy, "orders@1", "SELECT email FROM users WHERE id = 1")
    retire = forked.run(
        ["versions", "retire", "orders@1", "--force", "--admin", deploy.proxy.admin_url]
    )
    assert retire.returncode == 0, retire.stderr
    with psycopg.connect(deploy.url(), autocommit=True) as conn:
        conn.execute(DROP_EMAIL)  # nothing protected reads email
    with pytest.raises(errors.UndefinedColumn):
        v1.execute("SELECT email FROM users WHERE id = 1")
    row = next(
        r
        for r in json.loads(deploy.proxy.get("/api/versions?facets=0"))["versions"]
        if (r["app"], r["version"]) == ("orders", "1")
    )
    assert row["lifecycle"] == "retired" and row["protected"] is None
    assert row["live_connections"] == 1 and "not protected" in row["warning"]
    assert "skewguard_retired_versions_live 1.0" in deploy.proxy.get("/metrics")
    assert deploy.proxy.logfile is not None
    assert "orders@1 is retired but connected" in deploy.proxy.logfile.read_text()
    listing = forked.run(["versions", "list", "--admin", deploy.proxy.admin_url])
    assert listing.returncode == 0, listing.stderr
    assert "retired (CONNECTED: not protected)" in listing.stdout
    assert "not protected, so DDL may break it" in deploy.proxy.get("/")
    v1.close()


def test_rollback_target_stays_protected_after_its_last_connection(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    for deploy in _deploy(cluster, tmp_path, "--retain", "0s"):  # only live or rollback target
        v1 = _learn(deploy, "orders@1", "SELECT email FROM users")
        v1.close()
        v2 = _learn(deploy, "orders@2", "SELECT name FROM users")
        with (
            psycopg.connect(deploy.url(), autocommit=True) as conn,
            pytest.raises(errors.ObjectInUse) as blocked,
        ):
            conn.execute(DROP_EMAIL)
        assert "orders@1 (rollback-target)" in (blocked.value.diag.message_detail or "")
        v2.close()


def test_extended_protocol_pipeline_rolls_back_earlier_statements(deploy: Deploy) -> None:
    v1 = _learn(deploy, "orders@1", "SELECT email FROM users")
    # autocommit: the pipeline's statements share one implicit transaction up to Sync
    with (
        psycopg.connect(deploy.url(), autocommit=True) as conn,
        pytest.raises(errors.ObjectInUse),
        conn.pipeline(),
    ):
        conn.execute("INSERT INTO users (name) VALUES (%s)", ("before",))
        conn.execute(DROP_EMAIL)
        conn.execute("INSERT INTO users (name) VALUES (%s)", ("after",))
    # a transaction: the DDL is judged when COMMIT arrives in the pipeline
    with psycopg.connect(deploy.url()) as conn:
        with pytest.raises(errors.ObjectInUse), conn.pipeline():
            conn.execute("INSERT INTO users (name) VALUES (%s)", ("in-tx",))
            conn.execute(DROP_EMAIL)
            conn.commit()
        conn.rollback()
    with direct(deploy.cluster, dbname=deploy.database) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM users").fetchall()}
    assert names == {"Ann"}
    assert "email" in deploy.columns()
    v1.close()


def test_explicit_transaction_is_judged_at_commit_and_releases_locks(deploy: Deploy) -> None:
    v1 = _learn(deploy, "orders@1", "SELECT email FROM users")
    with psycopg.connect(deploy.url(), autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute(DROP_EMAIL)  # forwarded: other sessions see nothing until COMMIT
        with pytest.raises(errors.ObjectInUse):
            conn.execute("COMMIT")
        # the transaction is over and its locks are gone: v1 can read at once
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    v1.execute("SET statement_timeout = '5s'")
    assert v1.execute("SELECT email FROM users").fetchall() == [("a@x",)]
    assert "email" in deploy.columns()
    v1.close()


def test_rename_then_compat_view_in_one_transaction_is_safe(deploy: Deploy) -> None:
    v1 = _learn(deploy, "orders@1", "SELECT email, name FROM users")
    with psycopg.connect(deploy.url(), autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute("ALTER TABLE users RENAME TO people")
        conn.execute("CREATE VIEW users AS SELECT * FROM people")
        conn.execute("COMMIT")
    assert v1.execute("SELECT email, name FROM users").fetchall() == [("a@x", "Ann")]
    v1.close()


def test_override_for_listed_role_only(deploy: Deploy) -> None:
    v1 = _learn(deploy, "orders@1", "SELECT email FROM users")
    comment = '/* skewguard:allow reason="INC-42 hotfix" */ '
    with (
        psycopg.connect(deploy.url(user="migrator"), autocommit=True) as conn,
        pytest.raises(errors.ObjectInUse),
    ):
        conn.execute(comment + DROP_EMAIL)
    with psycopg.connect(deploy.url(), autocommit=True) as conn:
        conn.execute(comment + DROP_EMAIL)
    assert "email" not in deploy.columns()
    decisions = json.loads(deploy.proxy.get("/api/decisions"))["decisions"]
    assert decisions[0]["decision"] == "warn"
    assert decisions[0]["override_reason"] == "INC-42 hotfix"
    assert decisions[1]["decision"] == "block" and decisions[1]["role"] == "migrator"
    v1.close()


@pytest.mark.parametrize("mode", ["warn", "observe"])
def test_warn_and_observe_modes_let_it_through(
    cluster: LocalCluster, tmp_path: Path, mode: str
) -> None:
    for deploy in _deploy(cluster, tmp_path, "--mode", mode):
        v1 = _learn(deploy, "orders@1", "SELECT email FROM users")
        with psycopg.connect(deploy.url(), autocommit=True) as conn:
            conn.execute(DROP_EMAIL)
        assert "email" not in deploy.columns()
        decision = json.loads(deploy.proxy.get("/api/decisions"))["decisions"][0]
        assert decision["decision"] == ("warn" if mode == "warn" else "allow")
        assert any(f["severity"] == "break" for f in decision["findings"])
        v1.close()


def test_check_command_agrees_with_the_live_proxy(deploy: Deploy, tmp_path: Path) -> None:
    v1 = _learn(deploy, "orders@1", "SELECT email FROM users")
    breaking = tmp_path / "breaking.sql"
    breaking.write_text(DROP_EMAIL + ";\n")
    safe = tmp_path / "safe.sql"
    safe.write_text("ALTER TABLE users ADD COLUMN nickname text;\n")
    deploy.proxy.versions()  # flush what was learned into the state file
    for source in (
        ["--admin", deploy.proxy.admin_url],
        [
            "--state",
            str(deploy.proxy.state),
            "--upstream",
            deploy.cluster.url(database=deploy.database),
        ],
    ):
        results = []
        for path in (breaking, safe):
            proc = forked.run(["check", str(path), *source, "--format", "json"])
            results.append(proc.returncode)
            if path == breaking:
                finding = json.loads(proc.stdout)["findings"][0]
                assert "orders@1" in json.dumps(finding)
                assert finding["where"] == f"{path}:1:1"
        assert results == [1, 0], source
    with (
        psycopg.connect(deploy.url(), autocommit=True) as conn,
        pytest.raises(errors.ObjectInUse),
    ):
        conn.execute(DROP_EMAIL)
    v1.close()


def test_a_migration_runner_is_never_a_protected_version(deploy: Deploy) -> None:
    """migrator@2.0.0 (--migrator-apps default) reads email, then drops it: nothing blocks."""
    runner = _learn(deploy, "migrator@2.0.0", "SELECT email FROM users WHERE id = 1")
    runner.execute(DROP_EMAIL)
    runner.close()
    assert "email" not in deploy.columns()
    assert not any(key[1] == "migrator" for key in deploy.proxy.versions())


def test_the_refusal_reads_well_in_psql_and_in_postgres_log(deploy: Deploy) -> None:
    v1 = _learn(deploy, "orders@1", "SELECT email FROM users WHERE id = 1")
    refused = "ALTER TABLE users /* the contract step */ DROP COLUMN email"
    proc = subprocess.run(
        ["psql", "-X", "-d", deploy.url(), "-c", refused],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    v1.close()
    assert proc.returncode != 0
    first = proc.stderr.splitlines()[0]
    assert first == (
        "ERROR:  skewguard: dropping column public.users.email would break orders@1 (live)"
    ), proc.stderr
    assert "skewguard versions retire orders@1" in proc.stderr
    assert "CONTEXT" not in proc.stderr and "PL/pgSQL" not in proc.stderr
    assert "email" in deploy.columns()
    log = deploy.cluster.logfile.read_text()
    assert "skewguard refused: ALTER TABLE users / * the contract step * / DROP COLUMN" in log


@pytest.mark.parametrize("how", ["simple", "extended", "transaction"])
def test_the_refusal_carries_no_plpgsql_context(deploy: Deploy, how: str) -> None:
    """Whichever way the refusal is carried out, the client reads no CONTEXT line."""
    v1 = _learn(deploy, "orders@1", "SELECT email FROM users WHERE id = 1")
    with psycopg.connect(deploy.url(), autocommit=True) as conn:
        with pytest.raises(errors.ObjectInUse) as blocked:
            if how == "transaction":
                with conn.transaction():
                    conn.execute(DROP_EMAIL)
            else:
                conn.execute(DROP_EMAIL, prepare=how == "extended")
        assert blocked.value.diag.context is None, blocked.value.diag.context
        assert (blocked.value.diag.message_primary or "").startswith("skewguard: dropping column")
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the session goes on
    v1.close()
    assert "email" in deploy.columns()
