"""The example's one table: tasks with a title, a slug (filled by migration 0002) and a flag."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, IntIdMixin, TimestampMixin, new_metadata


class TasksBase(Base):
    """Tables of this example only (kept out of any other app's metadata)."""

    __abstract__ = True
    metadata = new_metadata()


class Task(IntIdMixin, TimestampMixin, TasksBase):
    __tablename__ = "tasks"

    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str | None] = mapped_column(String(200))
    done: Mapped[bool] = mapped_column(default=False)
