"""FastAPI integration: `Depends(get_session)` that commits before the response is sent."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from core.database.database import get_database
from core.database.errors import (
    DatabaseUnavailableError,
    ForeignKeyViolation,
    IntegrityViolation,
    LockNotAvailable,
    NotFoundError,
    PoolTimeoutError,
    ReadOnlyTransactionError,
    StatementTimeoutError,
    TooManyConnectionsError,
)

__all__ = [
    "RETRY_AFTER",
    "ReadSessionDep",
    "SessionDep",
    "get_read_session",
    "get_session",
    "install_error_handlers",
]

logger = logging.getLogger("core.database")
# Seconds a client is told to wait before retrying: a pool slot or SQLite's write lock
# frees up within moments; a server out of connections or down takes longer.
RETRY_AFTER: dict[type[DatabaseUnavailableError], int] = {
    PoolTimeoutError: 1,
    TooManyConnectionsError: 5,
    DatabaseUnavailableError: 5,
}
LOCK_RETRY_AFTER = 1
# (detail, machine-readable code) by class; the message itself may name the server.
_UNAVAILABLE_BODY: dict[type[DatabaseUnavailableError], tuple[str, str]] = {
    PoolTimeoutError: ("database busy: no connection free in time", "pool_timeout"),
    TooManyConnectionsError: ("database busy: no connection slot left", "too_many_connections"),
    DatabaseUnavailableError: ("database unavailable", "database_unavailable"),
}


async def _request_session() -> AsyncIterator[AsyncSession]:
    async with get_database().transaction() as session:
        yield session


async def get_session(
    # scope="function" ends the unit of work when the endpoint returns, before the
    # response is sent: a commit that fails becomes a 5xx instead of a lost write
    # behind a 200 (FastAPI's default "request" scope tears down after the response).
    session: Annotated[AsyncSession, Depends(_request_session, scope="function")],
) -> AsyncSession:
    """One AsyncSession per request: committed before the response, rolled back on any error."""
    return session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def _request_read_session() -> AsyncIterator[AsyncSession]:
    async with get_database().read_transaction() as session:
        yield session


async def get_read_session(
    session: Annotated[AsyncSession, Depends(_request_read_session, scope="function")],
) -> AsyncSession:
    """A read-only AsyncSession for a read-only route: a replica if one is fit, else the
    primary; on a SQLite file it reads beside the writers instead of queueing for them."""
    return session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


def install_error_handlers(app: FastAPI) -> None:
    """Map toolkit errors to JSON responses, never a traceback.

    404 not found; 409 conflict (422 for a foreign key); 503 with `Retry-After` when the
    database is unavailable or busy (pool timeout, too many clients, SQLite locked);
    504 for a statement cancelled by `statement_timeout`.
    """

    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc) or "not found"}, status_code=404)

    async def conflict(_request: Request, exc: Exception) -> JSONResponse:
        status = 422 if isinstance(exc, ForeignKeyViolation) else 409
        return JSONResponse({"detail": str(exc)}, status_code=status)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The client learns only what kind of outage it is; the log says why.
        if isinstance(exc, DatabaseUnavailableError):
            logger.error(
                "%s %s: database unavailable: %s (%s)",
                request.method,
                request.url.path,
                exc.reason,
                exc.url,
            )
        kind = next(cls for cls in _UNAVAILABLE_BODY if isinstance(exc, cls))
        detail, code = _UNAVAILABLE_BODY[kind]
        headers = {"Retry-After": str(RETRY_AFTER[kind])}
        return JSONResponse({"detail": detail, "code": code}, status_code=503, headers=headers)

    async def lock_not_available(_request: Request, _exc: Exception) -> JSONResponse:
        # Another writer holds the lock (SQLite busy past its timeout, NOWAIT, lock_timeout).
        body = {"detail": "database busy: another writer holds the lock", "code": "database_busy"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(LOCK_RETRY_AFTER)})

    async def statement_timeout(_request: Request, _exc: Exception) -> JSONResponse:
        body = {"detail": "database statement timed out", "code": "statement_timeout"}
        return JSONResponse(body, status_code=504)

    async def read_only(_request: Request, exc: Exception) -> JSONResponse:
        # A route declared read-only wrote: a bug in the route, not the client's fault.
        return JSONResponse({"detail": str(exc)}, status_code=500)

    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(ReadOnlyTransactionError, read_only)
    app.add_exception_handler(IntegrityViolation, conflict)
    app.add_exception_handler(DatabaseUnavailableError, unavailable)
    app.add_exception_handler(StatementTimeoutError, statement_timeout)
    app.add_exception_handler(LockNotAvailable, lock_not_available)
