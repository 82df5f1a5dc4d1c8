"""The in-process broadcaster: fan-out, bounded queues, unsubscribe on exit."""

from __future__ import annotations

import asyncio

import pytest

from app.broadcast import InMemoryBroadcaster


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


async def test_a_subscriber_that_falls_behind_is_dropped_not_waited_for() -> None:
    broadcaster = InMemoryBroadcaster(queue_size=2)
    async with broadcaster.subscribe("a") as slow, broadcaster.subscribe("a") as fast:
        for message in ("1", "2", "3"):
            await broadcaster.publish("a", message)
            async with asyncio.timeout(5):
                assert await anext(fast) == message
        assert broadcaster.subscriber_count("a") == 1
        # The dropped one drains what it holds, then ends (it resumes from the database).
        assert [message async for message in slow] == ["1", "2"]


async def test_waiting_for_a_message_can_be_cancelled() -> None:
    broadcaster = InMemoryBroadcaster()
    async with broadcaster.subscribe("a") as messages:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await anext(messages)
        await broadcaster.publish("a", "after the timeout")
        async with asyncio.timeout(5):
            assert await anext(messages) == "after the timeout"


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        InMemoryBroadcaster(queue_size=0)
