"""One of the processes of the concurrency parity test (tests/test_concurrency.py).

The documented pattern for a read-modify-write that must not lose updates, the same
on both backends:

    async with db.transaction() as session:
        value = await session.scalar(select(t.c.value).where(...).with_for_update())
        await session.execute(update(t).where(...).values(value=value + 1))

On Postgres `FOR UPDATE` locks the row until the commit. SQLite has no row locks and
drops `FOR UPDATE`; the toolkit's `BEGIN IMMEDIATE` takes the database's write lock
before the read instead, and other writers wait (busy_timeout) rather than fail.
A single atomic `UPDATE ... SET value = value + 1` needs neither.

Environment: COUNTER_URL, COUNTER_TABLE, COUNTER_ID, COUNTER_INCREMENTS, and
COUNTER_TASKS (concurrent tasks sharing the increments, default 1). It prints
"ready" once connected, waits for a line on stdin (so both processes start together),
then prints "done <n>".
"""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import Column, Integer, MetaData, Table, select, update

from core.database import Database


def counter_table(name: str) -> Table:
    """The counter table, outside the test suite's savepoint-isolated schema."""
    return Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("value", Integer, nullable=False),
    )


async def increment(db: Database, table: Table, counter_id: int) -> None:
    """Add one to the counter: read it under a write lock, write it back, commit."""
    async with db.transaction() as session:
        current = await session.scalar(
            select(table.c.value).where(table.c.id == counter_id).with_for_update()
        )
        assert current is not None
        await session.execute(
            update(table).where(table.c.id == counter_id).values(value=current + 1)
        )


async def _repeat(db: Database, table: Table, counter_id: int, times: int) -> None:
    for _ in range(times):
        await increment(db, table, counter_id)


async def main() -> int:
    db = Database(os.environ["COUNTER_URL"])
    table = counter_table(os.environ["COUNTER_TABLE"])
    counter_id = int(os.environ["COUNTER_ID"])
    increments = int(os.environ["COUNTER_INCREMENTS"])
    tasks = int(os.environ.get("COUNTER_TASKS", "1"))
    try:
        await db.ping(timeout=30)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        shares = [increments // tasks + (i < increments % tasks) for i in range(tasks)]
        await asyncio.gather(*(_repeat(db, table, counter_id, share) for share in shares))
        print(f"done {increments}", flush=True)
    finally:
        await db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
