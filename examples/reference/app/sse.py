"""Server-Sent Events: a user's events, streamed once they are committed.

The stream holds no database session: it waits on a `Broadcaster` subscription
fed by `on_commit`, and opens a short transaction only to read the events a
reconnecting client missed (`Last-Event-ID`) or a live message skipped. Events
are identified by their position, which follows commit order (`app.positions`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio
from pydantic import BaseModel, ValidationError
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.broadcast import Broadcaster
from app.repositories import MAX_PAGE_SIZE, EventRepository
from app.schemas import EventRead
from core.database import transaction

__all__ = ["EventStreamResponse", "StreamNotice", "events_channel", "stream_user_events"]

RETRY_MS = 3000
KEEPALIVE_SECONDS = 15.0


def events_channel(user_id: int) -> str:
    """The broadcaster channel of one user's events."""
    return f"users.{user_id}.events"


class StreamNotice(BaseModel):
    """The least a broadcaster message carries: the position of a committed event."""

    position: int


def _frame(event: EventRead) -> str:
    return f"id: {event.position}\ndata: {event.model_dump_json()}\n\n"


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


async def _committed(user_id: int, after: int, through: int) -> AsyncIterator[EventRead]:
    # Positions after..through, in order; one short transaction per page, so no
    # session is held while the client reads.
    while after < through:
        async with transaction() as session:
            rows = await EventRepository(session).after_position(
                user_id, after, through=through, limit=MAX_PAGE_SIZE
            )
            page = [EventRead.model_validate(row) for row in rows]
        for event in page:
            yield event
        if len(page) < MAX_PAGE_SIZE:
            return
        after = page[-1].position


async def _last_position(user_id: int) -> int:
    async with transaction() as session:
        return await EventRepository(session).last_position(user_id)


def _parse(message: str) -> tuple[int, EventRead | None]:
    # A whole event, or a notice carrying only its position (a broadcaster that
    # cannot carry payloads, such as Postgres NOTIFY, may send just that).
    notice = StreamNotice.model_validate_json(message)
    try:
        return notice.position, EventRead.model_validate_json(message)
    except ValidationError:
        return notice.position, None


async def _in_position_order(
    messages: AsyncIterator[str], user_id: int, last: int
) -> AsyncIterator[EventRead | None]:
    """Live events after position `last`, each position once and in order; None when idle.

    Messages may arrive late, twice or out of order (publishers announce after their
    own commit, in no agreed order): any position skipped is read from the database.
    """
    iterator = aiter(messages)
    while True:
        try:
            async with asyncio.timeout(KEEPALIVE_SECONDS):
                message = await anext(iterator)
        except TimeoutError:
            yield None
            continue
        except StopAsyncIteration:
            return  # dropped for falling behind: the client resumes with Last-Event-ID
        position, event = _parse(message)
        if position <= last:
            continue  # replayed, or delivered already
        if position == last + 1 and event is not None:
            yield event
            last = position
            continue
        # A gap: an earlier commit's message is late or lost. Every position up to
        # this one is committed (positions follow commit order): read them.
        async for missed in _committed(user_id, last, through=position):
            yield missed
        last = position  # one deleted since is skipped, not waited for


async def stream_user_events(
    broadcaster: Broadcaster, user_id: int, last_event_id: int | None = None
) -> AsyncIterator[str]:
    """SSE frames: `retry:` once subscribed, missed events, then each new one.

    Every frame's `id:` is the event's position; a client that reconnects with
    the last one it saw (`Last-Event-ID`) receives every event committed after
    it, once, in commit order.
    """
    async with broadcaster.subscribe(events_channel(user_id)) as messages:
        head = await _last_position(user_id)
        # Sent only after subscribing: a client that has read this line receives
        # every event committed from then on.
        yield f"retry: {RETRY_MS}\n\n"
        # No Last-Event-ID: from now on. One beyond the head (a database restored
        # from a backup): from the head, or new events would pass for seen ones.
        resume_after = head if last_event_id is None else min(last_event_id, head)
        async for missed in _committed(user_id, resume_after, through=head):
            yield _frame(missed)
        async for event in _in_position_order(messages, user_id, head):
            yield ": keep-alive\n\n" if event is None else _frame(event)
