"""Postgres' string functions and boolean aggregates that SQLite lacks, under their own names.

Registered on every SQLite connection, so `func.reverse(s)`, `func.lpad(s, 5, "0")`
or `func.bool_and(flag)` run on both backends with Postgres' meaning, NULL in giving
NULL out. Nothing here shadows a function SQLite has.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

__all__ = ["register_postgres_names"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _reverse(value: Any) -> str | None:
    return None if value is None else _text(value)[::-1]


def _repeat(value: Any, count: int | None) -> str | None:
    if value is None or count is None:
        return None
    return _text(value) * max(count, 0)


def _pad(value: Any, length: int | None, fill: Any, *, left: bool) -> str | None:
    if value is None or length is None or fill is None:
        return None
    text, filler = _text(value), _text(fill)
    if length <= 0:
        return ""
    if len(text) >= length or not filler:
        return text[:length]
    padding = (filler * (length // len(filler) + 1))[: length - len(text)]
    return padding + text if left else text + padding


def _lpad(value: Any, length: int | None, fill: Any = " ") -> str | None:
    return _pad(value, length, fill, left=True)


def _rpad(value: Any, length: int | None, fill: Any = " ") -> str | None:
    return _pad(value, length, fill, left=False)


def _split_part(value: Any, delimiter: Any, field: int | None) -> str | None:
    if value is None or delimiter is None or field is None:
        return None
    if field == 0:
        raise ValueError("field position must not be zero")
    text, delimiter = _text(value), _text(delimiter)
    parts = text.split(delimiter) if delimiter else [text]
    index = field - 1 if field > 0 else len(parts) + field
    return parts[index] if 0 <= index < len(parts) else ""


def _strpos(value: Any, substring: Any) -> int | None:
    if value is None or substring is None:
        return None
    return _text(value).find(_text(substring)) + 1


def _md5(value: Any) -> str | None:
    if value is None:
        return None
    data = value if isinstance(value, bytes) else str(value).encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _initcap(value: Any) -> str | None:
    # Postgres: the first letter of each run of letters and digits upper case, the rest lower.
    if value is None:
        return None
    out, previous_alnum = [], False
    for char in _text(value):
        out.append(char.lower() if previous_alnum else char.upper())
        previous_alnum = char.isalnum()
    return "".join(out)


def _btrim(value: Any, characters: Any = " ") -> str | None:
    if value is None or characters is None:
        return None
    return _text(value).strip(_text(characters))


def _octet_length(value: Any) -> int | None:
    if value is None:
        return None
    return len(value) if isinstance(value, bytes) else len(str(value).encode())


def _ascii(value: Any) -> int | None:
    if value is None:
        return None
    text = _text(value)
    return ord(text[0]) if text else 0


def _chr(code: int | None) -> str | None:
    if code is None:
        return None
    if code == 0:
        raise ValueError("null character not permitted")
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise ValueError("requested character too large for encoding")
    return chr(code)


class _BoolAnd:
    """bool_and / every: true if every non-NULL input is true; NULL for none."""

    def __init__(self) -> None:
        self.result: bool | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            self.result = bool(value) and (self.result is None or self.result)

    def finalize(self) -> int | None:
        return None if self.result is None else int(self.result)


class _BoolOr(_BoolAnd):
    """bool_or: true if any non-NULL input is true; NULL for none."""

    def step(self, value: Any) -> None:
        if value is not None:
            self.result = bool(value) or bool(self.result)


SCALARS: tuple[tuple[str, int, Any], ...] = (
    ("reverse", 1, _reverse),
    ("repeat", 2, _repeat),
    ("lpad", 2, _lpad),
    ("lpad", 3, _lpad),
    ("rpad", 2, _rpad),
    ("rpad", 3, _rpad),
    ("split_part", 3, _split_part),
    ("strpos", 2, _strpos),
    ("md5", 1, _md5),
    ("initcap", 1, _initcap),
    ("btrim", 1, _btrim),
    ("btrim", 2, _btrim),
    ("octet_length", 1, _octet_length),
    ("ascii", 1, _ascii),
    ("chr", 1, _chr),
)
AGGREGATES: tuple[tuple[str, Any], ...] = (
    ("bool_and", _BoolAnd),
    ("every", _BoolAnd),
    ("bool_or", _BoolOr),
)


def register_postgres_names(connection: sqlite3.Connection, wrap: Any) -> None:
    """Register them on one sqlite3 connection; `wrap` reports a refusal's reason."""
    for name, arity, function in SCALARS:
        connection.create_function(name, arity, wrap(function), deterministic=True)
    for name, aggregate in AGGREGATES:
        connection.create_aggregate(name, 1, aggregate)
