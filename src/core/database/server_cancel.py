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
once the connection is closed. If the close fails all the same (the cancel
request or the goodbye lost on the network), the query is cancelled from a
short-lived side connection with `pg_cancel_backend`, before the slot is freed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only, greenlet_spawn
from sqlalchemy.util.concurrency import in_greenlet

__all__ = [
    "CLOSE_TIMEOUT",
    "cancel_backend",
    "cancel_queries_on_terminate",
    "close_despite_cancellation",
]

logger = logging.getLogger("core.database")

# Seconds a close may take to cancel the query and say goodbye; then the socket is dropped.
CLOSE_TIMEOUT = 5.0


def cancel_queries_on_terminate(engine: AsyncEngine, timeout: float = CLOSE_TIMEOUT) -> None:
    """Make `engine` (asyncpg) close a connection it discards only once its query has stopped."""
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect
    terminate = dialect.do_terminate

    def do_terminate(dbapi_connection: Any) -> None:
        driver = getattr(dbapi_connection, "_connection", None)  # the asyncpg connection
        if not in_greenlet() or driver is None or driver.is_closed():
            terminate(dbapi_connection)  # garbage collection or already closed: just drop it
            return
        try:
            await_only(close_despite_cancellation(driver, timeout, sync_engine))
        finally:
            terminate(dbapi_connection)  # a no-op on a closed connection; clears its state

    dialect.do_terminate = do_terminate  # type: ignore[method-assign]


async def close_despite_cancellation(
    driver: Any,
    timeout: float,  # noqa: ASYNC109
    engine: Engine | None = None,
) -> None:
    """Close an asyncpg connection gracefully, waiting through cancellations up to `timeout`.

    asyncpg's close() cancels a query in flight (a cancel request to the server), sends
    Terminate and waits for the server to hang up; on failure it drops the socket, and
    then, given `engine`, the backend's query is cancelled from a side connection.
    """
    closing = asyncio.ensure_future(_close_or_cancel_backend(driver, timeout, engine))
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


async def _close_or_cancel_backend(driver: Any, timeout: float, engine: Engine | None) -> None:  # noqa: ASYNC109
    pid = driver.get_server_pid()
    try:
        await driver.close(timeout=timeout)
    except Exception as exc:
        if engine is None:
            raise
        # The socket is gone but the server may not know: a backend blocked on a lock
        # does not read its socket, and would keep working outside the pool.
        logger.warning(
            "closing the connection to backend %s failed (%s); cancelling its query",
            pid,
            type(exc).__name__,
        )
        await cancel_backend(engine, pid, timeout)


async def cancel_backend(engine: Engine, pid: int, timeout: float) -> bool:  # noqa: ASYNC109
    """`pg_cancel_backend(pid)` from a new connection made as the pool makes its own.

    True if the server signalled the backend; False (logged) if that could not be done.
    """
    try:
        async with asyncio.timeout(timeout):
            # The pool's creator: the same URL, credentials and connect arguments.
            side = await greenlet_spawn(engine.pool._creator)
            driver = side.driver_connection
            try:
                return bool(await driver.fetchval("SELECT pg_cancel_backend($1)", pid))
            finally:
                driver.terminate()  # nothing runs on it any more: no goodbye to wait for
    except Exception as exc:
        logger.warning("could not cancel the query of backend %s (%s)", pid, type(exc).__name__)
        return False
