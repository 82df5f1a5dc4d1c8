"""Datetime arithmetic in SQL that runs the same on SQLite and Postgres.

`UTCDateTime` columns use these for `+`/`-`: `ts + timedelta(hours=1)`,
`ts + duration_column`, `later - earlier` (a `Duration`). SQLite keeps datetimes as
UTC text and durations as microseconds, so its side is computed by Python
functions registered on each connection; Postgres uses its own operators. Every
Postgres connection of the toolkit runs in UTC, so dates and fields are UTC's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, DateTime, Interval, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql import functions as sa_functions
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.functions import FunctionElement, GenericFunction

from core.database.types import Duration, UTCDateTime

__all__ = [
    "add_interval",
    "datetime_diff",
    "is_datetime",
    "is_duration",
    "local_time",
    "to_date",
]


def _clause(value: Any) -> Any:
    # An ORM attribute (Model.column) stands for its column.
    return value.__clause_element__() if hasattr(value, "__clause_element__") else value


def is_duration(value: Any) -> bool:
    """True for a timedelta or an expression of type Duration / Interval."""
    value = _clause(value)
    if isinstance(value, timedelta):
        return True
    return isinstance(value, ColumnElement) and isinstance(value.type, Duration | Interval)


def is_datetime(value: Any) -> bool:
    """True for a datetime or an expression of a datetime type."""
    value = _clause(value)
    if isinstance(value, datetime):
        return True
    return isinstance(value, ColumnElement) and isinstance(value.type, UTCDateTime | DateTime)


def _duration(value: Any) -> ColumnElement[Any]:
    value = _clause(value)
    if isinstance(value, timedelta):
        return literal(value, Duration())
    if isinstance(value, BindParameter) and not isinstance(value.type, Duration):
        # literal(timedelta, Interval()): SQLAlchemy's Interval would bind an epoch datetime.
        return literal(value.effective_value, Duration())
    if isinstance(value, ColumnElement) and isinstance(value.type, Duration):
        return value
    raise TypeError("a duration must be a timedelta or a Duration column (not Interval)")


def _moment(value: Any) -> ColumnElement[Any]:
    if isinstance(value, datetime):
        return literal(value, UTCDateTime())
    element: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, value)
    return element


class add_interval(FunctionElement[datetime]):
    """`moment + duration` as an aware UTC datetime (`ts + timedelta(...)` builds this)."""

    type = UTCDateTime()
    inherit_cache = True

    def __init__(self, moment: Any, duration: Any) -> None:
        super().__init__(_moment(moment), _duration(duration))


class datetime_diff(FunctionElement[timedelta]):
    """`later - earlier` as a timedelta (`ts2 - ts1` builds this)."""

    type = Duration()
    inherit_cache = True

    def __init__(self, later: Any, earlier: Any) -> None:
        super().__init__(_moment(later), _moment(earlier))


class to_date(FunctionElement[date]):
    """The UTC calendar date of an aware datetime, as a `date`."""

    type = Date()
    inherit_cache = True

    def __init__(self, moment: Any) -> None:
        super().__init__(_moment(moment))


class utc_date(GenericFunction[date]):
    """`func.date(ts)`: the UTC date, as a `date` on both (SQLite's date() returns text)."""

    identifier = "date"
    name = "date"
    type = Date()
    inherit_cache = True


class local_time(FunctionElement[datetime]):
    """The naive wall-clock time of `moment` in the IANA `zone` (Postgres' timezone())."""

    type = DateTime()
    inherit_cache = True

    def __init__(self, moment: Any, zone: Any) -> None:
        super().__init__(
            _moment(moment), literal(zone, String()) if isinstance(zone, str) else zone
        )


def _args(element: Any, compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


@compiles(add_interval, "postgresql")
def _add_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    moment, duration = _args(element, compiler, **kw)
    return f"({moment} + {duration})"


@compiles(add_interval, "sqlite")
def _add_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return f"core_add_microseconds({', '.join(_args(element, compiler, **kw))})"


@compiles(datetime_diff, "postgresql")
def _diff_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    return f"({later} - {earlier})"


@compiles(datetime_diff, "sqlite")
def _diff_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return f"core_diff_microseconds({', '.join(_args(element, compiler, **kw))})"


@compiles(to_date, "postgresql")
def _to_date_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {_args(element, compiler, **kw)[0]}) AS DATE)"


@compiles(to_date, "sqlite")
def _to_date_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({_args(element, compiler, **kw)[0]})"


@compiles(local_time, "postgresql")
def _local_postgres(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    moment, zone = _args(element, compiler, **kw)
    return f"timezone({zone}, {moment})"


@compiles(local_time, "sqlite")
def _local_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return f"core_local_time({', '.join(_args(element, compiler, **kw))})"


# The server's clock reads back aware UTC on both: SQLite's CURRENT_TIMESTAMP is text
# without a zone (a naive datetime through SQLAlchemy's DateTime), where Postgres
# gives an aware one. SQLAlchemy's own functions carry the type, so set it on them.
for _clock in (sa_functions.now, sa_functions.current_timestamp, sa_functions.localtimestamp):
    _clock.type = UTCDateTime()  # type: ignore[assignment]  # a DateTime, decorated
