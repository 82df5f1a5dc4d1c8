"""Every toolkit type refuses a value of the wrong kind the same way on both backends.

A value the column cannot mean is an InvalidValueError when it is bound, before any
SQL runs: on SQLite nothing else would stop it, on Postgres the driver's own error
would differ by type.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from core.database import InvalidValueError
from core.database.types import (
    CheckedFloat,
    CheckedInteger,
    Duration,
    ExactDecimal,
    PortableUuid,
    UTCDateTime,
)

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

REFUSED: list[tuple[str, TypeEngine[Any], Any]] = [
    ("datetime from text", UTCDateTime(), "2024-05-01T12:00:00Z"),
    ("datetime from a number", UTCDateTime(), 1714564800),
    ("datetime from a date-only value", UTCDateTime(), AT.date()),
    ("naive datetime", UTCDateTime(), datetime(2024, 5, 1, 12, 0)),
    ("float from text", CheckedFloat(), "1.5"),
    ("float from a boolean", CheckedFloat(), True),
    ("integer from text", CheckedInteger(), "7"),
    ("integer from a float", CheckedInteger(), 7.0),
    ("integer from a boolean", CheckedInteger(), True),
    ("uuid from a number", PortableUuid(), 12345),
    ("uuid from bad text", PortableUuid(), "not-a-uuid"),
    ("duration from seconds", Duration(), 3600),
    ("duration from text", Duration(), "1 hour"),
    ("decimal NaN", ExactDecimal(10, 2), Decimal("NaN")),
    ("decimal infinity", ExactDecimal(10, 2), Decimal("Infinity")),
    ("decimal with too many places", ExactDecimal(10, 2), Decimal("1.234")),
]


@pytest.mark.parity("a value of the wrong kind for a toolkit type is InvalidValueError")
@pytest.mark.parametrize(
    ("name", "type_", "bad"), REFUSED, ids=[name for name, _type, _bad in REFUSED]
)
async def test_a_value_of_the_wrong_kind_is_refused(
    db_session: AsyncSession, name: str, type_: TypeEngine[Any], bad: Any
) -> None:
    with pytest.raises(InvalidValueError):
        await db_session.scalar(select(literal(bad, type_)))
    await db_session.rollback()


ACCEPTED: list[tuple[str, TypeEngine[Any], Any, Any]] = [
    ("aware datetime", UTCDateTime(), AT, AT),
    ("float from an int", CheckedFloat(), 2, 2.0),
    ("float from a Decimal", CheckedFloat(), Decimal("2.5"), 2.5),
    ("uuid from its text", PortableUuid(), "12345678-1234-5678-1234-567812345678",
     uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("duration", Duration(), timedelta(hours=1, microseconds=5),
     timedelta(hours=1, microseconds=5)),
    ("decimal from an int", ExactDecimal(10, 2), 3, Decimal("3.00")),
]  # fmt: skip


@pytest.mark.parity("a toolkit type reads back what it accepted, as the Python type it names")
@pytest.mark.parametrize(
    ("name", "type_", "given", "expected"), ACCEPTED, ids=[case[0] for case in ACCEPTED]
)
async def test_a_value_of_the_right_kind_reads_back(
    db_session: AsyncSession, name: str, type_: TypeEngine[Any], given: Any, expected: Any
) -> None:
    got = await db_session.scalar(select(literal(given, type_)))
    assert (got, type(got)) == (expected, type(expected)), name
