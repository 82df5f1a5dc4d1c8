"""get_session over HTTP (core.database.fastapi): a 2xx means the data is committed.

The commit runs before the response is sent, so a commit that fails reaches the client
as an error; the handler returning normally is not enough for a 2xx.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import (
    Database,
    SessionDep,
    fetch_value,
    get_session,
    install_error_handlers,
    on_commit,
    set_database,
)
from tests.models import Item, Parent

COMMITTED: list[str] = []


class HandlerError(Exception):
    """Raised by a route after it wrote something."""


def _make_app(*, error_handlers: bool) -> FastAPI:
    app = FastAPI()
    if error_handlers:
        install_error_handlers(app)

    @app.post("/parents/{name}", status_code=201)
    async def create(
        name: str, session: Annotated[AsyncSession, Depends(get_session)]
    ) -> dict[str, int]:
        parent = Parent(name=name)
        session.add(parent)
        await session.flush()
        on_commit(session, lambda: COMMITTED.append(name))
        return {"id": parent.id}

    @app.post("/fail/{name}", status_code=201)
    async def fail(name: str, session: SessionDep) -> None:
        session.add(Parent(name=name))
        await session.flush()
        raise HandlerError(name)

    @app.post("/late-failure", status_code=201)
    async def late_failure(session: SessionDep) -> dict[str, str]:
        # Not flushed: the handler returns fine and the CHECK fails in the commit's flush.
        session.add(Parent(name="late"))
        session.add(Item(quantity=-1))
        return {"status": "looks fine"}

    return app


@pytest.fixture
async def client(db_session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the plain app; raise_app_exceptions=False turns errors into 500s."""
    COMMITTED.clear()
    transport = httpx.ASGITransport(app=_make_app(error_handlers=False), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _parent_names(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Parent.name))).all())


@pytest.mark.parity("get_session: 2xx means committed")
async def test_success_commits_before_the_response(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    response = await client.post("/parents/alice")
    assert response.status_code == 201
    assert COMMITTED == ["alice"]
    assert await _parent_names(db_session) == {"alice"}


@pytest.mark.parity("get_session: handler error writes nothing")
async def test_handler_exception_rolls_back(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    response = await client.post("/fail/bob")
    assert response.status_code == 500
    assert COMMITTED == []
    assert await _parent_names(db_session) == set()


@pytest.mark.parity("get_session: failing commit is an error response")
async def test_failing_commit_is_a_server_error_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    response = await client.post("/late-failure")
    # Had the commit run after the response, the client would have seen this 201.
    assert response.status_code == 500
    assert "looks fine" not in response.text
    assert await _parent_names(db_session) == set()
    assert await db_session.scalar(select(Item.id)) is None


@pytest.mark.parity("get_session: failing commit is 409 with error handlers")
async def test_failing_commit_with_error_handlers_is_a_conflict(db_session: AsyncSession) -> None:
    transport = httpx.ASGITransport(app=_make_app(error_handlers=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        conflict = await http.post("/late-failure")
        created = await http.post("/parents/carol")
        duplicate = await http.post("/parents/carol")
    assert conflict.status_code == 409
    assert conflict.json()["detail"].startswith("check violation")
    assert (created.status_code, duplicate.status_code) == (201, 409)
    assert await _parent_names(db_session) == {"carol"}


@pytest.mark.parity("get_session: a COMMIT refused by the database is an error response")
async def test_commit_refused_by_the_database_is_an_error_response(scratch: URL) -> None:
    # A real database, not the test's savepoint: the deferred foreign key is checked only
    # by the real COMMIT, which must still happen before the response is sent.
    # One connection: the check afterwards reuses the one whose COMMIT failed.
    db = Database(scratch, pool_size=1, max_overflow=0)
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE owners (id INTEGER PRIMARY KEY)"))
        await session.execute(
            text(
                "CREATE TABLE pets (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL"
                " REFERENCES owners (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    app = FastAPI()

    @app.post("/pets", status_code=201)
    async def create_pet(session: SessionDep) -> dict[str, str]:
        await session.execute(text("INSERT INTO pets (id, owner_id) VALUES (1, 999)"))
        return {"status": "accepted by the handler"}

    previous = set_database(db)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post("/pets")
        assert response.status_code == 500
        assert await fetch_value("SELECT count(*) FROM pets") == 0
    finally:
        set_database(previous)
        await db.dispose()
