"""`def` routes with Depends(get_sync_session): a 2xx means the data is committed.

As get_session: the commit runs before the response is sent, so a commit that fails
reaches the client as an error, never as a 2xx.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from core.database import PoolTimeoutError, install_error_handlers, on_commit
from core.database.sync import (
    SyncDatabase,
    SyncSessionDep,
    fetch_all,
    fetch_value,
    get_sync_session,
    set_sync_database,
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
    def create(name: str, session: Annotated[Session, Depends(get_sync_session)]) -> dict[str, int]:
        parent = Parent(name=name)
        session.add(parent)
        session.flush()
        on_commit(session, lambda: COMMITTED.append(name))
        return {"id": parent.id}

    @app.get("/parents")
    def names() -> list[dict[str, object]]:
        return fetch_all("SELECT name FROM parity_parents ORDER BY name")

    @app.post("/fail/{name}", status_code=201)
    def fail(name: str, session: SyncSessionDep) -> None:
        session.add(Parent(name=name))
        session.flush()
        raise HandlerError(name)

    @app.post("/late-failure", status_code=201)
    def late_failure(session: SyncSessionDep) -> dict[str, str]:
        # Not flushed: the handler returns fine and the CHECK fails in the commit's flush.
        session.add(Parent(name="late"))
        session.add(Item(quantity=-1))
        return {"status": "looks fine"}

    return app


@pytest.fixture
async def client(sync_db_session: Session) -> AsyncIterator[httpx.AsyncClient]:
    COMMITTED.clear()
    transport = httpx.ASGITransport(app=_make_app(error_handlers=False), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _parent_names(session: Session) -> set[str]:
    return set(session.scalars(select(Parent.name)).all())


async def test_success_commits_before_the_response(
    client: httpx.AsyncClient, sync_db_session: Session
) -> None:
    response = await client.post("/parents/alice")
    assert response.status_code == 201
    assert COMMITTED == ["alice"]
    assert _parent_names(sync_db_session) == {"alice"}
    listed = await client.get("/parents")
    assert listed.json() == [{"name": "alice"}]


async def test_handler_exception_rolls_back(
    client: httpx.AsyncClient, sync_db_session: Session
) -> None:
    response = await client.post("/fail/bob")
    assert response.status_code == 500
    assert COMMITTED == []
    assert _parent_names(sync_db_session) == set()


async def test_failing_commit_is_a_server_error_and_writes_nothing(
    client: httpx.AsyncClient, sync_db_session: Session
) -> None:
    response = await client.post("/late-failure")
    assert response.status_code == 500
    assert "looks fine" not in response.text
    assert _parent_names(sync_db_session) == set()
    assert sync_db_session.scalar(select(Item.id)) is None


async def test_failing_commit_with_error_handlers_is_a_conflict(sync_db_session: Session) -> None:
    transport = httpx.ASGITransport(app=_make_app(error_handlers=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        conflict = await http.post("/late-failure")
        created = await http.post("/parents/carol")
        duplicate = await http.post("/parents/carol")
    assert conflict.status_code == 409
    assert conflict.json()["detail"].startswith("check violation")
    assert (created.status_code, duplicate.status_code) == (201, 409)
    assert _parent_names(sync_db_session) == {"carol"}


async def test_commit_refused_by_the_database_is_an_error_response(scratch: URL) -> None:
    # A real COMMIT (no test savepoint): the deferred foreign key is checked only then.
    db = SyncDatabase(scratch, pool_size=1, max_overflow=0)
    with db.transaction() as session:
        session.execute(text("CREATE TABLE owners (id INTEGER PRIMARY KEY)"))
        session.execute(
            text(
                "CREATE TABLE pets (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL"
                " REFERENCES owners (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    app = FastAPI()

    @app.post("/pets", status_code=201)
    def create_pet(session: SyncSessionDep) -> dict[str, str]:
        session.execute(text("INSERT INTO pets (id, owner_id) VALUES (1, 999)"))
        return {"status": "accepted by the handler"}

    previous = set_sync_database(db)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post("/pets")
        assert response.status_code == 500
        assert fetch_value("SELECT count(*) FROM pets") == 0
    finally:
        set_sync_database(previous)
        db.dispose()


async def test_a_pool_held_past_its_timeout_is_a_503_to_retry(scratch: URL) -> None:
    db = SyncDatabase(scratch, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/count")
    def count(session: SyncSessionDep) -> int:
        return int(session.scalar(text("SELECT 1")) or 0)

    previous = set_sync_database(db)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            with db.engine.connect():  # the pool's one connection, held
                busy = await http.get("/count")
                with pytest.raises(PoolTimeoutError, match=r"within 0.2s \(all 1 in use\)"):
                    fetch_value("SELECT 1")
            after = await http.get("/count")
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["code"] == "pool_timeout"
        assert after.status_code == 200
    finally:
        set_sync_database(previous)
        db.dispose()


async def test_concurrent_def_routes_in_one_test_take_turns(
    client: httpx.AsyncClient, sync_db_session: Session
) -> None:
    created = await asyncio.gather(*(client.post(f"/parents/p{i}") for i in range(8)))
    assert [response.status_code for response in created] == [201] * 8
    listed = await asyncio.gather(*(client.get("/parents") for _ in range(4)))
    assert [len(response.json()) for response in listed] == [8] * 4
    assert len(_parent_names(sync_db_session)) == 8
