"""An HTTP client for a FastAPI app under test, served in-process (needs httpx)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

__all__ = ["make_client"]


@asynccontextmanager
async def make_client(
    app: Any, *, base_url: str = "http://test", **client_options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """``async with make_client(app) as client:`` an httpx.AsyncClient calling ``app`` in-process.

    Inside a test that uses ``db_connection`` (or ``db_session``/``db_client``), the app's
    ``Depends(get_session)`` joins the test's transaction. The app's lifespan is not run.
    """
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=base_url, **client_options
    ) as client:
        yield client
