"""One engine per event loop, disposed while its loop still runs.

asyncpg connections belong to the loop that opened them: a script that calls
``asyncio.run()`` twice (a CLI, a Celery task, a notebook) would reuse them from
the second loop and fail with "attached to a different loop". So a Postgres
`Database` keeps an engine per running loop, and disposes each one when its loop
shuts down. ``asyncio.run()``, ``asyncio.Runner``, uvicorn and pytest-asyncio all
finish a loop with ``loop.shutdown_asyncgens()``, which closes every async
generator the loop has seen: a small generator registered with the loop is the
hook that disposes the engine there, before the loop closes.

An in-memory SQLite database keeps one engine for every loop: it lives in its one
connection, so a new engine would find it empty. aiosqlite runs the driver in a
thread of its own and answers on whichever loop asks, so that engine serves every
loop; it is disposed at interpreter exit (or by `dispose()`). A SQLite file gets an
engine per loop like Postgres: its data is in the file.
"""

from __future__ import annotations

import asyncio
import atexit
import weakref
from collections.abc import AsyncGenerator, Callable
from contextlib import suppress
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.database.session import make_sessionmaker

__all__ = ["LoopEngines"]

Loop = asyncio.AbstractEventLoop


@dataclass
class _Entry:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Read-only sessions on the same engine, made on first use (Database.read_sessionmaker).
    read_sessionmaker: async_sessionmaker[AsyncSession] | None = None
    # Keeps the loop's shutdown hook alive: the loop holds async generators weakly.
    guard: AsyncGenerator[None, None] | None = field(default=None, repr=False)


class LoopEngines:
    """Engines made by `build`, one per running loop (or one in all, `per_loop=False`)."""

    def __init__(self, build: Callable[[], AsyncEngine], *, per_loop: bool) -> None:
        self._build = build
        self._per_loop = per_loop
        self._entries: dict[Loop | None, _Entry] = {}
        self._late_disposals: set[asyncio.Task[None]] = set()

    def current(self) -> _Entry:
        """The engine for the running loop, built on first use."""
        key = self._key()
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        if key is not None and None in self._entries:
            # Built outside any loop (sync code), so it holds no connection yet:
            # the first loop that uses it adopts it.
            entry = self._entries.pop(None)
        else:
            engine = self._build()
            entry = _Entry(engine, make_sessionmaker(engine))
            if not self._per_loop:
                atexit.register(_dispose_at_exit, weakref.ref(engine))
        self._entries[key] = entry
        if key is not None:
            entry.guard = self._dispose_with(key, entry)
        return entry

    def built(self) -> bool:
        """True if the running loop (or the shared slot) has an engine."""
        return self._key() in self._entries

    async def dispose(self) -> None:
        """Dispose the running loop's engine (the shared one for SQLite); rebuilt on next use."""
        entry = self._entries.pop(self._key(), None)
        if entry is None:
            return
        if entry.guard is not None:
            await entry.guard.aclose()  # its `finally` disposes the engine
        else:
            await entry.engine.dispose()

    def _key(self) -> Loop | None:
        if not self._per_loop:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._forget_closed_loops()
        return loop

    def _forget_closed_loops(self) -> None:
        # A loop closed without shutdown_asyncgens() (a bare loop.close()) never ran
        # the hook. aiosqlite answers any loop, so a SQLite engine is disposed from
        # this one; asyncpg connections cannot be closed from another loop and are
        # dropped. The hook is finished here so its loop's finalizer is not called.
        for loop in [key for key in self._entries if key is not None and key.is_closed()]:
            entry = self._entries.pop(loop)
            if entry.guard is not None:
                with suppress(StopIteration):
                    entry.guard.aclose().send(None)
            if entry.engine.dialect.name == "sqlite":
                task = asyncio.get_running_loop().create_task(entry.engine.dispose())
                self._late_disposals.add(task)
                task.add_done_callback(self._late_disposals.discard)

    def _dispose_with(self, loop: Loop, entry: _Entry) -> AsyncGenerator[None, None]:
        async def dispose_at_shutdown() -> AsyncGenerator[None, None]:
            try:
                yield
            finally:
                if self._entries.get(loop) is entry:
                    del self._entries[loop]
                if not loop.is_closed():
                    await entry.engine.dispose()

        guard = dispose_at_shutdown()
        # Calling asend() registers the generator with the running loop; driving the
        # step by hand runs it up to its `yield` without awaiting anything.
        with suppress(StopIteration):
            guard.asend(None).send(None)
        return guard


def _dispose_at_exit(engine_ref: weakref.ref[AsyncEngine]) -> None:
    # The shared engine outlives every loop; close its connection before the interpreter
    # does (aiosqlite warns about a connection deleted unclosed).
    engine = engine_ref()
    if engine is not None:
        asyncio.run(engine.dispose())
