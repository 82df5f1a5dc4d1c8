"""Alembic environment of the reference app: the toolkit does the work (see docs/migrations.md)."""

from __future__ import annotations

import app.models  # noqa: F401 - importing the models registers their tables
from core.database import Base
from core.database.migrations import run_migrations

run_migrations(Base.metadata)
