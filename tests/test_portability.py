"""Known differences between the backends and their portable spellings (docs/parity.md).

The parity tests prove the portable spelling behaves the same; the dialect-only tests
pin the difference itself, so the documentation is updated if it ever goes away.
"""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import CheckViolation, InvalidValueError, fetch_value
from tests.models import Item, Note


async def _items_with_nullable_secret(session: AsyncSession) -> None:
    session.add_all([Item(secret="b"), Item(secret=None), Item(secret="a")])
    await session.flush()


@pytest.mark.parity("ORDER BY ... NULLS LAST / NULLS FIRST")
async def test_explicit_null_ordering_is_portable(db_session: AsyncSession) -> None:
    await _items_with_nullable_secret(db_session)
    ascending = select(Item.secret).order_by(Item.secret.asc().nulls_last())
    assert (await db_session.scalars(ascending)).all() == ["a", "b", None]
    descending = select(Item.secret).order_by(Item.secret.desc().nulls_first())
    assert (await db_session.scalars(descending)).all() == [None, "b", "a"]


@pytest.mark.sqlite_only(reason="pins a known difference: SQLite sorts NULL first ascending")
async def test_sqlite_sorts_null_first_by_default(db_session: AsyncSession) -> None:
    await _items_with_nullable_secret(db_session)
    rows = await db_session.scalars(select(Item.secret).order_by(Item.secret))
    assert rows.all() == [None, "a", "b"]


@pytest.mark.postgres_only(reason="pins a known difference: Postgres sorts NULL last ascending")
async def test_postgres_sorts_null_last_by_default(db_session: AsyncSession) -> None:
    await _items_with_nullable_secret(db_session)
    rows = await db_session.scalars(select(Item.secret).order_by(Item.secret))
    assert rows.all() == ["a", "b", None]


@pytest.mark.parity("text length limit via CHECK")
async def test_length_check_is_enforced_on_both(db_session: AsyncSession) -> None:
    db_session.add(Note(title="x" * 20))
    await db_session.flush()
    db_session.add(Note(title="x" * 21))
    with pytest.raises(CheckViolation) as caught:
        await db_session.flush()
    assert caught.value.constraint == "ck_parity_notes_title_length"


@pytest.mark.sqlite_only(reason="pins a known difference: SQLite ignores VARCHAR lengths")
async def test_sqlite_does_not_enforce_string_length(db_session: AsyncSession) -> None:
    db_session.add(note := Note(title="t", bounded="x" * 50))
    await db_session.flush()
    assert await db_session.scalar(select(Note.bounded).where(Note.id == note.id)) == "x" * 50


@pytest.mark.postgres_only(reason="pins a known difference: Postgres enforces VARCHAR(n)")
async def test_postgres_refuses_too_long_strings(db_session: AsyncSession) -> None:
    db_session.add(Note(title="t", bounded="x" * 50))
    with pytest.raises(sa_exc.DBAPIError, match="value too long"):
        await db_session.flush()


async def _id_after_deleting_the_newest(session: AsyncSession) -> tuple[int, int]:
    session.add(newest := Note(title="newest"))
    await session.flush()
    deleted = newest.id
    await session.delete(newest)
    await session.flush()
    session.add(again := Note(title="again"))
    await session.flush()
    return deleted, again.id


@pytest.mark.sqlite_only(reason="pins a known difference: SQLite may reuse the highest deleted id")
async def test_sqlite_reuses_the_id_of_a_deleted_newest_row(db_session: AsyncSession) -> None:
    deleted, again = await _id_after_deleting_the_newest(db_session)
    assert again == deleted


@pytest.mark.postgres_only(reason="pins a known difference: Postgres sequences never reuse ids")
async def test_postgres_never_reuses_ids(db_session: AsyncSession) -> None:
    deleted, again = await _id_after_deleting_the_newest(db_session)
    assert again > deleted


BIG = 2**31  # one past INTEGER's range on Postgres


@pytest.mark.parity("INTEGER is 32-bit on both, BIGINT 64-bit")
async def test_integer_range_is_the_same(db_session: AsyncSession) -> None:
    db_session.add(Item(quantity=BIG))
    with pytest.raises(InvalidValueError, match="int32 range") as caught:
        await db_session.flush()
    assert str(BIG) not in str(caught.value)  # the value is hidden like any bound value
    await db_session.rollback()
    db_session.add(item := Item(quantity=BIG - 1))
    await db_session.flush()
    assert await db_session.scalar(select(Item.quantity).where(Item.id == item.id)) == BIG - 1


@pytest.mark.parity("division in raw SQL text guarded by NULLIF")
async def test_nullif_guards_a_division_in_raw_sql_on_both(db_session: AsyncSession) -> None:
    guarded = "SELECT 7 / NULLIF(:divisor, 0)"
    assert await fetch_value(guarded, {"divisor": 0}, session=db_session) is None
    assert await fetch_value(guarded, {"divisor": 7}, session=db_session) == 1


@pytest.mark.sqlite_only(reason="pins a known difference: SQLite's own division by zero is NULL")
async def test_sqlite_divides_by_zero_to_null_in_raw_sql(db_session: AsyncSession) -> None:
    assert await fetch_value("SELECT 1 / 0", session=db_session) is None


@pytest.mark.postgres_only(reason="pins a known difference: Postgres refuses it")
async def test_postgres_refuses_a_division_by_zero_in_raw_sql(db_session: AsyncSession) -> None:
    with pytest.raises(InvalidValueError, match="division by zero"):
        await fetch_value("SELECT 1 / 0", session=db_session)
