"""A FastAPI app whose routes are plain `def` functions on the sync face.

DATABASE_URL=... uvicorn tasks_api:app
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from sqlalchemy import select
from tasks_models import Task

from core.database import install_error_handlers
from core.database.sync import SyncSessionDep, fetch_all, on_commit

app = FastAPI(title="tasks (sync routes)")
install_error_handlers(app)
CREATED: list[int] = []  # what on_commit announced (stands in for a message queue)


@app.post("/tasks", status_code=201)
def create_task(title: str, session: SyncSessionDep) -> dict[str, object]:
    task = Task(title=title, slug=title.lower().replace(" ", "-"))
    session.add(task)
    session.flush()
    task_id = task.id
    on_commit(session, lambda: CREATED.append(task_id))
    return {"id": task_id, "title": task.title}  # committed before this 201 is sent


@app.post("/tasks/{task_id}/done")
def finish_task(task_id: int, session: SyncSessionDep) -> dict[str, object]:
    task = session.scalar(select(Task).where(Task.id == task_id).with_for_update())
    if task is None:
        raise HTTPException(status_code=404, detail="no such task")
    task.done = True
    return {"id": task.id, "done": task.done}


@app.get("/tasks")
def list_tasks() -> list[dict[str, object]]:
    return fetch_all("SELECT id, title, slug, done FROM tasks ORDER BY id")
