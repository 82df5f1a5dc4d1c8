"""Read-replica routing against a real streaming replica (`nox -s replicas`).

The replica is a hot standby made with `pg_basebackup -R` from the test server,
streaming its WAL. Elsewhere these tests are skipped: they need PostgreSQL server
binaries of the test server's major version, which the replicas session provides.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import Database
from core.database.pg_binaries import DEFAULT_ROOTS, find_pg_bindir
from core.database.settings import Settings
from core.database.testing.replica import StreamingReplica, streaming_replica

pytestmark = [
    pytest.mark.postgres_only(reason="streaming replication is a Postgres feature"),
    pytest.mark.skipif(
        os.environ.get("CORE_DATABASE_TEST_REPLICAS") != "1",
        reason="run by `nox -s replicas`, which provides matching server binaries",
    ),
]

metadata = MetaData()
books = Table(
    "replica_books",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(100), nullable=False),
)
IN_RECOVERY = text("SELECT pg_is_in_recovery()")


def _bindir(major: int) -> Path:
    tools = ("pg_basebackup", "pg_ctl", "postgres")
    for root in DEFAULT_ROOTS:
        candidate = root / str(major) / "bin"
        if all((candidate / tool).exists() for tool in tools):
            return candidate
    found = find_pg_bindir(tools=tools)
    if found is None:
        pytest.fail(f"no PostgreSQL {major} server binaries (pg_basebackup, pg_ctl) found")
    return found


@pytest.fixture(scope="module")
def primary_url(postgres_scratch: URL | None) -> URL:
    assert postgres_scratch is not None
    return postgres_scratch


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def schema(primary_url: URL) -> URL:
    db = Database(primary_url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
            major = int(await connection.scalar(text("SHOW server_version_num")) or 0) // 10000
    finally:
        await db.dispose()
    os.environ["CORE_DATABASE_TEST_REPLICA_MAJOR"] = str(major)
    return primary_url


@pytest.fixture(scope="module")
def replica(schema: URL) -> Iterator[StreamingReplica]:
    major = int(os.environ["CORE_DATABASE_TEST_REPLICA_MAJOR"])
    with streaming_replica(schema, _bindir(major), log=lambda _line: None) as standby:
        yield standby


def _settings(**overrides: float) -> Settings:
    values = {"database_replica_max_lag_s": 1.0, "database_replica_retry_s": 0.5, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


@pytest_asyncio.fixture(loop_scope="session")
async def db(schema: URL, replica: StreamingReplica) -> AsyncIterator[Database]:
    database = Database(schema, replica_urls=[replica.url], settings=_settings())
    async with database.transaction() as session:
        await session.execute(text("TRUNCATE replica_books"))
    try:
        yield database
    finally:
        await database.dispose()


async def _in_recovery(session: AsyncSession) -> bool:
    return bool(await session.scalar(IN_RECOVERY))


def _fresh_context() -> contextvars.Context:
    """A task context with no recent write on the primary (as a new request has)."""
    return contextvars.Context()


async def _in_new_task(coroutine_function, *args):  # type: ignore[no-untyped-def]
    return await asyncio.create_task(coroutine_function(*args), context=_fresh_context())


async def _wait_until_replicated(db: Database, count: int) -> None:
    async def visible() -> int:
        async with db.read_transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(books)) or 0)

    async with asyncio.timeout(10):
        while await _in_new_task(visible) != count:  # noqa: ASYNC110 - polls the server
            await asyncio.sleep(0.05)


async def test_reads_go_to_the_replica_and_writes_to_the_primary(db: Database) -> None:
    async def read_where() -> bool:
        async with db.read_transaction() as session:
            return await _in_recovery(session)

    assert await _in_new_task(read_where) is True
    async with db.transaction() as session:
        assert await _in_recovery(session) is False
        await session.execute(insert(books).values(id=1, title="Dune"))
    await _wait_until_replicated(db, 1)


async def test_a_task_reads_its_own_writes_from_the_primary(db: Database) -> None:
    async def write_then_read() -> tuple[bool, str | None]:
        async with db.transaction() as session:
            await session.execute(insert(books).values(id=2, title="Emma"))
        async with db.read_transaction() as session:
            where = await _in_recovery(session)
            title = await session.scalar(select(books.c.title).where(books.c.id == 2))
        return where, title

    # Right after its write the task reads on the primary, where the row surely is.
    assert await _in_new_task(write_then_read) == (False, "Emma")


async def test_a_replica_behind_the_lag_bound_is_skipped(
    db: Database, replica: StreamingReplica
) -> None:
    standby = Database(replica.url)
    try:
        async with standby.engine.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_pause()"))
        async with db.transaction() as session:
            await session.execute(insert(books).values(id=3, title="Ulysses"))
        await asyncio.sleep(1.5)  # past the 1 s bound

        async def read() -> tuple[bool, int]:
            async with db.read_transaction() as session:
                count = await session.scalar(select(func.count()).select_from(books))
                return await _in_recovery(session), int(count or 0)

        # The replica has not replayed the write: the primary serves, with the row.
        assert await _in_new_task(read) == (False, 1)
        async with standby.engine.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_resume()"))
        async with asyncio.timeout(10):
            while (await _in_new_task(read))[0] is False:  # noqa: ASYNC110 - polls the server
                await asyncio.sleep(0.1)
        assert await _in_new_task(read) == (True, 1)
    finally:
        async with standby.engine.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_resume()"))
        await standby.dispose()


async def test_the_replica_stopped_mid_load_fails_no_read(
    db: Database, replica: StreamingReplica
) -> None:
    async with db.transaction() as session:
        await session.execute(
            insert(books).values([{"id": i, "title": f"b{i}"} for i in range(50)])
        )
    await _wait_until_replicated(db, 50)
    served = {"replica": 0, "primary": 0}
    failures: list[BaseException] = []
    deadline = time.monotonic() + 4

    async def count_books(session: AsyncSession) -> tuple[bool, int]:
        where = await _in_recovery(session)
        return where, int(await session.scalar(select(func.count()).select_from(books)) or 0)

    async def reader() -> None:
        while time.monotonic() < deadline:
            try:
                where, count = await db.run_read(count_books)
            except Exception as exc:  # counted, not raised: the figure is the point
                failures.append(exc)
                continue
            assert count == 50
            served["replica" if where else "primary"] += 1
            await asyncio.sleep(0.005)

    readers = [asyncio.create_task(reader(), context=_fresh_context()) for _ in range(20)]
    await asyncio.sleep(1)
    await asyncio.to_thread(replica.stop, "fast")
    try:
        await asyncio.gather(*readers)
    finally:
        await asyncio.to_thread(replica.start)
    assert failures == []
    assert served["replica"] > 0
    assert served["primary"] > 0
