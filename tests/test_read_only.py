"""Read-only units of work: refused writes, one snapshot, and readers beside a writer.

On real commits (the `scratch` database): under the test plugin every session joins
the test's transaction, so read-only enforcement is shown outside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text, update
from sqlalchemy.engine import URL

from core.database import (
    Database,
    ReadOnlyTransactionError,
    ReadSessionDep,
    install_error_handlers,
    set_database,
)
from tests.models import Counter

metadata = MetaData()
notes = Table(
    "ro_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String(50), nullable=False),
)


@pytest_asyncio.fixture(loop_scope="session")
async def db(scratch: URL) -> AsyncIterator[Database]:
    database = Database(scratch)
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(insert(notes).values(id=1, body="first"))
    try:
        yield database
    finally:
        await database.dispose()


WRITES = {
    "insert": insert(notes).values(id=2, body="second"),
    "update": update(notes).values(body="changed"),
    "raw insert": text("INSERT INTO ro_notes (id, body) VALUES (3, 'raw')"),
    "raw delete": text("DELETE FROM ro_notes"),
    "create table": text("CREATE TABLE ro_other (id INTEGER PRIMARY KEY)"),
}


@pytest.mark.parity("a write in a read-only transaction: ReadOnlyTransactionError")
@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
async def test_every_kind_of_write_is_refused_the_same_way(db: Database, statement: object) -> None:
    with pytest.raises(ReadOnlyTransactionError):
        async with db.read_transaction() as session:
            await session.execute(statement)  # type: ignore[call-overload]
    async with db.transaction() as session:
        assert (await session.execute(select(notes.c.id, notes.c.body))).all() == [(1, "first")]


async def test_an_orm_flush_is_refused_too(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(Counter.metadata.create_all, tables=[Counter.__table__])
    with pytest.raises(ReadOnlyTransactionError):
        async with db.read_transaction() as session:
            session.add(Counter(value=1))
            await session.flush()


async def test_the_connection_writes_again_after_a_read_only_unit(scratch: URL) -> None:
    # One pooled connection: the read-only mode must not stick to it.
    db = Database(scratch, pool_size=1, max_overflow=0)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        for round_ in range(3):
            async with db.read_transaction() as session:
                await session.scalar(select(func.count()).select_from(notes))
            async with db.transaction() as session:
                await session.execute(insert(notes).values(id=10 + round_, body="after"))
        async with db.read_transaction() as session:
            assert await session.scalar(select(func.count()).select_from(notes)) == 3
    finally:
        await db.dispose()


@pytest.mark.parity("a read-only transaction sees one snapshot")
async def test_a_read_only_unit_sees_one_snapshot(db: Database) -> None:
    async with db.read_transaction() as reader:
        before = await reader.scalar(select(func.count()).select_from(notes))
        async with db.transaction() as writer:
            await writer.execute(insert(notes).values(id=2, body="meanwhile"))
        # Committed meanwhile, yet invisible until this unit of work ends.
        assert await reader.scalar(select(func.count()).select_from(notes)) == before == 1
    async with db.read_transaction() as reader:
        assert await reader.scalar(select(func.count()).select_from(notes)) == 2


@pytest.mark.parity("readers do not wait for an open write transaction")
async def test_readers_run_beside_an_open_writer(db: Database, dialect: str) -> None:
    if dialect == "sqlite" and db.url.database in (None, "", ":memory:"):
        pytest.skip("an in-memory database has one connection")
    writer_started = asyncio.Event()
    release_writer = asyncio.Event()

    async def write() -> None:
        async with db.transaction() as session:
            await session.execute(insert(notes).values(id=5, body="slow writer"))
            writer_started.set()
            await release_writer.wait()

    writing = asyncio.create_task(write())
    await writer_started.wait()
    try:
        async with asyncio.timeout(5):

            async def read() -> int | None:
                async with db.read_transaction() as session:
                    return await session.scalar(select(func.count()).select_from(notes))

            # Several readers at once while the writer holds the write turn.
            assert await asyncio.gather(*(read() for _ in range(4))) == [1] * 4
    finally:
        release_writer.set()
        await writing
    async with db.read_transaction() as session:
        assert await session.scalar(select(func.count()).select_from(notes)) == 2


async def test_read_session_dependency_reads_and_refuses_writes(db: Database) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/count")
    async def count(session: ReadSessionDep) -> int:
        return int(await session.scalar(select(func.count()).select_from(notes)) or 0)

    @app.post("/sneaky")
    async def sneaky(session: ReadSessionDep) -> None:
        await session.execute(insert(notes).values(id=9, body="sneaky"))

    previous = set_database(db)
    try:
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/count")).json() == 1
            refused = await client.post("/sneaky")
            assert refused.status_code == 500
            assert refused.json() == {"detail": "cannot write in a read-only transaction"}
    finally:
        set_database(previous)
    async with db.read_transaction() as session:
        assert await session.scalar(select(func.count()).select_from(notes)) == 1
