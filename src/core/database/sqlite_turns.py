"""SQLite files: an engine's transactions take turns in the process, first come, first served.

BEGIN IMMEDIATE takes SQLite's write lock. Another connection that asks meanwhile
is put off by SQLite's busy handler, which sleeps and retries (1 ms growing to
100 ms) with no queue: under load some transactions keep losing, wait past
busy_timeout and fail with "database is locked", while the lock sits free during
the sleeps. So an engine's own connections queue on a FIFO turn before BEGIN;
Between processes, the turn holder also takes the engine's ProcessTurn (a lock
file, sqlite_file_lock.py), so several worker processes on one file queue too.

Both faces queue the same way: the async engine on a FairAsyncQueue (tasks), the
sync engine on a FairThreadQueue (threads); each engine holds the lock file through
a descriptor of its own, so the two faces in one process take turns there as well.

The turn passes on once the driver's COMMIT or ROLLBACK has returned (the engine
wraps the dialect's do_commit/do_rollback): SQLAlchemy's commit and rollback events
fire before it, and a BEGIN IMMEDIATE sent then would meet the lock still held.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.util.queue import Empty, QueueCommon

from core.database.sqlite_file_lock import ProcessTurn

__all__ = ["TransactionTurns"]

_TURN = "core.database.turn"


class TransactionTurns:
    """One transaction of the engine at a time; waiting ones are served in arrival order."""

    def __init__(
        self,
        engine: Engine,
        timeout: float,
        queue: QueueCommon[object],
        process_turn: ProcessTurn | None = None,
    ) -> None:
        """`engine`: the (sync) Engine; `queue`: an empty FairAsyncQueue or FairThreadQueue."""
        self._timeout = timeout
        self._process_turn = process_turn
        # One token: a transaction holds it from BEGIN until its COMMIT or ROLLBACK returns.
        self._token = queue
        self._token.put_nowait(object())
        # Safety net: a connection that leaves the pool's hands gives its turn back. Not
        # at checkin: the pool's reset ends every transaction in do_rollback, which does.
        for name in ("invalidate", "close"):
            event.listen(engine, name, self._on_pool_event)

    def take(self, pooled_connection: Any) -> None:
        """Wait for the turn (at BEGIN); "database is locked" past the timeout."""
        try:
            token = self._token.get(block=True, timeout=self._timeout)
        except Empty:
            raise sqlite3.OperationalError("database is locked") from None
        if self._process_turn is not None:
            try:
                self._process_turn.acquire()
            except BaseException:
                self._token.put_nowait(token)
                raise
        pooled_connection.record_info[_TURN] = token

    def give_back(self, record_info: dict[str, Any] | None) -> None:
        """Pass the turn on, if this connection (its pool entry's record_info) holds it.

        Called once the driver's COMMIT or ROLLBACK has returned."""
        token = record_info.pop(_TURN, None) if record_info is not None else None
        if token is not None:
            if self._process_turn is not None:
                self._process_turn.release()
            self._token.put_nowait(token)

    def _on_pool_event(self, _dbapi_connection: Any, record: Any, *_args: Any) -> None:
        self.give_back(record.record_info)
