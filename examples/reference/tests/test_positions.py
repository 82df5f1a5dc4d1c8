"""Event positions: 1, 2, 3, ... per user, taken at commit, in commit order, without holes."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Event, EventStream, User
from app.repositories import EventRepository, UserRepository
from core.database import fetch_one, make_sessionmaker, transaction
from tests.support import Committed


async def positions(session: AsyncSession, user_id: int) -> list[int | None]:
    statement = select(Event.position).where(Event.user_id == user_id).order_by(Event.id)
    return list((await session.scalars(statement)).all())


async def test_an_event_is_numbered_at_commit(db_session: AsyncSession, user: User) -> None:
    event = await EventRepository(db_session).create(user.id, kind="k")
    assert event.position is None  # not yet: the position follows the commit
    await db_session.commit()
    assert event.position == 1  # on the object, without a reload
    assert await positions(db_session, user.id) == [1]
    assert await EventRepository(db_session).last_position(user.id) == 1


async def test_several_events_and_users_in_one_transaction(db_session: AsyncSession) -> None:
    users = UserRepository(db_session)
    ann = await users.create(email="ann@example.org")
    bob = await users.create(email="bob@example.org")
    events = EventRepository(db_session)
    for user in (ann, bob, ann, ann):
        await events.create(user.id, kind="k")
    db_session.add(Event(user_id=bob.id, kind="added, not flushed"))
    await db_session.commit()
    assert await positions(db_session, ann.id) == [1, 2, 3]
    assert await positions(db_session, bob.id) == [1, 2]
    await events.create(ann.id, kind="next")
    await db_session.commit()
    assert await positions(db_session, ann.id) == [1, 2, 3, 4]


async def test_a_rollback_leaves_no_hole(db_session: AsyncSession, user: User) -> None:
    user_id = user.id
    with pytest.raises(RuntimeError):
        async with transaction() as session:
            await EventRepository(session).create(user_id, kind="rolled back")
            raise RuntimeError("roll back")
    async with transaction() as session:
        await EventRepository(session).create(user_id, kind="kept")
    assert await positions(db_session, user_id) == [1]


async def test_an_event_in_a_rolled_back_savepoint_takes_no_position(
    db_session: AsyncSession, user: User
) -> None:
    events = EventRepository(db_session)
    await events.create(user.id, kind="before")
    savepoint = await db_session.begin_nested()
    await events.create(user.id, kind="undone")
    await savepoint.rollback()
    await events.create(user.id, kind="after")
    await db_session.commit()
    kinds = (await db_session.scalars(select(Event.kind).order_by(Event.position))).all()
    assert kinds == ["before", "after"]
    assert await positions(db_session, user.id) == [1, 2]


async def test_deleting_the_user_deletes_its_stream(db_session: AsyncSession, user: User) -> None:
    await EventRepository(db_session).create(user.id, kind="k")
    await db_session.commit()
    await UserRepository(db_session).delete(user.id)
    await db_session.commit()
    assert (await db_session.scalars(select(EventStream))).all() == []


async def test_no_reader_ever_sees_a_hole_while_writers_commit_out_of_order(
    committed: Committed,
) -> None:
    # Writers insert, pause a random while (ids handed out now), then commit in
    # another order. At every moment, a reader must see positions 1..n exactly:
    # a position visible means every lower one is visible too.
    database = committed.database
    sessions = make_sessionmaker(database.engine)
    async with sessions() as session:
        user = await UserRepository(session).create(email=committed.email("ann"))
        await session.commit()
        user_id = user.id
    writers, per_writer = 6, 8
    rng = random.Random(11)
    delays = [[rng.uniform(0, 0.02) for _ in range(per_writer)] for _ in range(writers)]
    done = asyncio.Event()
    snapshots: list[tuple[int, int]] = []

    async def write(pauses: list[float]) -> None:
        for pause in pauses:
            async with sessions() as session:
                await EventRepository(session).create(user_id, kind="k")
                await asyncio.sleep(pause)
                await session.commit()

    async def read() -> None:
        sql = "SELECT count(position) AS n, max(position) AS top FROM events WHERE user_id = :u"
        while not done.is_set():
            async with sessions() as session:
                row = await fetch_one(sql, {"u": user_id}, session=session)
            assert row is not None
            snapshots.append((int(row["n"]), int(row["top"] or 0)))
            await asyncio.sleep(0)

    async with asyncio.timeout(60):
        reader = asyncio.create_task(read())
        await asyncio.gather(*(write(pauses) for pauses in delays))
        done.set()
        await reader

    total = writers * per_writer
    assert snapshots, "the reader never ran"
    assert all(n == top for n, top in snapshots), [s for s in snapshots if s[0] != s[1]][:5]
    async with sessions() as session:
        numbered = await positions(session, user_id)
    assert sorted(p for p in numbered if p is not None) == list(range(1, total + 1))
