"""Case 1: one request's unit of work: checkout, primary-key get, commit, close."""

from __future__ import annotations

from itertools import cycle
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.models import User
from bench.drivers import Drivers, bare_engine
from bench.harness import Measured, Variant, interleave
from bench.schema import USERS
from core.database import get_database

__all__ = ["run"]

PG_SQL = "SELECT id, email, name, created_at, updated_at FROM users WHERE id = $1"
LITE_SQL = "SELECT id, email, name, created_at, updated_at FROM users WHERE id = ?"


async def run(d: Drivers, *, rounds: int, batch: int) -> list[Measured]:
    """Toolkit session vs the same by hand vs the raw driver, interleaved."""
    ids = cycle(range(1, USERS + 1))
    bare = async_sessionmaker(d.bare, expire_on_commit=False)

    async def toolkit() -> None:
        # The code path of Depends(get_session): the default database's transaction().
        async with get_database().transaction() as session:
            await session.get(User, next(ids))

    async def by_hand() -> None:
        async with bare() as session, session.begin():
            await session.get(User, next(ids))

    variants = [
        Variant("toolkit `get_database().transaction()`", toolkit),
        Variant("bare `async_sessionmaker` (baseline)", by_hand, baseline=True),
    ]
    extra: list[Any] = []
    if d.backend.dialect == "postgresql":
        no_ping = bare_engine(d.backend, pool_pre_ping=False)
        extra.append(no_ping)
        bare_no_ping = async_sessionmaker(no_ping, expire_on_commit=False)

        async def by_hand_no_ping() -> None:
            async with bare_no_ping() as session, session.begin():
                await session.get(User, next(ids))

        async def floor() -> None:
            async with d.pg.acquire() as connection:
                await connection.fetchrow(PG_SQL, next(ids))

        variants += [
            Variant("bare, `pool_pre_ping=False`", by_hand_no_ping, note="SQLAlchemy's default"),
            Variant("asyncpg `pool.acquire()` + `fetchrow` (floor)", floor),
        ]
    else:
        lite = d.lite
        assert lite is not None

        async def floor_lite() -> None:
            async with lite.execute(LITE_SQL, (next(ids),)) as cursor:
                await cursor.fetchone()

        variants.append(Variant("aiosqlite `execute` + `fetchone` (floor)", floor_lite))
    try:
        return await interleave(variants, rounds=rounds, batch=batch, warmup=20)
    finally:
        for engine in extra:
            await engine.dispose()
