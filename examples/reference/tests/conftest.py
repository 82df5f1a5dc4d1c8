"""Fixtures for the reference app: the app with its own broadcaster, and an HTTP client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.api import create_app
from app.models import User
from app.repositories import TokenRepository, UserRepository
from core.database import Database, execute
from core.database.broadcast import InMemoryBroadcaster
from tests.support import Committed


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


@pytest_asyncio.fixture
async def user_secret(db_session: AsyncSession, user: User) -> str:
    """The secret of a committed token of `user`."""
    _token, secret = await TokenRepository(db_session).issue(user.id)
    await db_session.commit()
    return secret


@pytest.fixture
def dialect(database_url: str) -> str:
    """`sqlite` or `postgresql`: the backend this run is proving."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest_asyncio.fixture
async def committed(database: Database) -> AsyncIterator[Committed]:
    """The test database with real commits (no per-test rollback), for concurrent writers.

    Users made through `committed.email()` are deleted afterwards, with their tokens
    and events.
    """
    marker = Committed(database, uuid.uuid4().hex[:12])
    try:
        yield marker
    finally:
        async with database.transaction() as session:
            await execute(
                "DELETE FROM users WHERE email LIKE :pattern",
                {"pattern": f"%@{marker.domain}"},
                session=session,
            )
