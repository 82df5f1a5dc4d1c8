"""SQLite files: an engine's transactions take the write lock in arrival order, and give it back."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from core.database import Database, LockNotAvailable, create_engine
from core.database.settings import Settings
from core.database.sync import SyncDatabase
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
            with pytest.raises(LockNotAvailable, match="database is locked"):
                async with engine.begin():
                    pass
            await holder.rollback()
        async with asyncio.timeout(10), engine.begin():  # the failed wait left no turn behind
            pass
    finally:
        await engine.dispose()


class _EndsAndBegins:
    """Driver-level log: BEGINs sent while another connection's COMMIT/ROLLBACK had not returned."""

    def __init__(self) -> None:
        self.ending: set[int] = set()
        self.begins = 0
        self.overlaps = 0

    def instrument(self, dbapi_connection: Any, _record: Any) -> None:
        driver = dbapi_connection.driver_connection
        for name in ("commit", "rollback"):
            setattr(driver, name, self._ending(driver, getattr(driver, name)))

        def traced(sql: str) -> None:
            # SQLite calls it in the driver's thread as each statement starts: BEGIN is
            # sent in the same trip as the transaction's first statement.
            if sql.startswith("BEGIN"):
                self.begins += 1
                self.overlaps += bool(self.ending - {id(driver)})

        await_only(driver._execute(lambda: driver._conn.set_trace_callback(traced)))

    def _ending(self, driver: Any, end: Any) -> Any:
        async def traced_end() -> None:
            # The pool's rollback on checkin ends no transaction and holds no lock.
            if not driver.in_transaction:
                await end()
                return
            self.ending.add(id(driver))
            try:
                await end()
            finally:
                self.ending.discard(id(driver))

        return traced_end


async def test_the_next_begin_waits_until_the_commit_has_returned(engine: AsyncEngine) -> None:
    log = _EndsAndBegins()
    await engine.dispose()  # every connection from here on is instrumented
    event.listen(engine.sync_engine, "connect", log.instrument)

    async def transaction(i: int) -> None:
        try:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO log VALUES (:name)"), {"name": f"t{i}"})
                if i % 4 == 0:
                    raise LookupError  # a rollback passes the turn on as well
        except LookupError:
            pass

    async with asyncio.timeout(30):
        await asyncio.gather(*(transaction(i) for i in range(100)))
    assert log.begins >= 100
    assert log.overlaps == 0, f"{log.overlaps} of {log.begins} BEGINs raced a COMMIT/ROLLBACK"
    assert len(await _log(engine)) == 75


def _held_by_another_process(database: Path) -> int:
    """Hold the file's write turn as another process would: its own open file, flock'd."""
    fd = os.open(f"{database}-turn", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@pytest.mark.parametrize("face", ["async", "sync"])
async def test_a_turn_held_by_another_process_past_the_busy_timeout_fails_as_locked(
    tmp_path: Path, face: str
) -> None:
    database = tmp_path / "shared.db"
    settings = Settings(database_sqlite_busy_timeout_ms=100)
    async_db = Database(f"sqlite+aiosqlite:///{database}", settings=settings)
    sync_db = SyncDatabase(f"sqlite:///{database}", settings=settings)
    try:
        fd = _held_by_another_process(database)
        try:
            with pytest.raises(LockNotAvailable, match="database is locked"):
                if face == "async":
                    async with async_db.transaction() as session:
                        await session.execute(text("SELECT 1"))
                else:
                    with sync_db.transaction() as sync_session:
                        sync_session.execute(text("SELECT 1"))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        # The other process let go: the turn is free, and no waiter was left holding it.
        async with asyncio.timeout(10), async_db.transaction() as session:
            assert await session.scalar(text("SELECT 1")) == 1
        with sync_db.transaction() as sync_session:
            assert sync_session.scalar(text("SELECT 1")) == 1
    finally:
        await async_db.dispose()
        sync_db.dispose()
