"""Concurrent sessions and processes: no lost update, no shared transaction, no deadlock."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import Base, Database
from tests import models
from tests.counter_worker import counter_table
from tests.models import Counter, Parent

ROOT = Path(__file__).resolve().parents[1]
INCREMENTS = 500


@pytest.mark.sqlite_only(reason="an in-memory SQLite database lives in its one connection")
async def test_memory_database_serialises_concurrent_sessions() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    events: list[str] = []
    a_flushed, b_started = asyncio.Event(), asyncio.Event()

    async def writer_a() -> None:
        async with db.session() as session:
            session.add(Parent(name="a"))
            await session.flush()
            events.append("A flushed")
            a_flushed.set()
            await b_started.wait()
            for _ in range(10):  # give B every chance to run into A's transaction
                await asyncio.sleep(0)
            await session.commit()
            events.append("A committed")

    async def writer_b() -> None:
        await a_flushed.wait()
        b_started.set()
        async with db.session() as session:
            session.add(Parent(name="b"))
            await session.flush()  # waits for the connection until A has committed
            events.append("B flushed")
            await session.rollback()
            events.append("B rolled back")

    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            await connection.run_sync(models.TestBase.metadata.create_all)
        async with asyncio.timeout(20):  # a deadlock fails the test instead of hanging it
            await asyncio.gather(writer_a(), writer_b())
        async with db.session() as session:
            names = set((await session.scalars(select(Parent.name))).all())
        assert names == {"a"}
        assert events == ["A flushed", "A committed", "B flushed", "B rolled back"]
        assert db.engine.pool.size() == 1
        assert db.engine.pool.checkedout() == 0
    finally:
        await db.dispose()


@pytest.mark.parity("SELECT ... FOR UPDATE and atomic UPDATE")
async def test_locking_read_and_atomic_update_run_on_both(db_session: AsyncSession) -> None:
    db_session.add(counter := Counter(value=1))
    await db_session.flush()
    locked = select(Counter).where(Counter.id == counter.id).with_for_update()
    assert await db_session.scalar(locked) is counter
    bump = update(Counter).where(Counter.id == counter.id).values(value=Counter.value + 1)
    assert (await db_session.execute(bump)).rowcount == 1
    assert await db_session.scalar(select(Counter.value).where(Counter.id == counter.id)) == 2


@pytest.mark.parity("two processes: 1000 read-modify-write increments")
async def test_two_processes_lose_no_update(
    database_url: str, dialect: str, tmp_path: Path
) -> None:
    await _increment_from_processes(database_url, dialect, tmp_path, processes=2, tasks=1)


@pytest.mark.parity("four processes x 8 tasks: read-modify-write increments, no error")
async def test_four_busy_processes_on_one_database_take_turns(
    database_url: str, dialect: str, tmp_path: Path
) -> None:
    # SQLite's busy handler alone (no queue) failed some of these with "database is
    # locked" within its default 5 s; processes now queue on the lock file.
    await _increment_from_processes(database_url, dialect, tmp_path, processes=4, tasks=8)


async def _increment_from_processes(
    database_url: str,
    dialect: str,
    tmp_path: Path,
    *,
    processes: int,
    tasks: int,
) -> None:
    # Real commits: a file database, or a table of its own beside the isolated test schema.
    url = f"sqlite+aiosqlite:///{tmp_path}/counter.db" if dialect == "sqlite" else database_url
    table = counter_table(f"process_counter_{secrets.token_hex(4)}")
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(table.metadata.create_all)
            await connection.execute(insert(table).values(id=1, value=0))
        env = {
            **os.environ,
            "COUNTER_URL": url,
            "COUNTER_TABLE": table.name,
            "COUNTER_ID": "1",
            "COUNTER_INCREMENTS": str(INCREMENTS),
            "COUNTER_TASKS": str(tasks),
        }
        async with asyncio.timeout(300):
            outputs = await _run_together(env, processes=processes)
        assert outputs == [f"done {INCREMENTS}"] * processes
        async with db.session() as session:
            final = await session.scalar(select(table.c.value).where(table.c.id == 1))
        assert final == processes * INCREMENTS
    finally:
        async with db.engine.begin() as connection:
            await connection.run_sync(table.metadata.drop_all)
        await db.dispose()


async def _run_together(env: dict[str, str], *, processes: int) -> list[str]:
    """Start the workers, release them at once when all are connected, return their output."""
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.counter_worker",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = await worker.stdout.readline()
            if line.strip() != b"ready":
                _stdout, stderr = await worker.communicate()
                pytest.fail(f"worker did not start: {stderr.decode(errors='replace')[-2000:]}")
        results = await asyncio.gather(*(worker.communicate(b"go\n") for worker in workers))
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    for worker, (_stdout, stderr) in zip(workers, results, strict=True):
        assert worker.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return [stdout.decode().strip() for stdout, _stderr in results]
