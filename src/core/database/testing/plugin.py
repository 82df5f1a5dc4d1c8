"""pytest plugin (the `core_database` entry point): one suite, any database, isolated tests.

Fixtures:
    database_url       session   --database-url, else TEST_DATABASE_URL, else in-memory SQLite
    database_metadata  session   the tables to create (ini core_database_metadata, else Base)
    database           session   a Database with the schema created; the app-wide default
    db_connection      function  a connection inside an outer transaction, rolled back after
    db_session         function  an AsyncSession on that connection; commit() releases a
                                 SAVEPOINT, so nothing outlives the test
    app                session   the FastAPI app (ini core_database_app, or override it)
    db_client          function  an httpx.AsyncClient calling `app` inside the test's transaction
    sync_database      session   the sync face's SyncDatabase; the app-wide sync default
    sync_db_connection function  a sync connection inside an outer transaction, rolled back
    sync_db_session    function  a sync Session on that connection (commit() releases a SAVEPOINT)

Every session the code under test opens through the toolkit (Depends(get_session),
transaction(), the raw helpers) joins the same outer transaction while a test runs.
The sync face (Depends(get_sync_session), core.database.sync) joins its own outer
transaction on a second connection: a connection sees only what is committed on
another, so data written through one face in a test is invisible to the other. On
in-memory SQLite the sync face cannot open the async face's database at all: it gets
an in-memory database of its own, with the same tables (created from
``database_metadata``, also when the schema is built by Alembic).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from core.database.base import Base
from core.database.database import Database, set_database
from core.database.errors import ConfigurationError
from core.database.sync.database import SyncDatabase, set_sync_database
from core.database.testing.config import (
    configured_url,
    pytest_addoption,
    pytest_configure,
    pytest_report_header,
)
from core.database.testing.guard import UnsafeDatabaseError, check_test_database
from core.database.testing.isolation import observe_commits, rollback_after, sync_rollback_after
from core.database.testing.loops import pytest_fixture_setup, pytest_pycollect_makeitem
from core.database.testing.redact import pytest_make_collect_report, pytest_runtest_makereport
from core.database.testing.schema import (
    as_metadata_list,
    create_schema,
    drop_every_table,
    drop_schema,
    load_object,
    upgrade_schema,
)
from core.database.testing.session_turns import takes_no_turn
from core.database.testing.workers import worker_database
from core.database.url import is_memory_sqlite

if TYPE_CHECKING:
    import httpx

# The hooks live in .config; pytest finds them here, on the registered plugin module.
__all__ = [
    "app",
    "database",
    "database_metadata",
    "database_url",
    "db_client",
    "db_connection",
    "db_session",
    "pytest_addoption",
    "pytest_configure",
    "pytest_fixture_setup",
    "pytest_make_collect_report",
    "pytest_pycollect_makeitem",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "sync_database",
    "sync_db_connection",
    "sync_db_session",
]


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL under test; refused unless it is clearly a test database.

    Under pytest-xdist each worker gets a database of its own (see .workers).
    """
    url = configured_url(request.config)
    allow = bool(request.config.getoption("--database-allow-any")) or None
    try:
        check_test_database(url, allow_any=allow)
    except (UnsafeDatabaseError, ConfigurationError) as exc:
        refusal = str(exc)
    else:
        with worker_database(url) as own:
            yield own
        return
    # No traceback, and outside the except block (no chained one): their locals
    # (with --showlocals) would print the unmasked URL.
    pytest.fail(refusal, pytrace=False)


@pytest.fixture(scope="session")
def database_metadata(request: pytest.FixtureRequest) -> MetaData | Sequence[MetaData]:
    """The tables to create: ini ``core_database_metadata``, else the toolkit's Base.metadata."""
    specs: list[str] = request.config.getini("core_database_metadata")
    if not specs:
        return Base.metadata
    return [m for spec in specs for m in as_metadata_list(_load(spec, "core_database_metadata"))]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database(
    request: pytest.FixtureRequest,
    database_url: str,
    database_metadata: MetaData | Sequence[MetaData],
) -> AsyncIterator[Database]:
    """The Database under test, with a fresh schema, installed as the app-wide default."""
    metadatas = as_metadata_list(database_metadata)
    alembic_ini = _alembic_ini(request.config)
    db = Database(database_url)
    try:
        if alembic_ini is None:
            await create_schema(db, metadatas)
        else:
            await upgrade_schema(db, alembic_ini)
        previous = set_database(db)
        try:
            yield db
        finally:
            set_database(previous)
            if alembic_ini is None:
                await drop_schema(db, metadatas)
            else:
                await drop_every_table(db)
    finally:
        # aiosqlite's worker thread keeps the process alive until the engine is disposed.
        await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def db_connection(database: Database) -> AsyncIterator[AsyncConnection]:
    """A connection in an outer transaction that is rolled back after the test."""
    async with rollback_after(database) as connection:
        yield connection


@pytest_asyncio.fixture(loop_scope="session")
async def db_session(
    database: Database, db_connection: AsyncConnection
) -> AsyncIterator[AsyncSession]:
    """An AsyncSession joined to the test's outer transaction (commit() releases a SAVEPOINT).

    Whatever another session commits in the test (a request through ``db_client``,
    ``transaction()``) is reloaded into its unmodified objects (see .isolation).
    """
    async with database.session() as session:
        observe_commits(session)
        yield session


@pytest.fixture(scope="session")
def sync_database(
    database: Database, database_metadata: MetaData | Sequence[MetaData]
) -> Iterator[SyncDatabase]:
    """The sync face of ``database``, installed as the app-wide sync default."""
    db = SyncDatabase(database.url, settings=database.settings)
    if db.url.get_backend_name() == "sqlite" and is_memory_sqlite(db.url):
        # A second in-memory database: the async face's one lives in its own connection.
        for metadata in as_metadata_list(database_metadata):
            metadata.create_all(db.engine)
    previous = set_sync_database(db)
    try:
        yield db
    finally:
        set_sync_database(previous)
        db.dispose()


@pytest.fixture
def sync_db_connection(sync_database: SyncDatabase) -> Iterator[Connection]:
    """A sync connection in an outer transaction that is rolled back after the test."""
    with sync_rollback_after(sync_database) as connection:
        yield connection


@pytest.fixture
def sync_db_session(
    sync_database: SyncDatabase, sync_db_connection: Connection
) -> Iterator[Session]:
    """A sync Session joined to the test's sync outer transaction."""
    with sync_database.session() as session:
        takes_no_turn(session)  # the test's own: used between requests, never beside them
        yield session


@pytest.fixture(scope="session")
def app(request: pytest.FixtureRequest) -> Any:
    """The ASGI app that ``db_client`` calls: ini ``core_database_app``, or override this."""
    spec: str = request.config.getini("core_database_app")
    if not spec:
        pytest.fail(
            "db_client needs your app: set core_database_app = 'yourapp.main:app' in the"
            " pytest configuration, or define an `app` fixture in conftest.py",
            pytrace=False,
        )
    return _load(spec, "core_database_app")


@pytest_asyncio.fixture(loop_scope="session")
async def db_client(
    app: Any, database: Database, db_connection: AsyncConnection, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx.AsyncClient on ``app``: ``Depends(get_session)`` joins the test's transaction.

    ``def`` routes (``Depends(get_sync_session)``, the sync helpers) join the sync face's
    own test transaction (``sync_db_connection``), rolled back too. Not on a SQLite file:
    there the async test transaction holds the one write lock for the whole test.
    """
    try:
        from core.database.testing.http import make_client
    except ImportError:
        pytest.fail("db_client needs httpx: pip install 'core-database[test]'", pytrace=False)
    if database.dialect != "sqlite" or is_memory_sqlite(database.url):
        request.getfixturevalue("sync_db_connection")
    async with make_client(app) as client:
        yield client


def _load(spec: str, option: str) -> Any:
    try:
        return load_object(spec)
    except (ImportError, AttributeError, ValueError) as exc:
        problem = f"{option} = {spec!r} cannot be loaded: {exc!r}"
    pytest.fail(problem, pytrace=False)


def _alembic_ini(config: pytest.Config) -> Path | None:
    if config.getini("core_database_schema") != "alembic":
        return None
    ini = Path(config.rootpath, config.getini("core_database_alembic_ini"))
    if not ini.is_file():
        pytest.fail(f"core_database_schema = alembic, but {ini} does not exist", pytrace=False)
    return ini
