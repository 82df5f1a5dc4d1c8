"""SQLite files: write transactions of different processes take turns on a lock file.

Inside one process the engine's transactions already queue on a FIFO turn
(sqlite_turns.py). Between processes only SQLite's busy handler arbitrates, and it
has no queue: it sleeps and retries, so under load some writers wait past
busy_timeout and fail with "database is locked" while the lock sits free. Here the
process holding the engine's turn also takes an exclusive `flock` on a sidecar file
(`<database>-turn`) before BEGIN IMMEDIATE; the kernel wakes a waiting process as
soon as the holder lets go. `flock` is never taken on the database file itself: a
second descriptor on it, once closed, would drop SQLite's own POSIX locks.
The sync face's engine holds a descriptor of its own: in one process, its turns and
the async engine's exclude each other here too.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import sqlite3
import threading
from pathlib import Path

from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet

__all__ = ["ProcessTurn", "turn_file_for"]


def turn_file_for(database: str) -> Path:
    """The lock file beside a SQLite database file."""
    return Path(f"{database}-turn")


class ProcessTurn:
    """An exclusive lock on the turn file, waited for in a thread, given up past `timeout`."""

    def __init__(self, path: Path, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        self._fd: int | None = None
        self._opening = threading.Lock()

    def acquire(self) -> None:
        """Take the lock (from the event loop's greenlet, or a sync face's thread);
        "database is locked" past the timeout."""
        fd = self._descriptor()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return  # uncontended: no thread needed
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if in_greenlet():
            await_only(self._wait(fd))
        else:
            self._wait_blocking(fd)

    def release(self) -> None:
        """Let the next process go."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the descriptor (releasing the lock if held)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    async def _wait(self, fd: int) -> None:
        guard = threading.Lock()
        state = {"abandoned": False, "held": False}

        def wait_for_lock() -> None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with guard:
                if state["abandoned"]:
                    fcntl.flock(fd, fcntl.LOCK_UN)  # its waiter gave up meanwhile
                else:
                    state["held"] = True

        waiting = asyncio.get_running_loop().run_in_executor(None, wait_for_lock)
        try:
            await asyncio.wait_for(asyncio.shield(waiting), self._timeout)
        except TimeoutError:
            with guard:
                if state["held"]:
                    return  # granted just as the timeout fired
                state["abandoned"] = True
            raise sqlite3.OperationalError("database is locked") from None

    def _wait_blocking(self, fd: int) -> None:
        # The sync face: the same wait on a helper thread, this thread blocked meanwhile.
        guard = threading.Lock()
        state = {"abandoned": False, "held": False}
        granted = threading.Event()

        def wait_for_lock() -> None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with guard:
                if state["abandoned"]:
                    fcntl.flock(fd, fcntl.LOCK_UN)  # its waiter gave up meanwhile
                else:
                    state["held"] = True
                    granted.set()

        threading.Thread(target=wait_for_lock, name="core.database turn", daemon=True).start()
        if granted.wait(self._timeout):
            return
        with guard:
            if state["held"]:
                return  # granted just as the timeout ran out
            state["abandoned"] = True
        raise sqlite3.OperationalError("database is locked")

    def _descriptor(self) -> int:
        with self._opening:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            return self._fd
