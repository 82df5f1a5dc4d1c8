"""The raw helpers' short path: one statement straight on a pooled driver connection.

A `fetch_*` / `execute` call without a session runs one statement on a connection of
its own. SQLAlchemy's Connection, its transaction and its Result and Row objects
cost more than a fast query itself (a fetch by key took five times the driver's
time). This path keeps what the helpers promise and skips the rest:

- the SQL string is compiled once per dialect and kept (bound parameters in the
  driver's style, escapes as SQLAlchemy writes them);
- the connection comes from the engine's pool, with its checks, its liveness ping
  and its limits, and goes back without a reset: no transaction was opened;
- the statement runs alone in autocommit (atomic by itself: one statement commits or
  fails whole) and its rows come back as the driver gives them; on SQLite, in one
  trip to aiosqlite's thread;
- a failure is translated by the same code as every other (driver_errors), a lost
  connection is discarded, and a cancelled SQLite statement is interrupted.

What needs more than that takes the engine's path (`prepare` returns None): a
statement that may write to SQLite (writes take the transaction turn), PgBouncer
(a statement outside a transaction may be split across servers), missing or too
many parameters (the engine raises its own errors), and an engine whose statements
someone watches (echo, or a cursor-execute listener such as a tracer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Dialect, Engine

from core.database.driver_errors import MAX_PARAMETERS, Failure, translate_failure

__all__ = [
    "Buffered",
    "Prepared",
    "prepare",
    "run_prepared",
    "sqlite_rows",
]


@dataclass(frozen=True, slots=True)
class Buffered:
    """Rows (or a rowcount) read out before their connection went back to the pool."""

    keys: Sequence[str]
    rows: Sequence[Any]
    rowcount: int

    @classmethod
    def of(cls, result: Any) -> Buffered:
        """Read a SQLAlchemy Result out (the engine's path) before its transaction ends."""
        if not result.returns_rows:
            return cls((), (), result.rowcount)
        # Fetched rows no longer need the cursor: keep them as they are, no copy.
        return cls(list(result.keys()), result.all(), result.rowcount)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A SQL string compiled for one dialect, and its arguments in the driver's form."""

    sql: str
    arguments: tuple[Any, ...] | dict[str, Any]
    statement: str  # as written, for errors


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    positional: bool


def prepare(engine: Engine, sql: str, params: Mapping[str, Any] | None) -> Prepared | None:
    """`sql` ready for the driver path on `engine`, or None when it needs the engine's path."""
    dialect = engine.dialect
    if dialect.name == "sqlite" and not _reads_only(sql):
        return None
    if _watched(engine):
        return None
    compiled = _compile(sql, dialect)
    if compiled is None:
        return None
    values = params or {}
    try:
        if compiled.positional:
            arguments: tuple[Any, ...] | dict[str, Any] = tuple(values[n] for n in compiled.names)
        else:
            arguments = {name: values[name] for name in compiled.names}
    except KeyError:
        return None  # the engine's path raises SQLAlchemy's "a value is required"
    return Prepared(compiled.sql, arguments, sql)


def run_prepared(
    engine: Engine,
    prepared: Prepared,
    on_sqlite: Callable[[Any, Prepared], Buffered],
    interrupt_sqlite: Callable[[Any], None] | None = None,
) -> Buffered:
    """Run `prepared` on a connection from `engine`'s pool (sync; the async face calls it
    in a greenlet). `on_sqlite(driver_connection, prepared)` runs it on SQLite."""
    pooled = _checkout(engine, prepared)
    sqlite = engine.dialect.name == "sqlite"
    try:
        if sqlite:
            result = on_sqlite(pooled.driver_connection, prepared)
        else:
            result = _on_postgres(pooled, prepared)
    except Exception as exc:
        _raise_translated(engine, pooled, prepared, exc)
    except BaseException:
        # Cancelled (or Ctrl-C). SQLite: stop the statement on the driver's thread and
        # keep the connection (what is queued after it waits for it to stop). Postgres:
        # the connection's state is unknown, discard it (its backend is cancelled).
        if sqlite:
            if interrupt_sqlite is not None:
                interrupt_sqlite(pooled.driver_connection)
            _give_back(pooled)
        else:
            pooled.invalidate()
        raise
    if not sqlite:
        _restore_transactions(pooled)
    _give_back(pooled)
    return result


def sqlite_rows(connection: Any, prepared: Prepared) -> Buffered:
    """Run `prepared` on a sqlite3 connection (in aiosqlite's thread, on the async face)."""
    cursor = connection.execute(prepared.sql, prepared.arguments)
    try:
        if cursor.description is None:
            return Buffered((), (), cursor.rowcount)
        keys = [column[0] for column in cursor.description]
        return Buffered(keys, cursor.fetchall(), cursor.rowcount)
    finally:
        cursor.close()


def _on_postgres(pooled: Any, prepared: Prepared) -> Buffered:
    connection = pooled.dbapi_connection  # psycopg's, or SQLAlchemy's asyncpg adapter
    # Alone and in autocommit: no BEGIN and COMMIT round trips (and none on the adapter,
    # which would otherwise open a transaction before the statement). Transactions are
    # turned back on before the connection goes back (_restore_transactions).
    connection.autocommit = True
    cursor = connection.cursor()
    try:
        cursor.execute(prepared.sql, prepared.arguments)
        if cursor.description is None:
            result = Buffered((), (), cursor.rowcount)
        else:
            keys = [column[0] for column in cursor.description]
            result = Buffered(keys, cursor.fetchall(), cursor.rowcount)
        if _in_transaction(pooled.driver_connection):
            # BEGIN sent as a statement: the call is its own unit of work, so what it
            # opened ends with it (the pool's reset knows only the driver's own).
            cursor.execute("ROLLBACK")
        return result
    finally:
        cursor.close()


def _restore_transactions(pooled: Any) -> None:
    connection = pooled.dbapi_connection
    if connection is None:
        return  # discarded already
    try:
        connection.autocommit = False
    except Exception:
        # A connection left in autocommit would run the next unit of work without a
        # transaction: never hand it out again.
        pooled.invalidate()
        raise


def _checkout(engine: Engine, prepared: Prepared) -> Any:
    try:
        return engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as exc:
        # As the engine's own connect failures are: through the same translation.
        dialect = engine.dialect
        wrapped = sa_exc.DBAPIError.instance(
            None, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
        )
        failure = Failure(exc, wrapped, dialect.name, engine.url, prepared.statement, False)
        raise (translate_failure(failure) or wrapped) from exc


def _in_transaction(driver_connection: Any) -> bool:
    # The server's own word, which asyncpg and psycopg keep from every reply.
    is_in_transaction = getattr(driver_connection, "is_in_transaction", None)
    if is_in_transaction is not None:
        return bool(is_in_transaction())  # asyncpg
    return bool(driver_connection.info.transaction_status)  # psycopg: 0 is IDLE


def _give_back(pooled: Any) -> None:
    # Nothing was opened on it, so the pool's reset (a ROLLBACK: on SQLite, one more
    # trip to the driver's thread) has nothing to do.
    pooled._close_special(transaction_reset=True)


def _raise_translated(engine: Engine, pooled: Any, prepared: Prepared, exc: Exception) -> None:
    dialect = engine.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    is_dbapi = isinstance(exc, dbapi_error)
    lost = bool(
        is_dbapi
        and pooled.dbapi_connection is not None
        and dialect.is_disconnect(cast(Any, exc), pooled.dbapi_connection, None)
    )
    wrapped: BaseException | None = None
    if is_dbapi:
        wrapped = sa_exc.DBAPIError.instance(
            prepared.statement,
            None,
            exc,
            dbapi_error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=dialect,
        )
    failure = Failure(exc, wrapped, dialect.name, engine.url, prepared.statement, True, lost)
    translated = translate_failure(failure)
    if failure.is_disconnect:
        if pooled.dbapi_connection is not None:
            pooled.invalidate(exc)
    else:
        if dialect.name != "sqlite":
            with suppress(Exception):  # it failed: the connection is discarded instead
                _restore_transactions(pooled)
        if pooled.dbapi_connection is not None:
            _give_back(pooled)
    raise (translated or wrapped or exc) from exc


def _reads_only(sql: str) -> bool:
    # A SELECT cannot write on SQLite (WITH may lead to an INSERT): it reads one snapshot
    # without BEGIN, outside the write turn, as a read-only unit of work does.
    return sql.lstrip()[:6].upper() == "SELECT"


def _watched(engine: Engine) -> bool:
    if engine.logger.isEnabledFor(logging.INFO):  # echo, or logging set up to show SQL
        return True
    # The toolkit's own rules are dialect hooks (dialect_hooks.py): a cursor-execute
    # listener is someone's (a tracer, a test) and must see every statement.
    dispatch = engine.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


# (SQL, dialect class, paramstyle) -> compiled form; None: the engine's path.
_COMPILED: dict[tuple[str, type[Dialect], str], _Compiled | None] = {}
_COMPILED_MAX = 2048  # statements an app writes are few; generated SQL must not grow it


def _compile(sql: str, dialect: Dialect) -> _Compiled | None:
    key = (sql, type(dialect), dialect.paramstyle)
    try:
        return _COMPILED[key]
    except KeyError:
        pass
    compiled = text(sql).compile(dialect=dialect)
    found: _Compiled | None = None
    names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
    # Escaped names, or more values than Postgres takes: the engine's path handles them
    # (and refuses the latter with TooManyParameters).
    if not compiled.escaped_bind_names and len(names) <= MAX_PARAMETERS:
        found = _Compiled(compiled.string, names, bool(compiled.positional))
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[key] = found
    return found
