"""Fan-out of messages to live subscribers, behind the small `Broadcaster` protocol.

`InMemoryBroadcaster` serves one process. To fan out across several workers or
hosts, implement the same protocol on Redis pub/sub (`PUBLISH channel message`
in `publish`, a `SUBSCRIBE`d connection read in `subscribe`) and pass it to
`create_app(broadcaster=...)`; nothing else in the app changes.

Messages are strings (JSON text), so they cross a process boundary unchanged.
Publish only what is committed: call `publish` from `core.database.on_commit`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

__all__ = ["DEFAULT_QUEUE_SIZE", "Broadcaster", "InMemoryBroadcaster"]

logger = logging.getLogger("app.broadcast")

DEFAULT_QUEUE_SIZE = 100


class Broadcaster(Protocol):
    """Publish a message to every current subscriber of a channel."""

    async def publish(self, channel: str, message: str) -> None:
        """Deliver `message` to the channel's subscribers; never blocks on a slow one."""
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        """`async with b.subscribe(ch) as messages: async for m in messages: ...`.

        Leaving the block unsubscribes. Waiting for the next message must be safe to
        cancel (the SSE stream waits with a timeout to send keep-alives). The iterator
        ends if the subscriber fell too far behind; it may then resume from the
        database (the stream's Last-Event-ID).
        """
        ...


class _Subscription:
    """One subscriber's bounded queue; iterating it yields the messages in order."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self.overflowed = False

    def offer(self, message: str) -> bool:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            return False
        return True

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> str:
        # An overflowed subscription gets no more messages: drain it, then end.
        if self.overflowed and self._queue.empty():
            raise StopAsyncIteration
        return await self._queue.get()


class InMemoryBroadcaster:
    """A `Broadcaster` for one process and one event loop.

    Each subscriber has a queue of `queue_size` messages. A subscriber that falls
    that far behind is dropped (its iterator ends) rather than slowing publishers
    or growing memory without bound.
    """

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._queue_size = queue_size
        self._channels: dict[str, set[_Subscription]] = {}

    async def publish(self, channel: str, message: str) -> None:
        """Queue `message` for every subscriber of `channel`; drop those that are full."""
        for subscription in list(self._channels.get(channel, ())):
            if not subscription.offer(message):
                logger.warning("dropping a subscriber of %r: its queue is full", channel)
                self._remove(channel, subscription)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        """Receive the messages published to `channel` while the block runs."""
        subscription = _Subscription(self._queue_size)
        self._channels.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            self._remove(channel, subscription)

    def subscriber_count(self, channel: str | None = None) -> int:
        """How many subscribers `channel` has (all channels when None)."""
        if channel is not None:
            return len(self._channels.get(channel, ()))
        return sum(len(subscriptions) for subscriptions in self._channels.values())

    def _remove(self, channel: str, subscription: _Subscription) -> None:
        subscriptions = self._channels.get(channel)
        if subscriptions is None:
            return
        subscriptions.discard(subscription)
        if not subscriptions:
            del self._channels[channel]
