"""aiosqlite: a connection that fails to open leaves no thread behind.

aiosqlite opens the database on a worker thread of its own. When the open fails
(a missing folder, a file without permissions) it queues that thread's stop and
returns without waiting for it, so the thread finishes by handing its result to the
event loop a moment later. A process that exits on the failure (a server whose
startup check failed, a script under ``asyncio.run``) may have closed the loop by
then, and the thread prints two "Event loop is closed" tracebacks under the clear
one-line error. Waiting for the thread before raising removes the race.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import aiosqlite

__all__ = ["connect_aiosqlite"]

_STOP_WAIT_SECONDS = 1.0


async def connect_aiosqlite(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    """``aiosqlite.connect(...)``, awaited; on failure, once its thread has stopped."""
    connection = aiosqlite.connect(*args, **kwargs)
    worker: threading.Thread = connection._thread
    # A daemon, as SQLAlchemy makes it: a connection never closed must not hold the
    # interpreter open at exit.
    worker.daemon = True
    try:
        return await connection
    except BaseException:
        await _stopped(worker)
        raise


async def _stopped(worker: threading.Thread) -> None:
    # The queued stop is all the thread has left to do (microseconds). aiosqlite keeps
    # the future of that stop to itself, so poll; the cap keeps a wedged open from
    # holding the error back.
    deadline = time.monotonic() + _STOP_WAIT_SECONDS
    while worker.is_alive() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
