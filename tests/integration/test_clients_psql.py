"""psql through the proxy behaves exactly as psql straight to PostgreSQL."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from skewguard.pgcluster import LocalCluster
from tests.support.clients import direct, direct_dsn, mask_ports, psql, tool_env
from tests.support.clusters import MD5_USER, SCRAM_USER
from tests.support.proxy import ProxyProcess


class Psql(NamedTuple):
    program: str
    env: dict[str, str]
    major: int


@pytest.fixture(params=["psql15", "psql18"])
def any_psql(request: pytest.FixtureRequest, psql_bin: str) -> Psql:
    """Both client generations: they query the catalogs and negotiate differently."""
    if request.param == "psql15":
        return Psql(psql_bin, tool_env(), 15)
    program, env = request.getfixturevalue("psql18")
    return Psql(program, env, 18)


def normalize(text: str, ports: tuple[int, int]) -> str:
    """Mask what legitimately differs between two sessions: ports, temp schema numbers."""
    return re.sub(r"pg_temp_\d+", "pg_temp_N", mask_ports(text, *ports))


def both(
    client: Psql,
    cluster: LocalCluster,
    proxy: ProxyProcess,
    *args: str,
    stdin: str | None = None,
    before: Callable[[], object] | None = None,
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """Run the same psql invocation directly and through the proxy (ports masked).

    ``before`` runs ahead of each of the two runs (to reset shared state).
    """
    ports = (cluster.port, proxy.port)
    results = []
    for dsn in (direct_dsn(cluster), proxy.dsn(sslmode="disable")):
        if before is not None:
            before()
        done = psql(client.program, dsn, *args, stdin=stdin, env=client.env)
        results.append(
            (done.returncode, normalize(done.stdout, ports), normalize(done.stderr, ports))
        )
    return results[0], results[1]


def test_meta_commands_match_direct(
    any_psql: Psql, cluster: LocalCluster, proxy: ProxyProcess, table: str
) -> None:
    with direct(cluster) as conn:
        conn.execute(f"create index on {table} (note)")
        conn.execute(f"comment on table {table} is 'meta-command probe'")
    for command in (r"\dt+", rf"\d {table}", r"\l", r"\df pg_sleep", r"\dn"):
        plain, proxied = both(any_psql, cluster, proxy, "-c", command)
        assert proxied == plain, command
        if any_psql.major >= cluster.install.major:  # an older psql may not know newer catalogs
            assert plain[0] == 0, plain
    plain, _ = both(any_psql, cluster, proxy, "-c", rf"\d {table}")
    assert f'Table "public.{table}"' in plain[1]
    assert f"{table}_note_idx" in plain[1]


def test_multi_statement_command(
    psql_bin: str, cluster: LocalCluster, proxy: ProxyProcess, table: str
) -> None:
    client = Psql(psql_bin, tool_env(), 15)

    def reset() -> None:
        with direct(cluster) as conn:
            conn.execute(f"truncate {table}")

    sql = (
        f"insert into {table} values (1, 'a'), (2, 'b'); "
        f"select count(*) from {table}; "
        f"update {table} set note = note || '!' returning id, note; "
        "select current_setting('application_name')"
    )
    plain, proxied = both(client, cluster, proxy, "-At", "-c", sql, before=reset)
    assert proxied == plain == (0, "INSERT 0 2\n2\n1|a!\n2|b!\nUPDATE 2\npsql\n", "")

    # One Query message is one implicit transaction: a failure undoes the earlier statements.
    failing = f"insert into {table} values (10, 'x'); insert into {table} values (10, 'y')"
    plain, proxied = both(client, cluster, proxy, "-c", failing, before=reset)
    assert proxied == plain
    assert plain[0] == 1
    assert "duplicate key value violates unique constraint" in plain[2]
    with direct(cluster) as conn:
        assert conn.execute(f"select count(*) from {table}").fetchone() == (0,)

    ok = "select 1 as one; select 'two' as two; select 3 as three"
    plain, proxied = both(client, cluster, proxy, "-At", "-c", ok)
    assert proxied == plain == (0, "1\ntwo\n3\n", "")


def test_copy_in_and_out(
    psql_bin: str, cluster: LocalCluster, proxy: ProxyProcess, table: str, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    rows = [
        [str(i), f'row {i}, "quoted"\nsecond line ünïcødé' if i % 7 == 0 else f"row {i}"]
        for i in range(1, 20001)
    ]
    rows[41][1] = ""  # NULL in CSV
    with source.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    client_dsn = proxy.dsn(sslmode="require")
    done = psql(psql_bin, client_dsn, "-c", rf"\copy {table} from '{source}' csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "COPY 20000"
    with direct(cluster) as conn:
        assert conn.execute(f"select count(*), count(note) from {table}").fetchone() == (
            20000,
            19999,
        )

    outputs = {}
    for name, dsn in (("direct", direct_dsn(cluster)), ("proxy", client_dsn)):
        target = tmp_path / f"out-{name}.csv"
        query = rf"\copy (select * from {table} order by id) to '{target}' csv"
        done = psql(psql_bin, dsn, "-c", query)
        assert done.returncode == 0, done.stderr
        outputs[name] = target.read_bytes()
    assert outputs["proxy"] == outputs["direct"] == source.read_bytes()


ERROR_SCRIPT = r"""
\set VERBOSITY verbose
create temp table u (id int primary key, n int check (n > 0));
selec 1;
select * from no_such_table;
insert into u values (1, 1), (1, 2);
insert into u values (2, -1);
select 1 / 0;
do $$ begin raise notice 'just a notice'; end $$;
do $$ begin raise exception using errcode = 'P0042', message = 'custom failure',
  detail = 'some detail', hint = 'some hint'; end $$;
begin;
select 1 / 0;
select 1;
rollback;
select 'still alive';
"""


def test_errors_match_direct(any_psql: Psql, cluster: LocalCluster, proxy: ProxyProcess) -> None:
    plain, proxied = both(any_psql, cluster, proxy, stdin=ERROR_SCRIPT)
    assert proxied == plain
    code, out, err = plain
    assert code == 0
    assert "still alive" in out
    for expected in (
        "ERROR:  42601: syntax error",
        'ERROR:  42P01: relation "no_such_table" does not exist',
        "ERROR:  23505: duplicate key value",
        "ERROR:  23514: new row for relation",
        "ERROR:  22012: division by zero",
        "NOTICE:  00000: just a notice",
        "ERROR:  P0042: custom failure",
        "DETAIL:  some detail",
        "HINT:  some hint",
        "ERROR:  25P02: current transaction is aborted",
    ):
        assert expected in err, expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"dbname": "no_such_db"}, 'database "no_such_db" does not exist'),
        ({"user": "no_such_role"}, 'role "no_such_role" does not exist'),
        ({"user": MD5_USER, "password": "wrong"}, "password authentication failed"),
        ({"user": SCRAM_USER, "password": "wrong"}, "password authentication failed"),
    ],
)
def test_connection_errors_match_direct(
    psql_bin: str,
    cluster: LocalCluster,
    proxy: ProxyProcess,
    params: dict[str, str],
    expected: str,
) -> None:
    outcomes = []
    for dsn in (direct_dsn(cluster, **params), proxy.dsn(sslmode="disable", **params)):
        done = psql(psql_bin, dsn, "-c", "select 1")
        outcomes.append((done.returncode, mask_ports(done.stderr, cluster.port, proxy.port)))
    assert outcomes[1] == outcomes[0]
    assert outcomes[0][0] == 2
    assert expected in outcomes[0][1]


def test_sslmode_require_terminated_by_proxy(psql_bin: str, proxy: ProxyProcess) -> None:
    done = psql(psql_bin, proxy.dsn(sslmode="require"), "-c", r"\conninfo")
    assert done.returncode == 0, done.stderr
    assert "SSL connection (protocol: TLSv1." in done.stdout

    done = psql(psql_bin, proxy.dsn(sslmode="disable"), "-c", r"\conninfo")
    assert done.returncode == 0, done.stderr
    assert "SSL connection" not in done.stdout


def test_sslnegotiation_direct_psql18(
    psql18: tuple[str, dict[str, str]], proxy: ProxyProcess
) -> None:
    program, env = psql18
    key = ("skewguard_tls_handshakes_total", (("kind", "direct"),))
    before = proxy.metrics().get(key, 0.0)
    dsn = proxy.dsn(sslmode="require", sslnegotiation="direct")
    done = psql(program, dsn, "-c", r"\conninfo", "-c", "select 'over direct tls'", env=env)
    assert done.returncode == 0, done.stderr
    assert "over direct tls" in done.stdout
    info = {
        cells[0].strip(): cells[1].strip()
        for line in done.stdout.splitlines()
        if len(cells := line.split("|")) == 2
    }
    assert info["SSL Connection"] == "true"
    assert info["ALPN"] == "postgresql"
    assert proxy.metrics()[key] == before + 1


def test_replication_connection_identify_system(
    psql_bin: str, cluster: LocalCluster, proxy: ProxyProcess
) -> None:
    results = []
    for dsn in (direct_dsn(cluster), proxy.dsn(sslmode="require")):
        done = psql(psql_bin, dsn + " replication='database'", "-At", "-c", "IDENTIFY_SYSTEM")
        assert done.returncode == 0, done.stderr
        systemid, timeline, _lsn, dbname = done.stdout.strip().split("|")
        results.append((systemid, timeline, dbname))
    assert results[1] == results[0]
    assert results[0][2] == "postgres"
    assert results[0][0].isdigit()
