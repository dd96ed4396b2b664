"""Real migration runners through the proxy: a Django project and an Alembic project.

Each project lives under tests/projects/ and is copied to a temporary directory. Its
expand step runs untagged or tagged as a migrator (never a protected version); while
the app's tagged version reads the column, the runner's contract step fails with
skewguard's 55006 and its output says what to do; once that version is retired, the
same command runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import forked
from tests.support.clients import direct, tool_env, wait_for
from tests.support.proxy import ProxyProcess
from tests.support.sites import proxied_database

PROJECTS = Path(__file__).resolve().parents[1] / "projects"


def _copy(project: str, into: Path) -> Path:
    target = into / project
    shutil.copytree(PROJECTS / project, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=tool_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _columns(cluster: LocalCluster, database: str, table: str) -> set[str]:
    with direct(cluster, dbname=database) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        ).fetchall()
    return {str(r[0]) for r in rows}


def _app_reading_email(
    proxy: ProxyProcess, database: str, table: str
) -> psycopg.Connection[tuple[object, ...]]:
    """shop@1, live: it reads the column the contract step drops."""
    conn = psycopg.connect(proxy.url(database=database, application_name="shop@1"), autocommit=True)
    conn.execute(f"SELECT id, name, email FROM {table}").fetchall()
    return conn


def _retire(proxy: ProxyProcess, name: str) -> None:
    """Retire ``name`` once the proxy has seen its last connection close (until then it
    is live, and retiring it is refused)."""

    def retired() -> bool | None:
        done = forked.run(  # ready-imported: each try is not a python start of its own
            ["versions", "retire", name, "--admin", proxy.admin_url], tool_env(), timeout=60
        )
        assert done.returncode == 0 or "is live now" in done.stderr, done.stderr
        return done.returncode == 0 or None

    wait_for(retired, timeout=10.0, interval=0.1)


def _assert_refusal_reads_well(output: str, table: str) -> None:
    """The runner's output carries skewguard's own words: headline, version, ways forward."""
    assert f"skewguard: dropping column public.{table}.email" in output, output
    assert "would break shop@1 (live" in output, output
    assert "HINT:" in output and "skewguard versions retire shop@1" in output, output
    assert "PL/pgSQL" not in output, output


def _only_the_app_is_protected(proxy: ProxyProcess) -> None:
    """The runners' connections (untagged or migrator@…) are tracked as untagged: no
    migrator version, and nothing protected but the app."""
    rows = proxy.versions()
    assert {app for (_, app, _) in rows} == {"shop", "(untagged)"}
    assert {app for (_, app, _), row in rows.items() if row["protected"]} == {"shop"}


@pytest.fixture
def site(cluster: LocalCluster, tmp_path: Path) -> Iterator[tuple[str, ProxyProcess]]:
    """An empty database behind an enforcing proxy."""
    with proxied_database(cluster, tmp_path, "runners", "", "--mode", "enforce") as site:
        yield site


def test_django_contract_migration_waits_for_the_version_that_reads_the_field(
    cluster: LocalCluster, site: tuple[str, ProxyProcess], tmp_path: Path
) -> None:
    database, proxy = site
    project = _copy("django_shop", tmp_path)
    db = {"SHOP_DB_PORT": str(proxy.port), "SHOP_DB_NAME": database}

    expand = _run(["manage.py", "migrate", "shop", "0002"], project, **db)  # untagged
    assert expand.returncode == 0, expand.stderr
    assert {"email", "nickname"} <= _columns(cluster, database, "shop_customer")

    app = _app_reading_email(proxy, database, "shop_customer")
    contract = _run(["manage.py", "migrate", "shop"], project, PGAPPNAME="migrator@2", **db)
    assert contract.returncode != 0
    assert "OperationalError" in contract.stderr  # Django's wrapper of SQLSTATE 55006
    _assert_refusal_reads_well(contract.stderr, "shop_customer")
    assert "email" in _columns(cluster, database, "shop_customer")
    _only_the_app_is_protected(proxy)

    app.close()
    _retire(proxy, "shop@1")
    contract = _run(["manage.py", "migrate", "shop"], project, PGAPPNAME="migrator@2", **db)
    assert contract.returncode == 0, contract.stderr
    assert "Applying shop.0003_remove_email... OK" in contract.stdout
    assert "email" not in _columns(cluster, database, "shop_customer")


def test_alembic_contract_revision_waits_for_the_version_that_reads_the_column(
    cluster: LocalCluster, site: tuple[str, ProxyProcess], tmp_path: Path
) -> None:
    database, proxy = site
    with direct(cluster, dbname=database) as conn:  # the table Alembic's project starts from
        conn.execute("CREATE TABLE customer (id serial PRIMARY KEY, name text, email text)")
    project = _copy("alembic_shop", tmp_path)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{database}"
    migrator = {"SHOP_DATABASE_URL": f"{url}?application_name=migrator%402"}  # @ escaped in a URL
    alembic = ["-m", "alembic", "-c", "alembic.ini", "upgrade"]

    expand = _run([*alembic, "a1"], project, **migrator)
    assert expand.returncode == 0, expand.stderr
    assert "nickname" in _columns(cluster, database, "customer")

    app = _app_reading_email(proxy, database, "customer")
    contract = _run([*alembic, "head"], project, SHOP_DATABASE_URL=url)  # untagged
    assert contract.returncode != 0
    assert "sqlalchemy.exc.OperationalError" in contract.stderr
    assert "(psycopg.errors.ObjectInUse)" in contract.stderr  # SQLSTATE 55006
    _assert_refusal_reads_well(contract.stderr, "customer")
    assert "email" in _columns(cluster, database, "customer")
    _only_the_app_is_protected(proxy)

    app.close()
    _retire(proxy, "shop@1")
    contract = _run([*alembic, "head"], project, SHOP_DATABASE_URL=url)
    assert contract.returncode == 0, contract.stderr
    assert "Running upgrade a1 -> a2" in contract.stderr
    assert "email" not in _columns(cluster, database, "customer")
