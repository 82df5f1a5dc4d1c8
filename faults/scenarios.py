"""Each fault, injected while the write load runs, and what it did to the data and the answers."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from core.database import Database
from core.database.settings import Settings
from faults.app import APP_NAME, POOL_LIMIT
from faults.load import Ledger, write_load

__all__ = ["BackendPeak", "Result", "run_scenario", "stored_numbers"]

Inject = Callable[[], Awaitable[str]]
# Seconds the load goes on after a fault, at most, waiting for the app to recover.
RECOVERY_LIMIT = 60.0


@dataclass
class Result:
    """One row of docs/reliability.md."""

    name: str
    backend: str
    acknowledged: int
    missing: int
    duplicates: int
    statuses: Counter[str]
    recovery_s: float | None
    peak_backends: int | None
    note: str = ""
    problems: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Record every figure that must be zero and is not."""
        if self.missing:
            self.problems.append(f"{self.missing} acknowledged writes missing")
        if self.duplicates:
            self.problems.append(f"{self.duplicates} duplicated writes")
        if self.statuses.get("500"):
            self.problems.append(f"{self.statuses['500']} responses with status 500")
        if self.peak_backends is not None and self.peak_backends > POOL_LIMIT:
            self.problems.append(f"{self.peak_backends} backends, over the pool's {POOL_LIMIT}")
        if self.acknowledged == 0:
            self.problems.append("no write was acknowledged: the load did not run")
        if self.recovery_s is None:
            self.problems.append("never recovered")


def admin_database(url: str) -> Database:
    """The suite's own connection to look at the server (not counted as the app's)."""
    settings = Settings(database_url=url, database_application_name="faults-admin")
    return Database(url, settings=settings, pool_size=1, max_overflow=1, pool_timeout=5)


async def stored_numbers(database: Database, kind: str) -> list[int]:
    """Every `n` the events of `kind` carry, as stored (a duplicate appears twice)."""
    async with database.transaction() as session:
        rows = (
            await session.execute(
                text("SELECT payload FROM events WHERE kind = :kind"), {"kind": kind}
            )
        ).scalars()
        payloads = [json.loads(p) if isinstance(p, str) else p for p in rows]
    return [int(payload["n"]) for payload in payloads]


class BackendPeak:
    """Polls pg_stat_activity for the app's backends; keeps the highest count seen."""

    def __init__(self, database: Database) -> None:
        self.database, self.peak = database, 0
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
        while True:
            try:
                async with asyncio.timeout(0.5), self.database.transaction() as session:
                    count = int(await session.scalar(query, {"name": APP_NAME}) or 0)
                self.peak = max(self.peak, count)
            except Exception:  # the server is down or stopped: poll again
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.03)

    def __enter__(self) -> BackendPeak:
        self._task = asyncio.ensure_future(self._poll())
        return self

    def __exit__(self, *_exc: Any) -> None:
        if self._task is not None:
            self._task.cancel()


async def run_scenario(
    name: str,
    backend: str,
    inject: Inject,
    *,
    base_urls: list[str],
    users: list[tuple[int, dict[str, str]]],
    verify: Database,
    peak_from: Database | None,
    concurrency: int = 16,
    before: float = 1.0,
    after: float = 2.5,
) -> Result:
    """Load, inject, keep loading, stop; then compare what was acknowledged with what is stored."""
    kind = f"fault-{name}"
    ledger, stop = Ledger(), asyncio.Event()
    peak = BackendPeak(peak_from) if peak_from is not None else None
    if peak is not None:
        peak.__enter__()
    try:
        load = asyncio.ensure_future(
            write_load(base_urls, users, kind, ledger, stop, concurrency=concurrency)
        )
        await asyncio.sleep(before)
        fault_at = time.monotonic()
        note = await inject()
        await asyncio.sleep(after)
        # Keep the load on until a write that began after the last failure succeeds.
        deadline = time.monotonic() + RECOVERY_LIMIT
        while ledger.recovery_after(fault_at) is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        # Measured now: requests still in flight when the load stops do not count.
        recovery = ledger.recovery_after(fault_at)
        stop.set()
        await load
    finally:
        if peak is not None:
            peak.__exit__()
    stored = await _stored_when_back(verify, kind)
    result = Result(
        name=name,
        backend=backend,
        acknowledged=len(ledger.acknowledged),
        missing=len(ledger.acknowledged - set(stored)),
        duplicates=len(stored) - len(set(stored)),
        statuses=ledger.statuses,
        recovery_s=recovery,
        peak_backends=peak.peak if peak is not None else None,
        note=note,
    )
    result.check()
    return result


async def _stored_when_back(database: Database, kind: str) -> list[int]:
    for _ in range(100):
        try:
            return await stored_numbers(database, kind)
        except Exception:  # the server may still be starting
            await asyncio.sleep(0.2)
    return await stored_numbers(database, kind)


async def timed_get(url: str, timeout: float) -> tuple[int | None, float]:  # noqa: ASYNC109
    """(status or None, seconds) of one GET."""
    began = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            status: int | None = (await client.get(url)).status_code
    except httpx.HTTPError:
        status = None
    return status, time.monotonic() - began
