"""A connection closed while its query runs takes the query down with it, cancellation or not.

When a request is cancelled mid-query, asyncpg sends the server a cancel request
and SQLAlchemy closes the connection. Starlette and AnyIO, though, cancel a task
again at every await until it ends: the graceful close is interrupted and the
socket dropped before the cancel request goes out. A backend blocked on a lock
does not read its socket, so it stays, working and holding its locks, while the
pool opens a new connection in its place: the app then holds more backends than
its pool allows. Here the close is seen through (bounded by a timeout): asyncpg
cancels the running query, tells the server goodbye and waits for the socket to
close; only then is the pool's slot free. A repeated cancellation is passed on
once the connection is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet

__all__ = ["CLOSE_TIMEOUT", "cancel_queries_on_terminate", "close_despite_cancellation"]

# Seconds a close may take to cancel the query and say goodbye; then the socket is dropped.
CLOSE_TIMEOUT = 5.0


def cancel_queries_on_terminate(engine: AsyncEngine, timeout: float = CLOSE_TIMEOUT) -> None:
    """Make `engine` (asyncpg) close a connection it discards only once its query has stopped."""
    dialect = engine.sync_engine.dialect
    terminate = dialect.do_terminate

    def do_terminate(dbapi_connection: Any) -> None:
        driver = getattr(dbapi_connection, "_connection", None)  # the asyncpg connection
        if not in_greenlet() or driver is None or driver.is_closed():
            terminate(dbapi_connection)  # garbage collection or already closed: just drop it
            return
        try:
            await_only(close_despite_cancellation(driver, timeout))
        finally:
            terminate(dbapi_connection)  # a no-op on a closed connection; clears its state

    dialect.do_terminate = do_terminate  # type: ignore[method-assign]


async def close_despite_cancellation(driver: Any, timeout: float) -> None:  # noqa: ASYNC109
    """Close an asyncpg connection gracefully, waiting through cancellations up to `timeout`.

    asyncpg's close() cancels a query in flight (a cancel request to the server), sends
    Terminate and waits for the server to hang up; on failure it drops the socket.
    """
    closing = asyncio.ensure_future(driver.close(timeout=timeout))
    cancelled = False
    while not closing.done():
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            # AnyIO re-delivers a cancellation at every await: keep waiting for the
            # close, which its own timeout bounds, and pass the cancellation on after.
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
