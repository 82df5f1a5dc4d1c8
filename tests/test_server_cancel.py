"""Cancelled requests leave no backend working outside the pool.

Starlette/AnyIO cancel a task again at every await until it ends; a connection
dropped before its cancel request went out left its backend waiting on the lock,
outside the pool, and the pool opened more in its place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database import Database
from core.database.settings import Settings

APP_NAME = "cancel-test"
POOL_SIZE, MAX_OVERFLOW = 3, 4


def _database(url: URL, name: str, **settings: object) -> Database:
    rendered = url.render_as_string(hide_password=False)
    config = Settings(database_url=rendered, **settings)  # type: ignore[arg-type]
    return Database(url, settings=config.model_copy(update={"database_application_name": name}))


@asynccontextmanager
async def _locked_table(admin: Database, table: str) -> AsyncIterator[None]:
    """Create `table` and hold ACCESS EXCLUSIVE on it until the block ends."""
    async with admin.transaction() as session:
        await session.execute(text(f"CREATE TABLE {table} (n INTEGER)"))
    async with admin.engine.connect() as locker:
        await locker.begin()
        await locker.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        yield
        await locker.rollback()


@pytest.mark.postgres_only(reason="server-side queries and pg_stat_activity are Postgres's")
async def test_cancelled_queries_never_hold_more_backends_than_the_pool(scratch: URL) -> None:
    database = _database(
        scratch, APP_NAME, database_pool_size=POOL_SIZE, database_max_overflow=MAX_OVERFLOW
    )
    admin = _database(scratch, f"{APP_NAME}-admin")
    count = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    try:
        async with _locked_table(admin, "locked_for_cancel"):
            peak = 0
            for _round in range(3):
                scopes: list[anyio.CancelScope] = []

                async def blocked(scopes: list[anyio.CancelScope] = scopes) -> None:
                    with anyio.CancelScope() as scope:  # cancelled as Starlette cancels
                        scopes.append(scope)
                        async with database.transaction() as session:
                            await session.execute(text("SELECT * FROM locked_for_cancel"))

                tasks = [asyncio.create_task(blocked()) for _ in range(20)]
                await asyncio.sleep(0.5)
                for scope in scopes:
                    scope.cancel()
                while not all(task.done() for task in tasks):
                    async with admin.transaction() as session:
                        peak = max(peak, int(await session.scalar(count, {"name": APP_NAME}) or 0))
                    await asyncio.sleep(0.02)
                await asyncio.gather(*tasks, return_exceptions=True)
            assert peak <= POOL_SIZE + MAX_OVERFLOW
        async with admin.transaction() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = :name AND state = 'active'"
                ),
                {"name": APP_NAME},
            )
        assert waiting == 0  # nothing still working once the lock was released
        async with database.transaction() as session:  # and the pool still serves
            assert await session.scalar(text("SELECT count(*) FROM locked_for_cancel")) == 0
    finally:
        await database.dispose()
        await admin.dispose()


async def _backends(admin: Database, name: str, where: str = "true") -> int:
    query = text(
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND {where}"
    )
    async with admin.transaction() as session:
        return int(await session.scalar(query, {"name": name}) or 0)


@pytest.mark.postgres_only(reason="server-side queries and pg_stat_activity are Postgres's")
async def test_a_backend_whose_goodbye_was_lost_is_cancelled_from_a_side_connection(
    scratch: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The network drops the close: no cancel request, no Terminate reached the server.
    # A backend blocked on a lock never reads its socket, so without a pg_cancel_backend
    # it would wait, outside the pool, for as long as the lock is held.
    name = f"{APP_NAME}-lost"
    database = _database(scratch, name, database_pool_size=1, database_max_overflow=0)
    admin = _database(scratch, f"{name}-admin")
    try:
        async with _locked_table(admin, "locked_for_lost_close"):

            async def blocked() -> None:
                async with database.transaction() as session:
                    await session.execute(text("SELECT * FROM locked_for_lost_close"))

            task = asyncio.create_task(blocked())
            waiting = "wait_event_type = 'Lock'"
            for _ in range(100):
                if await _backends(admin, name, waiting) == 1:
                    break
                await asyncio.sleep(0.05)
            assert await _backends(admin, name, waiting) == 1

            async def lost_close(self: asyncpg.Connection, **_options: object) -> None:
                self.terminate()  # the socket is dropped; the server heard nothing
                raise ConnectionResetError("the goodbye was lost on the network")

            monkeypatch.setattr(asyncpg.Connection, "close", lost_close)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            monkeypatch.undo()
            remaining = await _backends(admin, name)
            for _ in range(100):
                if remaining == 0:
                    break
                await asyncio.sleep(0.05)
                remaining = await _backends(admin, name)
            assert remaining == 0  # gone while the lock is still held
    finally:
        await database.dispose()
        await admin.dispose()
