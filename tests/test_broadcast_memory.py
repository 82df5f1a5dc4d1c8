"""The in-process broadcaster: fan-out, bounded queues with a Gap, unsubscribe on exit, limits."""

from __future__ import annotations

import asyncio

import pytest

from core.database.broadcast import (
    MAX_CHANNEL_BYTES,
    MAX_MESSAGE_BYTES,
    Gap,
    InMemoryBroadcaster,
)
from core.database.errors import BroadcastMessageError


async def test_fan_out_to_every_subscriber_of_the_channel() -> None:
    broadcaster = InMemoryBroadcaster()
    async with (
        broadcaster.subscribe("a") as first,
        broadcaster.subscribe("a") as second,
        broadcaster.subscribe("b") as other,
    ):
        assert broadcaster.subscriber_count("a") == 2
        assert broadcaster.subscriber_count() == 3
        await broadcaster.publish("a", "one")
        await broadcaster.publish("a", "two")
        await broadcaster.publish("b", "elsewhere")
        async with asyncio.timeout(5):
            assert [await anext(first), await anext(first)] == ["one", "two"]
            assert [await anext(second), await anext(second)] == ["one", "two"]
            assert await anext(other) == "elsewhere"
    assert broadcaster.subscriber_count() == 0


async def test_leaving_the_block_unsubscribes_even_on_error() -> None:
    broadcaster = InMemoryBroadcaster()
    with pytest.raises(RuntimeError):
        async with broadcaster.subscribe("a"):
            raise RuntimeError("subscriber crashed")
    assert broadcaster.subscriber_count("a") == 0
    await broadcaster.publish("a", "nobody listens")  # no error, no queue kept


async def test_a_subscriber_that_falls_behind_gets_a_gap_not_a_wait() -> None:
    broadcaster = InMemoryBroadcaster(queue_size=2)
    async with broadcaster.subscribe("a") as slow, broadcaster.subscribe("a") as fast:
        for message in ("1", "2", "3", "4"):
            await broadcaster.publish("a", message)
            async with asyncio.timeout(5):
                assert await anext(fast) == message
        # Its queue of two overflowed at "3": what it held became one Gap, then "4".
        async with asyncio.timeout(5):
            assert [await anext(slow), await anext(slow)] == [Gap("overflow"), "4"]
        assert broadcaster.subscriber_count("a") == 2  # still subscribed


async def test_close_ends_every_subscription() -> None:
    broadcaster = InMemoryBroadcaster()
    async with broadcaster.subscribe("a") as messages:
        await broadcaster.publish("a", "last")
        await broadcaster.close()
        async with asyncio.timeout(5):
            assert [message async for message in messages] == ["last"]


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("", "x"),
        ("c" * (MAX_CHANNEL_BYTES + 1), "x"),
        ("a", "m" * (MAX_MESSAGE_BYTES + 1)),
        ("a", "é" * (MAX_MESSAGE_BYTES // 2 + 1)),  # counted in UTF-8 bytes, not characters
        ("a", "nul \x00 inside"),
        ("a", "lone \ud800 surrogate"),
        ("nul\x00", "x"),
    ],
)
async def test_what_no_backend_can_carry_is_refused_on_every_backend(
    channel: str, message: str
) -> None:
    broadcaster = InMemoryBroadcaster()
    with pytest.raises(BroadcastMessageError):
        await broadcaster.publish(channel, message)
    with pytest.raises(ValueError, match=r"channel|message"):  # also a ValueError
        await broadcaster.publish(channel, message)


async def test_the_largest_message_passes() -> None:
    broadcaster = InMemoryBroadcaster()
    largest = "m" * MAX_MESSAGE_BYTES
    async with broadcaster.subscribe("c" * MAX_CHANNEL_BYTES) as messages:
        await broadcaster.publish("c" * MAX_CHANNEL_BYTES, largest)
        async with asyncio.timeout(5):
            assert await anext(messages) == largest
