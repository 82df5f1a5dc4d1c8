"""The HTTP case's servers: one route through the toolkit, by hand, and with no database.

`uvicorn bench.http_apps:bare_app` reads BENCH_DATABASE_URL; `toolkit_app` (the
reference app's `GET /users/{id}` without its bearer-token check, so both sides do
the same work) reads DATABASE_URL like any host app.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, HTTPException

from app.deps import RowId
from app.models import User
from app.schemas import UserRead
from core.database import SessionDep, get_database, install_error_handlers

# bare_app, nodb_app and toolkit_app are built on first access (see __getattr__).
__all__: list[str] = []


def _bare() -> FastAPI:
    # Imported here: the other apps must not build an engine they do not use.
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    url = os.environ["BENCH_DATABASE_URL"]
    options = {"pool_size": 5, "max_overflow": 10, "pool_pre_ping": True}
    engine = create_async_engine(url, **(options if url.startswith("postgresql") else {}))
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/users/{user_id}")
    async def read_user(user_id: RowId) -> UserRead:
        async with sessions() as session, session.begin():
            user = await session.get(User, user_id)
            if user is None:
                raise HTTPException(404, f"user {user_id} not found")
            return UserRead.model_validate(user)

    return app


def _nodb() -> FastAPI:
    app = FastAPI()
    stamp = datetime(2024, 1, 1, tzinfo=UTC)

    @app.get("/users/{user_id}")
    async def read_user(user_id: RowId) -> UserRead:
        return UserRead(
            id=user_id,
            email=f"user{user_id}@example.com",
            name=f"User {user_id}",
            created_at=stamp,
            updated_at=stamp,
        )

    return app


def _toolkit() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await get_database().dispose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/users/{user_id}")
    async def read_user(user_id: RowId, session: SessionDep) -> UserRead:
        user = await session.get(User, user_id)
        if user is None:
            raise HTTPException(404, f"user {user_id} not found")
        return UserRead.model_validate(user)

    return app


def __getattr__(name: str) -> FastAPI:
    # Built on demand, so each server process builds only the app it serves.
    builders = {"bare_app": _bare, "nodb_app": _nodb, "toolkit_app": _toolkit}
    if name in builders:
        return builders[name]()
    raise AttributeError(name)
