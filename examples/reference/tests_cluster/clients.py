"""Stream clients for the scale-out tests: SSE and WebSocket, each recording what arrived."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import connect

__all__ = ["StreamClient"]


@dataclass
class StreamClient:
    """One live client of a user's stream: SSE or WebSocket, on a list of workers in turn."""

    name: str
    kind: str  # "sse" | "ws"
    workers: list[str]
    user_id: int
    token: str | None = None
    positions: list[int] = field(default_factory=list)
    arrived: dict[int, float] = field(default_factory=dict)  # position -> monotonic time
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 0

    @property
    def last(self) -> int | None:
        """The last position received (what a reconnect resumes from)."""
        return self.positions[-1] if self.positions else None

    def _record(self, position: int) -> None:
        self.positions.append(position)
        self.arrived.setdefault(position, time.monotonic())

    async def follow(self, http: httpx.AsyncClient, switch_at: int) -> None:
        """Follow on the first worker; after `switch_at` events, resume on the next one.

        Runs until cancelled.
        """
        for index, worker in enumerate(self.workers):
            stop_after = None if index == len(self.workers) - 1 else switch_at * (index + 1)
            self.connections += 1
            if self.kind == "sse":
                await self._follow_sse(http, worker, stop_after)
            else:
                await self._follow_ws(worker, stop_after)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def _follow_sse(
        self, http: httpx.AsyncClient, worker: str, stop_after: int | None
    ) -> None:
        headers = self._headers()
        if self.last is not None:
            headers["Last-Event-ID"] = str(self.last)
        url = f"{worker}/users/{self.user_id}/events/stream"
        async with http.stream("GET", url, headers=headers, timeout=None) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("retry:"):
                    self.subscribed.set()
                elif line.startswith("id: "):
                    self._record(int(line[4:]))
                    if stop_after is not None and len(self.positions) >= stop_after:
                        return

    async def _follow_ws(self, worker: str, stop_after: int | None) -> None:
        url = worker.replace("http://", "ws://") + f"/users/{self.user_id}/events/ws"
        if self.last is not None:
            url += f"?after={self.last}"
        async with connect(url, additional_headers=self._headers(), max_size=2**20) as socket:
            async for text in socket:
                message = json.loads(text)
                if message["type"] == "subscribed":
                    self.subscribed.set()
                elif message["type"] == "event":
                    self._record(int(message["id"]))
                    if stop_after is not None and len(self.positions) >= stop_after:
                        return
