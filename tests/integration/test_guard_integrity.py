"""No way around the guard: every statement is judged as PostgreSQL will run it.

A live version (``shop@1``) reads ``users.email``; every attack below tries to
drop that column through the proxy in enforce mode. PostgreSQL is the judge:
after each one the column must still exist (checked directly), and the client
must have seen the 55006 refusal or a protocol error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clients import direct, unique
from tests.support.proxy import ProxyProcess

pytestmark = pytest.mark.integration

DROP = "ALTER TABLE users DROP COLUMN email"
SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text, name text);
INSERT INTO users (email, name) VALUES ('a@x', 'Ann');
CREATE SCHEMA archive;
CREATE TABLE archive.users (id int, email text);
"""


@dataclass
class Guarded:
    cluster: LocalCluster
    database: str
    proxy: ProxyProcess
    live: psycopg.Connection[tuple[object, ...]]

    def startup(self) -> dict[str, str]:
        return {"user": "postgres", "database": self.database, "application_name": "migrate"}

    def client(self) -> rc.RawClient:
        return rc.RawClient("127.0.0.1", self.proxy.port, timeout=15)

    def ready_client(self) -> rc.RawClient:
        client = self.client()
        replies = client.startup(self.startup())
        assert replies[-1].type == "Z", replies
        return client

    def email_exists(self) -> bool:
        with direct(self.cluster, dbname=self.database) as conn:
            row = conn.execute(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = 'users' "
                "AND column_name = 'email'"
            ).fetchone()
        assert row is not None
        return row[0] == 1


@pytest.fixture(scope="module")
def guarded(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    database = unique("integrity")
    with direct(cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    with direct(cluster, dbname=database) as conn:
        conn.execute(SCHEMA)
    workdir: Path = tmp_path_factory.mktemp("integrity")
    proxy = ProxyProcess(
        upstream=cluster.url(database=database),
        state=workdir / "state.db",
        logfile=workdir / "proxy.log",
    ).start()
    live = psycopg.connect(proxy.url(database=database, application_name="shop@1"), autocommit=True)
    live.execute("SELECT email FROM users WHERE id = 1").fetchall()
    yield Guarded(cluster, database, proxy, live)
    live.close()
    proxy.stop()


def _outcome(client: rc.RawClient) -> str:
    """The SQLSTATE the client saw first (or 'closed' when the proxy ended the connection)."""
    try:
        replies = client.read_until("Z", "E")
        if replies[-1].type == "E":
            code = replies[-1].fields()["C"]
            client.read_ready()
            return code
        return "ok"
    except rc.ConnectionClosed as closed:
        errors = [r.fields()["C"] for r in rc.messages_of(closed.partial) if r.type == "E"]
        return errors[0] if errors else "closed"


def _error(client: rc.RawClient) -> dict[str, str]:
    """The fields of the ErrorResponse the client reads next (then its ReadyForQuery)."""
    replies = client.read_until("Z", "E")
    assert replies[-1].type == "E", replies
    error = replies[-1].fields()
    client.read_ready()
    return error


def _assert_held(guarded: Guarded, outcome: str) -> None:
    assert guarded.email_exists(), f"the column was dropped (client saw {outcome})"
    assert outcome in ("55006", "08P01", "closed"), outcome
    guarded.live.execute("SELECT email FROM users WHERE id = 1").fetchall()


def _split_send(client: rc.RawClient, data: bytes, at: int) -> None:
    client.send(data[:at])
    time.sleep(0.005)  # separate TCP segments (TCP_NODELAY is on)
    client.send(data[at:])


@pytest.mark.parametrize("at", range(1, 17))
def test_simple_query_split_at_every_byte(guarded: Guarded, at: int) -> None:
    with guarded.ready_client() as client:
        _split_send(client, rc.query(DROP), at)
        _assert_held(guarded, _outcome(client))
        client.send(rc.query("SELECT 1"))  # the stream is still read in step
        assert _outcome(client) == "ok"


@pytest.mark.parametrize("at", [1, 3, 5, 9, 16])
@pytest.mark.parametrize("name", ["", "named"])
def test_extended_query_split(guarded: Guarded, at: int, name: str) -> None:
    data = rc.parse(DROP, name) + rc.bind(statement=name) + rc.execute() + rc.sync()
    with guarded.ready_client() as client:
        _split_send(client, data, at)
        outcome = _outcome(client)
        _assert_held(guarded, outcome)


def test_a_refused_execute_reads_as_postgresql_would(guarded: Guarded) -> None:
    """ParseComplete, BindComplete, the error, ReadyForQuery: nothing the proxy added."""
    with guarded.ready_client() as client:
        client.send(rc.parse(DROP) + rc.bind() + rc.execute() + rc.sync())
        replies = client.read_ready()
        assert [r.type for r in replies] == ["1", "2", "E", "Z"], replies
        assert replies[2].fields()["C"] == "55006"
        assert guarded.email_exists()
        client.send(rc.parse("SELECT 41 + 1") + rc.bind() + rc.execute() + rc.sync())
        assert [r.type for r in client.read_ready()] == ["1", "2", "D", "C", "Z"]


def test_ddl_glued_to_the_startup_message(guarded: Guarded) -> None:
    with guarded.client() as client:
        client.send(rc.startup(guarded.startup()) + rc.query(DROP))
        client.read_ready()  # the end of authentication
        _assert_held(guarded, _outcome(client))


@pytest.mark.parametrize(
    "sql",
    [
        "/*/**/SELECT*/ALTER TABLE users DROP COLUMN email",
        "-- x\rALTER TABLE users DROP COLUMN email",
        "/* a */ /* b /* c */ d */ alter table users drop column email",
    ],
)
@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_comments_read_as_postgresql_reads_them(guarded: Guarded, sql: str, protocol: str) -> None:
    with guarded.ready_client() as client:
        if protocol == "simple":
            client.send(rc.query(sql))
        else:
            client.send(rc.parse(sql) + rc.bind() + rc.execute() + rc.sync())
        _assert_held(guarded, _outcome(client))


def test_parsed_in_a_rolled_back_transaction_executed_later(guarded: Guarded) -> None:
    with guarded.ready_client() as client:
        client.send(rc.query("BEGIN"))
        assert _outcome(client) == "ok"
        client.send(rc.parse(DROP, "later") + rc.sync())
        client.read_ready()
        client.send(rc.query("ROLLBACK"))
        assert _outcome(client) == "ok"
        client.send(rc.bind(statement="later") + rc.execute() + rc.sync())
        _assert_held(guarded, _outcome(client))


def test_a_begin_parsed_but_never_executed(guarded: Guarded) -> None:
    with guarded.ready_client() as client:
        client.send(rc.parse("BEGIN", "b") + rc.sync())
        client.read_ready()
        client.send(rc.parse(DROP) + rc.bind() + rc.execute() + rc.sync())
        _assert_held(guarded, _outcome(client))


def test_a_begin_that_never_ran_after_an_error(guarded: Guarded) -> None:
    """PostgreSQL stops at the error, so the BEGIN after it never opens a transaction."""
    with guarded.ready_client() as client:
        client.send(rc.query("SELECT 1/0; BEGIN"), rc.query(DROP))  # pipelined
        assert _outcome(client) == "22012"
        _assert_held(guarded, _outcome(client))


@pytest.mark.parametrize(
    "setting",
    [
        "SELECT set_config('search_path', 'public', false)",
        "SELECT SET_CONFIG('search_path', 'public', false)",
        "SELECT pg_catalog.set_config('search_path', 'pub' || 'lic', false)",
    ],
)
def test_search_path_set_inside_a_query(guarded: Guarded, setting: str) -> None:
    with guarded.ready_client() as client:
        client.send(rc.query("SET search_path = archive"))
        assert _outcome(client) == "ok"
        client.send(rc.query(setting))
        assert _outcome(client) == "ok"
        client.send(rc.query(DROP))
        _assert_held(guarded, _outcome(client))


def test_an_unreadable_search_path_is_asked_of_the_backend(guarded: Guarded) -> None:
    """After a change the proxy cannot read has run, PostgreSQL itself says which path is in
    effect: the break is judged as one (not "cannot judge"), a harmless change passes."""
    table = unique("t")
    with guarded.ready_client() as client:
        client.send(rc.query("SELECT pg_catalog.set_config('search_path', 'pub' || 'lic', false)"))
        assert _outcome(client) == "ok"
        client.send(rc.query(f"CREATE TABLE {table} (a int, b int)"))
        assert _outcome(client) == "ok"
        client.send(rc.query(f"ALTER TABLE {table} DROP COLUMN b"))
        assert _outcome(client) == "ok"
        client.send(rc.query(DROP))
        error = _error(client)
    assert error["C"] == "55006" and "cannot judge" not in error["M"], error
    assert guarded.email_exists()


def test_set_local_search_path_in_the_migration(guarded: Guarded) -> None:
    with guarded.ready_client() as client:
        client.send(rc.query("SET search_path = archive"))
        assert _outcome(client) == "ok"
        client.send(rc.query(f"BEGIN; SET LOCAL search_path = public; {DROP}; COMMIT"))
        _assert_held(guarded, _outcome(client))


#: One harmless SELECT of a string where backslashes are plain (standard_conforming_strings
#: on); a SELECT, then the drop, then a comment where they escape (off).
HIDDEN = f"SELECT 'x\\''; {DROP}; --'"


def test_a_statement_hidden_from_standard_quoting_is_judged_as_the_session_reads_it(
    guarded: Guarded,
) -> None:
    with guarded.ready_client() as client:
        client.send(rc.query(HIDDEN))  # the setting is on: one SELECT, nothing dropped
        assert _outcome(client) == "ok"
        assert guarded.email_exists()
        client.send(rc.query("SET standard_conforming_strings = off"))
        assert _outcome(client) == "ok"
        client.send(rc.query(HIDDEN))
        error = _error(client)
        assert error["C"] == "55006" and "cannot judge" not in error["M"], error
        assert "shop@1" in error["D"], error
        assert guarded.email_exists()


BACKSLASHED = "ALTER TABLE users ALTER COLUMN email SET DEFAULT 'a\\'b'"  # a syntax error if on


def test_a_hidden_statement_sent_through_the_extended_protocol_is_read_as_reported(
    guarded: Guarded,
) -> None:
    """A held Execute cannot ask the session's setting: PostgreSQL's last report of it
    (ParameterStatus) says how the text reads, and it is judged as that."""
    with guarded.ready_client() as client:
        client.send(rc.query("SET standard_conforming_strings = off"))
        assert _outcome(client) == "ok"
        client.send(rc.parse(BACKSLASHED) + rc.bind() + rc.execute() + rc.sync())
        assert _outcome(client) == "ok"  # as PostgreSQL: the default is set


def test_a_hidden_statement_after_an_unanswered_change_cannot_be_judged(
    guarded: Guarded,
) -> None:
    """Set earlier in the same batch, the setting is not reported yet: unjudgeable."""
    change = rc.parse("SET standard_conforming_strings = off") + rc.bind() + rc.execute()
    with guarded.ready_client() as client:
        client.send(change + rc.parse(BACKSLASHED) + rc.bind() + rc.execute() + rc.sync())
        error = _error(client)
        assert error["C"] == "55006" and "standard_conforming_strings" in error["M"], error


def test_dynamic_sql_in_a_do_block_is_refused(guarded: Guarded) -> None:
    """A computed EXECUTE cannot be read: refused as such (--opaque-ddl block)."""
    with guarded.ready_client() as client:
        client.send(rc.query(f"DO $$ DECLARE v text := '{DROP}'; BEGIN EXECUTE v; END $$"))
        _assert_held(guarded, _outcome(client))


def test_execute_of_a_constant_string_is_judged_as_its_sql(guarded: Guarded) -> None:
    """EXECUTE 'literal' is read: the drop is refused for what it breaks, a harmless
    statement passes (not refused as code the proxy cannot read)."""
    table = unique("t")
    with guarded.ready_client() as client:
        client.send(rc.query(f"DO $$ BEGIN EXECUTE $q${DROP}$q$; END $$"))
        error = _error(client)
        assert error["C"] == "55006" and "cannot judge" not in error["M"], error
        assert guarded.email_exists()
        client.send(rc.query(f"DO $$ BEGIN EXECUTE 'CREATE TABLE {table} (a int)'; END $$"))
        assert _outcome(client) == "ok"


def test_static_ddl_in_a_do_block_is_judged(guarded: Guarded) -> None:
    with guarded.ready_client() as client:
        client.send(rc.query(f"DO $$ BEGIN IF true THEN {DROP}; END IF; END $$"))
        _assert_held(guarded, _outcome(client))
        client.send(rc.query("DO $$ BEGIN RAISE NOTICE 'harmless'; END $$"))
        assert _outcome(client) == "ok"


def test_harmless_ddl_still_passes(guarded: Guarded) -> None:
    """No false block: the same paths with a change no version uses."""
    table = unique("t")
    with guarded.ready_client() as client:
        client.send(rc.query(f"CREATE TABLE {table} (a int, b int)"))
        assert _outcome(client) == "ok"
        data = rc.parse(f"ALTER TABLE {table} DROP COLUMN b") + rc.bind() + rc.execute()
        _split_send(client, data + rc.sync(), 3)
        assert _outcome(client) == "ok"
        client.send(rc.query(f"BEGIN; SET LOCAL search_path = public; DROP TABLE {table}; COMMIT"))
        assert _outcome(client) == "ok"


def test_a_text_too_large_to_read_is_not_waved_through(guarded: Guarded) -> None:
    """Past --max-analysed-statement the proxy does not parse: DDL there cannot be judged,
    nor can a huge text that may set search_path (or hold DDL past its first word) where
    versions are protected: refused, it changes nothing, and the path stays as it was."""
    pad = "x" * (1 << 20)
    with guarded.ready_client() as client:
        client.send(rc.query(f"{DROP} /* {pad} */"))
        error = _error(client)
        assert error["C"] == "55006" and "cannot judge" in error["M"], error
        client.send(rc.query("SET search_path = archive"))
        assert _outcome(client) == "ok"
        client.send(rc.query(f"SELECT set_config('search_path', 'public', false), '{pad}'"))
        error = _error(client)
        assert error["C"] == "55006" and "max-analysed-statement" in error["M"], error
        client.send(rc.query(DROP))  # archive.users, which no version uses
        assert _outcome(client) == "ok"
        assert guarded.email_exists()  # public.users.email, the live version's, is kept


def test_a_search_path_startup_parameter_wins_over_options(guarded: Guarded) -> None:
    """PostgreSQL applies ``options`` first and the other startup parameters after (names
    case-insensitive): ``users`` is public.users here, not archive.users."""
    for name in ("search_path", "SEARCH_PATH"):
        with guarded.client() as client:
            params = {**guarded.startup(), "options": "-c search_path=archive", name: "public"}
            assert client.startup(params)[-1].type == "Z"
            client.send(rc.query(DROP))
            _assert_held(guarded, _outcome(client))


@pytest.mark.parametrize(
    ("change", "options"),
    [
        ("SET ROLE postgres", ""),
        ("SET SESSION AUTHORIZATION postgres", ""),
        ("SELECT set_config('role', 'postgres', false)", ""),
        ("", "-c role=postgres"),
    ],
)
def test_a_role_change_moves_the_user_schema_of_the_search_path(
    guarded: Guarded, change: str, options: str
) -> None:
    """ "$user" is current_user: logged in as a role whose schema holds an unused
    ``users``, then turned into postgres, ``users`` is public.users again."""
    role = unique("r")
    with direct(guarded.cluster, dbname=guarded.database) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
        conn.execute(f"CREATE SCHEMA {role} CREATE TABLE users (id int, email text)")
    try:
        with guarded.client() as client:
            params = {**guarded.startup(), "user": role, "options": options}
            assert client.startup(params)[-1].type == "Z"
            if change:
                client.send(rc.query(change))
                assert _outcome(client) == "ok"
            client.send(rc.query(DROP))
            _assert_held(guarded, _outcome(client))
            if options:
                return  # RESET ROLE goes back to the startup option's role
            client.send(rc.query("RESET SESSION AUTHORIZATION"), rc.query("RESET ROLE"))
            assert _outcome(client) == _outcome(client) == "ok"
            client.send(rc.query(DROP))
            assert _outcome(client) == "ok"  # asked: "$user" is the role again, its own table
    finally:
        with direct(guarded.cluster, dbname=guarded.database) as conn:
            conn.execute(f"DROP SCHEMA {role} CASCADE")
            conn.execute(f"DROP ROLE {role}")


def test_a_shell_command_run_by_copy_is_opaque(guarded: Guarded) -> None:
    """COPY ... PROGRAM runs a command as the server's OS user (it may connect and run any
    DDL): refused like a DO block the proxy cannot read."""
    with guarded.ready_client() as client:
        client.send(rc.query("COPY (SELECT 1) TO PROGRAM 'cat >/dev/null'"))
        assert _outcome(client) == "55006"
        client.send(rc.query("COPY (SELECT 1) TO STDOUT"))
        replies = client.read_ready()
        assert rc.error_code(replies) is None, replies


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id INTO {t} FROM users",
        "WITH x AS (SELECT id FROM users) SELECT * INTO {t} FROM x",
        "EXPLAIN ANALYZE CREATE TABLE {t} AS SELECT id FROM users",
    ],
)
def test_a_table_created_by_a_query_is_judged(guarded: Guarded, sql: str) -> None:
    """SELECT INTO and EXPLAIN ANALYZE of CREATE TABLE AS create a table: the guard
    judges (and audits) it as the CREATE TABLE AS it is."""
    table = unique("t")
    with guarded.ready_client() as client:
        client.send(rc.query(sql.format(t=table)))
        assert _outcome(client) == "ok"
    deadline = time.monotonic() + 5  # audits are written in the background
    while True:
        decisions = json.loads(guarded.proxy.get("/api/decisions?limit=20"))["decisions"]
        judged = [d for d in decisions if any(table in s for s in d["statements"])]
        if judged or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert judged and judged[0]["changes"][0]["kind"] == "CreateRelation", judged


def test_sql_on_a_logical_replication_connection_is_judged(guarded: Guarded) -> None:
    """replication=database starts a walsender that also runs SQL sent as a simple Query:
    DDL there goes through the guard, and replication itself still streams."""
    slot = unique("slot")
    with guarded.client() as client:
        assert client.startup({**guarded.startup(), "replication": "database"})[-1].type == "Z"
        client.send(rc.query(DROP))
        _assert_held(guarded, _outcome(client))
        client.send(rc.query("IDENTIFY_SYSTEM"))
        assert [r.type for r in client.read_ready()] == ["T", "D", "C", "Z"]
        client.send(rc.query(f"CREATE_REPLICATION_SLOT {slot} TEMPORARY LOGICAL test_decoding"))
        assert rc.error_code(client.read_ready()) is None
        client.send(rc.query(f"START_REPLICATION SLOT {slot} LOGICAL 0/0"))
        assert client.read_message().type == "W"  # CopyBothResponse: streaming


#: 0x95 0x5C is one SJIS character: read as UTF-8, a backslash escapes the quote after it and
#: the whole rest is one string; PostgreSQL (client_encoding SJIS) runs a SELECT, then the drop.
SJIS_HIDDEN = b"SELECT E'\x95\\'; " + DROP.encode() + b"; --'"


def test_a_statement_hidden_by_a_multibyte_client_encoding_is_judged(guarded: Guarded) -> None:
    with guarded.client() as client:
        params = {**guarded.startup(), "client_encoding": "SJIS"}
        assert client.startup(params)[-1].type == "Z"
        client.send(rc.message(b"Q", SJIS_HIDDEN + b"\x00"))
        error = _error(client)
        assert error["C"] == "55006" and "cannot judge" not in error["M"], error
        assert guarded.email_exists()
        client.send(rc.message(b"Q", b"SELECT E'\x95\\'\x00"))  # the same string: harmless
        replies = client.read_ready()
        assert [r.type for r in replies] == ["T", "D", "C", "Z"], replies
        assert replies[1].body.endswith(b"\x95\\")


def test_a_text_sent_while_the_client_encoding_changes_is_not_waved_through(
    guarded: Guarded,
) -> None:
    """Pipelined behind SET client_encoding (which may fail), a text that reads otherwise
    in the new encoding cannot be judged; once PostgreSQL has answered, it is judged."""
    with guarded.ready_client() as client:
        client.send(
            rc.query("SET client_encoding = 'GBK'"), rc.message(b"Q", SJIS_HIDDEN + b"\x00")
        )
        assert _outcome(client) == "ok"
        error = _error(client)
        assert error["C"] == "55006" and "cannot judge" in error["M"], error
        client.send(rc.message(b"Q", SJIS_HIDDEN + b"\x00"))
        error = _error(client)
        assert error["C"] == "55006" and "cannot judge" not in error["M"], error
    assert guarded.email_exists()


@pytest.mark.parametrize(
    "body",
    [
        f"LANGUAGE plpgsql AS $$ BEGIN {DROP}; END $$",
        f"LANGUAGE sql AS $$ {DROP} $$",
        f"LANGUAGE plpgsql AS $$ DECLARE v text := '{DROP}'; BEGIN EXECUTE v; END $$",
    ],
)
def test_a_function_that_may_run_ddl_later_is_opaque_code(guarded: Guarded, body: str) -> None:
    """Called from a SELECT, a trigger, a rule or a view, its DDL never reaches the proxy
    as text: the function is refused when it is created (--opaque-ddl block)."""
    function = unique("f")
    with guarded.ready_client() as client:
        client.send(rc.query(f"CREATE FUNCTION {function}() RETURNS void {body}"))
        error = _error(client)
        assert error["C"] == "55006" and "may run DDL" in error["M"], error
        client.send(rc.query(f"SELECT {function}()"))
        assert _outcome(client) == "42883"  # it does not exist
    assert guarded.email_exists()


def test_a_function_without_ddl_is_created(guarded: Guarded) -> None:
    function, table = unique("f"), unique("t")
    with guarded.ready_client() as client:
        client.send(rc.query(f"CREATE TABLE {table} (a int, b int)"))
        assert _outcome(client) == "ok"
        client.send(
            rc.query(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN NEW.b := NEW.a; RETURN NEW; END $$"
            )
        )
        assert _outcome(client) == "ok"
        client.send(
            rc.query(
                f"CREATE TRIGGER {function} BEFORE INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
        )
        assert _outcome(client) == "ok"


def test_a_table_in_the_schema_named_after_the_role_shadows_the_default_path(
    guarded: Guarded,
) -> None:
    """shop@1 resolves ``users`` through the default ``"$user", public`` as postgres: a
    new postgres.users would be found first (PostgreSQL skips "$user" only while that
    schema does not exist). Refused; a name no version uses there is not."""
    with direct(guarded.cluster, dbname=guarded.database) as conn:
        conn.execute("CREATE SCHEMA postgres")
    try:
        with guarded.ready_client() as client:
            client.send(rc.query("CREATE TABLE postgres.users (id int)"))
            error = _error(client)
            assert error["C"] == "55006" and "shop@1" in error["D"], error
            client.send(rc.query(f"CREATE TABLE postgres.{unique('t')} (id int)"))
            assert _outcome(client) == "ok"
    finally:
        with direct(guarded.cluster, dbname=guarded.database) as conn:
            conn.execute("DROP SCHEMA postgres CASCADE")
    guarded.live.execute("SELECT email FROM users WHERE id = 1").fetchall()


def test_a_padded_database_name_is_judged_as_the_database_it_reaches(guarded: Guarded) -> None:
    """PostgreSQL cuts a startup database name to 63 bytes: a padded name reaches the
    same database, whose protected versions must be the ones the guard consults."""
    database = unique("d").ljust(63, "x")
    with direct(guarded.cluster) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    try:
        with direct(guarded.cluster, dbname=database) as conn:
            conn.execute("CREATE TABLE users (id int, email text)")
        url = guarded.proxy.url(database=database, application_name="shop@1")
        with psycopg.connect(url, autocommit=True) as live:
            live.execute("SELECT email FROM users").fetchall()
            with guarded.client() as client:
                params = {**guarded.startup(), "database": database + "padding"}
                assert client.startup(params)[-1].type == "Z"
                client.send(rc.query(DROP))
                error = _error(client)
                assert error["C"] == "55006" and "shop@1" in error["D"], error
    finally:
        with direct(guarded.cluster) as conn:
            conn.execute(f"DROP DATABASE {database} WITH (FORCE)")


@pytest.mark.parametrize("again", ["protocol", "sql"])
def test_a_statement_name_parsed_again_runs_the_text_postgresql_kept(
    guarded: Guarded, again: str
) -> None:
    """A second Parse (or PREPARE) of a held name fails with 42P05 and PostgreSQL keeps
    the first text: a Bind of the name runs the drop, not the SELECT sent after it."""
    name = unique("s")
    with guarded.ready_client() as client:
        client.send(rc.parse(DROP, name) + rc.sync())
        assert _outcome(client) == "ok"
        if again == "protocol":
            client.send(rc.parse("SELECT 1", name) + rc.sync())
        else:
            client.send(rc.query(f"PREPARE {name} AS SELECT 1"))
        assert _outcome(client) == "42P05"
        client.send(rc.bind(statement=name) + rc.execute() + rc.sync())
        _assert_held(guarded, _outcome(client))


@pytest.mark.parametrize("closing", ["close after an error", "deallocate in a failed block"])
def test_a_close_postgresql_skipped_leaves_the_statement_held(
    guarded: Guarded, closing: str
) -> None:
    """After an error PostgreSQL skips messages up to the Sync, and refuses DEALLOCATE in a
    failed block: the statement stays, a new Parse of its name fails (42P05), and a Bind
    runs the drop."""
    name = unique("s")
    with guarded.ready_client() as client:
        client.send(rc.parse(DROP, name) + rc.sync())
        assert _outcome(client) == "ok"
        if closing == "close after an error":
            client.send(rc.bind(statement="no such") + rc.close("S", name) + rc.sync())
            assert _outcome(client) == "26000"
        else:
            client.send(rc.query("BEGIN; SELECT 1/0"), rc.query(f"DEALLOCATE {name}"))
            assert _outcome(client) == "22012" and _outcome(client) == "25P02"
            client.send(rc.query("ROLLBACK"))
            assert _outcome(client) == "ok"
        client.send(rc.parse("SELECT 1", name) + rc.sync())
        assert _outcome(client) == "42P05"
        client.send(rc.bind(statement=name) + rc.execute() + rc.sync())
        _assert_held(guarded, _outcome(client))


def test_a_statement_closed_and_parsed_again_runs_its_new_text(guarded: Guarded) -> None:
    with guarded.ready_client() as client:
        client.send(rc.parse(DROP, "again") + rc.sync())
        assert _outcome(client) == "ok"
        client.send(rc.close("S", "again") + rc.sync())
        assert _outcome(client) == "ok"
        client.send(rc.parse("SELECT 41 + 1", "again") + rc.bind(statement="again"))
        client.send(rc.execute() + rc.sync())
        assert [r.type for r in client.read_ready()] == ["1", "2", "D", "C", "Z"]


@pytest.mark.parametrize(
    "texts",
    [
        ["SELECT 1/0; SET search_path = archive"],  # never runs
        ["BEGIN", "SET search_path = archive", "ROLLBACK"],  # undone with its transaction
        ["BEGIN", "SELECT 1/0", "SET search_path = archive", "ROLLBACK"],
        ["BEGIN", "SAVEPOINT a", "SET search_path = archive", "ROLLBACK TO a", "COMMIT"],
    ],
)
def test_a_search_path_postgresql_never_kept_is_not_followed(
    guarded: Guarded, texts: list[str]
) -> None:
    """The path is the session's once it stuck: here ``users`` is still public.users."""
    with guarded.ready_client() as client:
        client.send(*(rc.query(text) for text in texts))
        client.read_ready(len(texts))
        client.send(rc.query(DROP))
        _assert_held(guarded, _outcome(client))


def test_a_local_search_path_undone_by_a_savepoint_is_not_followed(guarded: Guarded) -> None:
    with guarded.ready_client() as client:
        texts = ["BEGIN", "SAVEPOINT a", "SET LOCAL search_path = archive", "ROLLBACK TO a"]
        client.send(*(rc.query(text) for text in texts))
        client.read_ready(len(texts))
        client.send(rc.query(DROP))
        outcome = _outcome(client)
        client.send(rc.query("COMMIT"))
        _assert_held(guarded, outcome if outcome != "ok" else _outcome(client))


def test_a_search_path_that_stuck_is_followed_without_asking(guarded: Guarded) -> None:
    """No false block: after SET (or a committed one), a change of archive.users passes."""
    table = unique("t")
    with guarded.ready_client() as client:
        client.send(rc.query("BEGIN; SET search_path = archive; COMMIT"))
        assert _outcome(client) == "ok"
        client.send(rc.query(f"CREATE TABLE {table} (a int, b int)"))
        assert _outcome(client) == "ok"
        data = rc.parse(f"ALTER TABLE {table} DROP COLUMN b") + rc.bind() + rc.execute()
        client.send(data + rc.sync())  # an Execute cannot ask: the path must be known
        assert _outcome(client) == "ok"
    with direct(guarded.cluster, dbname=guarded.database) as conn:
        row = conn.execute(f"SELECT to_regclass('archive.{table}') IS NOT NULL").fetchone()
    assert row == (True,)
