"""A user's events: record, list, and follow live (Server-Sent Events or a WebSocket)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, WebSocket
from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import OwnUserId, StreamUserId
from app.deps import MAX_ID, AfterId, BroadcasterDep, Limit, RowId, SettingsDep
from app.models import Event
from app.repositories import DEFAULT_PAGE_SIZE, EventRepository
from app.schemas import EventCreate, EventRead, Page
from app.sse import EventStreamResponse, stream_user_events
from app.stream import events_channel
from app.websocket import serve_user_events
from core.database import SessionDep
from core.database.broadcast import Broadcaster, position_message, publish_on_commit

__all__ = ["announce_on_commit", "router"]

router = APIRouter(prefix="/users/{user_id}/events", tags=["events"])


def announce_on_commit(session: AsyncSession, broadcaster: Broadcaster, event: Event) -> None:
    """Tell the user's live streams, in every worker, once the session commits.

    An event that is rolled back is never announced. The message is the event's
    position, known only at the commit; streams read the event from the database.
    """

    def message() -> str:
        assert event.position is not None  # numbered in before_commit
        return position_message(event.position)

    publish_on_commit(session, events_channel(event.user_id), message, broadcaster=broadcaster)


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


@router.websocket("/ws")
async def events_websocket(
    websocket: WebSocket,
    user_id: RowId,
    broadcaster: BroadcasterDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> None:
    """The same stream as `/stream` over a WebSocket: one JSON event per text message.

    The same token as the stream (`Authorization: Bearer`, or `?access_token=`);
    `after` is the last position the client saw.
    """
    await serve_user_events(websocket, broadcaster, user_id, after)
