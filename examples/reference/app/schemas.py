"""Pydantic v2 shapes of the API: what clients send and what they get back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.fields import Email, Kind, Name, Payload, Secret, TokenName

__all__ = [
    "CreatedUser",
    "EventCreate",
    "EventRead",
    "Health",
    "IssuedToken",
    "Page",
    "Stats",
    "TokenCheck",
    "TokenCreate",
    "TokenRead",
    "UserCreate",
    "UserRead",
    "UserUpdate",
]

DEFAULT_TOKEN_DAYS = 30
MAX_TOKEN_DAYS = 365


class _Identified(Protocol):
    id: int


ItemT = TypeVar("ItemT", bound=BaseModel)


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    updated_at: datetime


class UserCreate(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name | None = None


class UserUpdate(BaseModel):
    """Fields of a user to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    name: Name | None = None

    @field_validator("email")
    @classmethod
    def _email_not_null(cls, value: str | None) -> str:
        # Leaving `email` out keeps it; an explicit null cannot clear it.
        if value is None:
            raise ValueError("email cannot be null")
        return value


class UserRead(_Read):
    """A user as the API returns it."""

    email: str
    name: str | None


class TokenCreate(BaseModel):
    """A token to issue: an optional label and its lifetime in days."""

    model_config = ConfigDict(extra="forbid")

    name: TokenName | None = None
    days: int = Field(default=DEFAULT_TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS)

    @property
    def lifetime(self) -> timedelta:
        """How long the token stays valid."""
        return timedelta(days=self.days)


class TokenRead(_Read):
    """A token without its secret."""

    user_id: int
    name: str | None
    expires_at: datetime
    revoked: bool


class IssuedToken(TokenRead):
    """A token just issued: the only response that ever carries its secret."""

    secret: str


class CreatedUser(UserRead):
    """A user just created, with a first API token: the way in to every other route."""

    token: IssuedToken


class EventCreate(BaseModel):
    """A new event of a user."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    payload: Payload = Field(default_factory=dict)


class EventRead(_Read):
    """An event as the API (and the event stream) returns it.

    `position` numbers the user's events 1, 2, 3, ... in commit order: the event
    stream's `id:`, and what a client resumes from (`Last-Event-ID`).
    """

    user_id: int
    kind: str
    payload: dict[str, Any]
    position: int


class Page(BaseModel, Generic[ItemT]):
    """One page of a keyset-paginated list: pass `next_after_id` as `after_id` for the next."""

    items: list[ItemT]
    next_after_id: int | None

    @classmethod
    def of(cls, rows: Sequence[_Identified], limit: int, item: type[ItemT]) -> Page[ItemT]:
        """The page holding `rows`; a full page says where the next one starts."""
        next_after_id = rows[-1].id if rows and len(rows) >= limit else None
        return cls(items=[item.model_validate(row) for row in rows], next_after_id=next_after_id)


class TokenCheck(BaseModel):
    """A secret to verify."""

    model_config = ConfigDict(extra="forbid")

    secret: Secret


class Health(BaseModel):
    """The answer of `GET /health`: ok, saturated (answers, every pooled connection in use)
    or unavailable."""

    status: str
    database: str
    pool_in_use: int | None = None
    pool_limit: int | None = None


class Stats(BaseModel):
    """Row counts across the app."""

    users: int
    tokens: int
    active_tokens: int
    events: int
    events_by_kind: dict[str, int]
