"""The plugin as a host app meets it: a separate pytest run with its own models, app and config.

The host suite names its metadata and its app in the pytest configuration and has no
fixture code; it runs against this run's database (in-memory SQLite or the Postgres server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from core.database import Database
from core.database.migrations import head_revision

pytest_plugins = ["pytester"]

# No asyncio setting at all: pytest-asyncio's strict mode, and no loop-scope default.
HOST_CONFIG = """
[tool.pytest.ini_options]
filterwarnings = ["error"]
core_database_metadata = "hostapp:HostBase.metadata"
core_database_app = "hostapp:app"
"""

HOST_APP = """
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Mapped

from core.database import Base, IntIdMixin, SessionDep, new_metadata
from core.database.sync import SyncSessionDep, fetch_value


class HostBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Note(IntIdMixin, HostBase):
    __tablename__ = "host_notes"
    text: Mapped[str]


app = FastAPI()


@app.post("/notes", status_code=201)
async def create(text: str, session: SessionDep) -> dict[str, int]:
    note = Note(text=text)
    session.add(note)
    await session.flush()
    return {"id": note.id}


@app.get("/notes/count")
async def count(session: SessionDep) -> int:
    return await session.scalar(select(func.count()).select_from(Note))


@app.post("/sync/notes", status_code=201)
def create_in_a_def_route(text: str, session: SyncSessionDep) -> dict[str, int]:
    note = Note(text=text)
    session.add(note)
    session.flush()
    return {"id": note.id}


@app.get("/sync/notes/count")
def count_in_a_def_route() -> int:
    return fetch_value("SELECT count(*) FROM host_notes")
"""

HOST_TESTS = """
import pytest

from core.database import execute, transaction
from hostapp import Note


@pytest.fixture
async def note(db_session):
    # A host's own async fixture: it must run in the engine's loop too.
    db_session.add(Note(text="orm"))
    await db_session.commit()


async def test_writes_every_way(note, db_client):
    assert (await db_client.post("/notes", params={"text": "http"})).status_code == 201
    async with transaction() as session:
        session.add(Note(text="transaction"))
    await execute("INSERT INTO host_notes (text) VALUES ('raw')")
    assert (await db_client.get("/notes/count")).json() == 4


async def test_the_next_test_sees_none_of_it(db_client):
    assert (await db_client.get("/notes/count")).json() == 0


async def test_def_routes_write_in_a_test_transaction_too(db_client):
    for text in ("a", "b"):
        assert (await db_client.post("/sync/notes", params={"text": text})).status_code == 201
    assert (await db_client.get("/sync/notes/count")).json() == 2


async def test_and_the_next_test_sees_none_of_that_either(db_client):
    assert (await db_client.get("/sync/notes/count")).json() == 0
"""

PRODUCTION_URL = "postgresql+asyncpg://u:pw@localhost/app_production"


@pytest.fixture
def host(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("TEST_DATABASE_URL", "APP_ENV", "CORE_DATABASE_ALLOW_ANY_TEST_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyprojecttoml(HOST_CONFIG)
    pytester.makepyfile(hostapp=HOST_APP, test_host=HOST_TESTS)
    return pytester


def test_rows_of_one_test_are_gone_in_the_next(host: pytest.Pytester, database_url: str) -> None:
    result = host.runpytest_subprocess("-p", "no:cacheprovider", "--database-url", database_url)
    result.assert_outcomes(passed=4)


def test_a_production_database_is_refused_without_leaking_the_password(
    host: pytest.Pytester,
) -> None:
    result = host.runpytest_subprocess(
        "-p", "no:cacheprovider", "--showlocals", "--database-url", PRODUCTION_URL
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=4)
    output = result.stdout.str() + result.stderr.str()
    refusal = "refusing to run test fixtures against postgresql+asyncpg://u:***@localhost/app_"
    assert refusal in output
    assert "opt in with CORE_DATABASE_ALLOW_ANY_TEST_DATABASE=1" in output
    assert "pw" not in output


def test_app_env_production_is_refused_even_with_the_opt_in(
    host: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.invalid/app")  # production needs one
    result = host.runpytest_subprocess("-p", "no:cacheprovider", "--database-allow-any")
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(["*refusing to run test fixtures with APP_ENV=production*"])


UNRELATED_TESTS = """
import asyncio

import pytest
import pytest_asyncio


@pytest_asyncio.fixture
async def ticket():
    # A function-scoped async fixture of the host's, far from the database.
    await asyncio.sleep(0)
    return id(asyncio.get_running_loop())


@pytest_asyncio.fixture
async def loop_of_the_test():
    return id(asyncio.get_running_loop())


def test_a_sync_test():
    assert 1 + 1 == 2


@pytest.mark.asyncio
async def test_its_own_loop(ticket, loop_of_the_test):
    # Left alone: both run in pytest-asyncio's per-test loop, as without the plugin.
    assert ticket == loop_of_the_test == id(asyncio.get_running_loop())
"""


@pytest.mark.parametrize(
    "settings",
    [
        "",
        'asyncio_mode = "auto"',
        'asyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"'
        '\nasyncio_default_test_loop_scope = "function"',
    ],
    ids=["strict-unset", "auto-unset", "auto-function"],
)
def test_the_plugin_needs_no_asyncio_setting_and_leaves_other_tests_alone(
    host: pytest.Pytester, database_url: str, settings: str
) -> None:
    host.makepyprojecttoml(HOST_CONFIG + settings + "\n")
    host.makepyfile(test_unrelated=UNRELATED_TESTS)
    result = host.runpytest_subprocess("-p", "no:cacheprovider", "--database-url", database_url)
    result.assert_outcomes(passed=6)


def test_a_sync_suite_passes_with_the_plugin_installed(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n')
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_database_fixture_pinned_to_another_loop_is_a_clear_usage_error(
    host: pytest.Pytester, database_url: str
) -> None:
    host.makepyfile(
        test_host="""
import pytest_asyncio


@pytest_asyncio.fixture(loop_scope="function")
async def pinned(db_session):
    return db_session


async def test_uses_it(pinned):
    pass
"""
    )
    result = host.runpytest_subprocess("-p", "no:cacheprovider", "--database-url", database_url)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*fixture 'pinned' uses core.database's fixtures*loop_scope='function'*"]
    )


MIGRATED_TESTS = """
from sqlalchemy import select, text

from app.models import User


async def test_the_schema_comes_from_the_migrations(db_session):
    assert await db_session.scalar(text("SELECT version_num FROM alembic_version")) == "{head}"
    db_session.add(User(email="Ann@Example.org"))
    await db_session.commit()
    assert await db_session.scalar(select(User.email)) == "ann@example.org"


async def test_and_is_rolled_back_between_tests(db_session):
    assert await db_session.scalar(select(User.email)) is None
"""


@pytest.fixture
async def separate_database(database: Database) -> AsyncIterator[str]:
    """A database of its own for a nested run that builds the reference app's schema."""
    if database.dialect == "sqlite":
        yield "sqlite+aiosqlite:///:memory:"  # the nested run's own process owns it
        return
    name = "plugin_alembic_test"
    async with database.engine.connect() as connection:
        admin = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await admin.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await admin.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield database.url.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


def test_schema_alembic_builds_the_schema_by_upgrade_head(
    host: pytest.Pytester, separate_database: str
) -> None:
    ini = Path(__file__).parents[1] / "alembic.ini"
    head = head_revision(config_path=ini)
    # No core_database_metadata: the migrations, not a MetaData, build the schema.
    config = HOST_CONFIG.replace('core_database_metadata = "hostapp:HostBase.metadata"', "")
    alembic = f'core_database_schema = "alembic"\ncore_database_alembic_ini = "{ini.as_posix()}"'
    host.makepyprojecttoml(f"{config}\n{alembic}\n")
    host.makepyfile(test_host=MIGRATED_TESTS.replace("{head}", str(head)))
    result = host.runpytest_subprocess(
        "-p", "no:cacheprovider", "--database-url", separate_database
    )
    result.assert_outcomes(passed=2)
