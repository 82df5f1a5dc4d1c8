"""A failed statement aborts its transaction, on SQLite as on Postgres.

Postgres refuses every statement after an error until ROLLBACK (or ROLLBACK TO
SAVEPOINT): code that catches a UniqueViolation and carries on fails there. SQLite
would carry on and commit the other rows; the toolkit makes it refuse the same way,
with TransactionAborted. A COMMIT of an aborted transaction raises TransactionAborted
on both (Postgres would answer it with a silent ROLLBACK).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from core.database.errors import TooManyParameters, TransactionAborted

__all__ = ["install_abort_tracking"]

_KEY = "core_database_aborted"
_ABORTED = "current transaction is aborted, commands ignored until end of transaction block"
# asyncpg's own argument checks fail before anything reaches the server.
_DML = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE", "VALUES")
_CLIENT_SIDE = ("invalid input for query argument", "the number of query arguments")


def install_abort_tracking(sync: Engine) -> None:
    """Track failed statements per connection; on SQLite, refuse what Postgres refuses."""
    sqlite = sync.dialect.name == "sqlite"

    @event.listens_for(sync, "handle_error")
    def _mark(context: ExceptionContext) -> None:
        connection = context.connection
        if connection is None or context.is_disconnect or connection.invalidated:
            return
        if not connection.in_transaction():
            return
        if not isinstance(context.sqlalchemy_exception, sa_exc.DBAPIError):
            return  # refused while binding: nothing reached the database
        if isinstance(context.original_exception, TooManyParameters | TransactionAborted):
            return
        if not sqlite and any(text in str(context.original_exception) for text in _CLIENT_SIDE):
            return
        connection.info[_KEY] = True

    def _clear(connection: Connection, *_args: Any) -> None:
        if not connection.invalidated:  # .info would try to reconnect
            connection.info.pop(_KEY, None)

    for name in ("begin", "rollback", "rollback_savepoint"):
        event.listen(sync, name, _clear)

    @event.listens_for(sync, "commit")
    def _refuse_commit(connection: Connection) -> None:
        if not connection.invalidated and connection.info.pop(_KEY, None):
            # End it in the driver now, as Postgres would; SQLAlchemy's own rollback
            # that follows the error then finds nothing left to undo.
            connection.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
            raise TransactionAborted(f"{_ABORTED}: rolled back", statement="COMMIT")

    if sqlite:

        @event.listens_for(sync, "before_cursor_execute")
        def _refuse(
            connection: Connection, _c: Any, statement: str, _p: Any, _x: Any, _m: bool
        ) -> None:
            # Queries and writes only: DDL and PRAGMAs after a failure are SQLite-only
            # clean-ups (Alembic's batch mode drops its temporary table) with no
            # Postgres statement to mirror.
            refused = statement.lstrip().upper().startswith(_DML)
            if connection.info.get(_KEY) and refused:
                raise TransactionAborted(_ABORTED, statement=statement)
