"""The proxy's own queries on a client's connection, inside the client's transaction.

A decision about a transaction must read what that transaction sees (its own
DELETE before an ADD CONSTRAINT) and must not wait on the locks it holds: so
the guard's probes run on the migrating backend itself, before the held
statement is forwarded. They must leave no trace there. Each query runs:

- in a transaction block (``T``): inside a savepoint that is rolled back and
  released, so an error in it does not abort the client's transaction and the
  ``SET LOCAL`` limits end with it;
- outside one (``I``): in a read-only transaction of its own, rolled back;
- in a failed transaction (``E``): not at all (PostgreSQL would refuse it).

It is sent as one Parse/Bind/Execute/Sync, so PostgreSQL runs exactly one
statement. While a simple Query is held (it discards the unnamed statement
and portal anyway) the proxy's messages use both and simple Queries; while
an Execute is held, the client's unnamed statement and portal must outlive
them, so every statement of the proxy's runs through the statement and
portal named ``OWN`` (``in_units(..., named=True)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skewguard.wire import messages as m

SAVEPOINT = "skewguard_probe"
#: The statement and portal the proxy's own messages use while an Execute is held.
OWN = "skewguard_own"
_SYNC = m.frame(b"S", b"")
_CLOSE_OWN = m.encode_close("S", OWN) + m.encode_close("P", OWN)


def unit(statements: Sequence[str], *, named: bool) -> bytes:
    """``statements`` run in order and answered by one ReadyForQuery, as one simple
    Query would run them: one Query, or (``named``) each through the statement and
    portal ``OWN``, then a Sync (an error skips the rest, as in a Query)."""
    if not named:
        return m.encode_query("; ".join(statements))
    return (
        b"".join(
            _CLOSE_OWN + m.encode_parse(OWN, sql) + m.encode_bind(OWN, OWN) + m.encode_execute(OWN)
            for sql in statements
        )
        + _SYNC
    )


def one_statement(sql: str, *, named: bool) -> bytes:
    """Exactly one statement (a Parse never holds two), answered by one ReadyForQuery."""
    name = OWN if named else ""
    head = _CLOSE_OWN if named else b""
    return (
        head
        + m.encode_parse(name, sql)
        + m.encode_bind(name, name)
        + m.encode_execute(name)
        + _SYNC
    )


@dataclass(frozen=True)
class Bracketed:
    """The messages that run one query and put the transaction back as it was."""

    wire: bytes  # what to send
    replies: int  # the ReadyForQuery messages they are answered with
    query_index: int  # which of those answers the query itself


def bracketed(
    status: str,
    sql: str,
    *,
    statement_timeout_ms: int,
    lock_timeout_ms: int,
    named: bool = False,
    setup: Sequence[str] = (),
) -> Bracketed | None:
    """The messages for ``sql`` in transaction status ``status``; None in a failed one.
    ``named``: leave the unnamed statement and portal alone (see the module). ``setup``:
    ``SET LOCAL`` statements run first, ended with the savepoint or transaction (one
    PostgreSQL refuses, a ``SET LOCAL ROLE`` the session may not take, leaves the query
    no answer)."""
    limits = [
        f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}",
        f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}",
        "SET LOCAL transaction_read_only = on",
    ]
    limits.extend(setup)
    if status == "T":
        begin = [f"SAVEPOINT {SAVEPOINT}", *limits]
        end = [f"ROLLBACK TO SAVEPOINT {SAVEPOINT}", f"RELEASE SAVEPOINT {SAVEPOINT}"]
    elif status == "I":
        begin, end = ["BEGIN", *limits], ["ROLLBACK"]
    else:
        return None
    wire = unit(begin, named=named) + one_statement(sql, named=named) + unit(end, named=named)
    return Bracketed(wire, 3, 1)
