"""Tables used only by the toolkit's own tests, kept apart from the app's metadata."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.database import Base, ExactDecimal, IntIdMixin, TimestampMixin, new_metadata


class TestBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Parent(IntIdMixin, TimestampMixin, TestBase):
    __tablename__ = "parity_parents"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    children: Mapped[list[Child]] = relationship(back_populates="parent", passive_deletes=True)


class Child(IntIdMixin, TimestampMixin, TestBase):
    __tablename__ = "parity_children"

    parent_id: Mapped[int] = mapped_column(ForeignKey("parity_parents.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100))
    parent: Mapped[Parent] = relationship(back_populates="children")


class Item(IntIdMixin, TimestampMixin, TestBase):
    __tablename__ = "parity_items"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_non_negative"),)

    quantity: Mapped[int] = mapped_column(default=0)
    price: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2))
    amount: Mapped[Decimal | None]
    payload: Mapped[dict[str, Any] | None]
    tags: Mapped[list[Any] | None]
    token: Mapped[uuid.UUID | None]
    color: Mapped[Color | None]
    active: Mapped[bool] = mapped_column(default=True)
    happened_at: Mapped[datetime | None]
    secret: Mapped[str | None] = mapped_column(String(200))


class Counter(IntIdMixin, TestBase):
    __tablename__ = "parity_counters"

    value: Mapped[int] = mapped_column(default=0)


class Note(IntIdMixin, TestBase):
    """The portable spelling of a length limit: unbounded text plus a named CHECK."""

    __tablename__ = "parity_notes"
    __table_args__ = (CheckConstraint("length(title) <= 20", name="title_length"),)

    # String(20) would be enforced on Postgres only (and as a DataError, not a CHECK).
    title: Mapped[str] = mapped_column(String())
    bounded: Mapped[str | None] = mapped_column(String(5))


class FeedItem(IntIdMixin, TestBase):
    """A row of a followed stream (tests/test_broadcast_follow.py); its id is its position."""

    __tablename__ = "feed_items"

    feed: Mapped[str] = mapped_column(String(50), index=True)
    body: Mapped[str] = mapped_column(String(100))


class Measure(IntIdMixin, TestBase):
    """One column of each kind that SQL functions compute over (tests/test_functions*.py)."""

    __tablename__ = "parity_measures"

    label: Mapped[str | None] = mapped_column(String())
    small: Mapped[int | None]
    big: Mapped[int | None] = mapped_column(BigInteger())
    ratio: Mapped[float | None]
    money: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2))
    flag: Mapped[bool | None]
    at: Mapped[datetime | None]
    later: Mapped[datetime | None]
    took: Mapped[timedelta | None]
