"""Read replicas: which engine serves a read-only unit of work.

A replica serves only while it answers and its replay is within the lag bound;
otherwise it is skipped for `retry_s` and the next one (at last the primary)
serves. Lag is measured on the replica itself: zero when everything received is
replayed, else the age of the last replayed transaction — a primary with no writes
does not make an idle replica look late.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from core.database.engine import create_engine
from core.database.errors import DatabaseUnavailableError
from core.database.settings import Settings
from core.database.url import mask_url, parse_database_url

__all__ = ["Replica", "ReplicaSet", "parse_replica_urls"]

logger = logging.getLogger("core.database")

_LAG_SQL = text(
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)
# How long a lag reading stays good: one query per replica per second at most.
_LAG_CHECK_INTERVAL_S = 1.0


def parse_replica_urls(raw: str | Sequence[str | URL]) -> list[URL]:
    """DATABASE_REPLICA_URLS ("url1,url2") or a list, as parsed URLs; empty means none."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return [parse_database_url(item) for item in items if str(item).strip()]


@dataclass
class Replica:
    """One replica: its engine, when it may be tried again, and its last lag reading."""

    url: URL
    engine: AsyncEngine
    skipped_until: float = 0.0
    lag_checked_at: float = -1e9
    lag_s: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)


class ReplicaSet:
    """The replicas of one primary, tried in turn (round robin) for each read."""

    def __init__(self, urls: Sequence[URL], settings: Settings) -> None:
        self._settings = settings
        self._urls = list(urls)
        self._replicas: list[Replica] | None = None
        self._next = itertools.count()

    def __bool__(self) -> bool:
        return bool(self._urls)

    @property
    def replicas(self) -> list[Replica]:
        """The replicas, their engines created on first use."""
        if self._replicas is None:
            self._replicas = [
                Replica(url, create_engine(url, settings=self._settings)) for url in self._urls
            ]
        return self._replicas

    async def candidates(self) -> list[Replica]:
        """Replicas fit to serve now, in round-robin order (may be empty: use the primary)."""
        replicas = self.replicas
        start = next(self._next) % len(replicas)
        ordered = replicas[start:] + replicas[:start]
        fit = []
        for replica in ordered:
            if time.monotonic() < replica.skipped_until:
                continue
            if await self._within_lag(replica):
                fit.append(replica)
        return fit

    def skip(self, replica: Replica, reason: str) -> None:
        """Leave `replica` out for retry_s (it failed to connect or fell behind)."""
        now = time.monotonic()
        if now >= replica.skipped_until:  # once per outage, not once per failed read
            logger.warning("read replica %s skipped: %s", replica.masked_url, reason)
        replica.skipped_until = now + self._settings.database_replica_retry_s

    async def dispose(self) -> None:
        """Close every replica's pooled connections."""
        if self._replicas is not None:
            replicas, self._replicas = self._replicas, None
            await asyncio.gather(*(replica.engine.dispose() for replica in replicas))

    async def _within_lag(self, replica: Replica) -> bool:
        async with replica.lock:
            if time.monotonic() - replica.lag_checked_at >= _LAG_CHECK_INTERVAL_S:
                try:
                    replica.lag_s = await self._read_lag(replica)
                except (DatabaseUnavailableError, OSError, TimeoutError) as exc:
                    self.skip(replica, f"unreachable ({type(exc).__name__})")
                    return False
                replica.lag_checked_at = time.monotonic()
        if replica.lag_s > self._settings.database_replica_max_lag_s:
            self.skip(replica, f"{replica.lag_s:.1f}s behind the primary")
            return False
        return True

    async def _read_lag(self, replica: Replica) -> float:
        async with asyncio.timeout(self._settings.database_connect_timeout):
            async with replica.engine.connect() as connection:
                lag = await connection.scalar(_LAG_SQL)
        return float(lag or 0)
