"""One set of awaitable calls over both faces, so a behaviour is written once and run on each.

`AsyncFace` passes calls to core.database; `SyncFace` to core.database.sync, calling
the sync functions directly (a test is one caller at a time).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

import core.database as async_face
import core.database.sync as sync_face
from core.database import Database
from core.database.raw import SQL, Params, Row
from core.database.sync import SyncDatabase

FACES = ("async", "sync")


class FaceSession:
    """A session of either face, with awaitable methods."""

    def __init__(self, raw: AsyncSession | Session) -> None:
        self.raw = raw

    def add(self, instance: object) -> None:
        self.raw.add(instance)

    def add_all(self, instances: Iterable[object]) -> None:
        self.raw.add_all(instances)

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.raw, name)(*args, **kwargs)
        return await result if isinstance(self.raw, AsyncSession) else result

    async def execute(self, statement: Executable, params: Any = None) -> Any:
        return await self._call("execute", statement, params)

    async def scalar(self, statement: Executable, params: Any = None) -> Any:
        return await self._call("scalar", statement, params)

    async def scalars(self, statement: Executable) -> list[Any]:
        return list((await self._call("scalars", statement)).all())

    async def flush(self) -> None:
        await self._call("flush")

    async def commit(self) -> None:
        await self._call("commit")

    async def rollback(self) -> None:
        await self._call("rollback")

    async def refresh(self, instance: object) -> None:
        await self._call("refresh", instance)

    async def begin_nested(self) -> Any:
        nested = await self._call("begin_nested")
        return _Nested(nested, isinstance(self.raw, AsyncSession))


class _Nested:
    def __init__(self, transaction: Any, is_async: bool) -> None:
        self._transaction, self._async = transaction, is_async

    async def rollback(self) -> None:
        result = self._transaction.rollback()
        if self._async:
            await result

    async def commit(self) -> None:
        result = self._transaction.commit()
        if self._async:
            await result


class Face:
    """The toolkit as one face shows it: helpers, transaction(), the test's session."""

    def __init__(self, name: str, database: Database | SyncDatabase, session: FaceSession) -> None:
        self.name = name
        self.database = database
        self.session = session
        self._module: Any = async_face if name == "async" else sync_face

    async def _helper(
        self, name: str, sql: SQL, params: Params, session: FaceSession | None
    ) -> Any:
        raw = session.raw if session is not None else None
        result = getattr(self._module, name)(sql, params, session=raw)
        return await result if self.name == "async" else result

    async def fetch_all(
        self, sql: SQL, params: Params = None, *, session: FaceSession | None = None
    ) -> list[Row]:
        rows: list[Row] = await self._helper("fetch_all", sql, params, session)
        return rows

    async def fetch_one(
        self, sql: SQL, params: Params = None, *, session: FaceSession | None = None
    ) -> Row | None:
        row: Row | None = await self._helper("fetch_one", sql, params, session)
        return row

    async def fetch_value(
        self, sql: SQL, params: Params = None, *, session: FaceSession | None = None
    ) -> Any:
        return await self._helper("fetch_value", sql, params, session)

    async def execute(
        self, sql: SQL, params: Params = None, *, session: FaceSession | None = None
    ) -> int:
        count: int = await self._helper("execute", sql, params, session)
        return count

    def transaction(self) -> AbstractAsyncContextManager[FaceSession]:
        """`async with face.transaction() as session:` on this face's default database."""
        return _transaction(self)

    async def ping(self) -> bool:
        result = self.database.ping()
        return bool(await result if self.name == "async" else result)


@asynccontextmanager
async def _transaction(face: Face) -> AsyncIterator[FaceSession]:
    if face.name == "async":
        async with async_face.transaction() as session:
            yield FaceSession(session)
    else:
        with sync_face.transaction() as sync_session:
            yield FaceSession(sync_session)
