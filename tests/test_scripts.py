"""Scripts and event loops (core.database.loop_engines, core.database.run): asyncio.run, twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database import Database

SCRIPT = """
import asyncio
import sys

import core.database
from core.database import transaction
from sqlalchemy import text


async def main() -> None:
    async with transaction() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS script_runs (n INTEGER)"))
        await session.execute(text("INSERT INTO script_runs VALUES (1)"))
    async with transaction() as session:
        print((await session.execute(text("SELECT count(*) FROM script_runs"))).scalar())


asyncio.run(main())
asyncio.run(main())
core.database.run(main())
core.database.run(main())
asyncio.run(main())
"""


def run_script(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    environment = {**os.environ, "DATABASE_URL": url, "APP_ENV": "local"}
    # -W error: an unclosed connection (ResourceWarning) fails the run too.
    command = [sys.executable, "-X", "dev", "-W", "error", str(script)]
    return subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def test_a_script_runs_asyncio_run_again_and_again(scratch: URL, tmp_path: Path) -> None:
    result = run_script(scratch.render_as_string(hide_password=False), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "2", "3", "4", "5"]
    assert "Warning" not in result.stderr, result.stderr
    assert "Exception ignored" not in result.stderr, result.stderr


@pytest.mark.sqlite_only(reason="an in-memory database exists only on SQLite")
def test_an_in_memory_database_keeps_its_data_across_loops(tmp_path: Path) -> None:
    result = run_script("sqlite+aiosqlite:///:memory:", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "2", "3", "4", "5"]
    assert "Warning" not in result.stderr, result.stderr
    assert "Exception ignored" not in result.stderr, result.stderr


def test_each_loop_gets_an_engine_disposed_when_the_loop_ends(scratch: URL) -> None:
    db = Database(scratch)
    seen = []

    async def use() -> int:
        engine = db.engine
        seen.append(engine)
        async with db.session() as session:
            value = await session.scalar(text("SELECT 1"))
        assert engine.sync_engine.pool.checkedin() == 1  # type: ignore[attr-defined]
        return int(value)

    assert asyncio.run(use()) == 1
    # asyncio.run shut the loop down: the engine was disposed before the loop closed.
    assert seen[0].sync_engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    assert asyncio.run(use()) == 1
    assert seen[1] is not seen[0]


def test_a_loop_closed_without_shutdown_leaves_a_working_database(scratch: URL) -> None:
    db = Database(scratch)

    async def ping() -> bool:
        return await db.ping()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(ping())
        if db.dialect == "postgresql":
            # asyncpg connections cannot be closed once their loop is gone: close first.
            loop.run_until_complete(db.dispose())
    finally:
        loop.close()
    assert asyncio.run(ping())


def test_an_engine_built_outside_a_loop_is_adopted_by_the_first_loop(scratch: URL) -> None:
    db = Database(scratch)
    engine = db.engine  # no loop running: e.g. a module that reads db.engine.url

    async def same() -> bool:
        try:
            return db.engine is engine
        finally:
            await db.dispose()

    assert asyncio.run(same())


async def test_inside_one_loop_the_engine_is_stable(database: Database) -> None:
    assert database.engine is database.engine
    assert database.sessionmaker is database.sessionmaker
