"""Type strictness, locks, limits and error reasons: the same toolkit error on both backends."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Integer, bindparam, cast, literal, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import (
    Database,
    InvalidValueError,
    LockNotAvailable,
    TooManyParameters,
)
from core.database.settings import Settings
from tests.models import Counter, Item, Measure

MARKER = "marker-9bd1"


@pytest.mark.parity("text into an integer column is refused")
@pytest.mark.parametrize("bad", ["abc", "5", 1.5, b"1"])
async def test_wrong_python_type_for_integer_is_refused(
    db_session: AsyncSession, bad: object
) -> None:
    db_session.add(Item(quantity=bad))
    with pytest.raises(InvalidValueError, match="expected an int"):
        await db_session.flush()
    await db_session.rollback()


@pytest.mark.parity("integer column compared to text is refused")
async def test_integer_compared_to_text_is_refused(db_session: AsyncSession) -> None:
    with pytest.raises(InvalidValueError, match="expected an int"):
        await db_session.scalar(select(Item.id).where(Item.quantity == "5"))
    await db_session.rollback()
    assert await db_session.scalar(select(Item.id).where(Item.quantity == 5)) is None


@pytest.mark.parity("BIGINT overflow is InvalidValueError")
@pytest.mark.parametrize("number", [2**63, -(2**63) - 1])
async def test_bigint_overflow(db_session: AsyncSession, number: int) -> None:
    db_session.add(Measure(big=number))
    with pytest.raises(InvalidValueError):
        await db_session.flush()
    await db_session.rollback()
    db_session.add(row := Measure(big=2**63 - 1))
    await db_session.flush()
    assert await db_session.scalar(select(Measure.big).where(Measure.id == row.id)) == 2**63 - 1


@pytest.mark.parity("raw BIGINT overflow is InvalidValueError")
async def test_raw_bigint_overflow(db_session: AsyncSession) -> None:
    with pytest.raises(InvalidValueError):
        await db_session.execute(
            text("SELECT CAST(:n AS BIGINT)").bindparams(n=2**64), execution_options={}
        )
    await db_session.rollback()


@pytest.mark.parity("UUID compared to its text form")
async def test_uuid_compared_to_text(db_session: AsyncSession) -> None:
    token = uuid.uuid4()
    db_session.add(item := Item(token=token))
    await db_session.flush()
    found = await db_session.scalar(select(Item.id).where(Item.token == str(token)))
    assert found == item.id
    with pytest.raises(InvalidValueError, match="invalid UUID"):
        await db_session.scalar(select(Item.id).where(Item.token == "not-a-uuid"))
    await db_session.rollback()


@pytest.mark.parity("cast of bad text to integer is InvalidValueError with its reason")
@pytest.mark.parametrize("bad", ["12abc", MARKER])
async def test_cast_refusal_keeps_the_reason(db_session: AsyncSession, bad: str) -> None:
    with pytest.raises(InvalidValueError, match="invalid input syntax for type integer") as caught:
        await db_session.scalar(select(cast(literal(bad), Integer())))
    assert bad not in str(caught.value)
    await db_session.rollback()


@pytest.mark.postgres_only(reason="asyncpg's own argument check; SQLite has no int32 parameter")
async def test_asyncpg_reason_kept_value_hidden(db_session: AsyncSession) -> None:
    # A plain Integer parameter is an int4: asyncpg refuses the value before sending it.
    statement = text("SELECT :n").bindparams(bindparam("n", 2**40, type_=Integer()))
    with pytest.raises(
        InvalidValueError, match=r"value hidden \(value out of int32 range\)"
    ) as caught:
        await db_session.scalar(statement)
    assert str(2**40) not in str(caught.value)
    await db_session.rollback()


@pytest.mark.parity("more than 32,767 bound values is TooManyParameters")
async def test_too_many_parameters(db_session: AsyncSession) -> None:
    many = list(range(40_000))
    with pytest.raises(TooManyParameters):
        await db_session.scalar(select(Counter.id).where(Counter.id.in_(many)))
    await db_session.rollback()
    # The portable spelling: chunks below the limit.
    found: list[int] = []
    for start in range(0, len(many), 30_000):
        chunk = many[start : start + 30_000]
        found += (await db_session.scalars(select(Counter.id).where(Counter.id.in_(chunk)))).all()
    assert found == []


@pytest.mark.parity("a lock not granted is LockNotAvailable")
async def test_lock_not_available(scratch: URL, dialect: str) -> None:
    settings = Settings(database_sqlite_busy_timeout_ms=50)
    holder, waiter = Database(scratch, settings=settings), Database(scratch, settings=settings)
    try:
        async with holder.engine.begin() as connection:
            await connection.run_sync(Counter.metadata.create_all, tables=[Counter.__table__])
        async with holder.transaction() as session:
            session.add(Counter(id=1, value=0))
        async with holder.transaction() as session:
            await session.scalar(select(Counter).where(Counter.id == 1).with_for_update())
            with pytest.raises(LockNotAvailable):
                async with waiter.transaction() as other:
                    query = select(Counter).where(Counter.id == 1).with_for_update(nowait=True)
                    await other.scalar(query)
    finally:
        await holder.dispose()
        await waiter.dispose()


def test_error_classes_are_dbapi_errors() -> None:
    for cls in (InvalidValueError, LockNotAvailable, TooManyParameters):
        assert issubclass(cls, sa_exc.DBAPIError)
    assert issubclass(InvalidValueError, ValueError)
