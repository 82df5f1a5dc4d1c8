"""Database.health(): reachable, saturated or unavailable, and always within its timeout."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager

from sqlalchemy.engine import URL

from core.database import Database
from core.database.health import HealthStatus
from core.database.settings import Settings


def _database(url: URL | str, **settings: object) -> Database:
    rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    return Database(rendered, settings=Settings(database_url=rendered, **settings))  # type: ignore[arg-type]


async def test_a_busy_pool_is_saturated_not_down(scratch: URL) -> None:
    database = _database(scratch, database_pool_size=1, database_max_overflow=1)
    try:
        assert (await database.health()).status is HealthStatus.OK
        async with AsyncExitStack() as held:
            for _ in range(2):
                await held.enter_async_context(database.engine.connect())
            health = await database.health(timeout=5)
        assert health.status is HealthStatus.SATURATED
        assert health.reachable
        assert health.pool is not None and (health.pool.checked_out, health.pool.limit) == (2, 2)
    finally:
        await database.dispose()


async def test_an_unreachable_server_is_unavailable() -> None:
    database = _database("postgresql+asyncpg://app:S3cret@127.0.0.1:1/app_test")
    try:
        health = await database.health(timeout=5)
        assert health.status is HealthStatus.UNAVAILABLE
        assert health.reason and "S3cret" not in health.reason
    finally:
        await database.dispose()


@contextmanager
def _silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers, as a stopped one would."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


async def test_a_stalled_server_answers_within_the_timeout() -> None:
    with _silent_server() as port:
        database = _database(f"postgresql+asyncpg://app:pw@127.0.0.1:{port}/app_test")
        try:
            began = time.monotonic()
            results = await asyncio.gather(*(database.health(timeout=0.3) for _ in range(5)))
            elapsed = time.monotonic() - began
            assert {result.status for result in results} == {HealthStatus.UNAVAILABLE}
            assert elapsed < 3  # the deadline holds: nothing waits for the connect timeout
        finally:
            await database.dispose()
