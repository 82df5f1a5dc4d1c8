"""Division by zero is refused on both backends; NULL divided by anything is NULL.

SQLite answers `x / 0`, `x % 0` and `mod(x, 0)` with NULL, silently; Postgres
refuses them. Through the toolkit both refuse with InvalidValueError "division by
zero", in SELECT lists and in WHERE clauses, for literals and for column values.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Float, Integer, Numeric, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.database import InvalidValueError
from core.database import functions as pf
from tests.models import Measure
from tests.test_functions import same, value


def _int(number: int | None) -> ColumnElement[Any]:
    return literal(number, Integer())


BY_ZERO: list[tuple[str, Callable[[], ColumnElement[Any]]]] = [
    ("int / 0", lambda: _int(7) / _int(0)),
    ("int // 0", lambda: _int(7) // _int(0)),
    ("int % 0", lambda: _int(7) % _int(0)),
    ("float / 0", lambda: literal(7.5, Float()) / _int(0)),
    ("float / 0.0", lambda: literal(7.5, Float()) / literal(0.0, Float())),
    ("decimal / 0", lambda: literal(Decimal("7.5"), Numeric(10, 2)) / _int(0)),
    ("func.mod(int, 0)", lambda: func.mod(_int(7), _int(0))),
    ("functions.mod(int, 0)", lambda: pf.mod(_int(7), _int(0))),
]


@pytest.mark.parity("division and remainder by zero are refused")
@pytest.mark.parametrize(("name", "expression"), BY_ZERO, ids=[name for name, _ in BY_ZERO])
async def test_division_by_zero_is_refused(
    db_session: AsyncSession, name: str, expression: Callable[[], ColumnElement[Any]]
) -> None:
    with pytest.raises(InvalidValueError, match="division by zero"):
        await value(db_session, expression())
    await db_session.rollback()


@pytest.mark.parity("NULL divided by zero, or by NULL, is NULL")
@pytest.mark.parametrize(
    "expression",
    [
        lambda: _int(None) / _int(0),
        lambda: _int(None) % _int(0),
        lambda: _int(7) / _int(None),
        lambda: pf.mod(_int(None), _int(0)),
    ],
    ids=["null / 0", "null % 0", "7 / null", "mod(null, 0)"],
)
async def test_null_divided_is_null(
    db_session: AsyncSession, expression: Callable[[], ColumnElement[Any]]
) -> None:
    assert await value(db_session, expression()) is None


@pytest.mark.parity("division by a zero column value is refused, in WHERE too")
async def test_a_zero_in_a_column_is_refused_in_select_and_where(db_session: AsyncSession) -> None:
    db_session.add_all([Measure(small=6, big=3), Measure(small=6, big=0)])
    await db_session.flush()
    with pytest.raises(InvalidValueError, match="division by zero"):
        await db_session.scalars(select(Measure.small / Measure.big))
    await db_session.rollback()
    db_session.add_all([Measure(small=6, big=3), Measure(small=6, big=0)])
    await db_session.flush()
    with pytest.raises(InvalidValueError, match="division by zero"):
        await db_session.scalars(select(Measure.id).where(Measure.small % Measure.big == 0))
    await db_session.rollback()


@pytest.mark.parity("division by a non-zero value is unchanged")
async def test_division_by_non_zero_values_is_unchanged(db_session: AsyncSession) -> None:
    same(await value(db_session, _int(7) // _int(2)), 3)
    same(await value(db_session, _int(-7) % _int(3)), -1)
    same(await value(db_session, pf.mod(_int(-7), _int(3))), -1)
    same(await value(db_session, literal(7.0, Float()) / _int(2)), 3.5)
    db_session.add(Measure(small=6, big=4))
    await db_session.flush()
    rows = (await db_session.scalars(select(Measure.small // Measure.big))).all()
    assert rows == [1]
