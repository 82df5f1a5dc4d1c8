"""The LISTEN/NOTIFY broadcaster on a real Postgres: across instances, limits, reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database import Database
from core.database.broadcast import (
    MAX_MESSAGE_BYTES,
    Backoff,
    Gap,
    PostgresBroadcaster,
    publish_on_commit,
)
from core.database.errors import BroadcastMessageError
from core.database.testing._cluster import free_port
from tests.support import TcpProxy, through_relay

pytestmark = pytest.mark.postgres_only(reason="LISTEN/NOTIFY is a Postgres feature")

DEADLINE = 15


@pytest_asyncio.fixture(loop_scope="session")
async def pair(
    database: Database,
) -> AsyncIterator[tuple[PostgresBroadcaster, PostgresBroadcaster]]:
    """Two broadcasters, as two worker processes would have: each its own listener."""
    fast = Backoff(first=0.05, cap=0.2)
    first = PostgresBroadcaster(database, backoff=fast, ping_interval=1.0)
    second = PostgresBroadcaster(database, backoff=fast, ping_interval=1.0)
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


async def test_a_notify_reaches_the_listeners_of_every_instance(
    pair: tuple[PostgresBroadcaster, PostgresBroadcaster],
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


async def test_the_largest_message_fits_notify_and_one_byte_more_is_refused(
    pair: tuple[PostgresBroadcaster, PostgresBroadcaster],
) -> None:
    first, second = pair
    largest = "é" * (MAX_MESSAGE_BYTES // 2) + "x"  # 7,999 bytes of UTF-8
    async with second.subscribe("large") as messages:
        await first.publish("large", largest)
        assert await next_text(messages) == largest
        with pytest.raises(BroadcastMessageError, match="at most 7999 bytes"):
            await first.publish("large", largest + "x")


async def listener_pids(database: Database) -> list[int]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE application_name LIKE '% listener' AND datname = current_database()"
            )
        )
        return [row.pid for row in rows]


async def test_a_terminated_listener_reconnects_and_says_messages_may_be_lost(
    database: Database, pair: tuple[PostgresBroadcaster, PostgresBroadcaster]
) -> None:
    first, second = pair
    async with second.subscribe("survives") as messages:
        assert second.connected  # subscribe() waited for the listening connection
        pids = await listener_pids(database)
        assert pids, "the listening connection names itself in application_name"
        async with database.engine.connect() as connection:
            for pid in pids:
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await connection.commit()
        # The subscriber learns that it may have missed something, then hears again.
        assert await next_message(messages) == Gap("reconnected")
        assert second.reconnects >= 1
        await first.publish("survives", "after")
        assert await next_text(messages) == "after"


async def test_publish_on_commit_notifies_only_what_committed(
    database: Database, pair: tuple[PostgresBroadcaster, PostgresBroadcaster]
) -> None:
    first, second = pair
    async with second.subscribe("commits") as messages:
        async with database.session() as session:
            publish_on_commit(session, "commits", "rolled-back", broadcaster=first)
            await session.rollback()
            publish_on_commit(session, "commits", "committed", broadcaster=first)
            await session.commit()
        assert await next_text(messages) == "committed"


async def test_the_listener_is_outside_the_pool_and_gone_after_close(database: Database) -> None:
    broadcaster = PostgresBroadcaster(database)
    async with broadcaster.subscribe("pool"):
        assert len(await listener_pids(database)) == 1
        assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    await broadcaster.close()
    for _ in range(100):
        if not await listener_pids(database):
            break
        await asyncio.sleep(0.05)
    assert await listener_pids(database) == []
    with pytest.raises(RuntimeError, match="closed"):
        async with broadcaster.subscribe("pool"):
            pass


async def test_repr_masks_the_password(database: Database) -> None:
    broadcaster = PostgresBroadcaster(database)
    password = database.url.password
    assert password and str(password) not in repr(broadcaster)


async def test_publishing_on_commit_from_more_requests_than_the_pool_holds(scratch: URL) -> None:
    # Each commit's NOTIFY takes a pooled connection: it must be the one the commit freed.
    small = Database(scratch, pool_size=2, max_overflow=0, pool_timeout=2)
    publisher = PostgresBroadcaster(small)
    listener = PostgresBroadcaster(small)  # listens outside the pool

    async def commit_and_publish(number: int) -> None:
        async with small.transaction() as session:
            await session.execute(text("SELECT 1"))
            publish_on_commit(session, "crowd", str(number), broadcaster=publisher)

    try:
        async with listener.subscribe("crowd") as messages:
            await asyncio.gather(*(commit_and_publish(n) for n in range(20)))
            received = {await next_text(messages) for _ in range(20)}
        assert received == {str(n) for n in range(20)}
    finally:
        await listener.close()
        await publisher.close()
        await small.dispose()


async def test_a_listener_started_while_the_server_is_unreachable_connects_when_it_comes(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    proxy = TcpProxy(int(database.url.port or 5432))
    remote = through_relay(database, port)
    listener = PostgresBroadcaster(remote, backoff=Backoff(first=0.05, cap=0.2), ping_interval=1.0)
    publisher = PostgresBroadcaster(database)
    try:
        with caplog.at_level("WARNING", logger="core.database.broadcast"):
            async with listener.subscribe("late") as messages:
                assert not listener.connected  # nothing answers on that port yet
                await proxy.start(port)
                assert await next_message(messages) == Gap("reconnected")
                await publisher.publish("late", "heard")
                assert await next_text(messages) == "heard"
        failures = [
            r.getMessage() for r in caplog.records if "LISTEN connection failed" in r.getMessage()
        ]
        assert failures, "each failed attempt is logged, then retried with backoff"
        password = database.url.password
        assert password and not any(str(password) in line for line in failures)
    finally:
        await listener.close()
        await publisher.close()
        await remote.dispose()
        await proxy.close()


async def test_a_silently_dropped_listener_is_found_by_its_ping_and_replaced(
    database: Database,
) -> None:
    port = free_port()
    proxy = TcpProxy(int(database.url.port or 5432))
    await proxy.start(port)
    remote = through_relay(database, port)
    listener = PostgresBroadcaster(remote, backoff=Backoff(first=0.05, cap=0.2), ping_interval=0.5)
    publisher = PostgresBroadcaster(database)
    try:
        async with listener.subscribe("silent") as messages:
            assert listener.connected
            proxy.stall()  # no error, no FIN: the socket just goes quiet
            await publisher.publish("silent", "lost in the drop")
            # The ping times out, a new connection listens, and the subscriber is told.
            assert await next_message(messages) == Gap("reconnected")
            assert listener.reconnects >= 1
            await publisher.publish("silent", "after")
            assert await next_text(messages) == "after"
    finally:
        await listener.close()
        await publisher.close()
        await remote.dispose()
        await proxy.close()
