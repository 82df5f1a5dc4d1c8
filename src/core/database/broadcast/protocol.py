"""The `Broadcaster` protocol, the `Gap` marker, and the rules every backend shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

from core.database.errors import BroadcastMessageError

__all__ = ["MAX_CHANNEL_BYTES", "MAX_MESSAGE_BYTES", "Broadcaster", "Gap", "check_message"]

# Postgres caps NOTIFY payloads below 8,000 bytes and channel names at 63 bytes (NAMEDATALEN).
# Every backend keeps to both, so a message that works on SQLite works in production.
MAX_MESSAGE_BYTES = 7999
MAX_CHANNEL_BYTES = 63


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages may have been lost here: re-read what you follow from the database.

    `reason` is `"reconnected"` (the broadcaster's connection was lost and is back)
    or `"overflow"` (the subscriber fell behind and its queue was cleared).
    """

    reason: Literal["reconnected", "overflow"]


class Broadcaster(Protocol):
    """Publish short messages to every current subscriber of a channel, in any process.

    Delivery is at most once: a subscription yields a `Gap` wherever messages may have
    been lost, so subscribers keep the truth in the database and treat messages as hints.
    """

    async def publish(self, channel: str, message: str) -> None:
        """Send `message` to the channel's subscribers (BroadcastMessageError if too long)."""
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str | Gap]]:
        """`async with b.subscribe(ch) as messages: async for m in messages: ...`.

        Entering returns once the subscription is active: everything published after
        that is delivered, or a `Gap` marks its loss. Leaving unsubscribes. Waiting for
        the next message is safe to cancel.
        """
        ...

    async def close(self) -> None:
        """Stop listening and close connections; subscriptions end."""
        ...


def check_message(channel: str, message: str) -> bytes:
    """`message` as UTF-8, after checking both against the limits every backend keeps."""
    check_channel(channel)
    data = _utf8(message, "message")
    if len(data) > MAX_MESSAGE_BYTES:
        raise BroadcastMessageError(
            f"a message is at most {MAX_MESSAGE_BYTES} bytes, this one has {len(data)}: "
            "publish a position or an id and let subscribers read the rest"
        )
    return data


def check_channel(channel: str) -> None:
    """Refuse channel names that some backend cannot carry."""
    size = len(_utf8(channel, "channel name"))
    if not 0 < size <= MAX_CHANNEL_BYTES:
        raise BroadcastMessageError(
            f"a channel name is 1 to {MAX_CHANNEL_BYTES} bytes, this one has {size}"
        )


def _utf8(text: str, what: str) -> bytes:
    # Postgres text holds neither NUL nor lone surrogates; refuse them on every backend.
    if "\x00" in text:
        raise BroadcastMessageError(f"a {what} cannot contain NUL characters")
    try:
        return text.encode("utf-8", "strict")
    except UnicodeEncodeError as exc:
        raise BroadcastMessageError(f"a {what} must be valid Unicode text") from exc
