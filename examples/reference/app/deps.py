"""The app's FastAPI dependencies besides the session: path ids, broadcaster, settings."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Path, Query
from starlette.requests import HTTPConnection

from app.repositories import MAX_PAGE_SIZE
from app.settings import AppSettings
from core.database.broadcast import Broadcaster
from core.database.broadcast import get_broadcaster as default_broadcaster

__all__ = [
    "AfterId",
    "BroadcasterDep",
    "Limit",
    "RowId",
    "SettingsDep",
    "get_app_settings",
    "get_broadcaster",
]

# Ids are BIGINT: a larger number is a 422 here, not an overflow inside the driver.
MAX_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
AfterId = Annotated[int | None, Query(ge=0, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


def get_broadcaster(connection: HTTPConnection) -> Broadcaster:
    """The app's broadcaster (see `create_app`), for HTTP routes and WebSockets alike."""
    state = connection.app.state
    if state.broadcaster is None:
        state.broadcaster = default_broadcaster()  # the one settings choose, on first use
    return cast(Broadcaster, state.broadcaster)


BroadcasterDep = Annotated[Broadcaster, Depends(get_broadcaster)]


def get_app_settings(connection: HTTPConnection) -> AppSettings:
    """The app's settings (see `create_app`), for HTTP routes and WebSockets alike."""
    return cast(AppSettings, connection.app.state.settings)


SettingsDep = Annotated[AppSettings, Depends(get_app_settings)]
