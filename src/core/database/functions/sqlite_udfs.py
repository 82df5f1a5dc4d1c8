"""Python implementations, registered on every SQLite connection, of what SQLite lacks.

Each gives the Postgres meaning (the SQL standard's, where there is one), so the
portable functions in this package compile to them on SQLite.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import deque
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from core.database.functions.sqlite_postgres_names import register_postgres_names

__all__ = ["last_refusal", "regex_flags", "register_sqlite_functions"]

# Postgres embedded options that Python's re can honour the same way.
_FLAG_BITS = {"i": re.IGNORECASE, "c": 0, "g": 0}


def regex_flags(flags: str | None) -> int:
    """`re` flags for Postgres-style flags; anything else is refused on both backends."""
    # Postgres ARE: `.` matches a newline and ^/$ anchor the whole string (Python's re.S).
    bits = re.DOTALL
    for flag in flags or "":
        if flag not in _FLAG_BITS:
            raise ValueError(f"regular expression flag {flag!r} is not portable (use i, c or g)")
        bits |= _FLAG_BITS[flag]
    if "c" in (flags or "") and "i" not in (flags or "").split("c")[-1]:
        bits &= ~re.IGNORECASE  # the last of i/c wins, as on Postgres
    return bits


@lru_cache(maxsize=256)
def _compiled(pattern: str, flags: str | None) -> re.Pattern[str]:
    return re.compile(pattern, regex_flags(flags))


def _regexp(pattern: str | None, value: str | None, flags: str | None = None) -> bool | None:
    if pattern is None or value is None:
        return None
    return _compiled(pattern, flags).search(value) is not None


def _regexp_replace(
    value: str | None, pattern: str | None, replacement: str | None, flags: str | None = None
) -> str | None:
    if value is None or pattern is None or replacement is None:
        return None
    # Postgres replaces the first match unless flag g; `\&` is the whole match.
    template = replacement.replace("\\&", "\\g<0>")
    count = 0 if "g" in (flags or "") else 1
    return _compiled(pattern, flags).sub(template, value, count=count)


def _substr(value: Any, start: int | None, length: int | None = None) -> Any:
    # Postgres: characters at positions [start, start + length) that lie within 1..len.
    if value is None or start is None:
        return None
    if length is not None and length < 0:
        raise ValueError("negative substring length not allowed")
    begin = max(start, 1)
    end = None if length is None else start + length
    if end is not None and end <= begin:
        return value[:0]
    return value[begin - 1 : None if end is None else end - 1]


def _substr_for(value: Any, start: int | None, length: int | None) -> Any:
    # substr(s, start, NULL) is NULL; only the two-argument form runs to the end.
    return None if length is None else _substr(value, start, length)


def _left(value: Any, count: int | None) -> Any:
    # A negative count drops that many from the end, as on Postgres.
    return None if value is None or count is None else value[:count]


def _right(value: Any, count: int | None) -> Any:
    if value is None or count is None:
        return None
    return value[:0] if count == 0 else value[-count:]


def _round_half_away(value: Any, places: int | None = 0) -> Any:
    # Postgres rounds NUMERIC half away from zero; this is the same on the decimal
    # SQLite prints for the REAL (15 significant digits), not on its binary value.
    if value is None or places is None:
        return None
    exact = Decimal(format(value, ".15g")) if isinstance(value, float) else Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if isinstance(value, float):
        return float(rounded)
    return int(rounded) if isinstance(value, int) else str(rounded)


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _format(moment: datetime) -> str:
    # The text UTCDateTime writes: CURRENT_TIMESTAMP's format, a fraction only when non-zero.
    return moment.replace(tzinfo=None).isoformat(sep=" ")


def _add_microseconds(text: str | None, microseconds: int | None) -> str | None:
    moment = _parse(text)
    if moment is None or microseconds is None:
        return None
    return _format(moment + timedelta(microseconds=microseconds))


def _diff_microseconds(later: str | None, earlier: str | None) -> int | None:
    a, b = _parse(later), _parse(earlier)
    if a is None or b is None:
        return None
    delta = a - b
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _local_time(text: str | None, zone: str | None) -> str | None:
    moment = _parse(text)
    if moment is None or zone is None:
        return None
    return _format(moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)))


def _iso_week(text: str | None) -> int | None:
    moment = _parse(text)
    return None if moment is None else moment.isocalendar().week


def _to_date(text: str | None) -> str | None:
    moment = _parse(text)
    return None if moment is None else date(moment.year, moment.month, moment.day).isoformat()


_INTEGER_NAMES = {16: "smallint", 32: "integer", 64: "bigint"}


def _in_range(number: int, bits: int) -> int:
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise ValueError(f"{_INTEGER_NAMES[bits]} out of range")
    return number


def _strict_integer(value: Any, bits: int = 64) -> int | None:
    # Postgres refuses '12abc' and ' 1.5' as integers where SQLite's CAST gives 12 or 1.
    if value is None:
        return None
    if isinstance(value, int):
        return _in_range(value, bits)
    if isinstance(value, float):
        return _float_to_integer(value, bits)
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        number = int(text.strip())
    except ValueError:
        raise ValueError("invalid input syntax for type integer") from None
    return _in_range(number, bits)


def _floor(value: Any) -> Any:
    # Replaces SQLAlchemy's own `floor` (math.floor), which fails on NULL and turns a
    # float into an int; Postgres gives NULL, and a float for a float.
    if value is None:
        return None
    return float(math.floor(value)) if isinstance(value, float) else math.floor(value)


def _divisor(dividend: Any, divisor: Any) -> Any:
    # Postgres refuses a division by zero (SQLite would answer NULL); NULL / 0 is NULL.
    if dividend is None or divisor is None or isinstance(divisor, str | bytes):
        return divisor
    if divisor == 0:
        raise ValueError("division by zero")
    return divisor


def _float_to_integer(value: Any, bits: int = 64) -> int | None:
    # Postgres' float8 -> integer: rint(), half to even (Python's round()).
    if value is None:
        return None
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("integer out of range")
    return _in_range(round(number), bits)


def _numeric_to_integer(value: Any, bits: int = 64) -> int | None:
    # Postgres' numeric -> integer: half away from zero, on the decimal SQLite prints.
    rounded = _round_half_away(value, 0)
    return None if rounded is None else _in_range(int(Decimal(str(rounded))), bits)


def _contains(document: Any, fragment: Any, top: bool = True) -> bool:
    # Postgres' jsonb @>: objects by key, arrays by element (any order), scalars by value;
    # at the top level only, an array also contains a bare scalar.
    if isinstance(fragment, dict):
        return isinstance(document, dict) and all(
            key in document and _contains(document[key], value, False)
            for key, value in fragment.items()
        )
    if isinstance(fragment, list):
        return isinstance(document, list) and all(
            any(_contains(item, wanted, False) for item in document) for wanted in fragment
        )
    if isinstance(document, list) and top:
        return any(_same_scalar(item, fragment) for item in document)
    return _same_scalar(document, fragment)


def _same_scalar(a: Any, b: Any) -> bool:
    # JSON true is not 1: compare type as well as value.
    return isinstance(a, bool) == isinstance(b, bool) and not isinstance(a, dict | list) and a == b


def _json_contains(document: str | None, fragment: str | None) -> int | None:
    if document is None or fragment is None:
        return None
    return int(_contains(json.loads(document), json.loads(fragment)))


class _OrderedStringAgg:
    """string_agg(value, separator, sort key, descending): ORDER BY inside the aggregate."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, int, str]] = []
        self.separator = ","
        self.descending = False

    def step(self, value: Any, separator: str, key: Any, descending: int) -> None:
        if value is None:
            return
        self.separator, self.descending = separator, bool(descending)
        self.items.append((key, len(self.items), str(value)))

    def finalize(self) -> str | None:
        if not self.items:
            return None
        # NULL keys sort last ascending and first descending, as on Postgres.
        ordered = sorted(
            self.items,
            key=lambda item: (item[0] is None, 0 if item[0] is None else item[0]),
            reverse=self.descending,
        )
        return self.separator.join(item[2] for item in ordered)


_SCALARS: tuple[tuple[str, int, Any], ...] = (
    ("core_regexp", 3, _regexp),
    ("core_regexp_replace", 4, _regexp_replace),
    ("core_substr", 2, _substr),
    ("core_substr", 3, _substr_for),
    ("core_left", 2, _left),
    ("core_right", 2, _right),
    ("core_round", 1, _round_half_away),
    ("core_round", 2, _round_half_away),
    ("core_add_microseconds", 2, _add_microseconds),
    ("core_diff_microseconds", 2, _diff_microseconds),
    ("core_local_time", 2, _local_time),
    ("core_iso_week", 1, _iso_week),
    ("core_to_date", 1, _to_date),
    ("core_divisor", 2, _divisor),
    ("floor", 1, _floor),
    ("core_strict_integer", 1, _strict_integer),  # as compiled before the width was passed
    ("core_strict_integer", 2, _strict_integer),
    ("core_float_to_integer", 2, _float_to_integer),
    ("core_numeric_to_integer", 2, _numeric_to_integer),
    ("core_json_contains", 2, _json_contains),
    ("core_lower", 1, lambda v: None if v is None else str(v).lower()),
    ("core_upper", 1, lambda v: None if v is None else str(v).upper()),
)


# sqlite3 reports only "user-defined function raised exception": keep the reason.
_refusals: deque[str] = deque(maxlen=1)


def last_refusal() -> str | None:
    """The reason the last toolkit function on SQLite refused its input (best effort)."""
    return _refusals.pop() if _refusals else None


def _reporting(function: Any) -> Any:
    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except (ValueError, TypeError, KeyError) as exc:
            _refusals.append(str(exc))
            raise

    return call


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """Register the toolkit's functions on one sqlite3 connection (in its own thread)."""
    for name, arity, function in _SCALARS:
        connection.create_function(name, arity, _reporting(function), deterministic=True)
    register_postgres_names(connection, _reporting)
    # typeshed describes a one-argument step(); sqlite3 passes all four.
    connection.create_aggregate("core_string_agg", 4, _OrderedStringAgg)  # type: ignore[arg-type]
    # Postgres' "C" collation by name, for columns declared String(collation="C").
    connection.create_collation("C", _code_point_order)


def _code_point_order(a: str, b: str) -> int:
    return (a > b) - (a < b)
