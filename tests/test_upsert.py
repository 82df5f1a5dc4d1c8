"""Portable upsert and insert-or-ignore: the same rows, objects and errors on both backends."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import InvalidValueError, UniqueViolation, insert_or_ignore, upsert
from tests.models import Counter, Parent


@pytest.mark.parity("upsert inserts new rows and returns them in order")
async def test_upsert_inserts(db_session: AsyncSession) -> None:
    parents = await upsert(db_session, Parent, [{"name": "b"}, {"name": "a"}], conflict=["name"])
    assert [p.name for p in parents] == ["b", "a"]
    assert all(isinstance(p, Parent) and p.id is not None for p in parents)
    assert parents[0].created_at == parents[0].updated_at


@pytest.mark.parity("upsert updates a clashing row and bumps updated_at")
async def test_upsert_updates(db_session: AsyncSession) -> None:
    db_session.add(counter := Counter(id=7, value=1))
    await db_session.flush()
    updated = await upsert(db_session, Counter, [{"id": 7, "value": 5}, {"id": 8, "value": 2}])
    assert [(c.id, c.value) for c in updated] == [(7, 5), (8, 2)]
    assert updated[0] is counter and counter.value == 5  # the identity map is refreshed
    total = await db_session.scalar(select(func.sum(Counter.value)))
    assert total == 7


@pytest.mark.parity("upsert keeps created_at, bumps updated_at")
async def test_upsert_timestamps(db_session: AsyncSession) -> None:
    (first,) = await upsert(db_session, Parent, [{"name": "p"}], conflict=["name"])
    created = first.created_at
    await asyncio.sleep(0.01)
    (again,) = await upsert(db_session, Parent, [{"name": "p"}], conflict=["name"])
    assert again.id == first.id
    assert again.created_at == created
    assert again.updated_at > created


@pytest.mark.parity("upsert updates only the named columns")
async def test_upsert_named_columns(db_session: AsyncSession) -> None:
    await upsert(db_session, Counter, [{"id": 1, "value": 1}])
    rows = [{"id": 1, "value": 9}]
    # Nothing to update is insert-or-ignore: the row stays as it was and is not returned.
    assert await upsert(db_session, Counter, rows, update=[]) == []
    assert await db_session.scalar(select(Counter.value)) == 1
    (changed,) = await upsert(db_session, Counter, rows, update=["value"])
    assert changed.value == 9


@pytest.mark.parity("insert_or_ignore returns only new rows")
async def test_insert_or_ignore(db_session: AsyncSession) -> None:
    await insert_or_ignore(db_session, Parent, [{"name": "x"}], conflict=["name"])
    new = await insert_or_ignore(
        db_session, Parent, [{"name": "x"}, {"name": "y"}], conflict=["name"]
    )
    assert [p.name for p in new] == ["y"]
    assert await db_session.scalar(select(func.count()).select_from(Parent)) == 2


@pytest.mark.parity("upsert refuses a repeated conflict key")
async def test_repeated_key_refused(db_session: AsyncSession) -> None:
    with pytest.raises(InvalidValueError, match="same conflict key"):
        await upsert(db_session, Parent, [{"name": "z"}, {"name": "z"}], conflict=["name"])


@pytest.mark.parity("upsert on another unique column is UniqueViolation")
async def test_other_unique_column_still_violates(db_session: AsyncSession) -> None:
    db_session.add(Parent(name="taken"))
    await db_session.flush()
    (other,) = await upsert(db_session, Parent, [{"name": "free"}], conflict=["name"])
    with pytest.raises(UniqueViolation):
        await upsert(db_session, Parent, [{"id": other.id, "name": "taken"}])


@pytest.mark.parity("upsert of many rows")
async def test_upsert_many_rows(db_session: AsyncSession) -> None:
    rows = [{"id": n, "value": n} for n in range(1, 17_001)]  # 34,000 bound values
    await upsert(db_session, Counter, rows[:5000])
    result = await upsert(db_session, Counter, [{**row, "value": 0} for row in rows])
    assert len(result) == 17_000
    assert await db_session.scalar(select(func.sum(Counter.value))) == 0


async def test_empty_and_unknown(db_session: AsyncSession) -> None:
    assert await upsert(db_session, Parent, []) == []
    assert await insert_or_ignore(db_session, Parent, []) == []
    with pytest.raises(ValueError, match="unknown columns"):
        await upsert(db_session, Parent, [{"name": "n"}], conflict=["nope"])
