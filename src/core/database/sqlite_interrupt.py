"""A cancelled SQLite statement is interrupted, and its connection kept.

aiosqlite runs statements on a thread that a cancellation does not reach: the
statement runs on. SQLAlchemy discards a connection whose statement a cancellation
interrupted, and closing it waits for the statement to end, so `asyncio.timeout`
around a long query did not return until the query did; and an in-memory database,
which lives in its one connection, would be discarded with it. Here the statement
is interrupted (sqlite3's `interrupt()`, safe from any thread) and the connection
kept: what is queued after it on the driver's thread (closing the cursor, the
rollback) runs once it has stopped, and the transaction ends as a failed one does.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

__all__ = ["interrupt_on_cancel"]


def interrupt_on_cancel(engine: Engine) -> None:
    """Make `engine` (aiosqlite) interrupt a statement cancelled from its task."""

    @event.listens_for(engine, "handle_error")
    def _interrupt(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, Exception) or context.connection is None:
            return  # a failure, not a cancellation (or Ctrl-C)
        driver = context.connection.connection.driver_connection  # aiosqlite's
        with contextlib.suppress(ValueError):  # already closed: nothing runs
            driver._conn.interrupt()  # type: ignore[union-attr]
        context.is_disconnect = False
