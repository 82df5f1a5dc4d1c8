"""The bench's tables as SQLModel classes, as a SQLModel user writes them.

No `from __future__ import annotations` here: SQLModel resolves relationship
annotations when the class is created.
"""

from datetime import datetime

from sqlmodel import Field, Relationship, SQLModel

__all__ = ["SQLModelChild", "SQLModelParent", "SQLModelUser"]


class SQLModelUser(SQLModel, table=True):
    """The reference app's `users` table."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str
    name: str | None = None
    created_at: datetime
    updated_at: datetime


class SQLModelParent(SQLModel, table=True):
    __tablename__ = "bench_parents"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    created_at: datetime
    updated_at: datetime
    children: list["SQLModelChild"] = Relationship(back_populates="parent")


class SQLModelChild(SQLModel, table=True):
    __tablename__ = "bench_children"

    id: int | None = Field(default=None, primary_key=True)
    parent_id: int = Field(foreign_key="bench_parents.id")
    name: str
    created_at: datetime
    updated_at: datetime
    parent: SQLModelParent = Relationship(back_populates="children")
