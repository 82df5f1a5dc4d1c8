from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.models import Parent


async def test_insert_and_read(db_session: AsyncSession) -> None:
    db_session.add(Parent(name="a"))
    await db_session.commit()
    found = await db_session.scalar(select(Parent).where(Parent.name == "a"))
    assert found is not None
    assert found.created_at.tzinfo is not None


async def test_previous_test_rolled_back(db_session: AsyncSession) -> None:
    assert (await db_session.scalars(select(Parent))).all() == []
