"""`RedisBroadcaster`: fan-out across processes and hosts with Redis pub/sub.

Needs the `redis` extra: `pip install 'core-database[redis]'`. One pub/sub
connection per process subscribes to every channel with a local subscriber.
Redis pub/sub keeps nothing for a disconnected client, and the client library
reconnects and re-subscribes on its own: so every `subscribe` confirmation after
a channel's first one (a re-subscribe after a reconnect) gives that channel's
subscribers a `Gap`, and they re-read from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis import asyncio as aioredis
from redis import exceptions as redis_errors

from core.database.broadcast.local import DEFAULT_QUEUE_SIZE, LocalHub
from core.database.broadcast.protocol import Gap, check_channel, check_message
from core.database.broadcast.retry import Backoff
from core.database.errors import BroadcastUnavailableError
from core.database.url import MASK

__all__ = ["RedisBroadcaster"]

logger = logging.getLogger("core.database.broadcast")

# How long one read waits before the loop looks again (and the client pings when due).
_READ_TIMEOUT = 1.0
_HEALTH_CHECK_INTERVAL = 10
_CONNECTION_ERRORS = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


class RedisBroadcaster:
    """A `Broadcaster` on Redis pub/sub; `url` is a `redis://` or `rediss://` URL."""

    def __init__(
        self,
        url: str,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        subscribe_timeout: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._shown = _masked(url)
        self._client = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            health_check_interval=_HEALTH_CHECK_INTERVAL,
            socket_keepalive=True,
        )
        self._hub = LocalHub(queue_size)
        self._subscribe_timeout = subscribe_timeout
        self._backoff = backoff or Backoff()
        self._pubsub = self._client.pubsub()
        self._lock = asyncio.Lock()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.reconnects = 0

    def __repr__(self) -> str:
        return f"RedisBroadcaster({self._shown!r})"

    async def publish(self, channel: str, message: str) -> None:
        """`PUBLISH`; BroadcastUnavailableError if Redis cannot be reached."""
        check_message(channel, message)
        try:
            await self._client.publish(channel, message)
        except _CONNECTION_ERRORS as exc:
            raise BroadcastUnavailableError(
                f"cannot publish to Redis at {self._shown}: {type(exc).__name__}"
            ) from None

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str | Gap]]:
        """Subscribe to `channel` while the block runs (a `Gap` after each reconnect)."""
        check_channel(channel)
        if self._closed:
            raise RuntimeError("the broadcaster is closed")
        async with self._lock:
            subscription = self._hub.add(channel)
            confirmed = None
            if self._hub.subscriber_count(channel) == 1:
                confirmed = self._confirmed.setdefault(channel, asyncio.Event())
                confirmed.clear()
                await self._send(self._pubsub.subscribe, channel)
            self._start()
        if confirmed is not None:
            # What is published after the confirmation reaches us; if it does not come
            # in time, the Gap that comes with it later covers the wait.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._subscribe_timeout):
                    await confirmed.wait()
        try:
            yield subscription
        finally:
            async with self._lock:
                if self._hub.remove(subscription) and not self._closed:
                    self._confirmed.pop(channel, None)
                    await self._send(self._pubsub.unsubscribe, channel)

    async def close(self) -> None:
        """Stop reading, close the connections, end every subscription."""
        self._closed = True
        self._hub.close_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(*_CONNECTION_ERRORS):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        with contextlib.suppress(*_CONNECTION_ERRORS):
            await self._client.aclose()

    def subscriber_count(self, channel: str | None = None) -> int:
        """How many subscribers `channel` has in this process (all channels when None)."""
        return self._hub.subscriber_count(channel)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._keep_reading(), name="redis-subscriber")

    async def _send(self, command: Any, channel: str) -> None:
        # A failure here is a lost connection: the reader's reconnect re-subscribes.
        try:
            await command(channel)
        except _CONNECTION_ERRORS as exc:
            logger.warning("Redis (UN)SUBSCRIBE failed (%s); the reconnect will redo it", exc)

    async def _keep_reading(self) -> None:
        while True:
            try:
                if self._pubsub.connection is None:
                    await self._pubsub.connect()  # type: ignore[no-untyped-call]
                message = await self._pubsub.get_message(timeout=_READ_TIMEOUT)
            except _CONNECTION_ERRORS as exc:
                self.reconnects += 1
                delay = self._backoff.next_delay()
                logger.warning("Redis pub/sub connection lost (%s); retry in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            self._backoff.reset()
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == "message":
            self._hub.deliver(channel, message["data"])
        elif kind == "subscribe":
            confirmed = self._confirmed.get(channel)
            if confirmed is None or confirmed.is_set():
                # A re-subscribe after a reconnect: what was published while we were
                # not subscribed is lost, so the subscribers re-read.
                self._hub.mark_gap(channel)
            else:
                confirmed.set()


def _masked(url: str) -> str:
    """`url` with its user and password masked (Redis ACL users may be secrets too)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return f"{MASK} (unparseable URL)"
    if parts.password is not None or parts.username:
        host = f"{MASK}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
