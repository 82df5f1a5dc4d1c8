"""Scripts on the toolkit: ``core.database.run(main())`` instead of ``asyncio.run(main())``."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from core.database import database as default
from core.database.url import is_memory_sqlite

__all__ = ["run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` in a new event loop, like ``asyncio.run``; close the default database's
    connections before the loop ends.

    Safe to call again and again in one process (a CLI, a task queue worker, a
    notebook): each call opens its own connections. An in-memory SQLite database is
    kept (its data lives in its connection) and closed at interpreter exit.
    """
    return asyncio.run(_disposing(main))


async def _disposing(main: Coroutine[Any, Any, T]) -> T:
    try:
        return await main
    finally:
        # Only a database the script used: building one here would read settings for nothing.
        database = default.current_database()
        if database is not None and not is_memory_sqlite(database.url):
            await database.dispose()
