"""A user's committed events in commit order: the one stream SSE and WebSocket both serve.

`core.database.broadcast.follow` does the work: the broadcaster only wakes the
stream, and the events come from the database after the client's last position
(positions follow commit order, see `app.positions`), so every worker process
delivers the same events, each once, in commit order.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

from app.repositories import MAX_PAGE_SIZE, EventRepository
from app.schemas import EventRead
from core.database import transaction
from core.database.broadcast import Broadcaster, follow

__all__ = ["KEEPALIVE_SECONDS", "events_channel", "follow_user_events", "position_of"]

KEEPALIVE_SECONDS = 15.0


def events_channel(user_id: int) -> str:
    """The broadcaster channel of one user's events."""
    return f"users.{user_id}.events"


def position_of(event: EventRead) -> int:
    """An event's place in its stream: what a client resumes from."""
    return event.position


def follow_user_events(
    broadcaster: Broadcaster, user_id: int, after: int | None = None
) -> AsyncGenerator[Sequence[EventRead], None]:
    """Batches of the user's events after position `after` (None: from now); `[]` when idle.

    A position beyond the user's last one (a database restored from a backup) resumes
    from the last one, or new events would pass for seen ones.
    """

    async def read_after(position: int, limit: int) -> list[EventRead]:
        # One short transaction per page: no session is held while the client reads.
        async with transaction() as session:
            rows = await EventRepository(session).after_position(user_id, position, limit=limit)
            return [EventRead.model_validate(row) for row in rows]

    async def head() -> int:
        async with transaction() as session:
            return await EventRepository(session).last_position(user_id)

    return follow(
        broadcaster,
        events_channel(user_id),
        read_after,
        position_of,
        after=after,
        head=head,
        idle=KEEPALIVE_SECONDS,
        page_size=MAX_PAGE_SIZE,
    )
