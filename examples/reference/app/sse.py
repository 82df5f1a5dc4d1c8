"""Server-Sent Events: a user's events, streamed once they are committed.

The stream holds no database session between reads (see `app.stream`); the
`id:` of each frame is the event's position, which a reconnecting client sends
back as `Last-Event-ID`, to this worker or any other.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.schemas import EventRead
from app.stream import follow_user_events, position_of
from core.database.broadcast import Broadcaster

__all__ = ["EventStreamResponse", "stream_user_events"]

RETRY_MS = 3000


def _frame(event: EventRead) -> str:
    return f"id: {position_of(event)}\ndata: {event.model_dump_json()}\n\n"


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


async def stream_user_events(
    broadcaster: Broadcaster, user_id: int, last_event_id: int | None = None
) -> AsyncIterator[str]:
    """SSE frames: `retry:` once subscribed, then every event after `last_event_id`."""
    events = follow_user_events(broadcaster, user_id, after=last_event_id)
    try:
        # follow()'s first batch comes once it is subscribed: a client that has read
        # `retry:` receives every later commit.
        batch = await anext(events)
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            for event in batch:
                yield _frame(event)
            batch = await anext(events)
            if not batch:
                yield ": keep-alive\n\n"
    except StopAsyncIteration:
        return
    finally:
        await events.aclose()
