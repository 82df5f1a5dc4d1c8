"""pytest plugin (entry point `core_database`): one suite, any database, isolated tests.

Fixtures:
    database_url       session   --database-url, else TEST_DATABASE_URL, else in-memory SQLite
    database_metadata  session   override to return your MetaData (default: Base.metadata)
    database           session   a Database with the schema created; the app-wide default
    db_connection      function  a connection inside an outer transaction, rolled back after
    db_session         function  an AsyncSession on that connection; commit() releases a
                                 SAVEPOINT, so nothing outlives the test

Every session the code under test opens through the toolkit (Depends(get_session),
transaction(), the raw helpers) joins the same outer transaction while a test runs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.database.base import Base
from core.database.database import Database, set_database
from core.database.session import make_sessionmaker
from core.database.testing.guard import check_test_database

__all__ = ["database", "database_metadata", "database_url", "db_connection", "db_session"]

MEMORY_URL = "sqlite+aiosqlite:///:memory:"
_LOOP_SCOPE_HELP = (
    "core.database's fixtures share one engine across the test session; add to your "
    "pytest configuration:\n  asyncio_default_fixture_loop_scope = session\n"
    "  asyncio_default_test_loop_scope = session"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("core-database")
    group.addoption("--database-url", help="database for the tests (default: TEST_DATABASE_URL)")
    group.addoption(
        "--database-allow-any",
        action="store_true",
        help="allow a database whose name does not say it is a test database",
    )


def pytest_configure(config: pytest.Config) -> None:
    for option in ("asyncio_default_fixture_loop_scope", "asyncio_default_test_loop_scope"):
        try:
            value = config.getini(option)
        except ValueError:
            continue  # pytest-asyncio is not installed; nothing async to run
        if value != "session":
            raise pytest.UsageError(_LOOP_SCOPE_HELP)


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL under test; refused unless it is clearly a test database."""
    url = request.config.getoption("--database-url") or os.environ.get("TEST_DATABASE_URL")
    url = url or MEMORY_URL
    allow = bool(request.config.getoption("--database-allow-any")) or None
    check_test_database(url, allow_any=allow)
    return str(url)


@pytest.fixture(scope="session")
def database_metadata() -> MetaData | Sequence[MetaData]:
    """The tables to create; override in your conftest.py to return your app's MetaData."""
    return Base.metadata


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database(
    database_url: str, database_metadata: MetaData | Sequence[MetaData]
) -> AsyncIterator[Database]:
    """The Database under test, with a fresh schema, installed as the app-wide default."""
    db = Database(database_url)
    metadatas = (
        [database_metadata] if isinstance(database_metadata, MetaData) else database_metadata
    )
    async with db.engine.begin() as connection:
        for metadata in reversed(metadatas):
            await connection.run_sync(metadata.drop_all)
        for metadata in metadatas:
            await connection.run_sync(metadata.create_all)
    previous = set_database(db)
    try:
        yield db
    finally:
        set_database(previous)
        async with db.engine.begin() as connection:
            for metadata in reversed(metadatas):
                await connection.run_sync(metadata.drop_all)
        # aiosqlite's worker thread keeps the process alive until the engine is disposed.
        await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def db_connection(database: Database) -> AsyncIterator[AsyncConnection]:
    """A connection in an outer transaction that is rolled back after the test."""
    async with database.engine.connect() as connection:
        outer = await connection.begin()
        factory = make_sessionmaker(connection, join_transaction_mode="create_savepoint")
        with database.override_sessionmaker(factory):
            try:
                yield connection
            finally:
                if outer.is_active:
                    await outer.rollback()


@pytest_asyncio.fixture(loop_scope="session")
async def db_session(
    database: Database, db_connection: AsyncConnection
) -> AsyncIterator[AsyncSession]:
    """An AsyncSession joined to the test's outer transaction (commit() releases a SAVEPOINT)."""
    async with database.session() as session:
        yield session


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Run every async test in the session loop that owns the engine.
    marker = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if pytest_asyncio.is_async_test(item):
            item.add_marker(marker, append=False)
