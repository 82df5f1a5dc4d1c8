"""Server-Sent Events: a user's events, streamed once they are committed.

The stream holds no database session: it waits on a `Broadcaster` subscription
fed by `on_commit`, and opens a short transaction only to replay the events a
reconnecting client missed (`Last-Event-ID`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.broadcast import Broadcaster
from app.repositories import MAX_PAGE_SIZE, EventRepository
from app.schemas import EventRead
from core.database import transaction

__all__ = ["EventStreamResponse", "events_channel", "stream_user_events"]

RETRY_MS = 3000
KEEPALIVE_SECONDS = 15.0


def events_channel(user_id: int) -> str:
    """The broadcaster channel of one user's events."""
    return f"users.{user_id}.events"


def _frame(event: EventRead) -> str:
    return f"id: {event.id}\ndata: {event.model_dump_json()}\n\n"


class EventStreamResponse(StreamingResponse):
    """`text/event-stream` that ends as soon as the client disconnects."""

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette stops watching for disconnects on ASGI 2.4 servers and notices
        # one only at the next write: an idle stream would keep its subscriber until
        # the next keep-alive. Watch always, and cancel the stream at once.
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                with contextlib.suppress(OSError):
                    await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


async def _missed(user_id: int, after_id: int) -> AsyncIterator[EventRead]:
    # One short transaction per page: no session is held while the client reads.
    while True:
        async with transaction() as session:
            rows = await EventRepository(session).list(
                user_id=user_id, after_id=after_id, limit=MAX_PAGE_SIZE
            )
            page = [EventRead.model_validate(row) for row in rows]
        for event in page:
            yield event
        if len(page) < MAX_PAGE_SIZE:
            return
        after_id = page[-1].id


async def stream_user_events(
    broadcaster: Broadcaster, user_id: int, last_event_id: int | None = None
) -> AsyncIterator[str]:
    """SSE frames: `retry:` once subscribed, missed events, then each new one."""
    async with broadcaster.subscribe(events_channel(user_id)) as messages:
        # Sent only after subscribing: a client that has read this line receives
        # every event committed from then on.
        yield f"retry: {RETRY_MS}\n\n"
        replayed: set[int] = set()
        if last_event_id is not None:
            async for event in _missed(user_id, last_event_id):
                replayed.add(event.id)
                yield _frame(event)
        iterator = aiter(messages)
        while True:
            try:
                async with asyncio.timeout(KEEPALIVE_SECONDS):
                    message = await anext(iterator)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            except StopAsyncIteration:
                # Dropped for falling behind: the client reconnects with Last-Event-ID.
                return
            event = EventRead.model_validate_json(message)
            if event.id in replayed:
                replayed.discard(event.id)
                continue
            yield _frame(event)
