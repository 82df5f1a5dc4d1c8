"""The databases under test, the bench's tables and their rows.

`users` is the reference app's table; `bench_wide` (10 columns) feeds the raw
helpers, `bench_bulk` (with TimestampMixin) takes the bulk loads.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite
from sqlalchemy import Boolean, Float, ForeignKey, Integer, MetaData, String, Table
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.schema import CreateTable

import app.models  # noqa: F401  (registers the app's tables on Base.metadata)
from app.models import User
from core.database import Base, IntIdMixin, TimestampMixin, bulk_insert, new_metadata

__all__ = [
    "CHILDREN",
    "PARENTS",
    "USERS",
    "WIDE_COLUMNS",
    "WIDE_ROWS",
    "Backend",
    "BenchBase",
    "BulkRow",
    "ReadChild",
    "ReadParent",
    "Wide",
    "bulk_rows",
    "create_schema",
    "raw_sqlite",
    "stdlib_sqlite",
    "user_rows",
    "wide_rows",
]

USERS = 1000
WIDE_ROWS = 1000
SEED_TIME = datetime(2024, 1, 1, tzinfo=UTC)


class BenchBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Wide(IntIdMixin, BenchBase):
    """Ten columns of the everyday kinds, for fetch_all / fetch_one."""

    __tablename__ = "bench_wide"

    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50))
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    amount: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(20))


WIDE_COLUMNS = "id, name, email, city, score, rank, active, amount, note, code"


class BulkRow(IntIdMixin, TimestampMixin, BenchBase):
    """The bulk-insert target: five values per row plus the two timestamps."""

    __tablename__ = "bench_bulk"

    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)


class ReadParent(IntIdMixin, TimestampMixin, BenchBase):
    """Case 5's parents: 1,000, each with five children."""

    __tablename__ = "bench_parents"

    name: Mapped[str] = mapped_column(String(50))
    children: Mapped[list[ReadChild]] = relationship(back_populates="parent")


class ReadChild(IntIdMixin, TimestampMixin, BenchBase):
    __tablename__ = "bench_children"

    parent_id: Mapped[int] = mapped_column(ForeignKey("bench_parents.id"))
    name: Mapped[str] = mapped_column(String(50))
    parent: Mapped[ReadParent] = relationship(back_populates="children")


PARENTS = 1000
CHILDREN = 5


@dataclass(frozen=True)
class Backend:
    """A database the cases run on."""

    key: str  # sqlite-file, sqlite-memory, postgres
    label: str
    url: str

    @property
    def dialect(self) -> str:
        return "postgresql" if self.url.startswith("postgresql") else "sqlite"

    @property
    def memory(self) -> bool:
        return self.key == "sqlite-memory"

    @property
    def path(self) -> str:
        """The SQLite file (or :memory:) for the stdlib and aiosqlite floors."""
        return self.url.split(":///", 1)[1]


def user_rows() -> list[dict[str, Any]]:
    return [
        {"id": i, "email": f"user{i}@example.com", "name": f"User {i}", "created_at": SEED_TIME}
        for i in range(1, USERS + 1)
    ]


def wide_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "name": f"name {i}",
            "email": f"person{i}@example.com",
            "city": ("Berlin", "Lyon", "Porto", "Oslo")[i % 4],
            "score": i / 7,
            "rank": i % 97,
            "active": i % 3 != 0,
            "amount": i * 13,
            "note": f"a note about row {i} " * 3,
            "code": f"C{i:06d}",
        }
        for i in range(1, WIDE_ROWS + 1)
    ]


def bulk_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"name {i}",
            "email": f"bulk{i}@example.com",
            "score": i / 3,
            "rank": i % 101,
            "active": i % 2 == 0,
        }
        for i in range(count)
    ]


def _tables() -> list[Table]:
    tables = [User, Wide, BulkRow, ReadParent, ReadChild]
    return [model.__table__ for model in tables]  # type: ignore[misc]


async def create_schema(engine: AsyncEngine) -> None:
    """Fresh bench tables with users and wide rows, loaded with the toolkit's bulk path."""
    async with engine.begin() as connection:
        await connection.run_sync(_drop_and_create)
        await _seed(connection)


def _drop_and_create(connection: Any) -> None:
    metadata = MetaData()
    for table in _tables():
        table.to_metadata(metadata)
    metadata.drop_all(connection)
    metadata.create_all(connection)


async def _seed(connection: AsyncConnection) -> None:
    await bulk_insert(connection, User, user_rows())
    await bulk_insert(connection, Wide, wide_rows())
    parents = [
        {"id": i, "name": f"parent {i}", "created_at": SEED_TIME} for i in range(1, PARENTS + 1)
    ]
    children = [
        {"parent_id": p, "name": f"child {p}.{c}", "created_at": SEED_TIME}
        for p in range(1, PARENTS + 1)
        for c in range(CHILDREN)
    ]
    await bulk_insert(connection, ReadParent, parents)
    await bulk_insert(connection, ReadChild, children)


async def raw_sqlite(path: str) -> aiosqlite.Connection:
    """An aiosqlite connection; a private in-memory database gets the tables and rows."""
    connection = await aiosqlite.connect(path, isolation_level=None)
    if path == ":memory:":
        await connection.executescript(";\n".join(_sqlite_ddl()) + ";")
        stamp = SEED_TIME.replace(tzinfo=None).isoformat(" ")
        users = [(r["id"], r["email"], r["name"], stamp, stamp) for r in user_rows()]
        await connection.executemany(
            "INSERT INTO users (id, email, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            users,
        )
        wide = [tuple(row.values()) for row in wide_rows()]
        await connection.executemany(
            f"INSERT INTO bench_wide ({WIDE_COLUMNS}) VALUES ({', '.join('?' * 10)})", wide
        )
    return connection


def _sqlite_ddl() -> list[str]:
    dialect = sqlite_dialect.dialect()
    return [str(CreateTable(table).compile(dialect=dialect)).strip() for table in _tables()]


def stdlib_sqlite(path: str) -> sqlite3.Connection:
    """A stdlib connection set up as the toolkit sets up its own (WAL, synchronous=NORMAL)."""
    connection = sqlite3.connect(path, isolation_level=None)
    if path == ":memory:":
        connection.executescript(";\n".join(_sqlite_ddl()) + ";")
    else:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection
