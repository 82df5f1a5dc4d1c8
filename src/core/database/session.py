"""Sessions: the factory, `on_commit` callbacks, and the commit-or-rollback scope."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util import await_only

__all__ = ["ToolkitSession", "make_sessionmaker", "on_commit", "session_scope"]

logger = logging.getLogger("core.database")

Callback = Callable[[], Awaitable[Any] | Any]
_PENDING = "core.database.on_commit"


class ToolkitSession(Session):
    """The sync half of every toolkit AsyncSession: carries the on_commit hooks."""


def make_sessionmaker(
    bind: AsyncEngine | AsyncConnection, **options: Any
) -> async_sessionmaker[AsyncSession]:
    """A session factory with the toolkit's defaults (objects stay readable after commit)."""
    options.setdefault("expire_on_commit", False)
    return async_sessionmaker(bind, sync_session_class=ToolkitSession, **options)


def on_commit(session: AsyncSession | Session, callback: Callback) -> None:
    """Run `callback` (sync or async) after the session commits; never after a rollback.

    Callbacks run in registration order. One that fails is logged and skipped: the
    data is already committed. A callback registered inside a savepoint that rolls
    back is dropped with it.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    if transaction is None:
        transaction = sync.begin()
    sync.info.setdefault(_PENDING, []).append((transaction, callback))


@event.listens_for(ToolkitSession, "after_commit")
def _run_on_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a SAVEPOINT was released: the outer transaction may still roll back
    pending = session.info.pop(_PENDING, [])
    for _transaction, callback in pending:
        try:
            result = callback()
            if inspect.isawaitable(result):
                # after_commit runs inside AsyncSession.commit()'s greenlet, so the
                # callback can be awaited before commit() returns to the caller.
                await_only(result)
        except Exception:
            logger.exception("on_commit callback %r failed; the commit stands", callback)


@event.listens_for(ToolkitSession, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            (transaction, callback)
            for transaction, callback in pending
            if not _within(transaction, previous)
        ]


@event.listens_for(ToolkitSession, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: SessionTransaction) -> None:
    # A session closed without committing must not carry its callbacks into its next use.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@asynccontextmanager
async def session_scope(
    factory: Callable[[], AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Open a session; commit if the body succeeds, roll back if it raises, always close."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
