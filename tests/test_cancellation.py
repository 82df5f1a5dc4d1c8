"""A statement interrupted by a cancellation or a timeout stays interrupted, on both backends.

Starlette cancels a request's task when its client goes away; `asyncio.timeout`
cancels what runs inside it. Either way the statement's connection is discarded,
which must not be mistaken for a lost connection: that would run the statement
again on a fresh one and swallow the cancellation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database import Database

# Runs far longer than any test waits (seconds on either backend).
_SLOW = {
    "postgresql": "SELECT count(*) FROM generate_series(1, 1) CROSS JOIN pg_sleep(30)",
    "sqlite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000000)"
        " SELECT count(*) FROM c"
    ),
}
# Far below the statement's own time: the cancellation was honoured, not outlived.
_PROMPT = 10.0


@pytest.fixture
async def small(scratch: URL) -> AsyncIterator[Database]:
    db = Database(scratch, pool_size=1, max_overflow=0, pool_timeout=5)
    try:
        yield db
    finally:
        await db.dispose()


async def _slow_statement(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text(_SLOW[db.engine.dialect.name]))


@pytest.mark.parity("asyncio.timeout around a running statement raises TimeoutError")
async def test_a_timeout_interrupts_the_statement_and_does_not_rerun_it(small: Database) -> None:
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await _slow_statement(small)
    assert time.monotonic() - began < _PROMPT
    async with small.transaction() as session:  # the pool's one connection serves again
        assert await session.scalar(text("SELECT 1")) == 1


@pytest.mark.parity("a cancelled task's statement raises CancelledError, not a database error")
async def test_a_cancelled_task_sees_its_cancellation(small: Database) -> None:
    task = asyncio.create_task(_slow_statement(small))
    await asyncio.sleep(0.5)
    began = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - began < _PROMPT
    async with small.transaction() as session:
        assert await session.scalar(text("SELECT 1")) == 1


@pytest.mark.parity("wait_for around a statement raises TimeoutError")
async def test_wait_for_gives_up_on_a_statement(small: Database) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_slow_statement(small), 0.5)
    async with small.transaction() as session:
        assert await session.scalar(text("SELECT 1")) == 1


async def _committed_rows_survive_a_cancelled_statement(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE kept (n INTEGER)"))
        await session.execute(text("INSERT INTO kept VALUES (1), (2)"))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5), db.transaction() as session:
            await session.execute(text("INSERT INTO kept VALUES (3)"))
            await session.execute(text(_SLOW[db.engine.dialect.name]))
    async with db.transaction() as session:
        # The committed rows stand; the cancelled transaction's own row was rolled back.
        assert (await session.scalars(text("SELECT n FROM kept ORDER BY n"))).all() == [1, 2]


@pytest.mark.parity("a cancelled statement keeps what was committed before it")
async def test_committed_rows_survive_a_cancelled_statement(small: Database) -> None:
    await _committed_rows_survive_a_cancelled_statement(small)


@pytest.mark.sqlite_only(reason="an in-memory database lives in its one connection")
async def test_an_in_memory_database_survives_a_cancelled_statement() -> None:
    db = Database("sqlite+aiosqlite://")
    try:
        await _committed_rows_survive_a_cancelled_statement(db)
    finally:
        await db.dispose()


@pytest.mark.parity("a statement cancelled as Starlette cancels (again at every await)")
async def test_a_cancel_scope_interrupts_the_statement(small: Database) -> None:
    with anyio.move_on_after(0.5) as scope:
        await _slow_statement(small)
    assert scope.cancelled_caught
    async with small.transaction() as session:
        assert await session.scalar(text("SELECT 1")) == 1
