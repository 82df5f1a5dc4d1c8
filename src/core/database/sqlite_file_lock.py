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
import weakref
from pathlib import Path
from typing import Any

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
        self._owner = 0  # the process that opened _fd
        self._closer: weakref.finalize[Any, Any] | None = None
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
        """Close the descriptor (releasing the lock if held); the next acquire opens anew."""
        with self._opening:
            self._forget_descriptor()

    def _forget_descriptor(self) -> None:
        closer, self._closer, self._fd = self._closer, None, None
        if closer is not None:
            closer()  # closes the descriptor, once

    async def _wait(self, fd: int) -> None:
        wait = _LockWait(fd)
        waiting = asyncio.get_running_loop().run_in_executor(None, wait.run)
        try:
            await asyncio.wait_for(asyncio.shield(waiting), self._timeout)
        except TimeoutError:
            if not wait.give_up():
                raise sqlite3.OperationalError("database is locked") from None

    def _wait_blocking(self, fd: int) -> None:
        # The sync face: the same wait on a helper thread, this thread blocked meanwhile.
        wait = _LockWait(fd)
        threading.Thread(target=wait.run, name="core.database turn", daemon=True).start()
        if not wait.granted.wait(self._timeout) and not wait.give_up():
            raise sqlite3.OperationalError("database is locked")

    def _descriptor(self) -> int:
        fd = self._fd
        if fd is not None and self._owner == os.getpid():
            return fd  # every transaction comes here: no lock once it is open
        with self._opening:
            pid = os.getpid()
            if self._fd is not None and self._owner != pid:
                # A forked child (a preloading server's worker) inherited the parent's open
                # file, and with it the parent's lock: it takes turns on a file of its own.
                # Closing the inherited descriptor leaves the parent's lock alone.
                self._forget_descriptor()
            if self._fd is None:
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                # Closed with the engine's pool (close()), or else when this turn is dropped.
                self._fd, self._owner = fd, pid
                self._closer = weakref.finalize(self, os.close, fd)
            return self._fd


class _LockWait:
    """One blocking wait for the lock, on a helper thread; its waiter may give up on it."""

    def __init__(self, fd: int) -> None:
        # A descriptor of its own on the same open file (so the same lock): the turn's
        # may be closed meanwhile (dispose), and its number reused by another file.
        self._fd = os.dup(fd)
        self._guard = threading.Lock()
        self._abandoned = False
        self._held = False
        self.granted = threading.Event()

    def run(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            with self._guard:
                if self._abandoned:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)  # its waiter gave up meanwhile
                else:
                    self._held = True
                    self.granted.set()
        finally:
            # The lock stays with the open file while the turn's descriptor is open.
            os.close(self._fd)

    def give_up(self) -> bool:
        """Abandon the wait; True if the lock was granted just as the waiter gave up."""
        with self._guard:
            if self._held:
                return True
            self._abandoned = True
            return False
