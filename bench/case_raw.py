"""Case 2: the raw helpers against the driver's own rows-to-dicts and Core's mappings."""

from __future__ import annotations

from itertools import cycle

from sqlalchemy import text

from bench.drivers import Drivers
from bench.harness import Measured, Op, Variant, interleave
from bench.schema import WIDE_COLUMNS, WIDE_ROWS
from core.database import fetch_all, fetch_one

__all__ = ["run_all", "run_one"]

ALL_SQL = f"SELECT {WIDE_COLUMNS} FROM bench_wide"
ONE_SQL = f"SELECT {WIDE_COLUMNS} FROM bench_wide WHERE id = :id"
ONE_PG = f"SELECT {WIDE_COLUMNS} FROM bench_wide WHERE id = $1"
ONE_LITE = f"SELECT {WIDE_COLUMNS} FROM bench_wide WHERE id = ?"


async def run_all(d: Drivers, *, rounds: int, batch: int) -> list[Measured]:
    """fetch_all of 1,000 rows x 10 columns as dicts."""
    core = text(ALL_SQL)

    async def toolkit() -> None:
        rows = await fetch_all(ALL_SQL)
        assert len(rows) == WIDE_ROWS

    async def mappings() -> None:
        async with d.bare.connect() as connection:
            (await connection.execute(core)).mappings().all()

    return await interleave(
        [_floor_all(d), Variant("toolkit `fetch_all`", toolkit), _core(mappings, "all")],
        rounds=rounds,
        batch=batch,
        warmup=5,
    )


async def run_one(d: Drivers, *, rounds: int, batch: int) -> list[Measured]:
    """fetch_one of one row by key."""
    ids = cycle(range(1, WIDE_ROWS + 1))
    core = text(ONE_SQL)

    async def toolkit() -> None:
        await fetch_one(ONE_SQL, {"id": next(ids)})

    async def mappings() -> None:
        async with d.bare.connect() as connection:
            (await connection.execute(core, {"id": next(ids)})).mappings().first()

    if d.backend.dialect == "postgresql":

        async def floor() -> None:
            async with d.pg.acquire() as connection:
                row = await connection.fetchrow(ONE_PG, next(ids))
                dict(row)

        name = "asyncpg `fetchrow` → dict (floor)"
    else:
        lite = d.lite
        assert lite is not None

        async def floor() -> None:
            async with lite.execute(ONE_LITE, (next(ids),)) as cursor:
                keys = [column[0] for column in cursor.description]
                dict(zip(keys, await cursor.fetchone() or (), strict=True))

        name = "aiosqlite `fetchone` → dict (floor)"
    return await interleave(
        [
            Variant(name, floor, baseline=True),
            Variant("toolkit `fetch_one`", toolkit),
            _core(mappings, "first"),
        ],
        rounds=rounds,
        batch=batch,
        warmup=20,
    )


def _core(op: Op, method: str) -> Variant:
    return Variant(f"Core `text()` `.mappings().{method}()`", op, note="bare engine")


def _floor_all(d: Drivers) -> Variant:
    if d.backend.dialect == "postgresql":

        async def floor() -> None:
            async with d.pg.acquire() as connection:
                [dict(row) for row in await connection.fetch(ALL_SQL)]

        return Variant("asyncpg `fetch` → dicts (floor)", floor, baseline=True)
    lite = d.lite
    assert lite is not None

    async def floor_lite() -> None:
        async with lite.execute(ALL_SQL) as cursor:
            keys = [column[0] for column in cursor.description]
            [dict(zip(keys, row, strict=True)) for row in await cursor.fetchall()]

    return Variant("aiosqlite `fetchall` → dicts (floor)", floor_lite, baseline=True)
