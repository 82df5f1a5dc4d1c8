"""Result types for computed values: the same Python type and value on both backends.

SQLite computes in 64-bit integers and binary floats, Postgres in NUMERIC: an
`avg()` is a float on one and a Decimal on the other, a `sum()` of BIGINT an int
on one and a Decimal on the other. These types convert what either driver returns.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect, Float, Numeric
from sqlalchemy import types as sqltypes
from sqlalchemy.types import TypeDecorator, TypeEngine

from core.database.types import SQLITE_EXACT_DIGITS

__all__ = ["DecimalResult", "FloatResult", "IntegerResult", "result_type_like"]


class IntegerResult(TypeDecorator[int]):
    """A computed whole number, as `int` on both (Postgres returns NUMERIC sums as Decimal)."""

    impl = BigInteger
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class FloatResult(TypeDecorator[float]):
    """A computed binary float, as `float` on both; NaN and infinities stay what they are."""

    impl = Float
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        return None if value is None else float(value)


class DecimalResult(TypeDecorator[Decimal]):
    """A computed decimal, exact to SQLite's 15 significant digits on both.

    With `places`, quantized to that many places (what `round(x, places)` means).
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, places: int | None = None) -> None:
        super().__init__(asdecimal=True)
        self.places = places

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # asdecimal=False on SQLite: a REAL arrives as the float it is, not Decimal(repr).
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(asdecimal=False))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        number = Decimal(format(value, f".{SQLITE_EXACT_DIGITS}g"))
        if self.places is not None:
            return number.quantize(Decimal(1).scaleb(-self.places))
        plain = number.normalize()
        return Decimal(int(plain)) if int(plain.as_tuple().exponent) > 0 else plain


def result_type_like(argument: TypeEngine[Any], places: int | None = None) -> TypeEngine[Any]:
    """The portable result type for arithmetic on a column of type `argument`."""
    if isinstance(argument, TypeDecorator):
        argument = argument.impl_instance
    if isinstance(argument, sqltypes.Integer) and (places is None or places <= 0):
        return IntegerResult()
    if isinstance(argument, sqltypes.Float):
        return FloatResult()
    if isinstance(argument, sqltypes.Numeric):
        return DecimalResult(places if places is not None else None)
    if isinstance(argument, sqltypes.Integer):
        return DecimalResult(places)
    return argument
