"""aiosqlite: the BEGIN rides with the first statement, and a unit leaves nothing open.

The async engine sends a transaction's BEGIN IMMEDIATE in the same trip to the
driver's thread as its first statement, skips the COMMIT or ROLLBACK of a unit that
never ran one, and skips the pool's reset rollback after a COMMIT. Each test ends
with the pool's one connection serving a write transaction: one left open would fail
it with "cannot start a transaction within a transaction", or keep its rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database import Database, NotNullViolation, bulk_insert
from core.database.errors import ReadOnlyTransactionError

pytestmark = pytest.mark.sqlite_only("aiosqlite's trips to its thread are a SQLite matter")

TABLE = "CREATE TABLE trip_notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"


@pytest.fixture(params=["file", "memory"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    path = str(tmp_path / "trips.db") if request.param == "file" else ":memory:"
    database = Database(URL.create("sqlite+aiosqlite", database=path), pool_size=1)
    async with database.transaction() as session:
        await session.execute(text(TABLE))
    try:
        yield database
    finally:
        await database.dispose()


async def _bodies(db: Database) -> list[str]:
    async with db.transaction() as session:
        rows = await session.execute(text("SELECT body FROM trip_notes ORDER BY id"))
        return [row.body for row in rows]


async def _still_writable(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO trip_notes (body) VALUES ('check')"))
    async with db.transaction() as session:
        await session.execute(text("DELETE FROM trip_notes WHERE body = 'check'"))


async def test_a_unit_that_runs_nothing_leaves_nothing_open(db: Database) -> None:
    for _ in range(3):
        async with db.transaction():
            pass
    with pytest.raises(LookupError):
        async with db.transaction():
            raise LookupError
    await _still_writable(db)


async def test_a_read_only_unit_that_runs_nothing_leaves_nothing_open(db: Database) -> None:
    async with db.transaction() as session:  # the last act on the connection: a COMMIT
        await session.execute(text("INSERT INTO trip_notes (body) VALUES ('a')"))
    async with db.read_transaction():
        pass
    await _still_writable(db)
    with pytest.raises(ReadOnlyTransactionError):
        async with db.read_transaction() as session:
            await session.execute(text("INSERT INTO trip_notes (body) VALUES ('no')"))
    await _still_writable(db)
    assert await _bodies(db) == ["a"]


async def test_the_first_statement_runs_inside_the_transaction(db: Database) -> None:
    with pytest.raises(LookupError):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO trip_notes (body) VALUES ('gone')"))
            raise LookupError
    assert await _bodies(db) == []
    await _still_writable(db)


async def test_a_failing_first_statement_leaves_the_connection_clean(db: Database) -> None:
    with pytest.raises(NotNullViolation):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO trip_notes (body) VALUES (NULL)"))
    await _still_writable(db)
    assert await _bodies(db) == []


async def test_a_savepoint_first_rolls_back_alone(db: Database) -> None:
    async with db.transaction() as session:
        with pytest.raises(LookupError):
            async with session.begin_nested():
                await session.execute(text("INSERT INTO trip_notes (body) VALUES ('inner')"))
                raise LookupError
        await session.execute(text("INSERT INTO trip_notes (body) VALUES ('outer')"))
    assert await _bodies(db) == ["outer"]
    await _still_writable(db)


async def test_bulk_insert_first_is_inside_the_transaction(db: Database) -> None:
    from sqlalchemy import Column, Integer, MetaData, String, Table

    table = Table(
        "trip_notes",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("body", String, nullable=False),
    )
    with pytest.raises(LookupError):
        async with db.transaction() as session:
            await bulk_insert(session, table, [{"body": "bulk"}, {"body": "load"}])
            raise LookupError
    assert await _bodies(db) == []
    async with db.transaction() as session:
        await bulk_insert(session, table, [{"body": "bulk"}])
    assert await _bodies(db) == ["bulk"]
    await _still_writable(db)


async def test_a_transaction_opened_on_the_driver_is_ended_by_the_pool(db: Database) -> None:
    # Straight on the driver, past the engine: the pool's reset must still roll it back,
    # though the last act on the connection was the engine's COMMIT.
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO trip_notes (body) VALUES ('kept')"))
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.execute("BEGIN")
        await raw.driver_connection.execute("INSERT INTO trip_notes (body) VALUES ('undone')")
    await _still_writable(db)
    assert await _bodies(db) == ["kept"]


async def test_a_read_only_unit_that_reads_leaves_the_connection_writable(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO trip_notes (body) VALUES ('a')"))
    for _ in range(3):
        async with db.read_transaction() as session:
            assert (await session.execute(text("SELECT count(*) FROM trip_notes"))).scalar() == 1
        await _still_writable(db)
    with pytest.raises(LookupError):
        async with db.read_transaction() as session:
            await session.execute(text("SELECT 1"))
            raise LookupError
    await _still_writable(db)
    with pytest.raises(ReadOnlyTransactionError):  # query_only is on again in the next reader
        async with db.read_transaction() as session:
            await session.execute(text("DELETE FROM trip_notes"))
    assert await _bodies(db) == ["a"]
