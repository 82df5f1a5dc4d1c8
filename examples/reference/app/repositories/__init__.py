"""The app's repositories: data access on a caller's AsyncSession (the caller commits)."""

from __future__ import annotations

from app.repositories.base import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, require_user
from app.repositories.events import EventRepository
from app.repositories.tokens import TokenRepository, hash_secret
from app.repositories.users import UserRepository

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "EventRepository",
    "TokenRepository",
    "UserRepository",
    "hash_secret",
    "require_user",
]
