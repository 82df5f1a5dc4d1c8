"""`Depends(get_session)` over HTTP: a 2xx means committed; any failure means nothing written.

Test-only routes do the writing, so each guarantee is forced deterministically.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import BroadcasterDep
from app.models import Event, User
from app.repositories import EventRepository, UserRepository
from app.routes.events import announce_on_commit
from app.stream import events_channel
from core.database import SessionDep
from core.database.broadcast import InMemoryBroadcaster
from tests.support import bearer

router = APIRouter(prefix="/test")


@router.post("/users/then-raise")
async def write_then_raise(session: SessionDep) -> None:
    await UserRepository(session).create(email="raised@example.org")  # flushed
    raise RuntimeError("boom after the write")


@router.post("/users/then-http-error")
async def write_then_http_error(session: SessionDep) -> None:
    await UserRepository(session).create(email="refused@example.org")
    raise HTTPException(status_code=400, detail="refused after the write")


@router.post("/users/failing-commit", status_code=201)
async def write_then_fail_at_commit(session: SessionDep) -> dict[str, str]:
    # Nothing is flushed here: the duplicate only fails at the commit's autoflush,
    # after this handler has returned its "success".
    session.add(User(email="fresh@example.org"))
    session.add(User(email="ann@example.org"))
    return {"status": "looks fine"}


@router.post("/users/{user_id}/events/failing-commit", status_code=201)
async def event_then_fail_at_commit(
    user_id: int, session: SessionDep, broadcaster: BroadcasterDep
) -> dict[str, str]:
    # An event announced on commit as the real route does, then a write that breaks the commit.
    event = await EventRepository(session).create(user_id, kind="lost")
    announce_on_commit(session, broadcaster, event)
    session.add(User(email="ann@example.org"))
    return {"status": "looks fine"}


@pytest.fixture
def api_app(api_app: FastAPI) -> FastAPI:
    api_app.include_router(router)
    return api_app


async def emails(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(User.email))).all())


async def test_a_2xx_means_committed(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    response = await client.post("/users", json={"email": "new@example.org"})
    assert response.status_code == 201
    assert "new@example.org" in await emails(db_session)


async def test_an_exception_in_the_handler_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    response = await client.post("/test/users/then-raise")
    assert response.status_code == 500
    assert "raised@example.org" not in await emails(db_session)


async def test_an_http_error_in_the_handler_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    response = await client.post("/test/users/then-http-error")
    assert response.status_code == 400
    assert "refused@example.org" not in await emails(db_session)


async def test_a_failing_commit_is_an_error_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, user: User
) -> None:
    response = await client.post("/test/users/failing-commit")
    assert response.status_code == 409  # the mapped UniqueViolation, never the 201
    assert await emails(db_session) == {"ann@example.org"}


async def test_a_failing_commit_announces_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    broadcaster: InMemoryBroadcaster,
    user: User,
    user_secret: str,
) -> None:
    user_id = user.id
    async with broadcaster.subscribe(events_channel(user_id)) as messages:
        failed = await client.post(f"/test/users/{user_id}/events/failing-commit")
        assert failed.status_code == 409
        committed = await client.post(
            f"/users/{user_id}/events", json={"kind": "kept"}, headers=bearer(user_secret)
        )
        assert committed.status_code == 201
        async with asyncio.timeout(5):
            first = await anext(aiter(messages))
    # The message is the position alone; the rolled-back event took none, so it is 1.
    assert first == str(committed.json()["position"]) == "1"
    kinds = (await db_session.scalars(select(Event.kind))).all()
    assert kinds == ["kept"]
