"""SQLite files: an engine's transactions take turns in the process, first come, first served.

BEGIN IMMEDIATE takes SQLite's write lock. Another connection that asks meanwhile
is put off by SQLite's busy handler, which sleeps and retries (1 ms growing to
100 ms) with no queue: under load some transactions keep losing, wait past
busy_timeout and fail with "database is locked", while the lock sits free during
the sleeps. So an engine's own connections queue on a FIFO turn before BEGIN;
SQLite's busy handler is left to arbitrate only between processes.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.queue import Empty

from core.database.pool import FairAsyncQueue

__all__ = ["TransactionTurns"]

_TURN = "core.database.turn"


class TransactionTurns:
    """One transaction of the engine at a time; waiting ones are served in arrival order."""

    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        self._timeout = timeout
        # One token: a transaction holds it from BEGIN until COMMIT or ROLLBACK.
        self._token: FairAsyncQueue[object] = FairAsyncQueue(maxsize=1)
        self._token.put_nowait(object())
        sync_engine = engine.sync_engine
        for name in ("commit", "rollback"):
            event.listen(sync_engine, name, self._on_end)
        # Safety net: a connection that leaves the pool's hands gives its turn back.
        for name in ("checkin", "invalidate", "close"):
            event.listen(sync_engine, name, self._on_pool_event)

    def take(self, connection: Any) -> None:
        """Wait for the turn (inside the begin event); "database is locked" past the timeout."""
        try:
            token = self._token.get(block=True, timeout=self._timeout)
        except Empty:
            raise sqlite3.OperationalError("database is locked") from None
        connection.connection.record_info[_TURN] = token

    def give_back(self, record_info: dict[str, Any] | None) -> None:
        """Pass the turn on, if this connection holds it."""
        token = record_info.pop(_TURN, None) if record_info is not None else None
        if token is not None:
            self._token.put_nowait(token)

    def _on_end(self, connection: Any) -> None:
        # An invalidated connection gave its turn back in the pool's invalidate event.
        if not connection.invalidated:
            self.give_back(connection.connection.record_info)

    def _on_pool_event(self, _dbapi_connection: Any, record: Any, *_args: Any) -> None:
        self.give_back(record.record_info)
