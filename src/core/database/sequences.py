"""Keep Postgres sequences in step with explicit ids, as SQLite's rowids are.

Insert a row with an explicit id (seed data, fixtures, a restore), then one without:
SQLite gives the next id, Postgres' sequence would hand out an id already taken. The
toolkit moves the sequence past the largest id after every INSERT that gave its
autoincrement column a value, and after `bulk_insert`; `sync_sequences()` does it
on demand (after loading data by other means). Sequences never move backwards.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import Insert

from core.database.dialect_hooks import after_statements

__all__ = ["install_sequence_sync", "sync_sequences"]


def install_sequence_sync(engine: Engine) -> None:
    """On Postgres, follow every INSERT that set an autoincrement key with a setval."""
    if engine.dialect.name != "postgresql":
        return

    def _after(_cursor: Any, _statement: str, _p: Any, _many: bool, context: Any) -> None:
        table = _explicit_key_table(context)
        if table is None:
            return
        connection = context.root_connection
        sql = _setval_sql(table, connection.dialect)
        if sql is None:
            return
        # A cursor of its own: the INSERT's cursor still holds its RETURNING rows.
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    after_statements(engine.dialect, _after)


async def sync_sequences(
    target: AsyncSession | AsyncConnection, *models_or_tables: type[Any] | Table
) -> None:
    """Move each table's id sequence past its largest id (Postgres; nothing to do on SQLite)."""
    connection = await target.connection() if isinstance(target, AsyncSession) else target
    if connection.dialect.name != "postgresql":
        return
    for item in models_or_tables:
        table = item if isinstance(item, Table) else sa_inspect(item).local_table
        sql = _setval_sql(table, connection.dialect)
        if sql is not None:
            await connection.execute(text(sql))


def _explicit_key_table(context: DefaultExecutionContext | None) -> Table | None:
    if context is None or not context.isinsert or context.compiled is None:
        return None
    statement = context.compiled.statement
    if not isinstance(statement, Insert) or not isinstance(statement.table, Table):
        return None
    column = statement.table.autoincrement_column
    if column is None:
        return None
    parameters = context.compiled_parameters or []
    if any(row.get(column.key) is not None for row in parameters):
        return statement.table
    return None


def _setval_sql(table: Table, dialect: Dialect) -> str | None:
    column = table.autoincrement_column
    if column is None:
        return None
    preparer = dialect.identifier_preparer
    qualified = preparer.format_table(table).replace("'", "''")
    name = column.name.replace("'", "''")
    quoted_column = preparer.quote(column.name)
    return (
        "SELECT setval(s.seq, GREATEST("
        f"(SELECT COALESCE(MAX({quoted_column}), 0) FROM {preparer.format_table(table)}), "
        "COALESCE(pg_sequence_last_value(s.seq::regclass), 0), 1)) "
        f"FROM (SELECT pg_get_serial_sequence('{qualified}', '{name}') AS seq) AS s "
        "WHERE s.seq IS NOT NULL"
    )
