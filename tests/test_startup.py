"""Startup check (core.database.startup): a host app under uvicorn fails in one clear line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import URL

from core.database import (
    ConfigurationError,
    Database,
    DatabaseStartupCheck,
    DatabaseUnavailableError,
    check_database,
    parse_database_url,
)
from core.database.testing._cluster import free_port

SECRET = "Wr0ng-Pa55word"
HOST_APP = """
from fastapi import FastAPI
from core.database import DatabaseStartupCheck

app = FastAPI()
app.add_middleware(DatabaseStartupCheck, timeout=5)

@app.get("/")
async def index() -> dict[str, str]:
    return {"ok": "yes"}
"""


@pytest.fixture(scope="module")
def host_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("startup_host")
    (folder / "hostapp.py").write_text(HOST_APP)
    return folder


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def serve(host_app: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Start uvicorn on the host app; it must exit by itself (a failed startup)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "APP_ENV") and not key.startswith("PG")
    }
    environment.update({"APP_ENV": "local", "DATABASE_CONNECT_TIMEOUT": "1", **env})
    command = [sys.executable, "-m", "uvicorn", "hostapp:app", "--port", str(free_port())]
    return subprocess.run(
        command, cwd=host_app, env=environment, capture_output=True, text=True, timeout=60
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    failures = [line for line in output.splitlines() if "database check failed" in line]
    assert len(failures) == 1, output
    assert expected in failures[0], output
    assert "Traceback" not in output
    assert SECRET not in output
    assert "Application startup complete" not in output


def test_a_typo_in_the_scheme_fails_startup(host_app: Path) -> None:
    result = serve(host_app, DATABASE_URL=f"postgresq://app:{SECRET}@db/app")
    assert_one_clear_line(result, "DATABASE_URL scheme 'postgresq' is not supported")


def test_production_without_a_url_fails_startup(host_app: Path) -> None:
    result = serve(host_app, APP_ENV="production")
    assert_one_clear_line(result, "DATABASE_URL is not set and APP_ENV=production")


def test_a_refused_connection_fails_startup(host_app: Path) -> None:
    port = free_port()
    result = serve(host_app, DATABASE_URL=f"postgresql://app:{SECRET}@127.0.0.1:{port}/app")
    assert_one_clear_line(result, f"connection refused at 127.0.0.1:{port}")


def test_a_server_that_never_answers_fails_startup(host_app: Path, silent_port: int) -> None:
    url = f"postgresql://app:{SECRET}@127.0.0.1:{silent_port}/app"
    result = serve(host_app, DATABASE_URL=url)
    assert_one_clear_line(result, f"timed out connecting to 127.0.0.1:{silent_port}")


def test_a_sqlite_file_that_cannot_be_opened_fails_startup(host_app: Path) -> None:
    result = serve(host_app, DATABASE_URL="sqlite:///./no/such/folder/app.db")
    assert_one_clear_line(result, "cannot open SQLite database ./no/such/folder/app.db")


def postgres_url(database_url: str, **changes: str) -> str:
    url: URL = parse_database_url(database_url).set(**changes)  # type: ignore[arg-type]
    return url.render_as_string(hide_password=False)


@pytest.mark.postgres_only(reason="a login needs a Postgres server")
def test_a_wrong_password_fails_startup(host_app: Path, database_url: str) -> None:
    result = serve(host_app, DATABASE_URL=postgres_url(database_url, password=SECRET))
    user = parse_database_url(database_url).username
    assert_one_clear_line(result, f'authentication failed for user "{user}"')


@pytest.mark.postgres_only(reason="a missing database needs a Postgres server")
def test_a_missing_database_fails_startup(host_app: Path, database_url: str) -> None:
    result = serve(host_app, DATABASE_URL=postgres_url(database_url, database="no_such_db"))
    assert_one_clear_line(result, 'database "no_such_db" does not exist')


def test_a_working_database_starts(host_app: Path, tmp_path: Path, database_url: str) -> None:
    # In-memory SQLite would start as well; a file proves a real connection on SQLite runs.
    url = database_url if database_url.startswith("postgres") else f"sqlite:///{tmp_path}/ok.db"
    environment = {key: value for key, value in os.environ.items() if key != "APP_ENV"}
    environment.update(DATABASE_URL=url, APP_ENV="local")
    command = [sys.executable, "-m", "uvicorn", "hostapp:app", "--port", str(free_port())]
    with subprocess.Popen(
        command, cwd=host_app, env=environment, stderr=subprocess.PIPE, text=True
    ) as server:
        assert server.stderr is not None
        lines = []
        for line in server.stderr:
            lines.append(line)
            if "Application startup" in line:
                break
        server.terminate()
        _, rest = server.communicate(timeout=30)
    output = "".join(lines) + rest
    assert "Application startup complete" in output, output
    assert "Application shutdown complete" in output, output


async def test_check_database_raises_typed_errors() -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        await check_database(Database(f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/app"))
    assert caught.value.reason.startswith("connection refused at 127.0.0.1:")
    with pytest.raises(ConfigurationError):
        await check_database(Database("mysql://app@db/app"))


async def test_check_database_returns_the_working_database(database: Database) -> None:
    assert await check_database(database) is database


class _Lifespan:
    """Drives an ASGI app's lifespan as a server does: one message in, the answer out."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> dict[str, Any]:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self.app(scope, self._inbox.get, self._outbox.put))
        return await self._ask({"type": "lifespan.startup"})

    async def stop(self) -> dict[str, Any]:
        return await self._ask({"type": "lifespan.shutdown"})

    async def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        await self._inbox.put(message)
        async with asyncio.timeout(30):
            return await self._outbox.get()


def _host_app(database: Database) -> FastAPI:
    app = FastAPI()
    app.add_middleware(DatabaseStartupCheck, database=database, timeout=5)

    @app.get("/")
    async def index() -> dict[str, str]:
        return {"ok": "yes"}

    return app


async def test_after_a_passed_check_requests_go_through_and_shutdown_disposes(
    scratch: URL,
) -> None:
    database = Database(scratch)
    lifespan = _Lifespan(_host_app(database))
    try:
        assert (await lifespan.start())["type"] == "lifespan.startup.complete"
        assert database.engine.pool.checkedin() >= 1  # type: ignore[attr-defined]
        transport = httpx.ASGITransport(app=lifespan.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            assert (await client.get("/")).json() == {"ok": "yes"}
        assert (await lifespan.stop())["type"] == "lifespan.shutdown.complete"
        # Disposed on the way out: no connection left open behind the server.
        assert database.engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    finally:
        await database.dispose()


async def test_a_failed_check_fails_the_lifespan_in_one_line_without_the_password() -> None:
    database = Database(f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/app")
    lifespan = _Lifespan(_host_app(database))
    failed = await lifespan.start()
    assert failed["type"] == "lifespan.startup.failed"
    assert "connection refused" in failed["message"]
    assert "\n" not in failed["message"] and SECRET not in failed["message"]
