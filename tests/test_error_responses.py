"""Each typed database failure reaches the client as JSON with the right status, never a 500.

Served by a real uvicorn where the connection matters: the error must not cost the
client its keep-alive connection.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database import Database, SessionDep, install_error_handlers, set_database
from core.database.settings import Settings
from core.database.testing._cluster import free_port

SECRET = "S3cret-Pw"


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/select")
    async def select_one(session: SessionDep, request: Request) -> dict[str, object]:
        await session.execute(text("SELECT 1"))
        return {"client_port": request.client.port if request.client else None}

    @app.post("/write")
    async def write(session: SessionDep) -> dict[str, str]:
        await session.execute(text("CREATE TABLE IF NOT EXISTS writes (n INTEGER)"))
        await session.execute(text("INSERT INTO writes VALUES (1)"))
        return {"status": "written"}

    @app.get("/slow")
    async def slow(session: SessionDep) -> None:
        await session.execute(text("SELECT pg_sleep(5)"))

    return app


@asynccontextmanager
async def _serving(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a real uvicorn on 127.0.0.1, and a keep-alive client for it."""
    previous = set_database(database)
    port = free_port()
    config = uvicorn.Config(_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
                await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            yield client
    finally:
        server.should_exit = True
        await serving
        set_database(previous)
        await database.dispose()


def _database(url: URL | str, **settings: object) -> Database:
    rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    return Database(rendered, settings=Settings(database_url=rendered, **settings))  # type: ignore[arg-type]


def _assert_json_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == code
    assert "Traceback" not in response.text
    assert SECRET not in response.text


async def test_pool_timeout_is_a_503_to_retry_and_keeps_the_connection(scratch: URL) -> None:
    database = _database(
        scratch, database_pool_size=1, database_max_overflow=0, database_pool_timeout=0.2
    )
    async with _serving(database) as client:
        first = await client.get("/select")
        assert first.status_code == 200
        async with database.engine.connect():  # the pool's one connection, held
            busy = await client.get("/select")
        _assert_json_error(busy, 503, "pool_timeout")
        assert busy.headers["retry-after"] == "1"
        after = await client.get("/select")
        assert after.status_code == 200
        # One TCP connection served all three: the 503 did not close it.
        assert first.json()["client_port"] == after.json()["client_port"]


async def test_unreachable_database_is_a_503_without_the_password() -> None:
    database = _database(f"postgresql+asyncpg://app:{SECRET}@127.0.0.1:1/app_test")
    async with _serving(database) as client:
        response = await client.get("/select")
    _assert_json_error(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "5"


@pytest.mark.postgres_only(reason="statement_timeout is a Postgres setting")
async def test_statement_timeout_is_a_504(scratch: URL) -> None:
    database = _database(scratch, database_statement_timeout_ms=200)
    async with _serving(database) as client:
        response = await client.get("/slow")
        _assert_json_error(response, 504, "statement_timeout")
        assert "retry-after" not in response.headers
        assert (await client.get("/select")).status_code == 200


@pytest.mark.postgres_only(reason="connection slots are a server limit; SQLite has none")
async def test_too_many_connections_is_a_503_to_retry(scratch: URL) -> None:
    role = f"limited_{secrets.token_hex(4)}"
    admin = _database(scratch)
    async with admin.transaction() as session:
        # CONNECTION LIMIT 0: every login of this role is refused with SQLSTATE 53300.
        await session.execute(
            text(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}' CONNECTION LIMIT 0")
        )
    try:
        limited = scratch.set(username=role, password=SECRET)
        async with _serving(_database(limited)) as client:
            response = await client.get("/select")
        _assert_json_error(response, 503, "too_many_connections")
        assert response.headers["retry-after"] == "5"
    finally:
        async with admin.transaction() as session:
            await session.execute(text(f"DROP ROLE {role}"))
        await admin.dispose()


@pytest.mark.sqlite_only(reason="a file lock held by another process is SQLite's busy state")
async def test_sqlite_locked_by_another_process_is_a_503_to_retry(tmp_path: Path) -> None:
    path = tmp_path / "shared_test.db"
    holder = subprocess.Popen(  # noqa: ASYNC220 - starts at once; only the reads block
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sqlite3, sys
                db = sqlite3.connect({str(path)!r}, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("BEGIN IMMEDIATE")
                print("locked", flush=True)
                sys.stdin.read()  # hold the write lock until told to stop
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        database = _database(f"sqlite+aiosqlite:///{path}", database_sqlite_busy_timeout_ms=100)
        async with _serving(database) as client:
            response = await client.post("/write")
            _assert_json_error(response, 503, "database_busy")
            assert response.headers["retry-after"] == "1"
            holder.communicate(timeout=10)  # EOF on stdin: it lets go of the lock
            assert (await client.post("/write")).status_code == 200
    finally:
        holder.kill()
        holder.communicate()  # reaps it and closes its pipes
