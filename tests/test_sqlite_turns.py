"""SQLite files: an engine's transactions take the write lock in arrival order, and give it back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings
from core.database import create_engine
from tests.support import settle

pytestmark = pytest.mark.sqlite_only(reason="the write lock and busy handler are SQLite's")


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    settings = Settings(database_sqlite_busy_timeout_ms=2000)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}", settings=settings)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE log (name TEXT)"))
    try:
        yield engine
    finally:
        await engine.dispose()


async def _write(engine: AsyncEngine, name: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO log VALUES (:name)"), {"name": name})


async def _log(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text("SELECT name FROM log"))).scalars())


async def test_waiting_transactions_take_the_lock_in_arrival_order(engine: AsyncEngine) -> None:
    # Connect up front, so each waiter reaches BEGIN as soon as it starts.
    for connection in [await engine.connect() for _ in range(4)]:
        await connection.close()
    holder = await engine.connect()
    await holder.begin()
    waiters = [asyncio.create_task(_write(engine, name)) for name in ("a", "b", "c")]
    await settle()
    await holder.commit()
    await _write(engine, "late")  # asks again at once: queues behind the waiters
    async with asyncio.timeout(10):
        await asyncio.gather(*waiters)
    await holder.close()
    assert await _log(engine) == ["a", "b", "c", "late"]


async def test_a_turn_is_given_back_when_the_connection_is_invalidated(
    engine: AsyncEngine,
) -> None:
    holder = await engine.connect()
    await holder.begin()
    await holder.invalidate()  # the connection is gone; its transaction with it
    async with asyncio.timeout(10):
        await _write(engine, "after")
    await holder.close()
    assert await _log(engine) == ["after"]


async def test_a_transaction_waiting_past_the_busy_timeout_fails_as_locked(
    tmp_path: Path,
) -> None:
    settings = Settings(database_sqlite_busy_timeout_ms=50)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}", settings=settings)
    try:
        async with engine.connect() as holder:
            await holder.begin()
            with pytest.raises(sa_exc.OperationalError, match="database is locked"):
                async with engine.begin():
                    pass
            await holder.rollback()
        async with asyncio.timeout(10), engine.begin():  # the failed wait left no turn behind
            pass
    finally:
        await engine.dispose()
