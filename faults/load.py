"""A bounded concurrent client: writes numbered events, records what was acknowledged."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

__all__ = ["Ledger", "authorize", "write_load"]

_numbers = itertools.count(1)


@dataclass
class Ledger:
    """What the client saw: statuses, acknowledged numbers, and when requests failed."""

    statuses: Counter[str] = field(default_factory=Counter)
    acknowledged: set[int] = field(default_factory=set)
    failures: list[float] = field(default_factory=list)  # end times of failed requests
    successes: list[tuple[float, float]] = field(default_factory=list)  # (start, end)

    def recovery_after(self, fault_at: float) -> float | None:
        """Seconds from the fault to the first success that began after the last failure."""
        failed = [t for t in self.failures if t >= fault_at]
        if not failed:
            return 0.0
        last = max(failed)
        later = [start for start, _end in self.successes if start >= last]
        return (min(later) - fault_at) if later else None


async def authorize(client: httpx.AsyncClient, email: str) -> tuple[int, dict[str, str]]:
    """Create a user and mint a bearer token for it; returns (user id, headers)."""
    created = await client.post("/users", json={"email": email})
    created.raise_for_status()
    body = created.json()
    user_id = int(body["id"])
    token = body.get("token")  # the app answers a new user with its first token
    secret = token.get("secret") if isinstance(token, dict) else None
    if secret is None:
        issued = await client.post(
            f"/users/{user_id}/tokens", json={}, headers=_bearer(body.get("secret"))
        )
        issued.raise_for_status()
        secret = issued.json()["secret"]
    return user_id, _bearer(secret)


def _bearer(secret: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"} if secret else {}


async def write_load(
    base_urls: list[str],
    users: list[tuple[int, dict[str, str]]],
    kind: str,
    ledger: Ledger,
    stop: asyncio.Event,
    *,
    concurrency: int = 16,
    timeout: float = 10.0,  # noqa: ASYNC109 - each request's, passed to httpx
) -> None:
    """`concurrency` workers POST events until `stop` is set; every outcome goes in `ledger`."""

    async def worker(index: int) -> None:
        base_url = base_urls[index % len(base_urls)]
        user_id, headers = users[index % len(users)]
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers) as http:
            while not stop.is_set():
                number = next(_numbers)
                started = time.monotonic()
                try:
                    response = await http.post(
                        f"/users/{user_id}/events", json={"kind": kind, "payload": {"n": number}}
                    )
                except httpx.HTTPError as exc:
                    ledger.statuses[f"no response ({type(exc).__name__})"] += 1
                    ledger.failures.append(time.monotonic())
                    await asyncio.sleep(0.05)
                    continue
                ledger.statuses[str(response.status_code)] += 1
                if response.status_code == 201:
                    ledger.acknowledged.add(number)
                    ledger.successes.append((started, time.monotonic()))
                else:
                    ledger.failures.append(time.monotonic())
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
