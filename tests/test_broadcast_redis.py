"""The Redis pub/sub broadcaster on a real redis-server: across instances, restarts, secrets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from core.database.broadcast import MAX_MESSAGE_BYTES, Backoff, Gap, RedisBroadcaster
from core.database.errors import BroadcastMessageError, BroadcastUnavailableError
from core.database.testing.redis import RedisServer, throwaway_redis

DEADLINE = 15


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with throwaway_redis() as server:
        yield server


def broadcaster(server: RedisServer) -> RedisBroadcaster:
    return RedisBroadcaster(server.url, backoff=Backoff(first=0.05, cap=0.2))


@pytest_asyncio.fixture(loop_scope="session")
async def pair(
    redis_server: RedisServer,
) -> AsyncIterator[tuple[RedisBroadcaster, RedisBroadcaster]]:
    """Two broadcasters, as two worker processes would have."""
    first, second = broadcaster(redis_server), broadcaster(redis_server)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def next_message(messages: AsyncIterator[str | Gap]) -> str | Gap:
    async with asyncio.timeout(DEADLINE):
        return await anext(messages)


async def next_text(messages: AsyncIterator[str | Gap]) -> str:
    while isinstance(message := await next_message(messages), Gap):
        pass
    return message


async def test_a_publish_reaches_the_subscribers_of_every_instance(
    pair: tuple[RedisBroadcaster, RedisBroadcaster],
) -> None:
    first, second = pair
    async with (
        first.subscribe("orders") as mine,
        second.subscribe("orders") as theirs,
        second.subscribe("other") as elsewhere,
    ):
        await first.publish("orders", "1")
        await second.publish("orders", "2")
        assert [await next_text(mine), await next_text(mine)] == ["1", "2"]
        assert [await next_text(theirs), await next_text(theirs)] == ["1", "2"]
        await first.publish("other", "3")
        assert await next_text(elsewhere) == "3"
    assert first.subscriber_count() == second.subscriber_count() == 0


async def test_the_same_limits_as_notify(pair: tuple[RedisBroadcaster, RedisBroadcaster]) -> None:
    first, second = pair
    largest = "m" * MAX_MESSAGE_BYTES
    async with second.subscribe("large") as messages:
        await first.publish("large", largest)
        assert await next_text(messages) == largest
        with pytest.raises(BroadcastMessageError):
            await first.publish("large", largest + "m")


async def test_a_restarted_redis_is_a_gap_then_delivery_resumes(
    redis_server: RedisServer, pair: tuple[RedisBroadcaster, RedisBroadcaster]
) -> None:
    first, second = pair
    async with second.subscribe("survives") as messages:
        await first.publish("survives", "before")
        assert await next_text(messages) == "before"
        await asyncio.to_thread(redis_server.stop)
        with pytest.raises(BroadcastUnavailableError) as refused:
            await first.publish("survives", "while down")
        assert redis_server.url.split("@")[0].split(":")[-1] not in str(refused.value)
        await asyncio.to_thread(redis_server.start)
        # Subscribed again on the new server: the subscriber hears it may have missed some.
        assert await next_message(messages) == Gap("reconnected")
        assert second.reconnects >= 1
        await first.publish("survives", "after")
        assert await next_text(messages) == "after"


async def test_repr_and_errors_mask_the_password(redis_server: RedisServer) -> None:
    password = redis_server.url.split("@")[0].rsplit(":", 1)[-1]
    down = RedisBroadcaster(f"redis://:{password}@127.0.0.1:1/0")
    try:
        assert password not in repr(down)
        with pytest.raises(BroadcastUnavailableError) as refused:
            await down.publish("c", "m")
        assert password not in str(refused.value)
        assert "***@127.0.0.1:1" in str(refused.value)
    finally:
        await down.close()
