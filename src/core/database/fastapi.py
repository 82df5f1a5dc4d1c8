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
    NotFoundError,
    ReadOnlyTransactionError,
)

__all__ = [
    "ReadSessionDep",
    "SessionDep",
    "get_read_session",
    "get_session",
    "install_error_handlers",
]

logger = logging.getLogger("core.database")


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
    """Map toolkit errors to responses: 404, 409 (422 for a foreign key), 503 unavailable."""

    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc) or "not found"}, status_code=404)

    async def conflict(_request: Request, exc: Exception) -> JSONResponse:
        status = 422 if isinstance(exc, ForeignKeyViolation) else 409
        return JSONResponse({"detail": str(exc)}, status_code=status)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The client learns only that the database is down; the log says why.
        if isinstance(exc, DatabaseUnavailableError):
            logger.error(
                "%s %s: database unavailable: %s (%s)",
                request.method,
                request.url.path,
                exc.reason,
                exc.url,
            )
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    async def read_only(_request: Request, exc: Exception) -> JSONResponse:
        # A route declared read-only wrote: a bug in the route, not the client's fault.
        return JSONResponse({"detail": str(exc)}, status_code=500)

    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(ReadOnlyTransactionError, read_only)
    app.add_exception_handler(IntegrityViolation, conflict)
    app.add_exception_handler(DatabaseUnavailableError, unavailable)
