"""What a column type holds, in the terms the migration tooling compares: kind and width."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Time,
    Uuid,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["INTEGER_RANGES", "integer_range", "plain_type", "string_length", "type_family"]

# Signed range of each integer width Postgres enforces (SQLite stores 64 bits in any).
INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
# Most specific first: Enum is a String, BigInteger an Integer, DateTime no Date.
_FAMILIES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (Boolean, "boolean"),
    (Enum, "string"),
    (String, "string"),
    (Integer, "integer"),
    (Float, "float"),
    (Numeric, "numeric"),
    (DateTime, "datetime"),
    (Date, "date"),
    (Time, "time"),
    (JSON, "json"),
    (Uuid, "uuid"),
    (LargeBinary, "binary"),
)


def plain_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    """The generic SQLAlchemy type behind a TypeDecorator or a dialect's type."""
    while isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    try:
        return type_.as_generic()
    except NotImplementedError:
        return type_


def type_family(type_: TypeEngine[Any]) -> str:
    """`string`, `integer`, `datetime`, ...: types one value could move between unchanged."""
    plain = plain_type(type_)
    for cls, family in _FAMILIES:
        if isinstance(plain, cls):
            return family
    return type(plain).__name__.lower()


def string_length(type_: TypeEngine[Any]) -> int | None:
    """The declared length of a string column; None when unbounded or not a string."""
    plain = plain_type(type_)
    return plain.length if isinstance(plain, String) else None


def integer_range(type_: TypeEngine[Any]) -> tuple[int, int] | None:
    """The range an integer column holds on Postgres; None for other types."""
    plain = plain_type(type_)
    if isinstance(plain, BigInteger):
        return INTEGER_RANGES["bigint"]
    if isinstance(plain, SmallInteger):
        return INTEGER_RANGES["smallint"]
    if isinstance(plain, Integer):
        return INTEGER_RANGES["integer"]
    return None
