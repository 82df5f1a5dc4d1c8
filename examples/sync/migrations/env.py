"""Alembic environment of the sync example: the toolkit does the work."""

from __future__ import annotations

from tasks_models import TasksBase

from core.database.migrations import run_migrations

run_migrations(TasksBase.metadata)
