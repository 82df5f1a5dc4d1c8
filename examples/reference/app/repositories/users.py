"""`UserRepository`: users, unique by their lower-cased email."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from app.models import User
from app.repositories.base import DEFAULT_PAGE_SIZE, Repository
from core.database import NotFoundError

__all__ = ["UserRepository"]


class UserRepository(Repository[User]):
    """Create, find, page through, update and delete users."""

    model = User
    noun = "user"
    updatable = frozenset({"email", "name"})

    async def create(self, *, email: str, name: str | None = None) -> User:
        """A new user; a taken email raises UniqueViolation."""
        return await self._add(User(email=email, name=name))

    async def get_by_email(self, email: str) -> User:
        """The user with this email (any case), or NotFoundError."""
        found = await self.session.scalar(select(User).where(User.email == email.strip().lower()))
        if found is None:
            raise NotFoundError("no user with that email")
        return found

    async def list(
        self, *, after_id: int | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> Sequence[User]:
        """Up to `limit` users with an id above `after_id`, by id."""
        return await self._page(select(User), after_id, limit)
