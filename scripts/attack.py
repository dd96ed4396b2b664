"""Hostile-client attack run: every attempt tries to get DDL past the guard (or to hurt
the proxy, or to read a literal) through a real proxy in enforce mode.

    .venv/bin/python scripts/attack.py [--pg 15|18] [-k SUBSTRING]

A live version ``shop@1`` reads ``users.email``; after each guard attempt the column
must still exist (PostgreSQL is the judge, asked directly) and the proxy must still
serve a new connection. Prints one line per attempt: ``held``, ``BYPASS`` or ``ERROR``.

Rounds 1 to 6 and 9 to 12 (round 9, ``-k "replay: |NOSUPERUSER"``: a tagged role's sampled
statement leaving its role inside the migration's replay, each in a database of its own;
a superuser version's role unmade superuser). Round 10, ``-k "probe:|LATIN1|UTF8 data|
RULE ON|element list|COMMENT ON|ROW LEVEL|PUBLICATION|REPLICA|DISABLE TRIGGER|scraped"``:
probes running a CHECK's function or an injected ``AS`` type name on a side connection,
a long accented name in a LATIN1 database, rules, CREATE SCHEMA elements, harmless
statements that must pass, several ALTER TABLE subcommands, publications and replica
identity, and /metrics scraped in a loop (CPU per scrape). Round 11, ``-k "side probe as
role"``: a plain role's CHECK, probed on a side connection, ending a superuser's session
(also after ``set_config('role', ...)``) or reading a table it may not read. Round 12,
``-k "as the version"``: a NOT VALID CHECK on a column a version writes only as a
constant, accepting that constant for the migrating superuser (``current_user``,
``pg_has_role``, ``has_database_privilege``) but not for the version's own role, behind
an unsynced batch (no replay); PostgreSQL judges the version's next INSERT. Round 12,
``-k "side probe after|role default"``: a NOINHERIT login whose role moved (its own SET
ROLE, SET LOCAL ROLE in a block, a role default) adds a CHECK existing rows violate
behind an unsynced batch; as the login the side probe may not read them. Round 12,
``-k "forced RLS"``: the owner of a table with FORCE ROW LEVEL SECURITY restarts its
sequence onto numbers its rows hold, which its policy hides from it. Round 12, ``-k "NOT
NULL column whose"``: a NOT NULL column whose DEFAULT is NULL for the version (by its
role, or always, on an empty table), behind an unsynced batch; ``-k "SET DEFAULT of a
NOT NULL|SET NOT NULL on a column whose"``: such a default set on a NOT NULL column, a
column with such a default made NOT NULL. Round 12, ``-k "value probe PostgreSQL
refuses"``: a version's constant, carried by a probe that fails, in the log.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import shutil
import socket
import struct
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from skewguard.pgcluster import LocalCluster
from tests.support import rawclient as rc
from tests.support.clusters import Certificates, available_installs, start_cluster
from tests.support.proxy import ProxyProcess

DROP = "ALTER TABLE users DROP COLUMN email"
SECRET = "hunter2-literal-7731"
SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text, name text, "prénom" text, "имя" text);
INSERT INTO users (email, name) VALUES ('a@x', 'Ann');
CREATE SCHEMA archive;
CREATE TABLE archive.users (id int, email text);
CREATE TABLE scratch (a int);
"""


@dataclass
class Ctx:
    cluster: LocalCluster
    db: str
    proxy: ProxyProcess
    n: int = 0

    def params(self, **extra: str) -> dict[str, str]:
        return {"user": "postgres", "database": self.db, "application_name": "migrate", **extra}

    def raw(self, **extra: str) -> rc.RawClient:
        client = rc.RawClient("127.0.0.1", self.proxy.port, timeout=10)
        replies = client.startup(self.params(**extra))
        assert replies[-1].type == "Z", replies
        return client

    def direct(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.cluster.port} user=postgres dbname={self.db} "
            "sslmode=disable",
            autocommit=True,
        )

    def email_exists(self) -> bool:
        with self.direct() as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.users'::regclass "
                "AND attname = 'email' AND NOT attisdropped"
            ).fetchone()
        return bool(row and row[0] == 1)

    def restore(self) -> None:
        with self.direct() as conn:
            renamed = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'archive2'").fetchone()
            if renamed:  # by the "ALTER ROLE RENAME" attempt
                conn.execute("ALTER ROLE archive2 RENAME TO archive")
            for setting in (
                "ALTER ROLE archive RESET ALL",
                "ALTER ROLE ALL RESET ALL",
                "ALTER ROLE postgres RESET ALL",
                f"ALTER DATABASE {self.db} RESET ALL",
                "ALTER SYSTEM RESET ALL",
                "SELECT pg_reload_conf()",
            ):
                conn.execute(setting)
            if not self.email_exists():
                conn.execute("ALTER TABLE public.users ADD COLUMN email text")

    def unique(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n}"


def outcome(client: rc.RawClient, *, count: int = 1) -> list[str]:
    """SQLSTATEs (or 'ok') of the next ``count`` ReadyForQuery-terminated replies."""
    seen: list[str] = []
    try:
        for _ in range(count):
            replies = client.read_ready()
            codes = [r.fields()["C"] for r in replies if r.type == "E"]
            seen.append(codes[0] if codes else "ok")
    except (rc.ConnectionClosed, TimeoutError, OSError) as exc:
        partial = exc.partial if isinstance(exc, rc.ConnectionClosed) else b""
        with contextlib.suppress(ValueError):
            seen += [r.fields()["C"] for r in rc.messages_of(partial) if r.type == "E"]
        seen.append("closed")
    return seen


def q(ctx: Ctx, *texts: str, **extra: str) -> list[str]:
    with ctx.raw(**extra) as client:
        client.send(*(rc.query(t) for t in texts))
        return outcome(client, count=len(texts))


class Bypassed(Exception):
    """An attempt saw a change the guard should have refused (beyond ``users.email``)."""


Attempt = Callable[[Ctx], object]
GUARD: dict[str, Attempt] = {}
OTHER: dict[str, Attempt] = {}


def guard(name: str) -> Callable[[Attempt], Attempt]:
    def register(fn: Attempt) -> Attempt:
        GUARD[name] = fn
        return fn

    return register


def other(name: str) -> Callable[[Attempt], Attempt]:
    def register(fn: Attempt) -> Attempt:
        OTHER[name] = fn
        return fn

    return register


# ------------------------------------------------------------------ extended protocol order


@guard("unnamed portal bound to DROP, statement re-parsed before Execute")
def _a1(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP)
            + rc.bind(portal="p")
            + rc.parse("SELECT 1")
            + rc.execute("p")
            + rc.sync()
        )
        return outcome(c)


@guard("named statement closed and re-parsed after its portal was bound")
def _a2(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP, "s")
            + rc.bind(portal="p", statement="s")
            + rc.close("S", "s")
            + rc.parse("SELECT 1", "s")
            + rc.execute("p")
            + rc.sync()
        )
        return outcome(c)


@guard("Parse/Bind, Flush, read, then Execute and Sync")
def _a3(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP, "s") + rc.bind(portal="p", statement="s") + rc.flush())
        time.sleep(0.2)
        c.send(rc.execute("p") + rc.sync())
        return outcome(c)


@guard("named portal executed twice with a row limit")
def _a4(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.query("BEGIN"),
            rc.parse(DROP, "s")
            + rc.bind(portal="p", statement="s")
            + rc.execute("p", 1)
            + rc.execute("p", 1)
            + rc.sync(),
            rc.query("COMMIT"),
        )
        return outcome(c, count=3)


@guard("Parse in BEGIN, Bind after COMMIT via Flush only")
def _a5(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.query("BEGIN"), rc.parse(DROP, "s") + rc.sync(), rc.query("COMMIT"))
        outcome(c, count=3)
        c.send(rc.bind(statement="s") + rc.execute() + rc.flush())
        time.sleep(0.5)
        c.send(rc.sync())
        return outcome(c)


@guard("Execute then Terminate without Sync")
def _a6(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP) + rc.bind() + rc.execute() + rc.terminate())
        time.sleep(1.0)
        return "sent"


@guard("simple Query inside an unsynced extended batch")
def _a7(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse("SELECT 1") + rc.bind() + rc.execute() + rc.query(DROP) + rc.sync())
        return outcome(c, count=2)


@guard("DROP bound in an implicit pipeline transaction after a harmless DDL")
def _a8(ctx: Ctx) -> object:
    t = ctx.unique("t")
    with ctx.raw() as c:
        c.send(
            rc.parse(f"CREATE TABLE {t} (a int)")
            + rc.bind()
            + rc.execute()
            + rc.parse(DROP)
            + rc.bind()
            + rc.execute()
            + rc.sync()
        )
        return outcome(c)


@guard("extended BEGIN, DDL, COMMIT in one pipeline without Sync between")
def _a9(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse("BEGIN")
            + rc.bind()
            + rc.execute()
            + rc.parse(DROP)
            + rc.bind()
            + rc.execute()
            + rc.parse("COMMIT")
            + rc.bind()
            + rc.execute()
            + rc.sync()
        )
        return outcome(c)


@guard("Describe-only portal then Execute after Close of the statement")
def _a10(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP, "s")
            + rc.bind(portal="p", statement="s")
            + rc.describe("P", "p")
            + rc.close("S", "s")
            + rc.sync()
        )
        outcome(c)
        c.send(rc.execute("p") + rc.sync())  # portal gone at Sync outside a block
        return outcome(c)


@guard("portal in a block survives a Sync: Execute in a later batch")
def _a11(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.query("BEGIN"), rc.parse(DROP, "s") + rc.bind(portal="p", statement="s") + rc.sync()
        )
        outcome(c, count=2)
        c.send(rc.execute("p") + rc.sync(), rc.query("COMMIT"))
        return outcome(c, count=2)


@guard("named statement re-parsed without Close: PostgreSQL keeps the first (42P05)")
def _a11b(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP, "dup") + rc.sync())
        first = outcome(c)
        c.send(rc.parse("SELECT 1", "dup") + rc.sync())
        second = outcome(c)
        c.send(rc.bind(statement="dup") + rc.execute() + rc.sync())
        return first + second + outcome(c)


@guard("SQL PREPARE over a protocol statement of the same name")
def _a11c(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP, "dup2") + rc.sync())
        first = outcome(c)
        c.send(rc.query("PREPARE dup2 AS SELECT 1"))
        second = outcome(c)
        c.send(rc.bind(statement="dup2") + rc.execute() + rc.sync())
        return first + second + outcome(c)


@guard("padded database name cut to 63 bytes by PostgreSQL")
def _a11d(ctx: Ctx) -> object:
    name = ctx.db.ljust(63, "x")
    with ctx.direct() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(
            f"host=127.0.0.1 port={ctx.cluster.port} user=postgres dbname={name} sslmode=disable",
            autocommit=True,
        ) as conn:
            conn.execute("CREATE TABLE users (id int, email text)")
        with psycopg.connect(
            ctx.proxy.url(database=name, application_name="shop@1"), autocommit=True
        ) as live:
            live.execute("SELECT email FROM public.users").fetchall()
            with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=10) as c:
                c.startup(ctx.params(database=name + "pad"))
                c.send(rc.query(DROP))
                seen = outcome(c)
            live.execute("SELECT email FROM public.users").fetchall()
            return seen
    finally:
        with ctx.direct() as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@guard("SET search_path skipped by PostgreSQL after an extended-protocol error")
def _a11e(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.bind(statement="nope") + rc.query("SET search_path = archive") + rc.sync())
        first = outcome(c)
        c.send(rc.query(DROP))
        return first + outcome(c)


@guard("SET search_path after an error in the same text never runs")
def _a11h(ctx: Ctx) -> object:
    return q(ctx, "SELECT 1/0; SET search_path = archive", DROP)


@guard("SET search_path in a failed block, then ROLLBACK")
def _a11i(ctx: Ctx) -> object:
    return q(ctx, "BEGIN", "SELECT 1/0", "SET search_path = archive", "ROLLBACK", DROP)


@guard("SET search_path in a block rolled back")
def _a11j(ctx: Ctx) -> object:
    return q(ctx, "BEGIN", "SET search_path = archive", "ROLLBACK", DROP)


@guard("SET search_path in a savepoint rolled back")
def _a11k(ctx: Ctx) -> object:
    return q(
        ctx, "BEGIN", "SAVEPOINT a", "SET search_path = archive", "ROLLBACK TO a", "COMMIT", DROP
    )


@guard("SET LOCAL search_path undone by ROLLBACK TO, DROP in the same block")
def _a11l(ctx: Ctx) -> object:
    return q(
        ctx,
        "BEGIN",
        "SAVEPOINT a",
        "SET LOCAL search_path = archive",
        "ROLLBACK TO a",
        DROP,
        "COMMIT",
    )


@guard("Close skipped after an error, then the name parsed again")
def _a11f(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP, "ghost") + rc.sync())
        first = outcome(c)
        c.send(rc.bind(statement="nope") + rc.close("S", "ghost") + rc.sync())
        second = outcome(c)
        c.send(rc.parse("SELECT 1", "ghost") + rc.sync())
        third = outcome(c)
        c.send(rc.bind(statement="ghost") + rc.execute() + rc.sync())
        return first + second + third + outcome(c)


@guard("DEALLOCATE refused in an aborted block, then the name parsed again")
def _a11g(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP, "ghost2") + rc.sync())
        first = outcome(c)
        c.send(rc.query("BEGIN"), rc.query("SELECT 1/0"), rc.query("DEALLOCATE ghost2"))
        c.send(rc.query("ROLLBACK"))
        rest = outcome(c, count=4)
        c.send(rc.parse("SELECT 1", "ghost2") + rc.sync())
        rest += outcome(c)
        c.send(rc.bind(statement="ghost2") + rc.execute() + rc.sync())
        return first + rest + outcome(c)


@guard("Bind names a statement with odd case and quoting")
def _a12(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP, "S") + rc.bind(statement="S") + rc.execute() + rc.sync())
        return outcome(c)


@guard("statement name with a NUL-free high byte")
def _a13(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP, "\u00e9") + rc.bind(statement="\u00e9") + rc.execute() + rc.sync())
        return outcome(c)


# ------------------------------------------------------------------ simple query text


@guard("multi-statement BEGIN; DROP; COMMIT")
def _b1(ctx: Ctx) -> object:
    return q(ctx, f"BEGIN; {DROP}; COMMIT")


@guard("DROP; then COMMIT AND CHAIN")
def _b2(ctx: Ctx) -> object:
    return q(ctx, "BEGIN", DROP, "COMMIT AND CHAIN", "COMMIT")


@guard("END instead of COMMIT")
def _b3(ctx: Ctx) -> object:
    return q(ctx, "START TRANSACTION", DROP, "END")


@guard("savepoint released around the DROP")
def _b4(ctx: Ctx) -> object:
    return q(ctx, "BEGIN", "SAVEPOINT a", DROP, "RELEASE a", "COMMIT")


@guard("rollback to a savepoint set after the DROP")
def _b5(ctx: Ctx) -> object:
    return q(ctx, "BEGIN", DROP, "SAVEPOINT a", "ROLLBACK TO a", "COMMIT")


@guard("error in block, ROLLBACK, DROP in the same text")
def _b6(ctx: Ctx) -> object:
    return q(ctx, f"BEGIN; SELECT 1/0; ROLLBACK; {DROP}")


@guard("COMMIT through the extended protocol")
def _b7(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.query("BEGIN"), rc.query(DROP))
        outcome(c, count=2)
        c.send(rc.parse("COMMIT") + rc.bind() + rc.execute() + rc.sync())
        return outcome(c)


@guard("PREPARE TRANSACTION then COMMIT PREPARED")
def _b8(ctx: Ctx) -> object:
    return q(ctx, "BEGIN", DROP, "PREPARE TRANSACTION 'x1'", "COMMIT PREPARED 'x1'")


@guard("U& identifier for the column")
def _b9(ctx: Ctx) -> object:
    return q(ctx, 'ALTER TABLE users DROP COLUMN U&"\\0065mail"')


@guard("U& identifier with UESCAPE")
def _b10(ctx: Ctx) -> object:
    return q(ctx, "ALTER TABLE users DROP COLUMN U&\"!0065mail\" UESCAPE '!'")


@guard("dollar-quoted string hiding a semicolon before DROP")
def _b11(ctx: Ctx) -> object:
    return q(ctx, f"SELECT $a$ ; $a$; {DROP}")


@guard("E-string escaped quote then DROP")
def _b12(ctx: Ctx) -> object:
    return q(ctx, f"SELECT E'\\''; {DROP}")


@guard("NUL inside a simple Query")
def _b13(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.message(b"Q", b"SELECT 1\x00" + DROP.encode() + b"\x00"))
        return outcome(c)


@guard("NUL inside a Parse text")
def _b14(ctx: Ctx) -> object:
    with ctx.raw() as c:
        body = b"\x00SELECT 1\x00" + DROP.encode() + b"\x00" + struct.pack("!h", 0)
        c.send(rc.message(b"P", body) + rc.bind() + rc.execute() + rc.sync())
        return outcome(c)


@guard("invalid UTF-8 inside a comment before DROP")
def _b15(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.message(b"Q", b"/* \xff\xfe */ " + DROP.encode() + b"\x00"))
        return outcome(c)


@guard("client_encoding SJIS: trailing 0x5C ends an E-string early for UTF-8 readers")
def _b16(ctx: Ctx) -> object:
    text = b"SELECT E'\x95\\'; " + DROP.encode() + b"; --'"
    with ctx.raw(client_encoding="SJIS") as c:
        c.send(rc.message(b"Q", text + b"\x00"))
        return outcome(c)


@guard("SET client_encoding GBK then a 0x5C trailing byte in an E-string")
def _b17(ctx: Ctx) -> object:
    text = b"SELECT E'\x81\\'; " + DROP.encode() + b"; --'"
    with ctx.raw() as c:
        c.send(rc.query("SET client_encoding = 'GBK'"), rc.message(b"Q", text + b"\x00"))
        return outcome(c, count=2)


@guard("options -c client_encoding=BIG5 and standard strings off, 0x5C trail in plain string")
def _b18(ctx: Ctx) -> object:
    text = b"SELECT '\xa4\\'; " + DROP.encode() + b"; --'"
    with ctx.raw(options="-c client_encoding=BIG5 -c standard_conforming_strings=off") as c:
        c.send(rc.message(b"Q", text + b"\x00"))
        return outcome(c)


@guard("SET client_encoding SJIS answered first, then the hiding text")
def _b16b(ctx: Ctx) -> object:
    text = b"SELECT E'\x95\\'; " + DROP.encode() + b"; --'"
    with ctx.raw() as c:
        c.send(rc.query("SET client_encoding = 'Shift_JIS'"))
        first = outcome(c)
        c.send(rc.message(b"Q", text + b"\x00"))
        return first + outcome(c)


@guard("SET client_encoding SJIS fails in an aborted block; UTF-8 text SJIS would misread")
def _b16c(ctx: Ctx) -> object:
    hiding = "ROLLBACK; SELECT E'\u3041\\' , ' ; " + DROP + "; --'"
    with ctx.raw() as c:
        c.send(rc.query("BEGIN"), rc.query("SELECT 1/0"), rc.query("SET client_encoding = SJIS"))
        c.send(rc.query(hiding))
        return outcome(c, count=4)


@guard("SET LOCAL client_encoding undone by COMMIT, pipelined text after")
def _b16d(ctx: Ctx) -> object:
    text = b"SELECT E'\x95\\'; " + DROP.encode() + b"; --'"
    with ctx.raw() as c:
        c.send(rc.query("BEGIN; SET LOCAL client_encoding = 'SJIS'"))
        first = outcome(c)
        c.send(rc.query("COMMIT"), rc.message(b"Q", text + b"\x00"))
        return first + outcome(c, count=2)


@guard("SJIS trailing 0x5C through Parse")
def _b19(ctx: Ctx) -> object:
    text = b"SELECT E'\x95\\'; " + DROP.encode() + b"; --'"
    with ctx.raw(client_encoding="SJIS") as c:
        c.send(rc.message(b"P", b"\x00" + text + b"\x00\x00\x00") + rc.bind() + rc.execute())
        c.send(rc.sync())
        return outcome(c)


@guard("standard_conforming_strings off as a startup parameter")
def _b20(ctx: Ctx) -> object:
    return q(ctx, f"SELECT 'x\\''; {DROP}; --'", standard_conforming_strings="off")


@guard("SET standard_conforming_strings inside the same text")
def _b21(ctx: Ctx) -> object:
    return q(ctx, f"SET standard_conforming_strings = off; SELECT 'x\\''; {DROP}; --'")


@guard("nested block comment hiding nothing, DROP in uppercase with tabs")
def _b22(ctx: Ctx) -> object:
    return q(ctx, "/* /* */ */\tALTER\tTABLE\tUSERS\tDROP\tCOLUMN\tEMAIL")


@guard("DROP COLUMN IF EXISTS with CASCADE via ONLY")
def _b23(ctx: Ctx) -> object:
    return q(ctx, "ALTER TABLE ONLY public.users DROP COLUMN IF EXISTS email CASCADE")


@guard("quoted identifiers for table and column")
def _b24(ctx: Ctx) -> object:
    return q(ctx, 'ALTER TABLE "public"."users" DROP COLUMN "email"')


@guard("DROP TABLE via a view rename dance in one block")
def _b25(ctx: Ctx) -> object:
    return q(
        ctx,
        "BEGIN",
        "ALTER TABLE users RENAME TO u2",
        "ALTER TABLE u2 DROP COLUMN email",
        "ALTER TABLE u2 RENAME TO users",
        "COMMIT",
    )


# ------------------------------------------------------------------ name resolution


@guard("startup search_path parameter overrides options")
def _c1(ctx: Ctx) -> object:
    return q(ctx, DROP, options="-c search_path=archive", search_path="public")


@guard("startup SEARCH_PATH parameter in capitals")
def _c2(ctx: Ctx) -> object:
    return q(ctx, DROP, options="-c search_path=archive", SEARCH_PATH="public")


@guard("SET ROLE moves $user")
def _c3(ctx: Ctx) -> object:
    with ctx.raw(user="archive") as c:
        c.send(rc.query("SET ROLE postgres"), rc.query(DROP))
        return outcome(c, count=2)


@guard("SET SESSION AUTHORIZATION moves $user")
def _c4(ctx: Ctx) -> object:
    with ctx.raw(user="archive") as c:
        c.send(rc.query("SET SESSION AUTHORIZATION postgres"), rc.query(DROP))
        return outcome(c, count=2)


@guard("set_config('role') moves $user")
def _c5(ctx: Ctx) -> object:
    with ctx.raw(user="archive") as c:
        c.send(rc.query("SELECT set_config('role', 'postgres', false)"), rc.query(DROP))
        return outcome(c, count=2)


@guard("options -c role=postgres at startup moves $user")
def _c6(ctx: Ctx) -> object:
    return q(ctx, DROP, user="archive", options="-c role=postgres")


@guard("startup database omitted (defaults to user)")
def _c7(ctx: Ctx) -> object:
    with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=10) as c:
        replies = c.startup({"user": "postgres", "database": ctx.db, "search_path": "public"})
        assert replies[-1].type == "Z"
        c.send(rc.query(DROP))
        return outcome(c)


@guard("search_path via SET in pipeline before DROP, extended")
def _c8(ctx: Ctx) -> object:
    with ctx.raw(options="-c search_path=archive") as c:
        c.send(
            rc.parse("SET search_path = public")
            + rc.bind()
            + rc.execute()
            + rc.parse(DROP)
            + rc.bind()
            + rc.execute()
            + rc.sync()
        )
        return outcome(c)


@guard("search_path via ALTER ... SET inside a function call")
def _c9(ctx: Ctx) -> object:
    return q(
        ctx,
        "SELECT set_config(lower('SEARCH_PATH'), 'public', false)",
        DROP,
        options="-c search_path=archive",
    )


@guard("search_path through the fast path set_config")
def _c10(ctx: Ctx) -> object:
    with ctx.direct() as conn:
        row = conn.execute(
            "SELECT 'pg_catalog.set_config(text,text,boolean)'::regprocedure::oid::int"
        ).fetchone()
    assert row is not None
    with ctx.raw(options="-c search_path=archive") as c:
        body = struct.pack("!ih", int(str(row[0])), 0) + struct.pack("!h", 3)
        for v in (b"search_path", b"public", b"false"):
            body += struct.pack("!i", len(v)) + v
        body += struct.pack("!h", 0)
        c.send(rc.message(b"F", body))
        first = outcome(c)
        c.send(rc.query(DROP))
        return first + outcome(c)


# ------------------------------------------------------------------ code that runs later


@guard("CREATE FUNCTION (plpgsql, static DDL) then SELECT f()")
def _d1(ctx: Ctx) -> object:
    f = ctx.unique("f")
    return q(
        ctx,
        f"CREATE FUNCTION {f}() RETURNS void LANGUAGE plpgsql AS $$ BEGIN {DROP}; END $$",
        f"SELECT {f}()",
    )


@guard("CREATE FUNCTION (sql body with DDL) then SELECT f()")
def _d2(ctx: Ctx) -> object:
    f = ctx.unique("f")
    return q(
        ctx, f"CREATE FUNCTION {f}() RETURNS void LANGUAGE sql AS $$ {DROP} $$", f"SELECT {f}()"
    )


@guard("CREATE FUNCTION with dynamic EXECUTE then SELECT f()")
def _d3(ctx: Ctx) -> object:
    f = ctx.unique("f")
    body = f"BEGIN EXECUTE format('%s', '{DROP}'); END"
    return q(
        ctx, f"CREATE FUNCTION {f}() RETURNS void LANGUAGE plpgsql AS $${body}$$", f"SELECT {f}()"
    )


@guard("CREATE PROCEDURE then CALL")
def _d4(ctx: Ctx) -> object:
    p = ctx.unique("p")
    return q(ctx, f"CREATE PROCEDURE {p}() LANGUAGE sql AS $$ {DROP} $$", f"CALL {p}()")


@guard("trigger on an unused table runs the DROP at INSERT")
def _d5(ctx: Ctx) -> object:
    f, tg = ctx.unique("f"), ctx.unique("tg")
    return q(
        ctx,
        f"CREATE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {DROP}; "
        "RETURN NEW; END $$",
        f"CREATE TRIGGER {tg} BEFORE INSERT ON scratch FOR EACH ROW EXECUTE FUNCTION {f}()",
        "INSERT INTO scratch VALUES (1)",
    )


@guard("event trigger that drops on the next harmless DDL")
def _d6(ctx: Ctx) -> object:
    f, et, t = ctx.unique("f"), ctx.unique("et"), ctx.unique("t")
    return q(
        ctx,
        f"CREATE FUNCTION {f}() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF current_query() NOT LIKE '%DROP COLUMN%' THEN {DROP}; END IF; END $$",
        f"CREATE EVENT TRIGGER {et} ON ddl_command_end EXECUTE FUNCTION {f}()",
        f"CREATE TABLE {t} (a int)",
        f"DROP EVENT TRIGGER IF EXISTS {et}",
    )


@guard("rule on an unused view calling a DDL function")
def _d7(ctx: Ctx) -> object:
    f, v = ctx.unique("f"), ctx.unique("v")
    return q(
        ctx,
        f"CREATE FUNCTION {f}() RETURNS int LANGUAGE plpgsql AS $$ BEGIN {DROP}; RETURN 1; END $$",
        f"CREATE VIEW {v} AS SELECT {f}() AS x",
        f"SELECT * FROM {v}",
    )


@guard("DO block with DDL in a nested EXCEPTION handler")
def _d8(ctx: Ctx) -> object:
    return q(ctx, f"DO $$ BEGIN PERFORM 1/0; EXCEPTION WHEN OTHERS THEN {DROP}; END $$")


@guard("DO block in LANGUAGE sql spelled in capitals")
def _d9(ctx: Ctx) -> object:
    return q(ctx, f"DO LANGUAGE PLPGSQL $$ BEGIN {DROP}; END $$")


@guard("DO with EXECUTE of a concatenation of constants")
def _d10(ctx: Ctx) -> object:
    return q(ctx, "DO $$ BEGIN EXECUTE 'ALTER TABLE users ' || 'DROP COLUMN email'; END $$")


@guard("DO with EXECUTE USING a constant")
def _d11(ctx: Ctx) -> object:
    return q(ctx, f"DO $$ BEGIN EXECUTE '{DROP}' USING 1; END $$")


@guard("COPY FROM PROGRAM running psql against the database")
def _d12(ctx: Ctx) -> object:
    psql = ctx.cluster.install.tool("psql")
    cmd = f'{psql} -h {ctx.cluster.socket_dir} -p {ctx.cluster.port} -d {ctx.db} -c "{DROP}"'
    return q(ctx, f"COPY scratch FROM PROGRAM '{cmd} >/dev/null; echo 1'")


@guard("SELECT INTO a table that shadows users for $user")
def _d13(ctx: Ctx) -> object:
    return q(ctx, "SELECT id INTO postgres.users FROM public.users")


@guard("EXPLAIN ANALYZE CREATE TABLE AS shadowing users for $user")
def _d14(ctx: Ctx) -> object:
    return q(ctx, "EXPLAIN ANALYZE CREATE TABLE postgres.users AS SELECT id FROM public.users")


@guard("CREATE TABLE AS EXECUTE of a prepared statement shadowing users")
def _d15(ctx: Ctx) -> object:
    return q(
        ctx,
        "PREPARE pp AS SELECT id FROM public.users",
        "CREATE TABLE postgres.users AS EXECUTE pp",
    )


@guard("WITH ... SELECT INTO shadowing users")
def _d16(ctx: Ctx) -> object:
    return q(ctx, "WITH x AS (SELECT id FROM public.users) SELECT * INTO postgres.users FROM x")


@guard("plain CREATE TABLE in the $user schema shadowing users")
def _d16b(ctx: Ctx) -> object:
    return q(ctx, "CREATE TABLE postgres.users (id int)")


@guard("CREATE VIEW in the $user schema shadowing users")
def _d16c(ctx: Ctx) -> object:
    return q(ctx, "CREATE VIEW postgres.users AS SELECT id FROM public.users")


@guard("SET SCHEMA moves a table into the $user schema")
def _d16d(ctx: Ctx) -> object:
    t = ctx.unique("t")
    return q(
        ctx,
        f"CREATE TABLE {t} (id int)",
        f"ALTER TABLE {t} SET SCHEMA postgres",
        f"ALTER TABLE postgres.{t} RENAME TO users",
    )


@guard("ALTER ROLE RENAME so that $user names another schema")
def _d16e(ctx: Ctx) -> object:
    return q(ctx, "ALTER ROLE archive RENAME TO archive2")


@guard("DDL through dblink-free loopback: ALTER SYSTEM then reload")
def _d17(ctx: Ctx) -> object:
    return q(ctx, "ALTER SYSTEM SET search_path = archive", "SELECT pg_reload_conf()")


@guard("ALTER ROLE SET search_path for the app's role")
def _d18(ctx: Ctx) -> object:
    return q(ctx, "ALTER ROLE postgres SET search_path = archive")


@guard("ALTER DATABASE SET default_transaction_read_only")
def _d19(ctx: Ctx) -> object:
    return q(ctx, f"ALTER DATABASE {ctx.db} SET search_path = archive")


@guard("DROP through a SECURITY DEFINER function created in a rolled-back-looking block")
def _d20(ctx: Ctx) -> object:
    f = ctx.unique("f")
    return q(
        ctx,
        f"BEGIN; CREATE FUNCTION {f}() RETURNS void LANGUAGE sql AS $$ {DROP} $$; "
        f"SELECT {f}(); COMMIT",
    )


@guard("DECLARE a cursor over a DDL function")
def _d21(ctx: Ctx) -> object:
    f = ctx.unique("f")
    return q(
        ctx,
        f"CREATE FUNCTION {f}() RETURNS int LANGUAGE sql AS $$ {DROP}; SELECT 1 $$",
        f"BEGIN; DECLARE c CURSOR FOR SELECT {f}(); FETCH c; COMMIT",
    )


# ------------------------------------------------------------------ startup and framing


@guard("replication=database then DROP in RAW mode")
def _e1(ctx: Ctx) -> object:
    return q(ctx, DROP, replication="database")


@guard("replication=on spelled 'On'")
def _e2(ctx: Ctx) -> object:
    return q(ctx, DROP, replication="On")


@guard("replication=yes via options -c")
def _e3(ctx: Ctx) -> object:
    return q(ctx, DROP, options="-c replication=database")


@guard("duplicate application_name startup parameters")
def _e4(ctx: Ctx) -> object:
    with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=10) as c:
        body = (
            b"user\x00postgres\x00database\x00" + ctx.db.encode() + b"\x00"
            b"application_name\x00x\x00application_name\x00y\x00\x00"
        )
        c.send(struct.pack("!ii", len(body) + 8, 3 << 16) + body)
        replies = c.read_until("Z", "E")
        if replies[-1].type != "Z":
            return "refused"
        c.send(rc.query(DROP))
        return outcome(c)


@guard("protocol 3.2 startup then DROP")
def _e5(ctx: Ctx) -> object:
    with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=10) as c:
        replies = c.startup(ctx.params(), minor=2)
        if replies[-1].type != "Z":
            return "refused"
        c.send(rc.query(DROP))
        return outcome(c)


@guard("protocol 3.99 with _pq_ options then DROP")
def _e6(ctx: Ctx) -> object:
    with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=10) as c:
        replies = c.startup(ctx.params(**{"_pq_.bogus": "1"}), minor=99)
        if replies[-1].type != "Z":
            return "refused"
        c.send(rc.query(DROP))
        return outcome(c)


@guard("GSSENC refused, SSL refused plain, then startup + DROP")
def _e7(ctx: Ctx) -> object:
    sock = socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=10)
    sock.sendall(rc.GSSENC_REQUEST)
    gss = sock.recv(1)
    sock.sendall(rc.startup(ctx.params()) + rc.query(DROP))
    time.sleep(2)
    data = sock.recv(65536)
    sock.close()
    return (gss, rc.error_code(rc.messages_of(data[: len(data)]) if data else []))


@guard("DROP glued to the StartupMessage and a password message")
def _e8(ctx: Ctx) -> object:
    with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=10) as c:
        c.send(rc.startup(ctx.params()) + rc.password("x") + rc.query(DROP))
        return outcome(c, count=1)


@guard("unknown message type between statements")
def _e9(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.message(b"!", b"junk") + rc.query(DROP))
        return outcome(c)


@guard("CopyData outside COPY hiding a Query")
def _e10(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.copy_data(rc.query(DROP)) + rc.query(DROP))
        return outcome(c, count=2)


@guard("DROP sent inside COPY FROM STDIN data then CopyDone")
def _e11(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.query("COPY scratch FROM STDIN"))
        c.read_until("G")
        c.send(rc.copy_data(b"1\n"), rc.query(DROP), rc.copy_done())
        return outcome(c, count=2)


@guard("Query sent while COPY IN is open (PostgreSQL errors, then reads on)")
def _e12(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.query("COPY scratch FROM STDIN"))
        c.read_until("G")
        c.send(rc.parse(DROP) + rc.bind() + rc.execute() + rc.sync())
        c.send(rc.copy_done())
        return outcome(c, count=2)


@guard("message length 4 Query (no body) then DROP")
def _e13(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(b"Q" + struct.pack("!i", 4) + rc.query(DROP))
        return outcome(c, count=2)


@guard("negative message length")
def _e14(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(b"Q" + struct.pack("!i", -5) + rc.query(DROP))
        return outcome(c)


@guard("length 0x7fffffff header then close")
def _e15(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(b"d" + struct.pack("!i", 0x7FFFFFFF) + b"x" * 100)
        return outcome(c)


@guard("1-byte dribble of a DROP behind a SELECT")
def _e16(ctx: Ctx) -> object:
    data = rc.query("SELECT 1") + rc.query(DROP)
    with ctx.raw() as c:
        for i in range(len(data)):
            c.send(data[i : i + 1])
            time.sleep(0.001)
        return outcome(c, count=2)


@guard("cancel request with a forged key aimed at the live session")
def _e17(ctx: Ctx) -> object:
    with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=5) as c:
        c.send(rc.cancel_request(1, b"\x00\x00\x00\x01"))
        with contextlib.suppress(TimeoutError):
            return c.read_to_eof(3)
    return "open"


@guard("SSLRequest answered N then a second SSLRequest")
def _e18(ctx: Ctx) -> object:
    sock = socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5)
    sock.sendall(rc.SSL_REQUEST)
    first = sock.recv(1)
    sock.sendall(rc.SSL_REQUEST)
    time.sleep(0.5)
    try:
        rest = sock.recv(100)
    except OSError:
        rest = b""
    sock.close()
    return (first, rest[:20])


# ------------------------------------------------------------------ overrides and identity


@guard("override comment from a role that is not an override role")
def _f1(ctx: Ctx) -> object:
    return q(ctx, f'/* skewguard:allow reason="x" */ {DROP}')


@guard("SET skewguard.allow from a non-override role")
def _f2(ctx: Ctx) -> object:
    return q(ctx, "SET skewguard.allow = 'x'", DROP)


@guard("startup options -c skewguard.allow")
def _f3(ctx: Ctx) -> object:
    return q(ctx, DROP, options="-c skewguard.allow=x")


@guard("startup parameter skewguard.allow")
def _f4(ctx: Ctx) -> object:
    return q(ctx, DROP, **{"skewguard.allow": "x"})


@guard("retag the migration as the live version then drop")
def _f5(ctx: Ctx) -> object:
    return q(ctx, "SET application_name = 'shop@1'", DROP)


@guard("tag as a migrator app via options")
def _f6(ctx: Ctx) -> object:
    return q(ctx, DROP, options="-c skewguard.app=migrator")


# ------------------------------------------------------------------ round 2: session defaults


def as_archive(ctx: Ctx, *texts: str, **extra: str) -> list[str]:
    """The texts from a new connection as the role ``archive``, whose ``"$user"`` schema
    holds an unused ``users``: only a search_path without it reaches public.users."""
    return q(ctx, *texts, user="archive", **extra)


@guard("ALTER ROLE SET search_path for a future connection, DDL through it")
def _r1(ctx: Ctx) -> object:
    return q(ctx, "ALTER ROLE archive SET search_path = public") + as_archive(ctx, DROP)


@guard("ALTER ROLE IN DATABASE SET search_path, DDL through a new connection")
def _r2(ctx: Ctx) -> object:
    first = q(ctx, f"ALTER ROLE archive IN DATABASE {ctx.db} SET search_path = public")
    return first + as_archive(ctx, DROP)


@guard("ALTER DATABASE SET search_path, DDL through a new connection")
def _r3(ctx: Ctx) -> object:
    return q(ctx, f"ALTER DATABASE {ctx.db} SET search_path = public") + as_archive(ctx, DROP)


@guard("ALTER ROLE ALL SET search_path, DDL through a new connection")
def _r4(ctx: Ctx) -> object:
    return q(ctx, "ALTER ROLE ALL SET search_path = public") + as_archive(ctx, DROP)


@guard("ALTER SYSTEM SET search_path and reload, DDL through a new connection")
def _r5(ctx: Ctx) -> object:
    first = q(ctx, "ALTER SYSTEM SET search_path = public", "SELECT pg_reload_conf()")
    time.sleep(0.3)
    return first + as_archive(ctx, DROP)


@guard("role default path, then SET search_path TO DEFAULT after a startup option")
def _r6(ctx: Ctx) -> object:
    first = q(ctx, "ALTER ROLE archive SET search_path = public")
    return first + as_archive(
        ctx, "SET search_path TO DEFAULT", DROP, options="-c search_path=archive"
    )


@guard("role default path, SET search_path = archive, RESET ALL, DDL")
def _r7(ctx: Ctx) -> object:
    first = q(ctx, "ALTER ROLE archive SET search_path = public")
    return first + as_archive(ctx, f"SET search_path = archive; RESET ALL; {DROP}")


@guard("role default path, DISCARD ALL pipelined before the DDL")
def _r8(ctx: Ctx) -> object:
    first = q(ctx, "ALTER ROLE archive SET search_path = public")
    return first + as_archive(ctx, "SET search_path = archive", "DISCARD ALL", DROP)


@guard("SET LOCAL search_path in a committed block, DDL after it as archive")
def _r9(ctx: Ctx) -> object:
    return as_archive(
        ctx, "BEGIN; SET LOCAL search_path = archive; COMMIT", DROP.replace("users", "public.users")
    )


@guard("set_config(search_path, public, true) in a block as archive, then DDL")
def _r10(ctx: Ctx) -> object:
    return as_archive(
        ctx, f"BEGIN; SELECT set_config('search_path', 'public', true); {DROP}; COMMIT"
    )


@guard("set_config(search_path) through the extended protocol as archive, DDL pipelined")
def _r11(ctx: Ctx) -> object:
    with ctx.raw(user="archive") as c:
        c.send(
            rc.parse("SELECT set_config('search_path', $1, false)")
            + rc.bind(["public"])
            + rc.execute()
            + rc.parse(DROP)
            + rc.bind()
            + rc.execute()
            + rc.sync()
        )
        return outcome(c)


@guard("function with a SET search_path clause running the DDL")
def _r12(ctx: Ctx) -> object:
    f = ctx.unique("f")
    return as_archive(
        ctx,
        f"CREATE FUNCTION {f}() RETURNS void LANGUAGE plpgsql SET search_path = public "
        f"AS $$ BEGIN {DROP}; END $$",
        f"SELECT {f}()",
    )


@guard("startup options -c session_replication_role=replica then DDL")
def _r13(ctx: Ctx) -> object:
    return q(ctx, DROP, options="-c session_replication_role=replica")


@guard("startup options -c default_transaction_read_only=on, SET off, DDL")
def _r14(ctx: Ctx) -> object:
    return q(
        ctx,
        "SET default_transaction_read_only = off",
        DROP,
        options="-c default_transaction_read_only=on",
    )


@guard("role as archive with startup search_path param, then RESET search_path")
def _r15(ctx: Ctx) -> object:
    first = q(ctx, "ALTER ROLE archive SET search_path = public")
    return first + as_archive(ctx, "RESET search_path", DROP, search_path="archive")


@guard("ALTER ROLE archive SET role = postgres: $user is not the login role")
def _r16(ctx: Ctx) -> object:
    with ctx.direct() as conn:
        conn.execute("DROP SCHEMA postgres")  # "$user" skipped: users is public.users
    return q(ctx, "ALTER ROLE archive SET role = postgres") + as_archive(ctx, DROP)


# ------------------------------------------------------------------ round 2: other paths to DDL


@guard("dblink_exec back into the database")
def _s1(ctx: Ctx) -> object:
    conninfo = f"host=127.0.0.1 port={ctx.cluster.port} dbname={ctx.db} user=postgres"
    return q(
        ctx,
        "CREATE EXTENSION IF NOT EXISTS dblink",
        f"SELECT dblink_exec('{conninfo}', '{DROP}')",
    )


@guard("dblink_exec spelled through a schema-qualified call in a CTE")
def _s2(ctx: Ctx) -> object:
    conninfo = f"host=127.0.0.1 port={ctx.cluster.port} dbname={ctx.db} user=postgres"
    return q(
        ctx,
        "CREATE EXTENSION IF NOT EXISTS dblink",
        f"WITH x AS (SELECT public.dblink_exec('{conninfo}', '{DROP}')) SELECT * FROM x",
    )


@guard("IMPORT FOREIGN SCHEMA a users table into the $user schema")
def _s3(ctx: Ctx) -> object:
    return q(
        ctx,
        "CREATE EXTENSION IF NOT EXISTS postgres_fdw",
        "CREATE SERVER IF NOT EXISTS loop FOREIGN DATA WRAPPER postgres_fdw "
        f"OPTIONS (host '127.0.0.1', port '{ctx.cluster.port}', dbname '{ctx.db}')",
        "CREATE USER MAPPING IF NOT EXISTS FOR postgres SERVER loop OPTIONS (user 'postgres')",
        "IMPORT FOREIGN SCHEMA archive LIMIT TO (users) FROM SERVER loop INTO postgres",
    )


@guard("CREATE FOREIGN TABLE users in the $user schema")
def _s4(ctx: Ctx) -> object:
    return q(
        ctx,
        "CREATE EXTENSION IF NOT EXISTS postgres_fdw",
        "CREATE SERVER IF NOT EXISTS loop FOREIGN DATA WRAPPER postgres_fdw "
        f"OPTIONS (host '127.0.0.1', port '{ctx.cluster.port}', dbname '{ctx.db}')",
        "CREATE FOREIGN TABLE postgres.users (id int, email text) SERVER loop",
    )


@guard("CREATE SCHEMA with an embedded CREATE TABLE users shadowing for $user")
def _s5(ctx: Ctx) -> object:
    return q(ctx, "DROP SCHEMA postgres; CREATE SCHEMA postgres CREATE TABLE users (id int)")


@guard("DROP OWNED BY the owner of users")
def _s6(ctx: Ctx) -> object:
    with ctx.direct() as conn:
        conn.execute("ALTER TABLE public.users OWNER TO archive")
    try:
        return q(ctx, "DROP OWNED BY archive")
    finally:
        with ctx.direct() as conn, contextlib.suppress(psycopg.Error):
            conn.execute("ALTER TABLE public.users OWNER TO postgres")


@guard("DROP SCHEMA public CASCADE")
def _s7(ctx: Ctx) -> object:
    return q(ctx, "DROP SCHEMA public CASCADE")


@guard("DROP TABLE of a list whose second name is users")
def _s8(ctx: Ctx) -> object:
    t = ctx.unique("t")
    return q(ctx, f"CREATE TABLE {t} (a int)", f"DROP TABLE IF EXISTS nothing_here, {t}, users")


@guard("ALTER TABLE ... DROP without COLUMN, IF EXISTS, ONLY, qualified")
def _s9(ctx: Ctx) -> object:
    return q(ctx, "ALTER TABLE IF EXISTS ONLY public.users DROP IF EXISTS email RESTRICT")


@guard("RENAME without COLUMN keyword")
def _s10(ctx: Ctx) -> object:
    return q(ctx, "ALTER TABLE users RENAME email TO email_old")


@guard("ATTACH PARTITION of the used table then DROP the parent")
def _s11(ctx: Ctx) -> object:
    p = ctx.unique("p")
    return q(
        ctx,
        f"CREATE TABLE {p} (id int NOT NULL, email text, name text) PARTITION BY RANGE (id)",
        f"ALTER TABLE {p} ATTACH PARTITION users FOR VALUES FROM (0) TO (1000000)",
        f"DROP TABLE {p}",
    )


@guard("REINDEX, CREATE STATISTICS, SECURITY LABEL, ALTER DEFAULT PRIVILEGES, then DROP")
def _s12(ctx: Ctx) -> object:
    s = ctx.unique("s")
    return q(
        ctx,
        "REINDEX TABLE users",
        f"CREATE STATISTICS {s} ON email, name FROM users",
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC",
        f"REINDEX TABLE users; {DROP}",
    )


@guard("CREATE PUBLICATION then DDL in the same text")
def _s13(ctx: Ctx) -> object:
    pub = ctx.unique("pub")
    return q(ctx, f"CREATE PUBLICATION {pub} FOR TABLE users; {DROP}")


@guard("PREPARE TRANSACTION of a held DDL, COMMIT PREPARED elsewhere")
def _s14(ctx: Ctx) -> object:
    gid = ctx.unique("gid")
    first = q(ctx, f"BEGIN; {DROP}; PREPARE TRANSACTION '{gid}'")
    return first + q(ctx, f"COMMIT PREPARED '{gid}'")


@guard("Describe and Execute of a DDL portal after an error in the block")
def _s15(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.query("BEGIN"),
            rc.parse(DROP, "s") + rc.bind(portal="p", statement="s") + rc.sync(),
            rc.query("SELECT 1/0"),
            rc.describe("P", "p") + rc.execute("p") + rc.sync(),
            rc.query("ROLLBACK"),
            rc.describe("P", "p") + rc.execute("p") + rc.sync(),
        )
        return outcome(c, count=6)


@guard("EUC_TW client encoding (no Python codec) with a non-ASCII alias before DDL")
def _s16(ctx: Ctx) -> object:
    with ctx.raw(client_encoding="EUC_TW") as c:
        c.send(rc.message(b"Q", b"/* \xa4\xa4 */ " + DROP.encode() + b"\x00"))
        return outcome(c)


@guard("LATIN1 name of a column the live version reads")
def _s17(ctx: Ctx) -> object:
    with ctx.raw(client_encoding="LATIN1") as c:
        c.send(rc.message(b"Q", b'ALTER TABLE users DROP COLUMN "pr\xe9nom"\x00'))
        got = outcome(c)
    with ctx.direct() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.users'::regclass "
            "AND attname = 'prénom' AND NOT attisdropped"
        ).fetchone()
    if not row or row[0] != 1:
        conn = ctx.direct()
        conn.execute('ALTER TABLE public.users ADD COLUMN "prénom" text')
        conn.close()
        raise Bypassed(f"prénom dropped ({got})")
    return got


@guard("WIN1251 Cyrillic identifier equal to nothing in UTF-8 reading")
def _s18(ctx: Ctx) -> object:
    with ctx.raw(client_encoding="WIN1251") as c:
        c.send(rc.message(b"Q", b'ALTER TABLE users RENAME COLUMN "\xe8\xec\xff" TO x\x00'))
        got = outcome(c)
    with ctx.direct() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.users'::regclass "
            "AND attname = 'имя' AND NOT attisdropped"
        ).fetchone()
    if not row or row[0] != 1:
        with ctx.direct() as conn:
            conn.execute('ALTER TABLE public.users RENAME COLUMN x TO "имя"')
        raise Bypassed(f"имя renamed ({got})")
    return got


# ------------------------------------------------------------ round 3: deferred, hidden DDL

_RUNNER = """
CREATE SCHEMA IF NOT EXISTS cron;
CREATE OR REPLACE FUNCTION cron.schedule(job text, at text, command text) RETURNS bigint
    LANGUAGE plpgsql AS 'BEGIN EXECUTE command; RETURN 1; END';
CREATE OR REPLACE FUNCTION pg_background_launch(sql text, queue_size int DEFAULT 65536)
    RETURNS int LANGUAGE plpgsql AS 'BEGIN EXECUTE sql; RETURN 1; END';
CREATE OR REPLACE FUNCTION run_arg() RETURNS trigger
    LANGUAGE plpgsql AS 'BEGIN EXECUTE TG_ARGV[0]; RETURN NEW; END';
"""


def runners(ctx: Ctx) -> None:
    """Stand-ins for pg_cron / pg_background (run their SQL at once, as a job would
    later) and a generic trigger function an administrator installed earlier."""
    with ctx.direct() as conn:
        conn.execute(_RUNNER)


@guard("pg_cron: cron.schedule of the DROP as a job's command")
def _t1(ctx: Ctx) -> object:
    runners(ctx)
    return q(ctx, f"SELECT cron.schedule('j', '* * * * *', '{DROP}')")


@guard("pg_cron: job command built by concatenation")
def _t2(ctx: Ctx) -> object:
    runners(ctx)
    return q(ctx, "SELECT cron.schedule('j', '* * * * *', 'ALTER TABLE users ' || 'DROP email')")


@guard("pg_background_launch of the DROP")
def _t3(ctx: Ctx) -> object:
    runners(ctx)
    return q(ctx, f"SELECT pg_background_launch('{DROP}')")


@guard("pg_background_launch through Parse/Bind with the SQL as a parameter")
def _t4(ctx: Ctx) -> object:
    runners(ctx)
    with ctx.raw() as c:
        c.send(
            rc.parse("SELECT pg_background_launch($1)"), rc.bind([DROP]), rc.execute(), rc.sync()
        )
        return outcome(c)


@guard("trigger with the DROP as an argument of an installed EXECUTE-TG_ARGV function")
def _t5(ctx: Ctx) -> object:
    runners(ctx)
    name = ctx.unique("trg")
    return q(
        ctx,
        f"CREATE TRIGGER {name} BEFORE INSERT ON scratch FOR EACH ROW "
        f"EXECUTE FUNCTION run_arg('{DROP}')",
        "INSERT INTO scratch VALUES (1)",
    )


@guard("DO block with format()/quote_ident-built DDL")
def _t6(ctx: Ctx) -> object:
    return q(
        ctx,
        "DO $$ BEGIN EXECUTE format('ALTER TABLE %I DROP COLUMN %s', 'users', "
        "quote_ident('email')); END $$",
    )


@guard("CALL of a procedure that COMMITs between DDL statements")
def _t7(ctx: Ctx) -> object:
    name = ctx.unique("proc")
    return q(
        ctx,
        f"CREATE PROCEDURE {name}() LANGUAGE plpgsql AS $$ BEGIN CREATE TABLE {name}_t (a int);"
        f" COMMIT; {DROP}; END $$",
        f"CALL {name}()",
    )


@guard("SQL PREPARE of a SELECT calling the pg_background stand-in, then EXECUTE")
def _t8(ctx: Ctx) -> object:
    runners(ctx)
    name = ctx.unique("p")
    return q(ctx, f"PREPARE {name} AS SELECT pg_background_launch('{DROP}')", f"EXECUTE {name}")


@guard("DROP portal executed with max_rows=1 (suspended)")
def _t9(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP), rc.bind(), rc.execute(max_rows=1), rc.sync())
        return outcome(c)


@guard("Parse of the DROP with 65535 parameter types")
def _t10(ctx: Ctx) -> object:
    with ctx.raw() as c:
        body = (
            b"\x00"
            + DROP.encode()
            + b"\x00"
            + struct.pack("!H", 65535)
            + b"\x00\x00\x00\x19" * 65535
        )
        c.send(rc.message(b"P", body), rc.bind(), rc.execute(), rc.sync())
        return outcome(c)


@guard("Bind with a wrong parameter count, then the DROP in the same batch")
def _t11(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse("SELECT $1::int", "one"), rc.bind(["1", "2"], statement="one"),
            rc.parse(DROP), rc.bind(), rc.execute(), rc.sync(),
        )  # fmt: skip
        first = outcome(c)
        c.send(rc.parse(DROP), rc.bind(), rc.execute(), rc.sync())
        return first + outcome(c)


@guard("Flush-only pipeline holding the DROP, never a Sync, then a plain Query")
def _t12(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP), rc.bind(), rc.execute(), rc.flush())
        time.sleep(2.0)
        c.send(rc.query("SELECT 1"))
        return outcome(c)


@guard("COPY FROM STDIN in a pipeline, the DROP after it")
def _t13(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse("COPY scratch FROM STDIN"), rc.bind(), rc.execute(),
            rc.parse(DROP), rc.bind(), rc.execute(), rc.sync(),
        )  # fmt: skip
        time.sleep(0.5)
        c.send(rc.copy_data(b"1\n"), rc.copy_done(), rc.sync())
        return outcome(c, count=2)


@guard("COPY FROM STDIN; DROP in one simple Query")
def _t14(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.query(f"COPY scratch FROM STDIN; {DROP}"))
        time.sleep(0.5)
        c.send(rc.copy_data(b"1\n"), rc.copy_done())
        return outcome(c)


@guard("savepoint, DROP held, ROLLBACK TO, DROP again, RELEASE, COMMIT")
def _t15(ctx: Ctx) -> object:
    return q(ctx, f"BEGIN; SAVEPOINT a; {DROP}; ROLLBACK TO a; {DROP}; RELEASE a; COMMIT")


@guard("set_config(client_encoding, SJIS) in a multi-statement Query before the hiding text")
def _t16(ctx: Ctx) -> object:
    with ctx.raw() as c:
        text = (
            b"SELECT set_config('client_encoding', 'SJIS', false); "
            b"SELECT E'\x95\\'; " + DROP.encode() + b"; -- '\x00"
        )
        c.send(rc.message(b"Q", text))
        return outcome(c)


@guard("identifier longer than NAMEDATALEN truncated to the column's name")
def _t17(ctx: Ctx) -> object:
    # "users" padded past 63 bytes names another table; the column spelled long
    # is still email only if PostgreSQL's truncation lands there (it does not: held
    # is also right). The multibyte tail is cut at a character boundary.
    long = "email" + "é" * 40
    return q(
        ctx, f'ALTER TABLE users DROP COLUMN "{long}"', f"ALTER TABLE users DROP COLUMN {long}"
    )


@guard("CREATE RULE DO INSTEAD on a table the version reads, running the DROP stand-in")
def _t18(ctx: Ctx) -> object:
    runners(ctx)
    name = ctx.unique("rule")
    return q(
        ctx,
        f"CREATE RULE {name} AS ON INSERT TO scratch DO INSTEAD "
        f"SELECT pg_background_launch('{DROP}')",
        "INSERT INTO scratch VALUES (2)",
    )


@guard("SET ROLE to a role whose search_path differs, then the DROP unqualified")
def _t19(ctx: Ctx) -> object:
    with ctx.direct() as conn:
        conn.execute("DO $$ BEGIN CREATE ROLE pathy; EXCEPTION WHEN duplicate_object THEN END $$")
        conn.execute("ALTER ROLE pathy SET search_path = public")
        conn.execute("GRANT ALL ON SCHEMA public TO pathy")
    return q(ctx, "SET search_path = archive", "SET ROLE pathy", "RESET ROLE", DROP)


# ------------------------------------------------------------------ admin port


def admin(ctx: Ctx, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", ctx.proxy.admin_port, timeout=10)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def _admin_alive(ctx: Ctx) -> None:
    assert admin(ctx, "GET", "/healthz")[0] == 200


@other("admin: text/plain cross-site POST to pin")
def _g1(ctx: Ctx) -> object:
    status, _ = admin(
        ctx,
        "POST",
        "/api/versions/pin",
        b'{"app":"x","version":"1"}',
        **{"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    assert status >= 400, status
    return status


@other("admin: Host header of another name (DNS rebinding)")
def _g2(ctx: Ctx) -> object:
    status, _ = admin(
        ctx,
        "POST",
        "/api/check",
        b'{"sql":"SELECT 1"}',
        **{"Content-Type": "application/json", "Host": "evil.example"},
    )
    assert status >= 400, status
    return status


@other("admin: path traversal")
def _g3(ctx: Ctx) -> object:
    out = []
    for path in (
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/static/../../etc/passwd",
        "//etc/passwd",
        "/api/../../etc/passwd",
    ):
        status, data = admin(ctx, "GET", path)
        assert b"root:" not in data, path
        out.append(status)
    return out


@other("admin: oversized header")
def _g4(ctx: Ctx) -> object:
    with contextlib.suppress(OSError, http.client.HTTPException):
        status, _ = admin(ctx, "GET", "/healthz", **{"X-Big": "a" * 200_000})
        _admin_alive(ctx)
        return status
    _admin_alive(ctx)
    return "closed"


@other("admin: many headers")
def _g5(ctx: Ctx) -> object:
    headers = {f"X-H{i}": "v" for i in range(5000)}
    with contextlib.suppress(OSError, http.client.HTTPException):
        status, _ = admin(ctx, "GET", "/healthz", **headers)
        _admin_alive(ctx)
        return status
    _admin_alive(ctx)
    return "closed"


@other("admin: body larger than its Content-Length limit")
def _g6(ctx: Ctx) -> object:
    body = b'{"sql":"' + b"x" * (8 << 20) + b'"}'
    with contextlib.suppress(OSError, http.client.HTTPException):
        status, _ = admin(ctx, "POST", "/api/check", body, **{"Content-Type": "application/json"})
        _admin_alive(ctx)
        return status
    _admin_alive(ctx)
    return "closed"


@other("admin: JSON bomb (deep nesting)")
def _g7(ctx: Ctx) -> object:
    body = b"[" * 50_000 + b"]" * 50_000
    status, _ = admin(ctx, "POST", "/api/check", body, **{"Content-Type": "application/json"})
    _admin_alive(ctx)
    return status


@other("admin: slowloris keeps the server serving others")
def _g8(ctx: Ctx) -> object:
    socks = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", ctx.proxy.admin_port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ")
        socks.append(s)
    start = time.monotonic()
    _admin_alive(ctx)
    took = time.monotonic() - start
    for s in socks:
        s.close()
    assert took < 2, took
    return f"{took:.2f}s"


@other("admin: method confusion (GET on a mutation, DELETE, TRACE)")
def _g9(ctx: Ctx) -> object:
    out = []
    for method, path in (
        ("GET", "/api/versions/pin"),
        ("DELETE", "/api/versions"),
        ("TRACE", "/"),
        ("PUT", "/api/check"),
        ("OPTIONS", "/api/check"),
    ):
        status, _ = admin(ctx, method, path)
        out.append((method, status))
    return out


@other("admin: chunked body without Content-Length")
def _g10(ctx: Ctx) -> object:
    s = socket.create_connection(("127.0.0.1", ctx.proxy.admin_port), timeout=5)
    s.sendall(
        b"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + b"100000\r\n" + b"x" * 100 + b"\r\n"
    )
    time.sleep(0.5)
    s.close()
    _admin_alive(ctx)
    return "ok"


@other("metrics: application_name cardinality from clients")
def _g11(ctx: Ctx) -> object:
    for i in range(300):
        with (
            contextlib.suppress(Exception),
            rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=5) as c,
        ):
            c.startup(ctx.params(application_name=f"spam{i}@{i}"))
    apps = set(re.findall(r'app="(spam\d+)"', ctx.proxy.get("/metrics")))
    assert len(apps) <= 100, len(apps)  # --max-tracked-versions 100: the rest are (other)
    return f"{len(apps)} app labels for 300 claimed tags"


@other("status page: markup in a claimed app@version is escaped")
def _g13(ctx: Ctx) -> object:
    tag = "<svg/onload=alert(1)>@<b>1</b>"
    with ctx.raw(application_name=tag) as c:
        c.send(rc.query("SELECT email FROM users"))
        outcome(c)
        time.sleep(1.5)
        page = ctx.proxy.get("/")
    assert "<svg/onload" not in page and "<b>1</b>" not in page, "markup reached the page"
    return "escaped"


@other("admin: cross-origin reads get no CORS grant")
def _g14(ctx: Ctx) -> object:
    conn = http.client.HTTPConnection("127.0.0.1", ctx.proxy.admin_port, timeout=10)
    conn.request("GET", "/api/versions", headers={"Origin": "http://evil.example"})
    response = conn.getresponse()
    response.read()
    grant = response.getheader("Access-Control-Allow-Origin")
    conn.close()
    assert grant is None, grant
    return response.status


@other("metrics: label values with quotes and braces stay one sample")
def _g15(ctx: Ctx) -> object:
    tag = 'a"}evil{x="1@1'
    with ctx.raw(application_name=tag) as c:
        c.send(rc.query("SELECT 1"))
        outcome(c)
    text = ctx.proxy.get("/metrics")
    assert "\nevil" not in text and 'evil{x="1"}' not in text
    ctx.proxy.metrics()  # still parses
    return "parsed"


@other("no literal: failing statement's literal in logs, API, metrics, decisions")
def _g12(ctx: Ctx) -> object:
    with ctx.raw(application_name="shop@1") as c:
        c.send(rc.query(f"SELECT email FROM users WHERE email = '{SECRET}'"))
        outcome(c)
    q(ctx, f"ALTER TABLE users ALTER COLUMN email SET DEFAULT '{SECRET}x'; {DROP}")
    q(ctx, f"ALTER TABLE users ADD CONSTRAINT c1 CHECK (email <> '{SECRET}y')")
    q(ctx, f"DO $$ BEGIN EXECUTE format('{SECRET}z'); END $$")
    with ctx.raw() as c:
        c.send(
            rc.query(f"ALTER TABLE users ALTER COLUMN email SET DEFAULT E'{SECRET}\\x41'; {DROP}")
        )
        replies = c.read_ready()
    detail = " ".join(str(r.fields()) for r in replies if r.type == "E")
    time.sleep(1.5)
    leaks = []
    for path in ("/api/versions", "/api/decisions", "/metrics", "/"):
        if SECRET in ctx.proxy.get(path):
            leaks.append(path)
    if SECRET in ctx.proxy.log_tail():
        leaks.append("log")
    if SECRET in detail:
        leaks.append("detail")
    assert not leaks, leaks
    return "no leak"


# ------------------------------------------------------------------ round 2: floods and bounds


def _metric(ctx: Ctx, name: str) -> float:
    return sum(v for (n, _), v in ctx.proxy.metrics().items() if n == name)


def _serves(ctx: Ctx) -> None:
    with ctx.raw() as c:
        c.send(rc.query("SELECT 1"))
        assert outcome(c) == ["ok"]


@other("cancel: 300 guessed keys for the live session's pid reach no server")
def _h1(ctx: Ctx) -> object:
    pid = int(ctx.live.info.backend_pid)  # type: ignore[attr-defined]
    relayed = _metric(ctx, "skewguard_cancel_requests_total")
    for i in range(300):
        with socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5) as s:
            s.sendall(rc.cancel_request(pid, struct.pack("!I", i * 7919)))
            s.settimeout(5)
            assert s.recv(1) == b""
    ctx.live.execute("SELECT email FROM users WHERE id = 1").fetchall()  # type: ignore[attr-defined]
    assert _metric(ctx, "skewguard_cancel_requests_total") == relayed
    return f"{_metric(ctx, 'skewguard_cancel_requests_unmatched_total'):.0f} dropped"


@other("cancel: a direct connection's real key sent through the proxy")
def _h2(ctx: Ctx) -> object:
    with rc.RawClient("127.0.0.1", ctx.cluster.port, timeout=10) as outsider:
        replies = outsider.startup({"user": "postgres", "database": ctx.db})
        body = next(r for r in replies if r.type == "K").body
        outsider.send(rc.query("SELECT pg_sleep(1)"))
        with socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5) as s:
            s.sendall(rc.cancel_request(struct.unpack_from("!i", body)[0], bytes(body[4:])))
            s.settimeout(5)
            s.recv(1)
        got = outcome(outsider)
    assert got == ["ok"], got
    return got


@other("cancel: a flood of the session's own key costs one upstream cancel at a time")
def _h3(ctx: Ctx) -> object:
    with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=10) as c:
        body = next(r for r in c.startup(ctx.params()) if r.type == "K").body
        c.send(rc.query("SELECT pg_sleep(20)"))
        time.sleep(0.2)
        before = _metric(ctx, "skewguard_cancel_requests_total")
        socks = []
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5)
            s.sendall(rc.cancel_request(struct.unpack_from("!i", body)[0], bytes(body[4:])))
            socks.append(s)
        for s in socks:
            s.settimeout(10)
            s.recv(1)
            s.close()
        got = outcome(c)
    relayed = _metric(ctx, "skewguard_cancel_requests_total") - before
    assert got == ["57014"], got
    assert relayed < 100, relayed
    return f"{relayed:.0f} relayed for 100 sent"


@other("startup: 400 half-sent startup packets, a real client still served")
def _h4(ctx: Ctx) -> object:
    socks = []
    for _ in range(400):
        with contextlib.suppress(OSError):
            s = socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5)
            s.sendall(struct.pack("!i", 200))  # a length, then nothing
            socks.append(s)
    start = time.monotonic()
    _serves(ctx)
    took = time.monotonic() - start
    for s in socks:
        s.close()
    assert took < 5, took
    return f"served in {took:.2f}s beside {len(socks)} stalled"


@other("startup: a stalled startup is ended by the proxy")
def _h5(ctx: Ctx) -> object:
    with socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5) as s:
        s.sendall(struct.pack("!i", 200))
        s.settimeout(120)
        start = time.monotonic()
        try:
            data = s.recv(100)
        except OSError:
            data = b""
        took = time.monotonic() - start
    assert took < 90, took
    return f"closed after {took:.0f}s ({data[:1]!r})"


@other("startup: direct TLS ClientHello with ALPN postgresql on a proxy without TLS")
def _h6(ctx: Ctx) -> object:
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["postgresql"])
    raw = socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5)
    try:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.recv(1)
        result = "handshake completed"
    except (ssl.SSLError, OSError) as exc:
        result = type(exc).__name__
    finally:
        raw.close()
    _serves(ctx)
    return result


@other("startup: SSLRequest answered N, then a TLS ClientHello anyway")
def _h7(ctx: Ctx) -> object:
    with socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5) as s:
        s.sendall(rc.SSL_REQUEST)
        answer = s.recv(1)
        s.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(160))
        s.settimeout(5)
        try:
            rest = s.recv(200)
        except OSError:
            rest = b""
    _serves(ctx)
    return (answer, rest[:1])


@other("startup: GSSENCRequest, then SSLRequest, then a startup with 2000 parameters")
def _h8(ctx: Ctx) -> object:
    params = ctx.params(**{f"x{i}": "v" for i in range(2000)})
    with socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5) as s:
        s.sendall(rc.GSSENC_REQUEST)
        g = s.recv(1)
        s.sendall(rc.SSL_REQUEST)
        t = s.recv(1)
        s.sendall(rc.startup(params))
        s.settimeout(5)
        try:
            rest = s.recv(300)
        except OSError:
            rest = b""
    _serves(ctx)
    return (g, t, rest[:1])


@other("protocol: 50000 named prepared statements and portals in one session")
def _h9(ctx: Ctx) -> object:

    assert ctx.proxy.process is not None
    pid = ctx.proxy.process.pid
    before = _rss(pid)
    with ctx.raw() as c:
        batch = b"".join(
            rc.parse(f"SELECT {i}", f"s{i}") + rc.bind(portal=f"p{i}", statement=f"s{i}")
            for i in range(50_000)
        )
        c.sock.settimeout(120)
        c.send(batch + rc.query("BEGIN"), rc.sync())
        got = outcome(c, count=2)
    grew = (_rss(pid) - before) / 1e6
    _serves(ctx)
    assert grew < 200, grew
    return f"{got}, proxy RSS +{grew:.0f} MB"


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@other("protocol: LISTEN on 5000 channels and a NOTIFY flood of 8000-byte payloads")
def _h10(ctx: Ctx) -> object:
    with ctx.raw() as listener, ctx.raw() as talker:
        listener.send(rc.query("; ".join(f"LISTEN ch{i}" for i in range(5000))))
        assert outcome(listener) == ["ok"]
        payload = "n" * 7900
        talker.send(*(rc.query(f"NOTIFY ch{i}, '{payload}'") for i in range(500)))
        outcome(talker, count=500)
        listener.send(rc.query("SELECT 1"))
        got = outcome(listener)
    _serves(ctx)
    return got


@other("protocol: a Query of 200 MB is refused without taking the proxy's memory")
def _h11(ctx: Ctx) -> object:
    with ctx.raw() as c:
        head = struct.pack("!ci", b"Q", 4 + 200_000_000)
        with contextlib.suppress(OSError):
            c.sock.sendall(head + b"SELECT '" + b"x" * 8_000_000)
        got = outcome(c)
    _serves(ctx)
    return got


@other("metrics: 300 database and user names from refused logins add no series")
def _h12(ctx: Ctx) -> object:
    for i in range(300):
        with (
            contextlib.suppress(Exception),
            rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=5) as c,
        ):
            c.startup({"user": f"nouser{i}", "database": f"nodb{i}"})
    text = ctx.proxy.get("/metrics")
    found = len(set(re.findall(r"no(?:user|db)\d+", text)))
    assert found == 0, found
    return "no series"


@other("no literal: a password in CREATE ROLE / ALTER ROLE, a NOTIFY payload, a COMMENT")
def _h13(ctx: Ctx) -> object:
    role = ctx.unique("leaky")
    q(
        ctx,
        f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}p'",
        f"ALTER ROLE {role} PASSWORD '{SECRET}q'",
        f"NOTIFY ch, '{SECRET}r'",
        f"COMMENT ON COLUMN users.email IS '{SECRET}s'; {DROP}",
        f"ALTER ROLE {role} PASSWORD '{SECRET}t' VALID UNTIL 'x{SECRET}'",
    )
    with ctx.raw() as c:
        c.send(rc.query(f"ALTER USER {role} WITH ENCRYPTED PASSWORD '{SECRET}u'; {DROP}"))
        replies = c.read_ready()
    detail = " ".join(str(r.fields()) for r in replies if r.type == "E")
    time.sleep(1.5)
    leaks = [
        p
        for p in ("/api/versions", "/api/decisions", "/metrics", "/")
        if SECRET in ctx.proxy.get(p)
    ]
    if SECRET in ctx.proxy.log_tail():
        leaks.append("log")
    if SECRET in detail:
        leaks.append("detail")
    assert not leaks, leaks
    return "no leak"


@other("no literal: POST /api/check with a literal is not kept in decisions or logs")
def _h14(ctx: Ctx) -> object:
    body = (
        '{"sql": "ALTER TABLE users ALTER COLUMN email SET DEFAULT \'' + SECRET + "v'\"}"
    ).encode()
    status, _ = admin(ctx, "POST", "/api/check", body, **{"Content-Type": "application/json"})
    time.sleep(1)
    leaks = [p for p in ("/api/decisions", "/metrics", "/") if SECRET in ctx.proxy.get(p)]
    if SECRET in ctx.proxy.log_tail():
        leaks.append("log")
    assert not leaks, leaks
    return status


@other("admin: form-encoded cross-site POST to a mutation")
def _h15(ctx: Ctx) -> object:
    status, _ = admin(
        ctx,
        "POST",
        "/api/versions/x@1/pin",
        b"app=x&version=1",
        **{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"},
    )
    assert status >= 400, status
    return status


@other("admin: JSON mutation carrying a foreign Origin / Sec-Fetch-Site cross-site")
def _h16(ctx: Ctx) -> object:
    out = []
    for headers in (
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/x"},
    ):
        status, _ = admin(
            ctx,
            "POST",
            "/api/versions/x@1/pin",
            b"{}",
            **{"Content-Type": "application/json", **headers},
        )
        out.append(status)
    assert all(s >= 400 for s in out[:3]), out  # a Referer alone: no browser sends that
    return out


@other("admin: a mutation naming a 100 kB version")
def _h17(ctx: Ctx) -> object:
    with contextlib.suppress(OSError, http.client.HTTPException):
        status, _ = admin(ctx, "POST", f"/api/versions/x@{'a' * 100_000}/pin", b"{}")
        assert "a" * 100_000 not in ctx.proxy.get("/api/versions")
        return status
    _admin_alive(ctx)
    return "closed"


@other("admin: 2000 pipelined requests on one keep-alive connection")
def _h18(ctx: Ctx) -> object:
    s = socket.create_connection(("127.0.0.1", ctx.proxy.admin_port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 2000)
    time.sleep(1)
    s.close()
    _admin_alive(ctx)
    return "ok"


@other("learning: 100000 distinct query texts do not grow the proxy without bound")
def _h19(ctx: Ctx) -> object:
    assert ctx.proxy.process is not None
    pid = ctx.proxy.process.pid
    before = _rss(pid)
    with ctx.raw(application_name="spray@1") as c:
        for start in range(0, 100_000, 5_000):
            c.send(*(rc.query(f"SELECT {i} AS c{i}") for i in range(start, start + 5_000)))
            outcome(c, count=5_000)
    time.sleep(2)
    grew = (_rss(pid) - before) / 1e6
    _serves(ctx)
    assert grew < 300, grew
    return f"proxy RSS +{grew:.0f} MB"


@other("relay: a client that stops reading a large result does not fill the proxy")
def _h20(ctx: Ctx) -> object:
    assert ctx.proxy.process is not None
    pid = ctx.proxy.process.pid
    before = _rss(pid)
    c = ctx.raw()
    c.send(rc.query("SELECT repeat('x', 100000) FROM generate_series(1, 5000)"))
    time.sleep(4)  # 500 MB on offer; the client reads nothing
    grew = (_rss(pid) - before) / 1e6
    c.close()
    _serves(ctx)
    assert grew < 100, grew
    return f"proxy RSS +{grew:.0f} MB"


@other("admin: /api/decisions with huge or malformed limits")
def _h21(ctx: Ctx) -> object:
    out = []
    for query in ("limit=999999999", "limit=-1", "limit=abc", "limit=1e9", "since=-1&limit=0"):
        status, data = admin(ctx, "GET", f"/api/decisions?{query}")
        assert len(data) < 50_000_000
        out.append(status)
    _admin_alive(ctx)
    return out


@other("guard: 40 connections sending DDL at once leave the proxy serving")
def _h22(ctx: Ctx) -> object:
    import threading

    codes: list[str] = []

    def one(i: int) -> None:
        with contextlib.suppress(Exception):
            codes.extend(q(ctx, f"ALTER TABLE scratch ADD COLUMN IF NOT EXISTS c{i} int", DROP))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    start = time.monotonic()
    _serves(ctx)
    took = time.monotonic() - start
    for t in threads:
        t.join(60)
    return f"served in {took:.2f}s; {codes.count('55006')} refusals"


@guard("CREATE OR REPLACE of an installed trigger function with the DROP in its body")
def _t20(ctx: Ctx) -> object:
    name = ctx.unique("touch")
    with ctx.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'"
        )
        conn.execute(
            f"CREATE TRIGGER {name} BEFORE INSERT ON scratch FOR EACH ROW EXECUTE FUNCTION {name}()"
        )
    return q(
        ctx,
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN EXECUTE 'ALTER TABLE users ' || 'DROP COLUMN email'; RETURN NEW; END $$",
        "INSERT INTO scratch VALUES (3)",
    )


@guard("DO block building the DROP from information_schema in a loop")
def _t21(ctx: Ctx) -> object:
    return q(
        ctx,
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT table_name, column_name FROM "
        "information_schema.columns WHERE column_name = 'email' AND table_schema = 'public' "
        "LOOP EXECUTE 'ALTER TABLE ' || quote_ident(r.table_name) || ' DROP COLUMN ' || "
        "quote_ident(r.column_name); END LOOP; END $$",
    )


@guard("ALTER FUNCTION SET search_path of a function a trigger runs, DROP unqualified")
def _t22(ctx: Ctx) -> object:
    name = ctx.unique("pathfn")
    with ctx.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            "'BEGIN EXECUTE TG_ARGV[0]; RETURN NEW; END'"
        )
    return q(
        ctx,
        f"ALTER FUNCTION {name}() SET search_path = public",
        f"CREATE TRIGGER {name} BEFORE INSERT ON scratch FOR EACH ROW "
        f"EXECUTE FUNCTION {name}(E'ALTER TABLE users DROP \\u0063olumn email')",
        "INSERT INTO scratch VALUES (4)",
    )


# ------------------------------------------------------------------ round 3: admin port, stores


def _raw_http(ctx: Ctx, request: bytes) -> bytes:
    s = socket.create_connection(("127.0.0.1", ctx.proxy.admin_port), timeout=5)
    s.sendall(request)
    out = b""
    with contextlib.suppress(OSError):
        while chunk := s.recv(65536):
            out += chunk
    s.close()
    return out


@other("admin: request smuggling with Content-Length and Transfer-Encoding both")
def _u1(ctx: Ctx) -> object:
    smuggled = b"GET /api/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    reply = _raw_http(
        ctx,
        b"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
    )
    statuses = re.findall(rb"HTTP/1\.[01] (\d{3})", reply)
    assert statuses and statuses[0].startswith(b"4") and len(statuses) == 1, statuses
    _admin_alive(ctx)
    return statuses


@other("admin: two different Content-Length headers")
def _u2(ctx: Ctx) -> object:
    reply = _raw_http(
        ctx,
        b"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
    )
    statuses = re.findall(rb"HTTP/1\.[01] (\d{3})", reply)
    assert statuses and statuses[0].startswith(b"4"), statuses
    _admin_alive(ctx)
    return statuses


@other("admin: CR LF in the path does not inject a response header")
def _u3(ctx: Ctx) -> object:
    reply = _raw_http(
        ctx,
        b"GET /api/versions?x=%0d%0aSet-Cookie:%20pwn=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Connection: close\r\n\r\n",
    )
    head = reply.split(b"\r\n\r\n", 1)[0]
    assert b"set-cookie" not in head.lower(), head
    return reply[:12]


@other("metrics: 400 distinct application_name version tags")
def _u4(ctx: Ctx) -> object:
    for i in range(400):
        with contextlib.suppress(Exception), ctx.raw(application_name=f"tagapp{i}@v{i}") as c:
            c.send(rc.query("SELECT 1"))
            c.read_ready()
    text = ctx.proxy.get("/metrics")
    found = len(set(re.findall(r"tagapp\d+", text)))
    assert found <= 100, found
    return f"{found} series named"


@other("no literal: a tagged version's WHERE literals and parameters miss the state store")
def _u5(ctx: Ctx) -> object:
    with ctx.raw(application_name="shop@1") as c:
        c.send(
            rc.query(f"SELECT id FROM users WHERE email = '{SECRET}w'"),
            rc.query(f"DELETE FROM users WHERE name = '{SECRET}x' AND false"),
        )
        outcome(c, count=2)
        c.send(
            rc.parse("SELECT id FROM users WHERE email = $1"), rc.bind([f"{SECRET}y"]),
            rc.execute(), rc.sync(),
        )  # fmt: skip
        outcome(c)
    time.sleep(2.5)  # written constants (write_value) are the documented exception
    assert ctx.proxy.state is not None
    leaks = [
        path.name
        for path in ctx.proxy.state.parent.glob(ctx.proxy.state.name + "*")
        if SECRET.encode() in path.read_bytes()
    ]
    assert not leaks, leaks
    return "no leak"


# ------------------------------------------------------- round 4: rules, event triggers, names


def _live(ctx: Ctx, app: str, *texts: str) -> psycopg.Connection[tuple[object, ...]]:
    """A protected version ``app`` (live while the connection stays open) that ran ``texts``."""
    conn = psycopg.connect(ctx.proxy.url(database=ctx.db, application_name=app), autocommit=True)
    for text in texts:
        conn.execute(text)
    return conn


def _judge(conn: psycopg.Connection[tuple[object, ...]], text: str, what: str) -> None:
    """PostgreSQL is the judge: the version's own statement must still work as before."""
    try:
        rows = conn.execute(text).fetchall()
    except psycopg.Error as exc:
        raise Bypassed(f"{what}: {exc}") from exc
    if not rows:
        raise Bypassed(f"{what}: no row back")


def _orders(ctx: Ctx) -> str:
    name = ctx.unique("orders")
    with ctx.direct() as conn:
        conn.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, note text)")
    return name


_WRITE = "INSERT INTO {t} (note) VALUES ('n') RETURNING id"


@guard("rule ON INSERT DO INSTEAD NOTHING on a table a live version inserts into")
def _r4a(ctx: Ctx) -> object:
    t = _orders(ctx)
    with _live(ctx, "writer@1", _WRITE.format(t=t)) as live:
        got = q(ctx, f"CREATE RULE {t}_r AS ON INSERT TO {t} DO INSTEAD NOTHING")
        _judge(live, _WRITE.format(t=t), "INSERT ... RETURNING after the rule")
    return got


@guard("rule ON UPDATE DO INSTEAD redirecting a live version's writes elsewhere")
def _r4b(ctx: Ctx) -> object:
    t = _orders(ctx)
    upd = f"UPDATE {t} SET note = 'm' WHERE id = 1 RETURNING id"
    with ctx.direct() as conn:
        conn.execute(f"INSERT INTO {t} (note) VALUES ('a')")
    with _live(ctx, "writer@2", upd) as live:
        got = q(
            ctx,
            f"CREATE RULE {t}_r AS ON UPDATE TO {t} DO INSTEAD "
            f"UPDATE scratch SET a = a WHERE false RETURNING a, NULL::text",
        )
        _judge(live, upd, "UPDATE ... RETURNING after the redirecting rule")
    return got


@guard("ALTER TABLE ENABLE RULE of a disabled DO INSTEAD NOTHING rule on a written table")
def _r4a2(ctx: Ctx) -> object:
    t = _orders(ctx)
    with ctx.direct() as conn:
        conn.execute(f"CREATE RULE {t}_r AS ON INSERT TO {t} DO INSTEAD NOTHING")
        conn.execute(f"ALTER TABLE {t} DISABLE RULE {t}_r")
    with _live(ctx, "writer@5", _WRITE.format(t=t)) as live:
        got = q(ctx, f"ALTER TABLE {t} ENABLE ALWAYS RULE {t}_r")
        _judge(live, _WRITE.format(t=t), "INSERT ... RETURNING after the rule was enabled")
    return got


@guard('CREATE RULE "_RETURN" ON SELECT turns an empty table a version writes into a view')
def _r4c(ctx: Ctx) -> object:
    t = _orders(ctx)
    write = f"INSERT INTO {t} (id, note) VALUES (7, 'n') RETURNING id"
    with _live(ctx, "writer@3", "BEGIN", write, "ROLLBACK"):
        got = q(
            ctx,
            f'CREATE RULE "_RETURN" AS ON SELECT TO {t} DO INSTEAD '
            "SELECT DISTINCT 1::int AS id, 'x'::text AS note",
        )
        with ctx.direct() as conn:
            row = conn.execute(f"SELECT relkind FROM pg_class WHERE relname = '{t}'").fetchone()
        if row and row[0] == "v":
            raise Bypassed(f"{t} became a view ({got})")
    return got


@guard('CREATE OR REPLACE RULE "_RETURN" of a view a version reads')
def _r4d(ctx: Ctx) -> object:
    v = ctx.unique("uv")
    with ctx.direct() as conn:
        conn.execute(f"CREATE VIEW {v} AS SELECT id, email FROM users")
    read = f"SELECT email FROM {v} WHERE id = 1"
    with _live(ctx, "reader@4", read) as live:
        got = q(
            ctx,
            f'CREATE OR REPLACE RULE "_RETURN" AS ON SELECT TO {v} DO INSTEAD '
            "SELECT id, email FROM archive.users",
        )
        # like CREATE OR REPLACE VIEW with the same columns: the version's read still runs
        try:
            live.execute(read).fetchall()
        except psycopg.Error as exc:
            raise Bypassed(f"view read after its rule was replaced: {exc}") from exc
    return got


def _cmd_runner(ctx: Ctx) -> str:
    """An event-trigger function an administrator installed: runs queued commands."""
    f = ctx.unique("run_cmds")
    with ctx.direct() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS cmds (sql text)")
        conn.execute(
            f"CREATE FUNCTION {f}() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
            "DECLARE c text; BEGIN FOR c IN DELETE FROM cmds RETURNING sql LOOP "
            "EXECUTE c; END LOOP; END $$"
        )
    return f


@guard("CREATE EVENT TRIGGER with an installed command-running function, then harmless DDL")
def _r4e(ctx: Ctx) -> object:
    f, et, t = _cmd_runner(ctx), ctx.unique("et"), ctx.unique("t")
    try:
        return q(
            ctx,
            f"CREATE EVENT TRIGGER {et} ON ddl_command_end EXECUTE FUNCTION {f}()",
            f"INSERT INTO cmds VALUES ('{DROP}')",
            f"CREATE TABLE {t} (a int)",
        )
    finally:
        with ctx.direct() as conn:
            conn.execute(f"DROP EVENT TRIGGER IF EXISTS {et}; DELETE FROM cmds")


@guard("ALTER EVENT TRIGGER ENABLE of a disabled trigger running queued commands")
def _r4f(ctx: Ctx) -> object:
    f, et, t = _cmd_runner(ctx), ctx.unique("et"), ctx.unique("t")
    with ctx.direct() as conn:
        conn.execute(f"CREATE EVENT TRIGGER {et} ON ddl_command_end EXECUTE FUNCTION {f}()")
        conn.execute(f"ALTER EVENT TRIGGER {et} DISABLE")
    try:
        return q(
            ctx,
            f"INSERT INTO cmds VALUES ('{DROP}')",
            f"ALTER EVENT TRIGGER {et} ENABLE ALWAYS",
            f"CREATE TABLE {t} (a int)",
        )
    finally:
        with ctx.direct() as conn:
            conn.execute(f"DROP EVENT TRIGGER IF EXISTS {et}; DELETE FROM cmds")


@guard("ALTER TABLE ENABLE TRIGGER of a disabled trigger that runs its DDL argument")
def _r4g(ctx: Ctx) -> object:
    runners(ctx)
    tg = ctx.unique("tg")
    with ctx.direct() as conn:
        conn.execute(
            f"CREATE TRIGGER {tg} BEFORE INSERT ON scratch FOR EACH ROW "
            f"EXECUTE FUNCTION run_arg('{DROP}')"
        )
        conn.execute(f"ALTER TABLE scratch DISABLE TRIGGER {tg}")
    try:
        return q(ctx, f"ALTER TABLE scratch ENABLE TRIGGER {tg}", "INSERT INTO scratch VALUES (5)")
    finally:
        with ctx.direct() as conn:
            conn.execute(f"DROP TRIGGER IF EXISTS {tg} ON scratch")


def _backstop(ctx: Ctx) -> None:
    import asyncio

    import asyncpg

    from skewguard import backstop

    async def go() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=ctx.cluster.port, user="postgres", database=ctx.db
        )
        try:
            await backstop.install(conn, "enforce")
        finally:
            await conn.close()

    asyncio.run(go())


def _backstop_attempt(ctx: Ctx, *texts: str) -> object:
    _backstop(ctx)
    got = q(ctx, *texts)
    with ctx.direct() as conn:
        rows = conn.execute(
            "SELECT evtname, evtenabled FROM pg_event_trigger WHERE evtname LIKE 'skewguard%'"
        ).fetchall()
        fns = conn.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE nspname = 'skewguard_backstop' AND prosrc LIKE '%55006%'"
        ).fetchone()
        conn.execute("DROP SCHEMA IF EXISTS skewguard_backstop CASCADE")
        conn.execute("DROP EVENT TRIGGER IF EXISTS skewguard_backstop_ddl_command_end")
        conn.execute("DROP EVENT TRIGGER IF EXISTS skewguard_backstop_sql_drop")
    if sorted(r[1] for r in rows) != ["A", "A"] or not fns or not fns[0]:
        raise Bypassed(f"backstop weakened: {rows} {fns} ({got})")
    return got


@guard("ALTER EVENT TRIGGER DISABLE of the backstop's trigger")
def _r4h(ctx: Ctx) -> object:
    return _backstop_attempt(ctx, "ALTER EVENT TRIGGER skewguard_backstop_sql_drop DISABLE")


@guard("DROP EVENT TRIGGER of the backstop's trigger")
def _r4i(ctx: Ctx) -> object:
    return _backstop_attempt(ctx, "DROP EVENT TRIGGER skewguard_backstop_ddl_command_end")


@guard("ALTER EVENT TRIGGER ENABLE REPLICA of the backstop, then session_replication_role")
def _r4j(ctx: Ctx) -> object:
    return _backstop_attempt(ctx, "ALTER EVENT TRIGGER skewguard_backstop_sql_drop ENABLE REPLICA")


@guard("DROP SCHEMA skewguard_backstop CASCADE")
def _r4k(ctx: Ctx) -> object:
    return _backstop_attempt(ctx, "DROP SCHEMA skewguard_backstop CASCADE")


@guard("CREATE OR REPLACE of the backstop's trigger function with an empty body")
def _r4l(ctx: Ctx) -> object:
    _backstop(ctx)
    with ctx.direct() as conn:
        rows = conn.execute(
            "SELECT p.proname FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid "
            "WHERE evtname LIKE 'skewguard%'"
        ).fetchall()
    texts = [
        f"CREATE OR REPLACE FUNCTION skewguard_backstop.{r[0]}() RETURNS event_trigger "
        "LANGUAGE plpgsql AS 'BEGIN END'"
        for r in rows
    ]
    return _backstop_attempt(ctx, *texts)


@guard("ALTER EVENT TRIGGER RENAME and OWNER of the backstop's trigger")
def _r4m(ctx: Ctx) -> object:
    return _backstop_attempt(
        ctx,
        "ALTER EVENT TRIGGER skewguard_backstop_sql_drop RENAME TO x_sql_drop",
    )


def _exec_sql(ctx: Ctx) -> str:
    """A generic function an administrator installed: runs its argument."""
    f = ctx.unique("exec_sql")
    with ctx.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION public.{f}(sql text) RETURNS int LANGUAGE plpgsql AS "
            "'BEGIN EXECUTE sql; RETURN 1; END'"
        )
    return f


@guard("rule DO ALSO calling an installed EXECUTE-its-argument function with the DROP")
def _r4eb(ctx: Ctx) -> object:
    f, r = _exec_sql(ctx), ctx.unique("rule")
    return q(
        ctx,
        f"CREATE RULE {r} AS ON INSERT TO scratch DO ALSO SELECT {f}('{DROP}')",
        "INSERT INTO scratch VALUES (9)",
    )


@guard("column DEFAULT calling an installed EXECUTE-its-argument function with the DROP")
def _r4ec(ctx: Ctx) -> object:
    f = _exec_sql(ctx)
    c = ctx.unique("c")
    return q(
        ctx,
        f"ALTER TABLE scratch ADD COLUMN {c} int DEFAULT {f}('{DROP}')",
        "INSERT INTO scratch (a) VALUES (10)",
    )


@guard("U& identifiers: NFC and NFD spellings of a column the version reads")
def _r4ed(ctx: Ctx) -> object:
    nfc = 'U&"pr\\00E9nom"'
    nfd = 'U&"pre\\0301nom"'
    return [
        *q(ctx, f"ALTER TABLE users DROP COLUMN {nfd}"),
        *q(ctx, f"ALTER TABLE users DROP COLUMN {nfc}"),
    ]


@guard("ALTER FUNCTION SET search_path of a function a live version calls")
def _r4n(ctx: Ctx) -> object:
    f = ctx.unique("user_name")
    with ctx.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION {f}(int) RETURNS text LANGUAGE sql AS "
            "'SELECT name FROM users WHERE id = $1'"
        )
    call = f"SELECT {f}(1)"
    with _live(ctx, "caller@1", call) as live:
        got = q(ctx, f"ALTER FUNCTION {f}(int) SET search_path = archive")
        _judge(live, call, "function call after ALTER FUNCTION SET search_path")
    return got


@guard("ALTER ROUTINE RESET ALL / SET search_path FROM CURRENT of a function a version calls")
def _r4o(ctx: Ctx) -> object:
    f = ctx.unique("user_name")
    with ctx.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION public.{f}(int) RETURNS text LANGUAGE sql "
            "SET search_path = public AS 'SELECT name FROM users WHERE id = $1'"
        )
    call = f"SELECT {f}(1)"
    with _live(ctx, "caller@2", call) as live:
        got = q(
            ctx,
            "SET search_path = archive",
            f"ALTER ROUTINE public.{f}(int) SET search_path FROM CURRENT",
        )
        _judge(live, call, "function call after SET search_path FROM CURRENT")
    return got


@guard("CREATE FUNCTION in the $user schema shadowing a function a version calls")
def _r4p(ctx: Ctx) -> object:
    f = ctx.unique("user_name")
    with ctx.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION public.{f}(int) RETURNS text LANGUAGE sql AS "
            "'SELECT name FROM users WHERE id = $1'"
        )
    call = f"SELECT {f}(1)"
    with _live(ctx, "caller@3", call) as live:
        got = q(
            ctx,
            f"CREATE FUNCTION {f}(int) RETURNS int LANGUAGE sql AS 'SELECT 1/0'",
        )
        _judge(live, call, "function call after a shadowing function")
        with ctx.direct() as conn:
            conn.execute(f"DROP FUNCTION IF EXISTS postgres.{f}(int)")
    return got


@guard("CREATE SEQUENCE / MATERIALIZED VIEW named users in the $user schema")
def _r4q(ctx: Ctx) -> object:
    return [*q(ctx, "CREATE SEQUENCE users"), *q(ctx, "CREATE MATERIALIZED VIEW users AS SELECT 1")]


@guard("CREATE SCHEMA AUTHORIZATION (schema named after the role) with a users table")
def _r4r(ctx: Ctx) -> object:
    with ctx.direct() as conn:
        conn.execute("DROP SCHEMA postgres CASCADE")
    got = q(ctx, "CREATE SCHEMA AUTHORIZATION postgres CREATE TABLE users (id int)")
    got += q(ctx, "CREATE SCHEMA AUTHORIZATION CURRENT_USER CREATE VIEW users AS SELECT 1 AS id")
    return got


@guard("ALTER SEQUENCE/MATVIEW SET SCHEMA and RENAME into the $user schema as users")
def _r4s(ctx: Ctx) -> object:
    s = ctx.unique("seq")
    return q(ctx, f"CREATE SEQUENCE {s}", f"ALTER SEQUENCE {s} SET SCHEMA postgres",
             f"ALTER SEQUENCE postgres.{s} RENAME TO users")  # fmt: skip


@guard("DROP TABLE of a 63-byte name a version reads, spelled 70 bytes long")
def _r4t(ctx: Ctx) -> object:
    name = "long_" + "x" * 58
    with ctx.direct() as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} (a int)")
    with _live(ctx, "longread@1", f"SELECT a FROM {name}") as live:
        got = q(ctx, f"DROP TABLE {name}yyyyyyy", f'DROP TABLE "{name}zzzz"')
        _judge(live, f"SELECT count(*) FROM {name}", "read of the long table")
    return got


@guard("multibyte name cut at a character boundary: DROP COLUMN of the 62-byte cut")
def _r4u(ctx: Ctx) -> object:
    col = "c" + "é" * 30 + "x"  # 1 + 60 + 1 = 62 bytes
    t = ctx.unique("mb")
    with ctx.direct() as conn:
        conn.execute(f'CREATE TABLE {t} (id int, "{col}" int)')
        conn.execute(f"INSERT INTO {t} VALUES (1, 1)")
    read = f'SELECT "{col}" FROM {t}'
    with _live(ctx, "mbread@1", read) as live:
        # 62 bytes + "é" = 64 bytes: PostgreSQL keeps 62 (the é does not fit)
        got = q(ctx, f'ALTER TABLE {t} DROP COLUMN "{col}éé"')
        _judge(live, read, "read of the multibyte column")
    return got


@guard("LATIN1 client: a long name whose server (UTF-8) bytes pass 63 first")
def _r4v(ctx: Ctx) -> object:
    col = "c" + "é" * 31  # 63 bytes in UTF-8, 32 in LATIN1
    t = ctx.unique("l1")
    with ctx.direct() as conn:
        conn.execute(f'CREATE TABLE {t} (id int, "{col}" int)')
        conn.execute(f"INSERT INTO {t} VALUES (1, 1)")
    read = f'SELECT "{col}" FROM {t}'
    with _live(ctx, "l1read@1", read) as live:
        text = f'ALTER TABLE {t} DROP COLUMN "{col}éééé"'.encode("latin-1") + b"\x00"
        with ctx.raw(client_encoding="LATIN1") as c:
            c.send(rc.message(b"Q", text))
            got = outcome(c)
        _judge(live, read, "read of the column named in LATIN1")
    return got


@guard("U& identifier with UESCAPE naming a long name past NAMEDATALEN")
def _r4w(ctx: Ctx) -> object:
    name = "long_" + "x" * 58
    with ctx.direct() as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} (a int)")
    with _live(ctx, "longread@2", f"SELECT a FROM {name}") as live:
        esc = name.replace("x", "!0078", 10)
        got = q(ctx, f"DROP TABLE U&\"{esc}tail\" UESCAPE '!'")
        _judge(live, f"SELECT count(*) FROM {name}", "read of the long table")
    return got


def _setting_function(ctx: Ctx, prefix: str, setting: str, value: str) -> str:
    """A new SQL function (its name returned) that sets ``setting`` for the session."""
    f = ctx.unique(prefix)
    with ctx.direct() as conn:
        conn.execute(
            f"CREATE FUNCTION {f}() RETURNS text LANGUAGE sql AS "
            f"$$ SELECT set_config('{setting}', '{value}', false) $$"
        )
    return f


@guard("set_config(standard_conforming_strings, off) in a SELECT, then the backslash text")
def _r4x(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.query("SELECT set_config('standard_conforming_strings', 'off', false)")
            + rc.message(b"Q", b"SELECT 'a\\'; " + DROP.encode() + b"; -- '\x00")
        )
        return outcome(c, count=2)


@guard("a function that calls set_config(standard_conforming_strings) pipelined before the text")
def _r4y(ctx: Ctx) -> object:
    f = _setting_function(ctx, "scs", "standard_conforming_strings", "off")
    with ctx.raw() as c:
        c.send(
            rc.query(f"SELECT {f}()")
            + rc.message(b"Q", b"SELECT 'a\\'; " + DROP.encode() + b"; -- '\x00")
        )
        return outcome(c, count=2)


@guard("a function that calls set_config(client_encoding, SJIS) pipelined before the text")
def _r4z(ctx: Ctx) -> object:
    f = _setting_function(ctx, "enc", "client_encoding", "SJIS")
    with ctx.raw() as c:
        c.send(
            rc.query(f"SELECT {f}()")
            + rc.message(b"Q", b"SELECT E'\x95\\'; " + DROP.encode() + b"; -- '\x00")
        )
        return outcome(c, count=2)


@guard("a function that sets client_encoding LATIN1, a pipelined DROP of a non-ASCII column")
def _r4zb(ctx: Ctx) -> object:
    f = _setting_function(ctx, "enc", "client_encoding", "LATIN1")
    with _live(ctx, "latin@1", 'SELECT "prénom" FROM users') as live:
        with ctx.raw() as c:
            c.send(
                rc.query(f"SELECT {f}()")
                + rc.message(b"Q", b'ALTER TABLE users DROP COLUMN "pr\xe9nom"\x00')
            )
            got = outcome(c, count=2)
        try:
            _judge(live, 'SELECT "prénom" FROM users', "read of prénom")
        except Bypassed:
            with ctx.direct() as conn:
                conn.execute('ALTER TABLE users ADD COLUMN "prénom" text')
            raise
    return got


@guard("scs off at startup, a function turns it on, the pipelined text hides the DROP")
def _r4zc(ctx: Ctx) -> object:
    f = _setting_function(ctx, "scs", "standard_conforming_strings", "on")
    with ctx.raw(standard_conforming_strings="off") as c:
        c.send(
            rc.query(f"SELECT {f}()")
            + rc.message(b"Q", b"SELECT 'a\\'; " + DROP.encode() + b"; -- '\x00")
        )
        return outcome(c, count=2)


@guard("set_config(client_encoding, BIG5) through Parse/Bind, the hiding text in the same batch")
def _r4za(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse("SELECT set_config($1, $2, false)")
            + rc.bind(["client_encoding", "BIG5"])
            + rc.execute()
            + rc.sync()
            + rc.message(b"Q", b"SELECT E'\xa4\\'; " + DROP.encode() + b"; -- '\x00")
        )
        return outcome(c, count=2)


@guard("protocol statement 'S' vs SQL PREPARE S (folded to s), then Bind 'S'")
def _r4pa(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP, "S") + rc.sync(),
            rc.query("PREPARE S AS SELECT 1"),
            rc.query("DEALLOCATE S"),
            rc.bind(statement="S") + rc.execute() + rc.sync(),
        )
        return outcome(c, count=4)


@guard("protocol statement of 64 bytes vs SQL PREPARE of the same (cut to 63)")
def _r4pb(ctx: Ctx) -> object:
    name = "p" * 64
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP, name) + rc.sync(),
            rc.query(f"DEALLOCATE {name}"),
            rc.bind(statement=name) + rc.execute() + rc.sync(),
        )
        return outcome(c, count=3)


@guard("DISCARD ALL refused inside a block keeps the protocol statement holding the DROP")
def _r4pc(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.query("BEGIN"),
            rc.parse(DROP, "d") + rc.sync(),
            rc.query("DISCARD ALL"),
            rc.query("ROLLBACK"),
            rc.bind(statement="d") + rc.execute() + rc.sync(),
        )
        return outcome(c, count=5)


@guard("DEALLOCATE ALL mid-pipeline while the DROP is held, then EXECUTE by SQL")
def _r4pd(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP, "e") + rc.bind(statement="e") + rc.execute() + rc.sync(),
            rc.query("DEALLOCATE ALL"),
            rc.parse(DROP, "e") + rc.sync(),
            rc.query("EXECUTE e"),
        )
        return outcome(c, count=4)


@guard("SQL EXECUTE of a protocol-level statement holding the DROP")
def _r4pe(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP, "x1") + rc.sync(),
            rc.query("EXECUTE x1"),
            rc.query("EXPLAIN (ANALYZE) EXECUTE x1"),
        )
        return outcome(c, count=3)


@guard("Parse of 'EXECUTE x' and a multi-statement EXECUTE of a protocol-level DROP")
def _r4pg(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP, "x2") + rc.sync(),
            rc.parse("EXECUTE x2") + rc.bind() + rc.execute() + rc.sync(),
            rc.query("SELECT 1; EXECUTE/**/x2"),
        )
        return outcome(c, count=3)


@guard('U&"..." statement name in SQL DEALLOCATE of a protocol statement')
def _r4pf(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP, "Q") + rc.sync(),
            rc.query("PREPARE q AS SELECT 1"),
            rc.query('DEALLOCATE U&"\\0071"'),
            rc.bind(statement="Q") + rc.execute() + rc.sync(),
        )
        return outcome(c, count=4)


@guard("COPY (SELECT ...) TO PROGRAM running psql against the database")
def _r4cp(ctx: Ctx) -> object:
    psql = ctx.cluster.install.tool("psql")
    cmd = f'{psql} -h {ctx.cluster.socket_dir} -p {ctx.cluster.port} -d {ctx.db} -c "{DROP}"'
    return [
        *q(ctx, f"COPY (SELECT 1) TO PROGRAM '{cmd} >/dev/null'"),
        *q(ctx, f"COPY scratch TO /* c */ PROGRAM E'{cmd} >/dev/null'"),
    ]


@guard("COPY FROM PROGRAM through the extended protocol, program as a U& string")
def _r4cq(ctx: Ctx) -> object:
    psql = ctx.cluster.install.tool("psql")
    cmd = f'{psql} -h {ctx.cluster.socket_dir} -p {ctx.cluster.port} -d {ctx.db} -c "{DROP}"'
    with ctx.raw() as c:
        c.send(rc.parse(f"COPY scratch FROM PROGRAM U&'{cmd} >/dev/null; echo 1'"), rc.bind(),
               rc.execute(), rc.sync())  # fmt: skip
        return outcome(c)


@other("admin: a half-sent request head is closed within the request deadline")
def _r4h1(ctx: Ctx) -> object:
    s = socket.create_connection(("127.0.0.1", ctx.proxy.admin_port), timeout=30)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ")
    start = time.monotonic()
    with contextlib.suppress(OSError):
        while s.recv(4096):
            pass
    took = time.monotonic() - start
    s.close()
    assert took < 20, took
    return f"closed after {took:.1f}s"


@other("admin: a body sent one byte at a time is refused within the deadline")
def _r4h2(ctx: Ctx) -> object:
    s = socket.create_connection(("127.0.0.1", ctx.proxy.admin_port), timeout=30)
    s.sendall(
        b"POST /api/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    start, reply = time.monotonic(), b""
    with contextlib.suppress(OSError):
        while time.monotonic() - start < 25 and b"}" not in reply:
            s.sendall(b" ")
            s.settimeout(1)
            with contextlib.suppress(TimeoutError):
                reply += s.recv(4096)
    took = time.monotonic() - start
    s.close()
    assert took < 20, (took, reply[:40])
    return f"{reply[:12]!r} after {took:.1f}s: {reply.rpartition(b'{')[2][:60]!r}"


@other("admin: 2000 idle connections cannot take the proxy's file descriptors")
def _r4h3(ctx: Ctx) -> object:
    socks = []
    for _ in range(2000):
        with contextlib.suppress(OSError):
            socks.append(socket.create_connection(("127.0.0.1", ctx.proxy.admin_port), timeout=5))
    time.sleep(0.5)
    held = 0
    for s in socks:
        s.setblocking(False)
        try:
            s.recv(1)  # b"": closed by the proxy
        except BlockingIOError:
            held += 1  # still open on the proxy's side
        except OSError:
            pass
    _serves(ctx)
    for s in socks:
        s.close()
    assert held <= 300, held
    return f"{held} held open"


@other("admin: absolute-form target, HTTP/1.0 keep-alive, encoded dot-segments, odd methods")
def _r4h4(ctx: Ctx) -> object:
    out = []
    for request in (
        b"GET http://evil.example/api/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET http://127.0.0.1/api/versions HTTP/1.1\r\nHost: evil.example\r\n\r\n",
        b"GET /api/%2e%2e/metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"GET /api%2fversions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        b"PATCH /api/versions/pin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        b"CONNECT 127.0.0.1:5432 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ):
        s = socket.create_connection(("127.0.0.1", ctx.proxy.admin_port), timeout=5)
        s.sendall(request)
        s.settimeout(3)
        reply = b""
        with contextlib.suppress(OSError):
            reply = s.recv(65536)
        s.close()
        status = reply[9:12]
        assert not status.startswith(b"5"), (request, reply[:80])
        out.append(status.decode() or "closed")
    # the DNS-rebinding refusal is by the Host header a browser sends
    assert out[1][0] == "4", out
    _admin_alive(ctx)
    return out


# ------------------------------------------------------------------ round 5: hostile inputs


def _deep_sum(terms: int) -> str:
    """An expression PostgreSQL's grammar nests ``terms`` deep (a left-deep chain of +)."""
    return "1" + " + 1" * terms


@other("parser: a SELECT nesting 40000 operators deep (pglast's tree conversion recursion)")
def _p5a(ctx: Ctx) -> object:
    with ctx.raw(application_name="deep@1") as c:
        c.send(rc.query(f"SELECT {_deep_sum(40_000)}"))
        got = outcome(c)
    time.sleep(1.5)  # learning parses it in the background
    _serves(ctx)
    return got


@guard("parser: DDL whose CHECK nests 40000 operators deep, the DROP beside it")
def _p5b(ctx: Ctx) -> object:
    return q(ctx, f"{DROP}, ADD CONSTRAINT deep CHECK ({_deep_sum(40_000)} > 0)")


@guard("parser: a Parse of a deeply nested statement that runs the DROP at Execute")
def _p5c(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(f"SELECT {_deep_sum(40_000)}", "deep") + rc.sync(),
            rc.parse(f"{DROP}, ADD CONSTRAINT deep CHECK ({_deep_sum(40_000)} > 0)")
            + rc.bind()
            + rc.execute()
            + rc.sync(),
        )
        return outcome(c, count=2)


def _under_catalog_lock(ctx: Ctx, table: str) -> object:
    """A client holds ACCESS EXCLUSIVE on a catalog the guard reads; a DROP meanwhile
    must be answered (refused) within the decision deadline, never hang or pass."""
    with ctx.raw(application_name="locker@1") as locker, ctx.raw() as client:
        client.sock.settimeout(60)
        locker.send(rc.query(f"BEGIN; LOCK TABLE pg_catalog.{table} IN ACCESS EXCLUSIVE MODE"))
        assert outcome(locker) == ["ok"]
        began = time.monotonic()
        try:
            client.send(rc.query(DROP))
            got = outcome(client)
        finally:
            took = time.monotonic() - began
            locker.send(rc.query("ROLLBACK"))
            outcome(locker)
    assert took < 15, took
    _serves(ctx)
    return f"{got} in {took:.1f}s"


@guard("LOCK TABLE pg_depend by a client while a DROP arrives")
def _p5f(ctx: Ctx) -> object:
    return _under_catalog_lock(ctx, "pg_depend")


@guard("LOCK TABLE pg_attribute by a client while a DROP arrives")
def _p5g(ctx: Ctx) -> object:
    return _under_catalog_lock(ctx, "pg_attribute")


@guard("LOCK TABLE pg_class by a client while a DROP arrives")
def _p5h(ctx: Ctx) -> object:
    return _under_catalog_lock(ctx, "pg_class")


def _peak_while(ctx: Ctx, send: Callable[[rc.RawClient], object]) -> tuple[list[str], float]:
    """The proxy's RSS growth (MB, sampled) while one client sends a huge message."""
    import threading

    assert ctx.proxy.process is not None
    pid = ctx.proxy.process.pid
    before = _rss(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(_rss(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ctx.raw() as c:
            c.sock.settimeout(120)
            send(c)
            got = outcome(c)
    finally:
        done.set()
        sampler.join()
    _serves(ctx)
    return got, (max(peak) - before) / 1e6


@other("protocol: a whole 200 MB Bind parameter (PostgreSQL allows up to 1 GiB)")
def _p5i(ctx: Ctx) -> object:
    def send(c: rc.RawClient) -> None:
        c.send(rc.parse("SELECT length($1)", types=[25]) + rc.sync())
        outcome(c)
        value = b"x" * 200_000_000
        body = b"\0\0" + struct.pack("!hhi", 0, 1, len(value)) + value + struct.pack("!h", 0)
        c.sock.sendall(b"B" + struct.pack("!i", 4 + len(body)) + body + rc.execute() + rc.sync())

    got, grew = _peak_while(ctx, send)
    return f"{got}, proxy RSS peak +{grew:.0f} MB"


@other("protocol: a whole 200 MB simple Query (PostgreSQL allows up to 1 GiB)")
def _p5j(ctx: Ctx) -> object:
    def send(c: rc.RawClient) -> None:
        c.sock.sendall(rc.query("SELECT length('" + "x" * 200_000_000 + "')"))

    got, grew = _peak_while(ctx, send)
    return f"{got}, proxy RSS peak +{grew:.0f} MB"


@guard("a SELECT then the DROP, padded past --max-analysed-statement (1 MiB)")
def _p5k(ctx: Ctx) -> object:
    return q(ctx, f"SELECT 1; {DROP}; -- " + "x" * (1 << 20))


@guard("the DROP padded past --max-analysed-statement behind a leading comment")
def _p5l(ctx: Ctx) -> object:
    return q(ctx, "/* " + "x" * (1 << 20) + f" */ {DROP}")


@guard("a Parse of a SELECT then the DROP padded past 1 MiB, run at Execute")
def _p5m(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.query(f"PREPARE big AS SELECT 1; {DROP}; -- " + "x" * (1 << 20)))
        first = outcome(c)
        c.send(rc.parse(f"WITH x AS (SELECT 1) SELECT 1; {DROP} -- " + "x" * (1 << 20)))
        c.send(rc.bind() + rc.execute() + rc.sync())
        return [*first, *outcome(c)]


@guard("PostgreSQL 18 syntax pglast cannot parse: the DROP beside a VIRTUAL generated column")
def _p5n(ctx: Ctx) -> object:
    return q(ctx, f"{DROP}, ADD COLUMN {ctx.unique('v')} int GENERATED ALWAYS AS (1) VIRTUAL")


@guard("PostgreSQL 18 syntax pglast cannot parse: RETURNING WITH (OLD AS o), then the DROP")
def _p5o(ctx: Ctx) -> object:
    return q(ctx, f"UPDATE scratch SET a = a RETURNING WITH (OLD AS o) o.a; {DROP}")


@guard("BEGIN; DROP; COMMIT then Terminate at once: the COMMIT held while the client leaves")
def _p5p(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.query("BEGIN"), rc.query(DROP), rc.query("COMMIT"), rc.terminate())
        return outcome(c, count=3)


@guard("BEGIN; DROP; COMMIT, then the socket closed without reading (RST)")
def _p5q(ctx: Ctx) -> object:
    c = ctx.raw()
    c.send(rc.query("BEGIN"), rc.query(DROP), rc.query("COMMIT"))
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.sock.close()
    time.sleep(1)
    return "closed"


@other("no literal: refusals of too-large, deeply nested and unparseable texts")
def _p5r(ctx: Ctx) -> object:
    texts = [
        f"SELECT '{SECRET}a'; {DROP}; -- " + "x" * (1 << 20),
        f"{DROP}, ADD CONSTRAINT c CHECK (email <> '{SECRET}b' OR {_deep_sum(30_000)} > 0)",
        f"{DROP} '{SECRET}c' ((",
        f"SELECT $q${SECRET}d$q$; {DROP}; SELECT '" + "y" * 300,
    ]
    replies = []
    for text in texts:
        with ctx.raw() as c:
            c.send(rc.query(text))
            errors = [r.fields() for r in c.read_ready() if r.type == "E"]
            # the proxy's own refusals (PostgreSQL's syntax errors quote the text: its own)
            replies += [str(e) for e in errors if e.get("M", "").startswith("skewguard")]
    time.sleep(1.5)
    leaks = [
        path
        for path in ("/api/decisions", "/api/versions", "/metrics", "/")
        if SECRET in ctx.proxy.get(path)
    ]
    if SECRET in ctx.proxy.log_tail():
        leaks.append("log")
    leaks += [f"detail: {r[:300]}" for r in replies if SECRET in r]
    assert not leaks, leaks
    return "no leak"


@other("identity: a 9000-byte version tag at startup and by SET (PostgreSQL keeps 63 bytes)")
def _p5s(ctx: Ctx) -> object:
    long_tag = "longtag@" + "9" * 9000
    with ctx.raw(application_name=long_tag) as c:
        c.send(rc.query("SELECT name FROM users"))
        outcome(c)
    with ctx.raw() as c:
        c.send(rc.query(f"SET application_name = 'longset@{'8' * 9000}'"))
        c.send(rc.query("SELECT name FROM users"))
        outcome(c, count=2)
    time.sleep(1.5)
    api = ctx.proxy.get("/api/versions?limit=1000")
    versions = re.findall(r'"version": ?"(9+|8+)"', api)
    metrics = ctx.proxy.get("/metrics")
    longest = max((len(v) for v in versions), default=0)
    label = max((len(m) for m in re.findall(r'version="([89]+)"', metrics)), default=0)
    assert longest <= 63 and label <= 63, (longest, label)
    return f"longest version in the API {longest} bytes, in /metrics {label} bytes"


# ------------------------------------------------------------------ round 6: reading the text

#: A text whose E-string ends early when its 0x5C is the second byte of a character
#: (lead byte per encoding): one string to a UTF-8 reader, a string then the DROP to the server.
_HIDING_LEADS = {
    "SJIS": b"\x95",
    "SHIFT_JIS_2004": b"\x95",
    "BIG5": b"\xa4",
    "GBK": b"\x81",
    "UHC": b"\x81",
    "GB18030": b"\x81",
}


def _hiding(lead: bytes = b"\x95", prefix: bytes = b"SELECT E'") -> bytes:
    return prefix + lead + b"\\'; " + DROP.encode() + b"; --'"


def _raw_query(text: bytes) -> bytes:
    return rc.message(b"Q", text + b"\x00")


@guard("every client-only encoding at startup: a 0x5C second byte ends the E-string early")
def _r6e1(ctx: Ctx) -> object:
    seen = {}
    for encoding, lead in _HIDING_LEADS.items():
        with ctx.raw(client_encoding=encoding) as c:
            c.send(_raw_query(_hiding(lead)))
            seen[encoding] = outcome(c)
        if not ctx.email_exists():
            raise Bypassed(f"{encoding}: {seen}")
    return seen


@guard("ALTER ROLE SET client_encoding SJIS, the hiding text on the next connection")
def _r6e2(ctx: Ctx) -> object:
    with ctx.direct() as conn:
        conn.execute("ALTER ROLE postgres SET client_encoding = 'SJIS'")
    try:
        with ctx.raw() as c:
            c.send(_raw_query(_hiding()))
            return outcome(c)
    finally:
        with ctx.direct() as conn:
            conn.execute("ALTER ROLE postgres RESET client_encoding")


@guard("ALTER DATABASE SET client_encoding BIG5 through the proxy, hiding text next connection")
def _r6e3(ctx: Ctx) -> object:
    first = q(ctx, f"ALTER DATABASE {ctx.db} SET client_encoding = 'BIG5'")
    with ctx.raw() as c:
        c.send(_raw_query(_hiding(b"\xa4")))
        return first + outcome(c)


@guard("startup SJIS, SET client_encoding UTF8 answered, RESET pipelined before the text")
def _r6e4(ctx: Ctx) -> object:
    with ctx.raw(client_encoding="SJIS") as c:
        c.send(rc.query("SET client_encoding = 'UTF8'"))
        first = outcome(c)
        c.send(rc.query("RESET client_encoding"), _raw_query(_hiding()))
        return first + outcome(c, count=2)


@guard("SET NAMES 'SJIS' pipelined before the hiding text")
def _r6e5(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.query("SET NAMES 'SJIS'"), _raw_query(_hiding()))
        return outcome(c, count=2)


@guard("options --client_encoding=GBK (the long form) then the hiding text")
def _r6e6(ctx: Ctx) -> object:
    with ctx.raw(options="--client_encoding=GBK") as c:
        c.send(_raw_query(_hiding(b"\x81")))
        return outcome(c)


@guard("0x27 as a would-be second byte (SJIS, BIG5, UHC, GB18030): the quote swallowed?")
def _r6e7(ctx: Ctx) -> object:
    seen = {}
    for encoding, lead in (("SJIS", b"\x95"), ("BIG5", b"\xa4"), ("UHC", b"\x81")):
        text = b"SELECT '" + lead + b"'; " + DROP.encode() + b"; --'"
        with ctx.raw(client_encoding=encoding) as c:
            c.send(_raw_query(text))
            seen[encoding] = outcome(c)
    with ctx.raw(client_encoding="GB18030") as c:  # a four-byte character cut by the quote
        c.send(_raw_query(b"SELECT '\x81\x30'; " + DROP.encode() + b"; --'"))
        seen["GB18030"] = outcome(c)
    return seen


@guard("SJIS half-width katakana (one byte) before an escaped quote, DROP after the string")
def _r6e8(ctx: Ctx) -> object:
    text = b"SELECT E'\xb1\\''; " + DROP.encode()
    with ctx.raw(client_encoding="SJIS") as c:
        c.send(_raw_query(text))
        return outcome(c)


@guard("ALTER ROLE SET standard_conforming_strings off, backslash text next connection")
def _r6s1(ctx: Ctx) -> object:
    first = q(ctx, "ALTER ROLE postgres SET standard_conforming_strings = off")
    try:
        return first + q(ctx, f"SELECT 'x\\''; {DROP}; --'")
    finally:
        with ctx.direct() as conn:
            conn.execute("ALTER ROLE postgres RESET standard_conforming_strings")


@guard("standard strings off answered, backslash text as Parse/Bind/Execute in a block")
def _r6s2(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.query("SET standard_conforming_strings = off"), rc.query("BEGIN"))
        first = outcome(c, count=2)
        text = "ALTER TABLE users ADD COLUMN IF NOT EXISTS q text DEFAULT 'a\\'', DROP email --'"
        c.send(rc.parse(text) + rc.bind() + rc.execute() + rc.sync())
        c.send(rc.query("COMMIT"))
        return first + outcome(c, count=2)


@guard("SJIS, standard strings off, backslash_quote on: 0x5C trail in a plain string")
def _r6s3(ctx: Ctx) -> object:
    opts = "-c standard_conforming_strings=off -c backslash_quote=on -c client_encoding=SJIS"
    with ctx.raw(options=opts) as c:
        c.send(_raw_query(_hiding(prefix=b"SELECT '")))
        return outcome(c)


@guard("U& string literal with UESCAPE making a quote, then the DROP")
def _r6u1(ctx: Ctx) -> object:
    return q(ctx, f"SELECT U&'!0027' UESCAPE '!'; {DROP}")


@guard("U& string ending in a backslash (the escape character) then the DROP")
def _r6u2(ctx: Ctx) -> object:
    return q(ctx, f"SELECT U&'x\\\\'; {DROP}; --'", standard_conforming_strings="on")


@guard("U& identifier with a six-digit \\+ escape and UESCAPE naming the column")
def _r6u3(ctx: Ctx) -> object:
    return q(ctx, "ALTER TABLE users DROP COLUMN U&\"#+000065mail\" UESCAPE '#'")


@guard("nested comment three deep, a DROP written between its levels, then a real DROP")
def _r6c1(ctx: Ctx) -> object:
    return q(ctx, f"/* a /* b /* c */ {DROP}; */ d */ SELECT 1; {DROP}")


@guard("line comment ended by a bare carriage return, the DROP after it")
def _r6c2(ctx: Ctx) -> object:
    return q(ctx, f"SELECT 1; -- note\r{DROP}")


@guard("x$a$ is an identifier, not a dollar quote: the DROP after it")
def _r6c3(ctx: Ctx) -> object:
    return q(ctx, f"SELECT 1 AS x$a$; {DROP}; --$a$")


@guard("dollar quote with a LATIN1 tag, the DROP after it")
def _r6c4(ctx: Ctx) -> object:
    with ctx.raw(client_encoding="LATIN1") as c:
        c.send(_raw_query(b"SELECT $\xe9$ ; $\xe9$; " + DROP.encode()))
        return outcome(c)


@guard("a dollar quote holding another tag, the DROP after the first tag closes")
def _r6c5(ctx: Ctx) -> object:
    return q(ctx, f"SELECT $a$ $b$ $a$; {DROP}; --$b$")


@guard("psql's \\; joining a SELECT and the DROP into one Query")
def _r6c6(ctx: Ctx) -> object:
    import subprocess

    run = subprocess.run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", ctx.proxy.dsn(dbname=ctx.db)],
        input=f"SELECT 1 \\; {DROP};\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PGAPPNAME": "migrate", "PATH": "/usr/bin:/bin"},
    )
    return (run.returncode, run.stderr.strip()[-120:])


@guard("a literal \\; on the wire (a syntax error to PostgreSQL), the DROP after it")
def _r6c7(ctx: Ctx) -> object:
    return q(ctx, f"SELECT 1 \\; {DROP}")


@guard("SQL PREPARE(text) of the pg_background stand-in, EXECUTE with the DROP as argument")
def _r6p1(ctx: Ctx) -> object:
    runners(ctx)
    name = ctx.unique("p")
    return q(
        ctx,
        f"PREPARE {name}(text) AS SELECT pg_background_launch($1)",
        f"EXECUTE {name}('{DROP}')",
    )


@guard("Parse of 'EXECUTE p($1)' with the DROP as a Bind parameter")
def _r6p2(ctx: Ctx) -> object:
    runners(ctx)
    name = ctx.unique("p")
    with ctx.raw() as c:
        c.send(rc.query(f"PREPARE {name}(text) AS SELECT pg_background_launch($1)"))
        first = outcome(c)
        c.send(rc.parse(f"EXECUTE {name}($1)") + rc.bind([DROP]) + rc.execute() + rc.sync())
        return first + outcome(c)


@guard("CREATE RULE DO INSTEAD of a SELECT on scratch running the pg_background stand-in")
def _r6p3(ctx: Ctx) -> object:
    runners(ctx)
    r = ctx.unique("rule")
    return q(
        ctx,
        f"CREATE RULE {r} AS ON UPDATE TO scratch DO INSTEAD SELECT pg_background_launch('{DROP}')",
        "UPDATE scratch SET a = a",
    )


@guard("extended batch: an error, the DROP skipped, Sync, the DROP again in one send")
def _r6x1(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse("SELECT 1/0") + rc.bind() + rc.execute(),
            rc.parse(DROP) + rc.bind() + rc.execute() + rc.sync(),
            rc.parse(DROP) + rc.bind() + rc.execute() + rc.sync(),
        )
        return outcome(c, count=2)


@guard("Parse of the DROP named, Sync, other traffic and a retag, Bind/Execute 2 s later")
def _r6x2(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP, "later") + rc.sync())
        first = outcome(c)
        c.send(*(rc.query("SELECT name FROM users") for _ in range(50)))
        first += outcome(c, count=50)[:1]
        c.send(rc.query("SET application_name = 'shop@1'"))
        first += outcome(c)
        time.sleep(2)
        c.send(rc.bind(statement="later") + rc.execute() + rc.sync())
        return first + outcome(c)


@guard("Close of the held statement and portal right behind its Execute, then Sync")
def _r6x3(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(
            rc.parse(DROP, "held")
            + rc.bind(portal="hp", statement="held")
            + rc.execute("hp")
            + rc.close("P", "hp")
            + rc.close("S", "held")
            + rc.parse("SELECT 1", "held")
            + rc.sync()
        )
        return outcome(c)


@guard("Flush-only: Execute of the DROP, Flush, then a Close and re-Parse before any Sync")
def _r6x4(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.parse(DROP, "f") + rc.bind(statement="f") + rc.execute() + rc.flush())
        time.sleep(0.5)
        c.send(rc.close("S", "f") + rc.parse("SELECT 1", "f") + rc.bind(statement="f"))
        c.send(rc.execute() + rc.sync())
        return outcome(c)


@guard("three SSLRequests and a GSSENCRequest before the startup, then the DROP")
def _r6t1(ctx: Ctx) -> object:
    sock = socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5)
    answers = []
    try:
        for request in (rc.SSL_REQUEST, rc.GSSENC_REQUEST, rc.SSL_REQUEST, rc.SSL_REQUEST):
            sock.sendall(request)
            answers.append(sock.recv(1))
            if answers[-1] != b"N":
                break
        sock.sendall(rc.startup(ctx.params()) + rc.query(DROP))
        data = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                data += chunk
    finally:
        sock.close()
    return (answers, data[:160])


@guard("a CancelRequest sent as a message inside an established session, then the DROP")
def _r6t2(ctx: Ctx) -> object:
    with ctx.raw() as c:
        c.send(rc.cancel_request(1, b"\x00\x00\x00\x01") + rc.query(DROP))
        return outcome(c)


@guard("CancelRequests with the session's own key while its held DROP waits, from others")
def _r6t3(ctx: Ctx) -> object:
    with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=20) as c:
        body = next(r for r in c.startup(ctx.params()) if r.type == "K").body
        pid, key = struct.unpack_from("!i", body)[0], bytes(body[4:])
        c.send(rc.query("SET standard_conforming_strings = off"))
        outcome(c)
        # held: the proxy asks this very backend how it parses backslashes
        c.send(rc.query("BEGIN"), rc.query(f"SELECT 'x\\''; {DROP}; --'"), rc.query("COMMIT"))
        for _ in range(30):
            with socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5) as s:
                s.sendall(rc.cancel_request(pid, key))
                s.settimeout(5)
                with contextlib.suppress(OSError):
                    s.recv(1)
            time.sleep(0.01)
        return outcome(c, count=3)


@guard("a CancelRequest with a 256-byte key (protocol 3.2) for the live session's pid")
def _r6t4(ctx: Ctx) -> object:
    pid = int(ctx.live.info.backend_pid)  # type: ignore[attr-defined]
    with socket.create_connection(("127.0.0.1", ctx.proxy.port), timeout=5) as s:
        s.sendall(rc.cancel_request(pid, b"\x01" * 256))
        s.settimeout(5)
        with contextlib.suppress(OSError):
            s.recv(1)
    return q(ctx, "SELECT 1")


@other("admin: token comparison time, first vs last character wrong (write token)")
def _r6a1(ctx: Ctx) -> object:
    token = "t0ken-" + "a" * 58
    proxy = ProxyProcess(upstream=ctx.proxy.upstream, env={"SKEWGUARD_ADMIN_TOKEN": token}).start()
    try:

        def timing(wrong: str) -> float:
            conn = http.client.HTTPConnection("127.0.0.1", proxy.admin_port, timeout=10)
            times = []
            for _ in range(300):
                began = time.perf_counter_ns()
                conn.request(
                    "POST",
                    "/api/versions/pin",
                    body=b'{"app":"x","version":"1"}',
                    headers={
                        "Authorization": f"Bearer {wrong}",
                        "Content-Type": "application/json",
                    },
                )
                response = conn.getresponse()
                response.read()
                assert response.status in (400, 401, 403), response.status
                times.append(time.perf_counter_ns() - began)
            conn.close()
            times.sort()
            return times[len(times) // 2] / 1e3

        first = timing("X" + token[1:])
        last = timing(token[:-1] + "X")
        huge = timing("a" * 60_000)
    finally:
        proxy.stop()
    return f"median µs: first wrong {first:.0f}, last wrong {last:.0f}, 60 kB token {huge:.0f}"


@other("admin: the request target with NUL, %00, backslashes and a 60 kB query string")
def _r6a2(ctx: Ctx) -> object:
    seen: list[object] = []
    for path in (
        "/api/versions%00",
        "/api\\versions",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/versions?limit=" + "9" * 60_000,
        "//api//versions",
        "/API/VERSIONS",
    ):
        try:
            seen.append(admin(ctx, "GET", path)[0])
        except (OSError, http.client.HTTPException) as exc:
            seen.append(type(exc).__name__)
    _admin_alive(ctx)
    return seen


# Heavy last: each leaves the proxy with a large state (versions, facets, learning work)
# that slows what runs after it.


def _stall_while(ctx: Ctx, send: Callable[[rc.RawClient], list[str]]) -> str:
    """``send`` a big text on a tagged connection while another client runs ``SELECT 1``
    in a loop: the big one's outcome and the other client's slowest round trip."""
    import threading

    stall: list[float] = []

    def other_client() -> None:
        with ctx.raw(application_name="shop@1") as c:
            c.sock.settimeout(120)
            until = time.monotonic() + 8
            while time.monotonic() < until:
                start = time.monotonic()
                c.send(rc.query("SELECT 1"))
                outcome(c)
                stall.append(time.monotonic() - start)
                time.sleep(0.01)

    t = threading.Thread(target=other_client)
    t.start()
    time.sleep(0.5)  # connected before the flood
    with ctx.raw(application_name="bulk@1") as c:
        c.sock.settimeout(300)
        began = time.monotonic()
        got = [*send(c), f"{time.monotonic() - began:.1f}s"]
    t.join(300)
    _settled(ctx)
    return f"{got}, another client's slowest SELECT 1: {max(stall, default=0):.2f}s"


@other("parser: a tagged Query of 100000 statements; another client's SELECT meanwhile")
def _p5d(ctx: Ctx) -> object:
    def send(c: rc.RawClient) -> list[str]:
        c.send(rc.query("SELECT 1;" * 100_000))
        return outcome(c)

    return _stall_while(ctx, send)


def _in_list(count: int) -> str:
    return "(" + ", ".join(str(i) for i in range(count)) + ")"


@other("parser: a Parse of one 900 kB IN list, bound and run; another client's SELECT meanwhile")
def _r6b1(ctx: Ctx) -> object:
    def send(c: rc.RawClient) -> list[str]:
        text = f"SELECT count(*) FROM users WHERE id IN {_in_list(130_000)}"
        c.send(rc.parse(text) + rc.bind() + rc.execute() + rc.sync())
        return outcome(c)

    return _stall_while(ctx, send)


@other("parser: a Parse of one 900 kB DDL, bound and run; another client's SELECT meanwhile")
def _r6b2(ctx: Ctx) -> object:
    name = ctx.unique("big")

    def send(c: rc.RawClient) -> list[str]:
        text = (
            f"ALTER TABLE scratch ADD CONSTRAINT {name} CHECK (a IN {_in_list(130_000)}) NOT VALID"
        )
        c.send(rc.parse(text) + rc.bind() + rc.execute() + rc.sync())
        return outcome(c)

    return _stall_while(ctx, send)


@other("parser: a Query of one 900 kB DDL; another client's SELECT meanwhile")
def _r6b3(ctx: Ctx) -> object:
    name = ctx.unique("big")

    def send(c: rc.RawClient) -> list[str]:
        c.send(
            rc.query(
                f"ALTER TABLE scratch ADD CONSTRAINT {name} CHECK (a IN {_in_list(130_000)}) "
                "NOT VALID"
            )
        )
        return outcome(c)

    return _stall_while(ctx, send)


def _settled(ctx: Ctx, within: float = 120) -> None:
    """Wait until the proxy answers a new connection's SELECT 1 within a second again."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        began = time.monotonic()
        with contextlib.suppress(Exception):
            q(ctx, "SELECT 1")
            if time.monotonic() - began < 1:
                return
        time.sleep(1)
    _serves(ctx)


@other("identity: 20000 versions claimed by SET application_name on one connection")
def _p5e(ctx: Ctx) -> object:
    assert ctx.proxy.process is not None
    pid = ctx.proxy.process.pid
    before = _rss(pid)
    with ctx.raw() as c:
        for start in range(0, 20_000, 500):
            texts = [
                t
                for i in range(start, start + 500)
                for t in (f"SET application_name = 'flood@{i}'", f"SELECT name, {i} FROM users")
            ]
            c.send(*(rc.query(t) for t in texts))
            outcome(c, count=len(texts))
    time.sleep(3)
    grew = (_rss(pid) - before) / 1e6
    began = time.monotonic()
    ddl = q(ctx, "ALTER TABLE users ADD COLUMN IF NOT EXISTS flood int")
    took = time.monotonic() - began
    began = time.monotonic()
    with urllib.request.urlopen(ctx.proxy.admin_url + "/api/versions", timeout=120) as r:
        page = r.read()
    api = time.monotonic() - began
    _settled(ctx)
    return (
        f"DDL {ddl} in {took:.2f}s; /api/versions {len(page)} B in {api:.2f}s; RSS +{grew:.0f} MB"
    )


@other("learning: one version naming 20000 distinct missing relations and columns")
def _p5t(ctx: Ctx) -> object:
    assert ctx.proxy.process is not None
    pid = ctx.proxy.process.pid
    before = _rss(pid)
    with ctx.raw(application_name="facets@1") as c:
        for start in range(0, 20_000, 5_000):
            texts = [
                f"SELECT m{i}.c{i}, email FROM missing_{i} m{i}"
                for i in range(start, start + 5_000)
            ]
            c.send(*(rc.query(t) for t in texts))
            outcome(c, count=len(texts))
    time.sleep(4)
    grew = (_rss(pid) - before) / 1e6
    began = time.monotonic()
    ddl = q(ctx, "ALTER TABLE users ADD COLUMN IF NOT EXISTS facets int")
    took = time.monotonic() - began
    began = time.monotonic()
    ddl += q(ctx, "ALTER TABLE users ADD COLUMN IF NOT EXISTS facets2 int")
    again = time.monotonic() - began
    began = time.monotonic()
    with urllib.request.urlopen(ctx.proxy.admin_url + "/api/versions?limit=1000", timeout=120) as r:
        facets = len(re.findall(rb"missing_", r.read()))
    api = time.monotonic() - began
    state = ctx.proxy.state
    size = state.stat().st_size / 1e6 if state is not None and state.exists() else 0
    _settled(ctx)
    return (
        f"DDL {ddl} in {took:.2f}s, again {again:.2f}s; {facets} facets in {api:.1f}s; "
        f"RSS +{grew:.0f} MB; state {size:.0f} MB"
    )


@other("identity: 300 connections claiming 32 versions each (9600 versions)")
def _r6v1(ctx: Ctx) -> object:
    assert ctx.proxy.process is not None
    pid = ctx.proxy.process.pid
    before = _rss(pid)
    for conn in range(300):
        with ctx.raw() as c:
            texts = [
                t
                for i in range(32)
                for t in (f"SET application_name = 'many@{conn}.{i}'", "SELECT name FROM users")
            ]
            c.send(*(rc.query(t) for t in texts))
            outcome(c, count=len(texts))
    time.sleep(3)
    grew = (_rss(pid) - before) / 1e6
    began = time.monotonic()
    ddl = q(ctx, "ALTER TABLE users ADD COLUMN IF NOT EXISTS many int")
    took = time.monotonic() - began
    began = time.monotonic()
    ddl += q(ctx, "ALTER TABLE users DROP COLUMN IF EXISTS name")
    drop = time.monotonic() - began
    with ctx.direct() as conn:  # the versions read it: the DROP must have been refused
        kept = conn.execute(
            "SELECT 1 FROM pg_attribute WHERE attname = 'name'"
            " AND attrelid = 'public.users'::regclass AND NOT attisdropped"
        )
        if kept.fetchone() is None:
            conn.execute("ALTER TABLE users ADD COLUMN name text")
            raise Bypassed(f"users.name dropped though 9600 versions read it: {ddl}")
    flooded = time.monotonic()
    while (late := q(ctx, "ALTER TABLE users ADD COLUMN IF NOT EXISTS many2 int")) != ["ok"]:
        if time.monotonic() - flooded > 120:
            break
        time.sleep(2)
    judged = time.monotonic() - flooded
    began = time.monotonic()
    with urllib.request.urlopen(ctx.proxy.admin_url + "/api/versions", timeout=120) as r:
        page = r.read()
    api = time.monotonic() - began
    _settled(ctx)
    return (
        f"DDL {ddl} in {took:.2f}s / {drop:.2f}s, {late} {judged:.0f}s later;"
        f" /api/versions {len(page)} B in {api:.2f}s; RSS +{grew:.0f} MB"
    )


# ------------------------------------------------ round 9: replay's privileges, superusers

MALLORY = "mallory9"
_R9_SCHEMA = f"""
CREATE TABLE users (id int PRIMARY KEY, email text, name text);
INSERT INTO users VALUES (1, 'a@x', 'b');
CREATE TABLE secrets (s text);
INSERT INTO secrets VALUES ('topsecret');
CREATE SEQUENCE leak;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE leak TO PUBLIC;
CREATE SEQUENCE guarded;
GRANT SELECT, INSERT ON users TO {MALLORY};
CREATE SCHEMA m AUTHORIZATION {MALLORY};
"""
#: After a role reset: what only the migrating superuser may do, written where it stays.
_AS_MIGRATOR = (
    f"CASE WHEN current_user <> '{MALLORY}' THEN setval('guarded', 99) END"
)  # fmt: skip


def _replayed_as(ctx: Ctx, setup: str, sql: str) -> str:
    """A fresh database where the login role mallory9 (it may read users, not secrets,
    nor set ``guarded``), tagged, ran ``sql`` three times with a parameter (extended
    protocol: sampled with its values) after ``setup`` (run as postgres), then an
    untagged superuser's migration whose replay reaches it. Neither sequence may move."""
    db = ctx.unique("attack9")
    url = f"host=127.0.0.1 port={ctx.cluster.port} user=postgres sslmode=disable"
    with psycopg.connect(url, autocommit=True) as conn:
        with contextlib.suppress(psycopg.Error):
            conn.execute(f"CREATE ROLE {MALLORY} LOGIN")
        conn.execute(f"CREATE DATABASE {db}")
    try:
        with psycopg.connect(f"{url} dbname={db}", autocommit=True) as conn:
            conn.execute(_R9_SCHEMA)
            if setup:
                conn.execute(setup)
        ran = ("skewguard_replay_statements_total", ())
        before = ctx.proxy.metrics().get(ran, 0.0)
        tag = f"mal@{ctx.unique('v')}"
        with psycopg.connect(
            ctx.proxy.url(user=MALLORY, database=db, application_name=tag), autocommit=True
        ) as version:
            for _ in range(3):
                version.execute(sql, (1,)).fetchall()
            time.sleep(1.5)
            with psycopg.connect(
                ctx.proxy.url(database=db, application_name="migrate"), autocommit=True
            ) as migrate:
                try:
                    migrate.execute("ALTER TABLE users ALTER COLUMN name TYPE varchar(200)")
                    ddl = "ok"
                except psycopg.Error as exc:
                    ddl = str(exc.sqlstate)
        replayed = ctx.proxy.metrics().get(ran, 0.0) - before
        with psycopg.connect(f"{url} dbname={db}", autocommit=True) as conn:
            moved = conn.execute(
                "SELECT (SELECT last_value FROM leak), (SELECT last_value FROM guarded)"
            ).fetchone()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    if moved != (1, 1):
        raise AssertionError(f"replayed as the migrating superuser: leak, guarded = {moved}")
    return f"DDL {ddl}; {replayed:.0f} statements replayed; sequences unmoved"


@other("replay: a tagged role's sampled read calls set_config('role') and query_to_xml")
def _r9a(ctx: Ctx) -> object:
    return _replayed_as(
        ctx,
        "",
        "SELECT set_config('role', 'none', true), CASE WHEN current_user <> "
        f"'{MALLORY}' THEN setval('leak', length((SELECT string_agg(x::text, '') FROM "
        "query_to_xml('SELECT s FROM secrets', true, false, '') x))) END, name "
        "FROM users WHERE id = %s",
    )


@other("replay: a tagged role's own function runs RESET ROLE inside its sampled read")
def _r9b(ctx: Ctx) -> object:
    return _replayed_as(
        ctx,
        f"SET ROLE {MALLORY}; CREATE FUNCTION m.f() RETURNS int LANGUAGE plpgsql AS "
        f"$$BEGIN RESET ROLE; PERFORM {_AS_MIGRATOR}; RETURN 1; END$$; RESET ROLE",
        "SELECT m.f(), name FROM users WHERE id = %s",
    )


@other("replay: a view the tagged role owns calls set_config('role'); the read names the view")
def _r9c(ctx: Ctx) -> object:
    return _replayed_as(
        ctx,
        f"SET ROLE {MALLORY}; CREATE VIEW m.v AS SELECT set_config('role', 'none', true) AS r;"
        " RESET ROLE",
        f"SELECT (SELECT r FROM m.v), {_AS_MIGRATOR}, name FROM users WHERE id = %s",
    )


@other("replay: a column default set_config('role') on the role's table, inserted in a CTE")
def _r9d(ctx: Ctx) -> object:
    return _replayed_as(
        ctx,
        f"SET ROLE {MALLORY}; CREATE TABLE m.t (a text DEFAULT set_config('role', 'none', "
        "true)); RESET ROLE",
        "WITH i AS (INSERT INTO m.t DEFAULT VALUES RETURNING a) "
        f"SELECT (SELECT a FROM i), {_AS_MIGRATOR}, name FROM users WHERE id = %s",
    )


@other("replay: a U& identifier spells set_config in the sampled read")
def _r9e(ctx: Ctx) -> object:
    return _replayed_as(
        ctx,
        "",
        "SELECT U&\"set\\005Fconfig\"('role', 'none', true), "
        f"{_AS_MIGRATOR}, name FROM users WHERE id = %s",
    )


def _unsynced_batch(ddl: str) -> bytes:
    """``ddl`` as a named Parse/Bind/Execute behind an unnamed SELECT in one batch with a
    single Sync: the migrating connection is busy until the Sync, so the guard's probes
    run on a side connection."""
    return (
        rc.parse("SELECT 1") + rc.bind() + rc.execute()
        + rc.parse(ddl, "d") + rc.bind(statement="d") + rc.execute() + rc.sync()
    )  # fmt: skip


@guard("ALTER ROLE NOSUPERUSER of the role a live version connects as, with a REVOKE")
def _r9f(ctx: Ctx) -> object:
    with ctx.direct() as conn:
        conn.execute("REVOKE ALL ON users FROM PUBLIC")
    live = psycopg.connect(
        ctx.proxy.url(user="archive", database=ctx.db, application_name="su@9"), autocommit=True
    )
    try:
        live.execute("SELECT email FROM public.users").fetchall()
        time.sleep(1.5)
        seen = q(
            ctx,
            "BEGIN; ALTER ROLE archive NOSUPERUSER;"
            " REVOKE ALL ON public.users FROM archive; COMMIT",
        )
        seen += q(ctx, "ALTER ROLE archive NOSUPERUSER")
        _judge(live, "SELECT email FROM public.users", "su@9 reading users as archive")
        return seen
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute("ALTER ROLE archive SUPERUSER")


# ------------------------------------------------------------------ round 10

_EVIL = "public.pg_background_launch('ALTER TABLE public.users DROP COLUMN email') = 1"
_X = (
    "CREATE OR REPLACE FUNCTION public.sg_x() RETURNS regtype LANGUAGE plpgsql AS "
    "$$ BEGIN EXECUTE 'ALTER TABLE public.scratch DROP COLUMN a'; RETURN 'int8'; END $$"
)


def _scratch_kept(ctx: Ctx, seen: list[str]) -> list[str]:
    """sg_x() drops scratch.a, which the writer version reads: it must still be there."""
    with ctx.direct() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.scratch'::regclass"
            " AND attname = 'a' AND NOT attisdropped"
        ).fetchone()
        if not (row and row[0] == 1):
            conn.execute("ALTER TABLE public.scratch ADD COLUMN a int")
            raise Bypassed(f"scratch.a dropped by the probe: {seen}")
    return seen


def _writer(ctx: Ctx, version: str, sql: str) -> psycopg.Connection[tuple[object, ...]]:
    """A live version whose footprint writes (a probe runs only for a written column)."""
    conn = psycopg.connect(
        ctx.proxy.url(database=ctx.db, application_name=version), autocommit=True
    )
    conn.execute(sql)
    time.sleep(1.5)
    return conn


def _undo_probes(ctx: Ctx) -> None:
    """What a probe attempt may leave: its constraints (one calls sg_x() on every write)
    and sg_x() itself."""
    with ctx.direct() as conn:
        conn.execute(
            "ALTER TABLE users DROP CONSTRAINT IF EXISTS sg_c, DROP CONSTRAINT IF EXISTS sg_d;"
            " DROP FUNCTION IF EXISTS public.sg_x();"
            " ALTER TABLE scratch ADD COLUMN IF NOT EXISTS a int"
        )


def _unsynced_then_insert(
    client: rc.RawClient,
    ddl: str,
    live: psycopg.Connection[tuple[object, ...]],
    insert: str,
    failure: type[psycopg.Error],
    what: str,
) -> list[str]:
    """``ddl`` sent on ``client`` behind an unsynced batch (probes on a side connection),
    then the live version's ``insert``: BYPASS when it fails with ``failure`` after the
    guard let the change through. The codes the migration saw."""
    with client as c:
        c.send(_unsynced_batch(ddl))
        seen = outcome(c)
    try:
        live.execute(insert)
    except failure as exc:
        raise Bypassed(f"{what} after the change passed: {seen}") from exc
    return seen


def _unsynced(ctx: Ctx, ddl: str) -> list[str]:
    """``ddl`` held behind an unsynced SELECT: the proxy cannot query the migrating
    connection, so a probe runs on a side connection."""
    with ctx.raw() as c:
        c.send(_unsynced_batch(ddl))
        return outcome(c)


def _check_runner(ctx: Ctx, send: Callable[[Ctx, str], list[str]]) -> list[str]:
    """A CHECK calling the pg_background stand-in (the DROP) sent by ``send`` while
    shop@10 writes users.email (a probe runs for a written column)."""
    runners(ctx)
    live = _writer(ctx, "shop@10", "UPDATE users SET email = 'b@x' WHERE id = -1")
    try:
        return send(ctx, f"ALTER TABLE users ADD CONSTRAINT sg_c CHECK (email IS NULL OR {_EVIL})")
    finally:
        live.close()
        _undo_probes(ctx)


@guard("probe: CHECK calling a function that drops users.email, on a side connection")
def _r10a(ctx: Ctx) -> object:
    return _check_runner(ctx, _unsynced)


@guard("probe: CHECK calling a function that drops users.email, on the migrating connection")
def _r10b(ctx: Ctx) -> object:
    return _check_runner(ctx, q)


@guard("probe: NOT VALID CHECK calling a function that drops a column, side connection")
def _r10e(ctx: Ctx) -> object:
    """PostgreSQL does not run a NOT VALID CHECK on the rows there are; the version's
    constants' probe ran it, on a side connection, committed."""
    with ctx.direct() as conn:
        conn.execute(_X)
    live = _writer(
        ctx, "shop@12", "UPDATE users SET email = 'c@x' WHERE id IN (SELECT a FROM scratch)"
    )
    try:
        return _scratch_kept(
            ctx,
            _unsynced(
                ctx, "ALTER TABLE users ADD CONSTRAINT sg_d CHECK (email <> sg_x()::text) NOT VALID"
            ),
        )
    finally:
        live.close()
        _undo_probes(ctx)


#: 63 bytes (PostgreSQL cuts a longer name): the probe's literal closed, a CASE ended
#: with a call of sg_x() in it, another CASE opened for the probe's own rest.
_SEQ_INJECT = (
    "ALTER SEQUENCE users_id_seq AS \"int4'::regtype WHEN sg_x() THEN 0 END)+(CASE 'int4\""
)


def _sequence_injected(ctx: Ctx, send: Callable[[Ctx, str], list[str]]) -> list[str]:
    """_SEQ_INJECT sent by ``send`` while shop@11 takes numbers from users_id_seq."""
    with ctx.direct() as conn:
        conn.execute(_X)
    live = _writer(ctx, "shop@11", "INSERT INTO users (name) SELECT 'seq' FROM scratch WHERE a = 1")
    try:
        return _scratch_kept(ctx, send(ctx, _SEQ_INJECT))
    finally:
        live.close()
        _undo_probes(ctx)


@guard("probe: ALTER SEQUENCE AS a quoted type name closing the probe's literal, side connection")
def _r10c(ctx: Ctx) -> object:
    return _sequence_injected(ctx, _unsynced)


@guard("probe: ALTER SEQUENCE AS a quoted type name closing the probe's literal, own connection")
def _r10d(ctx: Ctx) -> object:
    return _sequence_injected(ctx, q)


@guard("CREATE OR REPLACE RULE ON INSERT DO INSTEAD NOTHING under a version's INSERT RETURNING")
def _r10f(ctx: Ctx) -> object:
    live = _writer(ctx, "shop@13", "INSERT INTO users (name) VALUES ('r') RETURNING id")
    try:
        seen = q(ctx, "CREATE OR REPLACE RULE sg_r AS ON INSERT TO users DO INSTEAD NOTHING")
        _judge(live, "INSERT INTO users (name) VALUES ('r') RETURNING id", "shop@13 inserting")
        return seen
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute("DROP RULE IF EXISTS sg_r ON users")


@guard("CREATE SCHEMA element list creating a users table that shadows public.users")
def _r10g(ctx: Ctx) -> object:
    return q(
        ctx,
        "BEGIN; DROP SCHEMA postgres; CREATE SCHEMA postgres CREATE TABLE users (id int)"
        " CREATE VIEW v AS SELECT 1 AS x; COMMIT",
    )


@guard("COMMENT ON COLUMN users.email must pass, ALTER DEFAULT PRIVILEGES too")
def _r10h(ctx: Ctx) -> object:
    seen = q(
        ctx,
        "COMMENT ON COLUMN users.email IS 'x'",
        "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
    )
    with ctx.direct() as conn:
        conn.execute("ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC")
    if seen != ["ok", "ok"]:
        raise Bypassed(f"a harmless statement was refused: {seen}")
    return seen


@guard("ALTER TABLE: a modelled ADD COLUMN beside DISABLE TRIGGER ALL, RLS and DROP")
def _r10i(ctx: Ctx) -> object:
    seen = q(ctx, "ALTER TABLE users ADD COLUMN z1 int, DISABLE TRIGGER ALL")
    seen += q(ctx, "ALTER TABLE users ADD COLUMN z2 int, ENABLE ROW LEVEL SECURITY")
    seen += q(ctx, "ALTER TABLE users ADD COLUMN z3 int, DROP COLUMN email")
    seen += q(ctx, "ALTER TABLE users ADD COLUMN z4 int, RENAME COLUMN email TO e2")
    with ctx.direct() as conn:
        conn.execute(
            "ALTER TABLE users ENABLE TRIGGER ALL, DISABLE ROW LEVEL SECURITY;"
            " ALTER TABLE users DROP COLUMN IF EXISTS z1, DROP COLUMN IF EXISTS z2,"
            " DROP COLUMN IF EXISTS z3, DROP COLUMN IF EXISTS z4"
        )
    return seen


def _latin1(ctx: Ctx, name: str, drop: str) -> list[str]:
    """A LATIN1 database: a column named with 40 two-byte UTF-8 characters is 40 bytes
    there (PostgreSQL cuts names at 63 bytes in the database's encoding)."""
    db = ctx.unique("attack10_latin1")
    with psycopg.connect(
        f"host=127.0.0.1 port={ctx.cluster.port} user=postgres sslmode=disable", autocommit=True
    ) as conn:
        conn.execute(
            f"CREATE DATABASE {db} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        )
    with psycopg.connect(
        f"host=127.0.0.1 port={ctx.cluster.port} user=postgres dbname={db} sslmode=disable",
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE TABLE t (id int, "{name}" text); INSERT INTO t VALUES (1, $$x$$)')
    live = psycopg.connect(ctx.proxy.url(database=db, application_name="lat@1"), autocommit=True)
    try:
        read = f'SELECT "{name}" FROM t WHERE id = 1'
        live.execute(read).fetchall()
        time.sleep(1.5)
        with rc.RawClient("127.0.0.1", ctx.proxy.port, timeout=10) as c:
            params = {"user": "postgres", "database": db, "client_encoding": "UTF8"}
            assert c.startup(params)[-1].type == "Z"
            c.send(rc.query(drop))
            seen = outcome(c)
        _judge(live, read, "lat@1 reading its long column")
        return seen
    finally:
        live.close()


@guard("LATIN1 database: DROP of a 40-character accented column name (80 bytes in UTF-8)")
def _r10j(ctx: Ctx) -> object:
    name = "é" * 40
    return _latin1(ctx, name, f'ALTER TABLE t DROP COLUMN "{name}"')


@guard("UTF8 database: a 70-byte name cut to 63 bytes, read long, dropped by its 63 bytes")
def _r10k(ctx: Ctx) -> object:
    long = "c" * 70
    with ctx.direct() as conn:
        conn.execute(f'ALTER TABLE scratch ADD COLUMN IF NOT EXISTS "{long[:63]}" int')
    url = ctx.proxy.url(database=ctx.db, application_name="long@1")
    live = psycopg.connect(url, autocommit=True)
    try:
        live.execute(f"SELECT {long} FROM scratch").fetchall()
        time.sleep(1.5)
        seen = q(ctx, f"ALTER TABLE scratch DROP COLUMN {long[:63]}")
        _judge(live, f"SELECT {long}, 1 FROM (SELECT 1) o LEFT JOIN scratch ON true", "long@1")
        return seen
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute(f'ALTER TABLE scratch DROP COLUMN IF EXISTS "{long[:63]}"')


def _as_app(ctx: Ctx, ddl: str) -> list[str]:
    """A version connected as a plain role that inserts into users; then ``ddl``."""
    with ctx.direct() as conn:
        with contextlib.suppress(psycopg.Error):
            conn.execute("CREATE ROLE sg_app10 LOGIN")
        conn.execute(
            "GRANT ALL ON users TO sg_app10; GRANT ALL ON SEQUENCE users_id_seq TO sg_app10"
        )
    url = ctx.proxy.url(user="sg_app10", database=ctx.db, application_name="app@10")
    sql = "INSERT INTO users (name) VALUES ('rls') RETURNING id"
    live = psycopg.connect(url, autocommit=True)
    try:
        live.execute(sql).fetchall()
        time.sleep(1.5)
        seen = q(ctx, ddl)
        _judge(live, sql, "app@10 inserting as a plain role")
        return seen
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute(
                "ALTER TABLE users DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;"
                " ALTER TABLE users DROP COLUMN IF EXISTS z5"
            )


@guard("ENABLE ROW LEVEL SECURITY (no policy) under a plain role's INSERT")
def _r10l(ctx: Ctx) -> object:
    return _as_app(ctx, "ALTER TABLE users ENABLE ROW LEVEL SECURITY")


@guard("ADD COLUMN beside ENABLE ROW LEVEL SECURITY under a plain role's INSERT")
def _r10m(ctx: Ctx) -> object:
    return _as_app(ctx, "ALTER TABLE users ADD COLUMN z5 int, ENABLE ROW LEVEL SECURITY")


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (clock ticks from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


@other("admin: /metrics scraped 400 times by 4 clients (100 versions); a client's SELECT 1")
def _r10n(ctx: Ctx) -> object:
    import threading

    for n in range(100):  # versions the store holds (--max-tracked-versions 100)
        with ctx.raw(application_name=f"scrape@{n}") as c:
            c.send(rc.query("SELECT email FROM users WHERE id = 1"))
            outcome(c)
    time.sleep(1.5)
    assert ctx.proxy.process is not None
    pid = ctx.proxy.process.pid

    def scrape(path: str, count: int) -> None:
        for _ in range(count):
            with urllib.request.urlopen(ctx.proxy.admin_url + path, timeout=30) as r:
                r.read()

    def load(path: str) -> tuple[float, float]:
        stall: list[float] = []
        done = threading.Event()

        def other_client() -> None:
            with ctx.raw(application_name="shop@1") as c:
                while not done.is_set():
                    start = time.monotonic()
                    c.send(rc.query("SELECT 1"))
                    outcome(c)
                    stall.append(time.monotonic() - start)
                    time.sleep(0.01)

        t = threading.Thread(target=other_client)
        t.start()
        before = _cpu_seconds(pid)
        threads = [threading.Thread(target=scrape, args=(path, 100)) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(300)
        cpu = _cpu_seconds(pid) - before
        done.set()
        t.join(30)
        return cpu / 400 * 1000, max(stall, default=0)

    metrics_ms, metrics_stall = load("/metrics")
    health_ms, health_stall = load("/healthz")
    return (
        f"/metrics {metrics_ms:.2f} ms CPU per scrape (slowest SELECT 1 {metrics_stall:.2f}s);"
        f" /healthz {health_ms:.2f} ms ({health_stall:.2f}s)"
    )


def _updating(ctx: Ctx, table: str, ddl: str) -> list[str]:
    """shop@14 updates ``table`` (no row matched); then ``ddl``; its UPDATE must still run."""
    sql = (
        f"UPDATE {table} SET id = id WHERE id = -1"
        if table == "users"
        else ("UPDATE scratch SET a = a WHERE a = -1")
    )
    live = _writer(ctx, "shop@14", sql)
    try:
        seen = q(ctx, ddl)
        try:
            live.execute(sql)
        except psycopg.Error as exc:
            raise Bypassed(f"shop@14 updating {table}: {exc} after {seen}") from exc
        return seen
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute(
                "DROP PUBLICATION IF EXISTS sg_pub; ALTER TABLE users REPLICA IDENTITY DEFAULT;"
                " ALTER TABLE users DROP COLUMN IF EXISTS z6"
            )


@guard("CREATE PUBLICATION publishing updates of a table without a replica identity")
def _r10o(ctx: Ctx) -> object:
    return _updating(ctx, "scratch", "CREATE PUBLICATION sg_pub FOR TABLE scratch")


@guard("ADD COLUMN beside REPLICA IDENTITY NOTHING on a published table")
def _r10p(ctx: Ctx) -> object:
    with ctx.direct() as conn:
        conn.execute("CREATE PUBLICATION sg_pub FOR TABLE users")
    return _updating(ctx, "users", "ALTER TABLE users ADD COLUMN z6 int, REPLICA IDENTITY NOTHING")


@guard("REPLICA IDENTITY NOTHING alone on a published table")
def _r10q(ctx: Ctx) -> object:
    with ctx.direct() as conn:
        conn.execute("CREATE PUBLICATION sg_pub FOR TABLE users")
    return _updating(ctx, "users", "ALTER TABLE users REPLICA IDENTITY NOTHING")


def _names_kept(ctx: Ctx, seen: list[str]) -> list[str]:
    """shop@1 reads "prénom" and "имя": both must still be there."""
    with ctx.direct() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.users'::regclass"
            " AND attname IN ('prénom', 'имя') AND NOT attisdropped"
        ).fetchone()
        if not (row and row[0] == 2):
            conn.execute(
                'ALTER TABLE users ADD COLUMN IF NOT EXISTS "prénom" text,'
                ' ADD COLUMN IF NOT EXISTS "имя" text'
            )
            raise Bypassed(f"a column shop@1 reads was dropped: {seen}")
    return seen


@guard("U& identifiers with UESCAPE in DDL: é and a Cyrillic name by code points")
def _r10r(ctx: Ctx) -> object:
    return _names_kept(
        ctx,
        q(ctx, "ALTER TABLE users DROP COLUMN U&\"pr!00E9nom\" UESCAPE '!'")
        + q(ctx, 'ALTER TABLE users DROP COLUMN U&"\\0438\\043C\\044F"'),
    )


@guard("a decomposed é (e + U+0301) names another column: PostgreSQL does not normalise")
def _r10s(ctx: Ctx) -> object:
    return _names_kept(ctx, q(ctx, 'ALTER TABLE users DROP COLUMN "pre\u0301nom"'))


@guard("DO INSTEAD NOTHING rule under a plain INSERT (its writes vanish; reported, not judged)")
def _r10t(ctx: Ctx) -> object:
    live = _writer(ctx, "shop@15", "INSERT INTO users (name) VALUES ('plain')")
    try:
        return q(ctx, "CREATE OR REPLACE RULE sg_r2 AS ON INSERT TO users DO INSTEAD NOTHING")
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute("DROP RULE IF EXISTS sg_r2 ON users")


# ------------------------------------------------------------------ round 11

#: A plain login role (cluster-wide): it owns sg_notes, may not end a superuser's
#: session and may not read sg_secrets.
_MALLORY = "sg_mallory11"


def _mallory_table(ctx: Ctx) -> None:
    with ctx.direct() as conn:
        if not conn.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{_MALLORY}'").fetchone():
            conn.execute(f"CREATE ROLE {_MALLORY} LOGIN")
        conn.execute(
            "DROP TABLE IF EXISTS public.sg_notes, public.sg_secrets;"
            " CREATE TABLE public.sg_notes (id serial PRIMARY KEY, body text);"
            f" ALTER TABLE public.sg_notes OWNER TO {_MALLORY};"
            " INSERT INTO public.sg_notes (body) VALUES ('a');"
            " CREATE TABLE public.sg_secrets (s text);"
            " INSERT INTO public.sg_secrets VALUES ('topsecret')"
        )


def _as_mallory(ctx: Ctx, check: str) -> list[str]:
    """``check`` added to sg_notes by mallory, held behind an unsynced SELECT (its probe
    runs on a side connection) while shop@13 writes sg_notes.body."""
    live = _writer(ctx, "shop@13", "INSERT INTO public.sg_notes (body) VALUES ('b')")
    try:
        with ctx.raw(user=_MALLORY) as c:
            ddl = f"ALTER TABLE public.sg_notes ADD CONSTRAINT sg_m CHECK ({check}) NOT VALID"
            c.send(_unsynced_batch(ddl))
            return outcome(c)
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute("ALTER TABLE public.sg_notes DROP CONSTRAINT IF EXISTS sg_m")


def _victim_survives(ctx: Ctx, template: str) -> list[str]:
    """mallory's CHECK ``template`` naming a superuser's backend: it must still answer."""
    _mallory_table(ctx)
    with ctx.direct() as victim:
        row = victim.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        seen = _as_mallory(ctx, template.format(pid=row[0]))
        try:
            victim.execute("SELECT 1")
        except psycopg.OperationalError as exc:
            raise Bypassed(f"a superuser's session ended for {_MALLORY}: {seen}") from exc
    return seen


@guard("side probe as role: plain role's CHECK calls pg_terminate_backend of a superuser")
def _r11a(ctx: Ctx) -> object:
    return _victim_survives(ctx, "body <> pg_terminate_backend({pid})::text")


@guard("side probe as role: set_config('role') in the CHECK, then pg_terminate_backend")
def _r11b(ctx: Ctx) -> object:
    return _victim_survives(
        ctx, "body <> (set_config('role', 'none', true) || pg_terminate_backend({pid})::text)"
    )


@guard("side probe as role: a CHECK reading a table the role may not read steers the verdict")
def _r11c(ctx: Ctx) -> object:
    """One bit per statement: does sg_secrets hold a row starting with 't'? The verdict
    must not depend on it (the probe as mallory may not read sg_secrets)."""
    _mallory_table(ctx)
    seen = [
        _as_mallory(
            ctx, f"body IS NULL OR EXISTS (SELECT FROM public.sg_secrets WHERE s LIKE '{c}%')"
        )
        for c in ("t", "x")
    ]
    if seen[0] != seen[1]:
        raise Bypassed(f"the verdict told what sg_secrets holds: {seen}")
    return seen


# ------------------------------------------------------------------ round 12

#: A plain login role (cluster-wide) that shop@17 connects as; it writes sg_notes12.
_SHOP = "sg_shop12"


def _as_the_version(ctx: Ctx, check: str) -> list[str]:
    """shop@17 writes sg_notes12.body only as the constant 'b', as _SHOP; postgres adds
    ``check`` NOT VALID behind an unsynced SELECT (no replay). PostgreSQL judges the
    version's next INSERT; the guard must refuse if it fails."""
    with ctx.direct() as conn:
        if not conn.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{_SHOP}'").fetchone():
            conn.execute(f"CREATE ROLE {_SHOP} LOGIN")
        conn.execute(
            "DROP TABLE IF EXISTS public.sg_notes12;"
            " CREATE TABLE public.sg_notes12 (id serial PRIMARY KEY, body text);"
            f" GRANT SELECT, INSERT ON public.sg_notes12 TO {_SHOP};"
            f" GRANT USAGE ON SEQUENCE public.sg_notes12_id_seq TO {_SHOP}"
        )
    url = ctx.proxy.url(user=_SHOP, database=ctx.db, application_name="shop@17")
    live = psycopg.connect(url, autocommit=True)
    try:
        live.execute("INSERT INTO public.sg_notes12 (body) VALUES ('b')")
        time.sleep(1.5)
        ddl = f"ALTER TABLE public.sg_notes12 ADD CONSTRAINT sg_v CHECK ({check}) NOT VALID"
        return _unsynced_then_insert(
            ctx.raw(),
            ddl,
            live,
            "INSERT INTO public.sg_notes12 (body) VALUES ('b')",
            psycopg.errors.CheckViolation,
            "shop@17's INSERT fails",
        )
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute(f"DROP TABLE IF EXISTS public.sg_notes12; DROP OWNED BY {_SHOP}")


@guard("probe as the version: CHECK passes the constant for current_user = the migrator")
def _r12a(ctx: Ctx) -> object:
    return _as_the_version(ctx, "body <> 'b' OR current_user = 'postgres'")


@guard("probe as the version: CHECK passes the constant for a member of a predefined role")
def _r12b(ctx: Ctx) -> object:
    return _as_the_version(ctx, "body <> 'b' OR pg_has_role('pg_read_server_files', 'member')")


@guard("probe as the version: CHECK passes the constant where CREATE on the database is held")
def _r12c(ctx: Ctx) -> object:
    return _as_the_version(
        ctx, "body <> 'b' OR has_database_privilege(current_database(), 'CREATE')"
    )


#: sg_migrator12 logs in NOINHERIT and reaches sg_owner12 (owner of sg_notes13) only as
#: that role: as itself it may not read the rows a side probe must read.
_OWNER, _MIGRATOR = "sg_owner12", "sg_migrator12"


def _moved_role(ctx: Ctx, *first: str, default: bool = False) -> list[str]:
    """shop@18 writes sg_notes13.body from a parameter, and 'b' is there; the migrator,
    its role moved by ``first`` (or by a role default), adds a CHECK refusing 'b' behind
    an unsynced SELECT (its probe runs on a side connection). PostgreSQL judges: the
    constraint must not have been added."""
    with ctx.direct() as conn:
        if not conn.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{_OWNER}'").fetchone():
            conn.execute(
                f"CREATE ROLE {_OWNER}; CREATE ROLE {_MIGRATOR} LOGIN NOINHERIT IN ROLE {_OWNER}"
            )
        conn.execute(
            "DROP TABLE IF EXISTS public.sg_notes13;"
            " CREATE TABLE public.sg_notes13 (id serial PRIMARY KEY, body text);"
            f" ALTER TABLE public.sg_notes13 OWNER TO {_OWNER};"
            " INSERT INTO public.sg_notes13 (body) VALUES ('b')"
        )
        if default:
            conn.execute(f"ALTER ROLE {_MIGRATOR} IN DATABASE {ctx.db} SET role = {_OWNER}")
    url = ctx.proxy.url(database=ctx.db, application_name="shop@18")
    live = psycopg.connect(url, autocommit=True)
    try:
        live.execute("INSERT INTO public.sg_notes13 (body) VALUES (%s)", ("b",))
        time.sleep(1.5)
        with ctx.raw(user=_MIGRATOR) as c:
            for sql in ("SET search_path = public", *first):
                c.send(rc.query(sql))
                outcome(c)
            ddl = "ALTER TABLE sg_notes13 ADD CONSTRAINT sg_m CHECK (body <> 'b') NOT VALID"
            c.send(_unsynced_batch(ddl))
            seen = outcome(c)
            if "BEGIN" in first:
                c.send(rc.query("COMMIT"))
                seen += outcome(c)
        with ctx.direct() as conn:
            added = conn.execute("SELECT 1 FROM pg_constraint WHERE conname = 'sg_m'").fetchone()
        if added:
            raise Bypassed(f"the CHECK refusing shop@18's writes passed as a risk: {seen}")
        return seen
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute(
                f"DROP TABLE IF EXISTS public.sg_notes13; ALTER ROLE {_MIGRATOR} RESET ALL;"
                f" ALTER ROLE {_MIGRATOR} IN DATABASE {ctx.db} RESET ALL"
            )


@guard("side probe after the session's own SET ROLE runs as the login (NOINHERIT)")
def _r12d(ctx: Ctx) -> object:
    return _moved_role(ctx, f"SET ROLE {_OWNER}")


@guard("side probe after SET LOCAL ROLE inside a transaction block")
def _r12e(ctx: Ctx) -> object:
    return _moved_role(ctx, "BEGIN", f"SET LOCAL ROLE {_OWNER}")


@guard("side probe for a login whose role default (ALTER ROLE ... SET role) moves it")
def _r12f(ctx: Ctx) -> object:
    return _moved_role(ctx, default=True)


@guard("sequence probe under a forced RLS policy: RESTART onto numbers the owner cannot see")
def _r12g(ctx: Ctx) -> object:
    """The owner migrating sees none of sg_tickets' rows (FORCE ROW LEVEL SECURITY); its
    probe of the numbers a RESTART hands out must not answer "free" from that view."""
    owner = "sg_seqowner12"
    with ctx.direct() as conn:
        if not conn.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{owner}'").fetchone():
            conn.execute(f"CREATE ROLE {owner} LOGIN")
        conn.execute(
            "DROP TABLE IF EXISTS public.sg_tickets;"
            " CREATE TABLE public.sg_tickets (id serial PRIMARY KEY, tenant text);"
            f" ALTER TABLE public.sg_tickets OWNER TO {owner};"
            " ALTER TABLE public.sg_tickets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;"
            " CREATE POLICY mine ON public.sg_tickets USING (tenant = current_user);"
            " INSERT INTO public.sg_tickets (tenant) SELECT 'other' FROM generate_series(1, 5)"
        )
    live = _writer(ctx, "shop@19", "INSERT INTO public.sg_tickets (tenant) VALUES ('other')")
    try:
        return _unsynced_then_insert(
            ctx.raw(user=owner),
            "ALTER SEQUENCE public.sg_tickets_id_seq RESTART WITH 1",
            live,
            "INSERT INTO public.sg_tickets (tenant) VALUES ('other')",
            psycopg.errors.UniqueViolation,
            "shop@19's INSERT collides",
        )
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute("DROP TABLE IF EXISTS public.sg_tickets")


def _default_then(ctx: Ctx, setup: str, ddl: str, *, empty: bool = False) -> list[str]:
    """shop@21 (as _SHOP) inserts into sg_orders13 (with the column ``setup``, if any)
    leaving ``c`` to its default (``empty``: its row is deleted); ``ddl`` behind an
    unsynced SELECT. PostgreSQL judges the version's next INSERT."""
    with ctx.direct() as conn:
        if not conn.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{_SHOP}'").fetchone():
            conn.execute(f"CREATE ROLE {_SHOP} LOGIN")
        conn.execute(
            "DROP TABLE IF EXISTS public.sg_orders13;"
            f" CREATE TABLE public.sg_orders13 (id serial PRIMARY KEY, body text{setup});"
            f" GRANT SELECT, INSERT, DELETE ON public.sg_orders13 TO {_SHOP};"
            f" GRANT USAGE ON SEQUENCE public.sg_orders13_id_seq TO {_SHOP}"
        )
    url = ctx.proxy.url(user=_SHOP, database=ctx.db, application_name="shop@21")
    live = psycopg.connect(url, autocommit=True)
    try:
        live.execute("INSERT INTO public.sg_orders13 (body) VALUES (%s)", ("x",))
        if empty:
            live.execute("DELETE FROM public.sg_orders13")
        time.sleep(1.5)
        return _unsynced_then_insert(
            ctx.raw(),
            ddl,
            live,
            "INSERT INTO public.sg_orders13 (body) VALUES ('y')",
            psycopg.errors.NotNullViolation,
            "shop@21's INSERT fails",
        )
    finally:
        live.close()
        with ctx.direct() as conn:
            conn.execute(f"DROP TABLE IF EXISTS public.sg_orders13; DROP OWNED BY {_SHOP}")


@guard("NOT NULL column whose DEFAULT is NULL for the version's role (rows filled as migrator)")
def _r12h(ctx: Ctx) -> object:
    return _default_then(
        ctx,
        "",
        "ALTER TABLE public.sg_orders13 ADD COLUMN c text NOT NULL DEFAULT"
        " (CASE WHEN current_user = 'postgres' THEN 'x' END)",
    )


@guard("NOT NULL column whose DEFAULT is always NULL, on an empty table")
def _r12i(ctx: Ctx) -> object:
    ddl = "ALTER TABLE public.sg_orders13 ADD COLUMN c text NOT NULL DEFAULT nullif('a', 'a')"
    return _default_then(ctx, "", ddl, empty=True)


@guard("SET DEFAULT of a NOT NULL column to one that is NULL for the version's role")
def _r12j(ctx: Ctx) -> object:
    return _default_then(
        ctx,
        ", c text NOT NULL DEFAULT 'x'",
        "ALTER TABLE public.sg_orders13 ALTER COLUMN c SET DEFAULT"
        " (CASE WHEN current_user = 'postgres' THEN 'x' END)",
    )


@guard("SET NOT NULL on a column whose default is NULL for the version's role")
def _r12k(ctx: Ctx) -> object:
    return _default_then(
        ctx,
        ", c text DEFAULT (CASE WHEN current_user = 'postgres' THEN 'x' END)",
        "ALTER TABLE public.sg_orders13 ALTER COLUMN c SET NOT NULL",
    )


@other("no literal: a version's constant in a value probe PostgreSQL refuses, in the log")
def _r12l(ctx: Ctx) -> object:
    """shop@22 writes a secret constant into sg_notes14.body; a CHECK casting it to int
    makes the probe of the version's constants fail on the migrating connection."""
    secret = SECRET + "-probe"
    with ctx.direct() as conn:
        conn.execute(
            "DROP TABLE IF EXISTS public.sg_notes14;"
            " CREATE TABLE public.sg_notes14 (id serial PRIMARY KEY, body text)"
        )
    url = ctx.proxy.url(database=ctx.db, application_name="shop@22")
    try:
        with psycopg.connect(url, autocommit=True) as live:
            live.execute(f"INSERT INTO public.sg_notes14 (body) VALUES ('{secret}')")
            time.sleep(1.5)
            q(ctx, "ALTER TABLE public.sg_notes14 ADD CONSTRAINT c CHECK (body::int > 0) NOT VALID")
        assert ctx.proxy.logfile is not None
        assert secret not in ctx.proxy.logfile.read_text(errors="replace"), "in the log"
        return "no leak"
    finally:
        with ctx.direct() as conn:
            conn.execute("DROP TABLE IF EXISTS public.sg_notes14")


# ------------------------------------------------------------------ runner


def setup(cluster: LocalCluster, workdir: Path) -> Ctx:
    db = f"attack_{int(time.time())}"
    with psycopg.connect(
        f"host=127.0.0.1 port={cluster.port} user=postgres sslmode=disable", autocommit=True
    ) as conn:
        conn.execute(f"CREATE DATABASE {db}")
        for role in ("archive",):
            with contextlib.suppress(psycopg.Error):
                conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
    proxy = ProxyProcess(
        upstream=cluster.url(database=db, sslmode="disable"),
        state=workdir / "state.db",
        logfile=workdir / "proxy.log",
        extra_args=["--max-tracked-versions", "100"],
    ).start()
    ctx = Ctx(cluster, db, proxy)
    with ctx.direct() as conn:
        conn.execute(SCHEMA)
        conn.execute("CREATE SCHEMA postgres")
    live = psycopg.connect(proxy.url(database=db, application_name="shop@1"), autocommit=True)
    live.execute('SELECT email, "prénom", "имя" FROM users WHERE id = 1').fetchall()
    ctx.live = live  # type: ignore[attr-defined]
    time.sleep(1.5)
    return ctx


def run(ctx: Ctx, only: str) -> int:
    holes = 0
    for name, fn in GUARD.items():
        if only and not re.search(only, name):
            continue
        ctx.restore()
        with ctx.direct() as conn:
            conn.execute("DROP SCHEMA IF EXISTS postgres CASCADE; CREATE SCHEMA postgres")
        bypassed = False
        try:
            seen = fn(ctx)
        except Bypassed as exc:
            seen, bypassed = str(exc), True
        except Exception as exc:
            seen = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
        broken = bypassed or not ctx.email_exists()
        with ctx.direct() as conn:
            row = conn.execute("SELECT to_regclass('postgres.users') IS NOT NULL").fetchone()
            shadow = bool(row and row[0])
        alive = ctx.proxy.alive
        try:
            ctx.live.execute("SELECT email FROM users WHERE id = 1").fetchall()  # type: ignore[attr-defined]
        except psycopg.Error as exc:
            broken = True
            seen = f"{seen} / live: {exc}"
            ctx.live = psycopg.connect(  # type: ignore[attr-defined]
                ctx.proxy.url(database=ctx.db, application_name="shop@1"), autocommit=True
            )
        verdict = "BYPASS" if (broken or shadow) else ("held" if alive else "PROXY DIED")
        holes += verdict != "held"
        print(f"{verdict:10} {name}: {seen}", flush=True)
    for name, fn in OTHER.items():
        if only and not re.search(only, name):
            continue
        try:
            seen = fn(ctx)
            verdict = "held"
        except Exception as exc:
            seen = f"{type(exc).__name__}: {exc}"
            verdict = "FAILED"
            traceback.print_exc()
        if not ctx.proxy.alive:
            verdict = "PROXY DIED"
        holes += verdict != "held"
        print(f"{verdict:10} {name}: {seen}", flush=True)
    return holes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", type=int, default=15)
    parser.add_argument("-k", default="")
    args = parser.parse_args()
    install = next(i for i in available_installs() if i.major == args.pg)
    workdir = Path(tempfile.mkdtemp(prefix="skewguard-attack-"))
    certs = Certificates.make(workdir)
    cluster = start_cluster(install, certs)
    try:
        ctx = setup(cluster, workdir)
        holes = run(ctx, args.k)
        ctx.proxy.stop()
        print(f"{len(GUARD) + len(OTHER)} attempts, {holes} got through; log: {workdir}")
        return 1 if holes else 0
    finally:
        cluster.stop()
        shutil.rmtree(cluster.datadir.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
