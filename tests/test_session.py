"""Sessions (core.database.session / database): transaction() scopes and on_commit callbacks."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import Database, on_commit, transaction
from tests.models import Parent


class Boom(Exception):
    """Raised inside a transaction block to make it roll back."""


async def _names(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Parent.name))).all())


@pytest.mark.parity("transaction() commits on success")
async def test_transaction_commits_on_success(database: Database, db_session: AsyncSession) -> None:
    async with database.transaction() as session:
        session.add(Parent(name="committed"))
        calls: list[str] = []
        on_commit(session, lambda: calls.append("committed"))
    assert calls == ["committed"]
    assert await _names(db_session) == {"committed"}


@pytest.mark.parity("transaction() rolls back on error")
async def test_transaction_rolls_back_on_error(
    database: Database, db_session: AsyncSession
) -> None:
    calls: list[str] = []
    with pytest.raises(Boom):
        async with database.transaction() as session:
            session.add(Parent(name="rolled back"))
            await session.flush()
            on_commit(session, lambda: calls.append("committed"))
            raise Boom
    assert calls == []
    assert await _names(db_session) == set()


async def test_transaction_always_closes(database: Database, db_session: AsyncSession) -> None:
    parent = Parent(name="closed")
    async with database.transaction() as session:
        session.add(parent)
    assert parent not in session  # closed: its objects were released
    assert not session.in_transaction()
    with pytest.raises(Boom):
        async with database.transaction() as failing:
            failing.add(Parent(name="x"))
            raise Boom
    assert not failing.in_transaction()
    assert len(failing.identity_map) == 0


async def test_module_level_transaction_uses_the_default_database(
    db_session: AsyncSession,
) -> None:
    async with transaction() as session:
        session.add(Parent(name="default"))
    assert await _names(db_session) == {"default"}


@pytest.mark.parity("on_commit runs after commit, in order")
async def test_on_commit_runs_after_commit_in_registration_order(
    db_session: AsyncSession,
) -> None:
    calls: list[int] = []
    db_session.add(Parent(name="ordered"))
    for number in (1, 2, 3):
        on_commit(db_session, lambda number=number: calls.append(number))
    await db_session.flush()
    assert calls == []  # nothing before the commit
    await db_session.commit()
    assert calls == [1, 2, 3]
    await db_session.commit()
    assert calls == [1, 2, 3]  # run once, not again on the next commit


@pytest.mark.parity("on_commit never after rollback")
async def test_on_commit_is_dropped_on_rollback(db_session: AsyncSession) -> None:
    calls: list[str] = []
    db_session.add(Parent(name="gone"))
    on_commit(db_session, lambda: calls.append("rolled back"))
    await db_session.rollback()
    await db_session.commit()
    assert calls == []


@pytest.mark.parity("on_commit dropped with its savepoint")
async def test_on_commit_in_rolled_back_savepoint_is_dropped(db_session: AsyncSession) -> None:
    calls: list[str] = []
    on_commit(db_session, lambda: calls.append("outer"))
    nested = await db_session.begin_nested()
    on_commit(db_session, lambda: calls.append("rolled back savepoint"))
    await nested.rollback()
    async with db_session.begin_nested():
        on_commit(db_session, lambda: calls.append("released savepoint"))
    assert calls == []  # releasing a SAVEPOINT is not a commit
    await db_session.commit()
    assert calls == ["outer", "released savepoint"]


@pytest.mark.parity("on_commit: nothing runs when the outer transaction rolls back")
async def test_released_savepoint_then_outer_rollback_runs_nothing(
    db_session: AsyncSession,
) -> None:
    calls: list[str] = []
    on_commit(db_session, lambda: calls.append("outer"))
    async with db_session.begin_nested():
        on_commit(db_session, lambda: calls.append("inner"))
    await db_session.rollback()
    await db_session.commit()
    assert calls == []


async def test_callbacks_do_not_outlive_a_session_closed_without_commit(
    db_session: AsyncSession,
) -> None:
    calls: list[str] = []
    on_commit(db_session, lambda: calls.append("abandoned"))
    await db_session.close()
    await db_session.commit()
    assert calls == []


@pytest.mark.parity("failing on_commit callback keeps the commit")
async def test_failing_callback_is_logged_and_commit_stands(
    db_session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def fail() -> None:
        raise RuntimeError("callback failed")

    db_session.add(Parent(name="stands"))
    on_commit(db_session, fail)
    on_commit(db_session, lambda: calls.append("next"))
    with caplog.at_level(logging.ERROR, logger="core.database"):
        await db_session.commit()
    assert calls == ["next"]
    assert await _names(db_session) == {"stands"}
    failures = [r for r in caplog.records if r.name == "core.database"]
    assert len(failures) == 1
    assert "the commit stands" in failures[0].getMessage()
    assert failures[0].exc_info is not None


@pytest.mark.parity("async on_commit callbacks awaited")
async def test_async_callbacks_are_awaited_before_commit_returns(
    db_session: AsyncSession,
) -> None:
    calls: list[str] = []

    async def publish() -> None:
        await asyncio.sleep(0)
        calls.append("published")

    db_session.add(Parent(name="async"))
    on_commit(db_session, publish)
    await db_session.commit()
    assert calls == ["published"]
    assert await db_session.scalar(select(func.count()).select_from(Parent)) == 1


@pytest.mark.parity("on_commit callbacks run after the connection is back in the pool")
async def test_a_callback_that_needs_a_connection_gets_the_one_the_commit_freed(
    scratch: URL,
) -> None:
    # A callback that publishes or enqueues takes a connection of its own: run while
    # the committing session still held one, it would wait on itself with a pool of
    # one, and under load every request would hold two connections (a pool deadlock).
    db = Database(scratch, pool_size=1, max_overflow=0, pool_timeout=0.5)
    seen: list[int] = []

    async def read_on_a_fresh_connection() -> None:
        async with db.engine.connect() as connection:
            seen.append(int((await connection.execute(select(1))).scalar_one()))

    try:
        for _ in range(3):
            async with db.transaction() as session:
                await session.execute(select(1))
                on_commit(session, read_on_a_fresh_connection)
        assert seen == [1, 1, 1]
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await db.dispose()


@pytest.mark.parity("on_commit callbacks under more concurrent commits than the pool holds")
async def test_concurrent_commits_with_callbacks_never_exhaust_a_small_pool(
    scratch: URL,
) -> None:
    db = Database(scratch, pool_size=2, max_overflow=0, pool_timeout=2)
    done: list[int] = []

    async def commit_one(number: int) -> None:
        async def announce() -> None:
            async with db.engine.connect() as connection:
                await connection.execute(select(1))
            done.append(number)

        async with db.transaction() as session:
            await session.execute(select(1))
            on_commit(session, announce)

    try:
        await asyncio.gather(*(commit_one(n) for n in range(12)))
        assert sorted(done) == list(range(12))
    finally:
        await db.dispose()
