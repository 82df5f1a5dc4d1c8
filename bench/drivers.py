"""Per backend: the toolkit's Database, bare SQLAlchemy engines and the raw drivers, ready."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.schema import Backend, create_schema, raw_sqlite
from core.database import Database, set_database

__all__ = ["Drivers", "asyncpg_dsn", "bare_engine", "drivers"]


@dataclass
class Drivers:
    """Everything a case compares, on one backend."""

    backend: Backend
    db: Database  # the toolkit, installed as the app-wide default
    bare: AsyncEngine  # SQLAlchemy's documented default: create_async_engine(url)
    pg: Any = None  # asyncpg.Pool (Postgres)
    lite: aiosqlite.Connection | None = None  # one aiosqlite connection (SQLite)


def bare_engine(backend: Backend, **options: Any) -> AsyncEngine:
    """create_async_engine(url) as SQLAlchemy's docs show it; `options` for variants."""
    return create_async_engine(backend.url, **options)


def asyncpg_dsn(url: str) -> str:
    """The libpq-style DSN asyncpg takes, from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def drivers(backend: Backend) -> AsyncIterator[Drivers]:
    """Create and seed the schema (once per in-memory database), yield, close everything."""
    db = Database(backend.url)
    bare = bare_engine(backend)
    await create_schema(db.engine)
    if backend.memory:
        await create_schema(bare)  # a private in-memory database of its own
    previous = set_database(db)
    found = Drivers(backend, db, bare)
    try:
        if backend.dialect == "postgresql":
            found.pg = await asyncpg.create_pool(asyncpg_dsn(backend.url), min_size=5, max_size=15)
        else:
            found.lite = await raw_sqlite(backend.path)
        yield found
    finally:
        set_database(previous)
        if found.pg is not None:
            await found.pg.close()
        if found.lite is not None:
            await found.lite.close()
        await bare.dispose()
        await db.dispose()
