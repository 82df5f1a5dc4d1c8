"""The reference app's tables: users, their API tokens and their events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.database import Base, IntIdMixin, TimestampMixin

__all__ = ["Event", "EventStream", "Token", "User"]

EMAIL_LENGTH = 320
KIND_LENGTH = 64
# A sha256 hex digest: the only form in which a token's secret is stored.
SECRET_HASH_LENGTH = 64


class User(IntIdMixin, TimestampMixin, Base):
    """A person; the email is unique and stored in lower case."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("length(email) > 0", name="email_not_empty"),)

    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))

    # The database deletes a user's tokens and events (ON DELETE CASCADE); the ORM
    # does not load them first.
    tokens: Mapped[list[Token]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        # Lower case before it reaches the unique index, so Ann@x and ann@x collide.
        return value.strip().lower()


class Token(IntIdMixin, TimestampMixin, Base):
    """An API token of a user: only the sha256 of its secret is kept."""

    __tablename__ = "tokens"
    __table_args__ = (
        CheckConstraint(f"length(secret_hash) = {SECRET_HASH_LENGTH}", name="secret_hash_length"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(SECRET_HASH_LENGTH), unique=True)
    expires_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(back_populates="tokens")


class Event(IntIdMixin, TimestampMixin, Base):
    """Something that happened to a user: a short `kind` and a JSON payload.

    `position` numbers a user's events 1, 2, 3, ... in commit order (see
    `app.positions`); it is NULL only inside the transaction that inserts the
    event, until that transaction commits.
    """

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("length(kind) > 0", name="kind_not_empty"),
        # Serves "a user's events after id N" (keyset pagination) from the index alone.
        Index("ix_events_user_id_id", "user_id", "id"),
        # Serves "a user's events after position N" (stream resume); one event per position.
        Index("ix_events_user_id_position", "user_id", "position", unique=True),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    position: Mapped[int | None] = mapped_column(BigInteger)

    user: Mapped[User] = relationship(back_populates="events")


class EventStream(Base):
    """The last position handed out in one user's event stream.

    Its row is locked from the moment a transaction takes positions until that
    transaction commits, so positions are handed out in commit order.
    """

    __tablename__ = "event_streams"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(BigInteger, default=0)
