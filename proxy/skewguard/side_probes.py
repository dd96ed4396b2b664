"""Probes on a side connection, run as the migrating session's role.

A probe evaluates the client's own expressions (a new CHECK's, which may call any
function). On a side connection, which logs in as the upstream URL's user, it runs in a
read-only transaction that is rolled back (nothing of the client's commits), and under
``SET LOCAL ROLE`` of the role the migrating session logged in as: read-only does not
stop a function with an effect outside the transaction (``pg_terminate_backend``, a
large-object export), and what the expression reads steers the verdict; as the URL's
user both had that user's privileges. PostgreSQL validates a CHECK as the current user
of the ALTER TABLE, so the role is also the faithful one. The escapes from SET ROLE are
closed as for replay (``replay_roles``): the role must be one the login may SET ROLE to
and reach no code to leave it with, and a probe whose text calls a builtin that changes
roles or runs SQL from a string gives no answer. Where the probe cannot run as the role
it gives no answer (the finding stays a risk).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from skewguard.replay_roles import LEAVES_ROLE, roles_query
from skewguard.sql_constants import quoted_identifier, quoted_literal


def leaves_role(query: str) -> bool:
    """``query`` calls a builtin that would undo a SET ROLE (or may: a ``U&`` name)."""
    lowered = query.lower()
    return any(word in lowered for word in LEAVES_ROLE)


def setup(
    role: str | None, search_path: Sequence[str] | None, *, every_row: bool = False
) -> list[str]:
    """What runs inside the probe's transaction before it: the session's search_path
    (``None``: not known, the login's default stays), its role (``None``: the login's
    own), and for a probe that must see ``every_row`` ``row_security = off``: where a
    policy would hide rows from the role PostgreSQL then refuses the query (no answer)
    instead of answering from the rows left."""
    parts = []
    if every_row:
        parts.append("SET LOCAL row_security = off")
    if search_path is not None:
        path = ", ".join(quoted_identifier(s) for s in search_path) or "''"
        parts.append(f"SET LOCAL search_path = {path}")
    if role is not None:
        parts.append(f"SET LOCAL ROLE {quoted_identifier(role)}")
    return parts


async def may_become(conn: asyncpg.Connection, role: str, login: str) -> bool:
    """The side connection (logged in as ``login``) may run probes as ``role``."""
    return role == login or await conn.fetchval(roles_query([role], login)) == role


async def may_set_role(conn: asyncpg.Connection, role: str, member: str) -> bool:
    """``member`` (another role than the side connection's) may ``SET ROLE`` to ``role``,
    as PostgreSQL would check on ``member``'s own session (a superuser may)."""
    privilege = (
        "CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 160000 "
        "THEN 'SET' ELSE 'MEMBER' END"
    )
    query = (
        f"SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {quoted_literal(member)})"
        f" AND pg_catalog.pg_has_role({quoted_literal(member)}, {quoted_literal(role)}, "
        f"{privilege})"
    )
    return role == member or bool(await conn.fetchval(query))


async def read_only(
    conn: asyncpg.Connection,
    query: str,
    *,
    role: str | None = None,
    search_path: Sequence[str] | None = None,
    every_row: bool = False,
) -> bool | None:
    """A probe's answer from a read-only transaction that is rolled back, as ``role``
    (checked with :func:`may_become`). None when it gives no row or NULL (no answer is
    not "none"), or when its text could leave the role."""
    if role is not None and leaves_role(query):
        return None
    transaction = conn.transaction(readonly=True)
    await transaction.start()
    try:
        for statement in setup(role, search_path, every_row=every_row):
            await conn.execute(statement)
        answer = await conn.fetchval(query)
        return None if answer is None else bool(answer)
    finally:
        await transaction.rollback()


__all__ = ["leaves_role", "may_become", "may_set_role", "read_only", "setup"]
