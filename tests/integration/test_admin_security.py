"""The admin API against a hostile network: tokens, the loopback rule, cross-site requests,
bounds, pruning, and retiring a live version (a real proxy process, real HTTP)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from skewguard.store import PostgresStore, SqliteStore
from tests.support import forked
from tests.support.clients import direct, unique
from tests.support.clusters import one_major
from tests.support.proxy import ProxyProcess

pytestmark = one_major()

WRITE = "write-token-" + "a" * 20
READ = "read-token-" + "b" * 20
JSON = {"Content-Type": "application/json"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


def http(
    proxy: ProxyProcess,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str | None] | None = None,
    token: str | None = None,
) -> Answer:
    """One raw HTTP/1.1 request (so Host and every header are exactly what the test says)."""
    sent = {"Host": f"127.0.0.1:{proxy.admin_port}", "Connection": "close", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if body is not None:
        sent["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in sent.items() if v is not None
    )
    with socket.create_connection(("127.0.0.1", proxy.admin_port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + (body or b""))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    status_line, _, rest = raw.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    try:
        parsed = json.loads(payload) if payload.strip() else {}
    except ValueError:
        parsed = {"text": payload.decode(errors="replace")}
    return Answer(int(status_line.split()[1]), parsed)


def post(proxy: ProxyProcess, path: str, value: object = None, **kw: Any) -> Answer:
    headers = {**JSON, **kw.pop("headers", {})}
    body = json.dumps(value if value is not None else {}).encode()
    return http(proxy, "POST", path, body=body, headers=headers, **kw)


@pytest.fixture
def database(cluster: LocalCluster) -> Iterator[str]:
    name = unique("admin")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    with direct(cluster, dbname=name) as conn:
        conn.execute("CREATE TABLE users (id int PRIMARY KEY, email text, note text)")
    yield name
    with direct(cluster) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _proxy(
    cluster: LocalCluster,
    database: str,
    tmp_path: Path,
    *args: str,
    admin_host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    state: Path | None = None,
) -> ProxyProcess:
    return ProxyProcess(
        upstream=cluster.url(database=database),
        extra_args=list(args),
        admin_host=admin_host,
        env=env or {},
        logfile=tmp_path / "proxy.log",
        state=state or tmp_path / "state.db",
    ).start()


@pytest.fixture
def exposed(cluster: LocalCluster, database: str, tmp_path: Path) -> Iterator[ProxyProcess]:
    """Admin on every interface (0.0.0.0), no token configured."""
    proxy = _proxy(cluster, database, tmp_path, admin_host="0.0.0.0")
    yield proxy
    proxy.stop()


@pytest.fixture
def guarded(cluster: LocalCluster, database: str, tmp_path: Path) -> Iterator[ProxyProcess]:
    """Admin on every interface with a write token (file) and a read token (environment)."""
    token_file = tmp_path / "admin-token"
    token_file.write_text(WRITE + "\n")
    proxy = _proxy(
        cluster,
        database,
        tmp_path,
        "--admin-token-file",
        str(token_file),
        admin_host="0.0.0.0",
        env={"SKEWGUARD_ADMIN_READ_TOKEN": READ},
    )
    yield proxy
    proxy.stop()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The admin API's CLI client, forked ready-imported, with only ``env``'s settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SKEWGUARD_")}
    return forked.run(args, {**clean, **(env or {})}, timeout=60)


def test_without_a_token_changes_are_refused_beyond_loopback(exposed: ProxyProcess) -> None:
    for path in ("/api/versions/shop@1/pin", "/api/versions/shop@1/retire", "/api/check"):
        answer = post(exposed, path, {"sql": "DROP TABLE users"})
        assert answer.status == 403, path
        assert "--admin-token-file" in answer.body["error"]
    assert http(exposed, "GET", "/api/versions").status == 200  # reads stay open
    assert "listens beyond loopback" in exposed.log_tail()
    pinned = _cli("versions", "pin", "shop@1", "--admin", exposed.admin_url)
    assert pinned.returncode == 2 and "--admin-token-file" in pinned.stderr


def test_the_write_token_allows_changes_and_nothing_else_does(
    guarded: ProxyProcess, tmp_path: Path
) -> None:
    path = "/api/versions/shop@1/pin"
    assert post(guarded, path, token=WRITE).status == 200
    assert post(guarded, path).status == 401  # missing
    assert post(guarded, path, token="wrong-token-" + "c" * 20).status == 401
    assert post(guarded, path, token=READ).status == 403  # a read token cannot change
    evil = {"Origin": "http://evil.example"}
    assert post(guarded, path, token=WRITE, headers=evil).status == 403  # cross-origin
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert http(guarded, "POST", path, body=b"a=1", headers=form, token=WRITE).status == 415
    cross_form = {**form, **evil}  # what a foreign page's <form> sends
    assert http(guarded, "POST", path, body=b"a=1", headers=cross_form).status == 403
    plain = {"Content-Type": "text/plain"}
    sql = b"DROP TABLE users"
    assert http(guarded, "POST", "/api/check", body=sql, headers=plain, token=WRITE).status == 415
    no_host: dict[str, str | None] = {"Host": None, **JSON}
    assert http(guarded, "POST", path, body=b"{}", headers=no_host, token=WRITE).status == 400
    # the CLI sends the token from the same file or variable
    token_file = tmp_path / "cli-token"
    token_file.write_text(WRITE)
    ok = _cli("versions", "unpin", "shop@1", "--admin", guarded.admin_url,
              "--admin-token-file", str(token_file))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    ok = _cli("versions", "pin", "shop@2", "--admin", guarded.admin_url,
              env={"SKEWGUARD_ADMIN_TOKEN": WRITE})  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    refused = _cli("versions", "pin", "shop@2", "--admin", guarded.admin_url)
    assert refused.returncode == 2 and "401" in refused.stderr
    listed = _cli(
        "versions", "--admin", guarded.admin_url, env={"SKEWGUARD_ADMIN_READ_TOKEN": READ}
    )
    assert listed.returncode == 0, listed.stderr


def test_reads_need_the_read_token_when_one_is_set(guarded: ProxyProcess) -> None:
    for path in ("/api/versions", "/api/decisions", "/metrics", "/"):
        assert http(guarded, "GET", path).status == 401, path
        assert http(guarded, "GET", path, token="wrong-token-" + "c" * 20).status == 401, path
        assert http(guarded, "GET", path, token=READ).status == 200, path
        assert http(guarded, "GET", path, token=WRITE).status == 200, path
    assert http(guarded, "GET", "/healthz").status == 200  # liveness probes carry no token
    assert "listens beyond loopback" not in guarded.log_tail()


def test_a_loopback_listener_takes_changes_without_a_token_from_loopback_names_only(
    cluster: LocalCluster, database: str, tmp_path: Path
) -> None:
    proxy = _proxy(cluster, database, tmp_path)
    try:
        path = "/api/versions/shop@1/pin"
        assert post(proxy, path).status == 200
        rebound = {"Host": f"rebound.example:{proxy.admin_port}"}  # DNS rebinding
        assert post(proxy, path, headers=rebound).status == 403
        assert http(proxy, "GET", "/api/versions", headers=rebound).status == 403
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert http(proxy, "POST", path, body=b"x=1", headers=form).status == 415
        assert "listens beyond loopback" not in proxy.log_tail()
    finally:
        proxy.stop()


def test_bodies_and_pages_are_bounded(cluster: LocalCluster, database: str, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    store = SqliteStore(str(state))
    now = time.time()
    for n in range(1500):
        store.record_decision({"at": now, "decision": "allow", "n": n, "statements": []})
    store.close()
    proxy = _proxy(cluster, database, tmp_path, state=state)
    try:
        big = json.dumps({"sql": "SELECT 1 -- " + "x" * (1024 * 1024)}).encode()
        assert http(proxy, "POST", "/api/check", body=big, headers=JSON).status == 413
        big = json.dumps({"force": False, "pad": "x" * 70_000}).encode()
        pin = "/api/versions/shop@1/pin"
        assert http(proxy, "POST", pin, body=big, headers=JSON).status == 413
        bomb = b"[" * 50_000 + b"]" * 50_000  # nested past Python's recursion limit
        assert http(proxy, "POST", "/api/check", body=bomb, headers=JSON).status == 400
        page = http(proxy, "GET", "/api/decisions?limit=100000").body
        assert len(page["decisions"]) == 1000 and page["next_before"] is not None
        rest = http(proxy, "GET", f"/api/decisions?limit=1000&before={page['next_before']}")
        ids = {d["id"] for d in page["decisions"]} | {d["id"] for d in rest.body["decisions"]}
        assert len(ids) == 1500 and rest.body["next_before"] is None
        assert http(proxy, "GET", "/api/decisions?limit=ten").status == 400
        for app in ("a@1", "b@1", "c@1"):
            with psycopg.connect(proxy.dsn(dbname=database, application_name=app)) as conn:
                conn.execute("SELECT id FROM users").fetchall()
        first = http(proxy, "GET", "/api/versions?facets=0&limit=2").body
        assert len(first["versions"]) == 2 and first["next_offset"] == 2
        second = http(proxy, "GET", "/api/versions?facets=0&limit=2&offset=2").body
        assert len(second["versions"]) == 1 and second["next_offset"] is None
        listed = _cli("versions", "--admin", proxy.admin_url, "--json")  # follows the pages
        assert {r["app"] for r in json.loads(listed.stdout)["versions"]} == {"a", "b", "c"}
    finally:
        proxy.stop()


def test_audited_decisions_are_pruned_by_age_and_count(
    cluster: LocalCluster, database: str, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    store = SqliteStore(str(state))
    now = time.time()
    for n in range(30):  # ten from two days ago, twenty from now
        store.record_decision({"at": now - (2 * 86400 if n < 10 else 0), "decision": "allow"})
    store.close()
    proxy = _proxy(
        cluster, database, tmp_path, "--audit-retention", "1d", "--audit-max-rows", "15",
        state=state,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            kept = http(proxy, "GET", "/api/decisions?limit=1000").body["decisions"]
            if len(kept) == 15:
                break
            time.sleep(0.1)
        assert len(kept) == 15
        assert all(d["at"] > now - 60 for d in kept)
        assert "pruned 15 audited decision(s)" in proxy.log_tail()
    finally:
        proxy.stop()


def test_retiring_a_live_version_needs_force(guarded: ProxyProcess, database: str) -> None:
    with psycopg.connect(guarded.dsn(dbname=database, application_name="shop@1")) as conn:
        conn.execute("SELECT email FROM users").fetchall()
        refused = post(guarded, "/api/versions/shop@1/retire", token=WRITE)
        assert refused.status == 409
        assert "live now" in refused.body["error"] and "force" in refused.body["error"]
        never_seen = post(guarded, "/api/versions/shop@2/retire", token=WRITE)
        assert never_seen.status == 200 and never_seen.body["seen"] is False
        cli = _cli("versions", "retire", "shop@1", "--admin", guarded.admin_url,
                   env={"SKEWGUARD_ADMIN_TOKEN": WRITE})  # fmt: skip
        assert cli.returncode == 2 and "409" in cli.stderr
        assert "skewguard versions retire --force" in cli.stderr  # what the CLI user types
        forced = post(guarded, "/api/versions/shop@1/retire", {"force": True}, token=WRITE)
        assert forced.status == 200
        assert post(guarded, "/api/versions/shop@1/unpin?force=true", token=WRITE).status == 200
        cli = _cli("versions", "retire", "shop@1", "--force", "--admin", guarded.admin_url,
                   env={"SKEWGUARD_ADMIN_TOKEN": WRITE})  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert "not been seen" not in cli.stderr
        typo = _cli("versions", "retire", "shop@1.0", "--admin", guarded.admin_url,
                    env={"SKEWGUARD_ADMIN_TOKEN": WRITE})  # fmt: skip
        assert typo.returncode == 0 and "shop@1.0 has not been seen" in typo.stderr
    rows = http(guarded, "GET", "/api/versions?facets=0", token=READ).body["versions"]
    assert {(r["app"], r["version"]): r["lifecycle"] for r in rows}[("shop", "1")] == "retired"


def test_the_shared_store_pages_and_prunes_decisions(cluster: LocalCluster, database: str) -> None:
    store = PostgresStore(cluster.url(database=database, sslmode="disable"))
    try:
        now = time.time()
        for n in range(10):  # two old, eight recent
            store.record_decision({"at": now - (100 if n < 2 else 0), "decision": "allow", "n": n})
        newest = store.decisions(3)
        assert [d["n"] for d in newest] == [9, 8, 7]
        assert [d["n"] for d in store.decisions(3, before=newest[-1]["id"])] == [6, 5, 4]
        assert store.prune_decisions(now - 50, keep=0) == 2
        assert store.prune_decisions(0, keep=5) == 3
        assert [d["n"] for d in store.decisions(100)] == [9, 8, 7, 6, 5]
        assert [i for i, _ in store.decision_texts(2)] == [d["id"] for d in store.decisions(2)]
    finally:
        store.close()


def test_client_commands_find_the_proxy_through_env_or_its_config(
    guarded: ProxyProcess, database: str, tmp_path: Path
) -> None:
    """No --admin flag: SKEWGUARD_ADMIN, or the proxy's own TOML file (admin_listen)."""
    with psycopg.connect(guarded.dsn(dbname=database, application_name="shop@1")) as conn:
        conn.execute("SELECT email FROM users").fetchall()
        env = {"SKEWGUARD_ADMIN": guarded.admin_url, "SKEWGUARD_ADMIN_TOKEN": READ}
        by_env = _cli("versions", "--format", "json", env=env)
        assert by_env.returncode == 0, by_env.stderr
        listed = json.loads(by_env.stdout)["versions"]
        assert ("shop", "1") in {(v["app"], v["version"]) for v in listed}
        config = tmp_path / "skewguard.toml"
        config.write_text(f'[run]\nadmin_listen = "0.0.0.0:{guarded.admin_port}"\n')
        migration = tmp_path / "contract.sql"
        migration.write_text("ALTER TABLE users DROP COLUMN email;\n")
        by_file = _cli("check", "--config", str(config), "--database", database, str(migration),
                       env={"SKEWGUARD_ADMIN_TOKEN": WRITE})  # fmt: skip
        assert by_file.returncode == 1, by_file.stdout + by_file.stderr
        assert "shop@1" in by_file.stdout
