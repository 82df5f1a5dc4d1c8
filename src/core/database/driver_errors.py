"""Translate driver exceptions into the toolkit's classes (errors.py), the same on both backends."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, ExceptionContext

from core.database.errors import (
    CheckViolation,
    DatabaseError,
    DatabaseUnavailableError,
    ForeignKeyViolation,
    IntegrityViolation,
    InvalidStatementError,
    InvalidValueError,
    LockNotAvailable,
    NotNullViolation,
    ReadOnlyTransactionError,
    StatementTimeoutError,
    TooManyConnectionsError,
    TooManyParameters,
    TransactionAborted,
    UniqueViolation,
)
from core.database.functions.sqlite_udfs import last_refusal
from core.database.unavailable_reasons import unavailable_reason
from core.database.url import mask_url

__all__ = [
    "Failure",
    "connect_or_unavailable",
    "refuse_too_many_parameters",
    "translate_error",
    "translate_failure",
    "translate_integrity",
]

# Postgres' protocol carries at most 32,767 parameters; SQLite is held to the same.
MAX_PARAMETERS = 32_767

# Postgres SQLSTATE codes (asyncpg and psycopg expose them as `sqlstate`).
_PG_CLASSES: dict[str, type[IntegrityViolation]] = {
    "23505": UniqueViolation,
    "23503": ForeignKeyViolation,
    "23502": NotNullViolation,
    "23514": CheckViolation,
}
# SQLite reports which constraint failed only in the message text.
_SQLITE_MESSAGE = re.compile(
    r"^(?P<kind>UNIQUE|FOREIGN KEY|NOT NULL|CHECK) constraint failed(?::\s*(?P<detail>.*))?$",
    re.S,
)
_SQLITE_CLASSES: dict[str, type[IntegrityViolation]] = {
    "UNIQUE": UniqueViolation,
    "FOREIGN KEY": ForeignKeyViolation,
    "NOT NULL": NotNullViolation,
    "CHECK": CheckViolation,
}
# Only the column names of a Postgres DETAIL line: "Key (email)=(value) already exists."
_PG_DETAIL_COLUMNS = re.compile(r"Key \((?P<columns>[^)]*)\)=")
# Failures that mean "the server could not be reached", as opposed to a bad query.
_UNREACHABLE = (OSError, socket.gaierror, asyncio.TimeoutError, TimeoutError)
_PG_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "28", "3D", "53", "57P")
# The connection itself is gone (or going): a connection exception, or the server shutting
# down (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
_PG_DISCONNECT_SQLSTATE_PREFIXES = ("08", "57P")
_PG_TOO_MANY_CONNECTIONS = "53300"
_PG_QUERY_CANCELED = "57014"
# sqlite3's extended result codes: SQLITE_BUSY, SQLITE_LOCKED.
# Postgres quotes values in DETAIL ("Key (email)=(a@b.c) already exists.", "Failing row
# contains (...)."), and asyncpg in its client-side encoding errors ("invalid input for
# query argument $1: 'a@b.c' (...)"): hide_parameters=True does not reach either.
_PG_DETAIL_VALUES = (
    (re.compile(r"=\(.*\)", re.S), "=(***)"),
    (re.compile(r"contains \(.*\)", re.S), "contains (***)"),
)
# Keep asyncpg's reason, the last parenthesised part: "...: 9999999999 (value out of int32 range)".
_PG_ARGUMENT_VALUE = re.compile(
    r"(invalid input for query argument \$\d+): .*?((?: \([^()]*\))?)$", re.S
)
# Postgres quotes the refused text: 'invalid input syntax for type integer: "12abc"'.
_PG_QUOTED_VALUE = re.compile(r'(invalid input (?:syntax|value) for [^:"]*): ".*"', re.S)
_PG_STATEMENT_CLASSES: dict[
    str, type[InvalidValueError | LockNotAvailable | TransactionAborted]
] = {
    "55P03": LockNotAvailable,
    "25P02": TransactionAborted,
}
_SQLITE_LOCKED = ("database is locked", "database table is locked")
# SQL that cannot run: SQLite's words, Postgres' SQLSTATEs (syntax error; undefined table,
# column, function, object, parameter; ambiguous column).
_SQLITE_INVALID_STATEMENT = re.compile(
    r"^(no such (table|column|function)|table \S+ has no column named "
    r"|near .*: syntax error$|incomplete input$|unrecognized token"
    r"|wrong number of arguments to function|ambiguous column name)"
)
_PG_INVALID_STATEMENT = frozenset({"42601", "42P01", "42703", "42883", "42704", "42P02", "42702"})
_PG_TOO_MANY = "the number of query arguments cannot exceed"


# A write in a read-only transaction: Postgres' SQLSTATE, SQLite's query_only refusal.
_PG_READ_ONLY_SQLSTATE = "25006"
_SQLITE_READ_ONLY = "attempt to write a readonly database"


@dataclass
class Failure:
    """A statement that failed, as the translation reads it.

    Built from SQLAlchemy's ExceptionContext (`translate_error`) or by the raw helpers'
    driver path (driver_path.py), so both translate with the same code.
    """

    original: BaseException
    # SQLAlchemy's exception for it: a DBAPIError, a StatementError raised while binding,
    # or None (not a driver error).
    wrapped: BaseException | None
    dialect: str
    url: URL | None
    statement: str | None
    connected: bool
    # Set by the translation when the failure means the connection is gone.
    is_disconnect: bool = False


def translate_error(context: ExceptionContext) -> BaseException | None:
    """`handle_error` hook: return the toolkit exception for this failure, or None to keep it."""
    failure = Failure(
        original=context.original_exception,
        wrapped=context.sqlalchemy_exception,
        dialect=context.dialect.name,
        url=context.engine.url if context.engine is not None else None,
        statement=context.statement,
        connected=context.connection is not None,
        is_disconnect=context.is_disconnect,
    )
    translated = translate_failure(failure)
    if failure.is_disconnect and not context.is_disconnect:
        # asyncpg may report the server's goodbye before it sees the socket close:
        # say "disconnect" so SQLAlchemy discards this connection (and the pool's peers).
        context.is_disconnect = True
    return translated


def translate_failure(failure: Failure) -> BaseException | None:
    """The toolkit exception for `failure`, or None to keep SQLAlchemy's own."""
    original = failure.original
    wrapped = failure.wrapped
    if not isinstance(original, Exception):
        # A cancellation (or Ctrl-C) interrupted the statement. SQLAlchemy discards the
        # connection as if it were lost, but nothing failed: translated into "connection
        # lost", it would be retried on a fresh connection and the cancellation swallowed.
        return None
    if _is_read_only_refusal(original):
        return ReadOnlyTransactionError()
    if isinstance(wrapped, sa_exc.IntegrityError) and not isinstance(wrapped, IntegrityViolation):
        return translate_integrity(wrapped, failure.dialect)
    cause = _root_cause(original)
    if failure.dialect == "postgresql":
        _redact_values(original, wrapped)
        if _sqlstate(cause).startswith(_PG_DISCONNECT_SQLSTATE_PREFIXES):
            failure.is_disconnect = True
    statement_failure = _statement_failure(failure)
    if statement_failure is not None:
        return statement_failure
    url = mask_url(failure.url) if failure.url is not None else "unknown"
    typed = _typed_failure(cause, failure.dialect, url)
    if typed is not None:
        return typed
    if not failure.connected or failure.is_disconnect:
        # No connection yet and SQLite failed: the file could not be opened (or set up).
        sqlite_open = not failure.connected and failure.dialect == "sqlite"
        # psycopg reports a refused or failed connect as OperationalError with no SQLSTATE.
        pg_connect = not failure.connected and isinstance(wrapped, sa_exc.OperationalError)
        unreachable = isinstance(cause, _UNREACHABLE) or _pg_unavailable(cause) or sqlite_open
        # A connection lost midway ("connection is closed") is unavailability too: a 503.
        lost = failure.connected and failure.is_disconnect
        if unreachable or pg_connect or lost:
            reason = "connection lost" if lost else unavailable_reason(cause, failure.url)
            return DatabaseUnavailableError(
                f"database unavailable: {reason}",
                url=url,
                connection_invalidated=lost,
                reason=reason,
            )
    return None


def _statement_failure(failure: Failure) -> BaseException | None:
    """The toolkit class for a refused value, a lock not granted, or an aborted transaction."""
    original = failure.original
    statement = failure.statement
    if failure.wrapped is not None and not isinstance(failure.wrapped, sa_exc.DBAPIError):
        # Raised while binding: a type's own refusal, or SQLite's int64 OverflowError.
        if isinstance(original, OverflowError | TypeError | ValueError):
            return InvalidValueError(str(original), statement=statement, orig=original)
        return None
    if isinstance(original, OverflowError):
        return InvalidValueError(str(original), statement=statement, orig=original)
    cause = _root_cause(original)
    message = str(cause)
    if failure.dialect == "sqlite":
        if message in _SQLITE_LOCKED:
            return LockNotAvailable(message, statement=statement, orig=original)
        if "user-defined function raised exception" in message:
            reason = last_refusal() or "a SQL function refused its argument"
            return InvalidValueError(reason, statement=statement, orig=original)
        if _SQLITE_INVALID_STATEMENT.match(message):
            return InvalidStatementError(message, statement=statement, orig=original)
        return None
    state = _sqlstate(original)
    message = str(original) if original is not None else message  # the driver's own words
    if state in _PG_INVALID_STATEMENT:
        return InvalidStatementError(message, statement=statement, orig=original)
    if _PG_TOO_MANY in message:
        return TooManyParameters(message, statement=statement, orig=original)
    if state in _PG_STATEMENT_CLASSES:
        return _PG_STATEMENT_CLASSES[state](message, statement=statement, orig=original)
    if state.startswith("22") or "invalid input for query argument" in message:
        return InvalidValueError(message, statement=statement, orig=original)
    return None


def refuse_too_many_parameters(
    _cursor: Any, statement: str, parameters: Any, executemany: bool, _context: Any
) -> None:
    """Statement hook (dialect_hooks.py): more bound values than Postgres takes fail on both."""
    if not executemany and (parameters is None or len(parameters) <= MAX_PARAMETERS):
        return  # every statement passes here: the common case first
    row = parameters
    # executemany: a list of rows; an insertmanyvalues batch comes as one row of all its values.
    batch = executemany and isinstance(parameters, list | tuple) and parameters
    if batch and isinstance(parameters[0], list | tuple | dict):
        row = parameters[0]
    if isinstance(row, list | tuple | dict) and len(row) > MAX_PARAMETERS:
        raise TooManyParameters(
            f"{len(row)} bound values in one statement (at most {MAX_PARAMETERS}): "
            "split the list into chunks",
            statement=statement,
        )


def _typed_failure(cause: BaseException | None, dialect: str, url: str) -> DatabaseError | None:
    """The toolkit class for a failure that has one of its own (timeouts, too many clients).

    SQLite's "database is locked" is LockNotAvailable (see _statement_failure), as
    Postgres' lock_not_available is: one class for a lock not granted on both.
    """
    if dialect == "sqlite":
        return None
    state = _sqlstate(cause)
    if state == _PG_TOO_MANY_CONNECTIONS:
        return TooManyConnectionsError("the server has no connection slot left", url=url)
    if state == _PG_QUERY_CANCELED and "statement timeout" in str(cause):
        return StatementTimeoutError("statement cancelled: it ran past statement_timeout")
    return None


def connect_or_unavailable(masked_url: str, url: URL | None = None) -> Callable[..., Any]:
    """A `do_connect` hook: connect as the dialect would; a network failure is unavailability.

    asyncpg raises OSError/TimeoutError, which are no DBAPI errors, so `handle_error`
    never sees them; without this hook they would reach the caller untranslated.
    """

    def do_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except _UNREACHABLE as exc:
            reason = unavailable_reason(exc, url)
            raise DatabaseUnavailableError(
                f"database unavailable: {reason}", url=masked_url, reason=reason
            ) from exc
        except Exception as exc:
            # asyncpg's own errors at connect (too many clients, starting up) are no DBAPI
            # errors either: the same translation as for a statement.
            cause = _root_cause(exc)
            typed = _typed_failure(cause, dialect.name, masked_url)
            if typed is None and dialect.name == "postgresql" and _pg_unavailable(cause):
                reason = unavailable_reason(cause, url)
                typed = DatabaseUnavailableError(
                    f"database unavailable: {reason}", url=masked_url, reason=reason
                )
            if typed is None:
                raise
            raise typed from exc

    return do_connect


def translate_integrity(
    error: BaseException, dialect: str, statement: str = ""
) -> IntegrityViolation:
    """The toolkit class for an integrity error, once bound values are out of its whole chain.

    `error` is SQLAlchemy's IntegrityError or the driver's own (COPY bypasses SQLAlchemy).
    """
    if dialect == "postgresql":
        _redact_values(error, getattr(error, "orig", None))
    if not isinstance(error, sa_exc.IntegrityError):
        # Built after the redaction: the message copies the driver's text.
        error = sa_exc.IntegrityError(statement, None, error, hide_parameters=True)
    return _integrity_violation(error, dialect)


def _integrity_violation(wrapped: sa_exc.IntegrityError, dialect: str) -> IntegrityViolation:
    cause = _root_cause(wrapped.orig)
    if dialect == "postgresql":
        cls = _PG_CLASSES.get(str(getattr(cause, "sqlstate", "")), IntegrityViolation)
        # asyncpg puts the diagnostic fields on the error, psycopg on its `diag`.
        fields = getattr(cause, "diag", cause)
        detail = str(getattr(fields, "detail", None) or getattr(fields, "message_detail", ""))
        columns_match = _PG_DETAIL_COLUMNS.search(detail or "")
        column = getattr(fields, "column_name", None)
        columns: tuple[str, ...] = ()
        if columns_match:
            columns = tuple(c.strip() for c in columns_match["columns"].split(","))
        elif column:
            columns = (column,)
        return cls(
            wrapped,
            table=getattr(fields, "table_name", None),
            columns=columns,
            constraint=getattr(fields, "constraint_name", None),
        )
    match = _SQLITE_MESSAGE.match(str(cause))
    if match is None:
        return IntegrityViolation(wrapped)
    cls = _SQLITE_CLASSES[match["kind"]]
    detail = (match["detail"] or "").strip()
    if cls is CheckViolation:
        return cls(wrapped, constraint=detail or None)
    table, columns = _sqlite_columns(detail)
    return cls(wrapped, table=table, columns=columns)


def _redact_values(*errors: BaseException | None) -> None:
    """Remove bound values from every message in these chains, in place (it is what gets logged)."""
    seen: set[int] = set()
    for error in errors:
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            detail = getattr(error, "detail", None)
            if isinstance(detail, str):
                for pattern, replacement in _PG_DETAIL_VALUES:
                    detail = pattern.sub(replacement, detail)
                error.detail = detail  # type: ignore[attr-defined]
            _redact_args(error)
            error = error.__cause__ or error.__context__


def _redact_args(error: BaseException) -> None:
    if error.args and isinstance(error.args[0], str):
        message = _PG_ARGUMENT_VALUE.sub(r"\1: value hidden\2", error.args[0])
        message = _PG_QUOTED_VALUE.sub(r"\1: ***", message)
        # psycopg's message carries the DETAIL line too (its `diag` is read-only).
        for pattern, replacement in _PG_DETAIL_VALUES:
            message = pattern.sub(replacement, message)
        error.args = (message, *error.args[1:])


def _sqlite_columns(detail: str) -> tuple[str | None, tuple[str, ...]]:
    # "users.email, users.tenant" -> ("users", ("email", "tenant"))
    pairs = [part.strip().partition(".") for part in detail.split(",") if "." in part]
    if not pairs:
        return None, ()
    return pairs[0][0], tuple(column for _, _, column in pairs)


def _root_cause(error: BaseException | None) -> BaseException | None:
    # SQLAlchemy's adapted DBAPI errors keep the driver's own exception as __cause__.
    seen: set[int] = set()
    while error is not None and error.__cause__ is not None and id(error) not in seen:
        seen.add(id(error))
        error = error.__cause__
    return error


def _is_read_only_refusal(error: BaseException | None) -> bool:
    cause = _root_cause(error)
    if str(getattr(cause, "sqlstate", "") or "") == _PG_READ_ONLY_SQLSTATE:
        return True
    return isinstance(cause, sqlite3.Error) and _SQLITE_READ_ONLY in str(cause)


def _sqlstate(error: BaseException | None) -> str:
    # asyncpg's argument errors have an OverflowError as their root: look along the chain.
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        state = getattr(error, "sqlstate", None)
        if state:
            return str(state)
        error = error.__cause__
    return ""


def _pg_unavailable(error: Any) -> bool:
    state = str(getattr(error, "sqlstate", "") or "")
    return state.startswith(_PG_UNAVAILABLE_SQLSTATE_PREFIXES)
