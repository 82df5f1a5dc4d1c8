"""`InMemoryBroadcaster`: fan-out inside one process (the default on SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.database.broadcast.local import DEFAULT_QUEUE_SIZE, LocalHub
from core.database.broadcast.protocol import Gap, check_channel, check_message

__all__ = ["InMemoryBroadcaster"]


class InMemoryBroadcaster:
    """A `Broadcaster` for one process and one event loop.

    Each subscriber has a queue of `queue_size` messages; one that falls that far
    behind gets a `Gap` instead of the messages it missed.
    """

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._hub = LocalHub(queue_size)

    def __repr__(self) -> str:
        return "InMemoryBroadcaster()"

    async def publish(self, channel: str, message: str) -> None:
        """Queue `message` for every subscriber of `channel` in this process."""
        check_message(channel, message)
        self._hub.deliver(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str | Gap]]:
        """Receive the messages published to `channel` while the block runs."""
        check_channel(channel)
        subscription = self._hub.add(channel)
        try:
            yield subscription
        finally:
            self._hub.remove(subscription)

    async def close(self) -> None:
        """End every subscription."""
        self._hub.close_all()

    def subscriber_count(self, channel: str | None = None) -> int:
        """How many subscribers `channel` has (all channels when None)."""
        return self._hub.subscriber_count(channel)
