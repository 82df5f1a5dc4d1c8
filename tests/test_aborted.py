"""A failed statement aborts its transaction on both backends, as Postgres does."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import Database, TransactionAborted, UniqueViolation
from tests.models import Counter, Parent


async def _violate(session: AsyncSession) -> None:
    await session.execute(insert(Parent).values(name="dup"))
    with pytest.raises(UniqueViolation):
        await session.execute(insert(Parent).values(name="dup"))


@pytest.mark.parity("a statement after an error is TransactionAborted")
async def test_statement_after_an_error_is_refused(db_session: AsyncSession) -> None:
    async with db_session.begin_nested():
        pass
    savepoint = await db_session.begin_nested()
    await _violate(db_session)
    with pytest.raises(TransactionAborted, match="current transaction is aborted"):
        await db_session.execute(insert(Parent).values(name="other"))
    with pytest.raises(TransactionAborted):
        await db_session.scalar(select(func.count()).select_from(Parent))
    await savepoint.rollback()
    # Rolled back to the savepoint: the transaction is usable again, the failed part is gone.
    await db_session.execute(insert(Parent).values(name="after"))
    names = await db_session.scalars(select(Parent.name).order_by(Parent.name))
    assert names.all() == ["after"]


@pytest.mark.parity("an error inside a savepoint leaves the outer transaction usable")
async def test_savepoint_contains_the_error(db_session: AsyncSession) -> None:
    await db_session.execute(insert(Counter).values(id=1, value=1))
    with pytest.raises(UniqueViolation):
        async with db_session.begin_nested():
            await db_session.execute(insert(Counter).values(id=1, value=2))
    assert await db_session.scalar(select(Counter.value)) == 1


@pytest.mark.parity("commit of an aborted transaction is refused and writes nothing")
async def test_commit_after_an_error_writes_nothing(scratch: URL) -> None:
    db = Database(scratch)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(Parent.metadata.create_all, tables=[Parent.__table__])
        with pytest.raises(TransactionAborted):
            async with db.transaction() as session:
                await session.execute(insert(Parent).values(name="kept?"))
                await _violate(session)
        async with db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(Parent)) == 0
            await session.execute(insert(Parent).values(name="fine"))
        async with db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(Parent)) == 1
    finally:
        await db.dispose()
