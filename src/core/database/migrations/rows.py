"""Rows for the data round trip: generated from the schema, read back in comparable form.

Values are generated from each reflected column's type and constraints, at full
width (a VARCHAR(200) gets 200 characters, a BIGINT a value past 32 bits) so a
revision that narrows a column meets data that does not fit; an ``IN (...)`` CHECK
(an enum) gives the values to pick from; a foreign key a parent row's key, the
tables being filled parents first.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from sqlalchemy import Column, MetaData, Numeric, String, Table, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from core.database.migrations.checks import normalise_check
from core.database.migrations.typeinfo import integer_range, plain_type, type_family

__all__ = ["Snapshot", "TableRows", "fill", "schema_of", "snapshot"]

_IN_LIST = re.compile(r"^(\w+)in(.*)$", re.S)
_STRING = re.compile(r"'((?:[^']|'')*)'")
_EPOCH = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_BIG = 2**31  # past INTEGER: a BIGINT narrowed to INTEGER meets a value that does not fit


@dataclass
class TableRows:
    """A table's rows keyed by primary key (or by position when it has none)."""

    columns: dict[str, Any]  # column name -> reflected type
    rows: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)


Snapshot = dict[str, TableRows]


def schema_of(connection: Connection) -> MetaData:
    """The database's tables as reflected now, without Alembic's version table."""
    metadata = MetaData()
    metadata.reflect(connection)
    version = metadata.tables.get("alembic_version")
    if version is not None:
        metadata.remove(version)
    return metadata


def snapshot(connection: Connection) -> Snapshot:
    """Every row of every table, values in canonical (comparable) form."""
    result: Snapshot = {}
    for table in schema_of(connection).sorted_tables:
        key_columns = list(table.primary_key.columns) or list(table.columns)
        rows = TableRows({c.name: c.type for c in table.columns})
        for position, row in enumerate(connection.execute(select(table)).mappings()):
            values = {name: canonical(value) for name, value in row.items()}
            key = tuple(values[c.name] for c in key_columns)
            rows.rows[key if table.primary_key.columns else (*key, position)] = values
        result[table.name] = rows
    return result


def canonical(value: Any) -> Any:
    """A value both backends and every column type read the same way compare equal."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, float):
        return str(Decimal(repr(value)).normalize())
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def fill(connection: Connection, per_table: int, sequence: Iterator[int]) -> None:
    """Insert `per_table` generated rows into every table, parents first."""
    metadata = schema_of(connection)
    choices = _check_choices(connection, metadata)
    for table in metadata.sorted_tables:
        for _ in range(per_table):
            _insert_one(connection, table, choices, next(sequence))


def new_sequence() -> Iterator[int]:
    """Numbers that keep generated values unique across the whole run."""
    return count(1)


def _insert_one(
    connection: Connection, table: Table, choices: dict[tuple[str, str], list[str]], n: int
) -> None:
    errors: list[str] = []
    for wide in (True, False):
        row = {
            column.name: _value(connection, column, choices, n, wide=wide)
            for column in table.columns
            if not _generated_key(column)
        }
        try:
            with connection.begin_nested():
                connection.execute(table.insert().values(row))
            return
        except DBAPIError as exc:
            # A CHECK the generator does not understand: try short values.
            errors.append(str(exc.orig).splitlines()[0])
    raise ValueError(f"could not generate a row for {table.name}: {'; '.join(errors)}")


def _generated_key(column: Column[Any]) -> bool:
    table = column.table
    keys = list(table.primary_key.columns)
    return (
        len(keys) == 1
        and keys[0] is column
        and type_family(column.type) == "integer"
        and column.autoincrement in (True, "auto")
        and not column.foreign_keys
    )


def _value(
    connection: Connection,
    column: Column[Any],
    choices: dict[tuple[str, str], list[str]],
    n: int,
    *,
    wide: bool,
) -> Any:
    if column.foreign_keys:
        target = next(iter(column.foreign_keys)).column
        query = select(target).order_by(target)
        if column.primary_key or column.unique:
            # One row per parent at most: a parent not taken yet.
            query = query.where(target.not_in(select(column).where(column.is_not(None))))
        keys = connection.execute(query.limit(50)).scalars().all()
        return keys[n % len(keys)] if keys else None
    options = choices.get((column.table.name, column.name))
    if options:
        return options[n % len(options)]
    type_ = plain_type(column.type)
    family = type_family(type_)
    if family == "string":
        length = type_.length if isinstance(type_, String) and type_.length else 40
        stem = f"{column.name[:8]}-{n}-"
        return (stem + "x" * length)[: length if wide else min(len(stem), length)]
    if family == "integer":
        bounds = integer_range(type_)
        return _BIG + n if wide and bounds and bounds[1] > _BIG else n
    if family == "boolean":
        return n % 2 == 0
    if family == "datetime":
        moment = _EPOCH + timedelta(minutes=n)
        aware = bool(getattr(type_, "timezone", False))
        return moment if aware else moment.replace(tzinfo=None)
    if family == "date":
        return (_EPOCH + timedelta(days=n)).date()
    if family == "time":
        return time(3, 4, n % 60)
    if family == "numeric":
        scale = type_.scale if isinstance(type_, Numeric) and type_.scale is not None else 0
        if not wide:
            return Decimal(1)
        return Decimal(n % 1000) + Decimal(1).scaleb(-scale) if scale else Decimal(n % 1000)
    if family == "float":
        return n + 0.5
    if family == "json":
        return {"n": n, "text": "x"}
    if family == "uuid":
        return uuid.UUID(int=n)
    if family == "binary":
        return n.to_bytes(4, "big")
    return None


def _check_choices(connection: Connection, metadata: MetaData) -> dict[tuple[str, str], list[str]]:
    """`column IN ('a', 'b')` CHECKs (enums): the values a column may hold."""
    inspector = inspect(connection)
    choices: dict[tuple[str, str], list[str]] = {}
    for table in metadata.tables.values():
        for check in inspector.get_check_constraints(table.name):
            match = _IN_LIST.match(normalise_check(str(check["sqltext"])))
            if match and match.group(1) in table.columns:
                values = [v.replace("''", "'") for v in _STRING.findall(match.group(2))]
                if values:
                    choices[(table.name, match.group(1))] = values
    return choices
