"""examples/sync, run unchanged on this run's backend: a data migration, a script, `def` routes.

Each is run the way a user runs it: alembic and the script as programs with
DATABASE_URL set, the app through HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database.sync import SyncDatabase, set_sync_database

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sync"


def _run(url: URL, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "APP_ENV": "test",
    }
    done = subprocess.run(
        [sys.executable, *args], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def tasks_db(scratch: URL) -> Iterator[SyncDatabase]:
    """The scratch database at migration 0001, with three tasks (one of them 40 days old)."""
    _run(scratch, "-m", "alembic", "upgrade", "0001")
    db = SyncDatabase(scratch)
    with db.transaction() as session:
        for title, done in (("Write the Docs!", False), ("Ship it", False), ("Old news", True)):
            session.execute(
                text("INSERT INTO tasks (title, done) VALUES (:t, :d)"), {"t": title, "d": done}
            )
    try:
        yield db
    finally:
        db.dispose()


def _slugs(db: SyncDatabase) -> list[str | None]:
    with db.session() as session:
        return list(session.execute(text("SELECT slug FROM tasks ORDER BY id")).scalars())


def test_data_migration_fills_the_new_column_and_round_trips(
    tasks_db: SyncDatabase, scratch: URL
) -> None:
    _run(scratch, "-m", "alembic", "upgrade", "head")
    assert _slugs(tasks_db) == ["write-the-docs", "ship-it", "old-news"]
    _run(scratch, "-m", "alembic", "downgrade", "0001")
    with tasks_db.session() as session:
        columns = session.execute(text("SELECT * FROM tasks")).keys()
    assert "slug" not in columns
    _run(scratch, "-m", "alembic", "upgrade", "head")
    assert _slugs(tasks_db) == ["write-the-docs", "ship-it", "old-news"]


def test_maintenance_script_closes_stale_tasks(tasks_db: SyncDatabase, scratch: URL) -> None:
    _run(scratch, "-m", "alembic", "upgrade", "head")
    with tasks_db.transaction() as session:
        session.execute(
            text("UPDATE tasks SET created_at = :old WHERE title = 'Ship it'"),
            {"old": "2000-01-01 00:00:00"},
        )
    output = _run(scratch, "close_stale_tasks.py", "--older-than-days", "30")
    assert "closed 1 stale task(s); 1 still open" in output
    assert "latest: old-news, ship-it, write-the-docs" in output
    with tasks_db.session() as session:
        done = {
            title: flag for title, flag in session.execute(text("SELECT title, done FROM tasks"))
        }
    assert done == {"Write the Docs!": False, "Ship it": True, "Old news": True}


async def test_def_routes_commit_before_answering(
    tasks_db: SyncDatabase, scratch: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(scratch, "-m", "alembic", "upgrade", "head")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import tasks_api

    previous = set_sync_database(tasks_db)
    try:
        transport = httpx.ASGITransport(app=tasks_api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            created = await http.post("/tasks", params={"title": "New One"})
            assert created.status_code == 201
            task_id = created.json()["id"]
            # Committed before the 201: another connection sees it at once.
            other = SyncDatabase(scratch)
            try:
                with other.session() as session:
                    count = session.execute(
                        text("SELECT count(*) FROM tasks WHERE id = :id"), {"id": task_id}
                    ).scalar()
            finally:
                other.dispose()
            assert count == 1
            assert task_id in tasks_api.CREATED
            finished = await http.post(f"/tasks/{task_id}/done")
            missing = await http.post("/tasks/999999/done")
            listed = await http.get("/tasks")
        assert finished.json() == {"id": task_id, "done": True}
        assert missing.status_code == 404
        assert [row["slug"] for row in listed.json()] == [
            "write-the-docs",
            "ship-it",
            "old-news",
            "new-one",
        ]
        assert listed.json()[-1]["done"] in (True, 1)
    finally:
        set_sync_database(previous)
