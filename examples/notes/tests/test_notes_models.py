"""The models on both backends, through the plugin's `db_session` (rolled back after each test)."""

from __future__ import annotations

import pytest
from core.database import UniqueViolation
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notes.models import Comment, Note


async def test_a_note_and_its_comments(db_session: AsyncSession) -> None:
    note = Note(title="groceries", comments=[Comment(text="milk"), Comment(text="eggs")])
    db_session.add(note)
    await db_session.commit()
    assert note.created_at.tzinfo is not None
    count = select(func.count()).select_from(Comment).where(Comment.note_id == note.id)
    assert await db_session.scalar(count) == 2


async def test_a_duplicate_title_is_refused_and_the_session_goes_on(
    db_session: AsyncSession,
) -> None:
    db_session.add(Note(title="same"))
    await db_session.commit()
    db_session.add(Note(title="same"))
    with pytest.raises(UniqueViolation):
        await db_session.commit()
    await db_session.rollback()
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 1


async def test_deleting_a_note_deletes_its_comments(db_session: AsyncSession) -> None:
    note = Note(title="short-lived", comments=[Comment(text="bye")])
    db_session.add(note)
    await db_session.commit()
    await db_session.delete(note)
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Comment)) == 0
