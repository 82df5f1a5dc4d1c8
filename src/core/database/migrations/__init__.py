"""Alembic migrations that run unchanged on SQLite and Postgres.

A host app's ``alembic/env.py`` is a few lines::

    import app.models  # noqa: F401 - registers the tables on Base.metadata
    from core.database import Base
    from core.database.migrations import run_migrations

    run_migrations(Base.metadata)

From code: ``upgrade(url)``, ``downgrade(url, revision=...)``, ``check(url)``,
``current_revision(url)``, ``head_revision()``; for a database that lives in one engine
(in-memory SQLite), ``await upgrade_engine(engine)`` and ``await engine_revision(engine)``.
"""

from __future__ import annotations

# Registers the constraint-name comparator: `alembic check` reports adopted names.
from core.database.migrations import constraint_names  # noqa: F401
from core.database.migrations.commands import (
    alembic_config,
    check,
    current_revision,
    downgrade,
    engine_revision,
    head_revision,
    upgrade,
    upgrade_engine,
)
from core.database.migrations.datacheck import Finding, data_round_trip
from core.database.migrations.environment import URL_ARGUMENT, run_migrations
from core.database.migrations.errors import (
    MigrationError,
    MultipleHeadsError,
    OfflineSQLError,
    UnreviewedRevisionError,
    UnsafeDraftError,
)
from core.database.migrations.review import refuse_unreviewed, unreviewed_markers
from core.database.migrations.sqlite import ForeignKeyCheckError

__all__ = [
    "URL_ARGUMENT",
    "Finding",
    "ForeignKeyCheckError",
    "MigrationError",
    "MultipleHeadsError",
    "OfflineSQLError",
    "UnreviewedRevisionError",
    "UnsafeDraftError",
    "alembic_config",
    "check",
    "current_revision",
    "data_round_trip",
    "downgrade",
    "engine_revision",
    "head_revision",
    "refuse_unreviewed",
    "run_migrations",
    "unreviewed_markers",
    "upgrade",
    "upgrade_engine",
]
