"""The ASGI app to serve: `uvicorn app.main:app` (DATABASE_URL picks the database)."""

from __future__ import annotations

from app.api import create_app

__all__ = ["app"]

app = create_app()
