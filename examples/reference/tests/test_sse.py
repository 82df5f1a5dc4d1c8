"""The live event stream, over a real HTTP server (httpx's in-process transport buffers
whole responses, so it cannot read a stream that never ends)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

import app.stream
from app.api import create_app
from app.deps import BroadcasterDep
from app.models import User
from app.repositories import EventRepository
from app.routes.events import announce_on_commit
from app.schemas import EventCreate, EventRead
from app.sse import EventStreamResponse, stream_user_events
from app.stream import events_channel
from core.database import SessionDep, make_sessionmaker
from core.database.broadcast import InMemoryBroadcaster
from tests.support import Committed, bearer, serve, sign_up

STREAM_DEADLINE = 10  # seconds; a broken stream fails the test instead of hanging it

router = APIRouter(prefix="/test")


@router.post("/users/{user_id}/events/rolled-back")
async def record_then_fail(
    user_id: int, body: EventCreate, session: SessionDep, broadcaster: BroadcasterDep
) -> None:
    event = await EventRepository(session).create(user_id, kind=body.kind)
    announce_on_commit(session, broadcaster, event)
    raise HTTPException(status_code=418, detail="rolled back after recording")


@pytest.fixture
def api_app(api_app: FastAPI) -> FastAPI:
    api_app.include_router(router)
    return api_app


async def next_event(lines: AsyncIterator[str]) -> dict[str, Any]:
    """The data of the next event on the stream; its `id:` line must be its position."""
    event_id = None
    async for line in lines:
        if line.startswith("id: "):
            event_id = int(line.removeprefix("id: "))
        elif line.startswith("data: "):
            data = dict(json.loads(line.removeprefix("data: ")))
            assert data["position"] == event_id
            return data
    raise AssertionError("the stream ended")


async def subscribers_gone(broadcaster: InMemoryBroadcaster) -> None:
    while broadcaster.subscriber_count():  # noqa: ASYNC110 - no event to wait on; bounded by the caller
        await asyncio.sleep(0.01)


async def test_stream_delivers_committed_events_and_never_rolled_back_ones(
    api_app: FastAPI,
    broadcaster: InMemoryBroadcaster,
    db_session: AsyncSession,
    user: User,
    user_secret: str,
) -> None:
    user_id = user.id
    async with (
        asyncio.timeout(STREAM_DEADLINE),
        serve(api_app) as base_url,
        httpx.AsyncClient(base_url=base_url, headers=bearer(user_secret)) as http,
    ):
        async with http.stream("GET", f"/users/{user_id}/events/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            assert await anext(lines) == "retry: 3000"  # subscribed from here on
            assert broadcaster.subscriber_count(events_channel(user_id)) == 1

            failed = await http.post(
                f"/test/users/{user_id}/events/rolled-back", json={"kind": "rolled-back"}
            )
            assert failed.status_code == 418
            committed = await http.post(f"/users/{user_id}/events", json={"kind": "committed"})
            assert committed.status_code == 201

            # Had the rolled-back event been announced, it would come first.
            assert await next_event(lines) == committed.json()

        # The client went away: its subscription (and queue) is released.
        await subscribers_gone(broadcaster)


async def test_stream_resumes_after_last_event_id(
    api_app: FastAPI,
    broadcaster: InMemoryBroadcaster,
    db_session: AsyncSession,
    user: User,
    user_secret: str,
) -> None:
    user_id = user.id
    events = EventRepository(db_session)
    await events.create(user_id, kind="seen")
    await events.create(user_id, kind="missed")
    await db_session.commit()

    async with (
        asyncio.timeout(STREAM_DEADLINE),
        serve(api_app) as base_url,
        httpx.AsyncClient(base_url=base_url, headers=bearer(user_secret)) as http,
    ):
        headers = {"Last-Event-ID": "1"}
        async with http.stream(
            "GET", f"/users/{user_id}/events/stream", headers=headers
        ) as response:
            lines = response.aiter_lines()
            assert await anext(lines) == "retry: 3000"
            missed = await next_event(lines)
            assert (missed["kind"], missed["position"]) == ("missed", 2)
            live = await http.post(f"/users/{user_id}/events", json={"kind": "live"})
            assert await next_event(lines) == live.json()
            assert live.json()["position"] == 3
        await subscribers_gone(broadcaster)


async def test_stream_takes_the_token_as_access_token_for_eventsource(
    api_app: FastAPI, db_session: AsyncSession, user: User, user_secret: str
) -> None:
    # A browser's EventSource cannot send headers: the stream (and only the stream)
    # takes the secret in the query string.
    url = f"/users/{user.id}/events/stream"
    async with (
        asyncio.timeout(STREAM_DEADLINE),
        serve(api_app) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        async with http.stream("GET", url, params={"access_token": user_secret}) as response:
            assert response.status_code == 200
            assert await anext(response.aiter_lines()) == "retry: 3000"
        refused = await http.get(url, params={"access_token": "not-a-token"})
        assert refused.status_code == 401
        elsewhere = await http.get(f"/users/{user.id}", params={"access_token": user_secret})
        assert elsewhere.status_code == 401


def positions_of(frames: list[str]) -> list[int]:
    return [int(frame.split("\n")[0].removeprefix("id: ")) for frame in frames]


async def test_a_stream_that_falls_behind_catches_up_from_the_database(
    db_session: AsyncSession, user: User
) -> None:
    user_id = user.id
    broadcaster = InMemoryBroadcaster(queue_size=1)
    stream = stream_user_events(broadcaster, user_id)
    events = EventRepository(db_session)
    async with asyncio.timeout(STREAM_DEADLINE):
        assert await anext(stream) == "retry: 3000\n\n"
        for n in range(5):
            await events.create(user_id, kind="k", payload={"n": n})
        await db_session.commit()
        for position in range(1, 6):  # five messages into a queue of one: it overflows
            await broadcaster.publish(events_channel(user_id), str(position))
        frames = [await anext(stream) for _ in range(5)]
        await stream.aclose()
    assert positions_of(frames) == [1, 2, 3, 4, 5]  # each once, in order, none lost
    assert broadcaster.subscriber_count() == 0


async def test_idle_stream_sends_keep_alives(
    monkeypatch: pytest.MonkeyPatch, db_session: AsyncSession, user: User
) -> None:
    monkeypatch.setattr(app.stream, "KEEPALIVE_SECONDS", 0.01)
    user_id = user.id
    broadcaster = InMemoryBroadcaster()
    stream = stream_user_events(broadcaster, user_id)
    async with asyncio.timeout(STREAM_DEADLINE):
        assert await anext(stream) == "retry: 3000\n\n"
        assert await anext(stream) == ": keep-alive\n\n"
        await EventRepository(db_session).create(user_id, kind="k")
        await db_session.commit()
        await broadcaster.publish(events_channel(user_id), "1")
        frame = await anext(stream)
        while frame.startswith(":"):
            frame = await anext(stream)
        assert frame.startswith("id: 1\n")
        await stream.aclose()
    assert broadcaster.subscriber_count() == 0


async def test_response_stops_at_disconnect_on_any_asgi_version() -> None:
    # ASGI 2.4 servers leave disconnect detection to the next write; an idle stream
    # must still end (and release its subscription) as soon as the client leaves.
    released = asyncio.Event()
    disconnected = asyncio.Event()

    async def idle_stream() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n\n"
            await asyncio.Event().wait()  # nothing more to send, ever
        finally:
            released.set()

    async def receive() -> dict[str, Any]:
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if message.get("body"):
            disconnected.set()  # the client leaves once it has the first line

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}}
    async with asyncio.timeout(STREAM_DEADLINE):
        await EventStreamResponse(idle_stream())(scope, receive, send)
    assert released.is_set()


async def test_replay_covers_every_missed_page(
    monkeypatch: pytest.MonkeyPatch, db_session: AsyncSession, user: User
) -> None:
    monkeypatch.setattr(app.stream, "MAX_PAGE_SIZE", 2)
    user_id = user.id
    events = EventRepository(db_session)
    for n in range(6):
        await events.create(user_id, kind="k", payload={"n": n})
    await db_session.commit()

    broadcaster = InMemoryBroadcaster()
    stream = stream_user_events(broadcaster, user_id, last_event_id=1)
    async with asyncio.timeout(STREAM_DEADLINE):
        assert await anext(stream) == "retry: 3000\n\n"
        frames = [await anext(stream) for _ in range(5)]
        await stream.aclose()
    assert positions_of(frames) == [2, 3, 4, 5, 6]
    assert broadcaster.subscriber_count() == 0


async def test_live_messages_late_twice_or_lost_still_arrive_in_order_once(
    db_session: AsyncSession, user: User
) -> None:
    # Publishers announce after their own commits, in no agreed order, and a
    # broadcaster may lose a message: the stream reads skipped positions from the
    # database and drops what it has delivered.
    user_id = user.id
    events = EventRepository(db_session)
    recorded = []
    for n in range(5):
        recorded.append(await events.create(user_id, kind="k", payload={"n": n}))
        await db_session.commit()
    messages = [EventRead.model_validate(event).model_dump_json() for event in recorded]

    broadcaster = InMemoryBroadcaster()
    stream = stream_user_events(broadcaster, user_id, last_event_id=0)
    channel = events_channel(user_id)
    async with asyncio.timeout(STREAM_DEADLINE):
        assert await anext(stream) == "retry: 3000\n\n"
        replayed = [await anext(stream) for _ in range(5)]  # all committed before
        assert positions_of(replayed) == [1, 2, 3, 4, 5]
        for n in range(5):
            recorded.append(await events.create(user_id, kind="k", payload={"n": 5 + n}))
            await db_session.commit()
        late = [EventRead.model_validate(event).model_dump_json() for event in recorded[5:]]
        # 6 twice, 7 lost, 9 before 8, 10 as a notice without the event, 3 again.
        for message in (late[0], late[0], late[3], late[2], messages[2]):
            await broadcaster.publish(channel, message)
        await broadcaster.publish(channel, '{"position": 10}')
        live = [await anext(stream) for _ in range(5)]
        await stream.aclose()
    assert positions_of(live) == [6, 7, 8, 9, 10]
    assert [json.loads(frame.split("data: ")[1])["payload"]["n"] for frame in live] == [
        5,
        6,
        7,
        8,
        9,
    ]


async def test_an_event_committed_late_with_a_lower_id_reaches_a_resuming_client(
    committed: Committed, dialect: str
) -> None:
    if dialect != "postgresql":
        pytest.skip(
            "SQLite has one writer: no transaction can insert while another holds"
            " uncommitted inserts, so ids never commit out of order there"
        )
    broadcaster = InMemoryBroadcaster()
    sessions = make_sessionmaker(committed.database.engine)
    async with (
        asyncio.timeout(STREAM_DEADLINE),
        serve(create_app(broadcaster)) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        ann = await sign_up(http, committed.email("ann"))
        stream_url = f"/users/{ann.id}/events/stream"

        # Two concurrent transactions; the lower id commits last.
        async with sessions() as early, sessions() as late:
            low = await EventRepository(early).create(ann.id, kind="lower id, committed last")
            high = await EventRepository(late).create(ann.id, kind="higher id, committed first")
            low_id, high_id = low.id, high.id
            assert low_id < high_id
            # A client follows the stream, receives the higher id, and goes away ...
            async with http.stream("GET", stream_url, headers=ann.auth) as response:
                lines = response.aiter_lines()
                assert await anext(lines) == "retry: 3000"
                announce_on_commit(late, broadcaster, high)
                await late.commit()
                seen = await next_event(lines)
                assert (seen["id"], seen["position"]) == (high_id, 1)
            # ... while it is away, the lower id commits.
            announce_on_commit(early, broadcaster, low)
            await early.commit()
        resume = {"Last-Event-ID": str(seen["position"]), **ann.auth}
        async with http.stream("GET", stream_url, headers=resume) as response:
            lines = response.aiter_lines()
            assert await anext(lines) == "retry: 3000"
            resumed = await next_event(lines)
        assert (resumed["id"], resumed["position"]) == (low_id, 2)

        # Again, resuming while the lower id is still in flight: it arrives live.
        async with sessions() as early, sessions() as late:
            low = await EventRepository(early).create(ann.id, kind="lower id, committed last")
            high = await EventRepository(late).create(ann.id, kind="higher id, committed first")
            low_id, high_id = low.id, high.id
            announce_on_commit(late, broadcaster, high)
            await late.commit()
            resume = {"Last-Event-ID": "2", **ann.auth}
            async with http.stream("GET", stream_url, headers=resume) as response:
                lines = response.aiter_lines()
                assert await anext(lines) == "retry: 3000"
                replayed = await next_event(lines)
                assert (replayed["id"], replayed["position"]) == (high_id, 3)
                announce_on_commit(early, broadcaster, low)
                await early.commit()
                live = await next_event(lines)
                assert (live["id"], live["position"]) == (low_id, 4)


class LateAndLossy:
    """A `Broadcaster` that delivers each message after a random delay, and loses some.

    What fan-out between processes may do: subscribers must still see every
    position once, in order.
    """

    def __init__(self, seed: int) -> None:
        self.inner = InMemoryBroadcaster(queue_size=10_000)
        self.lossy = True
        self._random = random.Random(seed)
        self._pending: set[asyncio.Task[None]] = set()

    async def publish(self, channel: str, message: str) -> None:
        if self.lossy and self._random.random() < 0.2:
            return
        task = asyncio.create_task(self._later(self._random.uniform(0, 0.03), channel, message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _later(self, delay: float, channel: str, message: str) -> None:
        await asyncio.sleep(delay)
        await self.inner.publish(channel, message)

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        return self.inner.subscribe(channel)


@pytest.mark.parametrize("delivery", ["in-memory", "late-and-lossy"])
async def test_concurrent_writers_every_subscriber_sees_each_position_once_in_order(
    committed: Committed, delivery: str
) -> None:
    broadcaster: InMemoryBroadcaster | LateAndLossy
    if delivery == "in-memory":
        broadcaster = InMemoryBroadcaster(queue_size=10_000)
    else:
        broadcaster = LateAndLossy(seed=5)
    writers, per_writer, subscribers = 5, 12, 3
    total = writers * per_writer + 1  # and one last event, announced for sure

    async with (
        asyncio.timeout(60),
        serve(create_app(broadcaster)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        ann = await sign_up(http, committed.email("ann"))
        url = f"/users/{ann.id}/events"

        async def follow(ready: asyncio.Event) -> list[dict[str, Any]]:
            seen: list[dict[str, Any]] = []
            async with http.stream("GET", f"{url}/stream", headers=ann.auth) as response:
                lines = response.aiter_lines()
                assert await anext(lines) == "retry: 3000"
                ready.set()
                while len(seen) < total:
                    seen.append(await next_event(lines))
            return seen

        async def write(writer: int) -> list[int]:
            ids = []
            for n in range(per_writer):
                body = {"kind": "k", "payload": {"writer": writer, "n": n}}
                response = await http.post(url, json=body, headers=ann.auth)
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
            return ids

        readies = [asyncio.Event() for _ in range(subscribers)]
        followers = [asyncio.create_task(follow(ready)) for ready in readies]
        await asyncio.gather(*(ready.wait() for ready in readies))
        written = await asyncio.gather(*(write(writer) for writer in range(writers)))
        if isinstance(broadcaster, LateAndLossy):
            broadcaster.lossy = False
        last = await http.post(url, json={"kind": "last"}, headers=ann.auth)
        received = await asyncio.gather(*followers)

    expected_ids = {id_ for ids in written for id_ in ids} | {last.json()["id"]}
    for seen in received:
        assert [event["position"] for event in seen] == list(range(1, total + 1))
        assert {event["id"] for event in seen} == expected_ids
