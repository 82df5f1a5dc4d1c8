"""A user's events: record, list, and follow live (Server-Sent Events)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header

from app.deps import MAX_ID, AfterId, BroadcasterDep, Limit, RowId
from app.repositories import DEFAULT_PAGE_SIZE, EventRepository, require_user
from app.schemas import EventCreate, EventRead, Page
from app.sse import EventStreamResponse, events_channel, stream_user_events
from core.database import SessionDep, on_commit, transaction

__all__ = ["router"]

router = APIRouter(prefix="/users/{user_id}/events", tags=["events"])


@router.post("", status_code=201)
async def record_event(
    user_id: RowId, body: EventCreate, session: SessionDep, broadcaster: BroadcasterDep
) -> EventRead:
    """Record an event; live streams receive it once it is committed."""
    event = await EventRepository(session).create(user_id, kind=body.kind, payload=body.payload)
    read = EventRead.model_validate(event)
    # After the commit only: an event that is rolled back is never announced.
    on_commit(
        session, partial(broadcaster.publish, events_channel(user_id), read.model_dump_json())
    )
    return read


@router.get("")
async def list_events(
    user_id: RowId, session: SessionDep, after_id: AfterId = None, limit: Limit = DEFAULT_PAGE_SIZE
) -> Page[EventRead]:
    """A user's events by id; pass `next_after_id` as `after_id` for the next page."""
    await require_user(session, user_id)
    events = await EventRepository(session).list(user_id=user_id, after_id=after_id, limit=limit)
    return Page.of(events, limit, EventRead)


@router.get("/stream", response_class=EventStreamResponse)
async def stream_events(
    user_id: RowId,
    broadcaster: BroadcasterDep,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_ID)] = None,
) -> EventStreamResponse:
    """The user's events as Server-Sent Events, from `Last-Event-ID` on if given."""
    # A short transaction, not SessionDep: a stream must not hold a session open.
    async with transaction() as session:
        await require_user(session, user_id)
    return EventStreamResponse(
        stream_user_events(broadcaster, user_id, last_event_id),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
