"""The toolkit's rules live in dialect hooks: its engines carry no connection-event listener.

Any such listener puts every statement and transaction of the engine on SQLAlchemy's
slower path; a user's own listener still sees everything, and the rules still apply.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine, event, select, text
from sqlalchemy.engine import URL
from sqlalchemy.events import ConnectionEvents

from core.database import (
    Database,
    IntegrityViolation,
    TooManyParameters,
    TransactionAborted,
)
from core.database.settings import Settings
from core.database.sqlite_file_lock import ProcessTurn
from core.database.sync import SyncDatabase
from tests.models import Counter

CONNECTION_EVENTS = sorted(
    name for name in vars(ConnectionEvents) if not name.startswith("_") and name != "dispatch"
)


def _listened(engine: Engine) -> list[str]:
    return [name for name in CONNECTION_EVENTS if getattr(engine.dispatch, name, None)]


@pytest_asyncio.fixture(loop_scope="session")
async def tables(scratch: URL) -> AsyncIterator[URL]:
    database = Database(scratch)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Counter.metadata.create_all, tables=[Counter.__table__])
    finally:
        await database.dispose()
    yield scratch


@pytest.fixture
def sync_scratch(tables: URL) -> Iterator[SyncDatabase]:
    database = SyncDatabase(tables)
    yield database
    database.dispose()


async def test_a_database_engine_keeps_the_fast_path_through_every_kind_of_unit(
    tables: URL,
) -> None:
    database = Database(tables)
    try:
        assert _listened(database.engine.sync_engine) == []
        async with database.transaction() as session:
            session.add(Counter(id=1, value=1))
        async with database.read_transaction() as session:
            assert await session.scalar(select(Counter.value)) == 1
        with pytest.raises(TooManyParameters):
            async with database.transaction() as session:
                await session.scalar(select(Counter.id).where(Counter.id.in_(range(40_000))))
        assert _listened(database.engine.sync_engine) == []
    finally:
        await database.dispose()


def test_a_sync_engine_keeps_the_fast_path(sync_scratch: SyncDatabase) -> None:
    with sync_scratch.transaction() as session:
        session.add(Counter(id=2, value=2))
    assert _listened(sync_scratch.engine) == []


def test_a_users_listener_sees_every_statement_and_the_rules_still_hold(
    sync_scratch: SyncDatabase, dialect: str
) -> None:
    seen: list[str] = []

    def watch(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(sync_scratch.engine, "before_cursor_execute", watch)
    with sync_scratch.transaction() as session:
        session.add(Counter(id=3, value=3))
    assert any(statement.startswith("INSERT INTO parity_counters") for statement in seen)
    with pytest.raises(TooManyParameters), sync_scratch.transaction() as session:
        session.scalar(select(Counter.id).where(Counter.id.in_(range(40_000))))
    with pytest.raises(TransactionAborted), sync_scratch.transaction() as session:
        with pytest.raises(IntegrityViolation):
            session.execute(text("INSERT INTO parity_counters (id, value) VALUES (3, 0)"))
        session.execute(text("SELECT 1 FROM parity_counters"))
    with sync_scratch.transaction() as session:
        assert session.scalar(select(Counter.value).where(Counter.id == 3)) == 3
    if dialect == "postgresql":
        # The sequence follows explicit ids through the hook, listener or not.
        with sync_scratch.transaction() as session:
            session.add(Counter(value=4))
            session.flush()
            assert session.scalar(select(Counter.id).where(Counter.value == 4)) == 4


def _turn_descriptors(database_file: str) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target == f"{database_file}-turn":
            found.append(fd)
    return found


@pytest.mark.sqlite_only(reason="the turn file sits beside a SQLite database file")
async def test_dispose_lets_go_of_the_turn_file_and_the_next_unit_takes_it_again(
    tables: URL,
) -> None:
    path = str(tables.database)
    sync, database = SyncDatabase(tables), Database(tables)
    try:
        with sync.transaction() as session:
            session.add(Counter(id=5, value=5))
        async with database.transaction() as session:
            session.add(Counter(id=6, value=6))
        assert len(_turn_descriptors(path)) == 2  # one per engine: the faces exclude each other
        sync.dispose()
        await database.dispose()
        assert _turn_descriptors(path) == []
        with sync.transaction() as session:
            assert session.get(Counter, 6) is not None
        assert len(_turn_descriptors(path)) == 1
    finally:
        sync.dispose()
        await database.dispose()


@pytest.mark.sqlite_only(reason="the turn file sits beside a SQLite database file")
def test_a_forked_child_does_not_share_its_parents_turn(tmp_path: Path) -> None:
    turn = ProcessTurn(tmp_path / "db.sqlite-turn", timeout=0.2)
    turn.acquire()  # held by the parent across the fork
    try:
        pid = os.fork()
        if pid == 0:  # the child: it must wait, and give up as locked
            code = 3
            try:
                turn.acquire()
                code = 1  # took a lock its parent holds
            except Exception as exc:
                code = 0 if "database is locked" in str(exc) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The child closed only its own copy: the parent still holds the lock.
        other = ProcessTurn(tmp_path / "db.sqlite-turn", timeout=0.1)
        with pytest.raises(Exception, match="database is locked"):
            other.acquire()
        other.close()
    finally:
        turn.release()
        turn.close()


def _aborted(session: Any) -> Any:
    return session.execute(text("INSERT INTO parity_counters (id, value) VALUES (1, 0)"))


ENDINGS = ["commit", "rollback", "error in the body", "aborted commit", "closed unended"]


@pytest.mark.sqlite_only(reason="transaction turns are SQLite's")
@pytest.mark.parametrize("ending", ENDINGS)
def test_every_way_a_sync_unit_ends_passes_the_turn_on(tables: URL, ending: str) -> None:
    database = SyncDatabase(tables, settings=Settings(database_sqlite_busy_timeout_ms=300))
    try:
        with database.transaction() as session:
            session.add(Counter(id=1, value=0))
        session = database.session()
        session.execute(text("UPDATE parity_counters SET value = value + 1"))
        try:
            if ending == "commit":
                session.commit()
            elif ending == "rollback":
                session.rollback()
            elif ending == "error in the body":
                with pytest.raises(IntegrityViolation):
                    _aborted(session)
                session.rollback()
            elif ending == "aborted commit":
                with pytest.raises(IntegrityViolation):
                    _aborted(session)
                with pytest.raises(TransactionAborted):
                    session.commit()
        finally:
            session.close()
        with database.transaction() as session:  # waits past 300 ms if the turn was kept
            session.execute(text("UPDATE parity_counters SET value = value + 10"))
        with database.transaction() as session:
            expected = 11 if ending == "commit" else 10
            assert session.scalar(select(Counter.value)) == expected
    finally:
        database.dispose()


@pytest.mark.sqlite_only(reason="transaction turns are SQLite's")
@pytest.mark.parametrize("ending", ENDINGS)
async def test_every_way_an_async_unit_ends_passes_the_turn_on(tables: URL, ending: str) -> None:
    database = Database(tables, settings=Settings(database_sqlite_busy_timeout_ms=300))
    try:
        async with database.transaction() as session:
            session.add(Counter(id=1, value=0))
        session = database.session()
        await session.execute(text("UPDATE parity_counters SET value = value + 1"))
        try:
            if ending == "commit":
                await session.commit()
            elif ending == "rollback":
                await session.rollback()
            elif ending == "error in the body":
                with pytest.raises(IntegrityViolation):
                    await _aborted(session)
                await session.rollback()
            elif ending == "aborted commit":
                with pytest.raises(IntegrityViolation):
                    await _aborted(session)
                with pytest.raises(TransactionAborted):
                    await session.commit()
        finally:
            await session.close()
        async with database.transaction() as session:
            await session.execute(text("UPDATE parity_counters SET value = value + 10"))
        async with database.transaction() as session:
            expected = 11 if ending == "commit" else 10
            assert await session.scalar(select(Counter.value)) == expected
    finally:
        await database.dispose()
