"""Reusable columns: `TimestampMixin` and a portable integer primary key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from core.database.types import BigIntPK, UTCDateTime, utcnow

__all__ = ["IntIdMixin", "TimestampMixin", "same_as_created"]


def same_as_created(context: DefaultExecutionContext) -> datetime:
    """`updated_at`'s insert default: the row's `created_at`, one instant for both."""
    created = context.get_current_parameters().get("created_at")  # type: ignore[no-untyped-call]
    return created if isinstance(created, datetime) else utcnow()


class TimestampMixin:
    """`created_at` and `updated_at`: NOT NULL, aware UTC, maintained on every write.

    Values are computed in Python, so they are on the object right after a flush
    (no expired attribute, no MissingGreenlet) and Core `update()` bumps
    `updated_at` too. The server default covers raw SQL inserts and migrations
    that add these columns to a table that already has rows.
    """

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        default=utcnow,
        server_default=func.current_timestamp(),
        nullable=False,
        sort_order=900,
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        default=same_as_created,
        onupdate=utcnow,
        server_default=func.current_timestamp(),
        nullable=False,
        sort_order=901,
    )


class IntIdMixin:
    """`id`: BIGSERIAL on Postgres (a BIGINT fed by a sequence), the rowid alias on SQLite.

    Not an identity column: histories already created their keys as BIGSERIAL, and
    moving them would need a revision per table in every host app for no change an
    app can see (both take explicit ids, both draw from a sequence).
    """

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, sort_order=-1)
