"""Re-run a whole unit of work when its connection died under it, and only then."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from core.database.database import Database, get_database
from core.database.errors import DatabaseUnavailableError

__all__ = ["run_in_transaction"]

T = TypeVar("T")
logger = logging.getLogger("core.database")


async def run_in_transaction(
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    attempts: int = 2,
    database: Database | None = None,
) -> T:
    """Run `work(session)` in a transaction; commit, or roll back and raise.

    If the connection was lost midway (a server restart, a failover, a killed
    backend), nothing of that attempt was committed, so `work` runs again from the
    start on a fresh connection, up to `attempts` times in all. Pre-ping cannot save
    such a transaction; any other error is raised at once. `work` must not have
    effects outside the database that a second run would repeat (use `on_commit`).
    """
    database = database or get_database()
    for attempt in range(1, attempts + 1):
        try:
            async with database.transaction() as session:
                return await work(session)
        except (sa_exc.DBAPIError, DatabaseUnavailableError) as exc:
            if not exc.connection_invalidated or attempt == attempts:
                raise
            logger.warning("connection lost during a transaction; retrying (%d)", attempt)
    raise AssertionError("unreachable")  # the loop returns or raises
