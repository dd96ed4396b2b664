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

It is sent as one Parse/Bind/Execute/Sync of the unnamed statement, so
PostgreSQL runs exactly one statement; the connection only carries the
proxy's queries while a simple Query is held, which discards the unnamed
statement and portal anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from skewguard.wire import messages as m

SAVEPOINT = "skewguard_probe"
_SYNC = m.frame(b"S", b"")


@dataclass(frozen=True)
class Bracketed:
    """The messages that run one query and put the transaction back as it was."""

    wire: bytes  # what to send
    replies: int  # the ReadyForQuery messages they are answered with
    query_index: int  # which of those answers the query itself


def bracketed(
    status: str, sql: str, *, statement_timeout_ms: int, lock_timeout_ms: int
) -> Bracketed | None:
    """The messages for ``sql`` in transaction status ``status``; None in a failed one."""
    limits = (
        f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}; "
        f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}; "
        "SET LOCAL transaction_read_only = on"
    )
    if status == "T":
        begin = f"SAVEPOINT {SAVEPOINT}; {limits}"
        end = f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
    elif status == "I":
        begin, end = f"BEGIN; {limits}", "ROLLBACK"
    else:
        return None
    run = m.encode_parse("", sql) + m.encode_bind("", "") + m.encode_execute("") + _SYNC
    return Bracketed(m.encode_query(begin) + run + m.encode_query(end), 3, 1)
