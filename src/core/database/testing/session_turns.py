"""A test's sessions share its one connection: their transactions take turns on it.

Every session a test opens joins the test's connection with a SAVEPOINT of its own.
Run side by side (``asyncio.gather`` over requests through ``db_client``, over
``transaction()`` blocks or raw helpers), two sessions would interleave their
statements on that connection: asyncpg refuses a second operation in progress, and
a RELEASE of one session's SAVEPOINT would end the other's too. So a session takes
the connection's turn before its first statement and gives it back when its
transaction ends, and concurrent requests run one after another, as their commits
would be ordered on a real server.

A session opened inside one that holds the turn (a raw helper inside a route, in
its task or a task it started) joins without waiting. The test's own ``db_session``
takes no turn: a test awaits a request while its session holds uncommitted work,
and the request's SAVEPOINT nests inside that one.
"""

from __future__ import annotations

import asyncio
import threading
from contextvars import ContextVar
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from core.database.session import SyncToolkitSession

__all__ = [
    "OBSERVERS",
    "TURN",
    "ConnectionTurn",
    "SyncTurnTakingSession",
    "ThreadConnectionTurn",
    "TurnTakingSession",
    "give_back_at_end",
    "takes_no_turn",
]

# Session.info keys: the block's turn and its observers (shared by its sessions), and
# "this session holds the turn" (its own).
TURN = "core.database.testing.turn"
OBSERVERS = "core.database.testing.observers"
_HOLDS = "core.database.testing.holds_turn"
_EXEMPT = "core.database.testing.no_turn"
# The turn this flow of control holds; tasks started inside inherit it.
_held: ContextVar[object | None] = ContextVar("core_database_test_turn", default=None)

# Longer than any one test's request should hold the connection; a session never closed
# would otherwise leave the next one waiting forever.
TURN_WAIT_SECONDS = 60.0


class ConnectionTurn:
    """One session's transaction at a time on a test's connection; reentrant for its flow."""

    def __init__(self, wait: float = TURN_WAIT_SECONDS) -> None:
        self._lock = asyncio.Lock()
        self._token: object | None = None
        self._wait = wait

    async def take(self) -> bool:
        """Wait for the turn; False if this flow holds it already (nothing to give back)."""
        if self._token is not None and _held.get() is self._token:
            return False
        try:
            await asyncio.wait_for(self._lock.acquire(), self._wait)
        except TimeoutError:
            raise _waited_too_long(self._wait) from None
        token = self._token = object()
        _held.set(token)
        return True

    def give_back(self) -> None:
        self._token = None
        self._lock.release()


class ThreadConnectionTurn:
    """The same for the sync face, whose sessions run on threads (``def`` routes)."""

    def __init__(self, wait: float = TURN_WAIT_SECONDS) -> None:
        self._lock = threading.Lock()
        self._token: object | None = None
        self._wait = wait

    def take(self) -> bool:
        """Wait for the turn; False if this flow holds it already (nothing to give back)."""
        if self._token is not None and _held.get() is self._token:
            return False
        if not self._lock.acquire(timeout=self._wait):
            raise _waited_too_long(self._wait)
        token = self._token = object()
        _held.set(token)
        return True

    def give_back(self) -> None:
        self._token = None
        self._lock.release()


def _waited_too_long(seconds: float) -> RuntimeError:
    return RuntimeError(
        f"a session of this test waited {seconds:g}s for the test's connection:"
        " another session holds it in an open transaction (close it, or commit)"
    )


def takes_no_turn(session: Session) -> None:
    """Exempt `session` (a test's own, used between awaits) from taking turns."""
    session.info[_EXEMPT] = True


def _needs_turn(session: Session) -> bool:
    info = session.info
    if TURN not in info or info.get(_HOLDS) or info.get(_EXEMPT):
        return False
    return session not in info.get(OBSERVERS, ())


class TurnTakingSession(AsyncSession):
    """An AsyncSession of a test: takes the connection's turn before its first statement."""

    async def _take_turn(self) -> None:
        info = self.sync_session.info
        if _needs_turn(self.sync_session) and await info[TURN].take():
            info[_HOLDS] = True

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().scalars(*args, **kwargs)

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().stream(*args, **kwargs)

    async def stream_scalars(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().stream_scalars(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().get(*args, **kwargs)

    async def get_one(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().get_one(*args, **kwargs)

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        await self._take_turn()
        await super().refresh(*args, **kwargs)

    async def merge(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().merge(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        await self._take_turn()
        await super().delete(*args, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        await self._take_turn()
        await super().flush(*args, **kwargs)

    async def commit(self) -> None:
        await self._take_turn()
        await super().commit()

    async def connection(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().connection(*args, **kwargs)

    async def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await super().run_sync(*args, **kwargs)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            _give_back(self.sync_session)  # a turn taken by a call that began nothing


class SyncTurnTakingSession(SyncToolkitSession):
    """A sync Session of a test: takes the connection's turn before its first statement."""

    def _take_turn(self) -> None:
        if _needs_turn(self) and self.info[TURN].take():
            self.info[_HOLDS] = True

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._take_turn()
        return super().execute(*args, **kwargs)

    def scalar(self, *args: Any, **kwargs: Any) -> Any:
        self._take_turn()
        return super().scalar(*args, **kwargs)

    def scalars(self, *args: Any, **kwargs: Any) -> Any:
        self._take_turn()
        return super().scalars(*args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self._take_turn()
        return super().get(*args, **kwargs)

    def get_one(self, *args: Any, **kwargs: Any) -> Any:
        self._take_turn()
        return super().get_one(*args, **kwargs)

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        self._take_turn()
        super().refresh(*args, **kwargs)

    def merge(self, *args: Any, **kwargs: Any) -> Any:
        self._take_turn()
        return super().merge(*args, **kwargs)

    def flush(self, *args: Any, **kwargs: Any) -> None:
        self._take_turn()
        super().flush(*args, **kwargs)

    def commit(self) -> None:
        self._take_turn()
        super().commit()

    def connection(self, *args: Any, **kwargs: Any) -> Any:
        self._take_turn()
        return super().connection(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            _give_back(self)


def _give_back(session: Session) -> None:
    if session.info.pop(_HOLDS, False):
        turn: ConnectionTurn = session.info[TURN]
        turn.give_back()


def give_back_at_end(session: Session, transaction: SessionTransaction) -> None:
    """`after_transaction_end` listener for a test's session class: pass the turn on."""
    # The session's own transaction (not a nested one) ended: its SAVEPOINT is gone.
    if transaction.parent is None and _HOLDS in session.info:
        _give_back(session)
