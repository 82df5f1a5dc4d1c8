"""NULL in, NULL out: every portable function and operator, with NULL in each argument.

Postgres' functions are strict: a NULL argument gives NULL. The SQLite implementations
must give the same NULL, not an error, an empty string or a zero.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    cast,
    extract,
    func,
    literal,
    null,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.database import InvalidValueError
from core.database import functions as pf
from core.database.types import UTCDateTime
from tests.test_functions import same, value

AT = datetime(2024, 3, 30, 23, 30, 15, tzinfo=UTC)


def _text() -> ColumnElement[Any]:
    return cast(null(), String())


def _int() -> ColumnElement[Any]:
    return cast(null(), Integer())


def _moment() -> ColumnElement[Any]:
    return cast(null(), UTCDateTime())


def _at() -> ColumnElement[Any]:
    return literal(AT, UTCDateTime())


# (name, expression): each has exactly one NULL argument.
CASES: list[tuple[str, Callable[[], ColumnElement[Any]]]] = [
    ("substr(NULL, 2)", lambda: pf.substr(_text(), 2)),
    ("substr(s, NULL)", lambda: pf.substr(literal("abc"), _int())),
    ("substr(s, 1, NULL)", lambda: pf.substr(literal("abc"), 1, _int())),
    ("left(NULL, 2)", lambda: pf.left(_text(), 2)),
    ("left(s, NULL)", lambda: pf.left(literal("abc"), _int())),
    ("right(NULL, 2)", lambda: pf.right(_text(), 2)),
    ("right(s, NULL)", lambda: pf.right(literal("abc"), _int())),
    ("lower(NULL)", lambda: pf.lower(_text())),
    ("upper(NULL)", lambda: pf.upper(_text())),
    ("round(NULL)", lambda: pf.round(cast(null(), Numeric(10, 2)))),
    ("round(NULL, 1)", lambda: pf.round(cast(null(), Numeric(10, 2)), 1)),
    ("round(x, NULL)", lambda: pf.round(literal(Decimal("2.55"), Numeric(10, 2)), _int())),
    ("NULL ~ pattern", lambda: _text().regexp_match("a")),
    ("s ~ NULL", lambda: literal("abc").regexp_match(_text())),
    ("regexp_replace(NULL, p, r)", lambda: _text().regexp_replace("a", "b")),
    ("regexp_replace(s, NULL, r)", lambda: literal("abc").regexp_replace(_text(), "b")),
    ("regexp_replace(s, p, NULL)", lambda: literal("abc").regexp_replace("a", _text())),
    ("add_interval(NULL, d)", lambda: pf.add_interval(_moment(), timedelta(hours=1))),
    ("datetime_diff(NULL, t)", lambda: pf.datetime_diff(_moment(), _at())),
    ("datetime_diff(t, NULL)", lambda: pf.datetime_diff(_at(), _moment())),
    ("local_time(NULL, zone)", lambda: pf.local_time(_moment(), "Europe/Berlin")),
    ("to_date(NULL)", lambda: pf.to_date(_moment())),
    ("extract(week from NULL)", lambda: extract("week", _moment())),
    ("cast(NULL AS INTEGER)", lambda: cast(_text(), Integer())),
    ("concat_ws-free ||: s || NULL", lambda: literal("ab") + _text()),
]


@pytest.mark.parity("every portable function gives NULL for a NULL argument")
@pytest.mark.parametrize(("name", "expression"), CASES, ids=[name for name, _ in CASES])
async def test_null_in_null_out(
    db_session: AsyncSession, name: str, expression: Callable[[], ColumnElement[Any]]
) -> None:
    assert await value(db_session, expression()) is None, name


@pytest.mark.parity("cast(float AS INTEGER) rounds half to even, as Postgres does")
@pytest.mark.parametrize(
    ("number", "expected"),
    [(2.5, 2), (3.5, 4), (-2.5, -2), (1.4, 1), (1.6, 2), (-1.6, -2), (7.0, 7)],
)
async def test_cast_of_a_float_to_integer(
    db_session: AsyncSession, number: float, expected: int
) -> None:
    same(await value(db_session, cast(literal(number, Float()), Integer())), expected)


@pytest.mark.parity("cast(numeric AS INTEGER) rounds half away from zero, as Postgres does")
@pytest.mark.parametrize(
    ("number", "expected"),
    [("2.5", 3), ("3.5", 4), ("-2.5", -3), ("1.4", 1)],
)
async def test_cast_of_a_decimal_to_integer(
    db_session: AsyncSession, number: str, expected: int
) -> None:
    decimal = literal(Decimal(number), Numeric(10, 2))
    same(await value(db_session, cast(decimal, Integer())), expected)


@pytest.mark.parity("a cast to an integer type refuses what the type cannot hold")
@pytest.mark.parametrize(
    ("expression", "target"),
    [
        (lambda: literal(3e9, Float()), Integer()),
        (lambda: literal(Decimal("3000000000"), Numeric(12, 0)), Integer()),
        (lambda: literal("3000000000"), Integer()),
        (lambda: literal(40000.0, Float()), SmallInteger()),
        (lambda: literal(1e19, Float()), BigInteger()),
        (lambda: literal(float("inf"), Float()), BigInteger()),
    ],
    ids=["float-int", "numeric-int", "text-int", "float-smallint", "float-bigint", "inf-bigint"],
)
async def test_a_cast_out_of_the_integer_range_is_refused(
    db_session: AsyncSession, expression: Callable[[], ColumnElement[Any]], target: Any
) -> None:
    with pytest.raises(InvalidValueError, match="out of range"):
        await value(db_session, cast(expression(), target))
    await db_session.rollback()


@pytest.mark.parity("a cast to BIGINT keeps what INTEGER cannot hold")
async def test_a_cast_to_bigint_keeps_a_large_value(db_session: AsyncSession) -> None:
    same(await value(db_session, cast(literal("3000000000"), BigInteger())), 3_000_000_000)
    same(await value(db_session, cast(literal(3e9, Float()), BigInteger())), 3_000_000_000)


SAME_KIND = [
    ("floor", -1.5, -2.0), ("floor", -3, -3), ("floor", Decimal("-2.5"), Decimal("-3")),
    ("ceil", -1.5, -1.0), ("ceil", 2, 2), ("ceil", Decimal("2.1"), Decimal("3")),
    ("ceiling", 1.2, 2.0),
    ("trunc", -1.7, -1.0), ("trunc", 7, 7), ("trunc", Decimal("-2.5"), Decimal("-2")),
    ("sign", -3, -1), ("sign", 0.5, 1.0), ("sign", Decimal("0"), Decimal("0")),
    ("abs", -3, 3), ("abs", -1.5, 1.5), ("abs", Decimal("-2.50"), Decimal("2.5")),
]  # fmt: skip
_TYPES = {float: Float(), int: Integer(), Decimal: Numeric(10, 2)}


@pytest.mark.parity("floor/ceil/trunc/sign/abs keep the argument's Python type")
@pytest.mark.parametrize(
    ("name", "argument", "expected"), SAME_KIND, ids=[f"{n}({a!r})" for n, a, _ in SAME_KIND]
)
async def test_rounding_functions_keep_the_argument_type(
    db_session: AsyncSession, name: str, argument: Any, expected: Any
) -> None:
    given = literal(argument, _TYPES[type(argument)])
    same(await value(db_session, getattr(func, name)(given)), expected)
    assert await value(db_session, getattr(func, name)(cast(null(), Float()))) is None
