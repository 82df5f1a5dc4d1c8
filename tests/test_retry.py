"""run_in_transaction: a unit of work whose connection died is run again, nothing else is."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import Database, UniqueViolation, run_in_transaction


@pytest.fixture
async def counters(scratch: URL) -> Database:
    db = Database(scratch)
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)"))
        await session.execute(text("INSERT INTO counters VALUES (1, 0)"))
    return db


async def _value(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(text("SELECT n FROM counters WHERE id = 1")) or 0)


@pytest.mark.postgres_only(
    reason="only a server can end a connection in the middle of a transaction"
)
async def test_work_is_rerun_when_its_connection_dies(counters: Database) -> None:
    runs: list[int] = []

    async def work(session: AsyncSession) -> int:
        runs.append(1)
        await session.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
        if len(runs) == 1:
            # The server ends this very connection mid-transaction, as a failover would.
            await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return len(runs)

    try:
        assert await run_in_transaction(work, database=counters) == 2
        # The first attempt's update died with its connection: counted once, not twice.
        assert await _value(counters) == 1
    finally:
        await counters.dispose()


async def test_other_errors_are_raised_at_once_and_roll_back(counters: Database) -> None:
    runs: list[int] = []

    async def work(session: AsyncSession) -> None:
        runs.append(1)
        await session.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
        await session.execute(text("INSERT INTO counters VALUES (1, 0)"))

    try:
        with pytest.raises(UniqueViolation):
            await run_in_transaction(work, database=counters)
        assert runs == [1]
        assert await _value(counters) == 0
    finally:
        await counters.dispose()


async def test_success_commits_once(counters: Database) -> None:
    async def work(session: AsyncSession) -> str:
        await session.execute(text("UPDATE counters SET n = n + 5 WHERE id = 1"))
        return "done"

    try:
        assert await run_in_transaction(work, database=counters) == "done"
        assert await _value(counters) == 5
    finally:
        await counters.dispose()
