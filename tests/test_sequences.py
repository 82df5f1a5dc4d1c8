"""Explicit ids, then generated ones: the next id is past the largest, on both backends.

Not "exactly the largest plus one": a Postgres sequence never goes back, so ids that
other transactions took (and rolled back) stay used; SQLite may reuse them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import bulk_insert, sync_sequences
from tests.models import Counter, Note, Parent


@pytest.mark.parity("ORM insert after an explicit id gets the next id")
async def test_orm_explicit_id_then_generated(db_session: AsyncSession) -> None:
    db_session.add(Counter(id=41, value=1))
    await db_session.flush()
    db_session.add(following := Counter(value=2))
    await db_session.flush()
    assert following.id > 41


@pytest.mark.parity("Core insert of many explicit ids, then a generated one")
async def test_core_explicit_ids_then_generated(db_session: AsyncSession) -> None:
    await db_session.execute(insert(Note), [{"id": n, "title": f"t{n}"} for n in (3, 9, 5)])
    new_id = await db_session.scalar(insert(Note).values(title="next").returning(Note.id))
    assert new_id is not None and new_id > 9


@pytest.mark.parity("bulk_insert with explicit ids, then a generated one")
async def test_bulk_insert_explicit_ids(db_session: AsyncSession) -> None:
    await bulk_insert(db_session, Parent, [{"id": 100, "name": "a"}, {"id": 7, "name": "b"}])
    db_session.add(parent := Parent(name="c"))
    await db_session.flush()
    assert parent.id > 100


@pytest.mark.parity("an explicit id below the sequence does not move it back")
async def test_sequence_never_moves_back(db_session: AsyncSession) -> None:
    db_session.add_all([Counter(value=0) for _ in range(3)])
    await db_session.flush()
    top = await db_session.scalar(select(Counter.id).order_by(Counter.id.desc()).limit(1))
    assert top is not None
    await db_session.execute(text("DELETE FROM parity_counters WHERE id = :id"), {"id": top})
    db_session.add(Counter(id=top - 10, value=0))
    await db_session.flush()
    db_session.add(again := Counter(value=0))
    await db_session.flush()
    assert again.id > top - 10


@pytest.mark.parity("sync_sequences after raw SQL loads")
async def test_sync_sequences_after_raw_sql(db_session: AsyncSession) -> None:
    await db_session.execute(text("INSERT INTO parity_counters (id, value) VALUES (500, 0)"))
    await sync_sequences(db_session, Counter)
    db_session.add(counter := Counter(value=1))
    await db_session.flush()
    assert counter.id > 500
