"""`bulk_insert`: load many rows fast, COPY on Postgres and one executemany on SQLite.

Values go through each column's bind processing, so a row reads back exactly as
if the ORM had inserted it; Python-side defaults are filled in. ORM events and
`@validates` hooks do not run (as with Core `insert()`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.database.driver_errors import translate_integrity
from core.database.mixins import same_as_created
from core.database.sequences import sync_sequences
from core.database.sqlite_one_trip import begin_now
from core.database.types import utcnow

__all__ = ["bulk_insert"]

_MISSING: Any = object()


class _RowContext:
    """The slice of SQLAlchemy's execution context that a context-taking default reads."""

    def __init__(self, parameters: dict[str, Any], column: Column[Any]) -> None:
        self.current_parameters = parameters
        self.current_column = column

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:
        return self.current_parameters


async def bulk_insert(
    target: AsyncSession | AsyncConnection,
    model_or_table: type[Any] | Table,
    rows: Iterable[Mapping[str, Any]],
) -> int:
    """Insert `rows` (dicts keyed by attribute/column key) in the caller's transaction.

    Returns the number of rows. Unknown keys and missing required values are refused.
    """
    table, columns = _columns_of(model_or_table)
    rows = rows if isinstance(rows, Sequence) else list(rows)
    if not rows:
        return 0
    connection = await _connection(target)
    dialect = connection.dialect
    targets, records = _records(table, columns, rows, dialect)
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        if dialect.name == "postgresql":
            if getattr(raw.dbapi_connection, "_transaction", None) is None:
                # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with the first
                # statement: without one, COPY would commit on its own.
                await connection.exec_driver_sql("SELECT 1")
            names = [column.name for column in targets]
            await driver.copy_records_to_table(
                table.name, records=records, columns=names, schema_name=table.schema
            )
        else:
            await begin_now(driver)  # the transaction's BEGIN may still wait for a statement
            await driver.executemany(_insert_sql(table, targets, dialect), records)
    except (sqlite3.IntegrityError, _pg_integrity_error()) as exc:
        # The driver raised past SQLAlchemy, whose handle_error hook would redact and translate.
        statement = f"bulk insert into {table.name}"
        raise translate_integrity(exc, dialect.name, statement) from exc
    key = table.autoincrement_column
    if dialect.name == "postgresql" and key is not None and key in targets:
        await sync_sequences(connection, table)  # explicit ids: the next insert must not clash
    return len(rows)


def _columns_of(model_or_table: type[Any] | Table) -> tuple[Table, dict[str, Column[Any]]]:
    if isinstance(model_or_table, Table):
        return model_or_table, {column.key: column for column in model_or_table.columns}
    mapper = sa_inspect(model_or_table)
    table = mapper.local_table
    if not isinstance(table, Table) or mapper.inherits is not None:
        raise TypeError(f"bulk_insert needs a model mapped to one table, not {mapper.class_!r}")
    return table, {
        prop.key: prop.columns[0]
        for prop in mapper.column_attrs
        if prop.columns and prop.columns[0].table is table
    }


async def _connection(target: AsyncSession | AsyncConnection) -> AsyncConnection:
    if isinstance(target, AsyncSession):
        # Pending objects first: rows may refer to a parent added just before.
        await target.flush()
        return await target.connection()
    if not target.in_transaction():
        await target.begin()  # the caller commits, as after any autobegin
    return target


def _records(
    table: Table,
    columns: dict[str, Column[Any]],
    rows: Sequence[Mapping[str, Any]],
    dialect: Dialect,
) -> tuple[list[Column[Any]], Iterable[tuple[Any, ...]]]:
    """The columns to insert and one tuple of driver-ready values per row."""
    first = rows[0].keys()
    uniform = all(row.keys() == first for row in rows)
    given = set(first) if uniform else {key for row in rows for key in row}
    unknown = sorted(given - columns.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(map(repr, unknown))}")
    _check_required(table, columns, given)
    targets = [c for k, c in columns.items() if k in given or _python_default(c) is not None]
    values: dict[str, list[Any] | _Same] = {}
    for column in targets:
        key = column.key
        if uniform and key in given:
            values[key] = list(map(itemgetter(key), rows))
        elif key in given:
            _check_gaps(table, column)
            values[key] = _filled(column, [row.get(key, _MISSING) for row in rows], values)
        else:
            values[key] = _default_column(column, len(rows), values)
    processed = [_processed(column, values[column.key], dialect) for column in targets]
    return targets, zip(*processed, strict=True)


class _Same:
    """One object for every row (a scalar default, the call's timestamp): converted once."""

    def __init__(self, value: Any, count: int) -> None:
        self.value = value
        self.count = count


def _python_default(column: Column[Any]) -> Any:
    default = column.default
    if default is not None and (default.is_scalar or default.is_callable):
        return default
    return None


def _check_required(table: Table, columns: dict[str, Column[Any]], given: set[str]) -> None:
    missing = [
        key
        for key, column in columns.items()
        if key not in given
        and not column.nullable
        and column.server_default is None
        and _python_default(column) is None
        and column is not table.autoincrement_column
    ]
    if missing:
        raise ValueError(
            f"{table.name}: no value for NOT NULL column(s) {', '.join(map(repr, missing))}"
        )


def _check_gaps(table: Table, column: Column[Any]) -> None:
    """A key some rows give and others leave out: only a Python default can fill the gaps."""
    if _python_default(column) is not None:
        return
    if column.server_default is not None or column is table.autoincrement_column:
        raise ValueError(
            f"{table.name}.{column.key}: give it in every row or in none "
            "(its default is computed by the database)"
        )
    if not column.nullable:
        raise ValueError(f"{table.name}: no value for NOT NULL column {column.key!r} in some rows")


def _default_column(
    column: Column[Any], count: int, values: dict[str, list[Any] | _Same]
) -> list[Any] | _Same:
    """Values for a column no row gives: its Python default."""
    default = _python_default(column)
    function = getattr(default.arg, "__wrapped__", default.arg)
    if default.is_scalar:
        return _Same(default.arg, count)
    if function is utcnow:
        # TimestampMixin: one instant per call, as CURRENT_TIMESTAMP is one per statement.
        return _Same(utcnow(), count)
    created = values.get("created_at")
    if function is same_as_created and created is not None:
        return created  # updated_at starts equal to created_at
    return _filled(column, [_MISSING] * count, values)


def _filled(column: Column[Any], column_values: list[Any], values: dict[str, Any]) -> list[Any]:
    """Gaps (_MISSING) filled by the Python default, called per row; else left for NULL."""
    default = _python_default(column)
    if default is None:
        return column_values
    if default.is_scalar:
        return [default.arg if value is _MISSING else value for value in column_values]
    for i, value in enumerate(column_values):
        if value is _MISSING:
            so_far = {key: _at(known, i) for key, known in values.items()}
            so_far = {key: value for key, value in so_far.items() if value is not _MISSING}
            column_values[i] = default.arg(_RowContext(so_far, column))
    return column_values


def _at(values: list[Any] | _Same, i: int) -> Any:
    return values.value if isinstance(values, _Same) else values[i]


def _processed(column: Column[Any], values: list[Any] | _Same, dialect: Dialect) -> Iterable[Any]:
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(values, _Same):
        value = values.value if processor is None else processor(values.value)
        return repeat(value, values.count)
    gaps = _MISSING in values
    if processor is None:
        return [None if value is _MISSING else value for value in values] if gaps else values
    if not gaps:
        return list(map(processor, values))
    # A gap left in a nullable column stays SQL NULL, as when the ORM leaves it out
    # of the INSERT (for JSON that is NULL, not the JSON text 'null').
    return [None if value is _MISSING else processor(value) for value in values]


def _insert_sql(table: Table, targets: list[Column[Any]], dialect: Dialect) -> str:
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.format_column(column) for column in targets)
    marks = ", ".join("?" for _ in targets)
    return f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES ({marks})"


def _pg_integrity_error() -> type[BaseException]:
    # Imported on failure only: SQLite-only apps never load asyncpg.
    from asyncpg.exceptions import IntegrityConstraintViolationError

    return IntegrityConstraintViolationError  # type: ignore[no-any-return]
