"""Case 4: loading many rows into a TimestampMixin table, six ways."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    text,
)

from bench.drivers import Drivers
from bench.harness import Measured, Variant, interleave
from bench.schema import BulkRow, bulk_rows, stdlib_sqlite
from core.database import bulk_insert

__all__ = ["run"]

COLUMNS = ("name", "email", "score", "rank", "active", "created_at", "updated_at")


async def run(d: Drivers, *, rows: int, rounds: int) -> list[Measured]:
    """ORM add_all vs Core insert() vs bulk_insert vs the driver's own fastest load."""
    data = bulk_rows(rows)
    db = d.db
    lite = None if d.backend.dialect == "postgresql" else stdlib_sqlite(d.backend.path)

    async def empty() -> None:
        async with db.transaction() as session:
            await session.execute(text(f"DELETE FROM {BulkRow.__tablename__}"))
        if lite is not None and not d.backend.memory:
            # Untimed: the next load must not pay for checkpointing the last one's WAL.
            lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def orm() -> None:
        async with db.transaction() as session:
            session.add_all([BulkRow(**row) for row in data])
            await session.flush()

    async def core() -> None:
        async with db.transaction() as session:
            await session.execute(insert(BulkRow), data)

    async def toolkit() -> None:
        async with db.transaction() as session:
            await bulk_insert(session, BulkRow, data)

    plain = _plain_table()

    async def by_hand() -> None:
        # Core as a user writes it without the toolkit: plain types, SQLAlchemy's engine.
        now = datetime.now(UTC)
        if d.backend.dialect == "sqlite":
            now = now.replace(tzinfo=None)
        stamped = [{**row, "created_at": now, "updated_at": now} for row in data]
        async with d.bare.begin() as connection:
            await connection.execute(insert(plain), stamped)

    async def empty_bare() -> None:
        async with d.bare.begin() as connection:
            await connection.execute(text(f"DELETE FROM {BulkRow.__tablename__}"))
        await empty()

    # The fast two load three times a round, the slow two once: more samples where
    # a few milliseconds of noise matter, and the run stays short.
    variants = [
        _floor(d, data, lite),
        Variant("toolkit `bulk_insert`", toolkit, reset=empty, batch=3),
        Variant("Core `insert()` + list of dicts, toolkit model", core, reset=empty),
        Variant(
            "hand-written Core `insert()`, plain table, bare engine", by_hand, reset=empty_bare
        ),
        Variant("ORM `add_all` + `flush`", orm, reset=empty),
    ]
    try:
        return await interleave(variants, rounds=rounds, batch=1, warmup=0)
    finally:
        if lite is not None:
            lite.close()


def _plain_table() -> Table:
    """The bulk table as plain Core declares it: no toolkit types, no conversions."""
    return Table(
        BulkRow.__tablename__,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(50)),
        Column("email", String(100)),
        Column("score", Float),
        Column("rank", Integer),
        Column("active", Boolean),
        Column("created_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True)),
    )


def _floor(
    d: Drivers, data: list[dict[str, Any]], connection: sqlite3.Connection | None
) -> Variant:
    if d.backend.dialect == "postgresql":

        async def copy() -> None:
            now = datetime.now(UTC)
            records = [
                (r["name"], r["email"], r["score"], r["rank"], r["active"], now, now) for r in data
            ]
            async with d.pg.acquire() as connection, connection.transaction():
                await connection.copy_records_to_table(
                    BulkRow.__tablename__, records=records, columns=COLUMNS
                )

        async def empty_pg() -> None:
            async with d.pg.acquire() as connection:
                await connection.execute(f"TRUNCATE {BulkRow.__tablename__}")

        return Variant(
            "asyncpg `copy_records_to_table` (floor)", copy, baseline=True, reset=empty_pg, batch=3
        )
    assert connection is not None
    table = BulkRow.__tablename__
    sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

    async def executemany() -> None:
        # Blocking on purpose: this is the floor, the stdlib module without any wrapper.
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
        records = [
            (r["name"], r["email"], r["score"], r["rank"], r["active"], now, now) for r in data
        ]
        connection.execute("BEGIN")
        connection.executemany(sql, records)
        connection.execute("COMMIT")

    async def empty_lite() -> None:
        connection.execute(f"DELETE FROM {table}")
        if not d.backend.memory:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await asyncio.sleep(0)

    return Variant(
        "stdlib `sqlite3.executemany` (floor)",
        executemany,
        baseline=True,
        reset=empty_lite,
        batch=3,
    )
