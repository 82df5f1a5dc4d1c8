"""`follow`: a stream's rows in position order, exactly once, woken by a broadcaster.

The database holds the truth; messages only wake the reader. A writer gives each
row a position in commit order (a row with position P is visible only once every
lower position is) and publishes the position after the commit. A follower
subscribes, then reads the rows after the last position it delivered: on each
message that names a newer position, on each `Gap` (a reconnect or an overflow),
and after `idle` seconds without a message (which also heals a lost publish). So
any number of processes deliver the same rows in the same order, a client that
resumes elsewhere with its last position misses nothing, and a broadcaster that
lost its connection costs a re-read, never an event. Followers of one channel in
one process that wake on the same message share one read.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from core.database.broadcast.protocol import Broadcaster, Gap

__all__ = ["DEFAULT_IDLE_SECONDS", "follow", "position_message"]

T = TypeVar("T")

DEFAULT_IDLE_SECONDS = 15.0
DEFAULT_PAGE_SIZE = 100


def position_message(position: int) -> str:
    """The message a writer publishes after committing the row at `position`."""
    return str(position)


async def follow(
    broadcaster: Broadcaster,
    channel: str,
    read_after: Callable[[int, int], Awaitable[Sequence[T]]],
    position_of: Callable[[T], int],
    *,
    after: int | None = None,
    head: Callable[[], Awaitable[int]] | None = None,
    idle: float = DEFAULT_IDLE_SECONDS,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> AsyncGenerator[Sequence[T], None]:
    """Batches of rows with positions above `after`, in order; `[]` after `idle` quiet seconds.

    The first batch (perhaps empty) comes once the subscription is active and the
    rows already committed are read: from then on, every commit reaches the caller.

    `read_after(position, limit)` returns up to `limit` rows after `position`,
    ordered by position, from a short transaction of its own. `head()`, if given,
    is the latest position, read once subscribed: the start when `after` is None,
    and the cap of an `after` beyond it.
    The empty batch lets a caller send keep-alives; it is yielded only when a
    re-read found nothing new.
    """
    if after is None and head is None:
        raise ValueError("follow() needs `after` or `head`")
    async with broadcaster.subscribe(channel) as messages:
        # Subscribed first: whatever commits from now on wakes us, so the read below
        # plus the reads on wake-ups cover everything after `last`.
        start = after
        if head is not None:
            latest = await head()
            # Beyond the head (a database restored from a backup): from the head, or
            # new rows would pass for ones already seen.
            start = latest if after is None else min(after, latest)
        assert start is not None  # checked above: `after` or `head` is given
        cursor = _Cursor(channel, read_after, position_of, start, page_size)
        found = False
        async for batch in cursor.read():
            found = True
            yield batch
        if not found:
            yield []  # subscribed and caught up: a caller may say it is ready
        incoming = aiter(messages)
        while True:
            try:
                async with asyncio.timeout(idle):
                    message: str | Gap | None = await anext(incoming)
            except TimeoutError:
                message = None
            except StopAsyncIteration:
                return  # the broadcaster closed
            target = _position(message) if isinstance(message, str) else None
            if target is not None and target <= cursor.last:
                continue  # already delivered: no read needed
            found = False
            async for batch in cursor.read(target):
                found = True
                yield batch
            if message is None and not found:
                yield []


def _position(message: str) -> int | None:
    # The position a message names; None for any other message (then read anyway).
    try:
        return int(message)
    except ValueError:
        return None


class _Cursor(Generic[T]):
    """The last position delivered, and the reads that move it on."""

    def __init__(
        self,
        channel: str,
        read_after: Callable[[int, int], Awaitable[Sequence[T]]],
        position_of: Callable[[T], int],
        last: int,
        page_size: int,
    ) -> None:
        self._channel, self._read_after, self._position_of = channel, read_after, position_of
        self.last, self._page_size = last, page_size
        self._reads = _SharedReads.of_running_loop()

    async def read(self, target: int | None = None) -> AsyncIterator[list[T]]:
        """Every row after `last`, a page at a time; `last` follows what was yielded.

        With a `target` (the position a message named) the first read may be one that
        another follower of the channel already started; if that one ends short of
        the target, a read of our own follows. Without one (first read, Gap, idle),
        the read starts now.
        """
        own = target is None
        while True:
            key = (self._channel, _name(self._read_after), self.last, self._page_size)
            page = await self._reads.run(key, own, self._read_after, self.last, self._page_size)
            fresh: list[T] = []
            for row in page:
                position = self._position_of(row)
                if position > self.last:  # never twice, even if a reader returns an old row
                    fresh.append(row)
                    self.last = position
            if fresh:
                yield fresh
            if len(page) >= self._page_size:
                continue
            if own or target is None or self.last >= target:
                return
            own = True  # the shared read began before the target committed


def _name(function: Callable[..., object]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


_Key = tuple[str, str, int, int]


class _SharedReads:
    """Reads in flight in one event loop: followers of one channel at one position share one.

    Without it, N subscribers of a channel in a process would run N identical
    queries on every message. A read's task is cancelled when its last waiter is.
    """

    def __init__(self) -> None:
        self._inflight: dict[_Key, tuple[asyncio.Task[Any], list[int]]] = {}

    @classmethod
    def of_running_loop(cls) -> _SharedReads:
        loop = asyncio.get_running_loop()
        reads = _BY_LOOP.get(loop)
        if reads is None:
            reads = _BY_LOOP[loop] = cls()
        return reads

    async def run(
        self,
        key: _Key,
        own: bool,
        read_after: Callable[[int, int], Awaitable[Sequence[T]]],
        position: int,
        limit: int,
    ) -> Sequence[T]:
        entry = self._inflight.get(key)
        if own or entry is None or entry[0].done():
            task: asyncio.Task[Any] = asyncio.ensure_future(read_after(position, limit))
            entry = (task, [0])
            self._inflight[key] = entry
            task.add_done_callback(lambda done: self._forget(key, done))
        task, waiters = entry
        waiters[0] += 1
        try:
            result: Sequence[T] = await asyncio.shield(task)
            return result
        except asyncio.CancelledError:
            if waiters[0] == 1 and not task.done():
                task.cancel()  # nobody else waits for it
            raise
        finally:
            waiters[0] -= 1

    def _forget(self, key: _Key, task: asyncio.Task[Any]) -> None:
        entry = self._inflight.get(key)
        if entry is not None and entry[0] is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: a failure reaches its waiters, not the loop's log


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SharedReads] = (
    weakref.WeakKeyDictionary()
)
