"""Datetimes and result types in SQL: the same value and Python type on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Date, Integer, Interval, cast, extract, func, literal, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import InvalidValueError, create_engine
from core.database import functions as pf
from tests.models import Measure
from tests.test_functions import same, value

AT = datetime(2024, 3, 30, 23, 30, 15, 250000, tzinfo=UTC)


async def _timed(session: AsyncSession) -> Measure:
    session.add_all(
        [
            row := Measure(at=AT, later=AT + timedelta(days=1, hours=2), took=timedelta(hours=1)),
            Measure(at=AT, later=AT, took=timedelta(minutes=30, microseconds=5)),
        ]
    )
    await session.flush()
    return row


@pytest.mark.parity("datetime + timedelta in SQL")
@pytest.mark.parametrize(
    "delta", [timedelta(hours=1), timedelta(days=-2, seconds=7), timedelta(microseconds=1)]
)
async def test_datetime_plus_timedelta(db_session: AsyncSession, delta: timedelta) -> None:
    await _timed(db_session)
    first = select(Measure.at + delta).order_by(Measure.id).limit(1)
    same(await db_session.scalar(first), AT + delta)
    minus = select(Measure.at - delta).order_by(Measure.id).limit(1)
    same(await db_session.scalar(minus), AT - delta)
    literal_interval = select(Measure.at + literal(delta, Interval())).limit(1)
    same(await db_session.scalar(literal_interval), AT + delta)


@pytest.mark.parity("datetime + duration column, in WHERE too")
async def test_datetime_plus_duration_column(db_session: AsyncSession) -> None:
    row = await _timed(db_session)
    ends = select(Measure.at + Measure.took).where(Measure.id == row.id)
    same(await db_session.scalar(ends), AT + timedelta(hours=1))
    found = select(func.count()).where(Measure.at + Measure.took > AT + timedelta(minutes=45))
    same(await db_session.scalar(found), 1)


@pytest.mark.parity("datetime - datetime is a timedelta")
async def test_datetime_difference(db_session: AsyncSession) -> None:
    await _timed(db_session)
    rows = await db_session.scalars(select(Measure.later - Measure.at).order_by(Measure.id))
    assert rows.all() == [timedelta(days=1, hours=2), timedelta(0)]
    same(
        await value(db_session, pf.datetime_diff(AT, AT - timedelta(seconds=3))),
        timedelta(seconds=3),
    )


@pytest.mark.parity("sum() and avg() of durations")
async def test_sum_of_durations(db_session: AsyncSession) -> None:
    await _timed(db_session)
    total = timedelta(hours=1, minutes=30, microseconds=5)
    same(await value(db_session, func.sum(Measure.took)), total)
    same(await value(db_session, func.max(Measure.took)), timedelta(hours=1))


@pytest.mark.parity("date of a datetime is a date")
async def test_date_of_a_datetime(db_session: AsyncSession) -> None:
    await _timed(db_session)
    same(await value(db_session, func.date(Measure.at)), date(2024, 3, 30))
    same(await value(db_session, pf.to_date(Measure.at)), date(2024, 3, 30))
    same(await value(db_session, cast(Measure.at, Date())), date(2024, 3, 30))
    same(await value(db_session, pf.to_date(AT + timedelta(hours=1))), date(2024, 3, 31))


@pytest.mark.parity("extract() is an int")
@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("year", 2024),
        ("month", 3),
        ("day", 30),
        ("hour", 23),
        ("minute", 30),
        ("second", 15),
        ("dow", 6),
        ("doy", 90),
        ("week", 13),
        ("epoch", int(AT.timestamp())),
    ],
)
async def test_extract(db_session: AsyncSession, field: str, expected: int) -> None:
    await _timed(db_session)
    same(await value(db_session, extract(field, Measure.at)), expected)


@pytest.mark.parity("wall-clock time in a zone")
async def test_local_time(db_session: AsyncSession) -> None:
    await _timed(db_session)
    berlin = await value(db_session, pf.local_time(Measure.at, "Europe/Berlin"))
    same(berlin, datetime(2024, 3, 31, 0, 30, 15, 250000))
    summer = await value(db_session, pf.local_time(AT + timedelta(days=1), "Europe/Berlin"))
    same(summer, datetime(2024, 4, 1, 1, 30, 15, 250000))


@pytest.mark.parity("avg() and sum() result types")
async def test_aggregate_result_types(db_session: AsyncSession) -> None:
    db_session.add_all(
        [
            Measure(small=1, big=2**40, ratio=0.5, money=Decimal("1.00")),
            Measure(small=2, big=2**40, ratio=1.0, money=Decimal("2.00")),
            Measure(small=2, big=1, ratio=1.5, money=Decimal("2.00")),
        ]
    )
    await db_session.flush()
    same(await value(db_session, func.avg(Measure.small)), 5 / 3)
    same(await value(db_session, func.avg(Measure.ratio)), 1.0)
    same(await value(db_session, func.avg(Measure.money)), Decimal("1.66666666666667"))
    same(await value(db_session, func.sum(Measure.big)), 2**41 + 1)
    same(await value(db_session, func.sum(Measure.small)), 5)
    same(await value(db_session, func.sum(Measure.money)), Decimal("5.00"))
    same(await value(db_session, func.max(Measure.big)), 2**40)


@pytest.mark.parity("integer / integer")
@pytest.mark.parametrize(
    ("a", "b", "expected"), [(5, 2, "2.5"), (1, 3, "0.3333333333"), (6, 3, "2")]
)
async def test_integer_division(db_session: AsyncSession, a: int, b: int, expected: str) -> None:
    quotient = await value(db_session, literal(a, Integer()) / literal(b, Integer()))
    assert isinstance(quotient, Decimal)
    assert quotient == Decimal(expected)


@pytest.mark.parity("NaN refused in float columns")
async def test_nan_is_refused(db_session: AsyncSession) -> None:
    db_session.add(Measure(ratio=float("nan")))
    with pytest.raises(InvalidValueError, match="NaN"):
        await db_session.flush()
    await db_session.rollback()


@pytest.mark.parity("NaN and infinity in float columns")
@pytest.mark.parametrize("special", [float("inf"), float("-inf")])
async def test_float_infinity_round_trips(db_session: AsyncSession, special: float) -> None:
    db_session.add(row := Measure(ratio=special))
    await db_session.flush()
    same(await db_session.scalar(select(Measure.ratio).where(Measure.id == row.id)), special)


@pytest.mark.parity("Postgres sessions run in UTC whatever the server's TimeZone")
async def test_sessions_run_in_utc(
    db_session: AsyncSession, postgres_scratch: URL | None, dialect: str
) -> None:
    url = postgres_scratch
    if url is None:  # SQLite has no session time zone: UTC text is all there is
        same(await value(db_session, extract("hour", literal(AT, Measure.at.type))), 23)
        return
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            name = admin.dialect.identifier_preparer.quote(url.database or "")
            await connection.exec_driver_sql(
                f"ALTER DATABASE {name} SET timezone = 'Europe/Berlin'"
            )
    finally:
        await admin.dispose()
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            moment = literal(AT, Measure.at.type)
            hour = await connection.scalar(select(extract("hour", moment)))
            day = await connection.scalar(select(func.date(moment)))
            zone = await connection.scalar(select(func.current_setting("TimeZone")))
    finally:
        await engine.dispose()
    assert (hour, day, zone) == (23, date(2024, 3, 30), "UTC")


@pytest.mark.parity("now() typed UTCDateTime is aware UTC")
async def test_now_typed_as_utc_datetime(db_session: AsyncSession) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    now = await value(db_session, func.now(type_=Measure.at.type))
    current = await value(db_session, func.current_timestamp(type_=Measure.at.type))
    for moment in (now, current):
        assert isinstance(moment, datetime)
        assert moment.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=5) <= moment <= datetime.now(UTC) + timedelta(seconds=5)


@pytest.mark.parity("the server's clock reads back aware UTC without a type_")
async def test_server_clock_functions_read_back_aware_utc(db_session: AsyncSession) -> None:
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    for clock in (func.now(), func.current_timestamp(), func.localtimestamp()):
        moment = await value(db_session, clock)
        assert isinstance(moment, datetime), clock
        assert moment.utcoffset() == timedelta(0), clock
        assert before <= moment <= datetime.now(UTC) + timedelta(seconds=5)
    # Compared with what a UTCDateTime column holds, in SQL and in Python.
    db_session.add(Measure(at=datetime(2020, 1, 1, tzinfo=UTC)))
    await db_session.flush()
    older = await db_session.scalar(select(func.count()).where(Measure.at < func.now()))
    assert older == 1
    assert await value(db_session, func.now()) > datetime(2020, 1, 1, tzinfo=UTC)
