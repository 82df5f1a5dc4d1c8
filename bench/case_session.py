"""Case 1: one request's unit of work: checkout, primary-key get, commit, close."""

from __future__ import annotations

from itertools import cycle
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.models import User
from bench.drivers import Drivers, bare_engine
from bench.harness import Measured, Variant, interleave
from bench.peers import UserRepository, peers
from bench.schema import USERS
from bench.sqlmodel_models import SQLModelUser
from core.database import get_database

__all__ = ["run"]

PG_SQL = "SELECT id, email, name, created_at, updated_at FROM users WHERE id = $1"
LITE_SQL = "SELECT id, email, name, created_at, updated_at FROM users WHERE id = ?"


async def run(d: Drivers, *, rounds: int, batch: int) -> list[Measured]:
    """Toolkit session vs bare SQLAlchemy, the peers and the raw driver, interleaved.

    The baseline is bare SQLAlchemy as its docs show it: `create_async_engine(url)` with
    the default pool (no pre-ping) and `async_sessionmaker`.
    """
    ids = cycle(range(1, USERS + 1))
    bare = async_sessionmaker(d.bare, expire_on_commit=False)
    others = await peers(d.backend)
    aa_sessions = others.aa.create_session_maker()

    async def toolkit() -> None:
        # The code path of Depends(get_session): the default database's transaction().
        async with get_database().transaction() as session:
            await session.get(User, next(ids))

    async def by_hand() -> None:
        async with bare() as session, session.begin():
            await session.get(User, next(ids))

    async def advanced_alchemy() -> None:
        async with aa_sessions() as session:
            await UserRepository(session=session).get(next(ids))
            await session.commit()

    async def sqlmodel() -> None:
        async with others.sqlmodel_session() as session:
            await session.get(SQLModelUser, next(ids))
            await session.commit()

    variants = [
        Variant("toolkit `get_database().transaction()`", toolkit),
        Variant("bare `async_sessionmaker`, default engine (baseline)", by_hand, baseline=True),
        Variant("advanced-alchemy repository `get` + commit", advanced_alchemy),
        Variant("SQLModel `AsyncSession.get` + commit", sqlmodel),
    ]
    extra: list[Any] = []
    if d.backend.dialect == "postgresql":
        pinged = bare_engine(d.backend, pool_pre_ping=True)
        extra.append(pinged)
        bare_pinged = async_sessionmaker(pinged, expire_on_commit=False)

        async def by_hand_pinged() -> None:
            async with bare_pinged() as session, session.begin():
                await session.get(User, next(ids))

        async def floor() -> None:
            async with d.pg.acquire() as connection:
                await connection.fetchrow(PG_SQL, next(ids))

        variants += [
            Variant("bare, `pool_pre_ping=True`", by_hand_pinged, note="a careful hand-writer"),
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
        await others.dispose()
        for engine in extra:
            await engine.dispose()
