"""Helpers the reference app's tests share: accounts with their bearer token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI

from core.database import Database


@dataclass(frozen=True)
class Account:
    """A user created through the API, with the secret of its first token."""

    id: int
    email: str
    token_id: int
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header that acts as this user."""
        return bearer(self.secret)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def sign_up(
    client: httpx.AsyncClient, email: str = "ann@example.org", name: str = "Ann"
) -> Account:
    """`POST /users`: the one open write, which returns the first token."""
    response = await client.post("/users", json={"email": email, "name": name})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        id=body["id"],
        email=body["email"],
        token_id=body["token"]["id"],
        secret=body["token"]["secret"],
    )


@dataclass(frozen=True)
class Committed:
    """The real database, and a mail domain of this test's own users."""

    database: Database
    tag: str

    @property
    def domain(self) -> str:
        return f"{self.tag}.committed.example"

    def email(self, name: str) -> str:
        return f"{name}@{self.domain}"


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Leave the test process's signal handlers alone.
        yield


@asynccontextmanager
async def serve(api_app: FastAPI) -> AsyncIterator[str]:
    """Serve the app on a free local port in this event loop; yield its base URL."""
    # lifespan off: its shutdown would dispose the test database's engine.
    config = uvicorn.Config(
        api_app, host="127.0.0.1", port=0, lifespan="off", log_config=None, log_level="warning"
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
