"""Column types that read and write the same values on SQLite and Postgres."""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    Integer,
    Interval,
    Numeric,
    Uuid,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "PORTABLE_ENUM_OPTIONS",
    "BigIntPK",
    "CheckedFloat",
    "CheckedInteger",
    "Duration",
    "ExactDecimal",
    "JSONType",
    "PortableUuid",
    "UTCDateTime",
    "portable_enum",
    "utcnow",
]

# SQLite keeps a REAL to 15 significant digits; past that a NUMERIC value is rounded.
SQLITE_EXACT_DIGITS = 15

# BIGINT on Postgres; on SQLite only INTEGER PRIMARY KEY aliases the rowid and autoincrements.
BigIntPK: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on Postgres (indexable, compared by value); JSON text on SQLite. Python None is
# SQL NULL on both, so `IS NULL` finds it; store a JSON null with `JSON.NULL`.
JSONType: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class _SQLiteUTCText(SQLITE_DATETIME):
    """SQLite text in CURRENT_TIMESTAMP's format, with a fraction only when it is non-zero.

    SQLAlchemy's default always writes `.000000`, and text comparison then puts
    `12:00:00.000000` after CURRENT_TIMESTAMP's `12:00:00`: the same instant
    would not be equal in a WHERE clause. This format orders like the instants.
    """

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat(sep=" ")

        return process


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both backends; naive input is refused.

    SQLite stores text without an offset, so values are converted to UTC on the
    way in and marked UTC on the way out (CURRENT_TIMESTAMP text included).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator[datetime]):
        """`ts + timedelta`, `ts - timedelta` and `ts2 - ts1` in SQL, the same on both."""

        def __add__(self, other: Any) -> Any:
            from core.database.functions.temporal import add_interval, is_duration

            if is_duration(other):
                return add_interval(self.expr, other)
            return super().__add__(other)

        def __radd__(self, other: Any) -> Any:
            return self.__add__(other)

        def __sub__(self, other: Any) -> Any:
            from core.database.functions.temporal import (
                add_interval,
                datetime_diff,
                is_datetime,
                is_duration,
            )

            value = getattr(other, "effective_value", other)  # literal(timedelta, Interval())
            if isinstance(value, timedelta):
                return add_interval(self.expr, -value)
            if is_duration(other):
                return add_interval(self.expr, -other)
            if is_datetime(other):
                return datetime_diff(self.expr, other)
            return super().__sub__(other)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteUTCText())  # type: ignore[no-untyped-call]
        return super().load_dialect_impl(dialect)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: give it a timezone (e.g. tzinfo=UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "sqlite":
            # Parse the text and mark it UTC in one step: SQLAlchemy's path (the impl's
            # parser, then process_result_value) costs several times as much per value.
            return _aware_utc_from_sqlite_text
        return super().result_processor(dialect, coltype)


def _aware_utc_from_sqlite_text(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        # Stored text carries no offset: parsing it with "+00:00" costs what parsing
        # alone does, where datetime.replace(tzinfo=...) would cost six times more.
        parsed = datetime.fromisoformat(value + "+00:00")
    except ValueError:
        parsed = datetime.fromisoformat(value)  # text written with an offset
    if parsed.tzinfo is UTC:
        return parsed
    if parsed.tzinfo is None:  # a date alone: "+00:00" was read as a time
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class CheckedInteger(TypeDecorator[int]):
    """INTEGER (32-bit) that refuses what Postgres refuses, on SQLite too.

    SQLite stores 'abc' or 2**40 in an INTEGER column and compares `col == "5"`;
    here a non-integer or an out-of-range value is an InvalidValueError on both.
    """

    impl = Integer
    cache_ok = True
    bits = 32

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            # A bool is an int to Python, not to Postgres: refused as a float column does.
            raise TypeError(f"expected an int for an integer column, got {type(value).__name__}")
        limit = 2 ** (self.bits - 1)
        if not -limit <= value < limit:
            raise ValueError(f"value out of int{self.bits} range")
        return int(value)


class CheckedBigInteger(CheckedInteger):
    """BIGINT (64-bit) that refuses non-integers and out-of-range values on both."""

    impl = BigInteger
    cache_ok = True
    bits = 64


class CheckedFloat(TypeDecorator[float]):
    """DOUBLE PRECISION / REAL that refuses NaN on both: SQLite would read it back as NULL."""

    impl = Float
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise TypeError(f"expected a number for a float column, got {type(value).__name__}")
        number = float(value)
        if math.isnan(number):
            raise ValueError("NaN cannot be stored portably (SQLite turns it into NULL)")
        return number


class PortableUuid(TypeDecorator[uuid.UUID]):
    """UUID (native on Postgres) that also takes its text form, on SQLite too."""

    impl = Uuid
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        if value is None or isinstance(value, uuid.UUID):
            return value
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                raise ValueError("invalid UUID text") from None
        raise TypeError(f"expected a UUID, got {type(value).__name__}")

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        # asyncpg returns its own subclass; both backends read back exactly uuid.UUID.
        if value is None or type(value) is uuid.UUID:
            return value
        return uuid.UUID(bytes=value.bytes)


class Duration(TypeDecorator[timedelta]):
    """A `timedelta`: INTERVAL on Postgres, whole microseconds (BIGINT) on SQLite.

    SQLAlchemy's own Interval stores a datetime after the epoch on SQLite, which SQL
    cannot add, subtract or sum; microseconds can be.
    """

    impl = Interval
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Interval())

    def process_bind_param(self, value: timedelta | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, timedelta):
            raise TypeError(f"expected a timedelta, got {type(value).__name__}")
        if dialect.name == "sqlite":
            return microseconds(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> timedelta | None:
        if value is None or isinstance(value, timedelta):
            return value
        return timedelta(microseconds=int(value))


def microseconds(value: timedelta) -> int:
    """`value` in whole microseconds (exact, unlike total_seconds())."""
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC that never rounds silently: too many places or digits is an error on both.

    SQLite has no decimal type; values it cannot hold exactly are refused there.
    Reads have the column's scale, or without one the plainest form (`1.10` -> `1.1`).
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int | None = None, scale: int | None = None) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale
        # NUMERIC(p) means NUMERIC(p, 0) to Postgres: whole numbers only.
        self._places = scale if scale is not None or precision is None else 0

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            # Bind as text: NUMERIC affinity stores it exactly when it can be.
            return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=False))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if not number.is_finite():
            raise ValueError(f"{number} cannot be stored in a NUMERIC column")
        _sign, digits, exponent = number.normalize().as_tuple()
        places = max(0, -int(exponent))
        whole = 0 if number.is_zero() else max(0, len(digits) + int(exponent))
        if self._places is not None and places > self._places:
            raise ValueError(f"{number} has more than {self._places} decimal places")
        if self.precision is not None and whole > self.precision - (self._places or 0):
            raise ValueError(f"{number} does not fit NUMERIC({self.precision}, {self.scale})")
        if dialect.name == "sqlite":
            if len(digits) > SQLITE_EXACT_DIGITS:
                raise ValueError(
                    f"SQLite cannot store {len(digits)} significant digits exactly "
                    f"(at most {SQLITE_EXACT_DIGITS})"
                )
            return str(number)
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):
            # A REAL from SQLite: a stored value, or SQL arithmetic done in binary floating
            # point (0.1 + 0.2). Both are exact to 15 digits, so that rounding gives the
            # decimal Postgres computes.
            number = Decimal(format(value, f".{SQLITE_EXACT_DIGITS}g"))
        else:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
        if self.scale is not None:
            return number.quantize(Decimal(1).scaleb(-self.scale))
        # SQLite keeps no trailing zeros (1.10 is stored as 1.1); drop them on Postgres too,
        # so both backends return the same Decimal, not just an equal one.
        plain = number.normalize()
        return Decimal(int(plain)) if int(plain.as_tuple().exponent) > 0 else plain


def _enum_values(members: Iterable[enum.Enum]) -> list[str]:
    return [str(member.value) for member in members]


# Stored by value, as VARCHAR plus a named CHECK: no native ENUM type to migrate.
PORTABLE_ENUM_OPTIONS: dict[str, Any] = {
    "native_enum": False,
    "create_constraint": True,
    "validate_strings": True,
    "values_callable": _enum_values,
}


def portable_enum(enum_class: type[enum.Enum], *, length: int | None = None) -> SAEnum:
    """An enum stored as VARCHAR plus a CHECK on both backends (no native ENUM to migrate)."""
    width = length or max(len(value) for value in _enum_values(enum_class))
    return SAEnum(enum_class, length=width, **PORTABLE_ENUM_OPTIONS)
