"""The HTTP case's servers: `GET /users/{id}` on each stack, each its own process.

The toolkit three ways (the ORM in a unit of work, a read-only unit, the raw helpers),
bare SQLAlchemy on its defaults (the baseline), advanced-alchemy and SQLModel as
their docs set them up, the raw driver, and no database at all (the ceiling). Every
server reads BENCH_DATABASE_URL; the toolkit's apps read DATABASE_URL like any host
app. The toolkit's routes are the reference app's without its bearer-token check, so
every server does the same work.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI, HTTPException

from app.deps import RowId
from app.models import User
from app.schemas import UserRead
from core.database import (
    fetch_one,
    get_database,
    get_read_session,
    get_session,
    install_error_handlers,
)

USER_BY_ID = "SELECT id, email, name, created_at, updated_at FROM users WHERE id = :id"

# bare_app, nodb_app and toolkit_app are built on first access (see __getattr__).
__all__: list[str] = []


def _bare() -> FastAPI:
    # Imported here: the other apps must not build an engine they do not use.
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    # SQLAlchemy's defaults, as its docs and most apps start: no pre-ping.
    engine = create_async_engine(os.environ["BENCH_DATABASE_URL"])
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


def _toolkit_lifespan() -> Any:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await get_database().dispose()

    return lifespan


def _toolkit_orm(dependency: Callable[..., Any]) -> FastAPI:
    """The ORM route on one of the toolkit's session dependencies."""
    app = FastAPI(lifespan=_toolkit_lifespan())
    install_error_handlers(app)
    provided = Depends(dependency)  # a default: see _advanced_alchemy()

    @app.get("/users/{user_id}")
    async def read_user(user_id: RowId, session: Any = provided) -> UserRead:
        user = await session.get(User, user_id)
        if user is None:
            raise HTTPException(404, f"user {user_id} not found")
        return UserRead.model_validate(user)

    return app


def _toolkit() -> FastAPI:
    return _toolkit_orm(get_session)


def _toolkit_read() -> FastAPI:
    return _toolkit_orm(get_read_session)


def _toolkit_raw() -> FastAPI:
    app = FastAPI(lifespan=_toolkit_lifespan())
    install_error_handlers(app)

    @app.get("/users/{user_id}")
    async def read_user(user_id: RowId) -> UserRead:
        row = await fetch_one(USER_BY_ID, {"id": user_id})
        if row is None:
            raise HTTPException(404, f"user {user_id} not found")
        return UserRead.model_validate(row)

    return app


def _raw_driver() -> FastAPI:
    url = os.environ["BENCH_DATABASE_URL"]
    sql = USER_BY_ID.replace(":id", "$1" if url.startswith("postgresql") else "?")
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if url.startswith("postgresql"):
            import asyncpg

            from bench.drivers import asyncpg_dsn

            state["pool"] = await asyncpg.create_pool(asyncpg_dsn(url), min_size=5, max_size=15)
            yield
            await state["pool"].close()
            return
        import aiosqlite

        # One connection: aiosqlite runs every call on its one thread anyway.
        state["lite"] = await aiosqlite.connect(url.split("///", 1)[1], isolation_level=None)
        await state["lite"].execute("PRAGMA journal_mode=WAL")
        yield
        await state["lite"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/users/{user_id}")
    async def read_user(user_id: RowId) -> UserRead:
        if "pool" in state:
            record = await state["pool"].fetchrow(sql, user_id)
            row = dict(record) if record is not None else None
        else:
            async with state["lite"].execute(sql, (user_id,)) as cursor:
                found = await cursor.fetchone()
                keys = [column[0] for column in cursor.description]
            row = dict(zip(keys, found, strict=True)) if found is not None else None
        if row is None:
            raise HTTPException(404, f"user {user_id} not found")
        return UserRead.model_validate(row)

    return app


def _advanced_alchemy() -> FastAPI:
    from advanced_alchemy.exceptions import NotFoundError
    from advanced_alchemy.extensions.fastapi import (
        AdvancedAlchemy,
        AsyncSessionConfig,
        SQLAlchemyAsyncConfig,
    )

    from bench.peers import UserRepository

    config = SQLAlchemyAsyncConfig(
        connection_string=os.environ["BENCH_DATABASE_URL"],
        session_config=AsyncSessionConfig(expire_on_commit=False),
        commit_mode="autocommit",
    )
    app = FastAPI()
    alchemy = AdvancedAlchemy(config=config, app=app)

    # A default, not Annotated[...]: this module's annotations are strings, and the
    # dependency is local to this function.
    provided = Depends(alchemy.provide_session())

    @app.get("/users/{user_id}")
    async def read_user(user_id: RowId, session: Any = provided) -> UserRead:
        try:
            user = await UserRepository(session=session).get(user_id)
        except NotFoundError:
            raise HTTPException(404, f"user {user_id} not found") from None
        return UserRead.model_validate(user)

    return app


def _sqlmodel() -> FastAPI:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlmodel.ext.asyncio.session import AsyncSession as SQLModelSession

    from bench.sqlmodel_models import SQLModelUser

    engine = create_async_engine(os.environ["BENCH_DATABASE_URL"])

    async def get_session() -> AsyncIterator[SQLModelSession]:
        async with SQLModelSession(engine, expire_on_commit=False) as session:
            yield session

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    provided = Depends(get_session)  # a default: see _advanced_alchemy()

    @app.get("/users/{user_id}")
    async def read_user(user_id: RowId, session: Any = provided) -> UserRead:
        user = await session.get(SQLModelUser, user_id)
        if user is None:
            raise HTTPException(404, f"user {user_id} not found")
        return UserRead.model_validate(user, from_attributes=True)

    return app


BUILDERS: dict[str, Callable[[], FastAPI]] = {
    "toolkit_app": _toolkit,
    "toolkit_read_app": _toolkit_read,
    "toolkit_raw_app": _toolkit_raw,
    "bare_app": _bare,
    "advanced_alchemy_app": _advanced_alchemy,
    "sqlmodel_app": _sqlmodel,
    "raw_driver_app": _raw_driver,
    "nodb_app": _nodb,
}


def __getattr__(name: str) -> FastAPI:
    # Built on demand, so each server process builds only the app it serves.
    if name in BUILDERS:
        return BUILDERS[name]()
    raise AttributeError(name)
