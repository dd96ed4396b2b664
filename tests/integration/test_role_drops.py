"""Dropping a role, or a membership, is judged by who loses what (enforce mode).

A role that owns or holds anything cannot be dropped (PostgreSQL refuses,
2BP01), so what a drop takes away is logging in as the role, and what its
members held through it. The proxy reads role memberships with the catalog:
a live version connecting as the role or as one of its members, directly or
through other roles, is protected; a role no protected version can reach is
dropped (as a client suite's bootstrap does, ``DROP USER IF EXISTS ...``).
PostgreSQL is the judge: the version that would break is shown failing after
the same change made directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration


@dataclass
class Roles:
    """owner holds SELECT on t; grp is a member of owner; app (the version's login)
    of grp; loner has no members and nothing a version uses."""

    owner: str
    grp: str
    app: str
    loner: str

    def all(self) -> list[str]:
        return [self.app, self.grp, self.owner, self.loner]


@dataclass
class Setup:
    cluster: LocalCluster
    database: str
    proxy: ProxyProcess
    roles: Roles
    live: psycopg.Connection[tuple[object, ...]]

    def migrate(self, sql: str) -> str | None:
        """Run ``sql`` through the proxy untagged; the SQLSTATE it failed with, or None."""
        url = self.proxy.url(database=self.database, application_name="migrate")
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                conn.execute(sql)
            except psycopg.Error as exc:
                return exc.sqlstate
        return None

    def role_exists(self, role: str) -> bool:
        with direct(self.cluster) as conn:
            row = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,))
            return row.fetchone() == (1,)


@pytest.fixture
def setup(cluster: LocalCluster, tmp_path: Path) -> Iterator[Setup]:
    database = unique("roles")
    roles = Roles(*(unique(name) for name in ("owner", "grp", "app", "loner")))
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
        conn.execute(f"CREATE ROLE {roles.owner}")
        conn.execute(f"CREATE ROLE {roles.grp} IN ROLE {roles.owner}")
        conn.execute(f"CREATE ROLE {roles.app} LOGIN IN ROLE {roles.grp}")
        conn.execute(f"CREATE ROLE {roles.loner} LOGIN")
    with direct(cluster, dbname=database) as conn:
        conn.execute(f"CREATE TABLE t (id int); GRANT SELECT ON t TO {roles.owner}")
    proxy = ProxyProcess(
        upstream=cluster.url(database=database),
        state=tmp_path / "state.db",
        logfile=tmp_path / "proxy.log",
    ).start()
    live = psycopg.connect(
        proxy.url(database=database, application_name="shop@1", user=roles.app),
        autocommit=True,
    )
    live.execute("SELECT id FROM t").fetchall()
    try:
        yield Setup(cluster, database, proxy, roles, live)
    finally:
        live.close()
        proxy.stop()
        with direct(cluster) as conn:
            conn.execute(f"DROP DATABASE {database} WITH (FORCE)")
            for role in roles.all():
                conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_role_no_version_reaches_is_dropped(setup: Setup) -> None:
    assert setup.migrate(f"DROP USER IF EXISTS {setup.roles.loner}") is None
    assert not setup.role_exists(setup.roles.loner)


def test_a_group_a_live_version_holds_through_is_kept(setup: Setup) -> None:
    assert setup.migrate(f"DROP ROLE {setup.roles.grp}") == "55006"
    assert setup.role_exists(setup.roles.grp)
    assert setup.migrate(f"REVOKE {setup.roles.owner} FROM {setup.roles.grp}") == "55006"
    # PostgreSQL's verdict on the same change, made directly: the version breaks
    with direct(setup.cluster) as conn:
        conn.execute(f"DROP ROLE {setup.roles.grp}")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        setup.live.execute("SELECT id FROM t")


def test_memberships_changed_later_are_read_again(setup: Setup) -> None:
    r = setup.roles
    with direct(setup.cluster) as conn:  # the version now holds SELECT through loner alone
        conn.execute(f"REVOKE {r.grp} FROM {r.app}")
        conn.execute(f"GRANT {r.owner} TO {r.loner}")
        conn.execute(f"GRANT {r.loner} TO {r.app}")
    setup.live.execute("SELECT id FROM t").fetchall()
    assert setup.migrate(f"DROP ROLE {r.grp}") is None  # no version reaches it any more
    assert setup.migrate(f"DROP ROLE {r.loner}") == "55006"
    assert setup.role_exists(r.loner)
    with direct(setup.cluster) as conn:
        conn.execute(f"DROP ROLE {r.loner}")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        setup.live.execute("SELECT id FROM t")
