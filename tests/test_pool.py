"""The engine's pool serves waiting checkouts first come, first served, and loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from core.database import create_engine
from core.database.pool import FairAsyncQueuePool


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine with a pool of exactly one connection, so every other checkout waits."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=30)
    assert isinstance(engine.pool, FairAsyncQueuePool)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _settle() -> None:
    # Let every started task run until it blocks on the pool.
    for _ in range(50):
        await asyncio.sleep(0)


async def _use(engine: AsyncEngine, served: list[str], name: str = "") -> None:
    async with engine.connect():
        served.append(name)


async def test_waiters_are_served_in_arrival_order(engine: AsyncEngine) -> None:
    served: list[str] = []
    holder = await engine.connect()
    waiters = [asyncio.create_task(_use(engine, served, name)) for name in ("a", "b", "c")]
    await _settle()
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
    await _settle()
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
    await _settle()
    await holder.close()  # hands the connection to `first`, which has not run yet
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    async with asyncio.timeout(10):
        await second_task
    assert served == ["second"]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
