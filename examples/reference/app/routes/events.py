"""A user's events: record, list, and follow live (Server-Sent Events)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException
from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import OwnUserId, StreamUserId
from app.broadcast import Broadcaster
from app.deps import MAX_ID, AfterId, BroadcasterDep, Limit, SettingsDep
from app.models import Event
from app.repositories import DEFAULT_PAGE_SIZE, EventRepository
from app.schemas import EventCreate, EventRead, Page
from app.sse import EventStreamResponse, events_channel, stream_user_events
from core.database import SessionDep, on_commit

__all__ = ["announce_on_commit", "router"]

router = APIRouter(prefix="/users/{user_id}/events", tags=["events"])


def announce_on_commit(session: AsyncSession, broadcaster: Broadcaster, event: Event) -> None:
    """Publish `event` to its user's live streams once the session commits, never before.

    An event that is rolled back is never announced. The message is built after the
    commit, when the event has its position.
    """
    channel = events_channel(event.user_id)

    async def publish() -> None:
        await broadcaster.publish(channel, EventRead.model_validate(event).model_dump_json())

    on_commit(session, publish)


@router.post("", status_code=201, responses={413: {"description": "payload too large"}})
async def record_event(
    user_id: OwnUserId,
    body: EventCreate,
    session: SessionDep,
    broadcaster: BroadcasterDep,
    settings: SettingsDep,
) -> EventRead:
    """Record an event; live streams receive it once it is committed.

    413 if its payload, as compact JSON, is over the payload limit.
    """
    limit = settings.max_event_payload_bytes
    if len(to_json(body.payload)) > limit:
        raise HTTPException(status_code=413, detail=f"event payload larger than {limit} bytes")
    event = await EventRepository(session).create(user_id, kind=body.kind, payload=body.payload)
    announce_on_commit(session, broadcaster, event)
    # The position is taken at the commit: commit here, so the response carries it.
    await session.commit()
    return EventRead.model_validate(event)


@router.get("")
async def list_events(
    user_id: OwnUserId,
    session: SessionDep,
    after_id: AfterId = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> Page[EventRead]:
    """The user's events by id; pass `next_after_id` as `after_id` for the next page."""
    events = await EventRepository(session).list(user_id=user_id, after_id=after_id, limit=limit)
    return Page.of(events, limit, EventRead)


@router.get("/stream", response_class=EventStreamResponse)
async def stream_events(
    user_id: StreamUserId,
    broadcaster: BroadcasterDep,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_ID)] = None,
) -> EventStreamResponse:
    """The user's events as Server-Sent Events, after position `Last-Event-ID` if given.

    Each event's SSE `id:` is its position. Takes the token as a bearer header, or as
    `?access_token=` for a browser's EventSource (which cannot send headers).
    """
    # The token was checked in a session that ends before the stream starts: a
    # stream holds no session while it waits.
    return EventStreamResponse(
        stream_user_events(broadcaster, user_id, last_event_id),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
