"""Per-test isolation: one outer transaction that every toolkit session joins, rolled back after.

Sessions made while the block runs use ``join_transaction_mode="create_savepoint"``: their
``commit()`` releases a SAVEPOINT and their ``rollback()`` rolls back to it, so code under
test may commit or roll back freely and the outer transaction still undoes everything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from core.database.database import Database
from core.database.session import make_sessionmaker, make_sync_sessionmaker
from core.database.sync.database import SyncDatabase

__all__ = ["OuterTransactionEndedError", "rollback_after", "sync_rollback_after"]


class OuterTransactionEndedError(RuntimeError):
    """The test committed or rolled back the outer transaction itself; its rows may leak."""


@asynccontextmanager
async def rollback_after(database: Database) -> AsyncIterator[AsyncConnection]:
    """Yield a connection in an outer transaction that every session of ``database`` joins.

    On exit the outer transaction is rolled back: nothing written inside outlives the block.
    """
    async with database.engine.connect() as connection:
        outer = await connection.begin()
        factory = make_sessionmaker(connection, join_transaction_mode="create_savepoint")
        ended_by_body = False
        try:
            with database.override_sessionmaker(factory):
                yield connection
        finally:
            if outer.is_active:
                await outer.rollback()
            else:
                ended_by_body = not connection.invalidated
        if ended_by_body:
            # Raised only after a clean body: an error from the test itself takes precedence.
            raise _ended()


@contextmanager
def sync_rollback_after(database: SyncDatabase) -> Iterator[Connection]:
    """The same for the sync face: every session of ``database`` joins, all rolled back."""
    with database.engine.connect() as connection:
        outer = connection.begin()
        factory = make_sync_sessionmaker(connection, join_transaction_mode="create_savepoint")
        ended_by_body = False
        try:
            with database.override_sessionmaker(factory):
                yield connection
        finally:
            if outer.is_active:
                outer.rollback()
            else:
                ended_by_body = not connection.invalidated
        if ended_by_body:
            raise _ended()


def _ended() -> OuterTransactionEndedError:
    return OuterTransactionEndedError(
        "the test ended the outer test transaction itself (db_connection.commit() or"
        " .rollback()), so its rows may leak into later tests; commit through a"
        " session instead: its commit() only releases a SAVEPOINT"
    )
