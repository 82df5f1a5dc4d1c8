"""FastAPI integration: `Depends(get_session)` that commits before the response is sent."""

from __future__ import annotations

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
)

__all__ = ["SessionDep", "get_session", "install_error_handlers"]


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


def install_error_handlers(app: FastAPI) -> None:
    """Map toolkit errors to responses: 404, 409 (422 for a foreign key), 503 unavailable."""

    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc) or "not found"}, status_code=404)

    async def conflict(_request: Request, exc: Exception) -> JSONResponse:
        status = 422 if isinstance(exc, ForeignKeyViolation) else 409
        return JSONResponse({"detail": str(exc)}, status_code=status)

    async def unavailable(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(IntegrityViolation, conflict)
    app.add_exception_handler(DatabaseUnavailableError, unavailable)
