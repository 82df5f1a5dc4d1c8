"""The portable spellings for differences left open (docs/parity.md, Known differences)."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Boolean, Float, Integer, String, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import functions as pf
from tests.models import Measure
from tests.test_functions import same, value


@pytest.mark.parity("integer arithmetic past INTEGER: cast to BIGINT first")
async def test_arithmetic_past_integer_in_bigint(db_session: AsyncSession) -> None:
    largest = literal(2_147_483_647, Integer())
    same(await value(db_session, cast(largest, BigInteger()) + 1), 2_147_483_648)


@pytest.mark.parity("a comparison in a select list: cast to Boolean")
async def test_between_in_a_select_list_cast_to_boolean(db_session: AsyncSession) -> None:
    five = literal(5, Integer())
    same(await value(db_session, cast(five.between(1, 10), Boolean())), True)
    same(await value(db_session, cast(five.between(6, 10), Boolean())), False)


@pytest.mark.parity("text functions on numbers: cast to String first")
async def test_text_functions_on_numbers_after_a_cast(db_session: AsyncSession) -> None:
    number = literal(123, Integer())
    same(await value(db_session, func.length(cast(number, String()))), 3)
    same(await value(db_session, func.lower(cast(number, String()))), "123")


@pytest.mark.parity("a float to a given number of places: functions.round")
async def test_float_to_places_with_round(db_session: AsyncSession) -> None:
    same(await value(db_session, pf.round(literal(1.25, Float()), 1)), 1.3)


@pytest.mark.parity("population variance from avg(), where SQLite has no variance()")
async def test_population_variance_from_averages(db_session: AsyncSession) -> None:
    db_session.add_all([Measure(ratio=1.0), Measure(ratio=3.0)])
    await db_session.flush()
    mean_of_squares = func.avg(Measure.ratio * Measure.ratio)
    mean = func.avg(Measure.ratio)
    same(await db_session.scalar(select(mean_of_squares - mean * mean)), 1.0)
