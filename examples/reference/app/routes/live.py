"""`/live`: one small HTML page that follows a user's events with a plain `EventSource`."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

__all__ = ["router"]

router = APIRouter(tags=["live"])

_PAGE = files("app.pages").joinpath("live.html")


@router.get("/live", response_class=HTMLResponse, include_in_schema=False)
async def live_page() -> HTMLResponse:
    """The page; `?user=<id>` picks whose events it shows."""
    return HTMLResponse(_PAGE.read_text(encoding="utf-8"))
