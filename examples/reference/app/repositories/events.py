"""`EventRepository`: what happened to a user, with a JSON payload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from app.models import Event, EventStream
from app.repositories.base import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Repository, require_user

__all__ = ["EventRepository"]


class EventRepository(Repository[Event]):
    """Record, page through, update and delete events."""

    model = Event
    noun = "event"
    updatable = frozenset({"kind", "payload"})

    async def create(
        self, user_id: int, *, kind: str, payload: dict[str, Any] | None = None
    ) -> Event:
        """A new event of the user; NotFoundError if the user does not exist."""
        await require_user(self.session, user_id)
        return await self._add(Event(user_id=user_id, kind=kind, payload=payload or {}))

    async def list(
        self,
        *,
        user_id: int | None = None,
        after_id: int | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Sequence[Event]:
        """Up to `limit` events (of one user, if given) with an id above `after_id`, by id."""
        statement = select(Event)
        if user_id is not None:
            statement = statement.where(Event.user_id == user_id)
        return await self._page(statement, after_id, limit)

    async def after_position(
        self,
        user_id: int,
        position: int,
        *,
        through: int | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Sequence[Event]:
        """Up to `limit` committed events of the user after `position` (to `through`), in order.

        Positions are handed out in commit order (`app.positions`), so this never
        skips an event that commits later: resume from the last position seen.
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        statement = select(Event).where(Event.user_id == user_id, Event.position > position)
        if through is not None:
            statement = statement.where(Event.position <= through)
        result = await self.session.scalars(statement.order_by(Event.position).limit(limit))
        return result.all()

    async def last_position(self, user_id: int) -> int:
        """The position of the user's last committed event (0 before the first)."""
        statement = select(EventStream.position).where(EventStream.user_id == user_id)
        return await self.session.scalar(statement) or 0
