"""Pydantic v2 shapes of the API: what clients send and what they get back."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Generic, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from app.models import EMAIL_LENGTH, KIND_LENGTH

__all__ = [
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


def _no_nul(value: str) -> str:
    # Postgres text cannot hold NUL while SQLite can: refuse it on both, as a 422.
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


def _portable_json(value: Any) -> Any:
    # JSONB refuses NaN/Infinity and NUL characters that SQLite's JSON text would
    # keep: refusing them here makes both backends answer the same 422.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and Infinity are not JSON")
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(str(key))
            _portable_json(item)
    elif isinstance(value, list):
        for item in value:
            _portable_json(item)
    return value


def _check_email(value: str) -> str:
    # A light shape check: the address is only an identifier here, never mailed.
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain.strip(".") or " " in value:
        raise ValueError("not an email address")
    return value.lower()


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=EMAIL_LENGTH),
    AfterValidator(_no_nul),
    AfterValidator(_check_email),
]
Kind = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=KIND_LENGTH),
    AfterValidator(_no_nul),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]
Payload = Annotated[dict[str, Any], AfterValidator(_portable_json)]


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

    name: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, max_length=100), AfterValidator(_no_nul)
        ]
        | None
    ) = None
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


class EventCreate(BaseModel):
    """A new event of a user."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    payload: Payload = Field(default_factory=dict)


class EventRead(_Read):
    """An event as the API (and the event stream) returns it."""

    user_id: int
    kind: str
    payload: dict[str, Any]


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

    secret: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Health(BaseModel):
    """The answer of `GET /health`."""

    status: str
    database: str


class Stats(BaseModel):
    """Row counts across the app."""

    users: int
    tokens: int
    active_tokens: int
    events: int
    events_by_kind: dict[str, int]
