"""Fixtures for the reference app: the app with its own broadcaster, and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.api import create_app
from app.broadcast import InMemoryBroadcaster
from app.models import User
from app.repositories import UserRepository


@pytest.fixture
def broadcaster() -> InMemoryBroadcaster:
    return InMemoryBroadcaster(queue_size=10)


@pytest.fixture
def api_app(broadcaster: InMemoryBroadcaster) -> FastAPI:
    return create_app(broadcaster)


@pytest_asyncio.fixture
async def client(api_app: FastAPI, db_session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """Calls the app in-process; its sessions join the test's transaction (via db_session)."""
    # A 500 comes back as a response, so a test can assert on it.
    transport = httpx.ASGITransport(app=api_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest_asyncio.fixture
async def user(db_session: AsyncSession) -> User:
    """A committed user."""
    created = await UserRepository(db_session).create(email="ann@example.org", name="Ann")
    await db_session.commit()
    return created


@pytest.fixture
def dialect(database_url: str) -> str:
    """`sqlite` or `postgresql`: the backend this run is proving."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"
