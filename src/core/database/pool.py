"""How the pool hands out connections: first come, first served; pinged only after idling.

Fairness: SQLAlchemy's asyncio pool wakes the first waiter when a connection comes
back, but leaves the connection in the queue until that waiter runs; a request
that arrives meanwhile takes it, and the woken waiter goes to the back of the
line. Under load some requests lose that race again and again: a p50 of
milliseconds with a p99 of seconds. Here a returned connection is handed straight
to the longest waiter, so nobody can take it on the way.

Threads (the sync face) get the same: `FairThreadQueue` hands a returned connection
to the thread that has waited longest, where `threading.Condition` would let any
thread that reaches the lock first take it.

Liveness: `pool_pre_ping` costs three round trips per checkout with asyncpg (BEGIN,
ping, ROLLBACK), more than the query it guards. A connection used a moment ago is
alive; only one that sat idle in the pool is pinged (HikariCP skips its check for
0.5 s after use, PgBouncer's server_check_delay is 30 s).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Self, TypeVar, cast

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool, QueuePool
from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty, Queue

from core.database.errors import PoolTimeoutError

__all__ = [
    "PING_AFTER_IDLE",
    "PING_TIMEOUT",
    "DisposeHooks",
    "FairAsyncQueue",
    "FairAsyncQueuePool",
    "FairQueuePool",
    "FairThreadQueue",
    "ping_when_idle",
]

_T = TypeVar("_T")
# Seconds a connection may rest in the pool and still be handed out without a ping.
PING_AFTER_IDLE = 1.0
# Seconds a liveness ping may take before the connection is taken for dead.
PING_TIMEOUT = 10.0
_IDLE_SINCE = "core.database.idle_since"
_now = time.monotonic


class FairAsyncQueue(AsyncAdaptedQueue[_T]):
    """An asyncio queue whose `put` hands the item to the longest waiter, if any.

    Items wait in the queue only while nobody waits for one, so a `get` that finds
    an item never jumps ahead of anyone.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[asyncio.Future[_T]] = deque()

    def put_nowait(self, item: _T) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skip waiters that gave up (timed out or cancelled)
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        # The pool never blocks on a return: a connection it cannot keep is closed.
        self.put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            if not block:
                raise Empty() from None
        return await_only(self._wait(timeout))

    async def _wait(self, seconds: float | None) -> _T:
        waiter: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                # Handed a connection just as we gave up: pass it on, never drop it.
                self.put_nowait(waiter.result())
            else:
                waiter.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise Empty() from exc
            raise


class DisposeHooks(Pool):
    """A pool that also lets go of what its engine holds beside it (a SQLite turn file)
    when disposed (`engine.dispose()`); the hooks stay with the pool that replaces it.

    A pool's own method, not an `engine_disposed` listener: any connection-event
    listener puts the engine on SQLAlchemy's slower path (dialect_hooks.py).
    """

    on_dispose: tuple[Callable[[], None], ...] = ()

    def dispose(self) -> None:
        super().dispose()
        for hook in self.on_dispose:
            hook()

    def recreate(self) -> Self:
        pool = cast(Self, super().recreate())  # built as self.__class__
        pool.on_dispose = self.on_dispose
        return pool


class NamedPoolTimeouts(DisposeHooks, QueuePool):
    """A queue pool whose checkout, waiting past the pool timeout, raises PoolTimeoutError.

    Both faces: a 503 with Retry-After from the handlers, not SQLAlchemy's TimeoutError.
    """

    # Set by install_rules(): named in PoolTimeoutError, the pool itself never sees the URL.
    masked_url = "unknown"

    def _do_get(self) -> Any:
        try:
            return super()._do_get()
        except sa_exc.TimeoutError as exc:
            limit = self.size() + self._max_overflow
            raise PoolTimeoutError(
                f"no pooled connection came free within {self._timeout:g}s (all {limit} in use)",
                url=self.masked_url,
            ) from exc

    def recreate(self) -> Self:
        pool = super().recreate()
        pool.masked_url = self.masked_url
        return pool


class FairAsyncQueuePool(NamedPoolTimeouts, AsyncAdaptedQueuePool):
    """AsyncAdaptedQueuePool with first-come, first-served checkouts under contention."""

    _queue_class: Any = FairAsyncQueue


class _ThreadWaiter:
    __slots__ = ("abandoned", "handed", "item")

    def __init__(self) -> None:
        self.handed = threading.Event()
        self.abandoned = False
        self.item: Any = None


class FairThreadQueue(Queue[_T]):
    """A thread-safe queue whose `put` hands the item to the longest-waiting thread, if any."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[_ThreadWaiter] = deque()

    def put_nowait(self, item: _T) -> None:
        with self.mutex:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.abandoned:
                    waiter.item = item
                    waiter.handed.set()
                    return
            self._put(item)

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        # The pool never blocks on a return: a connection it cannot keep is closed.
        self.put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        with self.mutex:
            if not self._empty():
                return self._get()
            if not block:
                raise Empty()
            waiter = _ThreadWaiter()
            self._waiters.append(waiter)
        if waiter.handed.wait(timeout):
            return cast(_T, waiter.item)
        with self.mutex:
            if waiter.handed.is_set():  # handed an item just as the wait ran out
                return cast(_T, waiter.item)
            waiter.abandoned = True
            self._waiters.remove(waiter)
        raise Empty()


class FairQueuePool(NamedPoolTimeouts):
    """QueuePool with first-come, first-served checkouts between threads."""

    _queue_class: Any = FairThreadQueue


def ping_when_idle(
    engine: Engine | AsyncEngine,
    idle_after: float = PING_AFTER_IDLE,
    *,
    timeout: float = PING_TIMEOUT,
) -> None:
    """Ping a connection at checkout if it rested in the pool over `idle_after` seconds.

    A dead one is replaced before the caller sees it (instead of `pool_pre_ping`). A
    connection dropped silently (no reset from the network: an expired NAT entry, a
    vanished host) would never answer: on asyncpg the ping gives up after `timeout`.
    """
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "checkin")
    def _rested(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = _now()

    @event.listens_for(sync_engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "_connection", None)  # the asyncpg connection
        is_closed = getattr(driver, "is_closed", None)
        if callable(is_closed) and is_closed():
            # The driver already saw the server hang up: free to detect, so always checked.
            raise DisconnectionError("pooled connection was closed by the server")
        since = record.info.get(_IDLE_SINCE)
        if since is None or _now() - since < idle_after:
            return  # just connected, or used a moment ago
        try:
            if callable(is_closed) and in_greenlet():
                await_only(_ping_asyncpg(driver, timeout))
            else:
                sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool's documented way to say "discard this one and connect anew".
            raise DisconnectionError("pooled connection failed its liveness check") from exc


async def _ping_asyncpg(driver: Any, timeout: float) -> None:  # noqa: ASYNC109
    try:
        async with asyncio.timeout(timeout):
            await driver.execute("SELECT 1")
    except TimeoutError:
        # Nothing runs on it and nothing will come back: drop the socket now, so that
        # discarding it does not wait for a goodbye the network will not carry.
        driver.terminate()
        raise
