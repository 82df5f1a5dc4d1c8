"""Why the database is unavailable (core.database.unavailable_reasons): distinct, logged."""

from __future__ import annotations

import itertools
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text

from core.database import (
    Database,
    DatabaseUnavailableError,
    SessionDep,
    install_error_handlers,
    parse_database_url,
    set_database,
)
from core.database.settings import Settings, get_settings
from core.database.sync import SyncDatabase
from core.database.testing._cluster import free_port
from core.database.unavailable_reasons import unavailable_reason

SECRET = "Wr0ng-Pa55word"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture(params=["async", "sync"])
def face(request: pytest.FixtureRequest) -> str:
    """Each reason is the same through asyncpg/aiosqlite and through psycopg/sqlite3."""
    return str(request.param)


def quick(url: str, face: str = "async", **engine_options: object) -> Database | SyncDatabase:
    settings = get_settings().model_copy(
        update={"database_connect_timeout": 1.0, "database_url": SecretStr(url)}
    )
    assert isinstance(settings, Settings)
    if face == "sync":
        return SyncDatabase(settings=settings, **engine_options)
    return Database(settings=settings, **engine_options)


async def reason_for(db: Database | SyncDatabase) -> DatabaseUnavailableError:
    with pytest.raises(DatabaseUnavailableError) as caught:
        if isinstance(db, SyncDatabase):
            try:
                with db.session() as sync_session:
                    sync_session.execute(text("SELECT 1"))
            finally:
                db.dispose()
        else:
            try:
                async with db.session() as session:
                    await session.execute(text("SELECT 1"))
            finally:
                await db.dispose()
    error = caught.value
    for shown in (str(error), repr(error), error.reason, error.url):
        assert SECRET not in shown
    return error


def with_password(database_url: str, **changes: object) -> str:
    url = parse_database_url(database_url).set(**changes)  # type: ignore[arg-type]
    return url.render_as_string(hide_password=False)


@pytest.mark.postgres_only(reason="a login needs a Postgres server")
async def test_a_wrong_password(database_url: str, face: str) -> None:
    error = await reason_for(quick(with_password(database_url, password=SECRET), face))
    user = parse_database_url(database_url).username
    assert error.reason == f'authentication failed for user "{user}"'


@pytest.mark.postgres_only(reason="a missing database needs a Postgres server")
async def test_a_missing_database(database_url: str, face: str) -> None:
    error = await reason_for(quick(with_password(database_url, database="no_such_db"), face))
    assert error.reason == 'database "no_such_db" does not exist'


async def test_a_closed_port(face: str) -> None:
    port = free_port()
    error = await reason_for(quick(f"postgresql://app:{SECRET}@127.0.0.1:{port}/app", face))
    assert error.reason == f"connection refused at 127.0.0.1:{port}"


async def test_a_server_that_never_answers(silent_port: int, face: str) -> None:
    error = await reason_for(quick(f"postgresql://app:{SECRET}@127.0.0.1:{silent_port}/app", face))
    assert error.reason == f"timed out connecting to 127.0.0.1:{silent_port}"


async def test_an_unknown_host(face: str) -> None:
    error = await reason_for(quick(f"postgresql://app:{SECRET}@no-such-host.invalid/app", face))
    assert error.reason == 'host "no-such-host.invalid" not found'


async def test_a_sqlite_file_that_cannot_be_opened(tmp_path: object, face: str) -> None:
    error = await reason_for(quick(f"sqlite:///{tmp_path}/missing/folder/app.db", face))
    assert error.reason.startswith(f"cannot open SQLite database {tmp_path}/missing/folder/app.db")


def unopenable_sqlite_paths(folder: Path) -> list[Path]:
    """Paths SQLite cannot open: a missing folder, a folder itself, a file as a folder."""
    (folder / "a_file").write_text("")
    return [folder / "missing" / "app.db", folder, folder / "a_file" / "app.db"]


async def test_a_sqlite_file_that_cannot_be_opened_leaves_no_driver_thread(
    tmp_path: Path,
) -> None:
    # With the toolkit's connect arguments, and with a caller's own joining them.
    for path, own in itertools.product(unopenable_sqlite_paths(tmp_path), ({}, {"timeout": 3})):
        before = set(threading.enumerate())
        error = await reason_for(quick(f"sqlite+aiosqlite:///{path}", connect_args=own))
        assert error.reason.startswith("cannot open SQLite database"), error.reason
        left = [thread for thread in threading.enumerate() if thread not in before]
        assert not [thread for thread in left if thread.is_alive()], (path, left)


EXIT_ON_FAILURE = """
import asyncio, sys
from core.database import Database, DatabaseUnavailableError

async def check(url):
    try:
        await Database(url).ping(timeout=5)
    except DatabaseUnavailableError as error:
        print(error.reason)

for url in sys.argv[1:]:
    for _ in range(10):  # each time on a loop closed right after the failure
        loop = asyncio.new_event_loop()
        loop.run_until_complete(check(url))
        loop.close()
"""


def test_a_process_that_exits_on_an_unopenable_sqlite_file_prints_only_the_reason(
    tmp_path: Path,
) -> None:
    urls = [f"sqlite+aiosqlite:///{path}" for path in unopenable_sqlite_paths(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-c", EXIT_ON_FAILURE, *urls],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    reasons = result.stdout.splitlines()
    assert len(reasons) == 30
    assert all(reason.startswith("cannot open SQLite database") for reason in reasons), reasons


def failing_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/rows")
    async def rows(session: SessionDep) -> int:
        return int(await session.scalar(text("SELECT 1")) or 0)

    return app


async def served_reason(url: str, caplog: pytest.LogCaptureFixture) -> str:
    """What a request logs when the database at `url` is unavailable: one record."""
    db = quick(url)
    assert isinstance(db, Database)
    previous = set_database(db)
    try:
        transport = httpx.ASGITransport(app=failing_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with caplog.at_level(logging.ERROR, logger="core.database"):
                response = await client.get("/rows")
    finally:
        set_database(previous)
        await db.dispose()
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable", "code": "database_unavailable"}
    records = [r for r in caplog.records if r.name == "core.database"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert SECRET not in message
    assert SECRET not in caplog.text
    return message


async def test_the_503_logs_a_refused_connection(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    message = await served_reason(f"postgresql://app:{SECRET}@127.0.0.1:{port}/app", caplog)
    expected = f"GET /rows: database unavailable: connection refused at 127.0.0.1:{port}"
    assert message.startswith(expected)


@pytest.mark.postgres_only(reason="a login needs a Postgres server")
async def test_the_503_logs_a_wrong_password(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    message = await served_reason(with_password(database_url, password=SECRET), caplog)
    user = parse_database_url(database_url).username
    assert f'database unavailable: authentication failed for user "{user}"' in message


@pytest.mark.parametrize(
    ("words", "reason"),
    [
        ('FATAL:  role "ghost" does not exist', 'authentication refused for user "app": role'),
        (
            'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app", database "app"',
            'authentication refused for user "app": no pg_hba.conf entry',
        ),
        (
            "FATAL:  sorry, too many clients already",
            "server refused the connection at db:5432: sorry, too many clients already",
        ),
    ],
)
def test_libpq_refusals_in_words_get_their_reason(words: str, reason: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    message = f'connection failed: connection to server at "10.0.0.1", port 5432 failed: {words}'
    url = parse_database_url(f"postgresql://app:{SECRET}@db/app")
    shown = unavailable_reason(psycopg.OperationalError(message), url)
    assert shown.startswith(reason)
    assert SECRET not in shown
