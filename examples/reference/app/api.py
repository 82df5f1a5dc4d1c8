"""The reference FastAPI app: users, tokens and events on `core.database`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.limits import BodySizeLimit
from app.routes import events, live, tokens, users
from app.schemas import Health, Stats
from app.settings import AppSettings
from app.stats import read_stats
from core.database import (
    DatabaseStartupCheck,
    SessionDep,
    get_database,
    install_error_handlers,
)
from core.database.broadcast import Broadcaster

__all__ = ["HEALTH_TIMEOUT", "create_app"]

logger = logging.getLogger("app")

HEALTH_TIMEOUT = 2.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Close the broadcaster at shutdown (a listening connection would outlive the app);
    DatabaseStartupCheck checks the database first and disposes it last."""
    yield
    if app.state.broadcaster is not None:
        await app.state.broadcaster.close()


async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming each problem, without echoing the input.

    FastAPI's default handler echoes it, which fails (a 500) on a NaN the JSON
    parser accepted, and would repeat secrets a client sent.
    """
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {key: error[key] for key in ("type", "loc", "msg") if key in error} for error in errors
    ]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


async def health(response: Response) -> Health:
    """200 while the database answers (`ok`, or `saturated` when every pooled connection is
    in use: requests queue, nothing is down); 503 `unavailable`, within HEALTH_TIMEOUT."""
    result = await get_database().health(timeout=HEALTH_TIMEOUT)
    if not result.reachable:
        logger.warning("health check failed: %s", result.reason)
        response.status_code = 503
    pool = result.pool
    return Health(
        status=result.status,
        database=result.dialect,
        pool_in_use=pool.checked_out if pool else None,
        pool_limit=pool.limit if pool else None,
    )


async def stats(session: SessionDep) -> Stats:
    """Row counts across the app."""
    return await read_stats(session)


def create_app(
    broadcaster: Broadcaster | None = None, settings: AppSettings | None = None
) -> FastAPI:
    """A new app; the broadcaster defaults to the one settings choose (DATABASE_BROADCAST).

    `settings` defaults to `AppSettings()`, read from the `APP_*` environment variables.
    """
    settings = settings or AppSettings()
    app = FastAPI(title="core.database reference app", lifespan=lifespan)
    # Startup fails in one line on a bad DATABASE_URL, a wrong password or a down server.
    app.add_middleware(DatabaseStartupCheck)
    # Built on first use, not here: importing the app must not read DATABASE_URL, so a bad
    # one fails in DatabaseStartupCheck's one line instead of an import traceback.
    app.state.broadcaster = broadcaster
    app.state.settings = settings
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.include_router(users.router)
    app.include_router(tokens.router)
    app.include_router(events.router)
    app.include_router(live.router)
    app.add_api_route(
        "/health", health, methods=["GET"], responses={503: {"model": Health}}, tags=["ops"]
    )
    app.add_api_route("/stats", stats, methods=["GET"], tags=["ops"])
    return app
