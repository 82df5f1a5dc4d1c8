"""The suite runs unchanged on SQLite and Postgres: TEST_DATABASE_URL picks the backend.

Fixtures come from the toolkit's own pytest plugin (core.database.testing.plugin).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import MetaData
from sqlalchemy.engine import URL

import app.models  # noqa: F401  (registers the app's tables)
from core.database import Base, create_engine, parse_database_url
from tests.faces import FACES, Face, FaceSession
from tests.models import TestBase


@pytest.fixture(scope="session")
def database_metadata() -> Sequence[MetaData]:
    return [Base.metadata, TestBase.metadata]


@pytest.fixture
def dialect(database_url: str) -> str:
    """`sqlite` or `postgresql`: the backend this run is proving."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture(params=FACES)
def face(request: pytest.FixtureRequest) -> Face:
    """The toolkit through the async face, then through the sync one, on this run's backend.

    Each face's session is joined to its own test transaction (db_session, sync_db_session).
    """
    if request.param == "async":
        session, database = "db_session", "database"
    else:
        session, database = "sync_db_session", "sync_database"
    return Face(
        request.param,
        request.getfixturevalue(database),
        FaceSession(request.getfixturevalue(session)),
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_scratch(database_url: str) -> AsyncIterator[URL | None]:
    """On Postgres, `<name>_scratch_test` beside the suite's database; dropped afterwards."""
    url = parse_database_url(database_url)
    if url.get_backend_name() != "postgresql":
        yield None
        return
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote(f"{url.database}_scratch_test")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            await connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
        yield url.set(database=f"{url.database}_scratch_test")
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await admin.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def scratch(postgres_scratch: URL | None, tmp_path: Path) -> URL:
    """An empty database on this run's backend whose commits are real (not rolled back)."""
    if postgres_scratch is None:
        return URL.create("sqlite+aiosqlite", database=str(tmp_path / "scratch_test.db"))
    engine = create_engine(postgres_scratch)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            await connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        await engine.dispose()
    return postgres_scratch


_ONLY_ON = {"sqlite_only": "sqlite", "postgres_only": "postgresql"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Skip dialect-only tests on the other backend; a missing reason is a usage error.
    url = config.getoption("--database-url") or os.environ.get("TEST_DATABASE_URL") or "sqlite"
    backend = "sqlite" if str(url).startswith("sqlite") else "postgresql"
    for item in items:
        for name, wanted in _ONLY_ON.items():
            marker = item.get_closest_marker(name)
            if marker is None:
                continue
            reason = marker.kwargs.get("reason") or next(iter(marker.args), "")
            if not reason:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{name} needs a reason")
            if backend != wanted:
                item.add_marker(pytest.mark.skip(reason=f"{name}: {reason}"))
    _deselect_packaging_unless_asked(config, items)


def _deselect_packaging_unless_asked(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Building wheels and venvs takes minutes: only `-m packaging` (nox -s packaging) runs it;
    # pytest reports the rest as deselected.
    if "packaging" in (config.option.markexpr or ""):
        return
    kept = [item for item in items if item.get_closest_marker("packaging") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
