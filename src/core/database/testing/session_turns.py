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
from collections.abc import Callable
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


class _Turn:
    """The holder's token, shared by its flow of control (contextvars), and the wait."""

    def __init__(self, lock: asyncio.Lock | threading.Lock, wait: float) -> None:
        self._lock = lock
        self._token: object | None = None
        self._wait = wait

    def _held_here(self) -> bool:
        return self._token is not None and _held.get() is self._token

    def _taken(self) -> bool:
        token = self._token = object()
        _held.set(token)
        return True

    def _waited_too_long(self) -> RuntimeError:
        return RuntimeError(
            f"a session of this test waited {self._wait:g}s for the test's connection:"
            " another session holds it in an open transaction (close it, or commit)"
        )

    def give_back(self) -> None:
        self._token = None
        self._lock.release()


class ConnectionTurn(_Turn):
    """One session's transaction at a time on a test's connection; reentrant for its flow."""

    def __init__(self, wait: float = TURN_WAIT_SECONDS) -> None:
        self._waiting = asyncio.Lock()
        super().__init__(self._waiting, wait)

    async def take(self) -> bool:
        """Wait for the turn; False if this flow holds it already (nothing to give back)."""
        if self._held_here():
            return False
        try:
            await asyncio.wait_for(self._waiting.acquire(), self._wait)
        except TimeoutError:
            raise self._waited_too_long() from None
        return self._taken()


class ThreadConnectionTurn(_Turn):
    """The same for the sync face, whose sessions run on threads (``def`` routes)."""

    def __init__(self, wait: float = TURN_WAIT_SECONDS) -> None:
        self._waiting = threading.Lock()
        super().__init__(self._waiting, wait)

    def take(self) -> bool:
        """Wait for the turn; False if this flow holds it already (nothing to give back)."""
        if self._held_here():
            return False
        if not self._waiting.acquire(timeout=self._wait):
            raise self._waited_too_long()
        return self._taken()


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

    def close(self) -> None:
        try:
            super().close()
        finally:
            _give_back(self)


# The calls that may send a session's first statement: each takes the turn before it.
_FIRST_STATEMENT = (
    "execute",
    "scalar",
    "scalars",
    "get",
    "get_one",
    "refresh",
    "merge",
    "flush",
    "commit",
    "connection",
)
_ASYNC_ONLY = ("stream", "stream_scalars", "delete", "run_sync")  # delete() loads, async


def _async_turn_first(name: str) -> Callable[..., Any]:
    async def call(self: TurnTakingSession, *args: Any, **kwargs: Any) -> Any:
        await self._take_turn()
        return await getattr(AsyncSession, name)(self, *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _sync_turn_first(name: str) -> Callable[..., Any]:
    def call(self: SyncTurnTakingSession, *args: Any, **kwargs: Any) -> Any:
        self._take_turn()
        return getattr(SyncToolkitSession, name)(self, *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


for _name in (*_FIRST_STATEMENT, *_ASYNC_ONLY):
    setattr(TurnTakingSession, _name, _async_turn_first(_name))
for _name in _FIRST_STATEMENT:
    setattr(SyncTurnTakingSession, _name, _sync_turn_first(_name))


def _give_back(session: Session) -> None:
    if session.info.pop(_HOLDS, False):
        turn: _Turn = session.info[TURN]
        turn.give_back()


def give_back_at_end(session: Session, transaction: SessionTransaction) -> None:
    """`after_transaction_end` listener for a test's session class: pass the turn on."""
    # The session's own transaction (not a nested one) ended: its SAVEPOINT is gone.
    if transaction.parent is None and _HOLDS in session.info:
        _give_back(session)
