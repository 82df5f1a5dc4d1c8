"""`follow`: rows after a position, in order, exactly once, woken by messages, healed by Gaps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import transaction
from core.database.broadcast import (
    MAX_MESSAGE_BYTES,
    Gap,
    InMemoryBroadcaster,
    follow,
    position_message,
    publish_on_commit,
)
from core.database.errors import BroadcastMessageError
from tests.models import FeedItem

DEADLINE = 10


class Feed:
    """A followed stream over feed_items, counting the reads it makes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reads = 0

    async def read_after(self, position: int, limit: int) -> list[tuple[int, str]]:
        self.reads += 1
        async with transaction() as session:
            rows = await session.execute(
                select(FeedItem.id, FeedItem.body)
                .where(FeedItem.feed == self.name, FeedItem.id > position)
                .order_by(FeedItem.id)
                .limit(limit)
            )
            return [(row.id, row.body) for row in rows]

    async def head(self) -> int:
        async with transaction() as session:
            latest = select(func.coalesce(func.max(FeedItem.id), 0))
            return int(
                (await session.execute(latest.where(FeedItem.feed == self.name))).scalar_one()
            )

    def follow(
        self, broadcaster: InMemoryBroadcaster, after: int | None = None, **options: float
    ) -> AsyncGenerator[Sequence[tuple[int, str]], None]:
        return follow(
            broadcaster,
            self.name,
            self.read_after,
            lambda row: row[0],
            after=after,
            head=self.head,
            **options,  # type: ignore[arg-type]
        )


async def add(
    session: AsyncSession, feed: str, *bodies: str, publish: InMemoryBroadcaster | None = None
) -> list[int]:
    items = [FeedItem(feed=feed, body=body) for body in bodies]
    session.add_all(items)
    await session.flush()
    if publish is not None:
        publish_on_commit(session, feed, str(items[-1].id), broadcaster=publish)
    await session.commit()
    return [item.id for item in items]


async def collect(stream: AsyncGenerator[Sequence[tuple[int, str]], None], count: int) -> list[str]:
    bodies: list[str] = []
    while len(bodies) < count:
        bodies += [body for _, body in await anext(stream)]
    return bodies


async def test_resume_reads_what_was_missed_then_follows_live(db_session: AsyncSession) -> None:
    broadcaster = InMemoryBroadcaster()
    feed = Feed("resume")
    first, *_ = await add(db_session, feed.name, "a", "b", "c")
    stream = feed.follow(broadcaster, after=first)
    async with asyncio.timeout(DEADLINE):
        assert [body for _, body in await anext(stream)] == ["b", "c"]
        await add(db_session, feed.name, "d", "e", publish=broadcaster)
        assert await collect(stream, 2) == ["d", "e"]
        await stream.aclose()
    assert broadcaster.subscriber_count() == 0


async def test_from_now_skips_the_past_and_says_when_it_is_subscribed(
    db_session: AsyncSession,
) -> None:
    broadcaster = InMemoryBroadcaster()
    feed = Feed("from-now")
    await add(db_session, feed.name, "old")
    stream = feed.follow(broadcaster)
    async with asyncio.timeout(DEADLINE):
        assert await anext(stream) == []  # subscribed, nothing new yet
        assert broadcaster.subscriber_count(feed.name) == 1
        await add(db_session, feed.name, "new", publish=broadcaster)
        assert await collect(stream, 1) == ["new"]
        await stream.aclose()


async def test_a_message_naming_a_known_position_costs_no_read(db_session: AsyncSession) -> None:
    broadcaster = InMemoryBroadcaster()
    feed = Feed("known")
    stream = feed.follow(broadcaster, after=0)
    async with asyncio.timeout(DEADLINE):
        assert await anext(stream) == []
        (position,) = await add(db_session, feed.name, "x", publish=broadcaster)
        assert await collect(stream, 1) == ["x"]
        reads = feed.reads
        await broadcaster.publish(feed.name, str(position))  # already delivered
        await add(db_session, feed.name, "y", publish=broadcaster)
        assert await collect(stream, 1) == ["y"]
        assert feed.reads == reads + 1  # only the new position was read
        await stream.aclose()


async def test_a_gap_or_a_lost_message_costs_a_read_never_a_row(db_session: AsyncSession) -> None:
    broadcaster = InMemoryBroadcaster()
    feed = Feed("healed")
    stream = feed.follow(broadcaster, after=0, idle=0.05)
    async with asyncio.timeout(DEADLINE):
        assert await anext(stream) == []
        await add(db_session, feed.name, "unannounced")  # no message at all
        assert await collect(stream, 1) == ["unannounced"]  # the idle re-read found it
        await add(db_session, feed.name, "after-a-gap")
        broadcaster._hub.mark_gap(feed.name)  # what a reconnect does
        assert await collect(stream, 1) == ["after-a-gap"]
        await stream.aclose()


async def test_idle_yields_empty_batches_for_keep_alives(db_session: AsyncSession) -> None:
    broadcaster = InMemoryBroadcaster()
    stream = Feed("idle").follow(broadcaster, after=0, idle=0.01)
    async with asyncio.timeout(DEADLINE):
        assert [await anext(stream) for _ in range(3)] == [[], [], []]
        await stream.aclose()


async def test_many_pages_arrive_in_order_once(db_session: AsyncSession) -> None:
    broadcaster = InMemoryBroadcaster()
    feed = Feed("pages")
    bodies = [f"row-{n}" for n in range(25)]
    await add(db_session, feed.name, *bodies)
    stream = feed.follow(broadcaster, after=0, page_size=4)
    async with asyncio.timeout(DEADLINE):
        assert await collect(stream, 25) == bodies
        await stream.aclose()


async def test_gap_marker_is_a_value() -> None:
    assert Gap("overflow") == Gap("overflow") != Gap("reconnected")


async def test_publish_on_commit_computes_a_callable_message_after_the_commit(
    db_session: AsyncSession,
) -> None:
    broadcaster = InMemoryBroadcaster()
    item = FeedItem(feed="lazy", body="x")
    db_session.add(item)
    seen_at_commit: list[bool] = []

    def message() -> str:
        seen_at_commit.append(True)
        return f"after {item.body}"

    async with broadcaster.subscribe("lazy") as messages:
        publish_on_commit(db_session, "lazy", message, broadcaster=broadcaster)
        assert seen_at_commit == []  # not called before the commit
        await db_session.commit()
        async with asyncio.timeout(DEADLINE):
            assert await anext(messages) == "after x"


async def test_publish_on_commit_refuses_what_no_backend_carries_before_the_commit(
    db_session: AsyncSession,
) -> None:
    broadcaster = InMemoryBroadcaster()
    with pytest.raises(BroadcastMessageError):
        publish_on_commit(db_session, "big", "m" * (MAX_MESSAGE_BYTES + 1), broadcaster=broadcaster)
    with pytest.raises(BroadcastMessageError):
        publish_on_commit(db_session, "c" * 64, lambda: "m", broadcaster=broadcaster)


async def test_followers_of_one_channel_share_the_read_a_message_causes(
    db_session: AsyncSession,
) -> None:
    broadcaster = InMemoryBroadcaster()
    feed = Feed("shared")
    streams = [feed.follow(broadcaster, after=0) for _ in range(5)]
    async with asyncio.timeout(DEADLINE):
        for stream in streams:
            assert await anext(stream) == []
        reads = feed.reads
        await add(db_session, feed.name, "once", publish=broadcaster)
        # Concurrently, as the streams of five clients run in their own tasks.
        received = await asyncio.gather(*(collect(stream, 1) for stream in streams))
        assert received == [["once"]] * 5
        assert feed.reads == reads + 1  # five followers, one query
        for stream in streams:
            await stream.aclose()


class GatedFeed(Feed):
    """A feed whose reads, once `hold` is set, wait after their query until released."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.hold = False
        self.queried = asyncio.Event()
        self.release = asyncio.Event()

    async def read_after(self, position: int, limit: int) -> list[tuple[int, str]]:
        rows = await super().read_after(position, limit)
        if self.hold:
            self.hold = False
            self.queried.set()
            await self.release.wait()
        return rows


async def test_a_shared_read_that_began_too_early_is_followed_by_one_of_our_own(
    db_session: AsyncSession,
) -> None:
    feed = GatedFeed("early")
    # Two followers of one channel in one process, woken through separate broadcasters.
    first, second = InMemoryBroadcaster(), InMemoryBroadcaster()
    a, b = feed.follow(first, after=0, idle=0.2), feed.follow(second, after=0)
    async with asyncio.timeout(DEADLINE):
        assert await anext(a) == [] and await anext(b) == []
        feed.hold = True
        first._hub.mark_gap(feed.name)  # A starts a read of its own...
        a_next = asyncio.create_task(anext(a))
        await feed.queried.wait()  # ...which has queried, and not returned yet
        (position,) = await add(db_session, feed.name, "late")
        await second.publish(feed.name, str(position))
        b_next = asyncio.create_task(collect(b, 1))
        await asyncio.sleep(0.05)  # B joins A's read, which cannot hold the row
        feed.release.set()
        assert await b_next == ["late"]  # so B read again, on its own
        while not (batch := await a_next):  # A's idle re-read finds it
            a_next = asyncio.create_task(anext(a))
        assert [body for _, body in batch] == ["late"]
        await a.aclose()
        await b.aclose()


async def test_a_position_beyond_the_head_resumes_from_the_head(db_session: AsyncSession) -> None:
    broadcaster = InMemoryBroadcaster()
    feed = Feed("restored")
    (last,) = await add(db_session, feed.name, "before")
    # A client saw positions that a restored database no longer has.
    stream = feed.follow(broadcaster, after=last + 1000)
    async with asyncio.timeout(DEADLINE):
        assert await anext(stream) == []
        await add(db_session, feed.name, "new", publish=broadcaster)
        assert await collect(stream, 1) == ["new"]
        await stream.aclose()


async def test_follow_needs_a_start_or_a_head() -> None:
    stream = follow(InMemoryBroadcaster(), "nowhere", Feed("x").read_after, lambda row: row[0])
    with pytest.raises(ValueError, match="`after` or `head`"):
        await anext(stream)


async def test_a_message_that_names_no_position_wakes_a_read(db_session: AsyncSession) -> None:
    # A writer that announces "something changed" instead of a position still wakes
    # every follower, which then reads what is new.
    broadcaster = InMemoryBroadcaster()
    feed = Feed("plain")
    stream = feed.follow(broadcaster, after=0)
    async with asyncio.timeout(DEADLINE):
        assert await anext(stream) == []
        await add(db_session, feed.name, "p")
        await broadcaster.publish(feed.name, "changed")
        assert await collect(stream, 1) == ["p"]
        await stream.aclose()


async def test_the_stream_ends_when_the_broadcaster_closes(db_session: AsyncSession) -> None:
    broadcaster = InMemoryBroadcaster()
    stream = Feed("closing").follow(broadcaster, after=0)
    async with asyncio.timeout(DEADLINE):
        assert await anext(stream) == []
        await broadcaster.close()
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
    assert position_message(42) == "42"  # what writers publish for follow() to parse


async def test_a_follower_that_goes_away_cancels_a_read_only_it_waited_for(
    db_session: AsyncSession,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    cancelled: list[bool] = []

    async def slow_read(position: int, limit: int) -> list[tuple[int, str]]:
        if position > 0 or not started.is_set():
            started.set()
            try:
                await release.wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
        return []

    broadcaster = InMemoryBroadcaster()
    stream = follow(broadcaster, "gone", slow_read, lambda row: row[0], after=0)
    reader = asyncio.ensure_future(anext(stream))
    async with asyncio.timeout(DEADLINE):
        await started.wait()
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
    assert cancelled == [True]  # nobody else waited: the read itself was stopped
