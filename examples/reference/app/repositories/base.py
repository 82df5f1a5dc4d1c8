"""What every repository shares: lookup by id, keyset pages, partial updates, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from core.database import IntIdMixin, NotFoundError

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Repository", "require_user"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

ModelT = TypeVar("ModelT", bound=IntIdMixin)


async def require_user(session: AsyncSession, user_id: int) -> User:
    """The user with this id, or NotFoundError (a clear 404 rather than a foreign-key 422)."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


class Repository(Generic[ModelT]):
    """Data access for one model on a caller's AsyncSession; the caller commits.

    Writes are flushed at once, so ids are known and a duplicate raises
    `UniqueViolation` from the call that caused it.
    """

    model: type[ModelT]
    noun: ClassVar[str]
    updatable: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: int) -> ModelT:
        """The row with this id, or NotFoundError."""
        found = await self.session.get(self.model, id_)
        if found is None:
            raise NotFoundError(f"{self.noun} {id_} not found")
        return found

    async def update(self, id_: int, **changes: Any) -> ModelT:
        """Set the given fields (only those in `updatable`) and flush."""
        unknown = sorted(set(changes) - self.updatable)
        if unknown:
            raise TypeError(f"{self.noun} fields that cannot be updated: {', '.join(unknown)}")
        found = await self.get(id_)
        for name, value in changes.items():
            setattr(found, name, value)
        await self.session.flush()
        return found

    async def delete(self, id_: int) -> None:
        """Delete the row (the database cascades to its children), or NotFoundError."""
        found = await self.get(id_)
        await self.session.delete(found)
        await self.session.flush()

    async def _add(self, row: ModelT) -> ModelT:
        self.session.add(row)
        await self.session.flush()
        return row

    async def _page(
        self, statement: Select[ModelT], after_id: int | None, limit: int
    ) -> Sequence[ModelT]:
        # Keyset pagination: "id > last seen" stays fast and stable on any page,
        # unlike OFFSET, which rescans and shifts when rows are added.
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if after_id is not None:
            statement = statement.where(self.model.id > after_id)
        result = await self.session.scalars(statement.order_by(self.model.id).limit(limit))
        return result.all()
