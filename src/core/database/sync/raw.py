"""The plain-SQL helpers for sync code: fetch_one, fetch_all, fetch_value, execute.

The same signatures and rules as core.database.raw: dict rows, bound parameters
only; without `session=` each call runs in its own transaction on the default sync
database (`execute` commits on success, rolls back on failure). With `session=` or
`connection=` it runs inside that transaction and leaves committing to its owner:
`connection=op.get_bind()` runs it inside an Alembic migration.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from core.database.driver_path import Buffered, prepare, run_prepared, sqlite_rows
from core.database.raw import SQL, Params, Row, _dicts, _statement
from core.database.sync.database import get_sync_database

__all__ = ["execute", "fetch_all", "fetch_one", "fetch_value"]


def _run(sql: SQL, params: Params, session: Session | None, connection: Connection | None) -> Any:
    if session is not None and connection is not None:
        raise TypeError("give session= or connection=, not both")
    if session is not None:
        return session.execute(_statement(sql), dict(params or {}))
    if connection is not None:
        return connection.execute(_statement(sql), dict(params or {}))
    database = get_sync_database()
    engine = database.sessionmaker.kw.get("bind")
    if not isinstance(engine, Engine):
        # Sessions are bound to one connection (a test's transaction): join it.
        with database.transaction() as own:
            return Buffered.of(own.execute(_statement(sql), dict(params or {})))
    if isinstance(sql, str) and not database.settings.database_pgbouncer:
        prepared = prepare(engine, sql, params)
        if prepared is not None:
            return run_prepared(engine, prepared, sqlite_rows)
    # As on the async face: one statement needs no ORM session, and on Postgres (not
    # behind PgBouncer) no BEGIN and COMMIT either: autocommit makes it atomic alone.
    with engine.connect() as own_connection:
        if own_connection.dialect.name == "postgresql" and not database.settings.database_pgbouncer:
            own_connection = own_connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            buffered = Buffered.of(own_connection.execute(_statement(sql), dict(params or {})))
        except BaseException:
            own_connection.rollback()
            raise
        own_connection.commit()
        return buffered


def fetch_all(
    sql: SQL,
    params: Params = None,
    *,
    session: Session | None = None,
    connection: Connection | None = None,
) -> list[Row]:
    """Every row as a dict."""
    return _dicts(_run(sql, params, session, connection))


def fetch_one(
    sql: SQL,
    params: Params = None,
    *,
    session: Session | None = None,
    connection: Connection | None = None,
) -> Row | None:
    """The first row as a dict, or None when there is none."""
    rows = _dicts(_run(sql, params, session, connection))
    return rows[0] if rows else None


def fetch_value(
    sql: SQL,
    params: Params = None,
    *,
    session: Session | None = None,
    connection: Connection | None = None,
) -> Any:
    """The first column of the first row, or None when there is no row."""
    row = fetch_one(sql, params, session=session, connection=connection)
    return next(iter(row.values())) if row else None


def execute(
    sql: SQL,
    params: Params = None,
    *,
    session: Session | None = None,
    connection: Connection | None = None,
) -> int:
    """Run a statement; return the number of rows it affected."""
    result = _run(sql, params, session, connection)
    return int(cast(CursorResult[Any], result).rowcount)
