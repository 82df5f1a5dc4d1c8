"""`PostgresBroadcaster`: fan-out across processes with `LISTEN`/`NOTIFY`, nothing else to run.

One dedicated connection per process, outside the pool, `LISTEN`s to every channel
that has a local subscriber. When it dies (server restart, `pg_terminate_backend`,
a silent network drop found by a periodic ping) it is replaced with backoff, its
channels are listened to again, and every subscriber gets a `Gap`: what was
notified meanwhile is lost, so subscribers re-read from the database.
Publishing uses a pooled connection: `SELECT pg_notify(channel, message)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from core.database.broadcast.local import DEFAULT_QUEUE_SIZE, LocalHub
from core.database.broadcast.protocol import Gap, check_channel, check_message
from core.database.broadcast.retry import Backoff
from core.database.database import Database, get_database
from core.database.engine import create_engine

__all__ = ["PostgresBroadcaster"]

logger = logging.getLogger("core.database.broadcast")

_NOTIFY = text("SELECT pg_notify(:channel, :message)")


class PostgresBroadcaster:
    """A `Broadcaster` on Postgres `LISTEN`/`NOTIFY` (payloads under 8,000 bytes).

    `database` defaults to the app-wide one; the listening connection uses its URL
    and settings, with `application_name` suffixed by `listener`. Not usable behind
    PgBouncer in transaction mode, which cannot keep a session's `LISTEN`.
    """

    def __init__(
        self,
        database: Database | None = None,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        ping_interval: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._database = database
        self._hub = LocalHub(queue_size)
        self._ping_interval = ping_interval
        self._backoff = backoff or Backoff()
        self._lock = asyncio.Lock()
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # the listening asyncpg connection while it is up
        self._lost = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.reconnects = 0

    def __repr__(self) -> str:
        return f"PostgresBroadcaster({self.database.masked_url!r})"

    @property
    def database(self) -> Database:
        """The database this broadcaster listens on."""
        if self._database is None:
            self._database = get_database()
        return self._database

    async def publish(self, channel: str, message: str) -> None:
        """`NOTIFY` on a pooled connection; delivered to listeners once it commits."""
        check_message(channel, message)
        async with self.database.engine.connect() as connection:
            await connection.execute(_NOTIFY, {"channel": channel, "message": message})
            await connection.commit()

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str | Gap]]:
        """Listen to `channel` while the block runs (a `Gap` after each reconnect)."""
        check_channel(channel)
        self._start()
        # Wait for the first connection, so that what is published from now on arrives;
        # if it is not up in time, the Gap sent when it comes up covers the wait.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.database.settings.database_connect_timeout):
                await self._connected.wait()
        async with self._lock:
            first = self._hub.subscriber_count(channel) == 0
            subscription = self._hub.add(channel)
            if first:
                await self._command(self._listen, channel)
        try:
            yield subscription
        finally:
            async with self._lock:
                if self._hub.remove(subscription):
                    await self._command(self._unlisten, channel)

    async def close(self) -> None:
        """Stop listening, close the listening connection, end every subscription."""
        self._closed = True
        self._hub.close_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop_connection()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def subscriber_count(self, channel: str | None = None) -> int:
        """How many subscribers `channel` has in this process (all channels when None)."""
        return self._hub.subscriber_count(channel)

    @property
    def connected(self) -> bool:
        """True while the listening connection is up."""
        return self._connected.is_set()

    def _start(self) -> None:
        if self._closed:
            raise RuntimeError("the broadcaster is closed")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._keep_listening(), name="pg-listener")

    async def _keep_listening(self) -> None:
        while True:
            try:
                await self._connect()
            except Exception as exc:
                delay = self._backoff.next_delay()
                logger.warning("LISTEN connection failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            self._backoff.reset()
            await self._watch()
            self._connected.clear()
            self.reconnects += 1
            logger.warning("LISTEN connection lost; reconnecting")
            await self._drop_connection()

    async def _connect(self) -> None:
        if self._engine is None:
            settings = self.database.settings
            name = f"{settings.database_application_name} listener"
            self._engine = create_engine(
                self.database.url,
                settings=settings.model_copy(update={"database_application_name": name}),
                poolclass=NullPool,
            )
        async with self._lock:
            connection = await self._engine.connect()
            try:
                raw = await connection.get_raw_connection()
                driver: Any = raw.driver_connection
                self._lost.clear()
                driver.add_termination_listener(lambda _connection: self._lost.set())
                for channel in self._hub.channels:
                    await driver.add_listener(channel, self._receive)
            except BaseException:
                await connection.invalidate()
                raise
            self._connection, self._driver = connection, driver
            self._connected.set()
            # Whatever was notified while no connection listened is lost: say so.
            self._hub.mark_gap()

    async def _watch(self) -> None:
        # Until the connection is lost: its termination listener fires, or a ping fails.
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ping_interval):
                    await self._lost.wait()
                return
            try:
                async with self._lock, asyncio.timeout(self._ping_interval):
                    await self._driver.execute("SELECT 1")
            except Exception:
                return

    async def _drop_connection(self) -> None:
        connection, self._connection, self._driver = self._connection, None, None
        self._connected.clear()
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()

    async def _command(self, command: Any, channel: str) -> None:
        # Called with the lock held. A failure means the connection is going: the
        # reconnect listens to every channel again and sends a Gap.
        if self._driver is None:
            return
        try:
            await command(channel)
        except Exception as exc:
            logger.warning("LISTEN/UNLISTEN failed (%s); the reconnect will redo it", exc)
            self._lost.set()

    async def _listen(self, channel: str) -> None:
        await self._driver.add_listener(channel, self._receive)

    async def _unlisten(self, channel: str) -> None:
        await self._driver.remove_listener(channel, self._receive)

    def _receive(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        self._hub.deliver(channel, payload)
