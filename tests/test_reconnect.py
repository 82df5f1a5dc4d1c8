"""A pooled connection that died is replaced at a transaction's first step; never later.

On Postgres every pooled backend is terminated by the server (pg_terminate_backend);
on a SQLite file the driver connections are closed underneath the pool. Either way
the next transactions succeed, on fresh connections, with nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL

from core.database import Database, DatabaseUnavailableError
from core.database.pool import PING_AFTER_IDLE
from core.database.reconnect import ReconnectingConnection
from core.database.settings import Settings
from core.database.testing._cluster import free_port
from tests import models
from tests.support import TcpProxy, through_relay

APP_NAME = "reconnect-test"


def _database(url: URL, name: str = APP_NAME) -> Database:
    settings = Settings(database_url=url.render_as_string(hide_password=False))
    settings = settings.model_copy(update={"database_application_name": name})
    return Database(url, settings=settings)


async def _kill_pooled_connections(database: Database, admin: Database) -> int:
    """Kill every connection the pool holds, the way a server restart or failover would."""
    if database.dialect == "postgresql":
        async with admin.transaction() as session:
            killed = await session.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": APP_NAME},
            )
        return int(killed or 0)
    pool: Any = database.engine.pool
    records = list(pool._pool._queue._queue)  # the idle connections, still in the pool
    for record in records:
        driver = record.dbapi_connection._connection  # aiosqlite.Connection
        await driver._execute(driver._conn.close)
    return len(records)


async def _fill_pool(database: Database, count: int) -> None:
    async def use() -> None:
        async with database.transaction() as session:
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(0.05)  # overlap, so each task takes a connection of its own

    await asyncio.gather(*(use() for _ in range(count)))


async def _create_schema(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(models.TestBase.metadata.create_all)


async def test_dead_pooled_connections_never_fail_a_transaction(scratch: URL) -> None:
    database, admin = _database(scratch), _database(scratch, f"{APP_NAME}-admin")
    try:
        await _create_schema(database)
        for round_ in range(3):
            await _fill_pool(database, 5)
            assert await _kill_pooled_connections(database, admin) >= 1

            async def write(n: int, round_: int = round_) -> None:
                async with database.transaction() as session:
                    session.add(models.Parent(name=f"r{round_}-{n}"))

            # At once, before any idle-time ping would run: the first step finds them dead.
            await asyncio.gather(*(write(n) for n in range(8)))
        async with database.transaction() as session:
            names = set((await session.scalars(select(models.Parent.name))).all())
        assert names == {f"r{r}-{n}" for r in range(3) for n in range(8)}
    finally:
        await database.dispose()
        await admin.dispose()


async def test_a_connection_lost_after_work_was_done_is_raised(scratch: URL) -> None:
    database, admin = _database(scratch), _database(scratch, f"{APP_NAME}-admin")
    try:
        await _create_schema(database)
        with pytest.raises(DatabaseUnavailableError) as caught:
            async with database.transaction() as session:
                session.add(models.Parent(name="lost"))
                await session.flush()  # work done: re-running it silently would be wrong
                killed = await _kill_in_use(database, admin, session)
                assert killed == 1
                await session.execute(text("SELECT 1"))
        assert caught.value.connection_invalidated
        async with database.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(models.Parent)) == 0
    finally:
        await database.dispose()
        await admin.dispose()


async def _kill_in_use(database: Database, admin: Database, session: Any) -> int:
    if database.dialect == "postgresql":
        return await _kill_pooled_connections(database, admin)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.dbapi_connection._connection
    await driver._execute(driver._conn.close)
    return 1


async def test_engines_with_execution_options_reconnect_too(scratch: URL) -> None:
    database = _database(scratch)
    try:
        engines = [
            database.engine,
            database.engine.execution_options(stream_results=False),
            database.engine.execution_options(a=1).execution_options(b=2),
        ]
        for engine in engines:
            async with engine.connect() as connection:
                assert isinstance(connection.sync_connection, ReconnectingConnection)
    finally:
        await database.dispose()


@pytest.mark.postgres_only(reason="a network between the app and its server")
async def test_a_pooled_connection_dropped_silently_is_replaced_within_the_connect_timeout(
    database: Database,
) -> None:
    # No RST, no FIN (a NAT entry expired, a host gone): the idle connection looks
    # alive until something reads from it. Its liveness ping must give up in time.
    port = free_port()
    proxy = TcpProxy(int(database.url.port or 5432))
    await proxy.start(port)
    remote = through_relay(database, port, database_connect_timeout=1.0)
    try:
        async with remote.transaction() as session:
            assert await session.scalar(text("SELECT 1")) == 1
        await asyncio.sleep(PING_AFTER_IDLE + 0.2)  # rested long enough to be pinged
        proxy.stall()
        async with asyncio.timeout(20), remote.transaction() as session:
            assert await session.scalar(text("SELECT 2")) == 2  # on a fresh connection
    finally:
        await remote.dispose()
        await proxy.close()
