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
from contextlib import suppress
from itertools import repeat
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.util import await_only, greenlet_spawn

from core.database.database import get_database
from core.database.driver_path import Buffered, Prepared, prepare, run_prepared, sqlite_rows

__all__ = ["execute", "fetch_all", "fetch_one", "fetch_value"]

Params = Mapping[str, Any] | None
Row = dict[str, Any]
# A string, text(), or text().columns(created_at=UTCDateTime()) to type the results.
SQL = str | TextClause | Executable


def _statement(sql: SQL) -> Executable:
    return text(sql) if isinstance(sql, str) else sql


async def _run(sql: SQL, params: Params, session: AsyncSession | None) -> Any:
    if session is not None:
        return await session.execute(_statement(sql), dict(params or {}))
    database = get_database()
    engine = database.sessionmaker.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        # Sessions are bound to one connection (a test's transaction): join it.
        async with database.transaction() as own:
            return Buffered.of(await own.execute(_statement(sql), dict(params or {})))
    if isinstance(sql, str) and not database.settings.database_pgbouncer:
        prepared = prepare(engine.sync_engine, sql, params)
        if prepared is not None:
            return await greenlet_spawn(
                run_prepared, engine.sync_engine, prepared, _sqlite_rows, _interrupt
            )
    # One statement needs no ORM session; on Postgres not even BEGIN and COMMIT, two
    # round trips: in autocommit mode it commits (or fails) by itself, atomically.
    # Not behind PgBouncer: asyncpg closes old statements (with a Sync) between a Parse
    # and its Bind, and outside a transaction PgBouncer may send the Bind to another server.
    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql" and not database.settings.database_pgbouncer:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            buffered = Buffered.of(await connection.execute(_statement(sql), dict(params or {})))
        except BaseException:
            await connection.rollback()
            raise
        await connection.commit()
        return buffered


def _sqlite_rows(driver_connection: Any, prepared: Prepared) -> Buffered:
    # One trip to aiosqlite's thread: execute, describe, fetch and close there.
    rows: Buffered = await_only(
        driver_connection._execute(sqlite_rows, driver_connection._conn, prepared)
    )
    return rows


def _interrupt(driver_connection: Any) -> None:
    with suppress(ValueError):  # closed already: nothing runs
        driver_connection._conn.interrupt()


def _dicts(result: Any) -> list[Row]:
    if isinstance(result, Buffered):
        keys, rows = result.keys, result.rows
    else:
        keys, rows = list(result.keys()), result.all()
    # dict(zip()) is about twice as fast as dict(row._mapping) per row; zip needs no
    # strict= (keys and rows come from one result), which alone costs a quarter.
    return list(map(dict, map(zip, repeat(keys), rows)))


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
