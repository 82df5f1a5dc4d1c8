"""The app's tables, on the toolkit's `Base`: notes and their comments."""

from __future__ import annotations

from core.database import Base, IntIdMixin, TimestampMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

__all__ = ["Base", "Comment", "Note"]


class Note(IntIdMixin, TimestampMixin, Base):
    """A note with a unique title."""

    __tablename__ = "notes"

    title: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(default="")
    comments: Mapped[list[Comment]] = relationship(
        back_populates="note", cascade="all, delete-orphan", passive_deletes=True
    )


class Comment(IntIdMixin, TimestampMixin, Base):
    """A comment on a note; deleted with it."""

    __tablename__ = "comments"

    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"), index=True)
    text: Mapped[str]
    note: Mapped[Note] = relationship(back_populates="comments")
