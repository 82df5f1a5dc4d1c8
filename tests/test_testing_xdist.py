"""pytest-xdist: two workers on one server must not drop each other's tables.

A host suite runs with ``-n 2``: one worker's test holds its session open while the other
worker finishes and drops its schema; the first worker's next test still finds its tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from core.database import create_engine, parse_database_url

pytest_plugins = ["pytester"]

HOST_CONFIG = """
[tool.pytest.ini_options]
core_database_metadata = "hostapp:HostBase.metadata"
"""

HOST_APP = """
from sqlalchemy.orm import Mapped

from core.database import Base, IntIdMixin, new_metadata


class HostBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Item(IntIdMixin, HostBase):
    __tablename__ = "xdist_items"
    name: Mapped[str]
"""

# Worker one: a test that waits while worker two runs, finishes and drops its schema.
SLOW_TESTS = """
import asyncio
import os

from sqlalchemy import func, select

from hostapp import Item


async def test_waits_for_the_other_worker(db_session, database_url):
    assert database_url.endswith("_" + os.environ["PYTEST_XDIST_WORKER"] + SUFFIX)
    for _ in range(200):  # until the other worker has dropped its tables, at most 20 s
        if os.path.exists(DONE):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the other worker never finished")


async def test_its_tables_are_still_there(db_session):
    db_session.add(Item(name="still here"))
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Item)) == 1
"""

FAST_TESTS = """
import os

from hostapp import Item


async def test_quick(db_session, database_url):
    assert database_url.endswith("_" + os.environ["PYTEST_XDIST_WORKER"] + SUFFIX)
    db_session.add(Item(name="quick"))
    await db_session.commit()
"""

# Written once the fast worker's session is over: its schema (and database) dropped.
CONFTEST = """
RAN = set()


def pytest_runtest_setup(item):
    RAN.add(item.name)


def pytest_sessionfinish(session):
    if "test_quick" in RAN:
        open(DONE, "w").close()
"""


def _files_named(folder: Path, pattern: str) -> list[str]:
    return sorted(path.name for path in folder.glob(pattern))


@pytest.fixture
def host_url(database_url: str, tmp_path: Path) -> str:
    """The outer run's Postgres, or on SQLite a file (in-memory SQLite is per process)."""
    url = parse_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'host_test.db'}"
    return database_url


async def test_two_workers_keep_their_own_databases_and_drop_them_after(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, host_url: str, tmp_path: Path
) -> None:
    for name in ("TEST_DATABASE_URL", "APP_ENV", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)
    url = parse_database_url(host_url)
    sqlite = url.get_backend_name() == "sqlite"
    done = tmp_path / "fast-worker-done"
    constants = f"DONE = {str(done)!r}\nSUFFIX = {'.db' if sqlite else ''!r}\n"
    pytester.makepyprojecttoml(HOST_CONFIG)
    pytester.makepyfile(hostapp=HOST_APP)
    pytester.makeconftest(constants + CONFTEST)
    pytester.makepyfile(test_slow=constants + SLOW_TESTS, test_fast=constants + FAST_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile", "--database-url", host_url
    )
    result.assert_outcomes(passed=3)
    assert done.exists()
    if sqlite:
        assert _files_named(tmp_path, "host_test*") == []
        return
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            pattern = f"{url.database}\\_gw%"
            query = text("SELECT datname FROM pg_database WHERE datname LIKE :pattern")
            left = (await connection.execute(query, {"pattern": pattern})).scalars().all()
    finally:
        await engine.dispose()
    assert left == []
