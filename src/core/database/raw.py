"""Plain-SQL helpers that return dicts: fetch_one, fetch_all, fetch_value, execute.

Parameters are always bound, never formatted into the SQL. Values come back as the
driver gives them (on SQLite a datetime is text); `text(sql).columns(name=Type())`
types the results the same on both backends.

Without `session=` each call runs in its own transaction on the default database
(`execute` commits on success, rolls back on failure); with `session=` it runs
inside that session's transaction and leaves committing to its owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database.database import get_database

__all__ = ["execute", "fetch_all", "fetch_one", "fetch_value"]

Params = Mapping[str, Any] | None
Row = dict[str, Any]
# A string, text(), or text().columns(created_at=UTCDateTime()) to type the results.
SQL = str | TextClause | Executable


def _statement(sql: SQL) -> Executable:
    return text(sql) if isinstance(sql, str) else sql


async def _run(sql: SQL, params: Params, session: AsyncSession | None) -> Any:
    statement = _statement(sql)
    if session is not None:
        return await session.execute(statement, dict(params or {}))
    async with get_database().transaction() as own:
        result = await own.execute(statement, dict(params or {}))
        # Materialise before the transaction ends; the cursor closes with it.
        return _Buffered(result)


class _Buffered:
    """Rows (or a rowcount) read out of a result before its transaction closed."""

    def __init__(self, result: Any) -> None:
        self.rowcount: int = result.rowcount
        self.keys: list[str] = list(result.keys()) if result.returns_rows else []
        self.rows: list[tuple[Any, ...]] = (
            [tuple(row) for row in result.all()] if result.returns_rows else []
        )


def _dicts(result: Any) -> list[Row]:
    if isinstance(result, _Buffered):
        keys, rows = result.keys, result.rows
    else:
        keys, rows = list(result.keys()), result.all()
    # dict(zip()) is about twice as fast as dict(row._mapping) per row.
    return [dict(zip(keys, row, strict=True)) for row in rows]


async def fetch_all(
    sql: SQL, params: Params = None, *, session: AsyncSession | None = None
) -> list[Row]:
    """Every row as a dict."""
    return _dicts(await _run(sql, params, session))


async def fetch_one(
    sql: SQL, params: Params = None, *, session: AsyncSession | None = None
) -> Row | None:
    """The first row as a dict, or None when there is none."""
    rows = _dicts(await _run(sql, params, session))
    return rows[0] if rows else None


async def fetch_value(
    sql: SQL, params: Params = None, *, session: AsyncSession | None = None
) -> Any:
    """The first column of the first row, or None when there is no row."""
    row = await fetch_one(sql, params, session=session)
    return next(iter(row.values())) if row else None


async def execute(sql: SQL, params: Params = None, *, session: AsyncSession | None = None) -> int:
    """Run a statement; return the number of rows it affected."""
    result = await _run(sql, params, session)
    return int(cast(CursorResult[Any], result).rowcount)
