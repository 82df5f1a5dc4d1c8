"""Fail at startup, in one line, when the database cannot work: not at the first request.

``check_database()`` validates the settings and the URL and runs ``SELECT 1``;
call it from any lifespan, worker or script. ``DatabaseStartupCheck`` is ASGI
middleware that runs it when the server starts the app: on failure the server
logs one line and exits non-zero (a lifespan that raises would print the whole
traceback instead, and uvicorn then exits with "Application startup failed").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from core.database.database import Database, current_database, get_database
from core.database.errors import DatabaseError

__all__ = ["DatabaseStartupCheck", "check_database"]

logger = logging.getLogger("core.database")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_TIMEOUT = 5.0


async def check_database(
    database: Database | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - a deadline for the whole check
) -> Database:
    """Build the database from the settings (default) and connect; return it.

    Raises ConfigurationError (unset or malformed DATABASE_URL, bad settings) or
    DatabaseUnavailableError whose ``reason`` says why: authentication failed,
    database does not exist, connection refused, timed out. No password in either.
    """
    database = database or get_database()
    await database.ping(timeout=timeout)
    return database


class DatabaseStartupCheck:
    """ASGI middleware: check the database when the app starts; dispose it when it stops.

    ``app.add_middleware(DatabaseStartupCheck)`` (FastAPI, Starlette), or wrap any
    ASGI app. The app's own lifespan runs after a successful check.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        database: Database | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.app = app
        self.database = database
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        first = await receive()
        if first["type"] == "lifespan.startup":
            try:
                await check_database(self.database, timeout=self.timeout)
            except DatabaseError as exc:
                # The server logs the message and exits; a message, not a traceback.
                await send({"type": "lifespan.startup.failed", "message": _one_line(exc)})
                return
        replayed = False

        async def receive_again() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

        async def send_disposing(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self._dispose()
            await send(message)

        await self.app(scope, receive_again, send_disposing)

    async def _dispose(self) -> None:
        database = self.database or current_database()
        if database is not None:
            await database.dispose()


def _one_line(error: DatabaseError) -> str:
    return "database check failed: " + " ".join(str(error).split())
