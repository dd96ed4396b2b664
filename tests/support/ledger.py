"""A version writing ``ledger (amount, note)`` through the proxy with bound values, as
the replay tests' versions do: psycopg binding on the server, or asyncpg prepared
statements (binary parameters). Each row is deleted again unless ``keep``."""

from __future__ import annotations

import asyncpg

from tests.support.sites import Site

INSERT = "INSERT INTO ledger (amount, note) VALUES (%s, %s) RETURNING id"


def bound_writes(
    site: Site, app: str, amounts: list[int], note: str, *, keep: bool = False
) -> None:
    """``app`` inserts rows with values bound on the server (psycopg)."""
    with site.via_proxy(app) as conn:
        for amount in amounts:
            row = conn.execute(INSERT, (amount, note)).fetchone()
            assert row is not None
            if not keep:
                conn.execute("DELETE FROM ledger WHERE id = %s", (row[0],))


async def prepared_writes(site: Site, app: str, amounts: list[int], note: str) -> None:
    """``app`` inserts and deletes rows through asyncpg prepared statements."""
    conn = await asyncpg.connect(
        site.proxy.url(database=site.database), server_settings={"application_name": app}
    )
    try:
        insert = await conn.prepare(
            "INSERT INTO ledger (amount, note) VALUES ($1, $2) RETURNING id"
        )
        delete = await conn.prepare("DELETE FROM ledger WHERE id = $1")
        for amount in amounts:
            await delete.fetch(await insert.fetchval(amount, note))
    finally:
        await conn.close()
