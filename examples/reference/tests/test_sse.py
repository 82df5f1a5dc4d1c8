"""The live event stream, over a real HTTP server (httpx's in-process transport buffers
whole responses, so it cannot read a stream that never ends)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

import app.sse
from app.broadcast import InMemoryBroadcaster
from app.deps import BroadcasterDep
from app.models import User
from app.repositories import EventRepository
from app.routes.events import record_event
from app.schemas import EventCreate, EventRead
from app.sse import EventStreamResponse, events_channel, stream_user_events
from core.database import SessionDep, utcnow

STREAM_DEADLINE = 10  # seconds; a broken stream fails the test instead of hanging it

router = APIRouter(prefix="/test")


@router.post("/users/{user_id}/events/rolled-back")
async def record_then_fail(
    user_id: int, body: EventCreate, session: SessionDep, broadcaster: BroadcasterDep
) -> None:
    await record_event(user_id, body, session, broadcaster)
    raise HTTPException(status_code=418, detail="rolled back after recording")


@pytest.fixture
def api_app(api_app: FastAPI) -> FastAPI:
    api_app.include_router(router)
    return api_app


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Leave the test process's signal handlers alone.
        yield


@asynccontextmanager
async def serve(api_app: FastAPI) -> AsyncIterator[str]:
    """Serve the app on a free local port in this event loop; yield its base URL."""
    # lifespan off: its shutdown would dispose the test database's engine.
    config = uvicorn.Config(
        api_app, host="127.0.0.1", port=0, lifespan="off", log_config=None, log_level="warning"
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def next_event(lines: AsyncIterator[str]) -> dict[str, Any]:
    """The data of the next event on the stream (keep-alives and ids skipped)."""
    async for line in lines:
        if line.startswith("data: "):
            return dict(json.loads(line.removeprefix("data: ")))
    raise AssertionError("the stream ended")


async def subscribers_gone(broadcaster: InMemoryBroadcaster) -> None:
    while broadcaster.subscriber_count():  # noqa: ASYNC110 - no event to wait on; bounded by the caller
        await asyncio.sleep(0.01)


async def test_stream_delivers_committed_events_and_never_rolled_back_ones(
    api_app: FastAPI, broadcaster: InMemoryBroadcaster, db_session: AsyncSession, user: User
) -> None:
    user_id = user.id
    async with (
        asyncio.timeout(STREAM_DEADLINE),
        serve(api_app) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
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
    api_app: FastAPI, broadcaster: InMemoryBroadcaster, db_session: AsyncSession, user: User
) -> None:
    user_id = user.id
    events = EventRepository(db_session)
    seen = await events.create(user_id, kind="seen")
    missed = await events.create(user_id, kind="missed")
    seen_id, missed_id = seen.id, missed.id
    await db_session.commit()

    async with (
        asyncio.timeout(STREAM_DEADLINE),
        serve(api_app) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        headers = {"Last-Event-ID": str(seen_id)}
        async with http.stream(
            "GET", f"/users/{user_id}/events/stream", headers=headers
        ) as response:
            lines = response.aiter_lines()
            assert await anext(lines) == "retry: 3000"
            assert (await next_event(lines))["id"] == missed_id
            live = await http.post(f"/users/{user_id}/events", json={"kind": "live"})
            assert (await next_event(lines))["id"] == live.json()["id"]
        await subscribers_gone(broadcaster)


def event_message(event_id: int) -> str:
    now = utcnow()
    event = EventRead(id=event_id, created_at=now, updated_at=now, user_id=1, kind="k", payload={})
    return event.model_dump_json()


async def test_stream_ends_when_its_subscriber_falls_behind() -> None:
    broadcaster = InMemoryBroadcaster(queue_size=1)
    stream = stream_user_events(broadcaster, 1)
    async with asyncio.timeout(STREAM_DEADLINE):
        assert await anext(stream) == "retry: 3000\n\n"
        await broadcaster.publish(events_channel(1), event_message(1))
        await broadcaster.publish(events_channel(1), event_message(2))  # overflows
        frames = [frame async for frame in stream]
    assert len(frames) == 1
    assert frames[0].startswith("id: 1\n")
    assert broadcaster.subscriber_count() == 0


async def test_idle_stream_sends_keep_alives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.sse, "KEEPALIVE_SECONDS", 0.01)
    broadcaster = InMemoryBroadcaster()
    stream = stream_user_events(broadcaster, 1)
    async with asyncio.timeout(STREAM_DEADLINE):
        assert await anext(stream) == "retry: 3000\n\n"
        assert await anext(stream) == ": keep-alive\n\n"
        await broadcaster.publish(events_channel(1), event_message(7))
        frame = await anext(stream)
        while frame.startswith(":"):
            frame = await anext(stream)
        assert frame.startswith("id: 7\n")
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
    monkeypatch.setattr(app.sse, "MAX_PAGE_SIZE", 2)
    user_id = user.id
    events = EventRepository(db_session)
    ids = [(await events.create(user_id, kind="k", payload={"n": n})).id for n in range(6)]
    await db_session.commit()

    broadcaster = InMemoryBroadcaster()
    stream = stream_user_events(broadcaster, user_id, last_event_id=ids[0])
    async with asyncio.timeout(STREAM_DEADLINE):
        assert await anext(stream) == "retry: 3000\n\n"
        frames = [await anext(stream) for _ in ids[1:]]
        await stream.aclose()
    assert [int(frame.split("\n")[0].removeprefix("id: ")) for frame in frames] == ids[1:]
    assert broadcaster.subscriber_count() == 0
