"""A pooled connection found dead at the start of a transaction is replaced, transparently.

The pool's liveness check (pool.py) cannot see every dead connection: a backend
killed a moment ago, a server restarted between two requests. If the connection
fails on the transaction's BEGIN or first statement, that transaction has done
nothing yet (an uncommitted transaction dies with its connection), so it is safe
to take a fresh connection and run that statement again. Once a statement has
succeeded, a lost connection is raised as it is: the work done so far is gone,
and only the caller can decide to run the whole unit again (`run_in_transaction`).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.engine.base import OptionEngine
from sqlalchemy.ext.asyncio import AsyncEngine

from core.database.errors import DatabaseUnavailableError

__all__ = ["ReconnectingConnection", "reconnect_on_first_statement"]

logger = logging.getLogger("core.database")


class ReconnectingConnection(Connection):
    """A Connection that retries a transaction's first step once on a fresh connection."""

    # Statements run since the current transaction began; reset by every BEGIN.
    _statements_in_transaction = 0
    _reconnected_in_transaction = False

    def _begin_impl(self, transaction: Any) -> None:
        self._statements_in_transaction = 0
        self._reconnected_in_transaction = False
        try:
            super()._begin_impl(transaction)
        except (sa_exc.DBAPIError, DatabaseUnavailableError) as exc:
            if not self._may_reconnect(exc):
                raise
            self._reconnect()
            super()._begin_impl(transaction)
            self._reconnected_in_transaction = True

    def _execute_context(self, *args: Any, **kwargs: Any) -> Any:
        first = self._transaction is None or self._statements_in_transaction == 0
        try:
            return super()._execute_context(*args, **kwargs)
        except (sa_exc.DBAPIError, DatabaseUnavailableError) as exc:
            if not (first and self._nested_transaction is None and self._may_reconnect(exc)):
                raise
            self._reconnect()
            if self._transaction is not None:
                # BEGIN again on the new connection (SQLite's explicit BEGIN, begin events).
                self._begin_impl(self._transaction)
                self._reconnected_in_transaction = True
            return super()._execute_context(*args, **kwargs)
        finally:
            self._statements_in_transaction += 1

    def _may_reconnect(self, exc: sa_exc.DBAPIError | DatabaseUnavailableError) -> bool:
        # Autocommit: a statement that failed on the way back may have been committed.
        return (
            exc.connection_invalidated
            and self.invalidated
            and not self._reconnected_in_transaction
            and not self._is_autocommit_isolation()
        )

    def _reconnect(self) -> None:
        # SQLAlchemy has already invalidated the dead connection (and, with it, every pooled
        # connection older than it); Connection refuses to reconnect inside a transaction
        # on its own, which is right in general and safe here: nothing was done yet.
        logger.warning("connection lost before the transaction did anything; reconnecting")
        self._dbapi_connection = self.engine.raw_connection()


class _ReconnectingOptionEngine(OptionEngine):
    # What engine.execution_options() returns (read-only units of work, say): the same
    # connections, which an OptionEngine would otherwise make plain again.
    _connection_cls = ReconnectingConnection


_ReconnectingOptionEngine._option_cls = _ReconnectingOptionEngine


def reconnect_on_first_statement(engine: AsyncEngine) -> None:
    """Make `engine`'s connections replace a dead connection at a transaction's first step."""
    engine.sync_engine._connection_cls = ReconnectingConnection
    engine.sync_engine._option_cls = _ReconnectingOptionEngine
