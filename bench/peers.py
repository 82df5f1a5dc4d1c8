"""The peers, set up the way their docs show: advanced-alchemy and SQLModel.

advanced-alchemy (AA): `SQLAlchemyAsyncConfig` + a `SQLAlchemyAsyncRepository` over
the same `User` model as the toolkit. SQLModel: its own `AsyncSession` and a
`SQLModel` class mapped to the same `users` table (SQLModel models are their own
classes). Both on SQLAlchemy's default engine settings, as their quick starts use.
"""

from __future__ import annotations

from dataclasses import dataclass

from advanced_alchemy.config import AsyncSessionConfig, SQLAlchemyAsyncConfig
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession as SQLModelSession

from app.models import User
from bench.schema import Backend, create_schema

__all__ = ["Peers", "UserRepository", "peers"]


class UserRepository(SQLAlchemyAsyncRepository[User]):
    """AA's repository over the reference app's User."""

    model_type = User


@dataclass
class Peers:
    """The peers' engines on one backend."""

    aa: SQLAlchemyAsyncConfig
    sqlmodel: AsyncEngine

    def sqlmodel_session(self) -> SQLModelSession:
        return SQLModelSession(self.sqlmodel, expire_on_commit=False)

    async def dispose(self) -> None:
        await self.aa.get_engine().dispose()
        await self.sqlmodel.dispose()


async def peers(backend: Backend) -> Peers:
    """The peers' engines; in-memory SQLite gets each its own seeded database."""
    aa = SQLAlchemyAsyncConfig(
        connection_string=backend.url,
        session_config=AsyncSessionConfig(expire_on_commit=False),
    )
    sqlmodel = create_async_engine(backend.url)
    if backend.memory:
        await create_schema(aa.get_engine())
        await create_schema(sqlmodel)
    return Peers(aa, sqlmodel)
