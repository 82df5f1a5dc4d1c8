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

from core.database.dialect_hooks import before_statements, pooled_info
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

    # At the dialect, not as commit/rollback listeners (dialect_hooks.py says why). Every
    # transaction ends in do_commit or do_rollback (the pool's reset included), or with
    # its connection invalidated, which clears .info: the mark never outlives it.
    dialect = sync.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback
    to_savepoint = dialect.do_rollback_to_savepoint

    def do_rollback(pooled_connection: Any) -> None:
        info = pooled_info(pooled_connection)
        if info:
            info.pop(_KEY, None)
        rollback(pooled_connection)

    def do_rollback_to_savepoint(connection: Connection, name: str) -> None:
        connection.info.pop(_KEY, None)
        to_savepoint(connection, name)

    def do_commit(pooled_connection: Any) -> None:
        if pooled_connection.info.pop(_KEY, None):
            # End it now, as Postgres would (through the hooks within: a SQLite turn passes
            # on); SQLAlchemy counts the transaction as ended and sends no rollback after.
            rollback(pooled_connection)
            raise TransactionAborted(f"{_ABORTED}: rolled back", statement="COMMIT")
        commit(pooled_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign,assignment]
    dialect.do_rollback_to_savepoint = do_rollback_to_savepoint  # type: ignore[method-assign]

    if sqlite:

        def _refuse(_cursor: Any, statement: str, _p: Any, _many: bool, context: Any) -> None:
            # Queries and writes only: DDL and PRAGMAs after a failure are SQLite-only
            # clean-ups (Alembic's batch mode drops its temporary table) with no
            # Postgres statement to mirror.
            if context is None or not context.root_connection.info.get(_KEY):
                return
            if statement.lstrip().upper().startswith(_DML):
                raise TransactionAborted(_ABORTED, statement=statement)

        before_statements(dialect, _refuse)
