"""Subscriptions inside one process: bounded queues that mark losses with a `Gap`.

Every backend hands what it receives to a `LocalHub`, which queues it for the
process's subscribers of that channel. Nothing here blocks a publisher: a
subscriber that falls `queue_size` messages behind has its queue replaced by
one `Gap`, so it re-reads from the database instead of slowing everyone.
"""

from __future__ import annotations

import asyncio
from collections import deque

from core.database.broadcast.protocol import Gap

__all__ = ["DEFAULT_QUEUE_SIZE", "LocalHub", "Subscription"]

DEFAULT_QUEUE_SIZE = 100

_OVERFLOW = Gap("overflow")
_RECONNECTED = Gap("reconnected")


class Subscription:
    """One subscriber's messages, in the order received; iterate it with `async for`."""

    def __init__(self, channel: str, queue_size: int) -> None:
        self.channel = channel
        self._queue_size = queue_size
        self._items: deque[str | Gap] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def offer(self, item: str | Gap) -> None:
        """Queue `item`; past the bound, everything queued becomes one Gap."""
        if self._closed:
            return
        if isinstance(item, Gap) or len(self._items) >= self._queue_size:
            # One Gap covers everything queued before it: the reader re-reads from the
            # database, which also holds what those messages announced.
            self._items.clear()
            item = item if isinstance(item, Gap) else _OVERFLOW
        self._items.append(item)
        self._ready.set()

    def close(self) -> None:
        """End the iteration once what is queued has been read."""
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> str | Gap:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class LocalHub:
    """The subscriptions of one process, by channel."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.queue_size = queue_size
        self._channels: dict[str, set[Subscription]] = {}

    def add(self, channel: str) -> Subscription:
        """A new subscription; the caller starts listening to `channel` if it is the first."""
        subscription = Subscription(channel, self.queue_size)
        self._channels.setdefault(channel, set()).add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> bool:
        """Forget `subscription`; True if its channel has no subscriber left."""
        subscription.close()
        subscriptions = self._channels.get(subscription.channel)
        if subscriptions is None:
            return False
        subscriptions.discard(subscription)
        if subscriptions:
            return False
        del self._channels[subscription.channel]
        return True

    def deliver(self, channel: str, message: str) -> None:
        """Queue `message` for every subscriber of `channel`."""
        for subscription in tuple(self._channels.get(channel, ())):
            subscription.offer(message)

    def mark_gap(self, channel: str | None = None) -> None:
        """Tell the subscribers of `channel` (None: all) that messages may have been lost."""
        groups = [self._channels.get(channel, set())] if channel else self._channels.values()
        for subscriptions in tuple(groups):
            for subscription in tuple(subscriptions):
                subscription.offer(_RECONNECTED)

    def close_all(self) -> None:
        """End every subscription (the broadcaster is closing)."""
        for subscriptions in tuple(self._channels.values()):
            for subscription in subscriptions:
                subscription.close()

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels with at least one subscriber."""
        return tuple(self._channels)

    def subscriber_count(self, channel: str | None = None) -> int:
        """How many subscribers `channel` has (all channels when None)."""
        if channel is not None:
            return len(self._channels.get(channel, ()))
        return sum(len(subscriptions) for subscriptions in self._channels.values())
