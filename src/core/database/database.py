"""`Database`: one engine and its session factory; plus the process-wide default one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.database.engine import create_engine
from core.database.errors import DatabaseUnavailableError
from core.database.session import make_sessionmaker, session_scope
from core.database.settings import Settings, get_settings
from core.database.url import mask_url, parse_database_url

__all__ = ["Database", "get_database", "set_database"]


class Database:
    """An engine created on first use, and the sessions made from it.

    Build one explicitly for tests or a second database; the app-wide default
    comes from `get_database()`.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        settings: Settings | None = None,
        **engine_options: Any,
    ) -> None:
        self._settings = settings or get_settings()
        raw = url if url is not None else self._settings.database_url.get_secret_value()
        self.url = parse_database_url(raw)  # fails fast on a bad URL, before any I/O
        self._engine_options = engine_options
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None

    def __repr__(self) -> str:
        return f"Database({mask_url(self.url)!r})"

    @property
    def settings(self) -> Settings:
        """The settings this database was built with."""
        return self._settings

    @property
    def masked_url(self) -> str:
        """The URL with the password and secret query values masked."""
        return mask_url(self.url)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    @property
    def engine(self) -> AsyncEngine:
        """The AsyncEngine, created on first access."""
        if self._engine is None:
            self._engine = create_engine(self.url, settings=self._settings, **self._engine_options)
        return self._engine

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The session factory (expire_on_commit=False)."""
        if self._sessionmaker is None:
            self._sessionmaker = make_sessionmaker(self.engine)
        return self._sessionmaker

    @contextmanager
    def override_sessionmaker(self, factory: async_sessionmaker[AsyncSession]) -> Iterator[None]:
        """Use `factory` for every session of this database while the block runs (tests)."""
        previous, self._sessionmaker = self._sessionmaker, factory
        try:
            yield
        finally:
            self._sessionmaker = previous

    def session(self) -> AsyncSession:
        """A new session; use it as `async with db.session() as session:`."""
        return self.sessionmaker()

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """`async with db.transaction() as session:` commits on success, rolls back on error."""
        return session_scope(self.sessionmaker)

    async def ping(self, timeout: float = 2.0) -> bool:  # noqa: ASYNC109 - a deadline, not I/O
        """True if `SELECT 1` answers within `timeout` s; else DatabaseUnavailableError."""
        try:
            # Through a session, so a test's shared connection answers the ping too.
            async with asyncio.timeout(timeout), self.session() as session:
                await session.execute(text("SELECT 1"))
        except TimeoutError as exc:
            raise DatabaseUnavailableError(
                f"no answer within {timeout:g}s", url=self.masked_url
            ) from exc
        return True

    async def dispose(self) -> None:
        """Close every pooled connection; the engine is rebuilt on next use."""
        if self._engine is not None:
            engine, self._engine, self._sessionmaker = self._engine, None, None
            await engine.dispose()


_default: Database | None = None


def get_database() -> Database:
    """The app-wide Database, built from settings on first use."""
    global _default
    if _default is None:
        _default = Database()
    return _default


def set_database(database: Database | None) -> Database | None:
    """Replace the app-wide Database (None: rebuild from settings); return the old one."""
    global _default
    previous, _default = _default, database
    return previous


@asynccontextmanager
async def transaction() -> AsyncIterator[AsyncSession]:
    """`async with transaction() as session:` on the default database: commit or roll back."""
    async with get_database().transaction() as session:
        yield session
