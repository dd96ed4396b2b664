"""The pure halves of replay: the sample reservoir, the replay plan and its reading."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from skewguard.catalog import CatalogSnapshot
from skewguard.checking import trial_statements
from skewguard.ddl import Change, Overlay
from skewguard.ddl.changes import Unmodelled
from skewguard.observe.metrics import ProxyMetrics
from skewguard.observe.traffic import TrafficBook
from skewguard.relay.own_queries import OWN
from skewguard.replay import (
    KEPT,
    Outcome,
    Trial,
    broke,
    clean,
    kept_name,
    masked,
    outcomes,
    plan,
    refused,
    trial_text,
)
from skewguard.replay_samples import (
    PER_SHAPE,
    Owner,
    ReplayMode,
    Sample,
    SampleBook,
    SessionSampler,
    ShapeKey,
    bind_values,
    sampleable,
)
from skewguard.replaying import Replayer, blamed, change_affects, not_applied
from skewguard.wire import messages as m
from skewguard.wire.framing import Message, MessageScanner
from skewguard.wire.replies import QueryResult
from tests.support import rawclient as rc

OWNER = Owner("db", "shop", "1", "app", ("public",))


def _bind(*values: bytes | None) -> bytes:
    body = b"\x00\x00" + struct.pack("!h", 0) + struct.pack("!h", len(values))
    for value in values:
        body += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
    return body + b"\x00\x00"


def test_bind_values_keeps_formats_and_values_as_sent() -> None:
    values = bind_values(_bind(b"5", None))
    assert values is not None
    assert Sample.bound("INSERT INTO t VALUES ($1, $2)", b"\x00\x00", values).has_null
    assert bind_values(b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x09ab") is None  # cut short


def test_reservoir_is_bounded_per_shape_keeps_distinct_and_a_null() -> None:
    book = SampleBook(max_shapes=10, max_bytes=1 << 20, seed=1)
    sql = "INSERT INTO t (a) VALUES ($1)"
    for n in range(100):
        book.offer(
            OWNER, Sample.bound(sql, b"\x00\x00", bind_values(_bind(str(n).encode())) or b"")
        )
        book.offer(OWNER, Sample.bound(sql, b"\x00\x00", bind_values(_bind(b"1")) or b""))
    book.offer(OWNER, Sample.bound(sql, b"\x00\x00", bind_values(_bind(None)) or b""))
    (samples,) = book.shapes("db").values()
    assert len(samples) == PER_SHAPE
    assert len(set(samples)) == PER_SHAPE
    assert any(s.has_null for s in samples)


def test_reservoir_caps_shapes_and_bytes() -> None:
    book = SampleBook(max_shapes=2, max_bytes=1 << 20)
    for table in "abc":
        book.offer(OWNER, Sample(f"SELECT 1 FROM {table}"))
    assert len(book) == 2
    small = SampleBook(max_shapes=10, max_bytes=30)
    small.offer(OWNER, Sample("SELECT 1 FROM a WHERE x = 'long enough to pass the cap'"))
    assert len(small) == 0


def test_literal_statements_share_a_shape() -> None:
    book = SampleBook(max_shapes=10, max_bytes=1 << 20)
    book.offer(OWNER, Sample("UPDATE t SET a = 1 WHERE id = 2"))
    book.offer(OWNER, Sample("UPDATE t SET a = 7 WHERE id = 9"))
    ((key, samples),) = book.shapes("db").items()
    assert key.shape == "UPDATE t SET a = 0 WHERE id = 0"
    assert len(samples) == 2


def test_only_reads_and_writes_without_outside_effects_are_sampled() -> None:
    assert sampleable("insert into t values (1)")
    assert sampleable("WITH x AS (SELECT 1) SELECT * FROM x")
    assert not sampleable("SELECT pg_advisory_lock(1)")
    # a background worker commits on its own: a replay would really delete
    assert not sampleable("SELECT pg_background_launch('DELETE FROM t')")
    assert not sampleable("CREATE TABLE t (a int)")
    assert not sampleable("SET search_path = x")


def test_statements_that_may_leave_their_role_are_not_sampled() -> None:
    """SET LOCAL ROLE is no barrier to set_config('role', ...), in the text or in a query
    a builtin runs from a string (a U& identifier may spell either): replayed, it would
    go on with the migrating login's privileges."""
    assert not sampleable("SELECT set_config('role', 'none', true), name FROM users")
    assert not sampleable("SELECT * FROM query_to_xml('SELECT 1', true, false, '')")
    assert not sampleable("SELECT ts_stat('SELECT 1')")
    assert not sampleable("SELECT U&\"set\\005Fconfig\"('role', 'none', true)")
    assert sampleable("SELECT current_setting('role'), name FROM users")


def test_a_sample_is_kept_only_when_answered_without_error() -> None:
    book = SampleBook(max_shapes=10, max_bytes=1 << 20)
    sampler = SessionSampler(book)
    sampler.on_query(OWNER, "INSERT INTO t VALUES (1)", ready=1, errors=0)
    sampler.on_query(OWNER, "INSERT INTO u VALUES (1)", ready=2, errors=0)
    sampler.settle(1, 0)
    assert len(book) == 1 and len(sampler.waiting) == 1
    sampler.settle(2, 1)  # an ErrorResponse passed before its ReadyForQuery
    assert len(book) == 1 and not sampler.waiting


def test_a_parse_no_sample_is_wanted_of_forgets_the_names_types() -> None:
    """Parsed again while untagged: a later Bind must not read its values with the old types."""
    book = SampleBook(max_shapes=10, max_bytes=1 << 20)
    sampler = SessionSampler(book)
    insert = rc.parse("INSERT INTO t VALUES ($1)", "s1", [23])
    sampler.on_parse("s1", "INSERT INTO t VALUES ($1)", insert[5:])
    sampler.on_bind(OWNER, "s1", "INSERT INTO t VALUES ($1)", b"", ready=1, errors=0)
    assert len(sampler.waiting) == 1
    select = rc.parse("SELECT $1::text", "s1", [25])
    sampler.on_parse("s1", "SELECT $1::text", select[5:], wanted=False)
    sampler.on_bind(OWNER, "s1", "SELECT $1::text", b"", ready=2, errors=0)
    assert len(sampler.waiting) == 1


def test_a_bound_sample_says_whether_its_statement_is_named() -> None:
    book = SampleBook(max_shapes=10, max_bytes=1 << 20)
    sampler = SessionSampler(book)
    parse = b"INSERT INTO t VALUES ($1)\x00\x00\x00"  # after the name: text, no types
    bind = b"\x00\x00\x00\x01\x00\x00\x00\x011\x00\x00"  # one text value '1'
    for number, name in enumerate(("", "kept")):
        sampler.on_parse(name, "INSERT INTO t VALUES ($1)", name.encode() + b"\x00" + parse)
        sampler.on_bind(
            OWNER,
            name,
            f"INSERT INTO t VALUES ($1) -- {number}",
            b"\x00" + name.encode() + b"\x00" + bind,
            ready=1,
            errors=0,
        )
    sampler.settle(1, 0)
    named = {s.sql[-1]: s.named for ss in book.shapes("db").values() for s in ss}
    assert named == {"0": False, "1": True}


def _trial(sql: str = "INSERT INTO t VALUES (1)") -> Trial:
    key = ShapeKey("db", "shop", "1", "app", ("public",), sql)
    return Trial(key, Sample(sql), repeat=sql.startswith("INSERT"))


def test_chained_trials_of_a_version_share_one_savepoint_in_order() -> None:
    insert = replace(_trial("INSERT INTO t VALUES (1)"), repeat=False, chained=True)
    delete = replace(_trial("DELETE FROM t WHERE a = 1"), chained=True)
    other = replace(_trial("DELETE FROM u"), chained=True)
    other = replace(other, key=replace(other.key, version="2"))
    made = plan("T", [insert, delete, other], statement_timeout_ms=1, lock_timeout_ms=1)
    assert made is not None
    # begin; the insert: setup, run; the delete: setup, run, cleanup; the other
    # version's: setup, run, cleanup; end
    assert made.replies == 1 + 2 + 3 + 3 + 1
    assert made.slots == (((1, (2,)), (3, (4,)), (6, (7,))),)
    queries = [
        m.decode_query(s.body)
        for s in MessageScanner(None).feed(made.wire)
        if isinstance(s, Message) and s.type == 0x51
    ]
    opened = [q for q in queries if q.startswith("SAVEPOINT skewguard_replay_1")]
    assert len(opened) == 2  # the delete runs on what the insert left


def test_plan_in_a_block_uses_savepoints_and_outside_a_trial_transaction() -> None:
    trials = [_trial(), _trial("SELECT 1")]
    inside = plan("T", trials, statement_timeout_ms=100, lock_timeout_ms=100)
    assert inside is not None
    # begin; the write: setup, two runs, cleanup; the read: setup, one run, cleanup; end
    assert inside.replies == 1 + 4 + 3 + 1
    assert inside.slots == (((1, (2, 3)), (5, (6,))),)
    assert b"SAVEPOINT skewguard_replay" in inside.wire
    trial = plan("I", trials, statement_timeout_ms=100, lock_timeout_ms=100, ddl=["ALTER TABLE t"])
    assert trial is not None and trial.ddl == (8, 9)
    assert trial.slots[1] == ((10, (11, 12)), (14, (15,)))
    assert trial.wire.startswith(b"Q") and trial.wire.endswith(b"ROLLBACK\x00")
    assert plan("E", trials, statement_timeout_ms=1, lock_timeout_ms=1) is None
    assert plan("T", trials, statement_timeout_ms=1, lock_timeout_ms=1, ddl=["x"]) is None


def test_each_sample_checks_deferred_constraints_at_its_end() -> None:
    """A DEFERRABLE INITIALLY DEFERRED constraint fails at the version's COMMIT; the
    savepoint of a sample is rolled back before any commit, so it is checked at once."""
    made = plan("T", [_trial(), _trial("SELECT 1")], statement_timeout_ms=1, lock_timeout_ms=1)
    assert made is not None
    queries = [
        m.decode_query(s.body)
        for s in MessageScanner(None).feed(made.wire)
        if isinstance(s, Message) and s.type == 0x51
    ]
    setups = [q for q in queries if q.startswith("SAVEPOINT skewguard_replay_1")]
    assert len(setups) == 2
    assert all("SET CONSTRAINTS ALL IMMEDIATE" in q for q in setups)


def test_a_write_that_does_not_repeat_runs_once() -> None:
    once = replace(_trial(), repeat=False)
    inside = plan("T", [once], statement_timeout_ms=100, lock_timeout_ms=100)
    assert inside is not None
    assert inside.slots == (((1, (2,)),),)  # begin; setup, one run, cleanup; end
    assert inside.replies == 1 + 3 + 1


def test_named_plan_has_the_same_replies_and_never_names_the_unnamed() -> None:
    trials = [_trial(), _trial("SELECT 1")]
    simple = plan("T", trials, statement_timeout_ms=100, lock_timeout_ms=100)
    named = plan("T", trials, statement_timeout_ms=100, lock_timeout_ms=100, named=True)
    assert simple is not None and named is not None
    assert (named.replies, named.slots) == (simple.replies, simple.slots)
    messages = [s for s in MessageScanner(None).feed(named.wire) if isinstance(s, Message)]
    assert not any(s.type == 0x51 for s in messages)  # a Query drops the unnamed ones
    assert all(m.decode_parse(s.body).name == OWN for s in messages if s.type == 0x50)
    assert all(m.decode_bind_target(s.body) == (OWN, OWN) for s in messages if s.type == 0x42)
    assert sum(s.type == 0x53 for s in messages) == named.replies
    # an autocommit trial runs the client's text as a Query: not while an Execute is held
    held = plan("I", trials, statement_timeout_ms=1, lock_timeout_ms=1, ddl=["x"], named=True)
    assert held is None


def test_outcomes_read_each_pass_and_a_failed_trial_ddl_spoils_the_after_pass() -> None:
    made = plan("I", [_trial()], statement_timeout_ms=1, lock_timeout_ms=1, ddl=["ALTER"])
    assert made is not None
    ok, fail = QueryResult(), QueryResult(error="23505", message="duplicate key")
    results = [ok] * made.replies
    results[9] = fail  # the second run after the change
    before, after = outcomes(made, results)
    assert before == [(Outcome(True), Outcome(True))]
    assert after == [(Outcome(True), Outcome(False, "23505", "duplicate key"))]
    assert broke(before[0], after[0]) == Outcome(False, "23505", "duplicate key")
    assert not clean(after[0])
    assert refused(made, results) is None
    results[5] = QueryResult(error="42P01", message="no table")  # the trial DDL failed
    results[6] = QueryResult(error="25P02", message="aborted")  # ... and so what follows
    assert outcomes(made, results)[1] == [(Outcome(None), Outcome(None))]
    assert refused(made, results) == Outcome(False, "42P01", "no table")
    failing = (Outcome(False, "23505"),)
    assert broke(failing, failing) is None
    assert outcomes(made, [*results[:2], QueryResult(error="08P01"), *results[3:]])[0] == [
        (Outcome(None, "08P01", ""), Outcome(True))
    ]


def test_masked_hides_values_keeps_names_the_migration_wrote() -> None:
    message = 'value "secret@example.com" violates check constraint "ledger_note" at 123'
    shown = masked(message, "ALTER TABLE ledger ADD CONSTRAINT ledger_note CHECK (x)")
    assert shown == 'value "?" violates check constraint "ledger_note" at ?'
    assert masked("value too long for type character varying(20)", "") == (
        "value too long for type character varying(20)"
    )


def test_a_bound_offer_is_read_only_when_drawn_and_keeps_a_null() -> None:
    book = SampleBook(max_shapes=10, max_bytes=1 << 20, seed=3)
    sql = "INSERT INTO t (a) VALUES ($1)"
    for n in range(2000):
        book.offer_bound(OWNER, sql, b"\x00\x00", _bind(str(n).encode()))
    book.offer_bound(OWNER, sql, b"\x00\x00", b"\x00\x00\x00\x00\x00\x05")  # malformed: skipped
    (samples,) = book.shapes("db").values()
    assert len(samples) == PER_SHAPE == len(set(samples))
    assert not any(s.has_null for s in samples)
    assert any(int(s.values[8:]) > 100 for s in samples)  # later offers won draws
    for _ in range(3):
        book.offer_bound(OWNER, sql, b"\x00\x00", _bind(None))
    (samples,) = book.shapes("db").values()
    assert sum(s.has_null for s in samples) == 1


def test_a_trial_runs_each_statement_alone_and_no_transaction_control() -> None:
    sql = "BEGIN;\nALTER TABLE t ADD c int; -- why\nSAVEPOINT a;\nCREATE INDEX ON t (c)\n;COMMIT"
    assert trial_statements(sql) == ["ALTER TABLE t ADD c int", "CREATE INDEX ON t (c)\n"]


def test_a_trial_ddl_refused_says_why_without_values() -> None:
    known = "ALTER TABLE ledger ADD CONSTRAINT positive CHECK (amount > 0)"
    why = not_applied(
        Outcome(False, "23505", 'could not create unique index "zz_key" near "secret"'),
        known,
        show_values=False,
    )
    assert why.endswith('23505 could not create unique index "?" near "?"')
    locked = not_applied(Outcome(False, "55P03", "lock timeout"), known, show_values=False)
    assert "another session holds one" in locked


def test_a_named_statements_write_keeps_its_statement_across_the_ddl() -> None:
    values = struct.pack("!hhhi", 1, 1, 1, 4) + struct.pack("!i", 3)  # one int4, binary
    sql = "INSERT INTO t (n) VALUES ($1)"
    key = ShapeKey("db", "shop", "1", "app", ("public",), sql)
    binary = Trial(key, Sample.bound(sql, b"\x00\x00", values, named=True))
    # the unnamed statement is Parsed anew each time, as the version does
    unnamed = Trial(key, Sample.bound(sql, b"\x00\x00", values))
    fresh = plan("I", [unnamed], statement_timeout_ms=1, lock_timeout_ms=1, ddl=["ALTER"])
    assert fresh is not None and KEPT.encode() not in fresh.wire
    made = plan("I", [binary], statement_timeout_ms=1, lock_timeout_ms=1, ddl=["ALTER"])
    assert made is not None
    messages = [s for s in MessageScanner(None).feed(made.wire) if isinstance(s, Message)]
    parses = [m.decode_parse(s.body).name for s in messages if s.type == 0x50]
    name = kept_name(binary.sample)
    assert name.startswith(KEPT)
    # prepared once, before the DDL, and bound again after it; parsed anew in each pass
    assert parses == [name, "", ""]
    assert sum(s.type == 0x42 for s in messages) == 2
    assert messages[-2].type == 0x43 and messages[-1].type == 0x53  # closed at the end
    assert sum(s.type == 0x53 for s in messages) == made.replies - sum(
        s.type == 0x51 for s in messages
    )
    # a pass without keep or prepared statements keeps nothing
    inside = plan("T", [binary], statement_timeout_ms=1, lock_timeout_ms=1)
    assert inside is not None and KEPT.encode() not in inside.wire
    # in a block: the pass before the DDL prepares it and leaves it; the one at COMMIT
    # binds it (parsing only its analysis anew) and closes it
    before = plan("T", [binary], statement_timeout_ms=1, lock_timeout_ms=1, keep=True)
    assert before is not None and before.kept == {name}
    first = [s for s in MessageScanner(None).feed(before.wire) if isinstance(s, Message)]
    assert [m.decode_parse(s.body).name for s in first if s.type == 0x50] == [name, ""]
    assert not any(s.type == 0x43 and name.encode() in s.body for s in first[-3:])
    final = plan("T", [binary], statement_timeout_ms=1, lock_timeout_ms=1, prepared=before.kept)
    assert final is not None and not final.kept
    last = [s for s in MessageScanner(None).feed(final.wire) if isinstance(s, Message)]
    assert [m.decode_parse(s.body).name for s in last if s.type == 0x50] == [""]  # anew only
    assert last[-2].type == 0x43 and name.encode() in last[-2].body


def test_a_named_statements_read_keeps_its_statement_across_the_ddl() -> None:
    """A held ``m = $1`` keeps the parameter type ``m`` had when it was prepared; the
    version's next connection prepares it anew, so each pass also runs it unnamed."""
    sql = "SELECT id FROM t WHERE m = $1"
    key = ShapeKey("db", "shop", "1", "app", ("public",), sql)
    values = struct.pack("!hh", 0, 1) + struct.pack("!i", 5) + b"happy"
    held = Trial(key, Sample.bound(sql, b"\x00\x00", values, named=True))
    made = plan("I", [held], statement_timeout_ms=1, lock_timeout_ms=1, ddl=["ALTER"])
    assert made is not None
    messages = [s for s in MessageScanner(None).feed(made.wire) if isinstance(s, Message)]
    parses = [m.decode_parse(s.body).name for s in messages if s.type == 0x50]
    assert parses == [kept_name(held.sample), "", ""]  # kept: prepared before the DDL only
    assert sum(s.type == 0x42 for s in messages) == 4
    assert len(made.slots[1][0][1]) == 2 and made.slots[1][0][1][0] in made.rebound
    assert made.slots[1][0][1][1] not in made.rebound  # prepared anew: its 0A000 would count


def test_a_named_statements_write_is_parsed_anew_not_run_again() -> None:
    """A held INSERT keeps its plan across ``ALTER TYPE ... DROP ATTRIBUTE`` (no
    invalidation reaches it); the version's next connection analyses it anew and fails
    (42846). Each pass parses it anew after its runs, without a Bind: its rows are not
    written once more."""
    sql = "INSERT INTO people VALUES ($1, ROW('s', 'c'))"
    key = ShapeKey("db", "shop", "1", "app", ("public",), sql)
    values = struct.pack("!hh", 0, 1) + struct.pack("!i", 1) + b"7"
    held = Trial(key, Sample.bound(sql, b"\x00\x00", values, named=True), repeat=True)
    made = plan("I", [held], statement_timeout_ms=1, lock_timeout_ms=1, ddl=["ALTER"])
    assert made is not None
    messages = [s for s in MessageScanner(None).feed(made.wire) if isinstance(s, Message)]
    parses = [m.decode_parse(s.body).name for s in messages if s.type == 0x50]
    assert parses == [kept_name(held.sample), "", ""]  # kept, and analysed anew each pass
    assert sum(s.type == 0x42 for s in messages) == 4  # two runs a pass, bound only
    before, after = made.slots[0][0][1], made.slots[1][0][1]
    assert len(before) == len(after) == 3 and after[2] not in made.rebound | made.relaid


def test_a_trial_detaches_a_partition_without_concurrently() -> None:
    """DETACH ... CONCURRENTLY refuses a transaction block; the plain form leaves the same
    schema. Other texts are run as written."""
    assert trial_text("ALTER TABLE m DETACH PARTITION m_2026 CONCURRENTLY") == (
        "ALTER TABLE m DETACH PARTITION m_2026"
    )
    for text in (
        "CREATE INDEX CONCURRENTLY i ON t (a)",
        "ALTER TABLE m DETACH PARTITION m_2026",
        "ALTER TABLE concurrently ADD COLUMN b int",
        "not sql CONCURRENTLY",
    ):
        assert trial_text(text) == text


def test_an_enum_label_change_reaches_the_relations_with_columns_of_the_enum() -> None:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(
        "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE a (m mood);"
        " CREATE TABLE b (ms mood[]); CREATE TABLE c (t text)"
    )
    before = overlay.catalog
    renaming = Overlay(before)
    renaming.apply("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'")
    affects = change_affects(renaming.net_changes(), [], before)
    assert affects is not None and affects.relations == {"public.a", "public.b"}


def test_a_dropped_overload_reaches_its_callers_when_another_of_its_name_is_left() -> None:
    """Whether the call still resolves depends on the types its arguments are sent with:
    replay judges it. A drop that leaves no overload of the name, or a rename, is the
    rules' alone."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(
        "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a';"
        " CREATE FUNCTION g(a int) RETURNS int LANGUAGE sql AS 'SELECT a';"
        " CREATE FUNCTION h(a int) RETURNS int LANGUAGE sql AS 'SELECT a';"
        " CREATE FUNCTION h(a text) RETURNS int LANGUAGE sql AS 'SELECT 1'"
    )
    before = overlay.catalog
    migration = Overlay(before)
    migration.apply(
        "DROP FUNCTION f(int); CREATE FUNCTION f(a text) RETURNS int LANGUAGE sql AS 'SELECT 1';"
        " DROP FUNCTION g(int); DROP FUNCTION h(int)"
    )
    affects = change_affects(migration.net_changes(), [], before)
    assert affects is not None
    assert affects.functions == {"public.f(integer)", "public.h(integer)"}
    renaming = Overlay(before)
    renaming.apply("ALTER FUNCTION g(int) RENAME TO g2")
    moved = change_affects(renaming.net_changes(), [], before)
    assert moved is not None and moved.empty


def _changes_of(sql: str) -> list[Change]:
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply("CREATE TABLE users (id int, contact text, note varchar(100))")
    overlay = Overlay(overlay.catalog)
    overlay.apply(sql)
    return overlay.net_changes()


MIGRATION = (
    "ALTER TABLE users ADD COLUMN nick text NOT NULL DEFAULT '';"
    "ALTER TABLE users DROP COLUMN contact;"
    "ALTER TABLE users ALTER COLUMN note TYPE varchar(20);"
    "ALTER TABLE users ADD CONSTRAINT id_positive CHECK (id > 0)"
)


@pytest.mark.parametrize(
    "failure, kind",
    [
        (Outcome(False, "42703", 'column "contact" does not exist'), "DropColumn"),
        (Outcome(False, "22001", "value too long for type character varying(20)"),
         "AlterColumnType"),
        (
            Outcome(False, "23514", 'new row for relation "users" violates check constraint '
                    '"id_positive"'),
            "AddConstraint",
        ),
        (
            Outcome(False, "23502", 'null value in column "nick" of relation "users" violates '
                    "not-null constraint"),
            "AddColumn",
        ),
        (Outcome(False, "42501", "permission denied for table users"), "Unmodelled"),
    ],
    ids=["named-column", "data-exception", "named-constraint", "column-before-relation", "none"],
)  # fmt: skip
def test_a_replayed_break_is_blamed_on_the_change_its_failure_names(
    failure: Outcome, kind: str
) -> None:
    assert blamed(_changes_of(MIGRATION), failure, Unmodelled("the migration")).kind == kind


def test_a_new_partition_reaches_the_writers_of_its_siblings() -> None:
    """A row written straight into the default partition for the new bounds fails."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(
        "CREATE TABLE m (at int) PARTITION BY RANGE (at);"
        " CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM (0) TO (10);"
        " CREATE TABLE m_def PARTITION OF m DEFAULT; CREATE TABLE other (at int)"
    )
    before = overlay.catalog
    adding = Overlay(before)
    adding.apply("CREATE TABLE m_2 PARTITION OF m FOR VALUES FROM (10) TO (20)")
    affects = change_affects(adding.net_changes(), [], before)
    assert affects is not None and affects.relations == {"public.m", "public.m_1", "public.m_def"}


def test_a_privilege_revoked_reaches_what_it_guarded() -> None:
    """Whether a version's role still holds it (its own grant, PUBLIC's, a role it is a
    member of) PostgreSQL knows: replay judges it, from PUBLIC or from one role."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(
        "CREATE SCHEMA app; CREATE TABLE app.t (id int); CREATE TABLE u (id int);"
        " GRANT USAGE ON SCHEMA app TO PUBLIC; GRANT SELECT ON u TO PUBLIC, r1"
    )
    before = overlay.catalog
    revoking = Overlay(before)
    revoking.apply("REVOKE USAGE ON SCHEMA app FROM PUBLIC; REVOKE SELECT ON u FROM PUBLIC")
    affects = change_affects(revoking.net_changes(), [], before)
    assert affects is not None
    assert affects.schemas == {"app"} and affects.relations == {"public.u"}
    one = Overlay(before)
    one.apply("REVOKE SELECT ON u FROM r1")
    only = change_affects(one.net_changes(), [], before)
    assert only is not None and only.relations == {"public.u"}


def test_a_table_replaced_by_a_view_that_is_not_simple_reaches_its_users() -> None:
    """A DISTINCT, GROUP BY or UNION view may refuse what the table took (FOR UPDATE):
    PostgreSQL tells by replay. A simple view takes what the table took: the rules judge."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply("CREATE TABLE t (id int, sku text)")
    before = overlay.catalog
    deduped = Overlay(before)
    deduped.apply(
        "ALTER TABLE t RENAME TO t_all;"
        " CREATE VIEW t AS SELECT DISTINCT ON (sku) * FROM t_all ORDER BY sku, id"
    )
    affects = change_affects(deduped.net_changes(), [], before)
    assert affects is not None and affects.relations == {"public.t"}
    simple = Overlay(before)
    simple.apply("ALTER TABLE t RENAME TO t_all; CREATE VIEW t AS SELECT * FROM t_all")
    plain = change_affects(simple.net_changes(), [], before)
    assert plain is not None and "public.t" not in plain.relations


def test_a_function_whose_result_columns_change_reaches_its_callers() -> None:
    """RETURNS TABLE columns renamed or added: the declared type stays ``record``, yet a
    caller reading a column that went away fails; which ones, the replay tells."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(
        "CREATE FUNCTION top(n int) RETURNS TABLE (id int, label text) LANGUAGE sql"
        " AS 'SELECT 1, ''a'''"
    )
    before = overlay.catalog
    migration = Overlay(before)
    migration.apply(
        "DROP FUNCTION top(int); CREATE FUNCTION top(n int) RETURNS TABLE (id int, title text)"
        " LANGUAGE sql AS 'SELECT 1, ''a'''"
    )
    changes = migration.net_changes()
    assert [(c.kind, getattr(c, "reshaped", None)) for c in changes] == [("ReplaceFunction", True)]
    affects = change_affects(changes, [], before)
    assert affects is not None and affects.functions == {"public.top(integer)"}


def _verdict(baseline: tuple[Outcome, ...] | None, after: tuple[Outcome, ...]) -> set[str]:
    key = ShapeKey("db", "shop", "1", "app", ("public",), "SELECT id FROM t FOR UPDATE")
    trial = Trial(key, Sample("SELECT id FROM t FOR UPDATE"))
    replayer = Replayer(
        SampleBook(max_shapes=8, max_bytes=4096),
        ReplayMode.ALL,
        ProxyMetrics(TrafficBook()),
        keep_literals=False,
    )
    found = replayer.verdict(
        [trial],
        {} if baseline is None else {trial: baseline},
        [after],
        change=Unmodelled("the migration"),
        known="",
        show_values=False,
    )
    return {f"{v.app}@{v.version}" for v in found.broken}


def test_a_baseline_an_earlier_statement_of_the_block_failed_is_no_baseline() -> None:
    """``BEGIN; ALTER TABLE t RENAME TO t_all; CREATE VIEW t AS SELECT DISTINCT ...``: the
    baseline taken before the CREATE VIEW fails (t is gone); the version ran the statement
    without error, so failing otherwise after the block is the block breaking it."""
    gone = (Outcome(False, "42P01", 'relation "t" does not exist'),)
    refused_lock = (Outcome(False, "0A000", "FOR UPDATE is not allowed with DISTINCT clause"),)
    assert _verdict(gone, refused_lock) == {"shop@1"}
    assert _verdict(gone, (Outcome(True),)) == set()
    # failing alike before and after: a temporary table of the version's own session
    assert _verdict(gone, gone) == set()
    # a baseline that failed on its rows (a key that exists now) stays a baseline
    duplicate = (Outcome(False, "23505", "duplicate key value"),)
    assert _verdict(duplicate, refused_lock) == set()


def test_a_held_read_with_inferred_binary_parameters_prepared_anew_may_not_fit() -> None:
    """A binary value laid out for a type the server inferred is not the one a fresh
    Parse may infer after the change (the driver would lay it out anew): its 42804 there
    says nothing about the change. A declared type binds as sent."""
    sql = "SELECT code FROM codes WHERE n = ANY($1)"
    key = ShapeKey("db", "shop", "1", "app", ("public",), sql)
    binary = struct.pack("!hhh", 1, 1, 1) + struct.pack("!i", 4) + b"\x00\x00\x00\x05"
    inferred = Trial(key, Sample.bound(sql, b"\x00\x00", binary, named=True))
    declared = Trial(key, Sample.bound(sql, struct.pack("!hi", 1, 23), binary, named=True))
    assert not inferred.sample.binds_anew and declared.sample.binds_anew
    for trial, relaid in ((inferred, 2), (declared, 0)):
        made = plan("I", [trial], statement_timeout_ms=1, lock_timeout_ms=1, ddl=["ALTER"])
        assert made is not None and len(made.relaid) == relaid
        after = made.slots[1][0][1]
        assert len(after) == 2 and (after[1] in made.relaid) == bool(relaid)


def test_a_table_attached_reaches_its_own_writers() -> None:
    """The attached table takes the partition's bounds as a constraint: a version writing
    it straight with a row outside them fails (23514), which replay tells."""
    overlay = Overlay(CatalogSnapshot(schemas=frozenset({"public"})))
    overlay.apply(
        "CREATE TABLE m (at int) PARTITION BY RANGE (at);"
        " CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM (0) TO (10);"
        " CREATE TABLE m_2 (at int)"
    )
    before = overlay.catalog
    attaching = Overlay(before)
    attaching.apply("ALTER TABLE m ATTACH PARTITION m_2 FOR VALUES FROM (10) TO (20)")
    affects = change_affects(attaching.net_changes(), [], before)
    assert affects is not None and affects.relations == {"public.m", "public.m_1", "public.m_2"}
