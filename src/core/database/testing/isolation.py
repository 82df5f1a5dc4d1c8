"""Per-test isolation: one outer transaction that every toolkit session joins, rolled back after.

Sessions made while the block runs use ``join_transaction_mode="create_savepoint"``: their
``commit()`` releases a SAVEPOINT and their ``rollback()`` rolls back to it, so code under
test may commit or roll back freely and the outer transaction still undoes everything.

A session registered with :func:`observe_commits` (the plugin's ``db_session``) sees what
the others commit: when any other session of the block commits (a request's
``Depends(get_session)``, ``transaction()``), the observer's unmodified objects are
reloaded, so a re-select or a plain attribute read gives the committed values rather
than the ones the observer loaded earlier.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event, inspect, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapper, Session

from core.database.database import Database
from core.database.session import ToolkitSession, make_sessionmaker, make_sync_sessionmaker
from core.database.sync.database import SyncDatabase
from core.database.testing.session_turns import (
    OBSERVERS,
    TURN,
    ConnectionTurn,
    SyncTurnTakingSession,
    ThreadConnectionTurn,
    TurnTakingSession,
    give_back_at_end,
)

__all__ = ["OuterTransactionEndedError", "observe_commits", "rollback_after", "sync_rollback_after"]


class OuterTransactionEndedError(RuntimeError):
    """The test committed or rolled back the outer transaction itself; its rows may leak."""


@asynccontextmanager
async def rollback_after(database: Database) -> AsyncIterator[AsyncConnection]:
    """Yield a connection in an outer transaction that every session of ``database`` joins.

    On exit the outer transaction is rolled back: nothing written inside outlives the block.
    """
    async with database.engine.connect() as connection:
        outer = await connection.begin()
        observers: weakref.WeakSet[Session] = weakref.WeakSet()
        factory = make_sessionmaker(
            connection,
            join_transaction_mode="create_savepoint",
            info={OBSERVERS: observers, TURN: ConnectionTurn()},
            class_=TurnTakingSession,
            sync_session_class=_ObservedSession,
        )
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
        factory = make_sync_sessionmaker(
            connection,
            join_transaction_mode="create_savepoint",
            info={TURN: ThreadConnectionTurn()},
            class_=SyncTurnTakingSession,
        )
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


def observe_commits(session: AsyncSession) -> None:
    """Reload ``session``'s objects whenever another session of the test commits.

    ``session`` must come from the factory that :func:`rollback_after` installs.
    """
    observers = session.sync_session.info.get(OBSERVERS)
    if observers is None:
        raise RuntimeError("observe_commits() needs a session made inside rollback_after()")
    observers.add(session.sync_session)


class _ObservedSession(ToolkitSession):
    """A test's session: its commits reload the sessions that observe_commits() names."""


event.listen(_ObservedSession, "after_transaction_end", give_back_at_end)
event.listen(SyncTurnTakingSession, "after_transaction_end", give_back_at_end)


@event.listens_for(_ObservedSession, "after_commit")
def _reload_observers(session: Session) -> None:
    observers: weakref.WeakSet[Session] | None = session.info.get(OBSERVERS)
    if not observers:
        return
    for observer in list(observers):
        if observer is not session:
            _reload(observer)


def _reload(observer: Session) -> None:
    # after_commit runs inside the committing AsyncSession's greenlet, on the test's one
    # connection, so the observer can query here, before commit() returns to the caller.
    unsaved = set(observer.dirty) | set(observer.deleted)
    for instance in list(observer.identity_map.values()):
        if instance in unsaved:
            continue  # the test's own unflushed changes win over the database
        state = inspect(instance)
        if not _still_exists(observer, state.mapper, state.identity):
            # A re-select finds nothing, as the database says; the object keeps its values.
            observer.expunge(instance)
            continue
        # Loaded columns only: a relationship expired here would lazy-load on its next
        # read, which an AsyncSession refuses (MissingGreenlet).
        columns = [c.key for c in state.mapper.column_attrs if c.key not in state.unloaded]
        if columns:
            observer.refresh(instance, attribute_names=columns)


def _still_exists(observer: Session, mapper: Mapper[Any], identity: tuple[Any, ...] | None) -> bool:
    if identity is None:
        return True
    match = [column == value for column, value in zip(mapper.primary_key, identity, strict=True)]
    query = select(literal(1)).select_from(mapper.local_table).where(*match)
    return observer.execute(query).first() is not None
