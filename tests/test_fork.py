"""A forked child (multiprocessing, prefork workers) opens its own connections.

The parent's pooled connections are shared sockets and file handles after a fork:
two processes talking on one Postgres connection read each other's answers or hang.
The child must neither use them nor close them (that would end the parent's).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from typing import Any

import pytest
from sqlalchemy.engine import URL

from core.database import Database, set_database
from core.database import execute as async_execute
from core.database import fetch_value as async_fetch_value
from core.database.sync import SyncDatabase, execute, fetch_value, set_sync_database

COUNTERS = "CREATE TABLE fork_counts (worker INTEGER PRIMARY KEY, seen INTEGER NOT NULL)"
CHILDREN = 4


def _rendered(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _identity(db: SyncDatabase) -> Any:
    """Who answers: the Postgres backend's pid, or the process itself on SQLite."""
    if db.dialect == "postgresql":
        with db.transaction() as session:
            return session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    return os.getpid()


def _child_work(worker: int) -> tuple[int, Any, int]:
    """In a forked child, on the parent's default database: helpers and a unit of work."""
    from core.database.sync import get_sync_database

    db = get_sync_database()
    with db.transaction() as session:
        session.connection().exec_driver_sql(f"INSERT INTO fork_counts VALUES ({worker}, 0)")
    for _ in range(20):
        execute("UPDATE fork_counts SET seen = seen + 1 WHERE worker = :w", {"w": worker})
    seen = fetch_value("SELECT seen FROM fork_counts WHERE worker = :w", {"w": worker})
    return worker, _identity(db), seen


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is a POSIX call")
def test_forked_children_use_connections_of_their_own(scratch: URL) -> None:
    db = SyncDatabase(_rendered(scratch), pool_size=2, max_overflow=0)
    previous = set_sync_database(db)
    try:
        execute(COUNTERS)
        parent_identity = _identity(db)  # the pool now holds an open connection
        with multiprocessing.get_context("fork").Pool(CHILDREN) as workers:
            results = workers.map(_child_work, range(CHILDREN), chunksize=1)
        assert sorted(seen for _, _, seen in results) == [20] * CHILDREN
        assert parent_identity not in {identity for _, identity, _ in results}
        # The parent's own connections were neither used nor closed by the children.
        assert _identity(db) == parent_identity
        assert fetch_value("SELECT sum(seen) FROM fork_counts") == 20 * CHILDREN
    finally:
        set_sync_database(previous)
        db.dispose()


def _async_child(_: int) -> int:
    """In a forked child, on a loop of its own, through the parent's default database."""
    return int(asyncio.run(async_fetch_value("SELECT count(*) FROM fork_counts")))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is a POSIX call")
async def test_a_forked_child_of_an_async_app_runs_its_own_loop(scratch: URL) -> None:
    database = Database(_rendered(scratch))
    previous = set_database(database)
    try:
        await async_execute(COUNTERS)
        await async_execute("INSERT INTO fork_counts VALUES (1, 1)")
        with multiprocessing.get_context("fork").Pool(2) as workers:
            counts = await asyncio.to_thread(workers.map, _async_child, [1, 2])
        assert counts == [1, 1]
        assert await async_fetch_value("SELECT count(*) FROM fork_counts") == 1
    finally:
        set_database(previous)
        await database.dispose()
