"""The engine's pool: first come, first served, loses nothing, pings only rested connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.database import Database, create_engine
from core.database import pool as pool_module
from core.database.pool import PING_AFTER_IDLE, FairAsyncQueuePool
from tests.support import settle


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine with a pool of exactly one connection, so every other checkout waits."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=30)
    assert isinstance(engine.pool, FairAsyncQueuePool)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _use(engine: AsyncEngine, served: list[str], name: str = "") -> None:
    async with engine.connect():
        served.append(name)


async def test_waiters_are_served_in_arrival_order(engine: AsyncEngine) -> None:
    served: list[str] = []
    holder = await engine.connect()
    waiters = [asyncio.create_task(_use(engine, served, name)) for name in ("a", "b", "c")]
    await settle()
    await holder.close()
    # The releasing task asks again at once, before any woken waiter has run:
    # it must queue behind them instead of taking the connection back.
    await _use(engine, served, "late")
    await asyncio.gather(*waiters)
    assert served == ["a", "b", "c", "late"]


async def test_a_timed_out_waiter_leaves_the_pool_intact(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    try:
        holder = await engine.connect()
        with pytest.raises(sa_exc.TimeoutError):
            await engine.connect()
        await holder.close()
        async with asyncio.timeout(10), engine.connect():
            assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_cancelled_waiter_leaves_the_pool_intact(engine: AsyncEngine) -> None:
    holder = await engine.connect()
    waiter = asyncio.create_task(_use(engine, []))
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await holder.close()
    async with asyncio.timeout(10), engine.connect():
        pass
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_connection_handed_to_a_cancelled_waiter_goes_to_the_next(
    engine: AsyncEngine,
) -> None:
    holder = await engine.connect()
    served: list[str] = []
    first = asyncio.create_task(_use(engine, served))
    second_task = asyncio.create_task(_use(engine, served, "second"))
    await settle()
    await holder.close()  # hands the connection to `first`, which has not run yet
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    async with asyncio.timeout(10):
        await second_task
    assert served == ["second"]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def _terminate(database: Database, pid: int) -> None:
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        for _ in range(1000):
            await connection.commit()  # pg_stat_activity is a snapshot per transaction
            if not await connection.scalar(alive, {"pid": pid}):
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} did not exit")


@pytest.mark.postgres_only(reason="only a server connection can die while it rests in the pool")
async def test_a_rested_connection_is_pinged_and_replaced_if_dead(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pool's clock stands still unless the test moves it: a slow machine cannot turn
    # "used a moment ago" into "rested".
    clock = [0.0]
    monkeypatch.setattr(pool_module, "_now", lambda: clock[0])
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    backend_pid = text("SELECT pg_backend_pid()")
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(backend_pid)
        await _terminate(database, first)
        # Used a moment ago: handed out without a ping; its first statement finds it dead
        # and runs again on a fresh connection (reconnect.py), with no error.
        async with engine.connect() as connection:
            second = await connection.scalar(backend_pid)
        assert second != first
        await _terminate(database, second)
        clock[0] += 2 * PING_AFTER_IDLE
        async with engine.connect() as connection:  # rested: pinged, found dead, replaced
            assert await connection.scalar(backend_pid) not in (first, second)
    finally:
        await engine.dispose()
