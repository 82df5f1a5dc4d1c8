"""Sessions: the factories, `on_commit` callbacks, and the commit-or-rollback scopes.

Both faces share them: an AsyncSession's sync half is a ToolkitSession, and the sync
face's sessions are SyncToolkitSessions, so `on_commit` follows one set of rules.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet

__all__ = [
    "SyncToolkitSession",
    "ToolkitSession",
    "make_sessionmaker",
    "make_sync_sessionmaker",
    "on_commit",
    "session_scope",
    "sync_session_scope",
]

logger = logging.getLogger("core.database")

Callback = Callable[[], Awaitable[Any] | Any]
_PENDING = "core.database.on_commit"
_COMMITTED = "core.database.on_commit.committed"
_FOLLOWED = "core.database.on_commit.followed"


class ToolkitSession(Session):
    """The sync half of every toolkit AsyncSession."""


class SyncToolkitSession(ToolkitSession):
    """A session of the sync face: its on_commit callbacks are sync."""


def make_sessionmaker(
    bind: AsyncEngine | AsyncConnection, **options: Any
) -> async_sessionmaker[AsyncSession]:
    """A session factory with the toolkit's defaults (objects stay readable after commit)."""
    options.setdefault("expire_on_commit", False)
    options.setdefault("sync_session_class", ToolkitSession)
    return async_sessionmaker(bind, **options)


def make_sync_sessionmaker(
    bind: Engine | Connection, **options: Any
) -> sessionmaker[SyncToolkitSession]:
    """The sync face's session factory, with the same defaults."""
    options.setdefault("expire_on_commit", False)
    options.setdefault("class_", SyncToolkitSession)
    return sessionmaker(bind, **options)


def on_commit(session: AsyncSession | Session, callback: Callback) -> None:
    """Run `callback` (sync or async) after the session commits; never after a rollback.

    Callbacks run in registration order once the transaction has ended and its
    connection is back in the pool (so one that needs a connection of its own never
    waits on its own session), before `commit()` returns. One that fails is logged
    and skipped: the data is already committed. A callback registered inside a
    savepoint that rolls back is dropped with it.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if isinstance(sync, SyncToolkitSession) and inspect.iscoroutinefunction(callback):
        raise TypeError(
            f"on_commit({callback!r}): a sync session commits outside any event loop, so"
            " its callbacks must be plain functions"
        )
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    if transaction is None:
        transaction = sync.begin()
    pending = sync.info.get(_PENDING)
    if pending is None:
        pending = sync.info[_PENDING] = []
        _follow_transactions(sync)
    pending.append((transaction, callback))


def _follow_transactions(session: Session) -> None:
    """Listen to this session's transactions, from its first callback on.

    On the session itself rather than on the class: a unit of work without callbacks
    (most of them) dispatches no event at all.
    """
    if session.info.get(_FOLLOWED):
        return
    session.info[_FOLLOWED] = True
    event.listen(session, "after_commit", _hold_until_released)
    event.listen(session, "after_soft_rollback", _drop_rolled_back)
    event.listen(session, "after_transaction_end", _end_of_transaction)


def _hold_until_released(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a SAVEPOINT was released: the outer transaction may still roll back
    # after_commit fires while the session still holds its connection: a callback that
    # takes one of its own (a publish, a job enqueue) would make every committing request
    # hold two, and a pool smaller than the load would wait on itself. Run them at the
    # end of the transaction instead, once the connection is back in the pool.
    session.info[_COMMITTED] = session.info.pop(_PENDING, [])


def _run_on_commit(session: Session) -> None:
    for _transaction, callback in session.info.pop(_COMMITTED, []):
        try:
            result = callback()
            if inspect.isawaitable(result):
                if not in_greenlet():
                    _discard(result)
                    raise TypeError("an awaitable from an on_commit callback of a sync session")
                # The transaction ends inside AsyncSession.commit()'s greenlet, so the
                # callback can be awaited before commit() returns to the caller.
                await_only(result)
        except Exception:
            logger.exception("on_commit callback %r failed; the commit stands", callback)


def _discard(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)  # a coroutine never awaited would warn
    if close is not None:
        close()


def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            (transaction, callback)
            for transaction, callback in pending
            if not _within(transaction, previous)
        ]


def _end_of_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and not transaction.nested:
        # A session closed without committing must not carry its callbacks into its
        # next use; a committed one runs them now, its connection released.
        session.info.pop(_PENDING, None)
        _run_on_commit(session)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


class session_scope:
    """Open a session; commit if the body succeeds, roll back if it raises, always close.

    A class rather than an @asynccontextmanager generator: one object per unit of work
    instead of a generator and its wrapper, on every request.
    """

    __slots__ = ("_factory", "_session")

    def __init__(self, factory: Callable[[], AsyncSession]) -> None:
        self._factory = factory

    async def __aenter__(self) -> AsyncSession:
        self._session = self._factory()
        return self._session

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        session = self._session
        try:
            if exc_type is None:
                await session.commit()
            else:
                await session.rollback()
        except BaseException as failure:
            await session.__aexit__(type(failure), failure, failure.__traceback__)
            raise
        # The session's own exit closes it, shielded from a cancellation.
        await session.__aexit__(exc_type, exc, tb)


class sync_session_scope:
    """The sync face's scope: commit if the body succeeds, roll back if it raises, always close."""

    __slots__ = ("_factory", "_session")

    def __init__(self, factory: Callable[[], Session]) -> None:
        self._factory = factory

    def __enter__(self) -> Session:
        self._session = self._factory()
        return self._session

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        session = self._session
        try:
            if exc_type is None:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()
