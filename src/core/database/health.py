"""What a health endpoint should say: the database answers, the pool is saturated, or it is down.

A busy pool is no outage: the ping goes over a connection of its own, outside the
pool, so it answers while every pooled connection is checked out (the pool's
occupancy is reported beside it). The answer comes within the timeout even when
the server stalls: the ping runs as a task of its own, cleaned up in the
background, and concurrent checks share the one ping in flight, so a stalled
server never gathers more than one extra connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.pool import Pool

__all__ = ["DatabaseHealth", "HealthStatus", "PoolUsage", "SharedPing", "pool_usage"]


class HealthStatus(StrEnum):
    """`ok`: answers, a connection is free; `saturated`: answers, the pool is all in use."""

    OK = "ok"
    SATURATED = "saturated"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class PoolUsage:
    """How many pooled connections are in use, out of how many the pool may open."""

    checked_out: int
    limit: int

    @property
    def saturated(self) -> bool:
        """Every connection the pool may open is checked out: new requests queue."""
        return self.checked_out >= self.limit


@dataclass(frozen=True)
class DatabaseHealth:
    """The outcome of `Database.health()`; `reason` names the failure's class, never a secret."""

    status: HealthStatus
    dialect: str
    latency_ms: float | None = None
    pool: PoolUsage | None = None
    reason: str | None = None

    @property
    def reachable(self) -> bool:
        """The database answered in time (the pool may still be saturated)."""
        return self.status is not HealthStatus.UNAVAILABLE


def pool_usage(pool: Pool) -> PoolUsage | None:
    """The occupancy of a queue pool; None for pools without a limit."""
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", None)
    checked_out = getattr(pool, "checkedout", None)
    if not (callable(size) and callable(checked_out) and isinstance(overflow, int)):
        return None
    if overflow < 0:
        return None  # unbounded overflow: never saturated
    return PoolUsage(checked_out=int(checked_out()), limit=int(size()) + overflow)


class SharedPing:
    """Runs `ping` at most once at a time; each caller waits for it up to its own deadline."""

    def __init__(self, ping: Callable[[], Awaitable[None]]) -> None:
        self._ping = ping
        self._running: asyncio.Task[float] | None = None

    async def latency_ms(self, timeout: float) -> float:  # noqa: ASYNC109 - a deadline, not I/O
        """Milliseconds the (shared) ping took; TimeoutError past `timeout`, or its failure."""
        task = self._running
        if task is None or task.done():
            task = self._running = asyncio.ensure_future(self._timed())
            # A failure nobody waited for any more is still retrieved: no "never retrieved" log.
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
        # shield: a caller that gives up leaves the ping to finish (and clean up) on its own.
        return await asyncio.wait_for(asyncio.shield(task), timeout)

    async def _timed(self) -> float:
        began = time.perf_counter()
        await self._ping()
        return (time.perf_counter() - began) * 1000

    async def close(self) -> None:
        """Cancel a ping still in flight and wait for it to end."""
        task, self._running = self._running, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
